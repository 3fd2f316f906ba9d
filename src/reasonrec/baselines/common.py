"""What every classic baseline shares: the training inputs, the fit/predict contract, seeding, and the
conversion of raw scores into the one predictions schema.

A baseline sees exactly the tables the split contract defines: the CF training interactions (canonical
interactions table) and the target tables (one row per (user, target item) with the chronological history
before it). It never reads files itself, so the same class runs on any dataset and any split strategy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import polars as pl

from reasonrec.config import Config
from reasonrec.errors import DataError
from reasonrec.predictions import conform_predictions

TARGET_COLUMNS = (
    "user_id", "item_id", "rating", "timestamp", "label",
    "history_item_ids", "history_ratings", "history_labels", "split",
)


@dataclass
class TrainData:
    """Inputs to `fit`: CF training interactions plus the train/valid target tables.

    `r_threshold` defines a like (rating > r_threshold) wherever a model needs to binarise ratings itself.
    `valid` is optional; models that early-stop fall back to a fixed number of epochs without it.
    """

    interactions: pl.DataFrame
    train: pl.DataFrame
    valid: pl.DataFrame | None = None
    r_threshold: float = 3.0


class BaselineConfig(Config):
    """Fields every baseline config has."""

    seed: int = 42


@runtime_checkable
class Baseline(Protocol):
    """fit on `TrainData`, then score any target table into the predictions schema."""

    name: ClassVar[str]

    def fit(self, data: TrainData) -> Baseline: ...

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame: ...


@runtime_checkable
class TopKRecommender(Baseline, Protocol):
    """A baseline that can also generate candidates (consumed by the rerank stage)."""

    def recommend(self, users: list[str], k: int, exclude_train: bool = True) -> pl.DataFrame: ...


def check_target_table(df: pl.DataFrame, *, table: str = "targets", need_history: bool = True) -> None:
    """Raise a DataError naming the first missing column of a target table."""
    needed = TARGET_COLUMNS if need_history else ("user_id", "item_id")
    for col in needed:
        if col not in df.columns:
            raise DataError(f"{table}: target table is missing a column", path=table, field=col)


def predictions_frame(
    targets: pl.DataFrame,
    *,
    method: str,
    dataset: str,
    split: str | None,
    score: np.ndarray,
    pred_rating: np.ndarray | None = None,
    r_threshold: float = 3.0,
    prob_threshold: float = 0.5,
) -> pl.DataFrame:
    """Attach scores to the target rows and conform to PREDICTIONS_SCHEMA.

    `pred_label` comes from `pred_rating > r_threshold` when the model predicts ratings (same rule as the
    ground-truth label), else from `score >= prob_threshold` (score is a probability).
    """
    n = targets.height
    score = np.asarray(score, dtype=np.float64)
    if score.shape != (n,):
        raise ValueError(f"{method}: got {score.shape[0]} scores for {n} target rows")
    if split is None:
        split_col = targets["split"] if "split" in targets.columns else pl.Series([None] * n, dtype=pl.String)
    else:
        split_col = pl.Series([split] * n, dtype=pl.String)
    cols: dict[str, object] = {
        "method": [method] * n,
        "dataset": [dataset] * n,
        "split": split_col,
        "user_id": targets["user_id"].cast(pl.String),
        "item_id": targets["item_id"].cast(pl.String),
        "label": targets["label"] if "label" in targets.columns else pl.Series([None] * n, dtype=pl.Int64),
        "rating": targets["rating"] if "rating" in targets.columns else pl.Series([None] * n, dtype=pl.Float64),
        "score": score,
    }
    if pred_rating is not None:
        pred_rating = np.asarray(pred_rating, dtype=np.float64)
        cols["pred_rating"] = pred_rating
        cols["pred_label"] = (pred_rating > r_threshold).astype(np.int64)
    else:
        cols["pred_rating"] = pl.Series([None] * n, dtype=pl.Float64)
        cols["pred_label"] = (score >= prob_threshold).astype(np.int64)
    return conform_predictions(pl.DataFrame(cols))


@contextlib.contextmanager
def torch_determinism(seed: int, threads: int = 1) -> Iterator[None]:
    """Seed torch, force deterministic kernels and a fixed thread count; restore the previous settings after.

    A fixed, small thread count matters on CPU: reductions split across a different number of threads sum in
    a different order and change the last bits, which early stopping can amplify into different models.
    """
    import torch

    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)


def interactions_of(data: TrainData) -> pl.DataFrame:
    """The CF training interactions with string ids and float ratings (validated minimally)."""
    df = data.interactions
    for col in ("user_id", "item_id", "rating"):
        if col not in df.columns:
            raise DataError("training interactions are missing a column", path="train_interactions", field=col)
    return df.with_columns(
        pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String), pl.col("rating").cast(pl.Float64)
    )


def positive_interactions(data: TrainData, min_rating: float | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(all training interactions, the ones a pairwise model treats as positives: rating >= `min_rating`).

    Both are returned because recommendation excludes every training item, liked or not."""
    all_inter = interactions_of(data)
    if min_rating is None:
        return all_inter, all_inter
    return all_inter, all_inter.filter(pl.col("rating") >= min_rating)


def sigmoid_with_cold_floor(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """(sigmoid of raw scores, number of cold rows): NaN rows (cold user or item) score below every warm row."""
    raw = np.asarray(raw, dtype=np.float64)
    cold = int(np.isnan(raw).sum())
    floor = np.nanmin(raw) - 1.0 if np.isfinite(raw).any() else 0.0
    raw = np.where(np.isnan(raw), floor, raw)
    return 1.0 / (1.0 + np.exp(-raw)), cold


def top_k_table(
    users: list[str],
    item_ids: list[str],
    score_rows: np.ndarray,
    k: int,
    exclude: list[set[int]] | None = None,
) -> pl.DataFrame:
    """Turn a (n_users, n_items) score matrix into `(user_id, item_id, rank, score)` rows, rank 1 = best.

    `exclude[u]` holds item column indices never to recommend to user row u (their training items). Ties break
    by item column order (stable sort), so equal scores give the same list on every run.
    """
    out_u: list[str] = []
    out_i: list[str] = []
    out_r: list[int] = []
    out_s: list[float] = []
    for row, user in enumerate(users):
        scores = np.asarray(score_rows[row], dtype=np.float64).copy()
        if exclude is not None and exclude[row]:
            scores[list(exclude[row])] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[np.isfinite(scores[order])]
        out_u.extend([user] * len(order))
        out_i.extend(item_ids[j] for j in order)
        out_r.extend(range(1, len(order) + 1))
        out_s.extend(float(scores[j]) for j in order)
    return pl.DataFrame(
        {"user_id": out_u, "item_id": out_i, "rank": out_r, "score": out_s},
        schema={"user_id": pl.String, "item_id": pl.String, "rank": pl.Int64, "score": pl.Float64},
    )
