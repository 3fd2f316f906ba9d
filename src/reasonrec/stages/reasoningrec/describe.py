"""Item descriptions (ReasoningRec §3.2, App. A.4.1, Alg. 1): reviews sampled by rating → an n-word summary.

Review selection (Alg. 1): when an item has at most p reviews, all are used; otherwise exactly p are drawn,
stratified by (rounded) star rating so the sample keeps the item's rating distribution. Per-rating counts come
from largest-remainder (Hamilton) apportionment of p over the rating shares: each rating gets floor(p·share),
and the leftover slots go to the largest fractional remainders (ties: more reviews first, then the lower rating,
so rare criticism is not systematically squeezed out). There is no minimum per rating: a rating whose share is
below 1/p can get zero slots — this keeps every count within 1 of p·share. Within a rating, reviews are drawn
uniformly with a RNG seeded by (config seed, item id), so a sample does not depend on table order or on which
other items are described. Each review is trimmed to its first 50 words.

Items with no review text get a metadata-only prompt (title/year/genres/brand; e.g. MovieLens), flagged
`fallback=True`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    StageConfig,
    fit_prompt,
    run_generation_jobs,
    token_counter,
)
from reasonrec.stages.common.context import ItemCatalog

TEMPLATE = "reasoningrec/item_description"
TEMPLATE_METADATA = "reasoningrec/item_description_metadata"


class DescribeConfig(StageConfig):
    """Paper defaults: p=10 reviews, n=25 words, reviews trimmed to 50 words."""

    p_reviews: int = Field(10, ge=1, description="at most this many reviews per item (Alg. 1)")
    n_words: int = Field(25, ge=1, description="target description length in words")
    review_words: int = Field(50, ge=1, description="each review is trimmed to its first N words")
    max_new_tokens: int = Field(128, ge=1)
    metadata_fallback: bool = Field(True, description="describe review-less items from metadata alone")


@dataclass(frozen=True)
class Review:
    """One review of an item; `reviewer` (user_id) + `timestamp` identify it within the item."""

    reviewer: str
    rating: float
    text: str
    timestamp: int = 0


def trim_words(text: str, n: int) -> str:
    """The first `n` whitespace-separated words (whitespace normalised)."""
    return " ".join(text.split()[:n])


def apportion(counts: dict[int, int], p: int) -> dict[int, int]:
    """Largest-remainder apportionment of p slots over groups sized `counts` (total must exceed p)."""
    total = sum(counts.values())
    quotas = {r: p * n / total for r, n in counts.items()}
    alloc = {r: math.floor(q) for r, q in quotas.items()}
    left = p - sum(alloc.values())
    order = sorted(counts, key=lambda r: (-(quotas[r] - alloc[r]), -counts[r], r))
    for r in order[:left]:
        alloc[r] += 1
    return alloc


def sample_reviews(reviews: Sequence[Review], p: int, seed: int, item_id: str, review_words: int = 50) -> list[Review]:
    """Alg. 1: all reviews when ≤ p, else exactly p stratified by rating; each trimmed to `review_words` words.

    Output order: rating descending, then reviewer/timestamp (stable, so prompts are reproducible).
    """
    ordered = sorted(reviews, key=lambda r: (r.reviewer, r.timestamp, r.text))
    if len(ordered) <= p:
        chosen = list(ordered)
    else:
        groups: dict[int, list[Review]] = {}
        for r in ordered:
            groups.setdefault(round(r.rating), []).append(r)
        alloc = apportion({k: len(v) for k, v in groups.items()}, p)
        rng = random.Random(f"{seed}:{item_id}")
        chosen = []
        for rating in sorted(groups):
            chosen.extend(rng.sample(groups[rating], alloc[rating]))
    chosen.sort(key=lambda r: (-r.rating, r.reviewer, r.timestamp))
    return [Review(r.reviewer, r.rating, trim_words(r.text, review_words), r.timestamp) for r in chosen]


def reviews_by_item(interactions: pl.DataFrame) -> dict[str, list[Review]]:
    """Non-empty review texts per item from a canonical interactions table."""
    if "review" not in interactions.columns:
        return {}
    rows = interactions.filter(pl.col("review").is_not_null() & (pl.col("review").str.strip_chars() != ""))
    out: dict[str, list[Review]] = {}
    for user, item, rating, ts, text in rows.select("user_id", "item_id", "rating", "timestamp", "review").iter_rows():
        out.setdefault(str(item), []).append(Review(str(user), float(rating), str(text), int(ts or 0)))
    return out


OUTPUT_SCHEMA_EXTRA: dict[str, pl.DataType] = {
    "n_reviews_available": pl.Int64(),
    "n_reviews_used": pl.Int64(),
    "review_user_ids": pl.List(pl.String()),
    "review_ratings": pl.List(pl.Float64()),
    "fallback": pl.Boolean(),
    "source": pl.String(),
}


def describe_items(
    items: pl.DataFrame,
    interactions: pl.DataFrame,
    llm: LLM,
    config: DescribeConfig,
    *,
    item_ids: Sequence[str] | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One row per described item: item_id, text, sampling bookkeeping, fallback flag, source, LLM columns.

    Items without reviews and `metadata_fallback=False` are left out (no call is made for them).
    """
    catalog = ItemCatalog.from_tables(items)
    reviews = reviews_by_item(interactions)
    ids = [str(i) for i in (item_ids if item_ids is not None else items["item_id"].to_list())]
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    params = config.sampling()
    jobs: list[GenerationJob] = []
    extra: list[dict[str, Any]] = []
    for item_id in ids:
        available = reviews.get(item_id, [])
        view = catalog.view(item_id, generated_description=False)
        if available:
            chosen = sample_reviews(available, config.p_reviews, config.seed, item_id, config.review_words)
            ctx = {"domain": domain, "item": view, "n_words": config.n_words,
                   "reviews": [{"rating": r.rating, "text": r.text} for r in chosen]}
            messages, dropped = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens, "reviews")
            chosen = chosen[dropped:]
            template = TEMPLATE
        elif config.metadata_fallback:
            chosen = []
            messages = renderer.render(TEMPLATE_METADATA, domain=domain, item=view, n_words=config.n_words)
            template = TEMPLATE_METADATA
        else:
            continue
        jobs.append(GenerationJob(key={"item_id": item_id}, messages=messages, params=params))
        extra.append({
            "n_reviews_available": len(available),
            "n_reviews_used": len(chosen),
            "review_user_ids": [r.reviewer for r in chosen],
            "review_ratings": [r.rating for r in chosen],
            "fallback": template == TEMPLATE_METADATA,
            "source": f"{llm.identity.model}:{template}",
        })
    table, summary = run_generation_jobs(
        llm, jobs, {"item_id": pl.String()}, batch_size=config.batch_size, desc="describe items",
        show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    table = table.with_columns(pl.col("text").str.strip_chars())
    side = pl.DataFrame(extra, schema=OUTPUT_SCHEMA_EXTRA) if extra else pl.DataFrame(schema=OUTPUT_SCHEMA_EXTRA)
    return pl.concat([table, side], how="horizontal").select(
        "item_id", "text", *OUTPUT_SCHEMA_EXTRA, *[c for c in table.columns if c not in ("item_id", "text")]
    )


__all__ = ["DescribeConfig", "Review", "apportion", "describe_items", "reviews_by_item", "sample_reviews",
           "trim_words"]
