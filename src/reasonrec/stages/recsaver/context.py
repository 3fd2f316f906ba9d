"""Prompt contexts for Rec-SAVER's templates: history entries WITH the user's rating and review (paper §2.1).

Rec-SAVER shows each past purchase as (item metadata, rating, review). The target table carries history ids and
ratings; the reviews live in the canonical interactions table, so `ReviewLookup` maps (user, item) → review and
`prompt_context` assembles the Jinja context shared by `recsaver/predict`, `recsaver/explain` and
`recsaver/verify`. The explain, verify, zero-shot and teacher-path stages all build prompts through here, so the
four prompts show a pair the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.prompts import Domain, HistoryEntry
from reasonrec.stages.common.base import StageConfig
from reasonrec.stages.common.context import ItemCatalog

PREDICT_TEMPLATE = "recsaver/predict"
REASON_PREFIX = "### Reason ###\n"
RATING_PREFIX = "### Rating ###\n"

PAIR_KEY_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String(), "split": pl.String()}


def pair_key(row: dict[str, Any]) -> dict[str, str]:
    return {"user_id": str(row["user_id"]), "item_id": str(row["item_id"]), "split": str(row.get("split") or "")}


class RecSaverStageConfig(StageConfig):
    """What every Rec-SAVER prompt shows: the rating scale, the liked flag of history entries and the history
    reviews (truncated)."""

    scale_min: int = 1
    scale_max: int = 5
    like_threshold: float = Field(3.0, description="r_T: liked = rating > r_T (history flags; the zero-shot "
                                  "stage's binary cut-off, paper: > 3)")
    review_max_chars: int | None = Field(600, description="truncate each history review (None = full)")

    @property
    def scale(self) -> tuple[int, int]:
        return (self.scale_min, self.scale_max)


@dataclass
class ReviewLookup:
    """(user_id, item_id) → review text from a canonical interactions table (reviews are optional)."""

    reviews: dict[tuple[str, str], str]
    max_chars: int | None = 600

    @classmethod
    def from_interactions(cls, interactions: pl.DataFrame | None, max_chars: int | None = 600) -> ReviewLookup:
        if interactions is None or "review" not in interactions.columns:
            return cls({}, max_chars)
        table = interactions.select("user_id", "item_id", "review").drop_nulls()
        reviews: dict[tuple[str, str], str] = {}
        for user, item, review in table.iter_rows():
            text = " ".join(str(review).split())
            if text:
                reviews[(str(user), str(item))] = text
        return cls(reviews, max_chars)

    def get(self, user_id: str, item_id: str) -> str | None:
        text = self.reviews.get((user_id, item_id))
        if text is None or self.max_chars is None or len(text) <= self.max_chars:
            return text
        return text[: self.max_chars].rsplit(" ", 1)[0] + " …"


def history_entries(
    row: dict[str, Any], catalog: ItemCatalog, reviews: ReviewLookup, *, like_threshold: float = 3.0
) -> list[HistoryEntry]:
    """Oldest-first history with ratings and reviews; a missing rating renders as unknown (never invented)."""
    user = str(row["user_id"])
    ratings = row.get("history_ratings") or []
    out = []
    for pos, item_id in enumerate(row["history_item_ids"]):
        rating = ratings[pos] if pos < len(ratings) else None
        out.append(
            catalog.entry(
                str(item_id), liked=rating is not None and rating > like_threshold, rating=rating,
                review=reviews.get(user, str(item_id)),
            )
        )
    return out


def prompt_context(
    row: dict[str, Any],
    catalog: ItemCatalog,
    reviews: ReviewLookup,
    domain: Domain,
    *,
    scale: tuple[int, int] = (1, 5),
    like_threshold: float = 3.0,
    **extra: Any,
) -> dict[str, Any]:
    """The Jinja context every recsaver template needs, plus template-specific `extra` keys."""
    return {
        "domain": domain,
        "scale_min": scale[0],
        "scale_max": scale[1],
        "history": history_entries(row, catalog, reviews, like_threshold=like_threshold),
        "target": catalog.view(str(row["item_id"])),
        **extra,
    }


def rating_choices(scale: tuple[int, int]) -> tuple[str, ...]:
    """Bare digits "1".."5": single tokens for SmolLM2 (a leading space would make two; see DESIGN.md)."""
    return tuple(str(v) for v in range(scale[0], scale[1] + 1))


__all__ = [
    "PAIR_KEY_SCHEMA", "PREDICT_TEMPLATE", "RATING_PREFIX", "REASON_PREFIX", "RecSaverStageConfig", "ReviewLookup", "history_entries",
    "pair_key", "prompt_context", "rating_choices",
]
