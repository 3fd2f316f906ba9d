"""P(like) predictions rows, built once for every Yes/No scorer (zero-shot stage and fine-tuned student).

Both score a (" Yes", " No") pair after an assistant prefix and may also generate a ReasoningRec-style reasoning
text for some rows; the run → P(yes) → parsed reasoning → PREDICTIONS_SCHEMA assembly lives here so the two can
never drift apart in column names, types or the meaning of `parse_ok`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from reasonrec.answers import parse_reasoningrec
from reasonrec.llm.base import LLM, Message, SamplingParams
from reasonrec.llm.runner import RunSummary
from reasonrec.predictions import conform_predictions
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    choice_prob,
    run_generation_jobs,
    run_score_jobs,
)

ROW_KEY_SCHEMA: dict[str, pl.DataType] = {"row": pl.Int64()}


def target_columns(rows: Sequence[dict[str, Any]], *, method: str, dataset: str) -> dict[str, list]:
    """The columns every predictions writer copies from its target rows (method, dataset, ids, split, rating)."""
    return {
        "method": [method] * len(rows),
        "dataset": [dataset] * len(rows),
        "split": [str(r.get("split") or "") for r in rows],
        "user_id": [str(r["user_id"]) for r in rows],
        "item_id": [str(r["item_id"]) for r in rows],
        "rating": [r.get("rating") for r in rows],
    }


def run_label_jobs(
    llm: LLM,
    prompts: Sequence[tuple[Message, ...]],
    *,
    choices: tuple[str, str],
    assistant_prefix: str,
    sampling: SamplingParams,
    generate: Callable[[int], bool],
    batch_size: int,
    show: bool,
    score_desc: str,
    reasoning_desc: str,
    summaries: list[RunSummary] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Score `choices` after `assistant_prefix` for every prompt, then generate a text for the rows `generate`
    picks, if any (keys: `ROW_KEY_SCHEMA`); summaries in that order."""
    score_jobs = [ScoreJob({"row": idx}, m, choices, assistant_prefix) for idx, m in enumerate(prompts)]
    scored, summary = run_score_jobs(llm, score_jobs, ROW_KEY_SCHEMA, batch_size=batch_size, desc=score_desc,
                                     show=show)
    if summaries is not None:
        summaries.append(summary)
    gen_jobs = [GenerationJob({"row": idx}, m, sampling) for idx, m in enumerate(prompts) if generate(idx)]
    if not gen_jobs:
        return scored, None
    generated, gsummary = run_generation_jobs(llm, gen_jobs, ROW_KEY_SCHEMA, batch_size=batch_size,
                                              desc=reasoning_desc, show=show)
    if summaries is not None:
        summaries.append(gsummary)
    return scored, generated


def label_prediction_frame(
    rows: Sequence[dict[str, Any]],
    scored: pl.DataFrame,
    generated: pl.DataFrame | None,
    *,
    method: str,
    dataset: str,
    choice: str,
    references: Sequence[str | None] | None = None,
    parse_ok_needs_text: bool = False,
) -> pl.DataFrame:
    """PREDICTIONS_SCHEMA (+ prompt_tokens, cached, error) from one score row per target row.

    score = P(`choice`), pred_label = score ≥ 0.5, probs = {"Yes": p, "No": 1 − p}; `generated` (rows keyed by
    "row", possibly a subset) fills `reasoning` with the parsed ReasoningRec text. parse_ok is "the score call
    succeeded", and with `parse_ok_needs_text` also "the generated text, where one was asked for, parsed".
    """
    p_yes = [choice_prob(p, choice) for p in scored["probs"].to_list()]
    reasoning: list[str | None] = [None] * len(rows)
    text_ok: list[bool] = [True] * len(rows)
    if generated is not None:
        for job_row, text in zip(generated["row"].to_list(), generated["text"].to_list(), strict=True):
            parsed = parse_reasoningrec(text) if text is not None else None
            reasoning[job_row] = parsed.reasoning if parsed is not None else None
            text_ok[job_row] = parsed is not None and parsed.ok
    if not parse_ok_needs_text:
        text_ok = [True] * len(rows)
    out = pl.DataFrame(
        {
            **target_columns(rows, method=method, dataset=dataset),
            "label": [r.get("label") for r in rows],
            "score": p_yes,
            "pred_label": [None if p is None else int(p >= 0.5) for p in p_yes],
            "probs": [None if p is None else json.dumps({"Yes": p, "No": 1.0 - p}) for p in p_yes],
            "reasoning": reasoning,
            "reference": list(references) if references is not None else [None] * len(rows),
            "parse_ok": [p is not None and ok for p, ok in zip(p_yes, text_ok, strict=True)],
            "prompt_tokens": scored["prompt_tokens"].to_list(),
            "cached": scored["cached"].to_list(),
            "error": scored["error"].to_list(),
        },
        schema_overrides={"label": pl.Int64(), "rating": pl.Float64(), "score": pl.Float64(),
                          "pred_label": pl.Int64(), "reasoning": pl.String(), "reference": pl.String(),
                          "error": pl.String()},
    )
    return conform_predictions(out)


__all__ = ["ROW_KEY_SCHEMA", "label_prediction_frame", "run_label_jobs", "target_columns"]
