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

from collections.abc import Callable
from pathlib import Path

import polars as pl

from reasonrec.answers import first_prediction_label
from reasonrec.data.loaders.reasoningrec.artefacts import read_student_outputs
from reasonrec.errors import DataError
from reasonrec.predictions import PREDICTIONS_SCHEMA, conform_predictions

Reader = Callable[[Path], pl.DataFrame]


def read_canonical_predictions(path: Path) -> pl.DataFrame:
    """Parquet (`.parquet`) or JSON lines (`.jsonl`/`.json`) in the predictions schema."""
    if not path.is_file():
        raise DataError("predictions file not found", path=path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pl.read_parquet(path)
        elif suffix in {".jsonl", ".ndjson", ".json"}:
            df = pl.read_ndjson(path)
        else:
            raise DataError(
                f"unknown predictions file type {suffix!r} (expected .parquet or .jsonl)", path=path
            )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read predictions: {exc}", path=path) from exc
    if not {"label", "rating"} & set(df.columns):
        raise DataError("predictions need a truth column: label or rating", path=path)
    if not {"score", "pred_label", "pred_rating", "probs"} & set(df.columns):
        raise DataError(
            "predictions need a prediction column: score, pred_label, pred_rating or probs", path=path
        )
    try:
        return conform_predictions(df)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"columns do not fit the predictions schema: {exc}", path=path) from exc


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
    return out
