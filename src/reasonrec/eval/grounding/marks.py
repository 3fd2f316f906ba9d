"""Grounding marks on a predictions table: the checker's verdict per sentence, stored beside the raw text.

`mark_predictions` adds one struct column, `grounding`, to every row that carries reasoning (None elsewhere):
the per-explanation counts and metrics of `metrics.explanation_row` plus `sentences`, a list of
{text, mark, flagged} in order, where `flagged` is true for unsupported and contradicted claims. The
`reasoning` text itself is never changed: readers (the report's sample table, a UI) decide how to show flags.
Summaries can be recomputed from the column alone (`summarise_marks`), so a report needs no dataset to show
grounding metrics for a predictions file that was marked when it was written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from reasonrec.data.schema import Dataset
from reasonrec.eval.grounding.checker import ExplanationResult, GroundingChecker
from reasonrec.eval.grounding.metrics import COUNT_KEYS, explanation_row, summarise_rows
from reasonrec.eval.grounding.rules import CONTRADICTED, UNSUPPORTED
from reasonrec.eval.grounding.sources import prediction_records

COLUMN = "grounding"
RATES = ("supported_precision", "fact_precision", "contradiction_rate", "coverage", "hallucinated_item_rate",
         "label_consistency")
SENTENCE = pl.Struct({"text": pl.String(), "mark": pl.String(), "flagged": pl.Boolean()})
GROUNDING_DTYPE = pl.Struct({**{c: pl.Int64() for c in COUNT_KEYS}, **{r: pl.Float64() for r in RATES},
                             "sentences": pl.List(SENTENCE)})


def marks(result: ExplanationResult) -> dict[str, Any]:
    """One `grounding` cell: counts, rates and the per-sentence marks of one checked explanation."""
    row = explanation_row(result)
    return {**{c: row[c] for c in COUNT_KEYS}, **{r: row[r] for r in RATES},
            "sentences": [{"text": c.text, "mark": c.label, "flagged": c.label in (UNSUPPORTED, CONTRADICTED)}
                          for c in result.claims]}


def _row_id(row: Mapping[str, Any], split: str | None) -> str:
    part = split or row.get("split") or "test"
    return f"{row.get('method') or 'predictions'}:{part}:{row['user_id']}:{row['item_id']}"


def mark_predictions(predictions: pl.DataFrame, dataset: Dataset, checker: GroundingChecker, *,
                     split: str | None = None) -> pl.DataFrame:
    """`predictions` with the `grounding` column (replaced if present); rows are matched to their target rows
    in `dataset` the way `eval grounding` matches them."""
    if "reasoning" not in predictions.columns:
        return predictions.with_columns(pl.lit(None, dtype=GROUNDING_DTYPE).alias(COLUMN))
    results = checker.check_records(prediction_records(predictions, dataset, split=split))
    by_id = {r.explanation_id: marks(r) for r in results}
    keys = predictions.select(
        pl.col("method") if "method" in predictions.columns else pl.lit(None, dtype=pl.String).alias("method"),
        pl.col("split") if "split" in predictions.columns else pl.lit(None, dtype=pl.String).alias("split"),
        "user_id", "item_id", "reasoning")
    cells = [by_id.get(_row_id(row, split)) if (row["reasoning"] or "").strip() else None
             for row in keys.iter_rows(named=True)]
    return predictions.with_columns(pl.Series(COLUMN, cells, dtype=GROUNDING_DTYPE))


def summarise_marks(predictions: pl.DataFrame, method_column: str = "method") -> dict[str, dict[str, Any]]:
    """Per method, from the `grounding` column alone: the numbers `metrics.summarise` gives for the same rows."""
    if COLUMN not in predictions.columns:
        return {}
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for method, cell in predictions.select(method_column, COLUMN).iter_rows():
        if cell is not None:
            by_method[str(method)].append(cell)
    return summarise_rows(by_method)


def marked_text(cell: Mapping[str, Any] | None, fallback: str = "", flag: str = "⚑") -> str:
    """The explanation with each flagged sentence shown as `⚑[mark] sentence` (display only)."""
    if cell is None:
        return fallback
    parts: Sequence[Mapping[str, Any]] = cell.get("sentences") or []
    return " ".join(f"{flag}[{s['mark']}] {s['text']}" if s["flagged"] else s["text"] for s in parts) or fallback


__all__ = ["COLUMN", "GROUNDING_DTYPE", "mark_predictions", "marked_text", "marks", "summarise_marks"]
