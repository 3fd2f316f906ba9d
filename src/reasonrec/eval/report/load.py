"""Reading report inputs: run directories, predictions files and the authors' ReasoningRec release.

A *run* is a directory holding `predictions.parquet` (canonical schema, possibly several methods / datasets /
splits), `baselines/*.parquet` (the baselines' predictions on the same rows: the report compares methods with them
row by row) and/or `metrics.json` (already computed metrics, optional `baselines`, `authors` and `notes`), the
authors' ReasoningRec release directory (`test_outputs.json` + `results.json`), or a predictions file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.data.loaders.reasoningrec.artefacts import read_authors_results
from reasonrec.errors import DataError
from reasonrec.eval.readers import READERS, read_predictions

INPUT_FORMATS: tuple[str, ...] = ("auto", *sorted(READERS))


UNSPECIFIED_DATASET = "(unspecified)"


_K_IN_NAME = re.compile(r"(?:^|[^a-z0-9])(?:sample|k|shot)[-_=]?(\d+)", re.IGNORECASE)


@dataclass
class RunData:
    """One input as read from disk: predictions and/or precomputed metrics, with authors' figures and notes."""

    source: Path
    name: str
    predictions: pl.DataFrame | None = None
    baseline_predictions: pl.DataFrame | None = None
    metrics_file: dict[str, Any] | None = None
    authors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def k_from_name(name: str) -> int | None:
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
    k = next((a["k"] for a in authors if "k" in a), None) or k_from_name(folder.name)
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
        run.baseline_predictions = _baseline_predictions(path / "baselines")
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


def _baseline_predictions(folder: Path) -> pl.DataFrame | None:
    """The baselines' predictions a reproduction or recipe wrote on its own test rows (OUT/baselines/*.parquet)."""
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    frames = [read_predictions(f, "predictions") for f in files]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


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


__all__ = ["INPUT_FORMATS", "UNSPECIFIED_DATASET", "RunData", "k_from_name", "load_run"]
