"""The table model shared by the Markdown and HTML renderers: columns, formatted cells, best values, layout."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reasonrec.eval.report.model import Entry
from reasonrec.eval.text import TEXT_METRICS


@dataclass(frozen=True)
class Column:
    """A table column: where its value lives in an entry, and which direction is better (None = not ranked).
    AUC columns are not ranked by their values: the paired section (`eval.report.paired`) ranks methods, or says
    it cannot."""

    key: str
    title: str
    part: Literal["all", "distinct", "authors"] = "all"
    better: Literal["high", "low"] | None = "high"


_METRIC_COLUMNS: tuple[Column, ...] = (
    Column("auc", "AUC [95% CI]", better=None),
    Column("accuracy", "Accuracy"),
    Column("f1", "F1"),
    Column("log_loss", "Log-loss", better="low"),
    Column("rating_accuracy", "Rating acc."),
    Column("macro_auc_ovr", "Macro AUC (OvR)"),
    Column("mae", "MAE", better="low"),
    Column("rmse", "RMSE", better="low"),
    *(
        Column(
            name, {"bleu": "BLEU", "rouge1": "ROUGE-1", "meteor": "METEOR", "bertscore": "BERTScore"}[name]
        )
        for name in TEXT_METRICS
    ),
)


_DISTINCT_COLUMNS: tuple[Column, ...] = (
    Column("auc", "AUC distinct [95% CI]", part="distinct", better=None),
    Column("accuracy", "Accuracy distinct", part="distinct"),
)


_AUTHOR_COLUMNS: tuple[Column, ...] = (
    Column("auc", "Authors' AUC", part="authors", better=None),
    Column("bertscore", "Authors' BERTScore", part="authors"),
)


@dataclass(frozen=True)
class Cell:
    """A formatted number: value, its n and, for AUC, the interval."""

    value: float | None
    n: int | None
    ci: tuple[float, float] | None = None
    reason: str | None = None

    def text(self, digits: int = 3) -> str:
        return "—" if self.value is None else f"{self.value:.{digits}f}"


def _part(entry: Entry, column: Column) -> dict[str, Any] | None:
    if column.part == "all":
        return entry.result
    if column.part == "distinct":
        return entry.result.get("distinct")
    return entry.authors


def cell_for(entry: Entry, column: Column) -> Cell:
    part = _part(entry, column)
    if not part:
        return Cell(None, None)
    value = part.get(column.key)
    value = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    detail = (part.get("metrics") or {}).get(column.key) or {}
    n = detail.get("n", part.get("n"))
    ci = None
    if column.key == "auc" and isinstance(part.get("auc_ci"), list) and len(part["auc_ci"]) == 2:
        low, high = part["auc_ci"]
        ci = (float(low), float(high)) if low is not None and high is not None else None
    return Cell(value, int(n) if isinstance(n, (int, float)) else None, ci, detail.get("reason"))


def columns_for(entries: Sequence[Entry]) -> list[Column]:
    """Only columns that at least one entry fills."""
    candidates = [*_METRIC_COLUMNS, *_DISTINCT_COLUMNS, *_AUTHOR_COLUMNS]
    return [c for c in candidates if any(cell_for(e, c).value is not None for e in entries)]


def best_values(entries: Sequence[Entry], columns: Sequence[Column], digits: int = 3) -> dict[Column, float]:
    """Best displayed (rounded) value per ranked column, so ties at display precision are all bold."""
    out: dict[Column, float] = {}
    for column in columns:
        if column.better is None:
            continue
        values = [round(v, digits) for e in entries if (v := cell_for(e, column).value) is not None]
        if len(values) >= 2:
            out[column] = max(values) if column.better == "high" else min(values)
    return out


def parse_text(result: dict[str, Any]) -> str:
    failures = result.get("parse_failures")
    n = result.get("n")
    if failures is None or not n:
        return "—"
    return f"{failures}/{n} ({failures / n:.1%})"


def row_identity(entry: Entry, show_k: bool, show_split: bool) -> list[str]:
    suffix = {"baseline": " (baseline)", "reported": " (reported only)"}.get(entry.kind, "")
    cells = [entry.method + suffix]
    if show_k:
        cells.append("—" if entry.k is None else str(entry.k))
    if show_split:
        cells.append(entry.split or "—")
    return cells


def identity_titles(show_k: bool, show_split: bool) -> list[str]:
    return ["Method", *(["K"] if show_k else []), *(["Split"] if show_split else [])]


def table_layout(entries: Sequence[Entry]) -> tuple[bool, bool, list[Column]]:
    show_k = any(e.k is not None for e in entries)
    show_split = any(e.split for e in entries)
    return show_k, show_split, columns_for(entries)


__all__ = [
    "Cell", "Column", "best_values", "cell_for", "columns_for", "identity_titles", "parse_text", "row_identity",
    "table_layout",
]
