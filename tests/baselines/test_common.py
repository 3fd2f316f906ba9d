"""Shared baseline helpers: the cold-row floor and the positive-interaction filter BPR and LightGCN both use."""

from __future__ import annotations

import numpy as np
import polars as pl

from reasonrec.baselines.common import TrainData, positive_interactions, sigmoid_with_cold_floor


def test_cold_rows_score_below_every_warm_row() -> None:
    prob, cold = sigmoid_with_cold_floor(np.array([0.5, np.nan, -2.0]))
    assert cold == 1
    assert prob[1] < prob[2] < prob[0]
    assert np.isclose(prob[1], 1 / (1 + np.exp(3.0)))
    all_cold, n = sigmoid_with_cold_floor(np.array([np.nan, np.nan]))
    assert n == 2 and np.allclose(all_cold, 0.5)


def test_positive_interactions_filters_only_the_positives() -> None:
    inter = pl.DataFrame({"user_id": [1, 1, 2], "item_id": [7, 8, 7], "rating": [5, 2, 4]})
    data = TrainData(interactions=inter, train=pl.DataFrame())
    everything, positives = positive_interactions(data, 4.0)
    assert everything.height == 3 and everything["user_id"].dtype == pl.String
    assert positives["rating"].to_list() == [5.0, 4.0]
    same, also_same = positive_interactions(data, None)
    assert same.equals(also_same) and same.height == 3
