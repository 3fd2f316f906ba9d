"""EXP3RT step 3a (§3.4, App. A Table 11): teacher reasoning conditioned on the TRUE rating, M samples per pair.

The teacher sees the user profile, the item description, the item profile and the user's actual rating, and
writes ~5 causal sentences on why this user would like or dislike the item. Table 11 forbids opening with
"Based on" / "I would" and the reasoning must not give away the rating; a post-check flags both:

- `bad_opener`     — the text (after an optional "Reasoning:" label, quotes, markdown) starts with "Based on" or
                     "I would";
- `mentions_rating` — the true rating appears as a standalone number (not part of "1990" or "8.5"), or a phrase
                     such as "rated 8", "a rating of", "8/10", "8 out of 10" appears;
- `post_check_ok`  — neither. Rows are never dropped here: filtering is the recipe's choice (`post_check_counts`).

Each row also carries `sft_target` = "Reasoning: … Predicted User Rating: d" with d on the PROMPT scale
(`RatingScale`), ready for the student's training data.
"""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from reasonrec.answers import render_exp3rt
from reasonrec.config import Config
from reasonrec.errors import ConfigError, DataError
from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import GenerationJob, StageConfig, fit_prompt, token_counter
from reasonrec.stages.common.paths import sample_paths

TEMPLATE = "exp3rt/teacher_reasoning"

KEY_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String()}


class RatingScale(Config):
    """Data scale ↔ the integer scale the prompt shows and the model writes.

    prompt value = data rating − offset. Default offset (None): `rating_min` when the data scale has more than
    nine steps above 0 (IMDB 1–10 → the paper's 0–9, so every value is ONE digit token), else 0 (Beauty 1–5 stays
    1–5). A multi-digit prompt value (e.g. offset=0 on 1–10 → "10") is still scored correctly: `llm.score` sums
    the log-probs of all of a choice's tokens.
    """

    rating_min: int = Field(1, description="lowest rating in the data")
    rating_max: int = Field(10, description="highest rating in the data (IMDB: 10)")
    offset: int | None = Field(None, description="prompt value = rating − offset; None = auto (see class doc)")

    def resolved_offset(self) -> int:
        if self.rating_max <= self.rating_min:
            raise ConfigError(f"rating scale {self.rating_min}..{self.rating_max} is empty")
        if self.offset is not None:
            return self.offset
        return self.rating_min if self.rating_max > 9 else 0

    def prompt_range(self) -> tuple[int, int]:
        off = self.resolved_offset()
        return self.rating_min - off, self.rating_max - off

    def to_prompt(self, rating: float) -> float:
        return rating - self.resolved_offset()

    def to_data(self, prompt_value: float) -> float:
        return prompt_value + self.resolved_offset()

    def choices(self) -> tuple[str, ...]:
        lo, hi = self.prompt_range()
        return tuple(str(v) for v in range(lo, hi + 1))

    def data_label(self, choice: str) -> str:
        """The data-scale rating a prompt choice stands for, as a string ("0" → "1" on IMDB)."""
        return str(int(self.to_data(int(choice))))


class TeacherConfig(StageConfig):
    """Teacher reasoning (Table 11). Temperature > 0 with n_samples > 1 gives M distinct paths."""

    domain: str = "movies"
    n_samples: int = Field(1, ge=1, description="M reasoning samples per pair")
    max_new_tokens: int = Field(256, ge=1)
    recommend_from: float = Field(3, description="Table 11: recommend only when the rating is at least this")
    scale: RatingScale = Field(default_factory=RatingScale)


_OPENER = re.compile(r"^\W*(?:reasoning\s*:\s*)?[\W_]*(based on|i would)\b", re.IGNORECASE)
_RATING_PHRASE = re.compile(
    r"\b(?:rat(?:ed|ing|es)|scor(?:ed|e|es))\s+(?:of\s+|as\s+|at\s+|it\s+)?(?:a\s+)?\d"
    r"|\b\d+(?:\.\d+)?\s*(?:/|out of)\s*(?:10|5|9)\b",
    re.IGNORECASE,
)


def bad_opener(text: str | None) -> bool:
    return bool(text) and _OPENER.match(text) is not None


def mentions_rating(text: str | None, rating: float | None) -> bool:
    """The true rating as a standalone number, or an explicit rating phrase ("rated 8", "8/10")."""
    if not text:
        return False
    if _RATING_PHRASE.search(text):
        return True
    if rating is None:
        return False
    value = int(rating) if float(rating).is_integer() else rating
    return re.search(rf"(?<![\d.]){re.escape(str(value))}(?![\d]|\.\d)", text) is not None


_LABEL = re.compile(r"^\s*(?:\*\*)?reasoning(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)
_TAIL = re.compile(r"\n?\s*predicted\s+(?:user\s+)?rating\s*:.*\Z", re.IGNORECASE | re.DOTALL)


def clean_reasoning(text: str | None) -> str | None:
    """Strip a leading "Reasoning:" label and any trailing "Predicted User Rating: …" the model added."""
    if text is None:
        return None
    return _TAIL.sub("", _LABEL.sub("", text.strip())).strip()


def _require(context: pl.DataFrame, columns: tuple[str, ...]) -> None:
    for col in columns:
        if col not in context.columns:
            raise DataError(f"pair context lacks {col!r} (build it with stages.exp3rt.profiles.pair_context)", field=col)


def exp3rt_teacher_reasoning(
    context: pl.DataFrame,
    llm: LLM,
    config: TeacherConfig,
    *,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One row per (pair, sample_index): rating, reasoning, flags, sft_target + runner columns.

    `context` follows stages.exp3rt.profiles.CONTEXT_SCHEMA; rows without a rating are skipped (the teacher needs it).
    """
    _require(context, ("user_id", "item_id", "rating", "user_profile", "item_profile", "item_description"))
    rows = context.filter(pl.col("rating").is_not_null())
    if limit is not None:
        rows = rows.head(limit)
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    params = config.sampling()
    jobs = []
    truth: dict[tuple[str, str], float] = {}
    for r in rows.iter_rows(named=True):
        ctx = {
            "domain": domain,
            "rating": r["rating"],
            "recommend_from": _fmt(config.recommend_from),
            "scale_min": config.scale.rating_min,
            "scale_max": config.scale.rating_max,
            "user_profile": r["user_profile"] or "None.",
            "item_description": r["item_description"],
            "item_profile": r["item_profile"] or "None.",
        }
        messages, _ = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)
        key = {"user_id": str(r["user_id"]), "item_id": str(r["item_id"])}
        jobs.append(GenerationJob(key=key, messages=messages, params=params))
        truth[(key["user_id"], key["item_id"])] = float(r["rating"])
    table, summary = sample_paths(
        llm, jobs, KEY_SCHEMA, n_samples=config.n_samples, temperature=config.temperature, top_p=config.top_p,
        batch_size=config.batch_size, desc="exp3rt teacher reasoning", show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    ratings = [truth[k] for k in table.select("user_id", "item_id").iter_rows()]
    texts = table["text"].to_list()
    reasoning = [clean_reasoning(t) for t in texts]
    openers = [bad_opener(t) for t in reasoning]
    leaks = [mentions_rating(t, r) for t, r in zip(reasoning, ratings, strict=True)]
    targets = [
        render_exp3rt(config.scale.to_prompt(r), t) if t else None
        for t, r in zip(reasoning, ratings, strict=True)
    ]
    table = table.with_columns(
        pl.Series("rating", ratings, dtype=pl.Float64()),
        pl.Series("reasoning", reasoning, dtype=pl.String()),
        pl.Series("bad_opener", openers, dtype=pl.Boolean()),
        pl.Series("mentions_rating", leaks, dtype=pl.Boolean()),
        pl.Series("sft_target", targets, dtype=pl.String()),
    ).with_columns(
        (~pl.col("bad_opener") & ~pl.col("mentions_rating") & pl.col("reasoning").str.len_chars().gt(0)
         .fill_null(False)).alias("post_check_ok")
    )
    first = ["user_id", "item_id", "sample_index", "rating", "reasoning", "bad_opener", "mentions_rating",
             "post_check_ok", "sft_target", "text"]
    return table.select(*first, *[c for c in table.columns if c not in first])


def post_check_counts(table: pl.DataFrame) -> dict[str, int]:
    """How many rows each post-check flagged (and how many pass all)."""
    return {
        "rows": table.height,
        "bad_opener": int(table["bad_opener"].sum()),
        "mentions_rating": int(table["mentions_rating"].sum()),
        "post_check_ok": int(table["post_check_ok"].sum()),
        "failed_calls": int(table["error"].is_not_null().sum()) if "error" in table.columns else 0,
    }


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


__all__ = [
    "KEY_SCHEMA",
    "RatingScale",
    "TeacherConfig",
    "bad_opener",
    "clean_reasoning",
    "exp3rt_teacher_reasoning",
    "mentions_rating",
    "post_check_counts",
]
