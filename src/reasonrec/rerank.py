"""Multi-stage top-k (EXP3RT §3.6, Table 4): a CF generator proposes candidates, an LLM scorer reorders them.

    candidates (user_id, item_id, rank)   ← BPR-MF / LightGCN `.recommend(users, k=20)`
    scores     (user_id, item_id, score)  ← any scorer: EXP3RT E[rating], ReasoningRec P(like), …
    reranked   (user_id, item_id, rank, generator_rank, score, reasoning)

Rules that keep the comparison honest:
- Candidates never include an item the user interacted with up to the cut-off (`seen_before`: for a test target,
  everything before it — training rows, the valid target, the history window), or the generator's #1 may be an
  item the user already bought.
- Reranking is a permutation of each user's candidates: nothing is added or dropped. A candidate the scorer gave
  no score (failed call, missing row) sinks below every scored one and is counted (`missing_scores`), never
  silently treated as a real score.
- Ties keep the generator's order (a stable sort on (-score, generator rank)), so a constant scorer returns the
  generator's list unchanged and a coarse scorer only moves items it actually separates.
- Scorers that see several candidates in ONE prompt (list-wise) get them in a seeded shuffled order
  (`listwise_scores`), because LLMs favour early list positions; scores are mapped back to item ids before
  reranking, so the shuffle never leaks into the result.
- Metrics: Recall@k / NDCG@k (k = 5, 10, 15, 20) for generator-only vs reranked, computed by
  `reasonrec.eval.metrics.ranking_metrics` on the same users and the same relevant sets — and only when at least
  `min_scored_share` of the candidates have a score: a "gain" measured on a list the scorer mostly did not see
  is the generator's order with noise, so the run is refused instead.
- The scorer's reasoning (the `reasoning` column of a predictions table) travels with each reranked item.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import DataError
from reasonrec.eval.metrics import ranking_metrics
from reasonrec.io import write_json, write_parquet
from reasonrec.runs import write_manifest

RERANK_KS: tuple[int, ...] = (5, 10, 15, 20)

CANDIDATE_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String(), "rank": pl.Int64()}
SCORE_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String(), "score": pl.Float64()}
RERANKED_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(), "item_id": pl.String(), "rank": pl.Int64(), "generator_rank": pl.Int64(),
    "score": pl.Float64(), "reasoning": pl.String(),
}

# A point-wise scorer: candidate pairs (user_id, item_id, rank) → (user_id, item_id, score).
PairScorer = Callable[[pl.DataFrame], pl.DataFrame]
# A list-wise scorer: (user_id, item ids in prompt order) → one score per listed item, same order.
ListScorer = Callable[[str, Sequence[str]], Sequence[float]]


class RerankConfig(Config):
    """EXP3RT Table 4 protocol: top-20 candidates, Recall/NDCG at 5/10/15/20."""

    n_candidates: int = Field(20, ge=1, description="candidates per user taken from the generator")
    ks: list[int] = Field(default_factory=lambda: list(RERANK_KS), description="cut-offs for Recall/NDCG")
    seed: int = Field(0, description="seed of the candidate shuffle for list-wise prompts")
    exclude_train: bool = Field(True, description="generator never proposes a user's training items")
    min_scored_share: float = Field(0.9, ge=0.0, le=1.0, description="metrics are refused when fewer candidates "
                                    "than this share have a score")


# ------------------------------------------------------------------------------------------------ inputs


def _require(table: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    for col in columns:
        if col not in table.columns:
            raise DataError(f"{name} table has no {col!r} column (columns: {table.columns})", field=col)


def normalise_candidates(candidates: pl.DataFrame, n_candidates: int | None = None) -> pl.DataFrame:
    """(user_id, item_id, rank) sorted by user then rank; ranks renumbered 1..n; duplicates are an error."""
    _require(candidates, ("user_id", "item_id", "rank"), "candidates")
    out = candidates.select(
        pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String), pl.col("rank").cast(pl.Int64)
    ).sort("user_id", "rank", maintain_order=True)
    dup = out.filter(pl.struct("user_id", "item_id").is_duplicated())
    if dup.height:
        first = dup.row(0, named=True)
        raise DataError(f"candidate item {first['item_id']!r} listed twice for user {first['user_id']!r}",
                        field="item_id")
    out = out.with_columns(pl.int_range(1, pl.len() + 1).over("user_id").cast(pl.Int64).alias("rank"))
    if n_candidates is not None:
        out = out.filter(pl.col("rank") <= n_candidates)
    return out


def seen_before(targets: pl.DataFrame, interactions: pl.DataFrame) -> dict[str, set[str]]:
    """user → every item they interacted with before their target (the cut-off): interactions with an earlier
    timestamp plus the target row's history window. Users with several target rows get the union up to their
    latest target."""
    _require(targets, ("user_id", "item_id", "timestamp"), "targets")
    _require(interactions, ("user_id", "item_id", "timestamp"), "interactions")
    cutoff = targets.group_by(pl.col("user_id").cast(pl.String)).agg(pl.col("timestamp").max().alias("_cutoff"))
    earlier = (interactions.select(pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String),
                                   "timestamp")
               .join(cutoff, on="user_id").filter(pl.col("timestamp") < pl.col("_cutoff")))
    out: dict[str, set[str]] = {}
    for user, item in earlier.select("user_id", "item_id").iter_rows():
        out.setdefault(user, set()).add(item)
    if "history_item_ids" in targets.columns:
        for user, history in targets.select(pl.col("user_id").cast(pl.String), "history_item_ids").iter_rows():
            out.setdefault(user, set()).update(str(i) for i in history or ())
    return out


def generate_candidates(model: Any, users: Sequence[str], config: RerankConfig | None = None, *,
                        exclude: Mapping[str, set[str]] | None = None) -> pl.DataFrame:
    """Top-n candidates from a fitted top-k generator (BPRMF, LightGCN): (user_id, item_id, rank, generator_score).

    `exclude` (e.g. `seen_before(test, interactions)`) removes items per user through the model's factors; without
    it the model's own rule applies (its training items when `exclude_train`)."""
    cfg = config or RerankConfig()
    if exclude is not None and callable(getattr(model, "factors", None)):
        table = model.factors().recommend(list(users), cfg.n_candidates, exclude=exclude)
    else:
        recommend = getattr(model, "recommend", None)
        if not callable(recommend):
            raise DataError(f"{type(model).__name__} has no recommend(users, k): it cannot generate candidates")
        if exclude is not None:
            raise DataError(f"{type(model).__name__} cannot exclude items per user (no factors())")
        table = recommend(list(users), cfg.n_candidates, exclude_train=cfg.exclude_train)
    return table.rename({"score": "generator_score"}) if "score" in table.columns else table


def scores_from_predictions(predictions: pl.DataFrame, score_column: str = "score") -> pl.DataFrame:
    """(user_id, item_id, score, reasoning) from any predictions table; `score_column` may be e.g. `pred_rating`.

    Several rows for one pair (multi-sample predictions) are averaged over their non-null scores; the pair keeps
    its first non-empty reasoning (null when the table has none).
    """
    _require(predictions, ("user_id", "item_id", score_column), "predictions")
    reasoning = pl.col("reasoning") if "reasoning" in predictions.columns else pl.lit(None, pl.String)
    return (
        predictions.select(
            pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String),
            pl.col(score_column).cast(pl.Float64).alias("score"), reasoning.cast(pl.String).alias("reasoning"),
        )
        .group_by("user_id", "item_id", maintain_order=True)
        .agg(pl.col("score").mean(), pl.col("reasoning").drop_nulls().first())
    )


def relevant_sets(table: pl.DataFrame) -> dict[str, set[str]]:
    """user → set of relevant items from a (user_id, item_id[, label]) table; rows with label 0 are dropped."""
    _require(table, ("user_id", "item_id"), "relevant")
    if "label" in table.columns:
        table = table.filter(pl.col("label").fill_null(1) == 1)
    out: dict[str, set[str]] = {}
    for user, item in table.select(pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String)).iter_rows():
        out.setdefault(user, set()).add(item)
    return out


# ------------------------------------------------------------------------------------------------ scoring


def shuffled_lists(candidates: pl.DataFrame, seed: int) -> dict[str, list[str]]:
    """user → candidate items in a seeded random order (RNG per (seed, user): independent of other users)."""
    cands = normalise_candidates(candidates)
    out: dict[str, list[str]] = {}
    for (user,), group in cands.group_by("user_id", maintain_order=True):
        items = group.sort("rank")["item_id"].to_list()
        random.Random(f"{seed}:{user}").shuffle(items)
        out[str(user)] = items
    return out


def listwise_scores(candidates: pl.DataFrame, scorer: ListScorer, seed: int = 0) -> pl.DataFrame:
    """Score every user's candidates with ONE list-wise call on a shuffled list; map scores back to item ids."""
    rows: list[tuple[str, str, float | None]] = []
    for user, items in shuffled_lists(candidates, seed).items():
        scores = list(scorer(user, items))
        if len(scores) != len(items):
            raise DataError(f"list scorer returned {len(scores)} scores for {len(items)} candidates of user {user!r}")
        rows.extend((user, item, None if s is None else float(s)) for item, s in zip(items, scores, strict=True))
    return pl.DataFrame(rows, schema=SCORE_SCHEMA, orient="row")


def pairwise_scores(candidates: pl.DataFrame, scorer: PairScorer) -> pl.DataFrame:
    """Run a point-wise scorer on the candidate pairs and keep (user_id, item_id, score)."""
    scored = scorer(normalise_candidates(candidates))
    return scores_from_predictions(scored)


# ------------------------------------------------------------------------------------------------ rerank


def rerank(candidates: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """RERANKED_SCHEMA rows: each user's candidates sorted by score desc, ties (and missing scores) by generator
    rank; missing scores go last. Exactly the candidate set per user, ranks 1..n."""
    cands = normalise_candidates(candidates)
    _require(scores, ("user_id", "item_id", "score"), "scores")
    s = scores_from_predictions(scores)
    joined = cands.join(s, on=["user_id", "item_id"], how="left", maintain_order="left")
    ordered = joined.with_columns(pl.col("score").is_null().alias("_missing")).sort(
        ["user_id", "_missing", "score", "rank"], descending=[False, False, True, False], nulls_last=True,
        maintain_order=True,
    )
    return ordered.select(
        "user_id", "item_id",
        pl.int_range(1, pl.len() + 1).over("user_id").cast(pl.Int64).alias("rank"),
        pl.col("rank").alias("generator_rank"), "score", "reasoning",
    ).cast(RERANKED_SCHEMA)  # type: ignore[arg-type]


def ranked_lists(table: pl.DataFrame) -> dict[str, list[str]]:
    """user → items in `rank` order from a candidates or reranked table."""
    out: dict[str, list[str]] = {}
    for user, item in table.sort("user_id", "rank").select("user_id", "item_id").iter_rows():
        out.setdefault(str(user), []).append(str(item))
    return out


def compare_rankings(
    candidates: pl.DataFrame, reranked: pl.DataFrame, relevant: Mapping[str, set[str]],
    ks: Sequence[int] = RERANK_KS,
) -> dict[str, Any]:
    """Recall/NDCG@k for generator-only and reranked lists on the same users, plus the per-k gain."""
    gen = ranking_metrics(ranked_lists(normalise_candidates(candidates)), relevant, ks)
    new = ranking_metrics(ranked_lists(reranked), relevant, ks)
    out: dict[str, Any] = {"generator": {}, "reranked": {}, "gain": {}}
    for key in gen:
        g, r = gen[key].value, new[key].value
        out["generator"][key] = g
        out["reranked"][key] = r
        out["gain"][key] = None if g is None or r is None else r - g
    first = next(iter(gen.values()), None)
    out["users_scored"] = first.n if first is not None else 0
    out["users_without_relevant"] = (first.extra or {}).get("users_without_relevant") if first else None
    return out


def rerank_and_evaluate(
    candidates: pl.DataFrame,
    scores: pl.DataFrame,
    relevant: Mapping[str, set[str]],
    config: RerankConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    command: str = "rerank",
    inputs: Sequence[str | Path] = (),
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Rerank, compare with the generator, and (with `out_dir`) write reranked.parquet + metrics.json + manifest."""
    started = time.time()
    cfg = config or RerankConfig()
    cands = normalise_candidates(candidates, cfg.n_candidates)
    reranked = rerank(cands, scores)
    missing = int(reranked["score"].is_null().sum())
    scored_share = (cands.height - missing) / cands.height if cands.height else 0.0
    if scored_share < cfg.min_scored_share:
        raise DataError(f"only {cands.height - missing} of {cands.height} candidates ({scored_share:.1%}) have a "
                        f"score, below min_scored_share={cfg.min_scored_share:g}: Recall/NDCG would mostly measure "
                        "the generator's order; score the candidates (e.g. predict on candidates.parquet) or lower "
                        "min_scored_share on purpose", field="score")
    metrics = compare_rankings(cands, reranked, relevant, cfg.ks)
    metrics["candidates"] = cands.height
    metrics["users"] = cands["user_id"].n_unique()
    metrics["missing_scores"] = missing
    metrics["scored_share"] = scored_share
    metrics["ks"] = list(cfg.ks)
    if out_dir is not None:
        out = Path(out_dir)
        written = [write_parquet(out / "reranked.parquet", reranked), write_json(out / "metrics.json", metrics)]
        write_manifest(out, command=command, config=cfg, seeds={"seed": cfg.seed}, inputs=inputs,
                       outputs=[*written, out / "config.yaml"], extra={"metrics": json.loads(json.dumps(metrics))},
                       started_at=started)
    return reranked, metrics


__all__ = [
    "CANDIDATE_SCHEMA", "RERANKED_SCHEMA", "RERANK_KS", "SCORE_SCHEMA", "ListScorer", "PairScorer", "RerankConfig",
    "compare_rankings", "generate_candidates", "listwise_scores", "normalise_candidates", "pairwise_scores",
    "ranked_lists", "relevant_sets", "rerank", "rerank_and_evaluate", "scores_from_predictions", "seen_before",
    "shuffled_lists",
]
