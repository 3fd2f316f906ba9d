"""Rec-SAVER step 1 (§3.1, Alg. 1 line 5): post-hoc explanations GIVEN the true rating, N samples per pair.

The model sees the user's history (items, ratings, reviews), the new item and the rating the user actually gave,
and explains which tastes and item features led to it (`recsaver/explain`). N samples per pair at temperature T
(sample_index 0..N-1, each its own cache entry, so a killed run resumes sample by sample) feed the
self-verification step (`stages.recsaver.verify`). The paper does not state N or T; the defaults take its multi-path
numbers (M=8) and a common sampling temperature (0.7).
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import GenerationJob, fit_prompt, token_counter
from reasonrec.stages.common.context import ItemCatalog, target_rows
from reasonrec.stages.common.paths import sample_paths
from reasonrec.stages.recsaver.context import (
    PAIR_KEY_SCHEMA,
    RecSaverStageConfig,
    ReviewLookup,
    pair_key,
    prompt_context,
)

TEMPLATE = "recsaver/explain"


class ExplainConfig(RecSaverStageConfig):
    n_samples: int = Field(8, ge=1, description="N explanations per pair (paper: unstated; M=8 for paths)")
    temperature: float = Field(0.7, ge=0.0, description="T > 0 so the N samples differ")
    max_new_tokens: int = Field(256, ge=1)


def explanation_jobs(
    targets: pl.DataFrame, items: pl.DataFrame, interactions: pl.DataFrame | None, llm: LLM | None,
    config: ExplainConfig, *, limit: int | None = None,
) -> list[GenerationJob]:
    """One job per target row with a known rating (rows without one cannot be explained and are skipped)."""
    catalog = ItemCatalog.from_tables(items)
    reviews = ReviewLookup.from_interactions(interactions, config.review_max_chars)
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    jobs = []
    for row in target_rows(targets, limit):
        if row.get("rating") is None:
            continue
        ctx = prompt_context(row, catalog, reviews, domain, scale=config.scale, like_threshold=config.like_threshold,
                           rating=row["rating"])
        messages, _ = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)
        jobs.append(GenerationJob(key=pair_key(row), messages=messages, params=config.sampling()))
    return jobs


def post_hoc_explanations(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    interactions: pl.DataFrame | None,
    llm: LLM,
    config: ExplainConfig,
    *,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One row per (pair, sample): user_id, item_id, split, sample_index, rating (truth), text + LLM columns."""
    jobs = explanation_jobs(targets, items, interactions, llm, config, limit=limit)
    table, summary = sample_paths(
        llm, jobs, PAIR_KEY_SCHEMA, n_samples=config.n_samples, temperature=config.temperature,
        top_p=config.top_p, batch_size=config.batch_size, desc="post-hoc explanations", show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    truth = {
        (k["user_id"], k["item_id"], k["split"]): float(r["rating"])
        for r in target_rows(targets, limit) if r.get("rating") is not None
        for k in [pair_key(r)]
    }
    ratings = [truth[k] for k in table.select("user_id", "item_id", "split").iter_rows()]
    table = table.with_columns(pl.Series("rating", ratings, dtype=pl.Float64()), pl.col("text").str.strip_chars())
    first = ["user_id", "item_id", "split", "sample_index", "rating", "text"]
    return table.select(*first, *[c for c in table.columns if c not in first])


__all__ = ["TEMPLATE", "ExplainConfig", "explanation_jobs", "post_hoc_explanations"]
