"""Amazon Review Data 2018 (McAuley lab, 5-core JSON lines + `meta_*.json`) and Amazon Reviews 2023 (JSONL).

Records are parsed line by line (`json.loads`): review files mix optional keys (`vote`, `style`, `image`)
whose types vary, and a per-line parse names the exact line of every bad record. The review text is the
summary/title joined to the body ("Great. Works well"); the summary alone stays in the extra `summary` column.

Item tables cover the reviewed items only (a category's meta file describes many more); items without a meta
record carry only `item_id`. 2023 files use `parent_asin` as the item id and millisecond timestamps.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from rich.progress import Progress

from reasonrec.data.fetch import CHECKSUMS_FILE
from reasonrec.data.fields import parse_price
from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.common import (
    LINE,
    RowIssues,
    build_info,
    check_rating_range,
    dedupe_explicit,
    finish_interactions,
    iter_decoded_lines,
)
from reasonrec.data.schema import ITEMS_SCHEMA, USERS_SCHEMA, Dataset, conform
from reasonrec.errors import DataError

AMAZON_2018_FOLDER = "amazon-2018"
AMAZON_2023_FOLDER = "amazon-2023"
BEAUTY_RAW_FOLDER = "reasoningrec-beauty/raw"
BEAUTY_RAW_FILE = "All_Beauty_5.json"
RATING_RANGE = (1.0, 5.0)
ENCODING = "utf-8"
PROGRESS_MIN_BYTES = 50_000_000

_VOTE = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)$")
_REVIEW_SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json")


# --- small value parsers (public: property-tested) ----------------------------------------------------------


def parse_vote(value: object) -> int:
    """Helpful votes: absent → 0 (the 2018 files omit the key when nobody voted); '1,234' → 1234.

    Raises ValueError for anything else (a negative, fractional or non-numeric vote is corrupt input).
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"not a vote count: {value!r}")  # noqa: TRY004 - a data value, reported per row
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative vote count: {value}")
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and _VOTE.match(value.strip()):
        return int(value.strip().replace(",", ""))
    raise ValueError(f"not a vote count: {value!r}")


def join_review(summary: object, text: object) -> str | None:
    """'Five Stars' + 'As advertised.' → 'Five Stars. As advertised.'; either part may be missing."""
    head = summary.strip() if isinstance(summary, str) else ""
    body = text.strip() if isinstance(text, str) else ""
    if head and body:
        separator = " " if head[-1] in ".!?…" else ". "
        return head + separator + body
    return head or body or None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _integer(value: object) -> int | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        return "\n".join(parts) or None
    return None


def _strings(value: object) -> list[str] | None:
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    return None


# --- record readers ----------------------------------------------------------------------------------------


class _Skip(Exception):
    """A record is malformed; carries the field for the error message."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _records(path: Path, encoding: str, issues: RowIssues) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, JSON object) for every non-blank line; invalid JSON / non-objects are row issues."""
    lines = iter_decoded_lines(path, encoding, issues)
    size = path.stat().st_size
    progress = Progress(transient=True) if size >= PROGRESS_MIN_BYTES else None
    task = progress.add_task(f"reading {path.name}", total=None) if progress else None
    if progress:
        progress.start()
    try:
        for line, text in lines:
            if progress is not None and task is not None:
                progress.advance(task)
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                issues.report(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=line)
                continue
            if not isinstance(record, dict):
                issues.report(f"expected a JSON object, got {type(record).__name__}", path=path, line=line)
                continue
            yield line, record
    finally:
        if progress:
            progress.stop()


def _collect(
    path: Path,
    encoding: str,
    issues: RowIssues,
    convert: Callable[[dict[str, Any]], dict[str, Any]],
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for line, record in _records(path, encoding, issues):
        try:
            row = convert(record)
        except _Skip as skip:
            issues.report(skip.message, path=path, line=line, field=skip.field)
            continue
        row[LINE] = line
        rows.append(row)
    return pl.DataFrame(rows, schema={LINE: pl.Int64(), **schema})


def _require_id(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Skip("required field is missing or empty", key)
    if isinstance(value, (dict, list, bool, float)):
        raise _Skip(f"expected an id string, got {type(value).__name__}", key)
    return str(value).strip()


def _require_rating(record: dict[str, Any], key: str) -> float:
    if key not in record:
        raise _Skip("required field is missing", key)
    rating = _number(record[key])
    if rating is None:
        raise _Skip(f"not a valid number: {record[key]!r}", key)
    return rating


def _votes(record: dict[str, Any], key: str) -> int:
    try:
        return parse_vote(record.get(key))
    except ValueError as exc:
        raise _Skip(str(exc), key) from exc


REVIEW_COLUMNS: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "rating": pl.Float64(),
    "timestamp": pl.Int64(),
    "review": pl.String(),
    "helpful_votes": pl.Int64(),
    "summary": pl.String(),
    "verified": pl.Boolean(),
}


def _review_2018(record: dict[str, Any]) -> dict[str, Any]:
    timestamp = _integer(record.get("unixReviewTime"))
    if timestamp is None:
        raw_time = record.get("reviewTime")
        try:
            parsed = datetime.strptime(str(raw_time).strip(), "%m %d, %Y").replace(tzinfo=UTC)
        except ValueError as exc:
            field = "unixReviewTime" if "unixReviewTime" in record else "reviewTime"
            raise _Skip(
                f"no valid timestamp (unixReviewTime={record.get('unixReviewTime')!r})", field
            ) from exc
        timestamp = int(parsed.timestamp())
    verified = record.get("verified")
    return {
        "user_id": _require_id(record, "reviewerID"),
        "item_id": _require_id(record, "asin"),
        "rating": _require_rating(record, "overall"),
        "timestamp": timestamp,
        "review": join_review(record.get("summary"), record.get("reviewText")),
        "helpful_votes": _votes(record, "vote"),
        "summary": _text(record.get("summary")),
        "verified": verified if isinstance(verified, bool) else None,
    }


def _review_2023(record: dict[str, Any]) -> dict[str, Any]:
    millis = _integer(record.get("timestamp"))
    if millis is None:
        raise _Skip(f"not an integer millisecond timestamp: {record.get('timestamp')!r}", "timestamp")
    verified = record.get("verified_purchase")
    return {
        "user_id": _require_id(record, "user_id"),
        "item_id": _require_id(record, "parent_asin"),
        "rating": _require_rating(record, "rating"),
        "timestamp": millis // 1000,
        "review": join_review(record.get("title"), record.get("text")),
        "helpful_votes": _votes(record, "helpful_vote"),
        "summary": _text(record.get("title")),
        "verified": verified if isinstance(verified, bool) else None,
    }


META_2018_COLUMNS: dict[str, pl.DataType] = {
    "item_id": pl.String(),
    "title": pl.String(),
    "brand": pl.String(),
    "categories": pl.List(pl.String()),
    "price": pl.Float64(),
    "description": pl.String(),
    "main_category": pl.String(),
    "features": pl.List(pl.String()),
    "raw_price": pl.String(),
}

META_2023_COLUMNS: dict[str, pl.DataType] = {
    **META_2018_COLUMNS,
    "average_rating": pl.Float64(),
    "rating_number": pl.Int64(),
    "details": pl.String(),
}


def _raw_price(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:200]


def _meta_2018(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": _require_id(record, "asin"),
        "title": _text(record.get("title")),
        "brand": _text(record.get("brand")),
        "categories": _strings(record.get("category")),
        "price": parse_price(record.get("price")),
        "description": _text(record.get("description")),
        "main_category": _text(record.get("main_cat")),
        "features": _strings(record.get("feature")),
        "raw_price": _raw_price(record.get("price")),
    }


def _meta_2023(record: dict[str, Any]) -> dict[str, Any]:
    details = record.get("details")
    return {
        "item_id": _require_id(record, "parent_asin"),
        "title": _text(record.get("title")),
        "brand": _text(record.get("store")),
        "categories": _strings(record.get("categories")),
        "price": parse_price(record.get("price")),
        "description": _text(record.get("description")),
        "main_category": _text(record.get("main_category")),
        "features": _strings(record.get("features")),
        "raw_price": _raw_price(record.get("price")),
        "average_rating": _number(record.get("average_rating")),
        "rating_number": _integer(record.get("rating_number")),
        "details": json.dumps(details, ensure_ascii=False, sort_keys=True)
        if isinstance(details, dict)
        else None,
    }


# --- file discovery ----------------------------------------------------------------------------------------


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _REVIEW_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name


def _category(path: Path) -> str:
    stem = _stem(path)
    return stem.removesuffix("_5")


def _is_json(path: Path) -> bool:
    return path.is_file() and path.name.endswith(_REVIEW_SUFFIXES) and path.name != CHECKSUMS_FILE


def _review_files(folder: Path, category: str | None) -> list[Path]:
    """The folder's review files (of `category` when given); a category's 5-core file wins over its full file."""
    files = [p for p in sorted(folder.iterdir()) if _is_json(p) and not p.name.startswith("meta_")]
    if category is not None:
        files = [p for p in files if _category(p) == category]
    five_core = [p for p in files if _stem(p).endswith("_5")]
    return five_core or files


def find_files(path: Path, category: str | None = None) -> tuple[Path, Path | None]:
    """(reviews file, meta file or None) for a file or a folder; ambiguity is an error, not a guess.

    A folder may hold several categories (`data download` puts every category of a release in one folder):
    `category` (`Books`, as the publisher spells it) picks one; without it the folder must hold exactly one.
    """
    if path.is_file():
        reviews = path
        if category is not None and _category(reviews) != category:
            raise DataError(f"this is a {_category(reviews)!r} file but load.category={category!r}", path=path)
        candidates = [p for p in sorted(path.parent.iterdir()) if _is_json(p) and p.name.startswith("meta_")]
    elif path.is_dir():
        candidates = [p for p in sorted(path.iterdir()) if _is_json(p) and p.name.startswith("meta_")]
        review_files = _review_files(path, category)
        if not review_files:
            present = sorted({_category(p) for p in _review_files(path, None)})
            wanted = f" of category {category!r} (present: {', '.join(present) or 'none'})" if category else ""
            raise DataError(f"no review file{wanted} (*.json, *.jsonl, optionally .gz) in folder", path=path)
        if len(review_files) > 1:
            names = ", ".join(p.name for p in review_files)
            raise DataError(f"several review files ({names}); set load.category to one of "
                            f"{sorted({_category(p) for p in review_files})} or options.path to one file", path=path)
        reviews = review_files[0]
    else:
        raise DataError("Amazon review file or folder not found (set options.path)", path=path)
    matching = [p for p in candidates if _stem(p) == f"meta_{_category(reviews)}"]
    if matching:
        return reviews, matching[0]
    if path.is_dir() and category is None and len(candidates) == 1:
        return reviews, candidates[0]
    return reviews, None


# --- assembling the dataset --------------------------------------------------------------------------------


def _load(
    name: str,
    reviews_path: Path,
    meta_path: Path | None,
    *,
    options: LoadOptions,
    review_parser: Callable[[dict[str, Any]], dict[str, Any]],
    meta_parser: Callable[[dict[str, Any]], dict[str, Any]],
    meta_columns: dict[str, pl.DataType],
    default_dedupe: str | None = None,
) -> Dataset:
    issues = RowIssues(options.on_error)
    encoding = options.encoding or ENCODING
    reviews = _collect(reviews_path, encoding, issues, review_parser, REVIEW_COLUMNS)
    reviews = check_rating_range(reviews, *RATING_RANGE, path=reviews_path, issues=issues)
    dedupe = None if dedupe_explicit(options) else default_dedupe
    interactions, extra = finish_interactions(
        reviews, source=reviews_path, options=options, issues=issues, dedupe=dedupe
    )
    if dedupe is not None:
        extra["dedupe"] = dedupe
    reviewed = interactions.select("item_id").unique(maintain_order=True)
    if meta_path is not None:
        meta = _collect(meta_path, encoding, issues, meta_parser, meta_columns)
        meta = meta.unique(subset="item_id", keep="first", maintain_order=True).drop(LINE)
        items = reviewed.join(meta, on="item_id", how="left", maintain_order="left")
        extra["items_without_meta"] = reviewed.height - reviewed.join(meta, on="item_id", how="semi").height
        extra["unparsed_prices"] = items.filter(
            pl.col("raw_price").is_not_null() & pl.col("price").is_null()
        ).height
    else:
        items = reviewed
        extra["items_without_meta"] = reviewed.height
    users = interactions.select("user_id").unique(maintain_order=True)
    sources = {"interactions": str(reviews_path), **({"items": str(meta_path)} if meta_path else {})}
    return Dataset(
        name=name,
        interactions=interactions,
        items=conform(items, ITEMS_SCHEMA, table="items", source=meta_path or reviews_path),
        users=conform(users, USERS_SCHEMA, table="users", source=reviews_path),
        info=build_info(sources=sources, issues=issues, extra=extra),
    )


def _load_release(
    name: str,
    folder: str,
    data_root: Path,
    options: LoadOptions,
    *,
    review_parser: Callable[[dict[str, Any]], dict[str, Any]],
    meta_parser: Callable[[dict[str, Any]], dict[str, Any]],
    meta_columns: dict[str, pl.DataType],
) -> Dataset:
    """One Amazon release: `options.path` (a review file or a folder) or `<data_root>/<folder>`."""
    reviews, meta = find_files(Path(options.path) if options.path else Path(data_root) / folder, options.category)
    return _load(name, reviews, meta, options=options, review_parser=review_parser, meta_parser=meta_parser,
                 meta_columns=meta_columns)


def load_amazon_2018(data_root: Path, options: LoadOptions) -> Dataset:
    """Amazon Review Data 2018: `options.path` = a review file or a folder with `*_5.json` + `meta_*.json`
    (default `<data_root>/amazon-2018`, where `data download` puts them; `options.category` picks one)."""
    return _load_release("amazon-2018", AMAZON_2018_FOLDER, data_root, options, review_parser=_review_2018,
                         meta_parser=_meta_2018, meta_columns=META_2018_COLUMNS)


def load_amazon_2023(data_root: Path, options: LoadOptions) -> Dataset:
    """Amazon Reviews 2023: `options.path` = a reviews `.jsonl[.gz]` or a folder with it + `meta_*.jsonl[.gz]`
    (default `<data_root>/amazon-2023`, where `data download` puts them; `options.category` picks one)."""
    return _load_release("amazon-2023", AMAZON_2023_FOLDER, data_root, options, review_parser=_review_2023,
                         meta_parser=_meta_2023, meta_columns=META_2023_COLUMNS)


def load_amazon_beauty_raw(data_root: Path, options: LoadOptions) -> Dataset:
    """The 2018 All_Beauty 5-core file shipped with ReasoningRec (no meta file beside it).

    The file repeats (user, item, timestamp) for ~1,100 rows (same review re-posted with small edits), so the
    default here is `dedupe="keep_first"` (recorded in info) unless the caller sets `options.dedupe`.
    """
    path = Path(options.path) if options.path else Path(data_root) / BEAUTY_RAW_FOLDER / BEAUTY_RAW_FILE
    reviews, meta = find_files(path, options.category)
    return _load(
        "amazon-beauty-raw",
        reviews,
        meta,
        options=options,
        review_parser=_review_2018,
        meta_parser=_meta_2018,
        meta_columns=META_2018_COLUMNS,
        default_dedupe="keep_first",
    )
