"""Trivial statistics baselines: the bar every LLM method must clear.

On the ReasoningRec Beauty split the user's own history is the strongest signal (data README: like-share of
the history window AUC 0.866, user mean rating 0.868), so these are reported next to every method.

- `user-mean`: the user's mean rating over the target row's history window (the rows the LLM prompt sees);
  users with an empty window fall back to their mean over the CF training interactions, then to the global
  mean. Predicts a rating; the same number is the AUC score.
- `user-like-share`: share of liked items (history_labels) in the window; fallback: the user's like-share in
  the training interactions (rating > r_T), then the global like-share. Predicts P(like); no rating.
- `item-mean`: the target item's mean rating in the training interactions; cold items get the global mean.
- `global-mean`: the mean training rating for every row (the floor of any rating predictor).

Fallbacks are counted in `self.fallbacks` so a report can say how many rows used them.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from reasonrec.baselines.common import (
    BaselineConfig,
    TrainData,
    check_target_table,
    interactions_of,
    predictions_frame,
)


class NaiveConfig(BaselineConfig):
    """`min_history` = windows shorter than this use the fallback statistic."""

    min_history: int = 1


class _NaiveBase:
    name: ClassVar[str] = "naive"

    def __init__(self, config: NaiveConfig | None = None) -> None:
        self.config = config or NaiveConfig()
        self.r_threshold = 3.0
        self.global_mean = float("nan")
        self.global_like_share = float("nan")
        self.user_mean: dict[str, float] = {}
        self.user_like_share: dict[str, float] = {}
        self.item_mean: dict[str, float] = {}
        self.fallbacks: dict[str, int] = {}

    def fit(self, data: TrainData) -> _NaiveBase:
        inter = interactions_of(data)
        self.r_threshold = data.r_threshold
        liked = (pl.col("rating") > data.r_threshold).cast(pl.Float64)
        self.global_mean = float(inter["rating"].mean())  # type: ignore[arg-type]
        self.global_like_share = float(inter.select(liked.mean()).item())
        users = inter.group_by("user_id").agg(pl.col("rating").mean().alias("m"), liked.mean().alias("s"))
        self.user_mean = dict(zip(users["user_id"].to_list(), users["m"].to_list(), strict=True))
        self.user_like_share = dict(zip(users["user_id"].to_list(), users["s"].to_list(), strict=True))
        items = inter.group_by("item_id").agg(pl.col("rating").mean().alias("m"))
        self.item_mean = dict(zip(items["item_id"].to_list(), items["m"].to_list(), strict=True))
        return self

    def _window_stat(self, targets: pl.DataFrame, column: str, fallback: dict[str, float], default: float) -> np.ndarray:
        check_target_table(targets)
        out = np.empty(targets.height, dtype=np.float64)
        counts = {"window": 0, "user_train": 0, "global": 0}
        for i, (user, hist) in enumerate(zip(targets["user_id"].to_list(), targets[column].to_list(), strict=True)):
            values = [float(v) for v in (hist or []) if v is not None]
            if len(values) >= self.config.min_history:
                out[i] = float(np.mean(values))
                counts["window"] += 1
            elif user in fallback:
                out[i] = fallback[user]
                counts["user_train"] += 1
            else:
                out[i] = default
                counts["global"] += 1
        self.fallbacks = counts
        return out


class UserMean(_NaiveBase):
    name: ClassVar[str] = "user-mean"

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        r = self._window_stat(targets, "history_ratings", self.user_mean, self.global_mean)
        return predictions_frame(targets, method=self.name, dataset=dataset, split=split, score=r, pred_rating=r,
                                 r_threshold=self.r_threshold)


class UserLikeShare(_NaiveBase):
    name: ClassVar[str] = "user-like-share"

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        s = self._window_stat(targets, "history_labels", self.user_like_share, self.global_like_share)
        return predictions_frame(targets, method=self.name, dataset=dataset, split=split, score=s)


class ItemMean(_NaiveBase):
    name: ClassVar[str] = "item-mean"

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        check_target_table(targets, need_history=False)
        items = targets["item_id"].cast(pl.String).to_list()
        r = np.array([self.item_mean.get(i, self.global_mean) for i in items], dtype=np.float64)
        cold = sum(1 for i in items if i not in self.item_mean)
        self.fallbacks = {"item_train": len(items) - cold, "global": cold}
        return predictions_frame(targets, method=self.name, dataset=dataset, split=split, score=r, pred_rating=r,
                                 r_threshold=self.r_threshold)


class GlobalMean(_NaiveBase):
    name: ClassVar[str] = "global-mean"

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        check_target_table(targets, need_history=False)
        r = np.full(targets.height, self.global_mean, dtype=np.float64)
        self.fallbacks = {"global": targets.height}
        return predictions_frame(targets, method=self.name, dataset=dataset, split=split, score=r, pred_rating=r,
                                 r_threshold=self.r_threshold)
