"""EXP3RT step 2 (§3.3, §3.5.2, App. A Tables 9–10, App. B): user and item profiles from extracted preferences.

- User profile: ALL of the user's extracted preferences from TRAINING interactions (no valid/test review ever
  reaches a profile: preferences are semi-joined on the training (user, item) pairs first).
- Item profile, three selection strategies:
  `all`       every training preference of the item                        → one profile per item_id;
  `helpful`   the preferences of the `helpful_top_n` training reviews with the most helpful votes
              (ties: newer review first, then user id)                       → one profile per item_id;
  `neighbour` the preferences of the `n_neighbours` training raters most similar to the target user
              (adjusted cosine, `stages.exp3rt.neighbours`)                          → one profile per (user_id, item_id).
  Keys differ on purpose; `ProfileLookup` answers "which profile text for (user, item)?" for any of them.

Only preferences that parsed (parse_ok) and hold at least one bullet are aggregated; an entity with none gets the
empty profile ("None." under both tags) without an LLM call, flagged by n_preferences = 0. When the notes do not
fit `max_prompt_tokens`, the least important notes are dropped first (oldest for users and `all`, least helpful for
`helpful`, the least similar neighbour for `neighbour`).

This module also assembles the per-pair context the later steps consume (`pair_context`): profiles, item
description and the rating averages ("rating bias", §3.5.2) from TRAINING interactions only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import Field

from reasonrec.data.schema import Dataset
from reasonrec.errors import DataError
from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    StageConfig,
    fit_prompt,
    run_generation_jobs,
    token_counter,
)
from reasonrec.stages.exp3rt.extract import parse_preferences, render_preferences
from reasonrec.stages.exp3rt.neighbours import rank_neighbours

USER_TEMPLATE = "exp3rt/user_profile"
ITEM_TEMPLATE = "exp3rt/item_profile"

ItemStrategy = Literal["all", "helpful", "neighbour"]

CONTEXT_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "rating": pl.Float64(),
    "user_profile": pl.String(),
    "item_profile": pl.String(),
    "item_description": pl.String(),
    "user_avg": pl.Float64(),
    "item_avg": pl.Float64(),
}


class Exp3rtProfileConfig(StageConfig):
    """Profile construction; defaults follow the paper (about 5 points per tag, 3 neighbours)."""

    n_points: int = Field(5, ge=1, description="bullet points per tag asked for")
    max_new_tokens: int = Field(200, ge=1, description="the paper asks for < 150 tokens per item profile")
    item_strategy: ItemStrategy = Field("all", description="which item preferences to aggregate")
    helpful_top_n: int = Field(5, ge=1, description="reviews with the most helpful votes (strategy 'helpful')")
    n_neighbours: int = Field(3, ge=1, description="most similar raters (strategy 'neighbour'; paper: 3)")
    min_co_rated: int = Field(2, ge=1, description="fewer co-rated items → similarity undefined")
    fill_undefined: bool = Field(True, description="fill missing neighbours with undefined-similarity raters")


# ------------------------------------------------------------------------------------------------ selection


def train_preferences(preferences: pl.DataFrame, train_interactions: pl.DataFrame) -> pl.DataFrame:
    """Parsed, non-empty preferences of TRAINING (user, item) pairs only, with rating/helpful_votes joined."""
    for col in ("user_id", "item_id", "likes", "dislikes", "parse_ok"):
        if col not in preferences.columns:
            raise DataError(f"preferences table lacks {col!r} (columns: {preferences.columns})", field=col)
    train = train_interactions.select(
        "user_id", "item_id",
        (pl.col("timestamp") if "timestamp" in train_interactions.columns else pl.lit(None, pl.Int64))
        .alias("_train_ts"),
        (pl.col("helpful_votes") if "helpful_votes" in train_interactions.columns else pl.lit(0, pl.Int64))
        .fill_null(0).alias("helpful_votes"),
    ).unique(subset=["user_id", "item_id"], keep="first", maintain_order=True)
    prefs = preferences.filter(
        pl.col("parse_ok") & ((pl.col("likes").list.len() > 0) | (pl.col("dislikes").list.len() > 0))
    )
    if "timestamp" not in prefs.columns:
        prefs = prefs.with_columns(pl.lit(None, pl.Int64).alias("timestamp"))
    joined = prefs.select("user_id", "item_id", "timestamp", "likes", "dislikes").join(
        train, on=["user_id", "item_id"], how="inner"
    )
    return joined.with_columns(pl.coalesce("timestamp", "_train_ts").alias("timestamp")).drop("_train_ts")


def _note(likes: Sequence[str], dislikes: Sequence[str]) -> str:
    return render_preferences(list(likes), list(dislikes))


def _notes(rows: pl.DataFrame) -> list[str]:
    return [_note(lk, dk) for lk, dk in rows.select("likes", "dislikes").iter_rows()]


# ------------------------------------------------------------------------------------------------ generation


def _profile_rows(
    groups: list[tuple[dict[str, str], list[str], str | None, list[str]]],
    key_schema: dict[str, pl.DataType],
    template: str,
    llm: LLM,
    config: Exp3rtProfileConfig,
    desc: str,
    summaries: list[RunSummary] | None,
) -> pl.DataFrame:
    """groups: (key, notes least-important-first, item title, source ids) → one profile row per key."""
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    params = config.sampling()
    jobs: list[GenerationJob] = []
    meta: dict[tuple, tuple[int, int, list[str]]] = {}
    empty_keys: list[dict[str, str]] = []
    for key, notes, title, sources in groups:
        kt = tuple(key[k] for k in key_schema)
        if not notes:
            empty_keys.append(key)
            meta[kt] = (0, 0, sources)
            continue
        ctx = {"domain": domain, "preferences": notes, "n_points": config.n_points, "item_title": title}
        messages, dropped = fit_prompt(renderer, template, ctx, count, config.max_prompt_tokens,
                                       history_key="preferences")
        jobs.append(GenerationJob(key=key, messages=messages, params=params))
        meta[kt] = (len(notes), dropped, sources)
    table, summary = run_generation_jobs(
        llm, jobs, key_schema, batch_size=config.batch_size, desc=desc, show=config.show_progress
    )
    if summaries is not None:
        summaries.append(summary)
    if empty_keys:
        empty = pl.DataFrame(
            {k: [e[k] for e in empty_keys] for k in key_schema}
            | {"sample_index": [0] * len(empty_keys), "text": [render_preferences([], [])] * len(empty_keys)},
            schema={**key_schema, "sample_index": pl.Int64(), "text": pl.String()},
        )
        table = pl.concat([table, empty], how="diagonal_relaxed")
    keys = list(table.select(list(key_schema)).iter_rows())
    parsed = [parse_preferences(t) for t in table["text"].to_list()]
    table = table.with_columns(
        pl.col("text").str.strip_chars(),
        pl.Series("likes", [p[0] for p in parsed], dtype=pl.List(pl.String())),
        pl.Series("dislikes", [p[1] for p in parsed], dtype=pl.List(pl.String())),
        pl.Series("parse_ok", [p[2] for p in parsed], dtype=pl.Boolean()),
        pl.Series("n_preferences", [meta[k][0] for k in keys], dtype=pl.Int64()),
        pl.Series("n_dropped", [meta[k][1] for k in keys], dtype=pl.Int64()),
        pl.Series("source_ids", [meta[k][2] for k in keys], dtype=pl.List(pl.String())),
    )
    first = [*key_schema, "text", "likes", "dislikes", "parse_ok", "n_preferences", "n_dropped", "source_ids"]
    return table.select(*first, *[c for c in table.columns if c not in first])


def user_profiles(
    preferences: pl.DataFrame,
    train_interactions: pl.DataFrame,
    llm: LLM,
    config: Exp3rtProfileConfig,
    *,
    users: Sequence[str] | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One profile per user (user_id key) from all of the user's training preferences, oldest dropped first."""
    prefs = train_preferences(preferences, train_interactions).sort("user_id", "timestamp", "item_id",
                                                                    nulls_last=False)
    wanted = users if users is not None else prefs["user_id"].unique(maintain_order=True).to_list()
    by_user = {u: g for (u,), g in prefs.group_by("user_id", maintain_order=True)}
    groups = []
    for user in wanted:
        rows = by_user.get(user)
        notes = _notes(rows) if rows is not None else []
        sources = rows["item_id"].to_list() if rows is not None else []
        groups.append(({"user_id": str(user)}, notes, None, sources))
    return _profile_rows(groups, {"user_id": pl.String()}, USER_TEMPLATE, llm, config, "user profiles", summaries)


def _titles(items: pl.DataFrame | None) -> dict[str, str]:
    if items is None or "title" not in items.columns:
        return {}
    return {i: t for i, t in items.select("item_id", "title").iter_rows() if t}


def item_profiles(
    preferences: pl.DataFrame,
    train_interactions: pl.DataFrame,
    llm: LLM,
    config: Exp3rtProfileConfig,
    *,
    items: pl.DataFrame | None = None,
    pairs: pl.DataFrame | None = None,
    item_ids: Sequence[str] | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """Item profiles by `config.item_strategy`; keyed by item_id, or by (user_id, item_id) for 'neighbour'.

    'neighbour' needs `pairs` (user_id, item_id) — the pairs to predict; the other strategies profile
    `item_ids` (default: the items of `pairs` if given, else every item with training preferences).
    """
    prefs = train_preferences(preferences, train_interactions)
    titles = _titles(items)
    strategy = config.item_strategy
    if strategy == "neighbour":
        if pairs is None:
            raise DataError("item_strategy='neighbour' needs the (user_id, item_id) pairs to profile for")
        neighbours = rank_neighbours(
            train_interactions, pairs, k=config.n_neighbours, min_co_rated=config.min_co_rated,
            fill_undefined=config.fill_undefined,
        )
        by_pair = {k: g.sort("rank", descending=True) for k, g in neighbours.group_by("user_id", "item_id")}
        pref_of = {(u, i): _note(lk, dk) for u, i, lk, dk in prefs.select("user_id", "item_id", "likes",
                                                                          "dislikes").iter_rows()}
        groups = []
        for user, item in pairs.select("user_id", "item_id").unique(maintain_order=True).iter_rows():
            chosen = by_pair.get((user, item))
            ids = chosen["neighbour_id"].to_list() if chosen is not None else []
            with_notes = [v for v in ids if (v, item) in pref_of]
            groups.append((
                {"user_id": str(user), "item_id": str(item)},
                [pref_of[(v, item)] for v in with_notes],
                titles.get(item),
                list(reversed(with_notes)),  # most similar first
            ))
        key_schema: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String()}
        return _profile_rows(groups, key_schema, ITEM_TEMPLATE, llm, config, "item profiles (neighbour)",
                             summaries)
    if item_ids is None:
        item_ids = (pairs["item_id"].unique(maintain_order=True).to_list() if pairs is not None
                    else prefs["item_id"].unique(maintain_order=True).to_list())
    if strategy == "helpful":
        # least helpful first so the prompt fitter drops it first; ties: older first, then user id descending
        ordered = prefs.sort(["item_id", "helpful_votes", "timestamp", "user_id"], descending=[False, True, True,
                                                                                            False], nulls_last=True)
        ordered = ordered.group_by("item_id", maintain_order=True).head(config.helpful_top_n)
        ordered = ordered.with_columns(pl.int_range(pl.len()).over("item_id").alias("_r")).sort(
            "item_id", "_r", descending=[False, True])
    else:
        ordered = prefs.sort("item_id", "timestamp", "user_id", nulls_last=False)
    by_item = {i: g for (i,), g in ordered.group_by("item_id", maintain_order=True)}
    groups = []
    for item in item_ids:
        rows = by_item.get(item)
        notes = _notes(rows) if rows is not None else []
        sources = rows["user_id"].to_list()[::-1] if rows is not None else []
        groups.append(({"item_id": str(item)}, notes, titles.get(item), sources))
    return _profile_rows(groups, {"item_id": pl.String()}, ITEM_TEMPLATE, llm, config,
                         f"item profiles ({strategy})", summaries)


# ------------------------------------------------------------------------------------------------ lookups


@dataclass(frozen=True)
class ProfileLookup:
    """Profile text for a (user, item) pair from a table keyed by item_id or by (user_id, item_id)."""

    texts: dict[tuple[str | None, str], str]
    per_pair: bool

    @classmethod
    def from_table(cls, table: pl.DataFrame, text_column: str = "text") -> ProfileLookup:
        per_pair = "user_id" in table.columns
        if per_pair:
            texts = {(u, i): t for u, i, t in table.select("user_id", "item_id", text_column).iter_rows()}
        else:
            texts = {(None, i): t for i, t in table.select("item_id", text_column).iter_rows()}
        return cls(texts=texts, per_pair=per_pair)

    def get(self, user_id: str, item_id: str) -> str | None:
        return self.texts.get((user_id if self.per_pair else None, item_id))


def rating_averages(train_interactions: pl.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """(user → mean training rating, item → mean training rating): EXP3RT's rating bias, TRAIN only."""
    users = train_interactions.group_by("user_id").agg(pl.col("rating").mean())
    items = train_interactions.group_by("item_id").agg(pl.col("rating").mean())
    return dict(users.iter_rows()), dict(items.iter_rows())


def item_descriptions(items: pl.DataFrame) -> dict[str, str]:
    """item_id → description (newlines kept), falling back to the title; items with neither are absent."""
    out: dict[str, str] = {}
    cols = items.columns
    for row in items.iter_rows(named=True):
        text = row.get("description") if "description" in cols else None
        if not text and row.get("title"):
            text = f"Title: {row['title']}"
        if text:
            out[str(row["item_id"])] = str(text).strip()
    return out


def pair_context(
    pairs: pl.DataFrame,
    user_profile_table: pl.DataFrame,
    item_profile_table: pl.DataFrame,
    items: pl.DataFrame,
    train_interactions: pl.DataFrame | None,
) -> pl.DataFrame:
    """CONTEXT_SCHEMA rows for (user_id, item_id[, rating]) pairs; averages null without train_interactions."""
    users_text = {u: t for u, t in user_profile_table.select("user_id", "text").iter_rows()}
    lookup = ProfileLookup.from_table(item_profile_table)
    descriptions = item_descriptions(items)
    user_avg, item_avg = rating_averages(train_interactions) if train_interactions is not None else ({}, {})
    rating = pairs["rating"].to_list() if "rating" in pairs.columns else [None] * pairs.height
    rows = []
    for (user, item), r in zip(pairs.select("user_id", "item_id").iter_rows(), rating, strict=True):
        rows.append({
            "user_id": user, "item_id": item, "rating": r,
            "user_profile": users_text.get(user), "item_profile": lookup.get(user, item),
            "item_description": descriptions.get(item),
            "user_avg": user_avg.get(user), "item_avg": item_avg.get(item),
        })
    return pl.DataFrame(rows, schema=CONTEXT_SCHEMA)


_AVERAGE = re.compile(r"\n*\s*\[Average Rating\]\s*\n?\s*([-+]?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


def split_average(text: str | None) -> tuple[str | None, float | None]:
    """Released EXP3RT texts end with "[Average Rating]\\nx.y": return (text without it, x.y)."""
    if text is None:
        return None, None
    m = _AVERAGE.search(text)
    if m is None:
        return text.strip(), None
    return text[: m.start()].strip(), float(m.group(1))


def imdb_release_context(dataset: Dataset, variant: Literal["helpful", "similarity"] = "helpful") -> pl.DataFrame:
    """CONTEXT_SCHEMA rows from the released `rating_pairs_<variant>` (profiles + averages + descriptions).

    The release's training ratings are not available, so the averages are the ones the authors printed in the
    prompts ("[Average Rating]", 1–10 scale) — they were computed on THEIR training split.
    """
    name = f"rating_pairs_{variant}"
    if name not in dataset.artefacts:
        raise DataError(f"dataset {dataset.name!r} has no artefact {name!r} (need the exp3rt-imdb release)")
    rows = []
    for r in dataset.artefacts[name].iter_rows(named=True):
        persona, u_avg = split_average(r["user_persona"])
        synopsis, i_avg = split_average(r["item_synopsis"])
        rows.append({
            "user_id": r["user_id"], "item_id": r["item_id"], "rating": r["score"],
            "user_profile": persona, "item_profile": synopsis, "item_description": r["item_description"],
            "user_avg": u_avg, "item_avg": i_avg,
        })
    return pl.DataFrame(rows, schema=CONTEXT_SCHEMA)


def with_release_bias(pairs_context: pl.DataFrame, release: pl.DataFrame, *,
                      item_profiles: bool = False) -> pl.DataFrame:
    """Candidate-pair context with the release's per-user persona and per-user / per-item printed averages.

    The student was trained on release prompts (persona + "[Average Rating]" lines); candidate pairs built from the
    profile artefacts alone would have no rating bias and a slightly different persona — a prompt the student never
    saw. The averages are constant per user and per item in the release, so they transfer to any pair. With
    `item_profiles`, an item the release pairs show also takes its item profile from them (the profile variant the
    student was trained on); other items keep the context's."""
    users = release.group_by("user_id").agg(pl.col("user_profile").first().alias("_persona"),
                                            pl.col("user_avg").first().alias("_uavg"))
    items = release.group_by("item_id").agg(pl.col("item_avg").first().alias("_iavg"),
                                            pl.col("item_profile").first().alias("_iprofile"))
    profile = pl.coalesce("_iprofile", "item_profile") if item_profiles else pl.col("item_profile")
    return (pairs_context.join(users, on="user_id", how="left").join(items, on="item_id", how="left")
            .with_columns(pl.coalesce("_persona", "user_profile").alias("user_profile"),
                          pl.coalesce("user_avg", "_uavg").alias("user_avg"),
                          pl.coalesce("item_avg", "_iavg").alias("item_avg"), profile.alias("item_profile"))
            .drop("_persona", "_uavg", "_iavg", "_iprofile").select(pairs_context.columns))


__all__ = [
    "CONTEXT_SCHEMA",
    "Exp3rtProfileConfig",
    "ItemStrategy",
    "ProfileLookup",
    "imdb_release_context",
    "item_descriptions",
    "item_profiles",
    "pair_context",
    "rating_averages",
    "split_average",
    "train_preferences",
    "user_profiles",
]
