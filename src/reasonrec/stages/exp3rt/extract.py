"""EXP3RT step 1 (§3.2, App. A Table 8): each review → its [Like] / [Dislike] preference bullets.

The review is the only evidence: the prompt forbids adding anything not in it, and the parser never repairs an
answer — a text without both tags is `parse_ok=False` with whatever it could read kept. "None." under a tag is an
empty list. Rows without review text are not sent to the model (they are counted in the summary, not in the
table), because an empty review can only produce invented preferences.

Output (one row per review × sample): user_id, item_id, timestamp, likes, dislikes, raw, parse_ok, plus the
runner's columns (sample_index, finish_reason, tokens, cached, error, prompt).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl
from pydantic import Field

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

TEMPLATE = "exp3rt/extract_preferences"

KEY_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String(), "timestamp": pl.Int64()}

NONE_MARK = "None."

# A tag: "[Like]" anywhere, or a line that starts with Like/Likes/Dislike(s) followed by ':' or the line end
# (markdown decoration such as '**', '#', '_' around it is allowed).
_TAG = re.compile(
    r"\[\s*(?P<b>dislikes?|likes?)\s*\]\s*:?"
    r"|^[ \t#>*_]*(?P<h>dislikes?|likes?)[ \t*_]*(?::[ \t*_]*|$)",
    re.IGNORECASE | re.MULTILINE,
)
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"\*\*|__|`")
_NONE = re.compile(r"^(?:none|nothing|n/?a|no dislikes?|no likes?|nothing to mention)\W*$", re.IGNORECASE)
_CONTENT = re.compile(r"[^\W_]", re.UNICODE)


def render_preferences(likes: Sequence[str], dislikes: Sequence[str]) -> str:
    """The canonical text of a preference set (used in prompts, SFT targets and round-trip tests)."""

    def block(tag: str, items: Sequence[str]) -> str:
        lines = [f"- {item.strip()}" for item in items if item.strip()]
        return f"[{tag}]\n" + ("\n".join(lines) if lines else NONE_MARK)

    return f"{block('Like', likes)}\n{block('Dislike', dislikes)}"


def _section_items(body: str) -> list[str]:
    items = []
    for line in body.splitlines():
        text = _EMPHASIS.sub("", line)
        text = _BULLET.sub("", text, count=1).strip()
        if not text or _NONE.match(text) or not _CONTENT.search(text):
            continue  # blank, "None.", or a bare placeholder such as "..."
        items.append(text)
    return items


def parse_preferences(text: str | None) -> tuple[list[str], list[str], bool]:
    """(likes, dislikes, ok): ok only when both tags appear exactly once. Case and markdown tolerant."""
    if not text:
        return [], [], False
    matches = list(_TAG.finditer(text))
    sections: dict[str, list[list[str]]] = {"like": [], "dislike": []}
    for n, m in enumerate(matches):
        tag = (m.group("b") or m.group("h")).lower().rstrip("s")
        end = matches[n + 1].start() if n + 1 < len(matches) else len(text)
        sections[tag].append(_section_items(text[m.end() : end]))
    likes = sections["like"][0] if sections["like"] else []
    dislikes = sections["dislike"][0] if sections["dislike"] else []
    ok = len(sections["like"]) == 1 and len(sections["dislike"]) == 1
    return likes, dislikes, ok


class ExtractConfig(StageConfig):
    """Preference extraction. Long reviews are cut to `max_review_chars` (the paper's prompt has no cap)."""

    max_new_tokens: int = Field(192, ge=1)
    max_prompt_tokens: int = Field(1024, ge=64)
    max_review_chars: int = Field(3000, ge=50, description="reviews longer than this are truncated")
    include_title: bool = Field(True, description="name the item in the prompt when the items table has a title")


def _review_rows(interactions: pl.DataFrame, limit: int | None) -> tuple[pl.DataFrame, int]:
    for col in ("user_id", "item_id", "review"):
        if col not in interactions.columns:
            raise DataError(f"interactions lack {col!r}: extraction needs review text", field=col)
    table = interactions
    if "timestamp" not in table.columns:
        table = table.with_columns(pl.lit(None, dtype=pl.Int64).alias("timestamp"))
    has_text = pl.col("review").is_not_null() & (pl.col("review").str.strip_chars().str.len_chars() > 0)
    kept = table.filter(has_text)
    skipped = table.height - kept.height
    return (kept if limit is None else kept.head(limit)), skipped


def reviews_for_profiles(train_interactions: pl.DataFrame, users: Sequence[str], items: Sequence[str], *,
                         per_user: int | None, per_item: int | None) -> pl.DataFrame:
    """The TRAINING reviews that can reach a profile of `users` / `items`, bounded so extraction stays affordable:
    each user's `per_user` most recent reviews with text and each item's `per_item` most helpful ones (ties:
    newer first, then user id), the union in input order; None = all. Only rows of `train_interactions` are
    read, so no valid/test review can reach a profile."""
    for col in ("user_id", "item_id", "review"):
        if col not in train_interactions.columns:
            raise DataError(f"interactions lack {col!r}: EXP3RT profiles need review text", field=col)
    table = train_interactions.with_row_index("_row")
    if "timestamp" not in table.columns:
        table = table.with_columns(pl.lit(None, dtype=pl.Int64).alias("timestamp"))
    if "helpful_votes" not in table.columns:
        table = table.with_columns(pl.lit(0, dtype=pl.Int64).alias("helpful_votes"))
    has_text = pl.col("review").is_not_null() & (pl.col("review").str.strip_chars().str.len_chars() > 0)
    table = table.filter(has_text)
    mine = table.filter(pl.col("user_id").is_in(pl.Series(list(users), dtype=pl.String).implode())).sort(
        ["user_id", "timestamp", "_row"], descending=[False, True, True], nulls_last=True)
    theirs = table.filter(pl.col("item_id").is_in(pl.Series(list(items), dtype=pl.String).implode())).sort(
        ["item_id", "helpful_votes", "timestamp", "user_id"], descending=[False, True, True, False], nulls_last=True)
    if per_user is not None:
        mine = mine.group_by("user_id", maintain_order=True).head(per_user)
    if per_item is not None:
        theirs = theirs.group_by("item_id", maintain_order=True).head(per_item)
    rows = pl.concat([mine["_row"], theirs["_row"]]).unique()
    return table.filter(pl.col("_row").is_in(rows.implode())).sort("_row").drop("_row")


def extract_preferences(
    interactions: pl.DataFrame,
    llm: LLM,
    config: ExtractConfig,
    *,
    items: pl.DataFrame | None = None,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
    skipped: dict[str, int] | None = None,
) -> pl.DataFrame:
    """One row per review with text: likes / dislikes / raw / parse_ok + runner columns.

    `skipped`, when given, receives {"no_review": n} (rows without review text, never sent to the model).
    """
    rows, n_skipped = _review_rows(interactions, limit)
    if skipped is not None:
        skipped["no_review"] = n_skipped
    titles: dict[str, str] = {}
    if config.include_title and items is not None and "title" in items.columns:
        titles = {i: t for i, t in items.select("item_id", "title").iter_rows() if t}
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    params = config.sampling()
    jobs = []
    for user_id, item_id, timestamp, review in rows.select("user_id", "item_id", "timestamp", "review").iter_rows():
        ctx = {
            "domain": domain,
            "item_title": titles.get(item_id),
            "review": review.strip()[: config.max_review_chars],
        }
        messages, _ = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)
        key = {"user_id": str(user_id), "item_id": str(item_id), "timestamp": timestamp}
        jobs.append(GenerationJob(key=key, messages=messages, params=params))
    table, summary = run_generation_jobs(
        llm, jobs, KEY_SCHEMA, batch_size=config.batch_size, desc="extract preferences", show=config.show_progress
    )
    if summaries is not None:
        summaries.append(summary)
    parsed = [parse_preferences(t) for t in table["text"].to_list()]
    table = table.with_columns(
        pl.Series("likes", [p[0] for p in parsed], dtype=pl.List(pl.String())),
        pl.Series("dislikes", [p[1] for p in parsed], dtype=pl.List(pl.String())),
        pl.Series("parse_ok", [p[2] for p in parsed], dtype=pl.Boolean()),
    ).rename({"text": "raw"})
    first = ["user_id", "item_id", "timestamp", "likes", "dislikes", "raw", "parse_ok"]
    return table.select(*first, *[c for c in table.columns if c not in first])


__all__ = [
    "KEY_SCHEMA", "ExtractConfig", "extract_preferences", "parse_preferences", "render_preferences",
    "reviews_for_profiles",
]
