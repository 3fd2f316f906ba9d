"""Report sections that show explanations: grounding metrics beside AUC, samples with their marks, and a plot.

Built from a predictions table that carries `reasoning` and the `grounding` marks column
(`eval.grounding.marks.mark_predictions`), so the numbers are the ones stored with the predictions; the reader
needs no dataset. Flags are shown, never applied: a flagged sentence appears as `⚑[unsupported] …` in the sample
table, and the raw text stays in predictions.parquet.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import polars as pl

from reasonrec.eval import plots
from reasonrec.eval.grounding.marks import COLUMN, marked_text, summarise_marks
from reasonrec.eval.report.model import Section, SectionFigure

SAMPLES_PER_METHOD = 3
MAX_EXPLANATION_CHARS = 600
METRIC_HEADER = ("method", "AUC", "RMSE", "explanations", "claims", "coverage", "supported precision",
                 "fact precision", "contradiction rate", "hallucinated-item rate", "label consistency")


def _evidence_titles(cell: str | None) -> str:
    """The similar items an evidence-grounded prompt showed, as 'title (rating)'; '—' for free explanations."""
    if not cell:
        return "—"
    shown = json.loads(cell).get("similar") or []
    return "; ".join(f"{html.unescape(e['title'])} ({_feedback(e)})" for e in shown) or "—"  # "&amp;" in titles


def _feedback(entry: Mapping[str, Any]) -> str:
    if entry.get("rating") is not None:
        return f"rated {entry['rating']:g}"
    return "liked" if entry.get("liked") else "not liked"


def _prediction(row: Mapping[str, Any]) -> str:
    label = row.get("pred_label")
    score = row.get("score")
    verdict = "—" if label is None else "like" if label else "not like"
    return verdict if score is None else f"{verdict} (P={score:.2f})"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_EXPLANATION_CHARS else text[:MAX_EXPLANATION_CHARS].rstrip() + " …"


def sample_rows(predictions: pl.DataFrame, per_method: int = SAMPLES_PER_METHOD) -> list[list[Any]]:
    """The first `per_method` explained rows of each method (table order, never chosen by outcome)."""
    explained = predictions.filter(pl.col(COLUMN).is_not_null())
    rows = []
    for (method,), part in explained.group_by("method", maintain_order=True):
        for row in part.head(per_method).iter_rows(named=True):
            cell = row[COLUMN]
            supported = f"{cell['supported']}/{cell['checkable']} supported, {cell['claims']} claims"
            rows.append([method, row["user_id"], row["item_id"], _prediction(row),
                         _cut(marked_text(cell, row.get("reasoning") or "")),
                         _evidence_titles(row.get("evidence")), supported])
    return rows


def explanation_sections(predictions: pl.DataFrame, headline: Mapping[str, Mapping[str, Any]], *,
                         title: str = "", per_method: int = SAMPLES_PER_METHOD) -> list[Section]:
    """Grounding metrics per method beside `headline[method]` (auc, rmse), the sample table and the
    precision-vs-AUC plot; [] when no row carries grounding marks."""
    if COLUMN not in predictions.columns or predictions[COLUMN].is_null().all():
        return []
    summary = summarise_marks(predictions)
    metric_rows = []
    points = []
    for method, s in summary.items():
        head = headline.get(method) or {}
        metric_rows.append([method, head.get("auc"), head.get("rmse"), s["explanations"], s["claims"], s["coverage"],
                            s["supported_precision"], s["fact_precision"], s["contradiction_rate"],
                            s["hallucinated_item_rate"], s["label_consistency"]])
        if head.get("auc") is not None and s["supported_precision"] is not None:
            points.append((method, float(head["auc"]), float(s["supported_precision"]), s["explanations"]))
    suffix = f" — {title}" if title else ""
    figures = ([SectionFigure("grounding_vs_auc.png", f"Supported-claim precision vs AUC{suffix}",
                              plots.grounding_vs_auc_png(points, f"Grounding vs AUC{suffix}"))]
               if points else [])
    metrics = Section(
        f"Explanation grounding{suffix}", METRIC_HEADER, metric_rows,
        note=("Claims checked against the rows each prompt was built from (eval.grounding): precision = "
              "supported / checkable claims; fact precision = the same over claims stating a fact besides the "
              "verdict; coverage = checkable / all claims; hallucinated items = named items "
              "in neither the history nor the catalogue; label consistency = the explanation's verdict matches "
              "the predicted label. AUC/RMSE are on all scored rows, grounding on the explained ones."),
        figures=figures)
    samples = Section(
        f"Explanations, with grounding marks{suffix}",
        ("method", "user", "item", "prediction", "explanation (⚑ = flagged sentence)", "evidence shown", "marks"),
        sample_rows(predictions, per_method),
        note=(f"The first {per_method} explained rows per method. Raw text is kept as generated; ⚑[unsupported] "
              "and ⚑[contradicted] mark sentences the checker could not support."))
    return [metrics, samples]


__all__ = ["explanation_sections", "sample_rows"]
