"""Reading the release's JSON and CSV files: every failure is a `DataError` naming the file, line and field.

The release stores most artefacts as `{index: text}` dicts keyed by the release's integer indices as strings;
`index_order` sorts such keys numerically so tables come out in user/item order.
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


__all__ = ["index_order", "parse_int_list", "read_csv_rows", "read_json", "require", "string_dict_table"]
