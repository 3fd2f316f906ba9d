"""Read prediction files of every supported format into the canonical predictions table.

Formats (explicit registry, `READERS`):
- `predictions`: our own `PREDICTIONS_SCHEMA` as Parquet or JSONL.
- `reasoningrec-release`: the ReasoningRec authors' `student_reference_outputs/<run>/test_outputs.json`
  (a JSON list of {instruction, input, output, generated_output, logits}), parsed by the release loader's
  `read_student_outputs`. The true label is the "Prediction: Yes/No" that opens `output` (the teacher
  text), the score is `logits` (= P(Yes), what the authors' AUC uses), the predicted label is the first
  "Prediction: Yes/No" in `generated_output` (rows without one are parse failures), `reasoning` = generated_output, `reference` = output, and `input` is kept as an
  extra column so duplicated prompts can be detected.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from reasonrec.answers import first_prediction_label
from reasonrec.data.loaders.reasoningrec.artefacts import read_student_outputs
from reasonrec.errors import DataError
from reasonrec.predictions import PREDICTIONS_SCHEMA, conform_predictions, loads_strict, validate_predictions

Reader = Callable[[Path], pl.DataFrame]
LINE = "_line"
"""Private column a line-oriented reader may add (1-based source line per row) so errors name the line."""


def read_json_lines(path: Path) -> tuple[pl.DataFrame, list[int]]:
    """Records of a JSON-lines file and the 1-based line of each; NaN/Infinity and non-objects are errors."""
    records: list[dict[str, object]] = []
    lines: list[int] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc}", path=path) from exc
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit in a string
        if not line.strip():
            continue
        try:
            record = loads_strict(line)
        except ValueError as exc:  # JSONDecodeError is a ValueError too
            raise DataError(f"not valid JSON: {exc}", path=path, line=number) from exc
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object per line, got {type(record).__name__}", path=path,
                            line=number)
        records.append({k: _text_cell(k, v) for k, v in record.items()})
        lines.append(number)
    mixed = _mixed_types(records, lines, path)
    if mixed is not None:
        raise mixed
    try:
        return pl.DataFrame(records, infer_schema_length=None), lines
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise DataError(f"records do not form a table: {exc}", path=path) from exc


def _text_cell(key: str, value: object) -> object:
    """A JSON object or list given for a text column of the schema (e.g. `probs` as an object) → its JSON text."""
    if isinstance(value, dict | list) and PREDICTIONS_SCHEMA.get(key) == pl.String:
        return json.dumps(value)
    return value


def _mixed_types(records: list[dict[str, object]], lines: list[int], path: Path) -> DataError | None:
    """The first line whose value has another JSON type than the column's first value (polars would coerce it)."""
    first_type: dict[str, type] = {}
    for record, line in zip(records, lines, strict=True):
        for key, value in record.items():
            if value is None:
                continue
            kind = float if isinstance(value, int) and not isinstance(value, bool) else type(value)
            expected = first_type.setdefault(key, kind)
            if kind is not expected:
                return DataError(f"{type(value).__name__} value where earlier rows hold {expected.__name__}",
                                 path=path, line=line, field=key)
    return None


def read_canonical_predictions(path: Path) -> pl.DataFrame:
    """Parquet (`.parquet`) or JSON lines (`.jsonl`/`.json`) in the predictions schema."""
    if not path.is_file():
        raise DataError("predictions file not found", path=path)
    suffix = path.suffix.lower()
    lines: list[int] | None = None
    if suffix == ".parquet":
        try:
            df = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(f"cannot read predictions: {exc}", path=path) from exc
    elif suffix in {".jsonl", ".ndjson", ".json"}:
        df, lines = read_json_lines(path)
    else:
        raise DataError(f"unknown predictions file type {suffix!r} (expected .parquet or .jsonl)", path=path)
    if not {"label", "rating"} & set(df.columns):
        raise DataError("predictions need a truth column: label or rating", path=path)
    if not {"score", "pred_label", "pred_rating", "probs"} & set(df.columns):
        raise DataError(
            "predictions need a prediction column: score, pred_label, pred_rating or probs", path=path
        )
    out = conform_predictions(df, source=path, lines=lines)
    return out if lines is None else out.with_columns(pl.Series(LINE, lines, dtype=pl.Int64))


def read_reasoningrec_release(path: Path) -> pl.DataFrame:
    """The authors' test_outputs.json (file, or the run directory that holds it), parsed by the release loader."""
    if path.is_dir():
        path = path / "test_outputs.json"
    if not path.is_file():
        raise DataError("ReasoningRec release file not found", path=path)
    table = read_student_outputs(path)
    unlabelled = table.filter(pl.col("label").is_null())
    if unlabelled.height:
        raise DataError(f"record {unlabelled['row'][0]}: reference output has no 'Prediction: Yes/No'",
                        path=path, field="output")
    predicted = [first_prediction_label(text) for text in table["generated_output"].to_list()]
    df = pl.DataFrame(
        {
            "label": table["label"],
            "score": table["logit"],
            "pred_label": pl.Series(predicted, dtype=pl.Int64),
            "reasoning": table["generated_output"],
            "reference": table["output"],
            "parse_ok": [p is not None for p in predicted],
            "input": table["input"],
        }
    )
    df = df.with_columns(
        pl.lit(f"reasoningrec-release:{path.parent.name}").alias("method"),
        pl.lit("test").alias("split"),
    )
    return conform_predictions(df)


READERS: dict[str, Reader] = {
    "predictions": read_canonical_predictions,
    "reasoningrec-release": read_reasoningrec_release,
}


def read_predictions(path: str | Path, fmt: str = "predictions") -> pl.DataFrame:
    """Read `path` with the reader registered for `fmt`; the result always has the canonical columns first."""
    try:
        reader = READERS[fmt]
    except KeyError:
        raise DataError(
            f"unknown predictions format {fmt!r}; choose from {sorted(READERS)}", path=path
        ) from None
    out = reader(Path(path))
    assert list(out.columns[: len(PREDICTIONS_SCHEMA)]) == list(PREDICTIONS_SCHEMA)
    lines = out[LINE].to_list() if LINE in out.columns else None
    validate_predictions(out, source=path, lines=lines)
    return out.drop(LINE, strict=False)
