"""EXP3RT segments: warm = more than 3 training interactions, cold = 1..3, unseen = none."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.data.segments import segment_counts, segment_targets
from reasonrec.data.splits import temporal_ratio
from reasonrec.data.synthetic import random_interactions


def interactions(users: list[str], items: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"user_id": users, "item_id": items, "rating": [4.0] * len(users),
                         "timestamp": list(range(len(users)))})


def test_segments_follow_exp3rt_thresholds() -> None:
    train = interactions(["w"] * 4 + ["c"] * 3 + ["d"], ["a", "a", "a", "a", "b", "b", "b", "z"])
    targets = pl.DataFrame({"user_id": ["w", "c", "d", "new"], "item_id": ["a", "b", "z", "q"]})
    out = segment_targets(targets, train)
    assert out["segment"].to_list() == ["warm", "cold", "cold", "unseen"]
    assert out["user_train_count"].to_list() == [4, 3, 1, 0]
    assert out["item_segment"].to_list() == ["warm", "cold", "cold", "unseen"]  # item a: 4, b: 3, z: 1, q: 0
    assert segment_counts(out) == {"warm": 1, "cold": 2, "unseen": 1}
    assert out.select("user_id", "item_id").equals(targets)  # order and rows untouched


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 1000), threshold=st.integers(0, 5))
def test_segments_partition_the_test_set(seed: int, threshold: int) -> None:
    df = random_interactions(30, 40, per_user=(1, 10), seed=seed)
    split = temporal_ratio(df, k_history=None)
    out = segment_targets(split.test, split.train_interactions, warm_threshold=threshold)
    assert out.height == split.test.height
    assert sum(segment_counts(out).values()) == out.height
    # with the full history, the user's train count is the history length of every valid/test target
    assert (out["history_item_ids"].list.len() == out["user_train_count"]).all()
    expected = [
        "warm" if n > threshold else ("cold" if n > 0 else "unseen") for n in out["user_train_count"].to_list()
    ]
    assert out["segment"].to_list() == expected
