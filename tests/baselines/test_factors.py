"""A top-k generator's state saved as arrays gives the same candidates as the fitted model, and a corrupt
factor file is refused with one line."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from baseline_fixtures import planted_split

from reasonrec.baselines import make_baseline
from reasonrec.baselines.factors import FactorModel
from reasonrec.errors import DataError

FAST = {"bpr": {"min_rating": 4.0, "max_iter": 60}, "lightgcn": {"min_rating": 4.0, "epochs": 8, "embedding_dim": 16}}


@pytest.mark.parametrize("name", ["bpr", "lightgcn"])
def test_saved_factors_reproduce_the_models_candidates(name: str, tmp_path) -> None:
    data, _ = planted_split()
    model = make_baseline(name, FAST[name]).fit(data)
    users = sorted(set(data.interactions["user_id"].to_list()))[:25]
    expected = model.recommend(users, k=7, exclude_train=True)
    path = model.factors().save(tmp_path / "cf_model.npz")
    loaded = FactorModel.load(path)
    seen: dict[str, set[str]] = {}
    for u, i in data.interactions.select("user_id", "item_id").iter_rows():
        seen.setdefault(u, set()).add(i)
    got = loaded.recommend(users, k=7, exclude=seen)
    assert loaded.generator == name
    assert got.select("user_id", "item_id", "rank").equals(expected.select("user_id", "item_id", "rank"))
    assert np.allclose(got["score"].to_numpy(), expected["score"].to_numpy(), atol=1e-4)
    assert loaded.recommend(["nobody"], k=3).height == 0


def test_exclusion_removes_exactly_the_given_items() -> None:
    model = FactorModel("toy", ["u"], ["a", "b", "c"], np.array([[1.0]]), np.array([[3.0], [2.0], [1.0]]),
                        np.zeros(3))
    assert model.recommend(["u"], k=3)["item_id"].to_list() == ["a", "b", "c"]
    table = model.recommend(["u"], k=3, exclude={"u": {"a", "zzz"}})
    assert table["item_id"].to_list() == ["b", "c"]
    assert table["rank"].to_list() == [1, 2]
    assert table.schema["score"] == pl.Float64


def test_inconsistent_or_foreign_files_are_refused(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, generator=np.array("x"), user_ids=np.array(["u"]), item_ids=np.array(["a", "b"]),
             user_vectors=np.zeros((1, 2)), item_vectors=np.zeros((3, 2)), item_bias=np.zeros(2))
    with pytest.raises(DataError, match="inconsistent shapes"):
        FactorModel.load(bad)
    text = tmp_path / "text.npz"
    text.write_text("not numpy")
    with pytest.raises(DataError, match="not a CF factor file"):
        FactorModel.load(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, generator=np.array("x"), user_ids=np.array([object()], dtype=object),
             item_ids=np.array(["a"]), user_vectors=np.zeros((1, 1)), item_vectors=np.zeros((1, 1)),
             item_bias=np.zeros(1))
    with pytest.raises(DataError):
        FactorModel.load(pickled)
