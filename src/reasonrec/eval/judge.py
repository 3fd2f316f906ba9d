"""LLM-as-judge: any backend rates explanations on the four criteria of the explanation-evaluation literature.

Each judge (an `LLM`, any backend) is shown the user's history, the target, the prediction and the explanation,
and scores one criterion at a time: one forward pass, the probability of each digit 1–5 after "Score: ", and the
expected value as the score (a graded score, not a parsed string that may be missing). Several judges are averaged.
With human ratings of the same explanations, `agreement` reports Pearson, Spearman, Kendall and quadratic-weighted
kappa per criterion (the functions of `eval.agreement`).

A judge is only as good as its model: with the embedded 135M model the scores are a check that the mechanism runs,
not a measurement of explanation quality, and `mechanism_only` says so in every output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import DataError
from reasonrec.eval.agreement import kendall, pearson, spearman, weighted_kappa
from reasonrec.llm.base import LLM, ScoreRequest, expected_value
from reasonrec.llm.registry import LLMConfig
from reasonrec.llm.runner import run_score
from reasonrec.prompts import DOMAINS, PromptRenderer
from reasonrec.stages.common.evidence import Evidence

CRITERIA: dict[str, str] = {
    "persuasiveness": "Does the explanation make the user want to try the item (or convincingly advise against it)?",
    "transparency": "Does the explanation make clear why this prediction follows from the user's history and the "
                    "item, so the user can understand how the recommender reasoned?",
    "accuracy": "Is every statement about the user's history and the item true according to the data shown above?",
    "satisfaction": "Overall, how satisfied would the user be with this explanation?",
}
SCORE_CHOICES = ("1", "2", "3", "4", "5")
SCORE_PREFIX = "Score: "
MECHANISM_NOTE = ("judged by the embedded small model: a check that the judging mechanism runs, not a measurement of "
                  "explanation quality")


class JudgeConfig(Config):
    """Which criteria, how much explanation text a judge sees, how calls are batched."""

    criteria: list[str] = Field(default_factory=lambda: list(CRITERIA))
    domain: str = Field("beauty", description="wording of the prompt (see prompts.DOMAINS)")
    max_explanation_chars: int = Field(3000, ge=100, le=20000, description="longer explanations are cut")
    max_history: int = Field(20, ge=0, le=100, description="history items shown, most recent kept")
    batch_size: int = Field(8, ge=1)
    show_progress: bool = True
    judges: dict[str, LLMConfig] = Field(
        default_factory=dict, description="several judges by name (averaged); empty: the one --llm-config model")


@dataclass(frozen=True)
class JudgeItem:
    """One explanation to judge and the rows it is about."""

    explanation_id: str
    method: str
    text: str
    pred_label: int | None
    evidence: Evidence


@dataclass(frozen=True)
class Judge:
    name: str
    llm: LLM
    embedded: bool = False


def judge_requests(items: Sequence[JudgeItem], config: JudgeConfig) -> list[tuple[JudgeItem, str, ScoreRequest]]:
    unknown = [c for c in config.criteria if c not in CRITERIA]
    if unknown:
        raise DataError(f"unknown judge criteria {unknown}; choose from {', '.join(CRITERIA)}", field="criteria")
    renderer = PromptRenderer()
    domain = DOMAINS.get(config.domain)
    if domain is None:
        raise DataError(f"unknown domain {config.domain!r}; choose from {', '.join(DOMAINS)}", field="domain")
    out = []
    for item in items:
        history = [{"title": e.view.title, "liked": e.liked} for e in item.evidence.history][-config.max_history :]
        target = {"title": item.evidence.target.title, "description": item.evidence.target.description}
        explanation = item.text[: config.max_explanation_chars]
        for criterion in config.criteria:
            messages = renderer.render(
                "judge/score", domain=domain, history=history, target=target, prediction=item.pred_label,
                explanation=explanation, criterion=criterion, definition=CRITERIA[criterion],
            )
            out.append((item, criterion, ScoreRequest(SCORE_CHOICES, messages=messages,
                                                      assistant_prefix=SCORE_PREFIX)))
    return out


def judge_explanations(items: Sequence[JudgeItem], judges: Sequence[Judge], config: JudgeConfig) -> pl.DataFrame:
    """One row per (explanation, criterion, judge): expected score in [1, 5] and the digit probabilities."""
    requests = judge_requests(items, config)
    rows = []
    for judge in judges:
        scores, _ = run_score(judge.llm, [r for _, _, r in requests], batch_size=config.batch_size,
                              desc=f"judge {judge.name}", show=config.show_progress)
        for (item, criterion, _), score in zip(requests, scores, strict=True):
            ok = score.error is None and score.probs
            rows.append({
                "explanation_id": item.explanation_id, "method": item.method, "criterion": criterion,
                "judge": judge.name, "score": expected_value(score.probs) if ok else None,
                "probs": json.dumps(score.probs) if ok else None, "error": score.error,
            })
    return pl.DataFrame(rows, schema={"explanation_id": pl.String(), "method": pl.String(), "criterion": pl.String(),
                                      "judge": pl.String(), "score": pl.Float64(), "probs": pl.String(),
                                      "error": pl.String()})


def averaged(scores: pl.DataFrame) -> pl.DataFrame:
    """Judges averaged: one score per (explanation, criterion)."""
    return (scores.filter(pl.col("score").is_not_null())
            .group_by("explanation_id", "method", "criterion", maintain_order=True)
            .agg(pl.col("score").mean(), pl.col("judge").n_unique().alias("judges")))


def summary(scores: pl.DataFrame, judges: Sequence[Judge]) -> dict[str, Any]:
    """Mean score per method and criterion (judges averaged first), with the mechanism-only note when due."""
    table = averaged(scores).group_by("method", "criterion").agg(
        pl.col("score").mean().alias("mean"), pl.col("score").std().alias("std"), pl.len().alias("n"))
    out: dict[str, Any] = {"judges": [j.name for j in judges], "methods": {}}
    for row in table.sort("method", "criterion").iter_rows(named=True):
        out["methods"].setdefault(row["method"], {})[row["criterion"]] = {
            "mean": row["mean"], "std": row["std"], "n": row["n"]}
    if any(j.embedded for j in judges):
        out["mechanism_only"] = MECHANISM_NOTE
    return out


def load_human_ratings(path: str) -> pl.DataFrame:
    """JSONL/CSV/Parquet with `explanation_id` and one 1–5 column per rated criterion (several raters: one row
    each; they are averaged)."""
    reader = {".csv": pl.read_csv, ".parquet": pl.read_parquet}.get(path[path.rfind("."):], pl.read_ndjson)
    table = reader(path)
    if "explanation_id" not in table.columns:
        raise DataError("human ratings need an 'explanation_id' column", path=path, field="explanation_id")
    criteria = [c for c in table.columns if c in CRITERIA]
    if not criteria:
        raise DataError(f"human ratings have no criterion column ({', '.join(CRITERIA)})", path=path)
    for c in criteria:
        bad = table.filter(pl.col(c).is_not_null() & ~pl.col(c).is_between(1, 5))
        if not bad.is_empty():
            raise DataError(f"ratings must be in 1..5, found {bad[c][0]!r}", path=path, field=c)
    return table.group_by("explanation_id").agg([pl.col(c).cast(pl.Float64).mean() for c in criteria])


def agreement(scores: pl.DataFrame, human: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per criterion: Pearson, Spearman, Kendall and quadratic kappa between judge means and human means."""
    judged = averaged(scores)
    out = {}
    for criterion in [c for c in human.columns if c in CRITERIA]:
        pairs = judged.filter(pl.col("criterion") == criterion).join(
            human.select("explanation_id", pl.col(criterion).alias("human")), on="explanation_id"
        ).drop_nulls(["score", "human"])
        a, b = pairs["score"].to_numpy(), pairs["human"].to_numpy()
        results = [pearson(a, b), spearman(a, b), kendall(a, b),
                   weighted_kappa(np.rint(a).astype(int), np.rint(b).astype(int))]
        out[criterion] = {r.name: {"value": r.value, "n": r.n, "reason": r.reason, **r.extra} for r in results}
    return out


__all__ = ["CRITERIA", "MECHANISM_NOTE", "Judge", "JudgeConfig", "JudgeItem", "agreement", "averaged",
           "judge_explanations", "judge_requests", "load_human_ratings", "summary"]
