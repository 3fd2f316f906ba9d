"""Prompt contexts from tables: canonical items + artefact tables (descriptions, profiles) → ItemView/HistoryEntry.

Stages never look at raw rows when rendering: they ask an `ItemCatalog` for the view of an item or of a
history window, so every method shows an item the same way. A generated/released item description (the
`item_descriptions` artefact: item_id, text) takes the place of the metadata description when present, because
that is what ReasoningRec's prompts call "Description"; items without one fall back to the metadata field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reasonrec.errors import DataError
from reasonrec.prompts import HistoryEntry, ItemView


def _clean_text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _seq(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value if v is not None)


def text_map(table: pl.DataFrame | None, key: str, text_column: str = "text") -> dict[str, str]:
    """key → whitespace-normalised text, skipping null/empty texts (artefact tables such as profiles)."""
    if table is None:
        return {}
    for col in (key, text_column):
        if col not in table.columns:
            raise DataError(f"artefact table has no {col!r} column (columns: {table.columns})", field=col)
    out: dict[str, str] = {}
    for k, t in table.select(key, text_column).iter_rows():
        cleaned = _clean_text(t)
        if k is not None and cleaned is not None:
            out[str(k)] = cleaned
    return out


@dataclass
class ItemCatalog:
    """Item metadata rows by id plus optional generated descriptions; builds prompt views."""

    rows: dict[str, dict[str, Any]]
    descriptions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, items: pl.DataFrame, descriptions: pl.DataFrame | None = None) -> ItemCatalog:
        if "item_id" not in items.columns:
            raise DataError("items table has no 'item_id' column", field="item_id")
        rows = {str(r["item_id"]): r for r in items.iter_rows(named=True)}
        return cls(rows=rows, descriptions=text_map(descriptions, "item_id"))

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.rows

    def view(self, item_id: str, *, generated_description: bool = True) -> ItemView:
        """The item as a prompt sees it; unknown ids render as their id (never a crash mid-run)."""
        row = self.rows.get(item_id)
        if row is None:
            return ItemView(title=f"item {item_id}", description=self.descriptions.get(item_id))
        description = self.descriptions.get(item_id) if generated_description else None
        if description is None:
            description = _clean_text(row.get("description"))
        price = row.get("price")
        year = row.get("year")
        return ItemView(
            title=_clean_text(row.get("title")) or f"item {item_id}",
            brand=_clean_text(row.get("brand")),
            price=float(price) if price is not None else None,
            year=int(year) if year is not None else None,
            genres=_seq(row.get("genres")),
            categories=_seq(row.get("categories")),
            description=description,
        )

    def entry(
        self, item_id: str, *, liked: bool, rating: float | None = None, review: str | None = None,
        generated_description: bool = True,
    ) -> HistoryEntry:
        v = self.view(item_id, generated_description=generated_description)
        return HistoryEntry(
            title=v.title, brand=v.brand, price=v.price, year=v.year, genres=v.genres, categories=v.categories,
            description=v.description, liked=liked, rating=rating, review=review,
        )

    def history(
        self,
        item_ids: Sequence[str],
        labels: Sequence[int | None] | None = None,
        ratings: Sequence[float | None] | None = None,
        *,
        like_threshold: float = 3.0,
    ) -> list[HistoryEntry]:
        """History entries oldest first; `liked` from labels when given, else rating > like_threshold."""
        out = []
        for pos, item_id in enumerate(item_ids):
            rating = ratings[pos] if ratings is not None and pos < len(ratings) else None
            label = labels[pos] if labels is not None and pos < len(labels) else None
            if label is None:
                label = int(rating is not None and rating > like_threshold)
            out.append(self.entry(str(item_id), liked=bool(label), rating=rating))
        return out


def target_rows(targets: pl.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of a target table (contract: user_id, item_id, rating, label, history_* lists, split) as dicts."""
    needed = ("user_id", "item_id", "history_item_ids")
    for col in needed:
        if col not in targets.columns:
            raise DataError(f"target table has no {col!r} column (columns: {targets.columns})", field=col)
    table = targets if limit is None else targets.head(limit)
    return list(table.iter_rows(named=True))


__all__ = ["ItemCatalog", "target_rows", "text_map"]
