"""Rec-SAVER's multi-path teacher (§2.3): M sampled CoT answers per pair, each with the teacher's own rating.

The truth is NOT in the prompt: these are predictions that the §4.3 filters (`stages.recsaver.filters`) later
compare with the truth to decide which paths become fine-tuning targets. A path whose text states no rating gets
one from a scoring pass after its own reasoning (`score_missing_ratings`), so the filters can judge it. The same CoT
prompt (`cot_prompts`, `student_prompt_table`) is what a Rec-SAVER student is trained and scored on.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.answers import parse_recsaver
from reasonrec.llm.base import LLM, Message
from reasonrec.llm.chat import TokenizerChat
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    fit_prompt,
    messages_json,
    run_score_jobs,
    token_counter,
)
from reasonrec.stages.common.context import ItemCatalog, target_rows
from reasonrec.stages.common.paths import sample_paths
from reasonrec.stages.recsaver.context import (
    PAIR_KEY_SCHEMA,
    PREDICT_TEMPLATE,
    RATING_PREFIX,
    REASON_PREFIX,
    RecSaverStageConfig,
    ReviewLookup,
    pair_key,
    prompt_context,
    rating_choices,
)


class TeacherPathsConfig(RecSaverStageConfig):
    """Multi-path teacher reasoning (§2.3): M samples of the CoT prompt at T > 0, each with its own rating."""

    n_samples: int = Field(8, ge=1, description="M (paper: 8)")
    temperature: float = Field(0.7, ge=0.0)
    max_new_tokens: int = Field(320, ge=1)


def cot_prompts(
    rows: list[dict[str, Any]],
    items: pl.DataFrame,
    interactions: pl.DataFrame | None,
    llm: LLM | TokenizerChat | None,
    config: TeacherPathsConfig,
    *,
    reasoning: bool = True,
) -> list[tuple[Message, ...]]:
    """The CoT rating prompt (no truth in it) for each target row: what the teacher samples paths from AND what a
    Rec-SAVER student is trained and scored on — one function, so the three cannot drift apart. `reasoning=False`
    asks for the rating only (Table 4's student fine-tuned without reasoning)."""
    catalog = ItemCatalog.from_tables(items)
    reviews = ReviewLookup.from_interactions(interactions, config.review_max_chars)
    renderer = PromptRenderer()
    count = token_counter(llm, REASON_PREFIX if reasoning else RATING_PREFIX)
    out = []
    for row in rows:
        ctx = prompt_context(row, catalog, reviews, config.domain_view(), scale=config.scale,
                           like_threshold=config.like_threshold, example=None, include_rating=True,
                           include_review=True, include_description=True, reasoning=reasoning)
        messages, _ = fit_prompt(renderer, PREDICT_TEMPLATE, ctx, count, config.max_prompt_tokens)
        out.append(messages)
    return out


def recsaver_teacher_paths(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    interactions: pl.DataFrame | None,
    llm: LLM,
    config: TeacherPathsConfig,
    *,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One row per (pair, sample): keys, sample_index, rating (truth), text, pred_rating, reasoning, parse_ok.

    The truth is NOT in the prompt (these are predictions to be filtered by `stages.recsaver.filters`).
    """
    rows = [r for r in target_rows(targets, limit) if r.get("rating") is not None]
    jobs = [GenerationJob(pair_key(row), messages, config.sampling(), assistant_prefix=REASON_PREFIX)
            for row, messages in zip(rows, cot_prompts(rows, items, interactions, llm, config), strict=True)]
    scale = config.scale
    table, summary = sample_paths(
        llm, jobs, PAIR_KEY_SCHEMA, n_samples=config.n_samples, temperature=config.temperature, top_p=config.top_p,
        parser=lambda text: parse_recsaver(REASON_PREFIX + text, scale=scale), batch_size=config.batch_size,
        desc="recsaver teacher paths", show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    truth = {tuple(pair_key(r).values()): float(r["rating"]) for r in rows}
    table = table.with_columns(
        pl.Series("rating", [truth[k] for k in table.select("user_id", "item_id", "split").iter_rows()],
                  dtype=pl.Float64())
    )
    first = ["user_id", "item_id", "split", "sample_index", "rating", "pred_rating", "parse_ok", "text"]
    return table.select(*first, *[c for c in table.columns if c not in first])


def score_missing_ratings(paths: pl.DataFrame, llm: LLM, config: TeacherPathsConfig) -> pl.DataFrame:
    """Give every teacher path a teacher rating the filters can judge.

    A path whose text has no parseable rating (cut off at max_new_tokens, or the model never wrote the rating
    line) gets its rating from ONE scoring pass over the digits after its own reasoning + "### Rating ###" — the
    read-out the zero-shot CoT stage uses. Without it, a small budget leaves every filter but `none` with nothing.
    `rating_source` records "parsed" / "scored" / null (the scoring call failed)."""
    parsed = pl.col("pred_rating").is_not_null() & pl.col("parse_ok").fill_null(False)
    table = paths.with_row_index("_row").with_columns(
        pl.when(parsed).then(pl.lit("parsed")).otherwise(None).alias("rating_source"))
    missing = table.filter(~parsed & pl.col("prompt").is_not_null() & pl.col("error").is_null())
    if missing.height == 0:
        return table.drop("_row")
    choices = rating_choices(config.scale)
    jobs = []
    for row in missing.iter_rows(named=True):
        messages = tuple(Message(m["role"], m["content"]) for m in json.loads(row["prompt"]))
        reasoning = (row["reasoning"] or row["text"] or "").strip()
        jobs.append(ScoreJob({"row": row["_row"]}, messages, choices, f"{REASON_PREFIX}{reasoning}\n\n{RATING_PREFIX}"))
    scored, _ = run_score_jobs(llm, jobs, {"row": pl.UInt32()}, batch_size=config.batch_size,
                               desc="recsaver teacher ratings (score)", show=config.show_progress,
                               keep_prompts=False)
    ratings = {}
    for row, probs in scored.select("row", "probs").iter_rows():
        if probs is not None:
            p = json.loads(probs)
            ratings[row] = float(max(p, key=p.__getitem__))
    fill = pl.DataFrame({"_row": list(ratings), "_scored": list(ratings.values())},
                        schema={"_row": pl.UInt32(), "_scored": pl.Float64()})
    return (table.join(fill, on="_row", how="left")
            .with_columns(pl.coalesce("pred_rating", "_scored").alias("pred_rating"),
                          (pl.col("parse_ok").fill_null(False) | pl.col("_scored").is_not_null()).alias("parse_ok"),
                          pl.when(pl.col("_scored").is_not_null()).then(pl.lit("scored"))
                          .otherwise(pl.col("rating_source")).alias("rating_source"))
            .drop("_row", "_scored"))


def student_prompt_table(targets: pl.DataFrame, items: pl.DataFrame, interactions: pl.DataFrame | None,
                         llm: LLM | TokenizerChat | None, config: TeacherPathsConfig, *,
                         reasoning: bool = True) -> pl.DataFrame:
    """(user_id, item_id, split, rating, student_prompt) for target pairs: the teacher's CoT prompt (no truth in
    it), which is what a Rec-SAVER student is trained on and scored with (`reasoning=False`: the rating-only
    prompt)."""
    rows = target_rows(targets)
    messages = cot_prompts(rows, items, interactions, llm, config, reasoning=reasoning)
    return pl.DataFrame({
        "user_id": [str(r["user_id"]) for r in rows], "item_id": [str(r["item_id"]) for r in rows],
        "split": [r.get("split") or "test" for r in rows], "rating": [r.get("rating") for r in rows],
        "student_prompt": [messages_json(m) for m in messages],
    }, schema_overrides={"rating": pl.Float64()})


__all__ = [
    "TeacherPathsConfig", "cot_prompts", "recsaver_teacher_paths", "score_missing_ratings", "student_prompt_table",
]
