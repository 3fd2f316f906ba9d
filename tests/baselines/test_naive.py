"""Naive statistics: exact values and the documented fallbacks for cold users/items."""

from __future__ import annotations

import polars as pl
import pytest

from reasonrec.baselines import ItemMean, TrainData, UserLikeShare, UserMean
from reasonrec.data.schema import TARGET_SCHEMA


def _targets(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=TARGET_SCHEMA)


@pytest.fixture
def data() -> TrainData:
    inter = pl.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["i1", "i2", "i1"],
                          "rating": [5.0, 1.0, 3.0], "timestamp": [1, 2, 3]})
    return TrainData(inter, _targets([]))


def test_user_statistics_use_the_window_then_training_then_global(data: TrainData) -> None:
    targets = _targets([
        {"user_id": "u1", "item_id": "i9", "rating": 4.0, "timestamp": 9, "label": 1, "history_item_ids": ["i1", "i3"],
         "history_ratings": [5.0, 4.0], "history_labels": [1, 1], "split": "test"},
        {"user_id": "u1", "item_id": "i9", "rating": 2.0, "timestamp": 9, "label": 0, "history_item_ids": [],
         "history_ratings": [], "history_labels": [], "split": "test"},
        {"user_id": "new", "item_id": "i9", "rating": 2.0, "timestamp": 9, "label": 0, "history_item_ids": [],
         "history_ratings": [], "history_labels": [], "split": "test"},
    ])
    mean = UserMean().fit(data)
    preds = mean.predict(targets, dataset="toy")
    assert preds["pred_rating"].to_list() == pytest.approx([4.5, 3.0, 3.0])
    assert mean.fallbacks == {"window": 1, "user_train": 1, "global": 1}
    share = UserLikeShare().fit(data).predict(targets)
    assert share["score"].to_list() == pytest.approx([1.0, 0.5, 1 / 3])
    assert share["pred_rating"].null_count() == 3
    assert share["split"].to_list() == ["test"] * 3


def test_item_mean_falls_back_to_the_global_mean(data: TrainData) -> None:
    targets = _targets([
        {"user_id": "u9", "item_id": item, "rating": 4.0, "timestamp": 9, "label": 1, "history_item_ids": [],
         "history_ratings": [], "history_labels": [], "split": "valid"} for item in ("i1", "i2", "cold")
    ])
    model = ItemMean().fit(data)
    preds = model.predict(targets, split="valid")
    assert preds["pred_rating"].to_list() == pytest.approx([4.0, 1.0, 3.0])
    assert preds["pred_label"].to_list() == [1, 0, 0]  # like = pred_rating > r_T, the ground-truth rule
    assert model.fallbacks == {"item_train": 2, "global": 1}
