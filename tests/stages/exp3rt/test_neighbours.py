"""Adjusted cosine (EXP3RT App. B) on a hand-computed 4-user example, including the undefined cases."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from reasonrec.stages.exp3rt.neighbours import RatingMatrix, adjusted_cosine, rank_neighbours

# A: ratings 5,3,4,2 on items 1-4 (mean 3.5 → centred 1.5,-0.5,0.5,-1.5)
# B: 4,2,_,3 (mean 3 → 1,-1,_,0);  C: 2,_,2,_ (zero variance);  D: _,5,_,1 (mean 3 → _,2,_,-2)
RATINGS = {
    "A": {"1": 5, "2": 3, "3": 4, "4": 2},
    "B": {"1": 4, "2": 2, "4": 3},
    "C": {"1": 2, "3": 2},
    "D": {"2": 5, "4": 1},
}
SIM_AB = 2.0 / math.sqrt(4.75 * 2.0)  # I_AB={1,2,4}: (1.5*1 + -0.5*-1 + -1.5*0) / (sqrt(4.75) sqrt(2))
SIM_AD = 2.0 / math.sqrt(2.5 * 8.0)   # I_AD={2,4}: (-0.5*2 + -1.5*-2) / (sqrt(2.5) sqrt(8))
SIM_BD = -2.0 / math.sqrt(1.0 * 8.0)  # I_BD={2,4}: (-1*2 + 0*-2) / (sqrt(1) sqrt(8))


def train() -> pl.DataFrame:
    rows = [(u, i, float(r)) for u, items in RATINGS.items() for i, r in items.items()]
    return pl.DataFrame(rows, schema={"user_id": pl.String, "item_id": pl.String, "rating": pl.Float64},
                        orient="row")


def test_adjusted_cosine_matches_hand_computation() -> None:
    m = RatingMatrix.from_interactions(train())
    idx = m.user_index()
    sim, co = adjusted_cosine(m)
    assert sim[idx["A"], idx["B"]] == pytest.approx(SIM_AB)
    assert sim[idx["B"], idx["A"]] == pytest.approx(SIM_AB)
    assert sim[idx["A"], idx["D"]] == pytest.approx(SIM_AD)
    assert sim[idx["B"], idx["D"]] == pytest.approx(SIM_BD)
    assert co[idx["A"], idx["B"]] == 3 and co[idx["A"], idx["C"]] == 2 and co[idx["C"], idx["D"]] == 0
    # zero-variance C: denominator 0 → undefined, with everyone
    assert np.isnan(sim[idx["C"]]).all()
    # B and C share one item only (< 2 co-rated) → undefined even though a value would exist
    assert np.isnan(sim[idx["B"], idx["C"]])
    # min_co_rated=1 lifts the overlap rule, but zero-variance C stays undefined; self-similarity is 1
    sim1, _ = adjusted_cosine(m, min_co_rated=1)
    assert np.isnan(sim1[idx["B"], idx["C"]])
    assert sim1[idx["A"], idx["A"]] == pytest.approx(1.0)


def test_rows_subset_equals_full_matrix_rows() -> None:
    m = RatingMatrix.from_interactions(train())
    full, _ = adjusted_cosine(m)
    part, _ = adjusted_cosine(m, [2, 0])
    np.testing.assert_array_equal(np.isnan(part), np.isnan(full[[2, 0]]))
    np.testing.assert_allclose(np.nan_to_num(part), np.nan_to_num(full[[2, 0]]))


def test_rank_neighbours_orders_fills_and_excludes_self() -> None:
    pairs = pl.DataFrame({"user_id": ["D", "D", "B", "C", "A", "Z", "A"],
                          "item_id": ["1", "1", "4", "2", "3", "1", "9"]})
    got = rank_neighbours(train(), pairs, k=3)
    def rows(user: str, item: str) -> list[tuple]:
        sub = got.filter((pl.col("user_id") == user) & (pl.col("item_id") == item)).sort("rank")
        return list(sub.select("neighbour_id", "similarity", "co_rated").iter_rows())
    # D on item 1: raters A (0.447), B (-0.707), C (undefined: no overlap) → filled last, similarity null
    d1 = rows("D", "1")
    assert [r[0] for r in d1] == ["A", "B", "C"]
    assert d1[0][1] == pytest.approx(SIM_AD) and d1[1][1] == pytest.approx(SIM_BD) and d1[2][1] is None
    # duplicate pair rows are ranked once
    assert got.filter((pl.col("user_id") == "D") & (pl.col("item_id") == "1")).height == 3
    # B on item 4: raters A, B, D; B itself excluded
    assert [r[0] for r in rows("B", "4")] == ["A", "D"]
    # zero-variance C on item 2: all undefined → by co-rated count (A:2, B:1, D:0)
    c2 = rows("C", "2")
    assert [r[0] for r in c2] == ["A", "B", "D"] and all(r[1] is None for r in c2)
    # unknown user Z: no training ratings → all undefined, ordered by id
    assert [r[0] for r in rows("Z", "1")] == ["A", "B", "C"]
    # an item nobody else rated in train → no rows
    assert rows("A", "9") == []
    strict = rank_neighbours(train(), pairs, k=3, fill_undefined=False)
    assert strict.filter(pl.col("user_id") == "C").height == 0
    assert strict.filter((pl.col("user_id") == "D") & (pl.col("item_id") == "1"))["neighbour_id"].to_list() == \
        ["A", "B"]
    top1 = rank_neighbours(train(), pairs, k=1)
    assert top1.filter(pl.col("user_id") == "D")["neighbour_id"].to_list() == ["A"]


def test_duplicate_ratings_are_averaged() -> None:
    dup = pl.concat([train(), pl.DataFrame({"user_id": ["A"], "item_id": ["1"], "rating": [3.0]})])
    m = RatingMatrix.from_interactions(dup)
    assert m.mask.nnz == train().height
    assert m.means[m.user_index()["A"]] == pytest.approx((4 + 3 + 4 + 2) / 4)
