"""Metrics split by group: correct vs incorrect predictions, warm/cold/unseen segments, rating class.

Rec-SAVER (Table 11) reports text metrics separately for rows whose rating prediction was right and wrong —
reasoning that "sounds like" the teacher is worth little if it leads to the wrong answer. Functions here only
group rows; the metrics come from a callable, so the same breakdown serves label, rating and text metrics.
They expect a table prepared by `reasonrec.eval.evaluate.prepare_predictions` (columns `_row`, `_correct`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

MetricFn = Callable[[pl.DataFrame], dict[str, Any]]


def by_column(df: pl.DataFrame, column: str, metric_fn: MetricFn) -> dict[str, dict[str, Any]]:
    """metric_fn applied to each value of `column` (nulls grouped as "null"), in sorted group order."""
    if column not in df.columns:
        raise KeyError(f"breakdown column {column!r} not in predictions (columns: {df.columns})")
    keyed = df.with_columns(pl.col(column).cast(pl.String).fill_null("null").alias("_group"))
    out: dict[str, dict[str, Any]] = {}
    for group in sorted(keyed["_group"].unique().to_list()):
        out[group] = metric_fn(keyed.filter(pl.col("_group") == group).drop("_group"))
    return out


def by_correctness(df: pl.DataFrame, metric_fn: MetricFn) -> dict[str, dict[str, Any]]:
    """Groups "correct" / "incorrect" / "unparsed" (parse failures, or rows without a hard prediction)."""
    labelled = df.with_columns(
        pl.when(pl.col("_correct").is_null())
        .then(pl.lit("unparsed"))
        .when(pl.col("_correct"))
        .then(pl.lit("correct"))
        .otherwise(pl.lit("incorrect"))
        .alias("_correctness")
    )
    return by_column(labelled, "_correctness", metric_fn)


def by_segment(df: pl.DataFrame, metric_fn: MetricFn, column: str = "segment") -> dict[str, dict[str, Any]]:
    """Warm / cold / unseen (or any segment labels) from a segment column joined onto the predictions."""
    return by_column(df, column, metric_fn)


def by_rating_class(df: pl.DataFrame, metric_fn: MetricFn) -> dict[str, dict[str, Any]]:
    """One group per true rating value (rows without a rating grouped as "null")."""
    with_class = df.with_columns(pl.col("rating").round(0).cast(pl.Int64).alias("_rating_class"))
    return by_column(with_class, "_rating_class", metric_fn)
