"""Generic CSV / TSV / Parquet interactions (+ optional items and users files) with a column map.

`options.column_map` maps canonical names to source names, e.g. `{"user_id": "uid", "rating": "stars"}`; it
applies to every file read. Required source columns: user_id, item_id, rating, timestamp (integer unix
seconds, or an ISO date/datetime string, or a Parquet datetime). Unmapped source columns are kept as extra
columns after the canonical ones. Items/users files are optional: pass `TabularOptions(items_path=...,
users_path=...)`; without them the item and user tables hold only the ids seen in the interactions.

CSV text is read with the `csv` module so quoted fields (even multi-line ones) parse correctly and every row
keeps the line it starts on; for very large inputs convert to Parquet, which Polars reads directly (errors
then name the 1-based row instead of a line).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from pydantic import Field, field_validator

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.common import (
    LINE,
    RATING_SCALES,
    RowIssues,
    build_info,
    cast_column,
    check_encoding,
    check_rating_range,
    finish_interactions,
    infer_rating_range,
    open_bytes,
)
from reasonrec.data.schema import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, USERS_SCHEMA, Dataset, conform
from reasonrec.errors import ConfigError, DataError

ENCODING = "utf-8"
LINE_BREAK = re.compile(r"\r\n|\r|\n")
LIST_SEPARATOR = "|"  # list columns (categories, genres) given as text: "Drama|Comedy"


class TabularOptions(LoadOptions):
    """Extra options of the tabular loader (a `LoadOptions` subclass, so the registry passes it through).

    `rating_range` (low, high) rejects ratings outside it; unset, the narrowest usual scale that holds the bulk
    of the ratings is inferred (`common.infer_rating_range`) and reported in `Dataset.info["rating_range"]`.
    `separator` (one character) overrides the one implied by the suffix.
    """

    items_path: Path | None = None
    users_path: Path | None = None
    rating_range: tuple[float, float] | None = None
    separator: str | None = Field(None, min_length=1, max_length=1)

    @field_validator("rating_range")
    @classmethod
    def _finite_ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] <= value[1]):
            raise ValueError(f"rating_range must be finite (low, high) with low <= high, got {list(value)}")
        return value


def _separator(path: Path, override: str | None) -> str:
    if override:
        return override
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".tsv", ".tab")):
        return "\t"
    return ","


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _decode(path: Path, encoding: str, issues: RowIssues) -> str:
    check_encoding(encoding, path)
    data = open_bytes(path)
    if codecs.lookup(encoding).name == "utf-8":
        data = data.removeprefix(codecs.BOM_UTF8)  # spreadsheet exports start with one
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        pass
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode(encoding))
        except UnicodeDecodeError as exc:
            byte = exc.object[exc.start : exc.start + 1].hex()
            issues.report(
                f"cannot decode byte 0x{byte} as {encoding}; set options.encoding (e.g. 'latin-1' or 'cp1252')",
                path=path,
                line=number,
                field="encoding",
            )
            lines.append("")
    return "\n".join(lines)


def _looks_like_a_record(fragment: str, separator: str, width: int, numeric: tuple[int, ...]) -> bool:
    """Whether one line inside a quoted field parses as a whole record of the file (its numeric fields too)."""
    cells = next(csv.reader([fragment], delimiter=separator), [])
    if len(cells) != width:
        return False
    try:
        for position in numeric:
            float(cells[position])
    except ValueError:
        return False
    return True


def _swallowed_line(record: list[str], separator: str, width: int, numeric: tuple[int, ...]) -> int | None:
    """Offset (in lines) of a complete-looking record swallowed by a multi-line field, if any."""
    offset = 0
    for cell in record:
        fragments = cell.split("\n")
        for k, fragment in enumerate(fragments[1:], start=1):
            if _looks_like_a_record(fragment.rstrip("\r"), separator, width, numeric):
                return offset + k
        offset += len(fragments) - 1
    return None


def _csv_rows(
    path: Path, text: str, separator: str, numeric: tuple[str, ...], issues: RowIssues
) -> tuple[list[str], list[list[str]], list[int], dict[str, int]]:
    """Header, rows and their first lines; strict quoting, so an unbalanced quote is an error, not a lost row.

    A quoted field that runs over several lines and holds what parses as a complete record is reported too:
    that is how a missing closing quote swallows the next rows while the quotes still balance later on.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    header: list[str] | None = None
    positions: tuple[int, ...] = ()
    rows: list[list[str]] = []
    lines: list[int] = []
    multiline = previous_end = 0
    while True:
        start = previous_end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            previous_end = reader.line_num
            issues.report(f"malformed CSV ({exc}); an unbalanced quote?", path=path, line=start)
            continue
        previous_end = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip() for cell in record]
            duplicated = sorted({c for c in header if header.count(c) > 1})
            if duplicated:
                raise DataError(f"duplicate column name(s) {duplicated}", path=path, line=start)
            positions = tuple(header.index(name) for name in numeric if name in header)
            continue
        if len(record) != len(header):
            issues.report(f"expected {len(header)} fields, found {len(record)}", path=path, line=start)
            continue
        if previous_end > start:
            multiline += 1
            swallowed = _swallowed_line(record, separator, len(header), positions)
            if swallowed is not None:
                issues.report(
                    f"a quoted field runs from line {start} over {previous_end - start + 1} lines and holds what "
                    f"looks like a complete record on line {start + swallowed}: an unbalanced quote?",
                    path=path, line=start,
                )
                continue
        rows.append(record)
        lines.append(start)
    if header is None:
        raise DataError("empty file (no header line)", path=path)
    lines_in_file = len(LINE_BREAK.findall(text)) + (not LINE_BREAK.search(text[-1:] or "\n"))
    stats = {"lines": lines_in_file, "rows": len(rows), "multiline_rows": multiline}
    return header, rows, lines, stats


def read_table(
    path: Path, *, encoding: str, separator: str | None, issues: RowIssues, numeric: tuple[str, ...] = ()
) -> tuple[pl.DataFrame, dict[str, int]]:
    """A CSV/TSV (all columns as strings) or Parquet file with a `_line` column (CSV line / Parquet row).

    Also returns the file's row and line counts; `numeric` names source columns that must hold numbers,
    which sharpens the check for records swallowed by an unbalanced quote.
    """
    if _is_parquet(path):
        if not path.is_file():
            raise DataError("file not found", path=path)
        try:
            df = pl.read_parquet(path)
        except Exception as exc:  # polars raises several error types for corrupt files
            raise DataError(f"cannot read Parquet file: {exc}", path=path) from exc
        df = df.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
        return df, {"rows": df.height}
    text = _decode(path, encoding, issues)
    header, rows, lines, stats = _csv_rows(path, text, _separator(path, separator), numeric, issues)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    table = pl.DataFrame(
        {LINE: lines, **columns}, schema={LINE: pl.Int64(), **dict.fromkeys(header, pl.String())}
    )
    return table, stats


def _rename(df: pl.DataFrame, column_map: dict[str, str], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Source names → canonical names; unmapped source columns that collide with a canonical name are dropped."""
    renames = {source: canonical for canonical, source in column_map.items() if source in df.columns}
    mapped_targets = set(renames.values())
    collide = [c for c in df.columns if c in schema and c in mapped_targets and c not in renames]
    return df.drop(collide).rename(renames)


def _require(df: pl.DataFrame, names: tuple[str, ...], column_map: dict[str, str], path: Path) -> None:
    available = [c for c in df.columns if c != LINE]
    for name in names:
        if name not in df.columns:
            source = column_map.get(name, name)
            raise DataError(
                f"missing column {source!r} (for {name}); available: {available} — map it with options.column_map",
                path=path,
                field=name,
            )


def _ids(df: pl.DataFrame, column: str, *, path: Path, issues: RowIssues) -> pl.DataFrame:
    df = df.with_columns(pl.col(column).cast(pl.String).str.strip_chars())
    bad_expr = pl.col(column).is_null() | (pl.col(column) == "")
    issues.report_rows(df.filter(bad_expr), "empty id", path=path, field=column)
    return df.filter(~bad_expr)


def _check_numeric_dtype(df: pl.DataFrame, column: str, path: Path) -> None:
    """A typed (e.g. Parquet) column must hold numbers: booleans or other types are refused, never cast to 1.0."""
    dtype = df.schema[column]
    if dtype == pl.String or dtype.is_numeric():
        return
    raise DataError(f"holds {dtype} values, not numbers", path=path, field=column)


def _numeric(
    df: pl.DataFrame, column: str, dtype: pl.DataType, *, path: Path, issues: RowIssues, required: bool
) -> pl.DataFrame:
    _check_numeric_dtype(df, column, path)
    if df.schema[column] == pl.String:
        return cast_column(df, column, dtype, path=path, issues=issues, required=required)
    if df.schema[column].is_float() and dtype.is_integer():
        whole = pl.col(column).is_finite() & (pl.col(column) == pl.col(column).floor())
        bad = df.filter(~whole.fill_null(True)).with_columns(pl.col(column).alias("_value"))
        issues.report_rows(bad, "not a whole number: {value!r}", path=path, field=column)
        df = df.filter(whole.fill_null(True))
    try:
        out = df.with_columns(pl.col(column).cast(dtype, strict=True))
    except Exception as exc:
        raise DataError(
            f"cannot convert {df.schema[column]} to {dtype}: {exc}", path=path, field=column
        ) from exc
    if required:
        bad = df.filter(out[column].is_null())
        issues.report_rows(bad, "missing value", path=path, field=column)
        out = out.filter(pl.col(column).is_not_null())
    return out


def _iso_seconds(text: str) -> int | None:
    """Unix seconds of an ISO 8601 date or datetime (`Z` and `+02:00` offsets honoured; naive = UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _timestamps(df: pl.DataFrame, *, path: Path, issues: RowIssues) -> pl.DataFrame:
    """Integer seconds, or ISO 8601 text (UTC when naive), or Parquet temporal → int unix seconds."""
    dtype = df.schema["timestamp"]
    if dtype.is_temporal():
        seconds = pl.col("timestamp").cast(pl.Datetime("ms")).dt.epoch("s")
        df = df.with_columns(seconds.alias("timestamp"))
    elif dtype == pl.String:
        text = pl.col("timestamp").str.strip_chars()
        as_int = text.cast(pl.Int64, strict=False)
        as_iso = text.map_elements(_iso_seconds, return_dtype=pl.Int64, skip_nulls=True)
        parsed = pl.when(as_int.is_not_null()).then(as_int).otherwise(as_iso)
        bad = df.filter(parsed.is_null()).with_columns(pl.col("timestamp").alias("_value"))
        issues.report_rows(
            bad, "not an integer unix timestamp or ISO 8601 date: {value!r}", path=path, field="timestamp"
        )
        df = df.filter(parsed.is_not_null()).with_columns(parsed.alias("timestamp"))
    return _numeric(df, "timestamp", pl.Int64(), path=path, issues=issues, required=True)


def _inferred_rating_range(df: pl.DataFrame, path: Path) -> tuple[float, float]:
    """The usual scale of the ratings, or one line naming where the ratings leave every usual scale."""
    scale = infer_rating_range(df["rating"])
    if scale is not None:
        return scale
    finite = df.filter(pl.col("rating").is_finite())
    if finite.height == 0:
        raise DataError("no finite rating in the file", path=path, field="rating")
    lowest, highest = finite.row(int(finite["rating"].arg_min()), named=True), finite.row(
        int(finite["rating"].arg_max()), named=True)
    usual = ", ".join(f"[{a:g}, {b:g}]" for a, b in RATING_SCALES)
    raise DataError(
        f"ratings span [{lowest['rating']:g} (line {lowest[LINE]}), {highest['rating']:g} (line {highest[LINE]})], "
        f"which fits no usual rating scale ({usual}); declare the scale with load.rating_range=[low,high]",
        path=path, line=highest[LINE], field="rating",
    )


def _interactions(
    path: Path, options: LoadOptions, issues: RowIssues
) -> tuple[pl.DataFrame, dict[str, object]]:
    """The interactions file parsed and checked; info about how it was read (CSV counts, rating range)."""
    encoding = options.encoding or ENCODING
    numeric = (options.column_map.get("rating", "rating"),)
    df, read_stats = read_table(
        path, encoding=encoding, separator=getattr(options, "separator", None), issues=issues, numeric=numeric
    )
    df = _rename(df, options.column_map, INTERACTIONS_SCHEMA)
    _require(df, ("user_id", "item_id", "rating", "timestamp"), options.column_map, path)
    df = _ids(df, "user_id", path=path, issues=issues)
    df = _ids(df, "item_id", path=path, issues=issues)
    df = _numeric(df, "rating", pl.Float64(), path=path, issues=issues, required=True)
    declared = getattr(options, "rating_range", None)
    low, high = declared or (_inferred_rating_range(df, path) if df.height else (0.0, 0.0))
    df = check_rating_range(df, low, high, path=path, issues=issues)
    df = _timestamps(df, path=path, issues=issues)
    if "helpful_votes" in df.columns:
        df = _numeric(df, "helpful_votes", pl.Int64(), path=path, issues=issues, required=False)
    info = {"read": {str(path): read_stats}, "rating_range": {"low": low, "high": high, "inferred": not declared}}
    return df, info


def _side_table(
    path: Path, key: str, schema: dict[str, pl.DataType], options: LoadOptions, issues: RowIssues
) -> pl.DataFrame:
    df, _ = read_table(
        path,
        encoding=options.encoding or ENCODING,
        separator=getattr(options, "separator", None),
        issues=issues,
    )
    df = _rename(df, options.column_map, schema)
    _require(df, (key,), options.column_map, path)
    df = _ids(df, key, path=path, issues=issues)
    for name, dtype in schema.items():
        if name not in df.columns or name == key:
            continue
        if isinstance(dtype, pl.List) and df.schema[name] == pl.String:
            df = df.with_columns(
                pl.col(name)
                .str.split(LIST_SEPARATOR)
                .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
            )
        elif dtype in (pl.Float64, pl.Int64):
            df = _numeric(df, name, dtype, path=path, issues=issues, required=False)
    bad_expr = ~pl.col(key).is_first_distinct()
    issues.report_rows(
        df.filter(bad_expr).with_columns(pl.col(key).alias("_value")),
        "duplicate id {value!r}",
        path=path,
        field=key,
    )
    df = df.filter(~bad_expr).drop(LINE)
    return conform(df, schema, table=key.removesuffix("_id") + "s", source=path)


def load_tabular(data_root: Path, options: LoadOptions) -> Dataset:
    """Interactions from `options.path` (.csv/.tsv[.gz]/.parquet) plus optional items/users files."""
    if options.path is None:
        raise ConfigError("the tabular loader needs options.path (a .csv, .tsv or .parquet file)")
    path = Path(options.path)
    if not path.is_absolute() and not path.exists():
        path = Path(data_root) / path
    issues = RowIssues(options.on_error)
    parsed, read_info = _interactions(path, options, issues)
    interactions, extra = finish_interactions(parsed, source=path, options=options, issues=issues)
    items_path: Path | None = getattr(options, "items_path", None)
    users_path: Path | None = getattr(options, "users_path", None)
    if items_path is not None:
        items = _side_table(Path(items_path), "item_id", ITEMS_SCHEMA, options, issues)
    else:
        items = conform(
            interactions.select("item_id").unique(maintain_order=True),
            ITEMS_SCHEMA,
            table="items",
            source=path,
        )
    if users_path is not None:
        users = _side_table(Path(users_path), "user_id", USERS_SCHEMA, options, issues)
    else:
        users = conform(
            interactions.select("user_id").unique(maintain_order=True),
            USERS_SCHEMA,
            table="users",
            source=path,
        )
    sources = {"interactions": str(path)}
    sources.update({name: str(p) for name, p in (("items", items_path), ("users", users_path)) if p is not None})
    return Dataset(
        name="tabular",
        interactions=interactions,
        items=items,
        users=users,
        info=build_info(sources=sources, issues=issues, extra={**read_info, **extra}),
    )
