"""Canonical tables of a rating release (the authors' Amazon categories: Beauty, Fashion, ...).

Ids are the release's integer indices as strings; `*_idx_mapping.json` gives each one's ASIN / reviewerID (kept as
`asin` / `reviewer_id` columns). `items.description` stays the *metadata* description, which these releases do not
have (null): the LLM descriptions are the `item_descriptions` artefact. Review text comes from the category's raw
Amazon file when the release ships one (Beauty's covers 85 ASINs); without it reviews are null and `info` says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from reasonrec.data.fields import parse_price
from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.reasoningrec.layout import PARTS, ReleaseFiles
from reasonrec.data.loaders.reasoningrec.windows import PairLookup
from reasonrec.data.loaders.release_files import index_order, read_json, string_dict_table
from reasonrec.data.schema import (
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    USERS_SCHEMA,
    conform,
    validate_interactions,
)
from reasonrec.errors import DataError

_RATINGS_SCHEMA = {"item": pl.String, "user": pl.String, "rating": pl.Float64, "timestamp": pl.Int64}


def rating_release_tables(
    files: ReleaseFiles, options: LoadOptions, info: dict[str, object]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, PairLookup]:
    """(interactions, items, users, the first-row-per-pair lookup the release windows resolve through)."""
    idx_item = read_json(files.one("item_index"), PARTS["item_index"].expected)
    idx_user = read_json(files.one("user_index"), PARTS["user_index"].expected)
    interactions, lookup = _interactions(files, idx_item, idx_user, options, info)
    items = _items(files.one("item_information"), idx_item, info)
    users = conform(
        pl.DataFrame({"user_id": sorted(idx_user, key=index_order)}).with_columns(
            pl.col("user_id").replace_strict(idx_user, return_dtype=pl.String).alias("reviewer_id")
        ),
        USERS_SCHEMA, table="users", source=files.one("user_index"),
    )
    return interactions, items, users, lookup


def _interactions(
    files: ReleaseFiles, idx_item: dict[str, str], idx_user: dict[str, str], options: LoadOptions,
    info: dict[str, object],
) -> tuple[pl.DataFrame, PairLookup]:
    """ratings.csv → canonical interactions (+ review text from the raw reviews when shipped) and the pair lookup.

    Duplicates: the release holds exact duplicate rows (the same review listed once per product variant).
    They are dropped keeping the first occurrence in file order. A few (user, item, timestamp) keys then still
    carry two different ratings; we keep the first row in file order (`options.dedupe="keep_last"` keeps the
    last instead) — first-in-file is also the rule the authors' own labels follow (see `windows`).
    """
    path = files.one("ratings")
    try:
        raw = pl.read_csv(path, schema_overrides=_RATINGS_SCHEMA)
    except Exception as exc:  # polars raises several error types for malformed CSV
        raise DataError(f"cannot parse CSV: {exc}", path=path) from exc
    for column in _RATINGS_SCHEMA:
        if column not in raw.columns:
            raise DataError("required column is missing", path=path, field=column)
    raw = raw.with_row_index("_file_row")
    first = raw.unique(subset=["user", "item"], keep="first", maintain_order=True)
    lookup = {(u, i): (r, t) for u, i, r, t in first.select("user", "item", "rating", "timestamp").iter_rows()}

    exact = raw.unique(subset=["user", "item", "rating", "timestamp"], keep="first", maintain_order=True)
    keep = "last" if options.dedupe == "keep_last" else "first"
    dedup = exact.unique(subset=["user", "item", "timestamp"], keep=keep, maintain_order=True)
    info["ratings_rows_in_file"] = raw.height
    info["exact_duplicate_rows_dropped"] = raw.height - exact.height
    info["conflicting_rating_rows_dropped"] = exact.height - dedup.height
    info["dedupe_rule"] = (
        "exact duplicate rows of ratings.csv dropped keeping the first in file order; rows with the same "
        f"(user, item, timestamp) but different ratings resolved keeping the {keep} in file order"
    )
    repeats = dedup.group_by("user", "item").len().filter(pl.col("len") > 1)
    info["repeated_user_item_rows_at_distinct_times"] = int((repeats["len"] - 1).sum())

    unknown_items = sorted(set(dedup["item"]) - set(idx_item), key=index_order)
    unknown_users = sorted(set(dedup["user"]) - set(idx_user), key=index_order)
    if unknown_items or unknown_users:
        raise DataError(
            f"ids missing from *_idx_mapping.json: items {unknown_items[:5]}, users {unknown_users[:5]}",
            path=path, field="item" if unknown_items else "user",
        )
    table = dedup.select(
        pl.col("user").alias("user_id"),
        pl.col("item").alias("item_id"),
        "rating",
        "timestamp",
        pl.col("user").replace_strict(idx_user, return_dtype=pl.String).alias("reviewer_id"),
        pl.col("item").replace_strict(idx_item, return_dtype=pl.String).alias("asin"),
    )
    table = _attach_reviews(table, files.optional("raw_reviews"), info)
    table = conform(table, INTERACTIONS_SCHEMA, table="interactions", source=path)
    validate_interactions(table, source=path)
    return table, lookup


def _raw_review_records(raw_path: Path) -> dict[tuple[str, str, int, float], tuple[str | None, str | None, int | None]]:
    """(reviewerID, asin, unixReviewTime, overall) → (reviewText, summary, votes); the first record per key."""
    records: dict[tuple[str, str, int, float], tuple[str | None, str | None, int | None]] = {}
    with raw_path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = (rec["reviewerID"], rec["asin"], int(rec["unixReviewTime"]), float(rec["overall"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise DataError(f"malformed review record: {exc!r}", path=raw_path, line=number) from exc
            if key in records:
                continue
            vote = rec.get("vote")
            votes = int(str(vote).replace(",", "")) if vote not in (None, "") else None
            records[key] = (rec.get("reviewText"), rec.get("summary"), votes)
    return records


def _attach_reviews(table: pl.DataFrame, raw_path: Path | None, info: dict[str, object]) -> pl.DataFrame:
    """Join review text, summary and helpful votes from the raw reviews by (reviewerID, asin, time, rating).

    The raw file repeats reviews per product variant; the first raw record per key (file order) is used.
    Without a raw file every row keeps null reviews, and `info["raw_reviews"]` says the file was absent.
    """
    records = _raw_review_records(raw_path) if raw_path is not None else {}
    keys = table.select("reviewer_id", "asin", "timestamp", "rating").iter_rows()
    found = [records.get((u, i, int(t), float(r))) for u, i, t, r in keys]
    info["raw_reviews"] = raw_path.name if raw_path is not None else None
    info["review_text_matched_rows"] = sum(f is not None for f in found)
    info["raw_review_records"] = len(records)
    return table.with_columns(
        pl.Series("review", [f[0] if f else None for f in found], dtype=pl.String),
        pl.Series("helpful_votes", [f[2] if f else None for f in found], dtype=pl.Int64),
        pl.Series("summary", [f[1] if f else None for f in found], dtype=pl.String),
    )


def _items(path: Path, idx_item: dict[str, str], info: dict[str, object]) -> pl.DataFrame:
    data = read_json(path, PARTS["item_information"].expected)
    ids = sorted(data, key=index_order)
    for item_id in ids:
        if not isinstance(data[item_id], dict):
            raise DataError("item record is not an object", path=path, field=item_id)
    brands = [data[i].get("brand") or None for i in ids]
    prices = [parse_price(data[i].get("price")) for i in ids]
    info["items_price_unparsed"] = sum(p is None for p in prices)
    info["items_brand_missing"] = sum(b is None for b in brands)
    table = pl.DataFrame(
        {
            "item_id": ids,
            "title": [data[i].get("title") or None for i in ids],
            "brand": brands,
            "price": prices,
            "asin": [idx_item.get(i) for i in ids],
        },
        schema={"item_id": pl.String(), "title": pl.String(), "brand": pl.String(), "price": pl.Float64(),
                "asin": pl.String()},
    )
    return conform(table, ITEMS_SCHEMA, table="items", source=path)


def rating_release_artefacts(files: ReleaseFiles, generator: str, info: dict[str, object]) -> dict[str, pl.DataFrame]:
    """Item descriptions, both kinds of user profile and the profiles' item histories, where shipped.

    `generator` names the model that wrote them (a release fact the files do not state), for `source`."""
    artefacts: dict[str, pl.DataFrame] = {}
    path = files.optional("item_descriptions")
    if path is not None:
        descriptions = string_dict_table(path, PARTS["item_descriptions"].expected, "item_id")
        artefacts["item_descriptions"] = descriptions.with_columns(pl.lit(f"{generator}:{path.name}").alias("source"))
        item_info = read_json(files.one("item_information"), PARTS["item_information"].expected)
        same = sum(
            1 for k, v in zip(descriptions["item_id"], descriptions["text"])
            if isinstance(item_info.get(k), dict) and item_info[k].get("description") == v
        )
        info["item_descriptions"] = {
            "count": descriptions.height,
            "identical_copy_in_processed_item_information": same,
            "items_without_description": sum(1 for v in item_info.values() if not (v or {}).get("description")),
        }
    for name in ("user_profiles", "user_profiles_wo_description"):
        path = files.optional(name)
        if path is not None:
            artefacts[name] = string_dict_table(path, PARTS[name].expected)
    path = files.optional("profile_history")
    if path is not None:
        history = read_json(path, PARTS["profile_history"].expected)
        keys = sorted(history, key=index_order)
        artefacts["profile_history"] = pl.DataFrame(
            {"user_id": keys, "item_ids": [[str(i) for i in history[k]] for k in keys]},
            schema={"user_id": pl.String(), "item_ids": pl.List(pl.String())},
        )
    return artefacts


__all__ = ["rating_release_artefacts", "rating_release_tables"]
