"""Every baseline learns a planted signal, is deterministic under a seed, and writes the predictions schema."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from baseline_fixtures import dense_train_targets, planted_split

from reasonrec.auc import rank_auc
from reasonrec.baselines import BASELINES, TopKRecommender, TrainData, make_baseline
from reasonrec.predictions import PREDICTIONS_SCHEMA

# Small settings keep the default suite fast; the bench runs the defaults.
FAST = {
    "bpr": {"min_rating": 4.0, "max_iter": 100},
    "lightgcn": {"min_rating": 4.0, "epochs": 20, "embedding_dim": 32},
    "sasrec": {"embedding_dim": 32, "max_epochs": 12, "patience": 3},
    "caser": {"embedding_dim": 32, "max_epochs": 12, "patience": 3},
}
SEQUENTIAL = {"sasrec", "caser"}


@pytest.fixture(scope="module")
def planted() -> tuple[TrainData, TrainData, pl.DataFrame]:
    data, test = planted_split()
    dense = TrainData(data.interactions, dense_train_targets(), data.valid, data.r_threshold)
    return data, dense, test


def _fit_predict(name: str, planted) -> pl.DataFrame:
    data, dense, test = planted
    model = make_baseline(name, FAST.get(name, {}))
    model.fit(dense if name in SEQUENTIAL else data)
    return model.predict(test, dataset="planted", split="test")


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_learns_planted_signal_deterministically_in_the_schema(name: str, planted) -> None:
    preds = _fit_predict(name, planted)
    if name == "global-mean":  # the floor: one number for every row, the training mean
        assert preds["score"].n_unique() == 1
        assert preds["score"][0] == pytest.approx(planted[0].interactions["rating"].mean())
    else:
        auc = rank_auc(preds["label"].to_numpy(), preds["score"].to_numpy())
        assert auc > 0.6, f"{name}: AUC {auc:.3f} on a planted signal"
    again = _fit_predict(name, planted)
    assert preds.equals(again), f"{name}: same seed gave different predictions"

    test = planted[2]
    assert list(preds.columns)[: len(PREDICTIONS_SCHEMA)] == list(PREDICTIONS_SCHEMA)
    assert all(preds.schema[c] == t for c, t in PREDICTIONS_SCHEMA.items())
    assert preds.height == test.height
    assert preds["user_id"].to_list() == test["user_id"].to_list()
    assert preds["label"].to_list() == test["label"].to_list()
    assert preds["score"].is_finite().all()
    assert set(preds["method"].unique().to_list()) == {name}
    assert set(preds["pred_label"].unique().to_list()) <= {0, 1}
    if "rating" in BASELINES[name].tasks:
        assert preds["pred_rating"].null_count() == 0
        assert preds["pred_rating"].min() >= 1.0 and preds["pred_rating"].max() <= 5.0


@pytest.mark.parametrize("name", ["bpr", "lightgcn"])
def test_recommend_excludes_training_items_and_finds_the_planted_genre(name: str, planted) -> None:
    data, _, _ = planted
    model = make_baseline(name, FAST[name]).fit(data)
    assert isinstance(model, TopKRecommender)
    users = sorted(set(data.interactions["user_id"].to_list()))[:40]
    recs = model.recommend(users, k=5, exclude_train=True)
    assert recs.columns == ["user_id", "item_id", "rank", "score"]
    assert recs.group_by("user_id").len()["len"].max() == 5
    seen = set(zip(data.interactions["user_id"], data.interactions["item_id"], strict=True))
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"], strict=True))
    # The genre a user likes = the genre of their highly rated training items; top-5 should mostly match it.
    liked = data.interactions.filter(pl.col("rating") >= 4).group_by("user_id").agg(
        (pl.col("item_id").str.slice(0, 1) == "a").mean().alias("share_a"))
    loves = {u: s > 0.5 for u, s in zip(liked["user_id"], liked["share_a"], strict=True)}
    match = np.mean([(i[0] == "a") == loves[u] for u, i in zip(recs["user_id"], recs["item_id"], strict=True)
                     if u in loves])
    assert match > 0.8
    with_train = model.recommend(users[:3], k=5, exclude_train=False)
    assert with_train.height == 15
    assert (with_train.sort("user_id", "rank").group_by("user_id", maintain_order=True)
            .agg(pl.col("score").diff().drop_nulls().max())["score"] <= 0).all()


def test_unknown_baseline_name_is_a_config_error() -> None:
    from reasonrec.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown baseline"):
        make_baseline("nope")
    with pytest.raises(ConfigError, match="max_epochs"):
        make_baseline("sasrec", {"max_epochs": "many"})
