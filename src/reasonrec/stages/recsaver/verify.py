"""Rec-SAVER step 2 (§3.1, Alg. 1 lines 6–9): scrub leaks, re-predict WITHOUT the truth, keep what recovers it.

For every post-hoc explanation: `leak.scrub` removes sentences that state the rating; the model re-predicts the
rating from (history, item, scrubbed explanation) with `recsaver/verify`; explanations whose re-prediction equals
the true rating are the verified references. Pools have VARIABLE size per pair (possibly 0).

The re-prediction is a config switch:
  * `rating_from="score"` (default): one forward pass, `llm.score` over the bare digits "1".."5" after the
    assistant prefix "### Rating ###\\n" (digits are single tokens; see DESIGN.md); the re-predicted rating is the
    argmax, as in the paper's 5-class prediction;
  * `rating_from="generate"`: greedy generation after the same prefix, parsed with `parse_recsaver`;
    unparseable → status "unparseable", never verified.

Statuses (one per explanation, counted in the pool table):
  verified | mismatch | empty_after_scrub (every sentence leaked: nothing left to verify, no LLM call) |
  explain_failed (the explanation call errored) | verify_failed (the verify call errored) | unparseable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.answers import parse_recsaver
from reasonrec.llm.base import LLM, Message
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    fit_prompt,
    run_generation_jobs,
    run_score_jobs,
    token_counter,
)
from reasonrec.stages.common.context import ItemCatalog, target_rows
from reasonrec.stages.recsaver.context import (
    RATING_PREFIX,
    RecSaverStageConfig,
    ReviewLookup,
    pair_key,
    prompt_context,
    rating_choices,
)
from reasonrec.stages.recsaver.leak import scrub

TEMPLATE = "recsaver/verify"
_HEADER = "### Reason ###"


class VerifyConfig(RecSaverStageConfig):
    rating_from: Literal["score", "generate"] = Field("score", description="digit scoring or generate+parse")
    scrub_rule: Literal["ours", "paper", "none"] = Field(
        "ours", description="leak scrubbing: our detector, the paper's three phrases, or none (ablation)"
    )
    max_new_tokens: int = Field(8, ge=1, description="generate mode: the answer is one number")


@dataclass(frozen=True)
class VerificationResult:
    """`table`: one row per explanation (bookkeeping); `pool`: one row per pair (verified references)."""

    table: pl.DataFrame
    pool: pl.DataFrame


def _strip_header(text: str) -> str:
    text = text.strip()
    return text[len(_HEADER):].strip() if text.startswith(_HEADER) else text


def _scrub(text: str, rating: float, rule: str) -> tuple[str, list[str]]:
    if rule == "none":
        return text, []
    return scrub(text, rating, rule="ours" if rule == "ours" else "paper")


VERIFICATION_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(), "item_id": pl.String(), "split": pl.String(), "sample_index": pl.Int64(),
    "rating": pl.Float64(), "text": pl.String(), "clean_text": pl.String(),
    "removed_sentences": pl.List(pl.String()), "n_removed": pl.Int64(), "scrubbed": pl.Boolean(),
    "re_rating": pl.Float64(), "re_probs": pl.String(), "re_raw": pl.String(), "verified": pl.Boolean(),
    "status": pl.String(), "error": pl.String(),
}
"""One row per explanation; declared in full so an empty input still yields a correctly typed table."""

POOL_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(), "item_id": pl.String(), "split": pl.String(), "rating": pl.Float64(),
    "references": pl.List(pl.String()), "n_verified": pl.Int64(), "n_explanations": pl.Int64(),
}


def self_verify(
    explanations: pl.DataFrame,
    targets: pl.DataFrame,
    items: pl.DataFrame,
    interactions: pl.DataFrame | None,
    llm: LLM,
    config: VerifyConfig,
    *,
    summaries: list[RunSummary] | None = None,
) -> VerificationResult:
    """Verify every explanation row (user_id, item_id, split, sample_index, rating, text[, error])."""
    for col in ("user_id", "item_id", "sample_index", "rating", "text"):
        if col not in explanations.columns:
            raise ValueError(f"explanations table has no {col!r} column (columns: {explanations.columns})")
    rows_by_key = {tuple(pair_key(r).values()): r for r in target_rows(targets)}
    exp_rows = list(explanations.iter_rows(named=True))
    clean_texts, removed, status = _scrub_all(exp_rows, rows_by_key, config)
    prompts = _verify_prompts(exp_rows, rows_by_key, clean_texts, status, items, interactions, llm, config)
    re_rating, probs, raw, errors = _repredict(llm, prompts, len(exp_rows), config, summaries)
    for i, e in enumerate(exp_rows):
        if status[i] is None:
            if errors[i] is not None:
                status[i] = "verify_failed"
            elif re_rating[i] is None:
                status[i] = "unparseable"
            else:
                status[i] = "verified" if re_rating[i] == float(e["rating"]) else "mismatch"
    table = pl.DataFrame(
        {
            "user_id": [str(e["user_id"]) for e in exp_rows],
            "item_id": [str(e["item_id"]) for e in exp_rows],
            "split": [str(e.get("split") or "") for e in exp_rows],
            "sample_index": [int(e["sample_index"]) for e in exp_rows],
            "rating": [float(e["rating"]) for e in exp_rows],
            "text": [e["text"] for e in exp_rows],
            "clean_text": clean_texts,
            "removed_sentences": removed,
            "n_removed": [len(r) for r in removed],
            "scrubbed": [len(r) > 0 for r in removed],
            "re_rating": re_rating,
            "re_probs": probs,
            "re_raw": raw,
            "verified": [s == "verified" for s in status],
            "status": status,
            "error": errors,
        },
        schema=VERIFICATION_SCHEMA,
    ).sort("user_id", "item_id", "split", "sample_index")
    return VerificationResult(table=table, pool=reference_pool(table))


def _scrub_all(exp_rows: list[dict[str, Any]], rows_by_key: dict[tuple, dict[str, Any]], config: VerifyConfig
               ) -> tuple[list[str | None], list[list[str]], list[str | None]]:
    """(clean text, removed sentences, status so far) per explanation; status None = still to be verified."""
    clean_texts: list[str | None] = []
    removed: list[list[str]] = []
    status: list[str | None] = []
    for e in exp_rows:
        key = (str(e["user_id"]), str(e["item_id"]), str(e.get("split") or ""))
        if key not in rows_by_key:
            raise ValueError(f"explanation for {key} has no row in the target table")
        if e["text"] is None or e.get("error"):
            clean_texts.append(None)
            removed.append([])
            status.append("explain_failed")
            continue
        clean, dropped = _scrub(_strip_header(e["text"]), float(e["rating"]), config.scrub_rule)
        clean_texts.append(clean)
        removed.append(dropped)
        status.append(None if clean.strip() else "empty_after_scrub")
    return clean_texts, removed, status


def _verify_prompts(exp_rows: list[dict[str, Any]], rows_by_key: dict[tuple, dict[str, Any]],
                    clean_texts: list[str | None], status: list[str | None], items: pl.DataFrame,
                    interactions: pl.DataFrame | None, llm: LLM, config: VerifyConfig
                    ) -> list[tuple[int, tuple[Message, ...]]]:
    """(explanation index, verify prompt) for every explanation still to be verified."""
    catalog = ItemCatalog.from_tables(items)
    reviews = ReviewLookup.from_interactions(interactions, config.review_max_chars)
    renderer = PromptRenderer()
    count = token_counter(llm, RATING_PREFIX)
    domain = config.domain_view()
    prompts = []
    for i, e in enumerate(exp_rows):
        if status[i] is not None:
            continue
        key = (str(e["user_id"]), str(e["item_id"]), str(e.get("split") or ""))
        ctx = prompt_context(rows_by_key[key], catalog, reviews, domain, scale=config.scale,
                             like_threshold=config.like_threshold, explanation=clean_texts[i])
        prompts.append((i, fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)[0]))
    return prompts


def _repredict(llm: LLM, prompts: list[tuple[int, tuple[Message, ...]]], n: int, config: VerifyConfig,
               summaries: list[RunSummary] | None) -> tuple[list, list, list, list]:
    """(re-predicted rating, its probs JSON, the raw generated text, error) per explanation: one scoring pass over
    the rating digits, or a greedy generation parsed, after "### Rating ###"."""
    re_rating: list[float | None] = [None] * n
    probs: list[str | None] = [None] * n
    raw: list[str | None] = [None] * n
    errors: list[str | None] = [None] * n
    key_schema = {"row": pl.Int64()}
    if not prompts:
        return re_rating, probs, raw, errors
    if config.rating_from == "score":
        jobs = [ScoreJob({"row": i}, m, rating_choices(config.scale), RATING_PREFIX) for i, m in prompts]
        scored, summary = run_score_jobs(llm, jobs, key_schema, batch_size=config.batch_size,
                                         desc="self-verify (score)", show=config.show_progress, keep_prompts=False)
        for row, p, err in scored.select("row", "probs", "error").iter_rows():
            errors[row] = err
            if p is not None:
                dist = json.loads(p)
                probs[row] = p
                re_rating[row] = float(max(dist, key=dist.__getitem__))
    else:
        params = config.sampling(temperature=0.0)
        gen_jobs = [GenerationJob({"row": i}, m, params, assistant_prefix=RATING_PREFIX) for i, m in prompts]
        generated, summary = run_generation_jobs(llm, gen_jobs, key_schema, batch_size=config.batch_size,
                                                 desc="self-verify (generate)", show=config.show_progress,
                                                 keep_prompts=False)
        for row, text, err in generated.select("row", "text", "error").iter_rows():
            errors[row] = err
            raw[row] = text
            if text is not None:
                re_rating[row] = parse_recsaver(RATING_PREFIX + text, scale=config.scale).rating
    if summaries is not None:
        summaries.append(summary)
    return re_rating, probs, raw, errors


def reference_pool(verification: pl.DataFrame) -> pl.DataFrame:
    """One row per explained pair: the verified (scrubbed) texts in sample order; n_verified may be 0."""
    pairs = verification.group_by("user_id", "item_id", "split", maintain_order=True).agg(
        pl.col("rating").first(),
        pl.col("clean_text").filter(pl.col("verified")).sort_by(pl.col("sample_index").filter(pl.col("verified")))
        .alias("references"),
        pl.col("verified").sum().cast(pl.Int64).alias("n_verified"),
        pl.len().cast(pl.Int64).alias("n_explanations"),
    )
    return pairs.select(list(POOL_SCHEMA)).cast(POOL_SCHEMA).sort("user_id", "item_id", "split")


def with_references(predictions: pl.DataFrame, pool: pl.DataFrame | None) -> pl.DataFrame:
    """`references` (the verified pool, multi-reference) and `reference` (its first text) per test pair; pairs
    with an empty pool get nulls, so the NLG metrics skip them (their n says how many were scored)."""
    drop = [c for c in ("reference", "references") if c in predictions.columns]
    out = predictions.drop(drop)
    if pool is None or pool.height == 0:
        return out.with_columns(pl.lit(None, dtype=pl.String).alias("reference"),
                                pl.lit(None, dtype=pl.List(pl.String)).alias("references"))
    refs = pool.filter(pl.col("n_verified") > 0).select(
        pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String), "references",
        pl.col("references").list.first().alias("reference"))
    return out.join(refs, on=["user_id", "item_id"], how="left")


__all__ = [
    "POOL_SCHEMA", "VERIFICATION_SCHEMA", "VerificationResult", "VerifyConfig", "reference_pool", "self_verify",
    "with_references",
]
