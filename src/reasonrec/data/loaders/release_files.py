"""Reading the JSON and CSV files of a research release (ReasoningRec, EXP3RT): every failure is a `DataError`
naming the file, line, record and field.

Releases store artefacts as JSON lists of records or as `{index: text}` dicts keyed by integer indices written
as strings; `index_order` sorts such keys numerically so tables come out in user/item order.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.errors import DataError


def require(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise DataError(f"file not found; expected {expected}", path=path)
    return path


def read_json(path: Path, expected: str, kind: type = dict) -> Any:
    """Parse a whole JSON file; a missing file or bad JSON is a DataError naming the file (and line)."""
    require(path, expected)
    try:
        with path.open(encoding="utf-8") as fh:
            value = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON ({exc.msg}); expected {expected}", path=path, line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc}; expected {expected}", path=path) from exc
    if not isinstance(value, kind):
        raise DataError(f"expected a JSON {kind.__name__} ({expected}), found {type(value).__name__}", path=path)
    return value


def read_records(path: Path, expected: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """A JSON list of objects that each carry `fields`; the first bad record is named by its 0-based number."""
    records = read_json(path, expected, kind=list)
    for number, record in enumerate(records):
        missing = list(fields) if not isinstance(record, dict) else [f for f in fields if f not in record]
        if missing:
            raise DataError(f"record {number} lacks {missing}; expected {expected}", path=path, field=missing[0])
    return records


def float_field(records: list[dict[str, Any]], field: str, path: Path) -> list[float]:
    """`field` of every record as a float; the first non-number is named by its record number."""
    values = []
    for number, record in enumerate(records):
        try:
            values.append(float(record[field]))
        except (TypeError, ValueError) as exc:
            raise DataError(f"record {number}: {field} {record[field]!r} is not a number", path=path,
                            field=field) from exc
    return values


def read_csv_rows(path: Path, expected: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    require(path, expected)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"missing column(s) {missing}; expected {expected}", path=path, field=missing[0])
        return list(reader)


def index_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.lstrip("-").isdigit() else (1 << 62, key)


def string_dict_table(path: Path, expected: str, key: str = "user_id") -> pl.DataFrame:
    """A release `{index: text}` dict as a (key, text) table sorted numerically by key."""
    data = read_json(path, expected)
    rows = sorted(((str(k), v) for k, v in data.items()), key=lambda kv: index_order(kv[0]))
    bad = [k for k, v in rows if not isinstance(v, str)]
    if bad:
        raise DataError(f"value for key {bad[0]!r} is not a string; expected {expected}", path=path, field=bad[0])
    return pl.DataFrame(
        {key: [k for k, _ in rows], "text": [v for _, v in rows]}, schema={key: pl.String(), "text": pl.String()}
    )


def parse_int_list(text: str, *, path: Path, line: int, field: str) -> list[int]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not a JSON list: {text[:60]!r}", path=path, line=line, field=field) from exc
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise DataError(f"expected a list of integers, found {text[:60]!r}", path=path, line=line, field=field)
    return value


__all__ = ["float_field", "index_order", "parse_int_list", "read_csv_rows", "read_json", "read_records",
           "require", "string_dict_table"]
