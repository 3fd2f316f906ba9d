"""Batch prediction for any LLM (backend + optional LoRA adapter), written as `PREDICTIONS_SCHEMA` rows.

Scores come from probabilities, never from parsing generated text:
- ReasoningRec: P(" Yes") vs P(" No") after the assistant prefix "Prediction:" — ONE forward pass per row (the
  student was trained prediction-first, so this is the position it learned to answer at). TALLRec: "Yes"/"No".
- EXP3RT / Rec-SAVER: a distribution over the rating digits and E[rating], read after the reasoning the model
  generated ("… Predicted User Rating: " / "### Rating ###\\n"), or straight after the header when reasoning is off.
Reasoning text is generated only when asked (`generate_reasoning`, for the first `reasoning_limit` rows), because
on CPU a 200-token explanation costs ~10 s a row. Every call goes through the LLM cache (`build_llm` wraps it), so
a killed run recomputes nothing that finished; `write_predictions` writes Parquet (+ JSONL) with a manifest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from reasonrec.answers import parse_exp3rt, parse_recsaver, strip_trailing_prediction
from reasonrec.errors import ConfigError, DataError
from reasonrec.llm.base import LLM, Message, expected_value
from reasonrec.llm.runner import RunSummary
from reasonrec.llm.sentence import SentenceEncoder
from reasonrec.predictions import conform_predictions
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    StageConfig,
    run_generation_jobs,
    run_score_jobs,
    write_stage_output,
)
from reasonrec.stages.common.context import target_rows
from reasonrec.stages.common.grounded import ExplainConfig, with_grounded_explanations
from reasonrec.stages.common.label_rows import label_prediction_frame, run_label_jobs, target_columns
from reasonrec.stages.student import LABEL_SCORING, RATING_HEADERS, LabelPrompt, label_prompts, rating_prefix


class PredictConfig(StageConfig):
    """Defaults: the ReasoningRec student (profile + descriptions), scores only, prompt budget 2048 − 256."""

    method: Literal["reasoningrec", "tallrec", "exp3rt", "recsaver"] = "reasoningrec"
    method_name: str | None = Field(None, description="name written into predictions; default <method>-student")
    dataset: str = ""
    include_profile: bool = True
    include_descriptions: bool = True
    completion: Literal["reasoning", "label"] = Field(
        "reasoning", description="what the student was trained to write (label: the prompt asks for the label only)")
    facts: bool = Field(False, description="CF-aware prompts: state the row's leak-free facts (needs a facts column)")
    like_threshold: float = Field(3.0, description="r_T: label = rating > r_T")
    generate_reasoning: bool = Field(False, description="also generate the explanation text")
    reasoning_limit: int | None = Field(None, ge=0, description="generate reasoning for the first N rows only")
    explain: ExplainConfig = Field(default_factory=ExplainConfig, description="free | evidence explanations")
    max_prompt_tokens: int = Field(1792, ge=64)
    scale_min: int = 1
    scale_max: int = 5

    def name(self) -> str:
        return self.method_name or f"{self.method}-student"

    def label_prompt(self) -> LabelPrompt:
        """The like/dislike student's prompt (ConfigError for the rating methods, which `predict_ratings` serves)."""
        if self.method not in LABEL_SCORING:
            raise ConfigError(f"predict_labels handles reasoningrec/tallrec; use predict_ratings for {self.method!r}")
        return LabelPrompt.student(self.method, profile=self.include_profile, descriptions=self.include_descriptions,
                                   label_only=self.completion == "label", facts=self.facts)


def _reference_map(teacher_reasoning: pl.DataFrame | None, split: str) -> dict[str, str]:
    if teacher_reasoning is None or not split:
        return {}
    rows = teacher_reasoning.filter(pl.col("split") == split).select("user_id", "text").iter_rows()
    return {str(u): strip_trailing_prediction(t) for u, t in rows if t is not None}


def _want_reasoning(config: PredictConfig, idx: int) -> bool:
    return config.generate_reasoning and (config.reasoning_limit is None or idx < config.reasoning_limit)


def predict_labels(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    user_profiles: pl.DataFrame | None,
    llm: LLM,
    config: PredictConfig,
    *,
    teacher_reasoning: pl.DataFrame | None = None,
    interactions: pl.DataFrame | None = None,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
    encoder: SentenceEncoder | None = None,
) -> pl.DataFrame:
    """ReasoningRec / TALLRec P(like) for every target row (+ reasoning for a subset: the prompt's own
    (`explain.mode=free`) or written from retrieved evidence after the label (`evidence`; `interactions` give the
    user/item statistics, `encoder` the sentence model to retrieve with, loaded here when None))."""
    rows = target_rows(targets, limit)
    spec = config.label_prompt()
    grounded = config.explain.mode == "evidence"
    prompts = label_prompts(rows, items, item_descriptions, user_profiles, llm, config)
    scored, generated = run_label_jobs(llm, prompts, choices=spec.choices, assistant_prefix=spec.assistant_prefix,
                                       sampling=config.sampling(),
                                       generate=lambda idx: (spec.reasoning and not grounded
                                                             and _want_reasoning(config, idx)),
                                       batch_size=config.batch_size, show=config.show_progress,
                                       score_desc=f"P(like) {config.name()}",
                                       reasoning_desc=f"reasoning {config.name()}", summaries=summaries)
    refs = _reference_map(teacher_reasoning, str(rows[0].get("split") or "") if rows else "")
    frame = label_prediction_frame(rows, scored, generated, method=config.name(), dataset=config.dataset,
                                   choice=spec.choices[0], references=[refs.get(str(r["user_id"])) for r in rows],
                                   parse_ok_needs_text=True)
    if not (grounded and config.generate_reasoning):
        return frame
    return with_grounded_explanations(
        frame, rows, (items, item_descriptions, interactions), llm, config.explain, domain=config.domain_view(),
        want=lambda idx: _want_reasoning(config, idx), like_threshold=config.like_threshold, seed=config.seed,
        batch_size=config.batch_size, show=config.show_progress, summaries=summaries, encoder=encoder)


def predict_ratings(
    prompts: pl.DataFrame,
    llm: LLM,
    config: PredictConfig,
    *,
    prompt_column: str = "student_prompt",
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """EXP3RT / Rec-SAVER: rating distribution and E[rating] for pre-rendered student prompts.

    `prompts` has user_id, item_id, `prompt_column` (messages JSON) and optionally rating, split, reference."""
    if config.method not in RATING_HEADERS:
        raise ConfigError(f"predict_ratings handles exp3rt/recsaver, not {config.method!r}")
    for col in ("user_id", "item_id", prompt_column):
        if col not in prompts.columns:
            raise DataError(f"prompts table has no {col!r} column (columns: {prompts.columns})", field=col)
    rows = list((prompts if limit is None else prompts.head(limit)).iter_rows(named=True))
    key_schema = {"row": pl.Int64()}
    messages = [tuple(Message(m["role"], m["content"]) for m in json.loads(r[prompt_column])) for r in rows]
    generated: list[str | None] = [None] * len(rows)
    gen_jobs = [GenerationJob({"row": i}, messages[i], config.sampling()) for i in range(len(rows))
                if _want_reasoning(config, i)]
    if gen_jobs:
        table, gsummary = run_generation_jobs(llm, gen_jobs, key_schema, batch_size=config.batch_size,
                                              desc=f"reasoning {config.name()}", show=config.show_progress)
        if summaries is not None:
            summaries.append(gsummary)
        for i, text in zip(table["row"].to_list(), table["text"].to_list(), strict=True):
            generated[i] = text
    digits = tuple(str(d) for d in range(config.scale_min, config.scale_max + 1))
    score_jobs = [ScoreJob({"row": i}, messages[i], digits, rating_prefix(config.method, generated[i]))
                  for i in range(len(rows))]
    scored, summary = run_score_jobs(llm, score_jobs, key_schema, batch_size=config.batch_size,
                                     desc=f"rating {config.name()}", show=config.show_progress)
    if summaries is not None:
        summaries.append(summary)
    probs = [json.loads(p) if p is not None else None for p in scored["probs"].to_list()]
    expected = [expected_value(p) if p is not None else None for p in probs]
    parser = parse_exp3rt if config.method == "exp3rt" else parse_recsaver
    reasoning = []
    for text in generated:
        reasoning.append(None if text is None else (parser(text, scale=None).reasoning or text.strip()))
    threshold = config.like_threshold
    p_like = [None if p is None else sum(v for k, v in p.items() if float(k) > threshold) for p in probs]
    out = pl.DataFrame(
        {
            **target_columns(rows, method=config.name(), dataset=config.dataset),
            "label": [None if r.get("rating") is None else int(float(r["rating"]) > threshold) for r in rows],
            "score": p_like,
            "pred_label": [None if p is None else int(p >= 0.5) for p in p_like],
            "pred_rating": expected,
            "probs": [None if p is None else json.dumps(p) for p in probs],
            "reasoning": reasoning,
            "reference": [r.get("reference") for r in rows],
            "parse_ok": [e is not None for e in expected],
            "prompt_tokens": scored["prompt_tokens"].to_list(),
            "cached": scored["cached"].to_list(),
            "error": scored["error"].to_list(),
        },
        schema_overrides={"label": pl.Int64(), "rating": pl.Float64(), "score": pl.Float64(),
                          "pred_label": pl.Int64(), "pred_rating": pl.Float64(), "reasoning": pl.String(),
                          "reference": pl.String(), "error": pl.String()},
    )
    return conform_predictions(out)


def write_predictions(
    out_dir: str | Path,
    table: pl.DataFrame,
    config: PredictConfig,
    *,
    llm: LLM | None = None,
    summaries: Sequence[RunSummary] = (),
    jsonl: bool = False,
    command: str | None = None,
    started_at: float | None = None,
) -> Path:
    """`<out>/predictions.parquet` (+ `predictions.jsonl`) + config.yaml + manifest.json."""
    from reasonrec.io import write_jsonl

    out_dir = Path(out_dir)
    if jsonl:
        write_jsonl(out_dir / "predictions.jsonl", table.iter_rows(named=True))
    return write_stage_output(out_dir, "predictions", table, config, llm=llm, summaries=summaries,
                              command=command or f"predict {config.method}",
                              started_at=started_at if started_at is not None else time.time())


__all__ = ["PredictConfig", "predict_labels", "predict_ratings", "write_predictions"]
