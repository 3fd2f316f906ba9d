"""The canonical tables every loader returns and every stage consumes.

Nothing downstream of a loader knows the source format: ids are strings, ratings floats, timestamps integer
unix seconds. Optional columns are present (possibly all-null) so stages never branch on their existence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import DataError

INTERACTIONS_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "rating": pl.Float64(),
    "timestamp": pl.Int64(),
    "review": pl.String(),
    "helpful_votes": pl.Int64(),
}

ITEMS_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.String(),
    "title": pl.String(),
    "brand": pl.String(),
    "categories": pl.List(pl.String()),
    "price": pl.Float64(),
    "description": pl.String(),
    "genres": pl.List(pl.String()),
    "year": pl.Int64(),
}

USERS_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String()}

TARGET_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "rating": pl.Float64(),
    "timestamp": pl.Int64(),
    "label": pl.Int64(),
    "history_item_ids": pl.List(pl.String()),
    "history_ratings": pl.List(pl.Float64()),
    "history_labels": pl.List(pl.Int64()),
    "split": pl.String(),
}
"""The target table every split strategy emits (and CTR baselines / LLM prompts consume): label = rating > r_T
(null without a threshold); history is chronological, oldest first, and never holds the target itself."""

REQUIRED_INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType], *, table: str, source: str | Path) -> pl.DataFrame:
    """Cast `df` to the canonical schema: add missing optional columns as nulls, put canonical columns first.

    Extra columns are kept after the canonical ones (e.g. users' age/gender, items' imdb_url).
    """
    out = df
    for name, dtype in schema.items():
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(name))
        elif out.schema[name] != dtype:
            try:
                out = out.with_columns(pl.col(name).cast(dtype, strict=True))
            except Exception as exc:  # polars raises several types on failed casts
                raise DataError(f"{table}: cannot cast column to {dtype}: {exc}", path=source, field=name) from exc
    extras = [c for c in out.columns if c not in schema]
    return out.select([*schema.keys(), *extras])


def validate_interactions(df: pl.DataFrame, *, source: str | Path, allow_duplicates: bool = False) -> None:
    """Raise DataError on missing required columns, null ids/ratings or duplicate (user, item, timestamp) rows."""
    for col in REQUIRED_INTERACTION_COLUMNS:
        if col not in df.columns:
            raise DataError("required column is missing", path=source, field=col)
    for col in ("user_id", "item_id", "rating"):
        nulls = df.with_row_index("_row").filter(pl.col(col).is_null())
        if nulls.height:
            raise DataError(
                f"{nulls.height} null value(s); first at data row {int(nulls['_row'][0]) + 1}",
                path=source, line=int(nulls["_row"][0]) + 1, field=col,
            )
    if not allow_duplicates:
        dup = df.with_row_index("_row").filter(
            pl.struct("user_id", "item_id", "timestamp").is_duplicated()
        )
        if dup.height:
            first = dup.row(0, named=True)
            raise DataError(
                f"{dup.height} duplicate (user_id, item_id, timestamp) rows, e.g. user {first['user_id']!r} "
                f"item {first['item_id']!r} at data row {first['_row'] + 1}",
                path=source, line=first["_row"] + 1, field="user_id,item_id,timestamp",
            )


@dataclass
class Dataset:
    """Canonical tables plus optional artefact tables released with a dataset (descriptions, profiles, …).

    `artefacts` maps a name (e.g. "item_descriptions", "user_profiles", "teacher_reasoning") to a typed table;
    `splits` holds release-defined split tables when the source ships them; `info` carries loader notes
    (duplicate counts, skipped rows) that reports surface.
    """

    name: str
    interactions: pl.DataFrame
    items: pl.DataFrame
    users: pl.DataFrame
    artefacts: dict[str, pl.DataFrame] = field(default_factory=dict)
    splits: dict[str, pl.DataFrame] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)


class TextCaps(Config):
    """Longest text (in characters) a canonical field may carry after loading; longer values are cut and counted.

    Raw metadata carries junk (an Amazon release category has item titles of 400k+ characters of HTML) that
    would blow every prompt built from it, possibly only after hours of training. The defaults sit well above
    every real value in the shipped datasets (Beauty titles <= 436, reviews <= 5,214 characters). `other`
    applies to every remaining text column of interactions, items and users except ids; null = no cap.
    """

    title: int | None = Field(1_000, ge=1)
    brand: int | None = Field(200, ge=1)
    description: int | None = Field(5_000, ge=1)
    review: int | None = Field(10_000, ge=1)
    other: int | None = Field(20_000, ge=1)

    def cap_for(self, column: str) -> int | None:
        if column.endswith("_id"):
            return None
        named = type(self).model_fields.keys() - {"other"}
        return getattr(self, column) if column in named else self.other


def cap_text_fields(dataset: Dataset, caps: TextCaps) -> Dataset:
    """Cut over-long text values of the canonical tables to `caps`; `info["text_caps"]` records caps and counts.

    Every loader's result passes through here (`load_dataset`), so no loader needs its own limit.
    """
    capped: dict[str, int] = {}
    tables: dict[str, pl.DataFrame] = {}
    for name in ("interactions", "items", "users"):
        table: pl.DataFrame = getattr(dataset, name)
        cuts = []
        for column, dtype in table.schema.items():
            limit = caps.cap_for(column)
            if limit is None or dtype != pl.String:
                continue
            over = int((table[column].str.len_chars() > limit).sum())
            if over:
                capped[f"{name}.{column}"] = over
                cuts.append(pl.col(column).str.slice(0, limit))
        tables[name] = table.with_columns(cuts) if cuts else table
    info = {**dataset.info, "text_caps": {"caps": caps.model_dump(), "capped": capped}}
    return replace(dataset, **tables, info=info)
