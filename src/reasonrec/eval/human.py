"""Human alignment of explanations, as in Rec-SAVER's human study: do people agree with each other, do automatic
metrics track what people say, and do people rate explanations of correct predictions higher?

Input: annotation rows (annotator, user_id, item_id, method, persuasiveness, transparency, accuracy,
satisfaction — 1–5 each; the explorer's SQLite store or a CSV/JSONL/Parquet export), optionally joined with the
predictions the explanations came from (label, pred_label, reasoning, reference, and any `grounding*` / `judge*`
score columns). Computed, each with n and p-values (`eval.agreement`):

- between annotators: quadratic-weighted Cohen's κ per dimension and annotator pair, on the explanations both
  rated;
- human vs automatic: Pearson, Spearman and Kendall between each dimension's mean human score per explanation and
  every automatic metric (BLEU / ROUGE-1 / METEOR / BERTScore of the explanation against its reference, and the
  grounding and judge columns present);
- correct vs incorrect: a two-sample t-test of each dimension between explanations whose prediction was right
  and wrong.
Undefined statistics (constant inputs, too few pairs) are reported with their reason, never as numbers.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import DataError
from reasonrec.eval.agreement import kendall, pearson, spearman, t_test, weighted_kappa
from reasonrec.eval.metrics import MetricResult
from reasonrec.eval.text import TextMetricsConfig, score_texts

DIMENSIONS: tuple[str, ...] = ("persuasiveness", "transparency", "accuracy", "satisfaction")
KEY = ("user_id", "item_id", "method")
AUTOMATIC_PREFIXES = ("grounding", "judge")


class HumanAlignmentConfig(Config):
    """Which automatic metrics to set against the human scores."""

    text: TextMetricsConfig = Field(default_factory=TextMetricsConfig,
                                    description="text metrics of the explanation against its reference")
    metrics: list[str] = Field(default_factory=list, description="more numeric prediction columns to compare")


def check_annotations(table: pl.DataFrame) -> pl.DataFrame:
    """Keys as strings, dimensions as integers 1–5; a DataError naming the first bad column or row."""
    for column in ("annotator", *KEY, *DIMENSIONS):
        if column not in table.columns:
            raise DataError(f"annotations have no {column!r} column (columns: {table.columns})", field=column)
    out = table.with_columns(*[pl.col(c).cast(pl.String) for c in ("annotator", *KEY)])
    for dim in DIMENSIONS:
        values = out[dim].cast(pl.Float64, strict=False)
        bad = out.with_row_index("row", offset=1).filter(
            values.is_null() | (values != values.round()) | (values < 1) | (values > 5))
        if bad.height:
            raise DataError(f"annotation row {bad['row'][0]}: {dim} must be an integer from 1 to 5, got "
                            f"{bad[dim][0]!r}", field=dim)
        out = out.with_columns(values.cast(pl.Int64).alias(dim))
    return out


def annotator_agreement(annotations: pl.DataFrame) -> dict[str, Any]:
    """Quadratic κ per dimension for every annotator pair on the explanations both rated, and their mean."""
    ann = check_annotations(annotations)
    annotators = sorted(ann["annotator"].unique().to_list())
    out: dict[str, Any] = {"annotators": annotators, "pairs": {}, "mean_kappa": {}}
    for a, b in combinations(annotators, 2):
        left = ann.filter(pl.col("annotator") == a)
        right = ann.filter(pl.col("annotator") == b)
        both = left.join(right, on=list(KEY), suffix="_b")
        out["pairs"][f"{a}|{b}"] = {dim: MetricResult.to_dict(weighted_kappa(both[dim], both[f"{dim}_b"], "quadratic"))
                                    for dim in DIMENSIONS}
    for dim in DIMENSIONS:
        values = [p[dim]["value"] for p in out["pairs"].values() if p[dim]["value"] is not None]
        out["mean_kappa"][dim] = float(np.mean(values)) if values else None
    return out


def explanation_scores(annotations: pl.DataFrame) -> pl.DataFrame:
    """One row per explanation: the mean of each dimension over its annotators, their count, and its text."""
    ann = check_annotations(annotations)
    text = [pl.col("explanation").drop_nulls().first().alias("explanation")] if "explanation" in ann.columns else []
    return ann.group_by(list(KEY), maintain_order=True).agg(
        *[pl.col(d).mean() for d in DIMENSIONS], pl.col("annotator").n_unique().alias("annotators"), *text)


def join_predictions(scores: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """Scores joined with their predictions on (user, item, method), or on (user, item) when the predictions
    hold a single method whose name differs from the annotation's (e.g. 'llm' vs 'reasoningrec-student')."""
    preds = predictions.with_columns(pl.col(c).cast(pl.String) for c in KEY if c in predictions.columns)
    methods = set(preds["method"].unique().to_list()) if "method" in preds.columns else set()
    shared = methods & set(scores["method"].unique().to_list())
    if shared:
        keys = list(KEY)
    elif len(methods) <= 1:
        keys = ["user_id", "item_id"]
        preds = preds.drop("method", strict=False)
    else:
        raise DataError(f"the predictions hold methods {sorted(methods)} and the annotations "
                        f"{sorted(scores['method'].unique().to_list())}: no method in common", field="method")
    preds = preds.unique(keys, keep="first", maintain_order=True)
    joined = scores.join(preds, on=keys, how="left", suffix="_prediction")
    return joined


def automatic_metrics(joined: pl.DataFrame, config: HumanAlignmentConfig) -> pl.DataFrame:
    """Add text metrics of each explanation against its reference (where both exist)."""
    text_col = "explanation" if "explanation" in joined.columns else "reasoning"
    if text_col not in joined.columns or "reference" not in joined.columns:
        return joined
    hyp = joined[text_col].to_list()
    if text_col == "explanation" and "reasoning" in joined.columns:
        hyp = [h if h else r for h, r in zip(hyp, joined["reasoning"].to_list(), strict=True)]
    rows = [i for i, (h, r) in enumerate(zip(hyp, joined["reference"].to_list(), strict=True)) if h and r]
    if not rows:
        return joined
    scores = score_texts([hyp[i] for i in rows], [joined["reference"][i] for i in rows], config.text)
    full = scores.expand(np.array(rows), joined.height)
    return joined.with_columns(pl.Series(f"text_{name}", values) for name, values in full.best.items())


def metric_columns(table: pl.DataFrame, config: HumanAlignmentConfig) -> list[str]:
    numeric = [c for c, t in table.schema.items() if t.is_numeric()]
    auto = [c for c in numeric if c.startswith(("text_", *AUTOMATIC_PREFIXES))]
    missing = [c for c in config.metrics if c not in numeric]
    if missing:
        raise DataError(f"metric column(s) {missing} are not numeric columns of the predictions "
                        f"(numeric: {numeric})", field="metrics")
    return list(dict.fromkeys([*auto, *config.metrics]))


def metric_alignment(table: pl.DataFrame, metrics: list[str]) -> dict[str, Any]:
    """Pearson, Spearman and Kendall of each dimension's mean human score against each automatic metric."""
    out: dict[str, Any] = {}
    for metric in metrics:
        out[metric] = {}
        for dim in DIMENSIONS:
            pair = table.select(pl.col(dim).cast(pl.Float64), pl.col(metric).cast(pl.Float64)).drop_nulls()
            pair = pair.filter(pl.col(metric).is_not_nan())
            x, y = pair[dim].to_numpy(), pair[metric].to_numpy()
            out[metric][dim] = {"pearson": MetricResult.to_dict(pearson(x, y)), "spearman": MetricResult.to_dict(spearman(x, y)),
                                "kendall": MetricResult.to_dict(kendall(x, y))}
    return out


def correctness_test(table: pl.DataFrame) -> dict[str, Any] | None:
    """t-test of each dimension between explanations of correct and incorrect predictions (label known)."""
    if "label" not in table.columns or "pred_label" not in table.columns:
        return None
    known = table.filter(pl.col("label").is_not_null() & pl.col("pred_label").is_not_null())
    correct = known.filter(pl.col("label") == pl.col("pred_label"))
    wrong = known.filter(pl.col("label") != pl.col("pred_label"))
    out: dict[str, Any] = {"correct": correct.height, "incorrect": wrong.height}
    for dim in DIMENSIONS:
        result = MetricResult.to_dict(t_test(correct[dim].to_numpy(), wrong[dim].to_numpy()))
        result["mean_correct"] = float(correct[dim].mean()) if correct.height else None
        result["mean_incorrect"] = float(wrong[dim].mean()) if wrong.height else None
        out[dim] = result
    return out


def human_alignment(annotations: pl.DataFrame, predictions: pl.DataFrame | None = None,
                    config: HumanAlignmentConfig | None = None) -> dict[str, Any]:
    """The whole study (module docstring) as one JSON-ready dict."""
    cfg = config or HumanAlignmentConfig()
    scores = explanation_scores(annotations)
    table = scores if predictions is None else automatic_metrics(join_predictions(scores, predictions), cfg)
    metrics = metric_columns(table, cfg) if predictions is not None else []
    return {
        "annotations": annotations.height,
        "explanations": scores.height,
        "methods": sorted(scores["method"].unique().to_list()),
        "mean_scores": {dim: float(scores[dim].mean()) for dim in DIMENSIONS} if scores.height else {},
        "between_annotators": annotator_agreement(annotations),
        "human_vs_metrics": metric_alignment(table, metrics),
        "correct_vs_incorrect": correctness_test(table),
        "metrics": metrics,
    }


__all__ = ["DIMENSIONS", "HumanAlignmentConfig", "annotator_agreement", "automatic_metrics", "check_annotations",
           "correctness_test", "explanation_scores", "human_alignment", "join_predictions", "metric_alignment"]
