"""Recommendations with reasons for one user, a list, or everyone, from a model bundle.

    candidates   the bundle's CF generator proposes `n_candidates` items per user, never one the user interacted
                 with up to the cut-off (users the generator never saw get the most popular unseen items);
    scores       a registered scorer (`SCORERS`): the student's P(like) ("llm"), the generator's own order ("cf"),
                 or a blend of both ("hybrid": `hybrid_weight` × P(like) + the rest × the generator's rank score);
    ranking      `rerank.rerank`: by score, ties and unscored candidates by generator rank (one owner of ordering);
    reasons      for the top of the list (through the LLM cache): by default (`explain.mode=evidence`) written from
                 the retrieved evidence after the predicted label, returned with that evidence and the grounding
                 checker's marks per sentence (`eval.grounding`); `explain.mode=free` keeps the student's own
                 words (no evidence, no marks).

The prompt of every candidate is the one the student was trained on (`predict.predict_labels`): the user's most
recent `history_k` interactions before the cut-off with their ratings, item titles and descriptions, the profile.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.bundle import Bundle
from reasonrec.config import Config
from reasonrec.errors import DataError
from reasonrec.eval.grounding.checker import GroundingChecker
from reasonrec.eval.grounding.marks import marked_text, marks
from reasonrec.eval.grounding.sources import ExplanationRecord
from reasonrec.llm.base import LLM
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
from reasonrec.predict import PredictConfig, predict_labels
from reasonrec.rerank import rerank
from reasonrec.stages.common.grounded import evidence_retriever

POPULAR = "popular"
SERVE_SPLIT = "serve"

RECOMMENDATION_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "rank": pl.Int64(),
    "item_id": pl.String(),
    "title": pl.String(),
    "score": pl.Float64(),
    "p_like": pl.Float64(),
    "pred_rating": pl.Float64(),
    "scorer": pl.String(),
    "generator": pl.String(),
    "generator_rank": pl.Int64(),
    "generator_score": pl.Float64(),
    "explanation": pl.String(),
    "evidence": pl.String(),
    "grounding": pl.String(),
    "error": pl.String(),
}
"""One row per recommended item; `evidence` and `grounding` are JSON texts (null when not computed)."""


class RecommendConfig(Config):
    """How many items, from how many candidates, with how many explanations, as of when."""

    n: int = Field(10, ge=1, le=100, description="items recommended per user")
    n_candidates: int = Field(20, ge=1, le=500, description="candidates per user taken from the CF generator")
    explain: bool = Field(False, description="generate the student's explanation for the recommended items")
    explain_top: int | None = Field(None, ge=1, le=100, description="explain only the first N items (default: n)")
    cutoff: int | None = Field(None, description="unix seconds: only interactions up to it count (default: all)")
    scorer: str | None = Field(None, description="a SCORERS name instead of the bundle's (e.g. 'cf' to compare)")
    hybrid_weight: float = Field(0.5, ge=0.0, le=1.0, description="hybrid scorer: weight of P(like); the rest "
                                 "goes to the generator's rank score 1 - (rank - 1) / n_candidates")


@dataclass(frozen=True)
class UserHistory:
    """A user's interactions up to the cut-off, oldest first."""

    item_ids: list[str]
    ratings: list[float | None]
    timestamps: list[int]


Scorer = Callable[["Recommender", pl.DataFrame, RecommendConfig], pl.DataFrame]
"""(recommender, candidates (user_id, item_id, rank, …), config) → (user_id, item_id, score, p_like, pred_rating,
error); a null score leaves the candidate at its generator rank."""


class Recommender:
    """A bundle plus the LLM that scores and explains (None for CF-only bundles)."""

    def __init__(self, bundle: Bundle, llm: LLM | None = None, *, show_progress: bool = False) -> None:
        self.bundle = bundle
        self.config = bundle.config
        self.llm = llm
        self.show_progress = show_progress
        inter = bundle.interactions.select(
            pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String),
            pl.col("rating").cast(pl.Float64), pl.col("timestamp").cast(pl.Int64),
        ).sort("user_id", "timestamp", maintain_order=True)
        self._history: dict[str, tuple[list[str], list[float | None], list[int]]] = {
            str(user): (items, ratings, stamps)
            for user, items, ratings, stamps in inter.group_by("user_id", maintain_order=True)
            .agg("item_id", "rating", "timestamp").iter_rows()
        }
        self._users = set(self._history) | set(bundle.users["user_id"].cast(pl.String).to_list())
        self._titles = {str(i): t for i, t in bundle.items.select(
            pl.col("item_id").cast(pl.String), pl.col("title") if "title" in bundle.items.columns
            else pl.lit(None, pl.String).alias("title")).iter_rows()}
        self._popular = inter.group_by("item_id").agg(pl.len().alias("n"), pl.col("timestamp").min().alias("first"))
        self._after_all = int(inter["timestamp"].max() or 0) + 1  # "now": evidence statistics count every rating
        self._encoder: SentenceEncoder | None = None  # loaded on the first explanation, shared by every later one
        self._checker: GroundingChecker | None = None

    # ------------------------------------------------------------------------------------------- lookups

    def knows(self, user_id: str) -> bool:
        return user_id in self._users

    def users(self) -> list[str]:
        return sorted(self._users)

    def scorers(self) -> list[str]:
        """The scorers this recommender can run: the LLM ones only with an LLM."""
        return [name for name in SCORERS if self.llm is not None or name not in NEEDS_LLM]

    def title(self, item_id: str) -> str | None:
        return self._titles.get(item_id)

    def has_item(self, item_id: str) -> bool:
        return item_id in self._titles

    def history(self, user_id: str, cutoff: int | None = None) -> UserHistory:
        """The user's interactions up to `cutoff` (all when None), oldest first; DataError for unknown users."""
        if not self.knows(user_id):
            raise DataError(f"unknown user {user_id!r}", field="user_id")
        items, ratings, stamps = self._history.get(user_id, ([], [], []))
        keep = [n for n, t in enumerate(stamps) if cutoff is None or t <= cutoff]
        return UserHistory([items[n] for n in keep], [ratings[n] for n in keep], [stamps[n] for n in keep])

    # ------------------------------------------------------------------------------------------- pipeline

    def candidates(self, users: Sequence[str], n_candidates: int, cutoff: int | None = None) -> pl.DataFrame:
        """(user_id, item_id, rank, generator, generator_score): CF candidates, minus everything seen."""
        seen = {u: set(self.history(u, cutoff).item_ids) for u in users}
        known = [u for u in users if self.bundle.cf.knows_user(u)]
        tables = []
        if known:
            cf = self.bundle.cf.recommend(known, n_candidates, exclude=seen)
            tables.append(cf.select("user_id", "item_id", "rank", pl.lit(self.bundle.cf.generator).alias("generator"),
                                    pl.col("score").alias("generator_score")))
        cold = [u for u in users if not self.bundle.cf.knows_user(u)]
        if cold:
            tables.append(self._popular_candidates(cold, n_candidates, seen, cutoff))
        schema = {"user_id": pl.String, "item_id": pl.String, "rank": pl.Int64, "generator": pl.String,
                  "generator_score": pl.Float64}
        return pl.concat([t.cast(schema) for t in tables]) if tables else pl.DataFrame(schema=schema)

    def _popular_candidates(self, users: Sequence[str], k: int, seen: dict[str, set[str]],
                            cutoff: int | None) -> pl.DataFrame:
        pool = self._popular if cutoff is None else self._popular.filter(pl.col("first") <= cutoff)
        ranked = pool.sort(["n", "item_id"], descending=[True, False])
        ids, counts = ranked["item_id"].to_list(), ranked["n"].to_list()
        rows = []
        for user in users:
            picks = [(i, c) for i, c in zip(ids, counts, strict=True) if i not in seen[user]][:k]
            rows += [(user, item, rank, POPULAR, float(c)) for rank, (item, c) in enumerate(picks, start=1)]
        return pl.DataFrame(rows, schema=["user_id", "item_id", "rank", "generator", "generator_score"], orient="row")

    def targets(self, candidates: pl.DataFrame, cutoff: int | None = None) -> pl.DataFrame:
        """Candidate rows as target rows (the prompt contract): the last `history_k` interactions as history."""
        k, threshold = self.config.history_k, self.config.like_threshold
        rows = []
        for user, item in candidates.select("user_id", "item_id").iter_rows():
            h = self.history(user, cutoff)
            ratings = h.ratings[-k:]
            rows.append({
                "user_id": user, "item_id": item, "rating": None, "timestamp": cutoff, "label": None,
                "history_item_ids": h.item_ids[-k:], "history_ratings": ratings,
                "history_labels": [None if r is None else int(r > threshold) for r in ratings], "split": SERVE_SPLIT,
            })
        return pl.DataFrame(rows, schema={
            "user_id": pl.String, "item_id": pl.String, "rating": pl.Float64, "timestamp": pl.Int64,
            "label": pl.Int64, "history_item_ids": pl.List(pl.String), "history_ratings": pl.List(pl.Float64),
            "history_labels": pl.List(pl.Int64), "split": pl.String,
        })

    def predict_config(self, *, explain: bool, batch_size: int) -> PredictConfig:
        c = self.config
        return PredictConfig(
            method=c.method, method_name=f"{c.name}-{c.scorer}", dataset=c.dataset, domain=c.domain,
            include_profile=c.include_profile, include_descriptions=c.include_descriptions,
            like_threshold=c.like_threshold, max_prompt_tokens=c.max_prompt_tokens, generate_reasoning=explain,
            max_new_tokens=c.explanation_tokens, batch_size=max(1, batch_size), show_progress=self.show_progress,
            explain=c.explain.model_copy(update={"max_new_tokens": min(c.explain.max_new_tokens,
                                                                       c.explanation_tokens)}),
        )

    def student_predictions(self, targets: pl.DataFrame, *, explain: bool) -> pl.DataFrame:
        """`predict_labels` on the target rows, with only the items/users they need (PREDICTIONS_SCHEMA); an
        explanation from evidence reads every interaction up to the row's cut-off for its statistics."""
        if self.llm is None:
            raise DataError(f"bundle {self.bundle.root} has no LLM to score or explain with (scorer "
                            f"{self.config.scorer!r})", field="scorer")
        items = set(targets["item_id"].to_list()) | set(targets["history_item_ids"].explode().drop_nulls().to_list())
        users = set(targets["user_id"].to_list())
        b = self.bundle
        return predict_labels(
            targets, b.items.filter(pl.col("item_id").cast(pl.String).is_in(list(items))),
            _rows_for(b.item_descriptions, "item_id", items), _rows_for(b.user_profiles, "user_id", users),
            self.llm, self.predict_config(explain=explain, batch_size=targets.height),
            interactions=b.interactions if explain else None,
            encoder=self.encoder() if explain and self.config.explain.mode == "evidence" else None,
        )

    def encoder(self) -> SentenceEncoder:
        """The sentence model the explanations retrieve evidence with and the checker matches claims with."""
        if self._encoder is None:
            self._encoder = SentenceEncoder(cache_path=default_embedding_cache())
        return self._encoder

    def explain(self, targets: pl.DataFrame) -> pl.DataFrame:
        """(user_id, item_id, explanation, evidence, grounding, p_like, error) for each target row."""
        rows = targets.with_columns(pl.col("timestamp").fill_null(self._after_all))
        preds = self.student_predictions(rows, explain=True)
        if "evidence" not in preds.columns:
            preds = preds.with_columns(pl.lit(None, dtype=pl.String).alias("evidence"))
        grounded = self.config.explain.mode == "evidence"
        return preds.select("user_id", "item_id", pl.col("reasoning").alias("explanation"), "evidence",
                            pl.Series("grounding", self.grounding(rows, preds) if grounded else
                                      [None] * preds.height, dtype=pl.String),
                            pl.col("score").alias("p_like"), "error")

    def grounding(self, targets: pl.DataFrame, preds: pl.DataFrame) -> list[str | None]:
        """The checker's marks (counts, rates, one mark per sentence) as JSON for each explained row."""
        if self._checker is None:
            b = self.bundle
            explain = self.config.explain.model_copy(update={"evidence": self.config.explain.evidence.model_copy(
                update={"like_threshold": self.config.like_threshold})})
            self._checker = GroundingChecker(evidence_retriever(b.items, b.item_descriptions, b.interactions,
                                                                explain, self.encoder()))
        records, at = [], []
        for pos, (row, pred) in enumerate(zip(targets.iter_rows(named=True), preds.iter_rows(named=True),
                                             strict=True)):
            if pred["reasoning"]:
                records.append(ExplanationRecord(f"{row['user_id']}:{row['item_id']}", "recommend",
                                                 str(row["user_id"]), str(row["item_id"]), pred["reasoning"],
                                                 pred["pred_label"], row))
                at.append(pos)
        out: list[str | None] = [None] * preds.height
        for pos, result in zip(at, self._checker.check_records(records), strict=True):
            out[pos] = json.dumps(marks(result), ensure_ascii=False)
        return out

    def recommend(self, users: Sequence[str], config: RecommendConfig | None = None) -> pl.DataFrame:
        """RECOMMENDATION_SCHEMA rows: each user's top `n` with scores and (optionally) explanations."""
        cfg = config or RecommendConfig()
        for user in users:
            if not self.knows(user):
                raise DataError(f"unknown user {user!r}", field="user_id")
        cands = self.candidates(users, cfg.n_candidates, cfg.cutoff)
        if cands.height == 0:
            return pl.DataFrame(schema=RECOMMENDATION_SCHEMA)
        name = cfg.scorer or self.config.scorer
        scorer = SCORERS.get(name)
        if scorer is None:
            raise DataError(f"unknown scorer {name!r}; known: {', '.join(SCORERS)}", field="scorer")
        scores = scorer(self, cands, cfg)
        ranked = rerank(cands.select("user_id", "item_id", "rank"), scores.select("user_id", "item_id", "score"))
        top = ranked.filter(pl.col("rank") <= cfg.n).join(
            cands.select("user_id", "item_id", "generator", "generator_score"), on=["user_id", "item_id"],
            how="left").join(scores.drop("score"), on=["user_id", "item_id"], how="left")
        top = top.with_columns(pl.col("item_id").map_elements(self.title, return_dtype=pl.String).alias("title"),
                               pl.lit(name).alias("scorer"))
        explanations = self._explanations(top, cfg)
        out = top.join(explanations, on=["user_id", "item_id"], how="left") if explanations is not None else top
        return _conform(out).sort("user_id", "rank", maintain_order=True)

    def _explanations(self, top: pl.DataFrame, cfg: RecommendConfig) -> pl.DataFrame | None:
        if not cfg.explain:
            return None
        chosen = top.filter(pl.col("rank") <= (cfg.explain_top or cfg.n))
        explained = self.explain(self.targets(chosen, cfg.cutoff))
        return explained.select("user_id", "item_id", "explanation", "evidence", "grounding",
                                pl.col("error").alias("explain_error"))


def _rows_for(table: pl.DataFrame | None, key: str, ids: set[str]) -> pl.DataFrame | None:
    return None if table is None else table.filter(pl.col(key).cast(pl.String).is_in(list(ids)))


def _conform(table: pl.DataFrame) -> pl.DataFrame:
    if "explain_error" in table.columns:
        table = table.with_columns(pl.coalesce("error", "explain_error").alias("error")).drop("explain_error")
    for name, dtype in RECOMMENDATION_SCHEMA.items():
        if name not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return table.select([pl.col(n).cast(t) for n, t in RECOMMENDATION_SCHEMA.items()])


# ------------------------------------------------------------------------------------------------ scorers


def llm_scores(recommender: Recommender, candidates: pl.DataFrame, config: RecommendConfig) -> pl.DataFrame:
    """The student's P(like) of each candidate (one forward pass each, batched and cached)."""
    preds = recommender.student_predictions(recommender.targets(candidates, config.cutoff), explain=False)
    return preds.select("user_id", "item_id", "score", pl.col("score").alias("p_like"), "pred_rating", "error")


def cf_scores(recommender: Recommender, candidates: pl.DataFrame, config: RecommendConfig) -> pl.DataFrame:
    """No LLM: the generator's order stands (every score null, so ranking keeps generator ranks)."""
    return candidates.select("user_id", "item_id", pl.lit(None, pl.Float64).alias("score"),
                             pl.lit(None, pl.Float64).alias("p_like"), pl.lit(None, pl.Float64).alias("pred_rating"),
                             pl.lit(None, pl.String).alias("error"))


def hybrid_scores(recommender: Recommender, candidates: pl.DataFrame, config: RecommendConfig) -> pl.DataFrame:
    """`hybrid_weight` × P(like) + (1 − `hybrid_weight`) × the generator's rank score 1 − (rank − 1)/n_candidates:
    the student reorders, the generator's confidence keeps a say; a failed P(like) leaves the score null."""
    llm = llm_scores(recommender, candidates, config)
    prior = candidates.select("user_id", "item_id",
                              (1.0 - (pl.col("rank") - 1) / config.n_candidates).alias("generator_prior"))
    w = config.hybrid_weight
    return llm.join(prior, on=["user_id", "item_id"], how="left").with_columns(
        (w * pl.col("p_like") + (1.0 - w) * pl.col("generator_prior")).alias("score")).drop("generator_prior")


SCORERS: dict[str, Scorer] = {"llm": llm_scores, "cf": cf_scores, "hybrid": hybrid_scores}
NEEDS_LLM = frozenset({"llm", "hybrid"})


# ------------------------------------------------------------------------------------------------ output


def as_records(table: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: `evidence`/`grounding` decoded, NaN as null."""
    out = []
    for row in table.iter_rows(named=True):
        for key in ("evidence", "grounding"):
            row[key] = json.loads(row[key]) if row.get(key) else None
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return out


def render_table(table: pl.DataFrame, console: Any = None, *, width: int = 70) -> None:
    """A readable terminal table per user: rank, item, P(like), generator rank, explanation (shortened, flagged
    sentences marked ⚑, with its supported-claim count)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for (user,), group in table.group_by("user_id", maintain_order=True):
        view = Table(title=f"user {user}", show_lines=bool(group["explanation"].drop_nulls().len()))
        for column, justify in (("#", "right"), ("item", "left"), ("P(like)", "right"), ("CF #", "right"),
                                ("why", "left")):
            view.add_column(column, justify=justify, overflow="fold")
        for row in group.iter_rows(named=True):
            p = row["p_like"]
            why = _why(row)
            view.add_row(str(row["rank"]), row["title"] or row["item_id"], "-" if p is None else f"{p:.3f}",
                         str(row["generator_rank"]), why if len(why) <= width * 3 else why[: width * 3] + "…")
        console.print(view)


def _why(row: dict[str, Any]) -> str:
    """The explanation with ⚑ before each sentence the checker flagged, and its supported-claim count."""
    if not row["explanation"]:
        return "" if row["error"] is None else f"error: {row['error']}"
    if not row.get("grounding"):
        return row["explanation"]
    cell = json.loads(row["grounding"])
    counts = f"[{cell['supported']}/{cell['checkable']} checkable claims supported]"
    return f"{marked_text(cell, row['explanation'])} {counts}"


__all__ = ["RECOMMENDATION_SCHEMA", "SCORERS", "RecommendConfig", "Recommender", "Scorer", "UserHistory",
           "as_records", "cf_scores", "hybrid_scores", "llm_scores", "render_table"]
