"""What a report is made of: its config, one `Entry` per table row, extra `Section`s, and the `Report` itself.

Honesty rules the renderers follow: every number carries its n; AUC carries a seeded bootstrap CI; parse
failures sit next to the metrics; where rows repeat (the authors' release scores 283 distinct prompts 600 times)
"all rows" and "distinct" appear side by side; caveats from metrics.json land in a Notes section. Rows are sorted
by AUC; methods are ranked only by the paired comparison with the best baseline (`paired`), which says "cannot
rank" when its CI spans 0; the best value of every other column is bold — rendered on the server, no JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from reasonrec.config import Config
from reasonrec.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from reasonrec.eval.metrics import LIKE_CUTOFF
from reasonrec.eval.report.load import UNSPECIFIED_DATASET, k_from_name
from reasonrec.eval.text import TextMetricsConfig


class ReportConfig(Config):
    """How to build a report; defaults are fast (no text metrics) and match `reasonrec eval` numbers."""

    title: str = "reasonrec evaluation report"
    bootstrap: int = DEFAULT_RESAMPLES
    """AUC bootstrap resamples (0 = no CI)."""
    seed: int = DEFAULT_SEED
    confidence: float = 0.95
    threshold: float = 0.5
    like_cutoff: float = LIKE_CUTOFF
    dedupe: bool = True
    """Also report distinct prompts (or user-item pairs) wherever duplicates exist."""
    text: TextMetricsConfig | None = None
    """Text metrics of reasoning vs reference (opt-in: BERTScore is slow) and their correct/incorrect split."""
    calibration_bins: int = 10


@dataclass
class Entry:
    """One table row: a method on a dataset/split (at one K), its metrics and, for plots, its prepared rows."""

    method: str
    dataset: str
    split: str | None
    k: int | None
    source: str
    result: dict[str, Any]
    kind: Literal["run", "baseline", "reported"] = "run"
    authors: dict[str, Any] | None = None
    prepared: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """Display name; adds K unless the method name already says it."""
        if self.k is not None and k_from_name(self.method) != self.k:
            return f"{self.method} (K={self.k})"
        return self.method

    @property
    def auc(self) -> float | None:
        value = self.result.get("auc")
        return float(value) if isinstance(value, (int, float)) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
            "k": self.k,
            "kind": self.kind,
            "source": self.source,
            "authors": self.authors,
            "result": self.result,
        }


@dataclass(frozen=True)
class SectionFigure:
    """A PNG a section shows under its table (written beside the report, inlined in the HTML)."""

    filename: str
    caption: str
    png: bytes = field(repr=False)


@dataclass(frozen=True)
class Section:
    """A table whose rows are not methods (Recall/NDCG at several cut-offs, filter counts, …), rendered after the
    per-dataset tables in every format, from the same numbers metrics.json holds; optionally with figures."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""
    figures: Sequence[SectionFigure] = ()

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "header": list(self.header), "rows": [list(r) for r in self.rows],
                "note": self.note, "figures": [{"file": f.filename, "caption": f.caption} for f in self.figures]}


@dataclass
class Report:
    """Everything the renderers need: entries grouped by dataset, notes, sources and the config used."""

    config: ReportConfig
    entries: list[Entry]
    notes: list[str]
    sources: list[dict[str, str]]
    sections: list[Section] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def datasets(self) -> list[str]:
        return sorted({e.dataset for e in self.entries}, key=lambda d: (d == UNSPECIFIED_DATASET, d))

    def table(self, dataset: str) -> list[Entry]:
        """Entries of one dataset sorted by AUC, best first (undefined last), then method name and K."""
        rows = [e for e in self.entries if e.dataset == dataset]
        return sorted(rows, key=lambda e: (e.auc is None, -(e.auc or 0.0), e.method, e.k or 0, e.split or ""))

    def to_json(self) -> dict[str, Any]:
        return json_safe(
            {
                "title": self.config.title,
                "config": self.config.model_dump(mode="json"),
                "sources": self.sources,
                "datasets": {d: [e.to_json() for e in self.table(d)] for d in self.datasets()},
                "sections": [s.to_json() for s in self.sections],
                "notes": self.notes,
                "elapsed_seconds": self.elapsed_seconds,
            }
        )


def json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return json_safe(float(value))
    return value


__all__ = ["Entry", "Report", "ReportConfig", "Section", "SectionFigure", "json_safe"]
