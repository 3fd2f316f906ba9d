"""Filters: k-core reaches its fixpoint, history bounds drop whole users, the label follows rating > r_T."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.data.filters import binarise, history_length_bounds, k_core
from reasonrec.errors import ConfigError


def table(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [u for u, _ in pairs],
            "item_id": [i for _, i in pairs],
            "rating": [4.0] * len(pairs),
            "timestamp": list(range(len(pairs))),
        },
        schema={"user_id": pl.String, "item_id": pl.String, "rating": pl.Float64, "timestamp": pl.Int64},
    )


def naive_k_core(pairs: set[tuple[str, str]], k: int) -> set[tuple[str, str]]:
    while True:
        users = {u: sum(1 for x, _ in pairs if x == u) for u, _ in pairs}
        items = {i: sum(1 for _, y in pairs if y == i) for _, i in pairs}
        bad = {(u, i) for u, i in pairs if users[u] < k or items[i] < k}
        if not bad:
            return pairs
        pairs = pairs - {next(iter(sorted(bad)))}


def test_k_core_needs_more_than_one_pass() -> None:
    # u1..u3 x i1..i2 is a 2-core; u4 rated i1 and i3, and i3 only by u4: removing i3 drops u4 to 1 → u4 goes.
    pairs = [(u, i) for u in ("u1", "u2", "u3") for i in ("i1", "i2")] + [("u4", "i1"), ("u4", "i3")]
    out = k_core(table(pairs), 2)
    assert sorted(out["user_id"].unique().to_list()) == ["u1", "u2", "u3"]
    assert sorted(out["item_id"].unique().to_list()) == ["i1", "i2"]
    assert out.height == 6


def test_k_core_rejects_nonpositive_k() -> None:
    with pytest.raises(ConfigError):
        k_core(table([("u", "i")]), 0)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.sampled_from("abcdefgh"), st.sampled_from("pqrstuvw")), max_size=60, unique=True),
    k=st.integers(1, 4),
)
def test_k_core_is_a_fixpoint_and_maximal(pairs: list[tuple[str, str]], k: int) -> None:
    df = table(pairs)
    out = k_core(df, k)
    if out.height:
        assert out.group_by("user_id").len()["len"].min() >= k
        assert out.group_by("item_id").len()["len"].min() >= k
    assert k_core(out, k).equals(out)  # idempotent
    # the k-core is unique: compare with a naive reference that peels one row at a time
    assert set(zip(out["user_id"], out["item_id"], strict=True)) == naive_k_core(set(pairs), k)
    assert out["timestamp"].is_sorted()  # row order preserved (splits rely on it for tiebreaks)


def test_history_length_bounds_drops_whole_users() -> None:
    pairs = [("a", str(i)) for i in range(2)] + [("b", str(i)) for i in range(5)] + [("c", str(i)) for i in range(9)]
    out = history_length_bounds(table(pairs), 3, 6)
    assert out["user_id"].unique().to_list() == ["b"]
    assert out.height == 5
    assert history_length_bounds(table(pairs), None, 2)["user_id"].unique().to_list() == ["a"]
    with pytest.raises(ConfigError):
        history_length_bounds(table(pairs), 5, 2)


def test_binarise_uses_strictly_greater_than_threshold() -> None:
    df = table([("u", str(i)) for i in range(5)]).with_columns(pl.Series("rating", [1.0, 2.0, 3.0, 4.0, 5.0]))
    assert binarise(df, 3)["label"].to_list() == [0, 0, 0, 1, 1]
    unlabelled = binarise(df, None)["label"]
    assert unlabelled.dtype == pl.Int64 and unlabelled.null_count() == 5
