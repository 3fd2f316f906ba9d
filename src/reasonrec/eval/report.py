"""Comparison reports across runs: one Markdown table per dataset, a self-contained HTML page, JSON and PNG plots.

A *run* is a directory holding `predictions.parquet` (canonical schema, possibly several methods / datasets /
splits) and/or `metrics.json` (already computed metrics, optional `baselines`, `authors` and `notes`), the
authors' ReasoningRec release directory (`test_outputs.json` + `results.json`), or a predictions file. Every
(method, dataset, split, K) group becomes one table row.

Honesty rules the renderers follow: every number carries its n; AUC carries a seeded bootstrap CI; parse
failures sit next to the metrics; where rows repeat (the authors' release scores 283 distinct prompts 600 times)
"all rows" and "distinct" appear side by side; caveats from metrics.json land in a Notes section. Rows are sorted
by AUC (best first) and the best value of each column is bold — rendered on the server, no JavaScript.

`metrics.json` shapes accepted (all keys optional):
    {"method", "dataset", "split", "k",          identity of a single-entry file (defaults: directory name)
     "result" | "metrics" | <flat result keys>,  an `evaluate_predictions` result ("auc", "n", "metrics", ...)
     "runs": [ {identity..., result...}, ... ],  several entries
     "baselines": {name: result} | [ {"method": name, ...result} ],
     "authors": {"auc": .., "bertscore": ..} | [ {"method"?, "dataset"?, "k"?, "auc", ...} ],
     "notes": ["BERTScore model: MiniLM, not DeBERTa as in the paper", ...]}
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from reasonrec.config import Config
from reasonrec.data.loaders.reasoningrec.artefacts import read_authors_results
from reasonrec.errors import DataError
from reasonrec.eval import plots
from reasonrec.eval.bootstrap import DEFAULT_RESAMPLES, bootstrap_ci
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions, prepare_predictions
from reasonrec.eval.metrics import LIKE_CUTOFF
from reasonrec.eval.readers import READERS, read_predictions
from reasonrec.eval.text import TEXT_METRICS, TextMetricsConfig
from reasonrec.io import write_bytes, write_json, write_text

INPUT_FORMATS: tuple[str, ...] = ("auto", *sorted(READERS))
UNSPECIFIED_DATASET = "(unspecified)"
_K_IN_NAME = re.compile(r"(?:^|[^a-z0-9])(?:sample|k|shot)[-_=]?(\d+)", re.IGNORECASE)


class ReportConfig(Config):
    """How to build a report; defaults are fast (no text metrics) and match `reasonrec eval` numbers."""

    title: str = "reasonrec evaluation report"
    bootstrap: int = DEFAULT_RESAMPLES
    """AUC bootstrap resamples (0 = no CI)."""
    seed: int = 0
    confidence: float = 0.95
    threshold: float = 0.5
    like_cutoff: float = LIKE_CUTOFF
    dedupe: bool = True
    """Also report distinct prompts (or user-item pairs) wherever duplicates exist."""
    text: TextMetricsConfig | None = None
    """Text metrics of reasoning vs reference (opt-in: BERTScore is slow) and their correct/incorrect split."""
    calibration_bins: int = 10


# ------------------------------------------------------------------------------------------- loading


@dataclass
class RunData:
    """One input as read from disk: predictions and/or precomputed metrics, with authors' figures and notes."""

    source: Path
    name: str
    predictions: pl.DataFrame | None = None
    metrics_file: dict[str, Any] | None = None
    authors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _k_from_name(name: str) -> int | None:
    match = _K_IN_NAME.search(name)
    return int(match.group(1)) if match else None


def _authors_from_release(results_path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of the authors' results.json (parsed by the release loader): {auc, bertscore, k, seed, source}."""
    table = read_authors_results(results_path)
    found = [
        {"auc": row["auc"], **({"bertscore": row["bertscore"]} if row["bertscore"] is not None else {}),
         "k": row["k"], "seed": row["seed"], "source": str(results_path)}
        for row in table.iter_rows(named=True)
    ]
    return found, (table["dataset"][0] if table.height else None)


def _read_release(path: Path) -> RunData:
    file = path / "test_outputs.json" if path.is_dir() else path
    folder = file.parent
    df = read_predictions(file, "reasoningrec-release")
    authors: list[dict[str, Any]] = []
    dataset: str | None = None
    results = folder / "results.json"
    if results.is_file():
        authors, dataset = _authors_from_release(results)
        # Their AUC is reproduced exactly on every row of this file, so that is the figures' n.
        authors = [{"n": df.height, **record} for record in authors]
    k = next((a["k"] for a in authors if "k" in a), None) or _k_from_name(folder.name)
    df = df.with_columns(
        pl.col("dataset").fill_null(dataset or UNSPECIFIED_DATASET),
        pl.lit(k, dtype=pl.Int64).alias("k"),
    )
    notes = [f"{folder.name}: authors' figures read from {results}"] if authors else []
    return RunData(source=path, name=folder.name, predictions=df, authors=authors, notes=notes)


def _detect_format(path: Path) -> str:
    if path.name == "test_outputs.json":
        return "reasoningrec-release"
    return "predictions"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise DataError(f"expected a JSON object, got {type(data).__name__}", path=path)
    return data


def load_run(path: str | Path, fmt: str = "auto") -> RunData:
    """Read one run directory or predictions file (`fmt`: auto | predictions | reasoningrec-release)."""
    path = Path(path)
    if fmt not in INPUT_FORMATS:
        raise DataError(f"unknown input format {fmt!r}; choose from {list(INPUT_FORMATS)}", path=path)
    if not path.exists():
        raise DataError("report input not found", path=path)
    if path.is_file():
        kind = _detect_format(path) if fmt == "auto" else fmt
        if kind == "reasoningrec-release":
            return _read_release(path)
        return RunData(source=path, name=path.stem, predictions=read_predictions(path, kind))
    # A directory.
    if fmt == "reasoningrec-release" or (
        fmt == "auto"
        and (path / "test_outputs.json").is_file()
        and not (path / "predictions.parquet").is_file()
    ):
        run = _read_release(path)
    else:
        run = RunData(source=path, name=path.name)
        parquet = path / "predictions.parquet"
        if parquet.is_file():
            run.predictions = read_predictions(parquet, "predictions")
    metrics_path = path / "metrics.json"
    if metrics_path.is_file():
        run.metrics_file = _read_json(metrics_path)
        run.authors.extend(_authors_from_metrics(run.metrics_file, metrics_path))
        raw_notes = run.metrics_file.get("notes") or []
        run.notes.extend([raw_notes] if isinstance(raw_notes, str) else [str(n) for n in raw_notes])
    if run.predictions is None and run.metrics_file is None:
        raise DataError(
            "run directory has no predictions.parquet, metrics.json or test_outputs.json", path=path
        )
    return run


def _authors_from_metrics(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    raw = data.get("authors")
    if raw is None:
        return []
    records = raw if isinstance(raw, list) else [raw]
    out = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"authors[{i}] must be an object", path=path, field="authors")
        out.append({**record, "source": str(path)})
    return out


# ------------------------------------------------------------------------------------------- entries


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
        if self.k is not None and _k_from_name(self.method) != self.k:
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


def _attach_ci(result: dict[str, Any], prepared: pl.DataFrame, cfg: ReportConfig) -> None:
    if cfg.bootstrap <= 0:
        return
    scored = prepared.filter(pl.col("_truth").is_not_null() & pl.col("_score").is_not_null())
    ci = bootstrap_ci(
        scored["_truth"].to_numpy(),
        scored["_score"].to_numpy(),
        n_resamples=cfg.bootstrap,
        seed=cfg.seed,
        confidence=cfg.confidence,
    )
    result["auc_ci"] = None if ci.value is None else [ci.extra["low"], ci.extra["high"]]
    detail = ci.to_dict()
    detail["parse_failures"] = result.get("parse_failures", 0)
    result.setdefault("metrics", {})["auc_ci"] = detail


def _can_dedupe(df: pl.DataFrame) -> bool:
    if "input" in df.columns and df["input"].is_not_null().all():
        return True
    return bool(df["user_id"].is_not_null().all() and df["item_id"].is_not_null().all())


def evaluate_group(df: pl.DataFrame, cfg: ReportConfig) -> tuple[dict[str, Any], pl.DataFrame]:
    """Metrics of one (method, dataset, split, K) group, plus its prepared table for the plots."""
    eval_cfg = EvalConfig(
        threshold=cfg.threshold,
        like_cutoff=cfg.like_cutoff,
        bootstrap=0,  # the CI is added below at the report's own confidence level
        seed=cfg.seed,
        dedupe=cfg.dedupe and _can_dedupe(df),
        text=cfg.text,
        breakdowns=["correctness"] if cfg.text and cfg.text.metrics else [],
    )
    result = evaluate_predictions(df, eval_cfg)
    prepared = prepare_predictions(df, eval_cfg)
    _attach_ci(result, prepared, cfg)
    if "distinct" in result:
        if result.get("duplicate_rows", 0) == 0:
            del result["distinct"]
        else:
            distinct = prepared.unique(subset=result["dedupe_key"], keep="first", maintain_order=True)
            _attach_ci(result["distinct"], distinct, cfg)
    return result, prepared


def _identity_columns(df: pl.DataFrame) -> list[str]:
    return ["method", "dataset", "split", *(["k"] if "k" in df.columns else [])]


def entries_from_predictions(run: RunData, cfg: ReportConfig) -> list[Entry]:
    """One entry per (method, dataset, split[, k]) group of the run's predictions."""
    df = run.predictions
    if df is None or df.height == 0:
        return []
    if "k" in df.columns:
        df = df.with_columns(pl.col("k").cast(pl.Int64, strict=False))
    df = df.with_columns(
        pl.col("method").fill_null(run.name),
        pl.col("dataset").fill_null(UNSPECIFIED_DATASET),
    )
    keys = _identity_columns(df)
    entries: list[Entry] = []
    groups = df.select(keys).unique(maintain_order=True).sort(keys, nulls_last=True).iter_rows(named=True)
    for ident in groups:
        condition = pl.lit(True)
        for key in keys:
            value = ident[key]
            condition = condition & (pl.col(key).is_null() if value is None else pl.col(key) == value)
        part = df.filter(condition)
        result, prepared = evaluate_group(part, cfg)
        k = ident.get("k")
        entries.append(
            Entry(
                method=ident["method"],
                dataset=ident["dataset"],
                split=ident["split"],
                k=int(k) if k is not None else None,
                source=str(run.source),
                result=result,
                prepared=prepared,
            )
        )
    return entries


def _result_of(record: dict[str, Any]) -> dict[str, Any]:
    """The metrics part of a metrics.json record (see module docstring)."""
    if isinstance(record.get("result"), dict):
        return record["result"]
    metrics = record.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("auc"), (int, float)):
        return metrics  # a flat {"auc": .., "accuracy": ..} under "metrics"
    return {
        k: v
        for k, v in record.items()
        if k not in {"method", "dataset", "split", "k", "runs", "baselines", "authors", "notes"}
    }


def _has_numbers(result: dict[str, Any]) -> bool:
    return any(isinstance(result.get(k), (int, float)) for k in ("auc", "accuracy", "mae", "rmse", "n"))


def entries_from_metrics_file(run: RunData) -> list[Entry]:
    """Entries stored in metrics.json (single result, `runs` list, `baselines`)."""
    data = run.metrics_file
    if not data:
        return []
    default = {
        "method": data.get("method", run.name),
        "dataset": data.get("dataset", UNSPECIFIED_DATASET),
        "split": data.get("split"),
        "k": data.get("k"),
    }
    records: list[tuple[dict[str, Any], Literal["run", "baseline"]]] = []
    top = _result_of(data)
    if _has_numbers(top):
        records.append((data, "run"))
    for record in data.get("runs") or []:
        records.append((record, "run"))
    baselines = data.get("baselines") or {}
    if isinstance(baselines, dict):
        for name, value in baselines.items():
            if not isinstance(value, dict):
                raise DataError(
                    f"baselines.{name} must be an object of metrics",
                    path=run.source / "metrics.json",
                    field=f"baselines.{name}",
                )
            records.append(({"method": name, **value}, "baseline"))
    else:
        records.extend((record, "baseline") for record in baselines)
    entries = []
    for record, kind in records:
        if not isinstance(record, dict):
            raise DataError(
                f"metrics.json entries must be objects, got {type(record).__name__}",
                path=run.source / "metrics.json",
            )
        ident = {key: record.get(key, default[key] if kind == "run" else default.get(key)) for key in default}
        if kind == "baseline":
            ident["dataset"] = record.get("dataset", default["dataset"])
            ident["split"] = record.get("split", default["split"])
            ident["k"] = record.get("k")
        entries.append(
            Entry(
                method=str(ident["method"]),
                dataset=str(ident["dataset"]),
                split=ident["split"],
                k=int(ident["k"]) if ident["k"] is not None else None,
                source=str(run.source / "metrics.json"),
                result=_result_of(record),
                kind=kind,
            )
        )
    return entries


def _matches(record: dict[str, Any], entry: Entry) -> bool:
    for key in ("method", "dataset", "k", "split"):
        if key in record and record[key] != getattr(entry, key):
            return False
    return True


def entries_for_run(run: RunData, cfg: ReportConfig) -> list[Entry]:
    """Predictions first (they carry curves); metrics.json entries fill in what predictions lack; authors'
    figures attach to the entries they match, or become "reported" rows of their own."""
    entries = entries_from_predictions(run, cfg)
    seen = {(e.method, e.dataset, e.split, e.k) for e in entries}
    for entry in entries_from_metrics_file(run):
        if (entry.method, entry.dataset, entry.split, entry.k) not in seen:
            entries.append(entry)
    for record in run.authors:
        matched = [e for e in entries if e.kind != "baseline" and _matches(record, e)]
        for entry in matched:
            entry.authors = {k: v for k, v in record.items() if k not in {"method", "dataset", "split"}}
        if not matched and isinstance(record.get("auc"), (int, float)):
            k = record.get("k")
            entries.append(
                Entry(
                    method=str(record.get("method", f"{run.name} (authors' reported)")),
                    dataset=str(record.get("dataset", UNSPECIFIED_DATASET)),
                    split=record.get("split"),
                    k=int(k) if k is not None else None,
                    source=str(record.get("source", run.source)),
                    result={"auc": float(record["auc"]), "n": record.get("n")},
                    kind="reported",
                )
            )
    return entries


# -------------------------------------------------------------------------------------------- report


@dataclass
class Report:
    """Everything the renderers need: entries grouped by dataset, notes, sources and the config used."""

    config: ReportConfig
    entries: list[Entry]
    notes: list[str]
    sources: list[dict[str, str]]
    elapsed_seconds: float = 0.0

    def datasets(self) -> list[str]:
        return sorted({e.dataset for e in self.entries}, key=lambda d: (d == UNSPECIFIED_DATASET, d))

    def table(self, dataset: str) -> list[Entry]:
        """Entries of one dataset sorted by AUC, best first (undefined last), then method name and K."""
        rows = [e for e in self.entries if e.dataset == dataset]
        return sorted(rows, key=lambda e: (e.auc is None, -(e.auc or 0.0), e.method, e.k or 0, e.split or ""))

    def to_json(self) -> dict[str, Any]:
        return _json_safe(
            {
                "title": self.config.title,
                "config": self.config.model_dump(mode="json"),
                "sources": self.sources,
                "datasets": {d: [e.to_json() for e in self.table(d)] for d in self.datasets()},
                "notes": self.notes,
                "elapsed_seconds": self.elapsed_seconds,
            }
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return _json_safe(float(value))
    return value


def _collect_notes(runs: Sequence[RunData], entries: Sequence[Entry], cfg: ReportConfig) -> list[str]:
    notes: list[str] = []
    if cfg.bootstrap > 0:
        notes.append(
            f"AUC intervals: {cfg.confidence:.0%} percentile bootstrap over rows, {cfg.bootstrap} resamples, "
            f"seed {cfg.seed}; resamples holding a single class are dropped."
        )
    notes.append(
        "Accuracy and F1 use only rows whose output parsed; parse failures are counted next to the metrics, "
        "never folded into a class. AUC uses every row with a score (the model's P(like), as the authors did)."
    )
    for entry in entries:
        r = entry.result
        if r.get("duplicate_rows"):
            key = ", ".join(r.get("dedupe_key") or [])
            notes.append(
                f"{entry.label}: {r['n']} rows but {r['n_distinct']} distinct ({key}); {r['duplicate_rows']} "
                f"duplicate rows, {r.get('distinct_keys_with_conflicting_truth', 0)} distinct keys with "
                "conflicting labels. 'all rows' matches how the figures were computed over duplicates; "
                "'distinct' counts each once."
            )
        for name, detail in (r.get("metrics") or {}).items():
            if isinstance(detail, dict) and detail.get("reason") and name != "auc_ci":
                notes.append(f"{entry.label}: {name} undefined — {detail['reason']} (n={detail.get('n')}).")
            if isinstance(detail, dict) and detail.get("model"):
                notes.append(f"{entry.label}: {name} computed with {detail['model']}.")
    for run in runs:
        for note in run.notes:
            notes.append(f"{run.name}: {note}" if not note.startswith(run.name) else note)
    has_text = any(
        e.prepared is not None
        and e.prepared["reasoning"].is_not_null().any()
        and e.prepared["reference"].is_not_null().any()
        for e in entries
    )
    if has_text and not (cfg.text and cfg.text.metrics):
        notes.append(
            "Reasoning text metrics were not computed (pass --text-metrics bleu,rouge1,meteor[,bertscore] to add "
            "them and the correct-vs-incorrect reasoning-quality plot)."
        )
    if any(e.authors for e in entries) or any(e.kind == "reported" for e in entries):
        notes.append(
            "'authors' columns repeat the figures the original authors reported for the same run; they were "
            "not recomputed here."
        )
    if any(
        (e.authors and e.authors.get("n") is None) or (e.kind == "reported" and e.result.get("n") is None)
        for e in entries
    ):
        notes.append("n=? marks a figure its source reported without a sample size.")
    return list(dict.fromkeys(notes))


def build_report(
    inputs: Iterable[str | Path], config: ReportConfig | None = None, fmt: str = "auto"
) -> Report:
    """Load every input, evaluate every group, collect notes."""
    cfg = config or ReportConfig()
    started = time.perf_counter()
    runs = [load_run(path, fmt) for path in inputs]
    if not runs:
        raise DataError("no report inputs given")
    entries = [entry for run in runs for entry in entries_for_run(run, cfg)]
    if not entries:
        raise DataError("the inputs hold no predictions and no metrics", path=runs[0].source)
    sources = [{"path": str(run.source), "name": run.name} for run in runs]
    report = Report(cfg, entries, _collect_notes(runs, entries, cfg), sources)
    report.elapsed_seconds = time.perf_counter() - started
    return report


# ------------------------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """A table column: where its value lives in an entry, and which direction is better (None = not ranked)."""

    key: str
    title: str
    part: Literal["all", "distinct", "authors"] = "all"
    better: Literal["high", "low"] | None = "high"


_METRIC_COLUMNS: tuple[Column, ...] = (
    Column("auc", "AUC [95% CI]"),
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
    Column("auc", "AUC distinct [95% CI]", part="distinct"),
    Column("accuracy", "Accuracy distinct", part="distinct"),
)
_AUTHOR_COLUMNS: tuple[Column, ...] = (
    Column("auc", "Authors' AUC", part="authors"),
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


def _parse_text(result: dict[str, Any]) -> str:
    failures = result.get("parse_failures")
    n = result.get("n")
    if failures is None or not n:
        return "—"
    return f"{failures}/{n} ({failures / n:.1%})"


def _row_identity(entry: Entry, show_k: bool, show_split: bool) -> list[str]:
    suffix = {"baseline": " (baseline)", "reported": " (reported only)"}.get(entry.kind, "")
    cells = [entry.method + suffix]
    if show_k:
        cells.append("—" if entry.k is None else str(entry.k))
    if show_split:
        cells.append(entry.split or "—")
    return cells


def _identity_titles(show_k: bool, show_split: bool) -> list[str]:
    return ["Method", *(["K"] if show_k else []), *(["Split"] if show_split else [])]


def _table_layout(entries: Sequence[Entry]) -> tuple[bool, bool, list[Column]]:
    show_k = any(e.k is not None for e in entries)
    show_split = any(e.split for e in entries)
    return show_k, show_split, columns_for(entries)


# -------------------------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class Plot:
    """One rendered figure: file name in the output directory, caption, PNG bytes."""

    filename: str
    caption: str
    dataset: str
    png: bytes = field(repr=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def _curves(entries: Sequence[Entry], probabilities_only: bool = False) -> list[plots.Curve]:
    curves = []
    for entry in entries:
        if entry.prepared is None:
            continue
        column = "score" if probabilities_only else "_score"
        rows = entry.prepared.filter(pl.col("_truth").is_not_null() & pl.col(column).is_not_null())
        if rows.height == 0:
            continue
        scores = rows[column].to_numpy().astype(float)
        if probabilities_only and (scores.min() < 0 or scores.max() > 1):
            continue
        curves.append(plots.Curve(entry.label, rows["_truth"].to_numpy().astype(int), scores))
    return curves


def _k_series(
    entries: Sequence[Entry],
) -> tuple[dict[str, list[plots.KPoint]], dict[str, list[plots.KPoint]]]:
    """AUC-vs-K lines: methods that differ only by their K token share a line."""
    ours: dict[str, list[plots.KPoint]] = {}
    reported: dict[str, list[plots.KPoint]] = {}
    for entry in entries:
        if entry.k is None:
            continue
        name = re.sub(rf"(sample|k|shot)[-_=]?{entry.k}(?!\d)", r"\1K", entry.method, flags=re.IGNORECASE)
        name = f"{name} [{entry.split}]" if entry.split and entry.split != "test" else name
        if entry.kind != "reported" and entry.auc is not None:
            ci = entry.result.get("auc_ci") or [None, None]
            n = cell_for(entry, Column("auc", "")).n
            ours.setdefault(name, []).append(plots.KPoint(entry.k, entry.auc, ci[0], ci[1], n))
            distinct = entry.result.get("distinct") or {}
            if isinstance(distinct.get("auc"), (int, float)):
                dci = distinct.get("auc_ci") or [None, None]
                ours.setdefault(f"{name} — distinct rows", []).append(
                    plots.KPoint(entry.k, float(distinct["auc"]), dci[0], dci[1], distinct.get("n"))
                )
        authors_auc = (entry.authors or {}).get("auc") if entry.kind != "reported" else entry.auc
        if isinstance(authors_auc, (int, float)):
            reported.setdefault(f"{name} — authors' reported", []).append(
                plots.KPoint(entry.k, float(authors_auc))
            )
    return ours, reported


def _quality_groups(entries: Sequence[Entry]) -> dict[str, dict[str, dict[str, tuple[float, int]]]]:
    groups: dict[str, dict[str, dict[str, tuple[float, int]]]] = {}
    for entry in entries:
        parts = (entry.result.get("breakdowns") or {}).get("correctness") or {}
        for kind in ("correct", "incorrect"):
            part = parts.get(kind) or {}
            for metric in TEXT_METRICS:
                detail = (part.get("metrics") or {}).get(metric) or {}
                if isinstance(detail.get("value"), (int, float)):
                    groups.setdefault(entry.label, {}).setdefault(kind, {})[metric] = (
                        float(detail["value"]),
                        int(detail.get("n") or 0),
                    )
    return groups


def render_plots(report: Report) -> list[Plot]:
    """Every figure the data supports, per dataset."""
    out: list[Plot] = []
    bins = report.config.calibration_bins
    for dataset in report.datasets():
        entries = report.table(dataset)
        slug = _slug(dataset)
        curves = _curves(entries)
        if curves:
            out.append(
                Plot(
                    f"roc_{slug}.png",
                    f"ROC curves — {dataset}",
                    dataset,
                    plots.roc_png(curves, f"ROC — {dataset}"),
                )
            )
        prob_curves = _curves(entries, probabilities_only=True)
        if prob_curves:
            out.append(
                Plot(
                    f"calibration_{slug}.png",
                    f"Calibration (reliability diagram) — {dataset}",
                    dataset,
                    plots.calibration_png(prob_curves, f"Calibration — {dataset}", bins),
                )
            )
        ours, reported = _k_series(entries)
        ks = {p.k for points in [*ours.values(), *reported.values()] for p in points}
        if len(ks) >= 2:
            out.append(
                Plot(
                    f"auc_vs_k_{slug}.png",
                    f"AUC vs K — {dataset}",
                    dataset,
                    plots.metric_vs_k_png(ours, f"AUC vs K — {dataset}", "AUC", reported),
                )
            )
        for entry in entries:
            if entry.prepared is None:
                continue
            rated = entry.prepared.filter(
                pl.col("_rating_true").is_not_null() & pl.col("_rating_pred_class").is_not_null()
            )
            classes = json.loads(entry.prepared["_classes"][0]) if entry.prepared.height else []
            if rated.height and classes:
                name = f"confusion_{slug}_{_slug(entry.label)}.png"
                out.append(
                    Plot(
                        name,
                        f"Rating confusion matrix — {entry.label} — {dataset}",
                        dataset,
                        plots.confusion_png(
                            rated["_rating_true"].to_numpy(),
                            rated["_rating_pred_class"].to_numpy(),
                            classes,
                            f"{entry.label} — {dataset}",
                        ),
                    )
                )
        groups = _quality_groups(entries)
        if groups:
            out.append(
                Plot(
                    f"reasoning_quality_{slug}.png",
                    f"Reasoning quality, correct vs incorrect predictions — {dataset}",
                    dataset,
                    plots.reasoning_quality_png(groups, f"Reasoning vs reference — {dataset}"),
                )
            )
    return out


def plot_data(report: Report) -> dict[str, Any]:
    """Numbers behind the plots that are not already in the entries (calibration bins, confusion counts)."""
    data: dict[str, Any] = {}
    for dataset in report.datasets():
        section: dict[str, Any] = {}
        for entry in report.table(dataset):
            if entry.prepared is None:
                continue
            item: dict[str, Any] = {}
            curve = _curves([entry], probabilities_only=True)
            if curve:
                item["calibration_bins"] = plots.calibration_bins(
                    curve[0].labels, curve[0].scores, report.config.calibration_bins
                )
            classes = json.loads(entry.prepared["_classes"][0]) if entry.prepared.height else []
            rated = entry.prepared.filter(
                pl.col("_rating_true").is_not_null() & pl.col("_rating_pred_class").is_not_null()
            )
            if rated.height and classes:
                item["confusion"] = {
                    "classes": classes,
                    "counts": plots.confusion_counts(
                        rated["_rating_true"].to_numpy(), rated["_rating_pred_class"].to_numpy(), classes
                    ).tolist(),
                }
            if item:
                section[entry.label] = item
        if section:
            data[dataset] = section
    return data


# ------------------------------------------------------------------------------------------ Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell, best: float | None) -> str:
    if cell.value is None:
        return "—" if cell.reason is None else f"— ({_md_escape(cell.reason)})"
    text = cell.text()
    if best is not None and round(cell.value, 3) == best:
        text = f"**{text}**"
    if cell.ci is not None:
        text += f" [{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]"
    return text + f" (n={cell.n if cell.n is not None else '?'})"


def markdown_table(entries: Sequence[Entry]) -> str:
    show_k, show_split, columns = _table_layout(entries)
    best = best_values(entries, columns)
    header = [*_identity_titles(show_k, show_split), "n", "Parse failures", *[c.title for c in columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for entry in entries:
        n = entry.result.get("n")
        row = [
            *(_md_escape(c) for c in _row_identity(entry, show_k, show_split)),
            "?" if n is None else str(n),
            _parse_text(entry.result),
            *(_md_cell(cell_for(entry, c), best.get(c)) for c in columns),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def render_markdown(report: Report, plot_list: Sequence[Plot]) -> str:
    parts = [f"# {report.config.title}", ""]
    parts.append(
        "Rows are sorted by AUC on all rows, best first; the best value in each column is **bold**. "
        "Every number carries its n; AUC shows its bootstrap CI."
    )
    for dataset in report.datasets():
        entries = report.table(dataset)
        parts += ["", f"## Dataset: {dataset}", "", markdown_table(entries), ""]
        for plot in (p for p in plot_list if p.dataset == dataset):
            parts += [f"![{plot.caption}]({plot.filename})", ""]
    parts += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    parts += ["", "## Sources", ""] + [f"- `{s['path']}`" for s in report.sources]
    return "\n".join(parts).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2rem auto;
       max-width: 1400px; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
p.lead { color: #555; margin-top: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .88rem; margin: 1rem 0; }
th, td { border: 1px solid #d8d8d8; padding: .35rem .55rem; text-align: right; vertical-align: top; }
th { background: #f3f4f6; position: sticky; top: 0; }
td.method, th.method { text-align: left; min-width: 12rem; max-width: 26rem; }
tr:nth-child(even) td { background: #fafafa; }
th.sorted::after { content: " ▼"; color: #888; }
.ci, .n, .reason { display: block; color: #666; font-size: .75rem; white-space: nowrap; }
.kind { color: #8a6d00; font-size: .75rem; }
strong { color: #0b5394; }
figure { display: inline-block; margin: .8rem 1.2rem .8rem 0; vertical-align: top; }
figure img { max-width: 100%; width: 640px; border: 1px solid #e5e5e5; }
figcaption { font-size: .85rem; color: #444; }
ul.notes li { margin-bottom: .3rem; }
code { background: #f3f4f6; padding: 0 .25rem; }
"""


def _html_cell(cell: Cell, best: float | None) -> str:
    if cell.value is None:
        reason = f'<span class="reason">{html.escape(cell.reason)}</span>' if cell.reason else ""
        return f"<td>—{reason}</td>"
    text = cell.text()
    if best is not None and round(cell.value, 3) == best:
        text = f"<strong>{text}</strong>"
    ci = f'<span class="ci">[{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]</span>' if cell.ci is not None else ""
    n = f'<span class="n">n={cell.n if cell.n is not None else "?"}</span>'
    return f"<td>{text}{ci}{n}</td>"


def html_table(entries: Sequence[Entry], dataset: str) -> str:
    show_k, show_split, columns = _table_layout(entries)
    best = best_values(entries, columns)
    heads = [
        '<th class="method">Method</th>',
        *(["<th>K</th>"] if show_k else []),
        *(["<th>Split</th>"] if show_split else []),
        "<th>n</th>",
        "<th>Parse failures</th>",
    ]
    for column in columns:
        sorted_class = ' class="sorted"' if column.key == "auc" and column.part == "all" else ""
        heads.append(f"<th{sorted_class}>{html.escape(column.title)}</th>")
    rows = []
    for entry in entries:
        kind = {"baseline": "baseline", "reported": "reported only"}.get(entry.kind)
        # Let long run names wrap at their separators rather than mid-token.
        name = re.sub(r"([_:/-])", r"\1<wbr>", html.escape(entry.method))
        method = name + (f' <span class="kind">({kind})</span>' if kind else "")
        cells = [f'<td class="method">{method}</td>']
        if show_k:
            cells.append(f"<td>{'—' if entry.k is None else entry.k}</td>")
        if show_split:
            cells.append(f"<td>{html.escape(entry.split or '—')}</td>")
        n = entry.result.get("n")
        cells.append(f"<td>{'?' if n is None else n}</td>")
        cells.append(f"<td>{html.escape(_parse_text(entry.result))}</td>")
        cells += [_html_cell(cell_for(entry, c), best.get(c)) for c in columns]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="table-wrap"><table data-dataset="{html.escape(dataset)}">'
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def render_html(report: Report, plot_list: Sequence[Plot]) -> str:
    """One self-contained page: inline CSS, figures as base64 data URIs, no scripts, no external links."""
    title = html.escape(report.config.title)
    body = [
        f"<h1>{title}</h1>",
        ('<p class="lead">Rows sorted by AUC on all rows, best first (▼); the best value in each column is '
        "<strong>bold</strong>. Every number carries its n; AUC shows its bootstrap 95% CI.</p>"),
    ]
    for dataset in report.datasets():
        body.append(f"<h2>Dataset: {html.escape(dataset)}</h2>")
        body.append(html_table(report.table(dataset), dataset))
        for plot in (p for p in plot_list if p.dataset == dataset):
            data = base64.b64encode(plot.png).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(plot.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(plot.caption)} (<code>{html.escape(plot.filename)}</code>)"
                "</figcaption></figure>"
            )
    body.append('<h2>Notes</h2><ul class="notes">')
    body += [f"<li>{html.escape(note)}</li>" for note in report.notes]
    body.append("</ul><h2>Sources</h2><ul>")
    body += [f"<li><code>{html.escape(s['path'])}</code></li>" for s in report.sources]
    body.append(f'</ul><p class="lead">Built in {report.elapsed_seconds:.1f} s.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# --------------------------------------------------------------------------------------------- write


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by `write_report`."""

    markdown: Path
    html: Path
    json: Path
    plots: list[Path]


def write_report(report: Report, out_dir: str | Path) -> ReportFiles:
    """Render plots once and write report.md, report.html (self-contained), report.json and the PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plot_list = render_plots(report)
    plot_paths = [write_bytes(out / plot.filename, plot.png) for plot in plot_list]
    report.elapsed_seconds += time.perf_counter() - started
    payload = report.to_json()
    payload["plots"] = [{"file": p.filename, "caption": p.caption, "dataset": p.dataset} for p in plot_list]
    payload["plot_data"] = _json_safe(plot_data(report))
    return ReportFiles(
        markdown=write_text(out / "report.md", render_markdown(report, plot_list)),
        html=write_text(out / "report.html", render_html(report, plot_list)),
        json=write_json(out / "report.json", payload),
        plots=plot_paths,
    )


def generate_report(
    inputs: Iterable[str | Path], out_dir: str | Path, config: ReportConfig | None = None, fmt: str = "auto"
) -> tuple[Report, ReportFiles]:
    """Build and write a report in one call (what `reasonrec report` runs)."""
    report = build_report(inputs, config, fmt)
    return report, write_report(report, out_dir)
