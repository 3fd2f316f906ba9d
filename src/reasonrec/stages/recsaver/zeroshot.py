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
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.answers import parse_recsaver
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM, Message, expected_value
from reasonrec.llm.runner import RunSummary
from reasonrec.predictions import conform_predictions
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
from reasonrec.stages.common.label_rows import target_columns
from reasonrec.stages.recsaver.context import (
    PREDICT_TEMPLATE,
    RATING_PREFIX,
    REASON_PREFIX,
    RecSaverStageConfig,
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


class RecSaverZeroShotConfig(RecSaverStageConfig):
    variant: RecSaverVariant = "cot"
    rating_from: Literal["score", "generate"] = "score"
    dataset: str = ""
    method: str | None = Field(None, description="default recsaver-zeroshot-<variant>")
    example_history: int = Field(3, ge=1, description="one-shot: past items shown in the solved example")
    example_review_chars: int = Field(160, ge=0)
    max_new_tokens: int = Field(256, ge=1)

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


@dataclass
class _Answers:
    """What the model answered for each target row, filled by the generation and the scoring pass."""

    n: int
    reasoning: list[str | None] = field(default_factory=list)
    pred: list[float | None] = field(default_factory=list)
    expected: list[float | None] = field(default_factory=list)
    score: list[float | None] = field(default_factory=list)
    probs: list[str | None] = field(default_factory=list)
    parse_ok: list[bool] = field(default_factory=list)
    prompt_tokens: list[int | None] = field(default_factory=list)
    cached: list[bool | None] = field(default_factory=list)
    gen_errors: list[str | None] = field(default_factory=list)
    score_errors: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("reasoning", "pred", "expected", "score", "probs", "prompt_tokens", "cached", "gen_errors",
                     "score_errors"):
            setattr(self, name, [None] * self.n)
        self.parse_ok = [False] * self.n


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
    rows = target_rows(targets, limit)
    prompts, example_users = _variant_prompts(rows, items, interactions, llm, config, train_targets)
    answers = _Answers(len(rows))
    if config.rating_from == "generate" or spec.reasoning:
        _generate(llm, prompts, answers, config, summaries)
    if config.rating_from == "score":
        _score(llm, prompts, answers, config, summaries)
    thr = config.like_threshold
    out = pl.DataFrame(
        {
            **target_columns(rows, method=config.method_name(), dataset=config.dataset),
            "label": [None if r.get("rating") is None else int(r["rating"] > thr) for r in rows],
            "score": answers.score,
            "pred_label": [None if p is None else int(p > thr) for p in answers.pred],
            "pred_rating": answers.pred,
            "probs": answers.probs,
            "reasoning": answers.reasoning,
            "parse_ok": answers.parse_ok,
            "expected_rating": answers.expected,
            "example_user": example_users,
            "prompt_tokens": answers.prompt_tokens,
            "cached": answers.cached,
            "error": [g or s for g, s in zip(answers.gen_errors, answers.score_errors, strict=True)],
        },
        schema_overrides={
            "label": pl.Int64(), "rating": pl.Float64(), "score": pl.Float64(), "pred_label": pl.Int64(),
            "pred_rating": pl.Float64(), "probs": pl.String(), "reasoning": pl.String(),
            "expected_rating": pl.Float64(), "example_user": pl.String(), "prompt_tokens": pl.Int64(),
            "cached": pl.Boolean(), "error": pl.String(),
        },
    )
    return conform_predictions(out)


def _variant_prompts(rows: list[dict[str, Any]], items: pl.DataFrame, interactions: pl.DataFrame | None, llm: LLM,
                     config: RecSaverZeroShotConfig, train_targets: pl.DataFrame | None
                     ) -> tuple[list[tuple[Message, ...]], list[str | None]]:
    """The variant's prompt per row, and the user of its solved example (one-shot only)."""
    spec = VARIANTS[config.variant]
    catalog = ItemCatalog.from_tables(items)
    reviews = ReviewLookup.from_interactions(interactions, config.review_max_chars)
    train_rows = target_rows(train_targets) if train_targets is not None else []
    renderer = PromptRenderer()
    count = token_counter(llm, REASON_PREFIX)
    prompts: list[tuple[Message, ...]] = []
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
        prompts.append(fit_prompt(renderer, PREDICT_TEMPLATE, ctx, count, config.max_prompt_tokens)[0])
        example_users.append(example_user)
    return prompts, example_users


def _generate(llm: LLM, prompts: list[tuple[Message, ...]], answers: _Answers, config: RecSaverZeroShotConfig,
              summaries: list[RunSummary] | None) -> None:
    """The reasoning (stopped at the rating header when the rating is scored) or the whole parsed answer."""
    spec = VARIANTS[config.variant]
    prefix = REASON_PREFIX if spec.reasoning else RATING_PREFIX
    stop = ["###"] if config.rating_from == "score" else []
    jobs = [GenerationJob({"row": i}, m, config.sampling(stop=tuple(stop)), assistant_prefix=prefix)
            for i, m in enumerate(prompts)]
    generated, summary = run_generation_jobs(llm, jobs, {"row": pl.Int64()}, batch_size=config.batch_size,
                                             desc=f"recsaver {config.variant} (generate)",
                                             show=config.show_progress, keep_prompts=False)
    if summaries is not None:
        summaries.append(summary)
    for i, text, err, ptok, hit in generated.select("row", "text", "error", "prompt_tokens", "cached").iter_rows():
        answers.gen_errors[i] = err
        answers.prompt_tokens[i], answers.cached[i] = ptok, hit
        if text is None:
            continue
        if config.rating_from == "generate":
            parsed = parse_recsaver(prefix + text, scale=config.scale)
            answers.reasoning[i] = parsed.reasoning or None
            answers.pred[i] = parsed.rating
            answers.parse_ok[i] = parsed.ok
            answers.score[i] = parsed.rating
        else:
            answers.reasoning[i] = text.split("###")[0].strip()


def _score(llm: LLM, prompts: list[tuple[Message, ...]], answers: _Answers, config: RecSaverZeroShotConfig,
           summaries: list[RunSummary] | None) -> None:
    """One pass over the rating digits after "### Rating ###" (after the row's reasoning for CoT variants)."""
    spec = VARIANTS[config.variant]
    jobs = []
    for i, m in enumerate(prompts):
        if spec.reasoning:
            if answers.reasoning[i] is None:
                continue  # reasoning call failed: no rating either (error kept)
            prefix = f"{REASON_PREFIX}{answers.reasoning[i]}\n\n{RATING_PREFIX}"
        else:
            prefix = RATING_PREFIX
        jobs.append(ScoreJob({"row": i}, m, rating_choices(config.scale), prefix))
    scored, summary = run_score_jobs(llm, jobs, {"row": pl.Int64()}, batch_size=config.batch_size,
                                     desc=f"recsaver {config.variant} (score)", show=config.show_progress,
                                     keep_prompts=False)
    if summaries is not None:
        summaries.append(summary)
    for i, p, err, ptok, hit in scored.select("row", "probs", "error", "prompt_tokens", "cached").iter_rows():
        answers.score_errors[i] = err
        if not spec.reasoning:
            answers.prompt_tokens[i], answers.cached[i] = ptok, hit
        else:
            answers.cached[i] = bool(answers.cached[i]) and bool(hit)
        answers.probs[i] = p
        answers.pred[i], answers.expected[i], answers.score[i] = _probs_view(p, config.like_threshold)
        answers.parse_ok[i] = p is not None


__all__ = [
    "VARIANTS", "RecSaverVariant", "RecSaverVariantSpec", "RecSaverZeroShotConfig", "pick_example", "recsaver_zeroshot",
    "solved_example",
]
