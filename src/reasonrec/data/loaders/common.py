"""Pieces every raw-format loader needs: exact-line decoding, field splitting, row-issue handling, dedupe.

Loaders keep a private `_line` column (1-based line of the source file) on every parsed row until the very
end, so any problem found after a fast vectorised parse still names the exact line. `finish_interactions`
drops it after deduplication and validation.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.schema import INTERACTIONS_SCHEMA, conform, validate_interactions
from reasonrec.errors import DataError

LINE = "_line"
DEDUPE_KEY = ("user_id", "item_id", "timestamp")
MAX_REASONS = 10


@dataclass
class RowIssues:
    """Collects malformed-row problems: raises at the first one, or (on_error="skip") counts and keeps a few."""

    on_error: str = "raise"
    count: int = 0
    reasons: list[str] = field(default_factory=list)

    def report(
        self, message: str, *, path: str | Path, line: int | None = None, field: str | None = None
    ) -> None:
        error = DataError(message, path=path, line=line, field=field)
        if self.on_error != "skip":
            raise error
        self.count += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(str(error))

    def report_rows(self, bad: pl.DataFrame, message: str, *, path: str | Path, field: str | None) -> None:
        """Report every row of `bad` (needs `_line`; `message` may use {value} from column `_value`)."""
        if bad.height == 0:
            return
        for row in bad.sort(LINE).iter_rows(named=True):
            value = row.get("_value")
            self.report(message.format(value=value), path=path, line=row[LINE], field=field)

    def as_info(self) -> dict[str, object]:
        return {"count": self.count, "reasons": list(self.reasons)}


def open_bytes(path: Path) -> bytes:
    """Whole file as bytes; `.gz` files are decompressed transparently."""
    if not path.is_file():
        raise DataError("file not found", path=path)
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        except (OSError, EOFError) as exc:
            raise DataError(f"cannot decompress gzip file: {exc}", path=path) from exc
    return path.read_bytes()


def check_encoding(encoding: str, path: Path) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise DataError(
            f"unknown encoding {encoding!r} (options.encoding)", path=path, field="encoding"
        ) from exc


def _decode_hint(exc: UnicodeDecodeError, encoding: str) -> str:
    byte = exc.object[exc.start : exc.start + 1].hex()
    return (
        f"cannot decode byte 0x{byte} as {encoding}; the file may use another encoding — "
        f"set options.encoding (e.g. 'latin-1' or 'cp1252')"
    )


def iter_decoded_lines(path: Path, encoding: str, issues: RowIssues) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text without line ending), skipping blank lines.

    Used by the JSON-lines loaders, which parse record by record anyway.
    """
    check_encoding(encoding, path)
    data = open_bytes(path)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            issues.report(_decode_hint(exc, encoding), path=path, line=number, field="encoding")
            continue
        yield number, text.rstrip("\r")


def read_lines(path: Path, encoding: str, issues: RowIssues) -> pl.DataFrame:
    """The file as a table of (`_line`, `raw`) with exact 1-based line numbers; blank lines dropped.

    Decodes the whole file in one call (fast path); on a decode error falls back to line-by-line decoding
    so the error (or skip) names the exact line.
    """
    check_encoding(encoding, path)
    data = open_bytes(path)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        lines = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                lines.append(raw.decode(encoding))
            except UnicodeDecodeError as exc:
                issues.report(_decode_hint(exc, encoding), path=path, line=number, field="encoding")
                lines.append("")  # keep numbering; the blank line is dropped below
        text = "\n".join(lines)
    # Split in Rust (one huge string → one row per line) so line numbers are the row positions.
    table = (
        pl.DataFrame({"raw": [text]}, schema={"raw": pl.String()})
        .select(pl.col("raw").str.split("\n"))
        .explode("raw")
        .with_row_index(LINE, offset=1)
    )
    return table.with_columns(pl.col(LINE).cast(pl.Int64), pl.col("raw").str.strip_suffix("\r")).filter(
        pl.col("raw").str.strip_chars() != ""
    )


def split_fields(
    lines: pl.DataFrame, separator: str, names: list[str], *, path: Path, issues: RowIssues
) -> pl.DataFrame:
    """Split `raw` on a literal separator into string columns `names`; wrong field counts are row issues."""
    counts = pl.col("raw").str.count_matches(separator, literal=True) + 1
    bad = lines.filter(counts != len(names)).with_columns(counts.alias("_value"))
    issues.report_rows(
        bad,
        f"expected {len(names)} fields separated by {separator!r}, found {{value}}",
        path=path,
        field=None,
    )
    good = lines.filter(counts == len(names))
    fields = pl.col("raw").str.split_exact(separator, len(names) - 1)
    return good.select(LINE, fields.struct.rename_fields(names).alias("_f")).unnest("_f")


def cast_column(
    df: pl.DataFrame,
    column: str,
    dtype: pl.DataType,
    *,
    path: Path,
    issues: RowIssues,
    required: bool = True,
    what: str = "number",
) -> pl.DataFrame:
    """Cast a string column; values that do not parse (or are empty when required) are row issues."""
    stripped = pl.col(column).str.strip_chars()
    casted = stripped.cast(dtype, strict=False)
    empty = stripped.is_null() | (stripped == "")
    bad_expr = casted.is_null() & (~empty | pl.lit(required))
    bad = df.filter(bad_expr).with_columns(pl.col(column).alias("_value"))
    issues.report_rows(bad, f"not a valid {what}: {{value!r}}", path=path, field=column)
    return df.filter(~bad_expr).with_columns(pl.when(empty).then(None).otherwise(casted).alias(column))


def check_rating_range(
    df: pl.DataFrame, low: float | None, high: float | None, *, path: Path, issues: RowIssues
) -> pl.DataFrame:
    """Drop (or raise on) ratings that are NaN/inf or outside [low, high]."""
    rating = pl.col("rating")
    bad_expr = rating.is_nan() | rating.is_infinite()
    if low is not None:
        bad_expr = bad_expr | (rating < low)
    if high is not None:
        bad_expr = bad_expr | (rating > high)
    bad_expr = bad_expr.fill_null(False)
    bad = df.filter(bad_expr).with_columns(rating.alias("_value"))
    bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
    issues.report_rows(bad, f"rating {{value}} outside {bounds}", path=path, field="rating")
    return df.filter(~bad_expr)


RATING_SCALES: tuple[tuple[float, float], ...] = (
    (0, 1), (1, 5), (0.5, 5), (0, 5), (1, 7), (1, 10), (0.5, 10), (0, 10),
)
"""Usual rating scales, one of which a file without a declared `rating_range` must come from."""
BULK_SHARE = 0.9
MAX_WIDENING = 2.5


def _width(scale: tuple[float, float]) -> float:
    return scale[1] - scale[0]


def infer_rating_range(ratings: pl.Series) -> tuple[float, float] | None:
    """The usual rating scale the finite ratings come from (None: none fits); values outside it are errors.

    The scale is the narrowest usual one holding every rating, unless that is more than 2.5x wider than the
    narrowest one holding 90% of them: a stray 9 among 1-5 stars is junk, not evidence of a 1-10 scale,
    while a few 0.5s among 1-5 stars are a half-star scale. A 99 or a -3 fits no usual scale at all.
    """
    finite = ratings.filter(ratings.is_finite())
    if finite.len() == 0:
        return None
    scales = sorted(RATING_SCALES, key=_width)
    low, high = float(finite.min()), float(finite.max())
    holds_all = next((s for s in scales if s[0] <= low and high <= s[1]), None)
    holds_bulk = next((s for s in scales if float(finite.is_between(*s).mean()) >= BULK_SHARE), None)
    if holds_all is not None and (holds_bulk is None or _width(holds_all) <= MAX_WIDENING * _width(holds_bulk)):
        chosen = holds_all
    else:
        chosen = holds_bulk
    return None if chosen is None else (float(chosen[0]), float(chosen[1]))


def check_timestamps(
    df: pl.DataFrame, low: int, high: int, *, path: Path, issues: RowIssues
) -> pl.DataFrame:
    """Drop (or raise on) timestamps outside [low, high] unix seconds; a hint names milliseconds when likely."""
    ts = pl.col("timestamp")
    bad_expr = ((ts < low) | (ts > high)).fill_null(False)
    bad = df.filter(bad_expr).with_columns(ts.alias("_value"))
    if bad.height:
        hint = " (milliseconds? timestamps are unix seconds)" if int(bad["_value"].max()) > high * 100 else ""
        issues.report_rows(
            bad, f"timestamp {{value}} outside [{low}, {high}] unix seconds{hint}; "
                 f"set options.timestamp_range to accept it", path=path, field="timestamp",
        )
    return df.filter(~bad_expr)


def is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def finish_interactions(
    df: pl.DataFrame,
    *,
    source: Path,
    options: LoadOptions,
    issues: RowIssues,
    dedupe: str | None = None,
) -> tuple[pl.DataFrame, dict[str, object]]:
    """Conform, bound timestamps, handle duplicate (user, item, timestamp) rows per `options.dedupe`, validate.

    `dedupe` overrides `options.dedupe` (a loader may pick a documented default for a source known to contain
    duplicates, when the caller did not set one). Returns the table (without `_line`) and info entries.
    """
    mode = dedupe or options.dedupe
    info: dict[str, object] = {}
    if LINE not in df.columns:
        df = df.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    df = conform(df, INTERACTIONS_SCHEMA, table="interactions", source=source)
    df = check_timestamps(df, *options.timestamp_range, path=source, issues=issues)
    key = list(DEDUPE_KEY)
    if not df[LINE].is_sorted():
        df = df.sort(LINE)
    later = df.filter(~pl.struct(key).is_first_distinct())
    if later.height:
        if mode == "error":
            first_lines = df.group_by(key).agg(pl.col(LINE).min().alias("_first"))
            later = later.join(first_lines, on=key, how="left", nulls_equal=True)
            for row in later.iter_rows(named=True):
                issues.report(
                    f"duplicate (user_id, item_id, timestamp) = ({row['user_id']!r}, {row['item_id']!r}, "
                    f"{row['timestamp']}) first seen at line {row['_first']}; set options.dedupe to "
                    f"'keep_first' or 'keep_last' to drop duplicates",
                    path=source,
                    line=row[LINE],
                    field="user_id,item_id,timestamp",
                )
            df = df.unique(subset=key, keep="first", maintain_order=True)
        else:
            keep = "first" if mode == "keep_first" else "last"
            before = df.height
            df = df.unique(subset=key, keep=keep, maintain_order=True).sort(LINE)
            info["duplicates_dropped"] = before - df.height
    df = df.drop(LINE)
    if df.height == 0:
        raise DataError(f"no valid interactions ({issues.count} row(s) skipped)", path=source)
    validate_interactions(df, source=source)
    return df, info


def build_info(
    *, sources: dict[str, str], issues: RowIssues, extra: dict[str, object] | None = None
) -> dict[str, object]:
    info: dict[str, object] = {"sources": sources, "skipped": issues.as_info()}
    if extra:
        info.update(extra)
    return info


def dedupe_explicit(options: LoadOptions) -> bool:
    """Whether the caller chose `dedupe` (so a loader must not substitute its own default)."""
    return "dedupe" in options.model_fields_set
