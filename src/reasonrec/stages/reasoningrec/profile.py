"""User profiles (ReasoningRec §3.3): the user's first m interactions outside the recent window → a q-word profile.

Selection, per user: take the user's row in the target table with the LATEST target (pass the test split's
target table to get one profile that never sees the test window — what the release does); its window W is the
k history items plus the target. The profile items are the first m interactions of the user's chronological
timeline (timestamp, ties in table order) that happen no later than the target and whose item is not in W.
Because the window holds the k interactions right before the target, these are exactly the interactions before
the window (repeated purchases of a window item are excluded too, so nothing in the window leaks in).
Users with no such interaction get no profile: text is null and no LLM call is made (Beauty release: 160 of
624 users have one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import HistoryEntry, PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    StageConfig,
    fit_prompt,
    run_generation_jobs,
    token_counter,
)
from reasonrec.stages.common.context import ItemCatalog

TEMPLATE = "reasoningrec/user_profile"


class ProfileConfig(StageConfig):
    """Paper defaults: m=15 earliest items, q=100 words, like = rating > r_T=3."""

    m_items: int = Field(15, ge=1, description="at most the first m interactions before the recent window")
    q_words: int = Field(100, ge=1, description="profile length in words")
    like_threshold: float = Field(3.0, description="r_T: liked when rating > r_T")
    include_descriptions: bool = Field(True, description="show item descriptions (False = w/o-description profile)")
    max_new_tokens: int = Field(256, ge=1)


@dataclass(frozen=True)
class ProfileSelection:
    user_id: str
    item_ids: list[str]
    ratings: list[float]


def _latest_targets(targets: pl.DataFrame) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for row in targets.iter_rows(named=True):
        uid = str(row["user_id"])
        prev = rows.get(uid)
        if prev is None or (row.get("timestamp") or 0) >= (prev.get("timestamp") or 0):
            rows[uid] = row
    return rows


def select_profile_items(
    interactions: pl.DataFrame, targets: pl.DataFrame, m: int, *, user_ids: Sequence[str] | None = None
) -> list[ProfileSelection]:
    """The profile items per user (see module docstring); users of `targets` (or `user_ids`) in target order."""
    latest = _latest_targets(targets)
    wanted = [str(u) for u in user_ids] if user_ids is not None else list(latest)
    inter = (
        interactions.filter(pl.col("user_id").is_in(wanted))
        .with_row_index("_row")
        .sort("timestamp", "_row")
    )
    timelines: dict[str, list[tuple[str, float, int]]] = {}
    for uid, item, rating, ts in inter.select("user_id", "item_id", "rating", "timestamp").iter_rows():
        timelines.setdefault(str(uid), []).append((str(item), float(rating), int(ts)))
    out = []
    for uid in wanted:
        row = latest.get(uid)
        if row is None:
            out.append(ProfileSelection(uid, [], []))
            continue
        window = {str(i) for i in (row.get("history_item_ids") or [])} | {str(row["item_id"])}
        cutoff = row.get("timestamp")
        items: list[str] = []
        ratings: list[float] = []
        for item, rating, ts in timelines.get(uid, []):
            if cutoff is not None and ts > cutoff:
                break
            if item in window:
                continue
            items.append(item)
            ratings.append(rating)
            if len(items) == m:
                break
        out.append(ProfileSelection(uid, items, ratings))
    return out


def profile_users(
    interactions: pl.DataFrame,
    targets: pl.DataFrame,
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    llm: LLM,
    config: ProfileConfig,
    *,
    user_ids: Sequence[str] | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One row per user: user_id, text (null = no earlier interactions), item_ids, liked flags, LLM columns."""
    catalog = ItemCatalog.from_tables(items, item_descriptions if config.include_descriptions else None)
    selections = select_profile_items(interactions, targets, config.m_items, user_ids=user_ids)
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    params = config.sampling()
    jobs: list[GenerationJob] = []
    for sel in selections:
        if not sel.item_ids:
            continue
        history = catalog.history(sel.item_ids, ratings=sel.ratings, like_threshold=config.like_threshold)
        if not config.include_descriptions:
            history = [_without_description(h) for h in history]
        ctx = {"domain": domain, "history": history, "q_words": config.q_words}
        # Trimming here drops the OLDEST profile items; with m=15 and 25-word descriptions it rarely triggers.
        messages, _ = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)
        jobs.append(GenerationJob(key={"user_id": sel.user_id}, messages=messages, params=params))
    table, summary = run_generation_jobs(
        llm, jobs, {"user_id": pl.String()}, batch_size=config.batch_size, desc="profile users",
        show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    selected = pl.DataFrame(
        {
            "user_id": [s.user_id for s in selections],
            "profile_item_ids": [s.item_ids for s in selections],
            "profile_liked": [[r > config.like_threshold for r in s.ratings] for s in selections],
        },
        schema={"user_id": pl.String(), "profile_item_ids": pl.List(pl.String()),
                "profile_liked": pl.List(pl.Boolean())},
    )
    out = selected.join(table, on="user_id", how="left", maintain_order="left")
    return out.with_columns(pl.col("text").str.strip_chars()).select(
        "user_id", "text", "profile_item_ids", "profile_liked",
        *[c for c in out.columns if c not in ("user_id", "text", "profile_item_ids", "profile_liked")],
    )


def _without_description(entry: HistoryEntry) -> HistoryEntry:
    return replace(entry, description=None)


__all__ = ["ProfileConfig", "ProfileSelection", "profile_users", "select_profile_items"]
