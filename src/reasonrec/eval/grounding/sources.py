"""Explanations to check, each paired with the target row its prompt was built from.

- `teacher_records`: released teacher reasoning (`teacher_reasoning` artefact), one text per user and split, about
  that user's target of the split; its stated prediction is its trailing "Prediction: Yes/No".
- `student_reference_records`: the authors' released 7B student outputs. Their prompts are the release's broken
  test prompts, which name the user's *train* target (data README), so the rows are the user's train window; a row
  is kept only when its prompt names that train target's title. Stated prediction: the parsed "Prediction:" line,
  else their P(Yes) ≥ 0.5.
- `prediction_records`: any predictions table with a `reasoning` column (our students, zero-shot runs); rows are
  found by (user_id, item_id) in the split's target table; stated prediction: `pred_label`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reasonrec.answers import parse_reasoningrec
from reasonrec.data.schema import Dataset
from reasonrec.errors import DataError

TABLE_PREFIXES = ("release_windows_", "seq_ctr_", "")


@dataclass(frozen=True)
class ExplanationRecord:
    """One explanation, who wrote it, the label it states and the target row (target-table contract)."""

    explanation_id: str
    source: str
    user_id: str
    item_id: str
    text: str
    pred_label: int | None
    row: dict[str, Any] = field(repr=False)


def target_table(dataset: Dataset, split: str) -> tuple[str, pl.DataFrame]:
    """The target table of a split: the release windows when the dataset has them, else the CTR windows."""
    for prefix in TABLE_PREFIXES:
        name = f"{prefix}{split}"
        if name in dataset.splits:
            return name, dataset.splits[name]
    raise DataError(f"no target table for split {split!r}; tables: {', '.join(sorted(dataset.splits))}",
                    field="split")


def _rows_by_user(table: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(r["user_id"]): r for r in table.iter_rows(named=True)}


def teacher_records(
    dataset: Dataset, split: str = "test", *, source: str = "mixtral-teacher", artefact: str = "teacher_reasoning"
) -> list[ExplanationRecord]:
    if artefact not in dataset.artefacts:
        raise DataError(f"dataset has no {artefact!r} artefact", field=artefact)
    _, table = target_table(dataset, split)
    rows = _rows_by_user(table)
    texts = dataset.artefacts[artefact].filter(pl.col("split") == split)
    out = []
    for user, text in texts.select("user_id", "text").iter_rows():
        row = rows.get(str(user))
        if row is None or not text:
            continue
        out.append(ExplanationRecord(f"{source}:{split}:{user}", source, str(user), str(row["item_id"]), text,
                                     parse_reasoningrec(text).label, row))
    return out


def student_reference_records(dataset: Dataset, k: int | None = None) -> list[ExplanationRecord]:
    """The authors' student outputs (all runs, or the run trained on K examples)."""
    if "student_reference_outputs" not in dataset.artefacts:
        raise DataError("dataset has no 'student_reference_outputs' artefact", field="student_reference_outputs")
    outputs = dataset.artefacts["student_reference_outputs"]
    if k is not None:
        outputs = outputs.filter(pl.col("k") == k)
    _, table = target_table(dataset, "train")
    rows = _rows_by_user(table)
    titles = {str(r["item_id"]): r["title"] for r in dataset.items.select("item_id", "title").iter_rows(named=True)}
    out = []
    for rec in outputs.iter_rows(named=True):
        row = rows.get(str(rec["user_id"]))
        if row is None or not rec["generated_output"]:
            continue
        title = titles.get(str(row["item_id"]))
        if not title or f"target item - {title}" not in (rec["input"] or ""):
            continue
        parsed = parse_reasoningrec(rec["generated_output"]).label
        label = parsed if parsed is not None else (None if rec["logit"] is None else int(rec["logit"] >= 0.5))
        source = f"authors-7b-student-k{rec['k']}"
        out.append(ExplanationRecord(f"{source}:{rec['row']}", source, str(row["user_id"]), str(row["item_id"]),
                                     rec["generated_output"], label, row))
    return out


def prediction_records(predictions: pl.DataFrame, dataset: Dataset, *, split: str | None = None) -> list[ExplanationRecord]:
    """Rows of a predictions table that carry reasoning, matched to their target rows."""
    for col in ("user_id", "item_id", "reasoning"):
        if col not in predictions.columns:
            raise DataError(f"predictions have no {col!r} column", field=col)
    with_text = predictions.filter(pl.col("reasoning").is_not_null() & (pl.col("reasoning").str.strip_chars() != ""))
    out = []
    tables: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for pos, rec in enumerate(with_text.iter_rows(named=True)):
        part = split or rec.get("split") or "test"
        if part not in tables:
            _, table = target_table(dataset, part)
            tables[part] = {(str(r["user_id"]), str(r["item_id"])): r for r in table.iter_rows(named=True)}
        row = tables[part].get((str(rec["user_id"]), str(rec["item_id"])))
        if row is None:
            raise DataError(f"predictions row {pos}: no target row for user {rec['user_id']!r}, "
                            f"item {rec['item_id']!r} in split {part!r}", field="user_id")
        method = rec.get("method") or "predictions"
        pred = rec.get("pred_label")
        out.append(ExplanationRecord(f"{method}:{part}:{rec['user_id']}:{rec['item_id']}", method,
                                     str(rec["user_id"]), str(rec["item_id"]), rec["reasoning"],
                                     None if pred is None else int(pred), row))
    return out



SOURCES = ("predictions", "teacher", "authors-student")


def load_records(
    dataset: Dataset,
    source: str,
    *,
    split: str = "test",
    predictions: pl.DataFrame | None = None,
    k: int | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[ExplanationRecord]:
    """Explanations of one source; `limit` keeps a seeded random sample (the same rows for every method that
    shares `seed`), in the source's order."""
    if source == "predictions":
        if predictions is None:
            raise DataError("source 'predictions' needs a predictions file", field="source")
        records = prediction_records(predictions, dataset, split=split)
    elif source == "teacher":
        records = teacher_records(dataset, split)
    elif source == "authors-student":
        records = student_reference_records(dataset, k)
    else:
        raise DataError(f"unknown explanation source {source!r}; choose from {', '.join(SOURCES)}", field="source")
    if limit is not None and len(records) > limit:
        keep = set(random.Random(seed).sample(range(len(records)), limit))
        records = [r for i, r in enumerate(records) if i in keep]
    return records


__all__ = ["SOURCES", "ExplanationRecord", "load_records", "prediction_records", "student_reference_records",
           "target_table", "teacher_records"]
