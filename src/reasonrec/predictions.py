"""The one predictions schema that LLM methods and CF baselines both write, so one evaluator scores all.

One row per (user, item[, sample]) prediction. `label` is the binary ground truth (like = rating > r_T)
where known; `score` is P(like) (or any monotone score) used for AUC; `rating`/`pred_rating` serve
rating-prediction methods; `parse_ok=False` marks outputs whose text could not be parsed (counted, never
folded into a class).

`probs` is a JSON object string mapping each scored choice to its probability, exactly as the model was
asked: rating classes for rating methods (`{"1": p1, …, "5": p5}`, data-scale keys) or label choices for
P(like) methods (`{"Yes": p, "No": 1 - p}`). The evaluator uses `probs` for rating metrics (argmax class,
E[rating], macro one-vs-rest AUC) only when ALL its keys are numeric rating classes; label-choice keys are
ignored there because their probability is already `score`. So writers never need to drop or rename them.

`conform_predictions(df, source=...)` and `validate_predictions` are the one gate every predictions table passes
before it is scored: a value that does not fit is one error naming the file, the row (or line) and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.errors import DataError

PREDICTIONS_SCHEMA: dict[str, pl.DataType] = {
    "method": pl.String(),
    "dataset": pl.String(),
    "split": pl.String(),
    "user_id": pl.String(),
    "item_id": pl.String(),
    "label": pl.Int64(),
    "rating": pl.Float64(),
    "score": pl.Float64(),
    "pred_label": pl.Int64(),
    "pred_rating": pl.Float64(),
    "probs": pl.String(),
    "reasoning": pl.String(),
    "reference": pl.String(),
    "parse_ok": pl.Boolean(),
}


def empty_predictions() -> pl.DataFrame:
    return pl.DataFrame(schema=PREDICTIONS_SCHEMA)


BINARY_COLUMNS = ("label", "pred_label")
FINITE_COLUMNS = ("rating", "score", "pred_rating")
PROBS_TOLERANCE = 1e-3
"""How far a `probs` object may sum from 1 (they are renormalised over the choices; JSON rounding aside)."""


def _where(source: str | Path | None, lines: Sequence[int] | None, index: int) -> tuple[str, int]:
    """(path, 1-based line or row) of row `index`: the line when the reader knows it, else the row number."""
    return str(source) if source is not None else "<predictions>", (lines[index] if lines else index + 1)


def _fail(message: str, *, index: int, field: str, source: str | Path | None, lines: Sequence[int] | None):
    path, line = _where(source, lines, index)
    return DataError(message, path=path, line=line, field=field)


def _cast(df: pl.DataFrame, name: str, dtype: pl.DataType, source: str | Path | None,
          lines: Sequence[int] | None) -> pl.DataFrame:
    """Cast one column; the first value that does not fit `dtype` is an error naming its row."""
    src = df.schema[name]
    if src == dtype:
        return df
    if src.is_nested() and dtype == pl.String:  # e.g. probs given as a JSON object rather than its text
        text = [None if v is None else json.dumps(v) for v in df[name].to_list()]
        return df.with_columns(pl.Series(name, text, dtype=pl.String))
    if src.is_nested() or (src == pl.Boolean and name in FINITE_COLUMNS):
        first = int(df[name].is_not_null().arg_max() or 0)
        raise _fail(f"holds {src} values, not {dtype}", index=first, field=name, source=source, lines=lines)
    column = pl.col(name)
    casted = column.cast(dtype, strict=False)
    bad = column.is_not_null() & casted.is_null()
    if dtype.is_integer() and src.is_float():
        bad = bad | (column.is_not_null() & (column != column.floor()))
    rows = df.select(bad.fill_null(False).arg_true()).to_series()
    if rows.len():
        index = int(rows[0])
        raise _fail(f"{df[name][index]!r} is not a valid {dtype}", index=index, field=name, source=source,
                    lines=lines)
    return df.with_columns(casted)


def conform_predictions(
    df: pl.DataFrame, *, source: str | Path | None = None, lines: Sequence[int] | None = None
) -> pl.DataFrame:
    """Add missing columns as nulls (parse_ok defaults to True), cast, and order canonically.

    `source` and `lines` (1-based line of each row, for line-oriented files) only sharpen error messages.
    """
    out = df
    for name, dtype in PREDICTIONS_SCHEMA.items():
        if name not in out.columns:
            default = True if name == "parse_ok" else None
            out = out.with_columns(pl.lit(default, dtype=dtype).alias(name))
        else:
            out = _cast(out, name, dtype, source, lines)
    extras = [c for c in out.columns if c not in PREDICTIONS_SCHEMA]
    return out.select([*PREDICTIONS_SCHEMA.keys(), *extras])


def _reject_constant(constant: str) -> float:
    raise ValueError(f"{constant} is not valid JSON")


def loads_strict(text: str) -> Any:
    """`json.loads` that refuses NaN and Infinity: not JSON, and no metric may silently score them."""
    return json.loads(text, parse_constant=_reject_constant)


def probs_problem(raw: str) -> str | None:
    """Why a `probs` cell is not a probability distribution over choices, or None when it is one."""
    try:
        data = loads_strict(raw)
    except ValueError as exc:
        return f"not JSON ({exc}): {raw[:60]!r}"
    if not isinstance(data, dict) or not data:
        return f"must be a non-empty JSON object of choice -> probability: {raw[:60]!r}"
    values = list(data.values())
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return f"probabilities must be numbers: {raw[:60]!r}"
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        return f"probabilities must lie in [0, 1]: {raw[:60]!r}"
    if abs(sum(values) - 1.0) > PROBS_TOLERANCE:
        return f"probabilities sum to {sum(values):.6g}, not 1 (tolerance {PROBS_TOLERANCE:g}): {raw[:60]!r}"
    return None


def validate_predictions(
    df: pl.DataFrame, *, source: str | Path | None = None, lines: Sequence[int] | None = None
) -> None:
    """Refuse values no metric may silently score: labels outside {0, 1}, non-finite numbers, bad `probs`."""
    for name in BINARY_COLUMNS:
        rows = df.select((pl.col(name).is_not_null() & ~pl.col(name).is_in([0, 1])).arg_true()).to_series()
        if rows.len():
            index = int(rows[0])
            raise _fail(f"{df[name][index]} is not a label (0 or 1)", index=index, field=name, source=source,
                        lines=lines)
    for name in FINITE_COLUMNS:
        rows = df.select((pl.col(name).is_not_null() & ~pl.col(name).is_finite()).arg_true()).to_series()
        if rows.len():
            index = int(rows[0])
            raise _fail(f"{df[name][index]} is not a finite number", index=index, field=name, source=source,
                        lines=lines)
    for index, raw in enumerate(df["probs"].to_list()):
        problem = None if raw is None else probs_problem(raw)
        if problem is not None:
            raise _fail(problem, index=index, field="probs", source=source, lines=lines)
