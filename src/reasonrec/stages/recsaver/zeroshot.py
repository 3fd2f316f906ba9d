"""Rec-SAVER zero-shot rating prediction and its Table 3 ablations.

Variants are flags on ONE template (`recsaver/predict`):
  cot                   reasoning, then the rating (the paper's "Our Method (zero-shot CoT)")
  no_reasoning          rating only ("No Reasoning Outputs")
  no_review             history without review texts
  no_review_no_rating   history items only (implicit feedback)
  no_description        items without descriptions
  one_shot              cot + one solved example from the TRAIN targets (never the test pair's own user),
                        drawn per pair with a seed derived from (seed, user, item)

`rating_from="score"` (default): the rating comes from ONE forward pass over the bare digits "1".."5" after
"### Rating ###\\n" (digits are single tokens; DESIGN.md). For reasoning variants the reasoning is generated first
(after "### Reason ###\\n", stopping at the next "###") and placed in the assistant prefix before the rating is
scored — the paper's "normalised logits of the 5 rating tokens". pred_rating = argmax, probs = JSON over digits,
score = P(rating > r_T) for AUC, parse_ok = True when the score call succeeded.
`rating_from="generate"`: the whole answer is generated and parsed with `parse_recsaver`; pred_rating None and
parse_ok False when unparseable, score = pred_rating (monotone; no probabilities).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.answers import parse_recsaver
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM, expected_value
from reasonrec.llm.runner import RunSummary
from reasonrec.predictions import conform_predictions
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    StageConfig,
    fit_prompt,
    run_generation_jobs,
    run_score_jobs,
    token_counter,
)
from reasonrec.stages.common.context import ItemCatalog, target_rows
from reasonrec.stages.common.label_rows import target_columns
from reasonrec.stages.recsaver.context import (
    PREDICT_TEMPLATE,
    RATING_PREFIX,
    REASON_PREFIX,
    ReviewLookup,
    prompt_context,
    rating_choices,
)

RecSaverVariant = Literal["cot", "no_reasoning", "no_review", "no_review_no_rating", "no_description", "one_shot"]


@dataclass(frozen=True)
class RecSaverVariantSpec:
    reasoning: bool = True
    include_review: bool = True
    include_rating: bool = True
    include_description: bool = True
    one_shot: bool = False


VARIANTS: dict[str, RecSaverVariantSpec] = {
    "cot": RecSaverVariantSpec(),
    "no_reasoning": RecSaverVariantSpec(reasoning=False),
    "no_review": RecSaverVariantSpec(include_review=False),
    "no_review_no_rating": RecSaverVariantSpec(include_review=False, include_rating=False),
    "no_description": RecSaverVariantSpec(include_description=False),
    "one_shot": RecSaverVariantSpec(one_shot=True),
}


class RecSaverZeroShotConfig(StageConfig):
    variant: RecSaverVariant = "cot"
    rating_from: Literal["score", "generate"] = "score"
    dataset: str = ""
    method: str | None = Field(None, description="default recsaver-zeroshot-<variant>")
    scale_min: int = 1
    scale_max: int = 5
    like_threshold: float = Field(3.0, description="binary cut-off: like = rating > r_T (paper: > 3)")
    review_max_chars: int | None = 600
    example_history: int = Field(3, ge=1, description="one-shot: past items shown in the solved example")
    example_review_chars: int = Field(160, ge=0)
    max_new_tokens: int = Field(256, ge=1)

    @property
    def scale(self) -> tuple[int, int]:
        return (self.scale_min, self.scale_max)

    def method_name(self) -> str:
        return self.method or f"recsaver-zeroshot-{self.variant}"


def solved_example(row: dict[str, Any], catalog: ItemCatalog, reviews: ReviewLookup, *, history: int = 3,
                   review_chars: int = 160) -> str:
    """A compact solved example (recent history + new item + its true rating) from a TRAIN target row."""
    user = str(row["user_id"])
    ids = list(row["history_item_ids"])[-history:]
    ratings = list(row.get("history_ratings") or [])[-history:]
    lines = ["Past purchases:"]
    for pos, item_id in enumerate(ids):
        rating = ratings[pos] if pos < len(ratings) else None
        review = reviews.get(user, str(item_id)) or ""
        if len(review) > review_chars:
            review = review[:review_chars].rsplit(" ", 1)[0] + " …"
        rating_text = f"rating {int(rating)}" if rating is not None else "rating unknown"
        lines.append(f"- {catalog.view(str(item_id)).title} ({rating_text}){': ' + review if review else ''}")
    lines.append(f"New item: {catalog.view(str(row['item_id'])).title}")
    lines.append(RATING_PREFIX + f"{int(row['rating'])}")
    return "\n".join(lines)


def pick_example(train_rows: list[dict[str, Any]], user_id: str, item_id: str, seed: int) -> dict[str, Any]:
    """A train row of ANOTHER user, chosen reproducibly per (seed, user, item)."""
    pool = [r for r in train_rows if str(r["user_id"]) != user_id and r.get("rating") is not None]
    if not pool:
        raise ConfigError("one-shot needs at least one train target of another user with a rating")
    return random.Random(f"{seed}|{user_id}|{item_id}").choice(pool)


def _probs_view(probs_json: str | None, threshold: float) -> tuple[float | None, float | None, float | None]:
    """(argmax rating, E[rating], P(rating > threshold)) from a probs JSON cell."""
    if probs_json is None:
        return None, None, None
    probs = json.loads(probs_json)
    best = float(max(probs, key=probs.__getitem__))
    p_like = sum(p for c, p in probs.items() if float(c) > threshold)
    return best, expected_value(probs), p_like


def recsaver_zeroshot(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    interactions: pl.DataFrame | None,
    llm: LLM,
    config: RecSaverZeroShotConfig,
    *,
    train_targets: pl.DataFrame | None = None,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One PREDICTIONS_SCHEMA row per target row (+ expected_rating, example_user, prompt_tokens, cached, error)."""
    spec = VARIANTS[config.variant]
    if spec.one_shot and train_targets is None:
        raise ConfigError("variant one_shot needs train_targets (solved examples come from the TRAIN split)")
    catalog = ItemCatalog.from_tables(items)
    reviews = ReviewLookup.from_interactions(interactions, config.review_max_chars)
    train_rows = target_rows(train_targets) if train_targets is not None else []
    renderer = PromptRenderer()
    count = token_counter(llm, REASON_PREFIX)
    rows = target_rows(targets, limit)
    choices = rating_choices(config.scale)
    key_schema = {"row": pl.Int64()}
    messages_by_row = []
    example_users: list[str | None] = []
    for row in rows:
        example = None
        example_user = None
        if spec.one_shot:
            ex = pick_example(train_rows, str(row["user_id"]), str(row["item_id"]), config.seed)
            example_user = str(ex["user_id"])
            example = solved_example(ex, catalog, reviews, history=config.example_history,
                                     review_chars=config.example_review_chars)
        ctx = prompt_context(
            row, catalog, reviews, config.domain_view(), scale=config.scale, like_threshold=config.like_threshold,
            example=example, include_rating=spec.include_rating, include_review=spec.include_review,
            include_description=spec.include_description, reasoning=spec.reasoning,
        )
        messages, _ = fit_prompt(renderer, PREDICT_TEMPLATE, ctx, count, config.max_prompt_tokens)
        messages_by_row.append(messages)
        example_users.append(example_user)

    reasoning: list[str | None] = [None] * len(rows)
    gen_errors: list[str | None] = [None] * len(rows)
    pred: list[float | None] = [None] * len(rows)
    expected: list[float | None] = [None] * len(rows)
    score: list[float | None] = [None] * len(rows)
    probs: list[str | None] = [None] * len(rows)
    parse_ok: list[bool] = [False] * len(rows)
    prompt_tokens: list[int | None] = [None] * len(rows)
    cached: list[bool | None] = [None] * len(rows)

    if config.rating_from == "generate" or spec.reasoning:
        prefix = REASON_PREFIX if spec.reasoning else RATING_PREFIX
        stop = ["###"] if config.rating_from == "score" else []
        jobs = [GenerationJob({"row": i}, m, config.sampling(stop=tuple(stop)), assistant_prefix=prefix)
                for i, m in enumerate(messages_by_row)]
        generated, summary = run_generation_jobs(llm, jobs, key_schema, batch_size=config.batch_size,
                                                 desc=f"recsaver {config.variant} (generate)",
                                                 show=config.show_progress, keep_prompts=False)
        if summaries is not None:
            summaries.append(summary)
        for i, text, err, ptok, hit in generated.select("row", "text", "error", "prompt_tokens", "cached").iter_rows():
            gen_errors[i] = err
            prompt_tokens[i], cached[i] = ptok, hit
            if text is None:
                continue
            if config.rating_from == "generate":
                parsed = parse_recsaver(prefix + text, scale=config.scale)
                reasoning[i] = parsed.reasoning or None
                pred[i] = parsed.rating
                parse_ok[i] = parsed.ok
                score[i] = parsed.rating
            else:
                reasoning[i] = text.split("###")[0].strip()

    score_errors: list[str | None] = [None] * len(rows)
    if config.rating_from == "score":
        jobs_s = []
        for i, m in enumerate(messages_by_row):
            if spec.reasoning:
                if reasoning[i] is None:
                    continue  # reasoning call failed: no rating either (error kept)
                prefix = f"{REASON_PREFIX}{reasoning[i]}\n\n{RATING_PREFIX}"
            else:
                prefix = RATING_PREFIX
            jobs_s.append(ScoreJob({"row": i}, m, choices, prefix))
        scored, summary = run_score_jobs(llm, jobs_s, key_schema, batch_size=config.batch_size,
                                         desc=f"recsaver {config.variant} (score)", show=config.show_progress,
                                         keep_prompts=False)
        if summaries is not None:
            summaries.append(summary)
        for i, p, err, ptok, hit in scored.select("row", "probs", "error", "prompt_tokens", "cached").iter_rows():
            score_errors[i] = err
            if not spec.reasoning:
                prompt_tokens[i], cached[i] = ptok, hit
            else:
                cached[i] = bool(cached[i]) and bool(hit)
            probs[i] = p
            pred[i], expected[i], score[i] = _probs_view(p, config.like_threshold)
            parse_ok[i] = p is not None

    thr = config.like_threshold
    out = pl.DataFrame(
        {
            **target_columns(rows, method=config.method_name(), dataset=config.dataset),
            "label": [None if r.get("rating") is None else int(r["rating"] > thr) for r in rows],
            "score": score,
            "pred_label": [None if p is None else int(p > thr) for p in pred],
            "pred_rating": pred,
            "probs": probs,
            "reasoning": reasoning,
            "parse_ok": parse_ok,
            "expected_rating": expected,
            "example_user": example_users,
            "prompt_tokens": prompt_tokens,
            "cached": cached,
            "error": [g or s for g, s in zip(gen_errors, score_errors, strict=True)],
        },
        schema_overrides={
            "label": pl.Int64(), "rating": pl.Float64(), "score": pl.Float64(), "pred_label": pl.Int64(),
            "pred_rating": pl.Float64(), "probs": pl.String(), "reasoning": pl.String(),
            "expected_rating": pl.Float64(), "example_user": pl.String(), "prompt_tokens": pl.Int64(),
            "cached": pl.Boolean(), "error": pl.String(),
        },
    )
    return conform_predictions(out)


__all__ = [
    "VARIANTS", "RecSaverVariant", "RecSaverVariantSpec", "RecSaverZeroShotConfig", "pick_example", "recsaver_zeroshot",
    "solved_example",
]
