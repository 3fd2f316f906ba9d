"""From loaded runs to report rows: evaluate every (method, dataset, split, K) group of predictions, take the rest
from metrics.json, attach the authors' figures, and collect the notes.

`metrics.json` shapes accepted (all keys optional):
    {"method", "dataset", "split", "k",          identity of a single-entry file (defaults: directory name)
     "result" | "metrics" | <flat result keys>,  an `evaluate_predictions` result ("auc", "n", "metrics", ...)
     "runs": [ {identity..., result...}, ... ],  several entries
     "baselines": {name: result} | [ {"method": name, ...result} ],
     "authors": {"auc": .., "bertscore": ..} | [ {"method"?, "dataset"?, "k"?, "auc", ...} ],
     "notes": ["BERTScore model: MiniLM, not DeBERTa as in the paper", ...]}
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl

from reasonrec.errors import DataError
from reasonrec.eval.bootstrap import bootstrap_ci
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions, prepare_predictions
from reasonrec.eval.grounding.marks import COLUMN as MARKS
from reasonrec.eval.report.explanations import explanation_sections
from reasonrec.eval.report.load import UNSPECIFIED_DATASET, RunData, load_run
from reasonrec.eval.report.model import Entry, Report, ReportConfig, Section
from reasonrec.eval.report.paired import paired_sections


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


def entries_from_predictions(run: RunData, cfg: ReportConfig, *, baselines: bool = False) -> list[Entry]:
    """One entry per (method, dataset, split[, k]) group of the run's predictions (or, with `baselines`, of the
    baselines' predictions on the same rows)."""
    df = run.baseline_predictions if baselines else run.predictions
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
                kind="baseline" if baselines else "run",
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
    entries = [*entries_from_predictions(run, cfg), *entries_from_predictions(run, cfg, baselines=True)]
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


def _explanation_sections(runs: Sequence[RunData], entries: Sequence[Entry]) -> list[Section]:
    """Every input whose predictions carry grounding marks shows its explanations (eval.report.explanations)."""
    marked = [run.predictions for run in runs if run.predictions is not None and MARKS in run.predictions.columns]
    if not marked:
        return []
    headline: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: e.kind != "run"):
        headline.setdefault(entry.method, entry.result)
    predictions = pl.concat(marked, how="diagonal_relaxed")
    datasets = predictions["dataset"].drop_nulls().unique().to_list() if "dataset" in predictions.columns else []
    return explanation_sections(predictions, headline, title=datasets[0] if len(datasets) == 1 else "")


def build_report(
    inputs: Iterable[str | Path], config: ReportConfig | None = None, fmt: str = "auto",
    sections: Sequence[Section] = (),
) -> Report:
    """Load every input, evaluate every group, collect notes; the paired comparison with the best baseline comes
    first among the sections (`eval.report.paired`), then `sections`, extra tables rendered as given."""
    cfg = config or ReportConfig()
    started = time.perf_counter()
    runs = [load_run(path, fmt) for path in inputs]
    if not runs:
        raise DataError("no report inputs given")
    entries = [entry for run in runs for entry in entries_for_run(run, cfg)]
    if not entries:
        raise DataError("the inputs hold no predictions and no metrics", path=runs[0].source)
    sources = [{"path": str(run.source), "name": run.name} for run in runs]
    report = Report(cfg, entries, _collect_notes(runs, entries, cfg), sources, [])
    report.sections = [*paired_sections(entries, report.datasets(), cfg), *sections,
                       *_explanation_sections(runs, entries)]
    report.elapsed_seconds = time.perf_counter() - started
    return report


__all__ = ["build_report", "entries_for_run", "evaluate_group"]
