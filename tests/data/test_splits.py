"""Split strategies: exact agreement with a naive reference, leak-freedom and determinism on random tables,
and reproduction of ReasoningRec's released Beauty windows."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.data.schema import TARGET_SCHEMA
from reasonrec.data.splits import (
    SplitResult,
    assert_leak_free,
    leave_last_out,
    split_users,
    temporal_ratio,
    user_disjoint_balanced,
)
from reasonrec.data.synthetic import random_interactions
from reasonrec.errors import ConfigError, DataError

Row = tuple[str, str, float, int]

# Random tables: unique (user, item) pairs so "target not in its own history" can be checked by item id;
# a narrow timestamp range forces many ties, which the tiebreak (input row order) must resolve.
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from([f"u{i}" for i in range(6)]),
        st.sampled_from([f"i{i}" for i in range(12)]),
        st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0]),
        st.integers(0, 6),
    ),
    max_size=50,
    unique_by=lambda r: (r[0], r[1]),
)


def to_table(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"user_id": pl.String, "item_id": pl.String, "rating": pl.Float64, "timestamp": pl.Int64},
        orient="row",
    )


def user_sequences(rows: list[Row]) -> dict[str, list[Row]]:
    """Reference ordering: per user by (timestamp, input position)."""
    seqs: dict[str, list[tuple[int, int, Row]]] = defaultdict(list)
    for idx, row in enumerate(rows):
        seqs[row[0]].append((row[3], idx, row))
    return {u: [r for _, _, r in sorted(v)] for u, v in seqs.items()}


def keys(df: pl.DataFrame) -> Counter:
    return Counter(df.select("user_id", "item_id", "rating", "timestamp").rows())


def check_schema(result: SplitResult) -> None:
    for name, table in result.targets().items():
        assert dict(table.schema) == TARGET_SCHEMA, name
        assert set(table["split"].to_list()) <= {name}


def check_no_target_in_history(result: SplitResult) -> None:
    for table in result.targets().values():
        for item, history in table.select("item_id", "history_item_ids").rows():
            assert item not in history


# --------------------------------------------------------------------------------------------- leave_last_out


@settings(max_examples=80, deadline=None)
@given(rows=rows_strategy, k=st.one_of(st.none(), st.integers(0, 6)))
def test_leave_last_out_matches_reference_and_is_leak_free(rows: list[Row], k: int | None) -> None:
    df = to_table(rows)
    result = leave_last_out(df, k_history=k, r_threshold=3)
    check_schema(result)
    check_no_target_in_history(result)
    assert_leak_free(df, result)
    expected_cf: Counter = Counter()
    for split, offset in (("train", 3), ("valid", 2), ("test", 1)):
        got = {
            r[0]: r
            for r in result.targets()[split].select("user_id", "item_id", "rating", "timestamp",
                                                     "history_item_ids", "label").rows()
        }
        want = {}
        for user, seq in user_sequences(rows).items():
            if len(seq) < 3:
                continue
            t = len(seq) - offset
            start = 0 if k is None else max(0, t - k)
            target = seq[t]
            want[user] = (*target, [r[1] for r in seq[start:t]], int(target[2] > 3))
        assert got == want, split
    for seq in user_sequences(rows).values():
        expected_cf.update(seq if len(seq) < 3 else seq[:-2])
    # train_interactions = exactly everything strictly before each user's valid target
    assert keys(result.train_interactions) == expected_cf
    assert keys(result.train_interactions) + keys(result.valid) + keys(result.test) == keys(df)
    assert list(result.train_interactions.columns) == list(df.columns)


@settings(max_examples=30, deadline=None)
@given(rows=rows_strategy)
def test_leave_last_out_is_deterministic(rows: list[Row]) -> None:
    a = leave_last_out(to_table(rows))
    b = leave_last_out(to_table(rows))
    for name in ("train", "valid", "test"):
        assert a.targets()[name].equals(b.targets()[name])
    assert a.train_interactions.equals(b.train_interactions)


def test_leave_last_out_without_threshold_leaves_labels_null() -> None:
    result = leave_last_out(random_interactions(5, 20, seed=3), k_history=2, r_threshold=None)
    assert result.test["label"].null_count() == result.test.height == 5
    assert all(all(v is None for v in h) for h in result.test["history_labels"].to_list())


def test_leave_last_out_rejects_negative_k() -> None:
    with pytest.raises(ConfigError):
        leave_last_out(random_interactions(3, 10), k_history=-1)


# --------------------------------------------------------------------------------------------- temporal_ratio


@settings(max_examples=80, deadline=None)
@given(rows=rows_strategy, k=st.one_of(st.none(), st.integers(1, 4)))
def test_temporal_ratio_partitions_by_global_time(rows: list[Row], k: int | None) -> None:
    df = to_table(rows)
    result = temporal_ratio(df, (0.8, 0.1, 0.1), k_history=k)
    check_schema(result)
    check_no_target_in_history(result)
    assert_leak_free(df, result)
    n = len(rows)
    assert [result.train.height, result.valid.height, result.test.height] == [
        round(0.8 * n), round(0.9 * n) - round(0.8 * n), n - round(0.9 * n)
    ]
    # every interaction is a target exactly once; the train part is the CF training set
    assert keys(result.train) + keys(result.valid) + keys(result.test) == keys(df)
    assert keys(result.train_interactions) == keys(result.train)
    parts = [t["timestamp"] for t in (result.train, result.valid, result.test) if t.height]
    for earlier, later in itertools.pairwise(parts):
        assert earlier.max() <= later.min()
    train_items = defaultdict(list)
    for user, item in result.train_interactions.select("user_id", "item_id").rows():
        train_items[user].append(item)
    for table in (result.valid, result.test):
        for user, history in table.select("user_id", "history_item_ids").rows():
            assert set(history) <= set(train_items[user])  # only the train part is ever shown
            if k is None:
                assert len(history) == len(train_items[user])
    ts = dict(zip(zip(df["user_id"], df["item_id"], strict=True), df["timestamp"], strict=True))
    for user, t, history in result.train.select("user_id", "timestamp", "history_item_ids").rows():
        assert all(ts[(user, h)] <= t for h in history)
        assert k is None or len(history) <= k


def test_temporal_ratio_rejects_bad_ratios() -> None:
    with pytest.raises(ConfigError):
        temporal_ratio(random_interactions(3, 10), ratios=(0.5, 0.1, 0.1))


# --------------------------------------------------------------------------------------------- Rec-SAVER


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, seed=st.integers(0, 5), quota=st.integers(1, 3))
def test_user_disjoint_balanced_properties(rows: list[Row], seed: int, quota: int) -> None:
    df = to_table(rows)
    result = user_disjoint_balanced(
        df, min_history=1, max_history=4, per_class_train=quota, per_class_valid=1, per_class_test=quota, seed=seed
    )
    check_schema(result)
    check_no_target_in_history(result)
    assert_leak_free(df, result)
    users = [set(t["user_id"].to_list()) for t in result.targets().values()]
    for table, user_set in zip(result.targets().values(), users, strict=True):
        assert table.height == len(user_set)  # one example per user
        counts = table.group_by("rating").len()["len"].to_list()
        assert len(set(counts)) <= 1  # exactly balanced over the classes present
    assert not (users[0] & users[1]) and not (users[0] & users[2]) and not (users[1] & users[2])
    seqs = user_sequences(rows)
    cut: dict[str, int] = {}
    for name, table in result.targets().items():
        for user, item, history in table.select("user_id", "item_id", "history_item_ids").rows():
            items = [r[1] for r in seqs[user]]
            t = items.index(item)
            assert 1 <= t <= 4 and history == items[:t]  # the whole earlier history, within bounds
            if name != "train":
                cut[user] = t
    expected_cf: Counter = Counter()
    for user, seq in seqs.items():
        expected_cf.update(seq[: cut.get(user, len(seq))])
    assert keys(result.train_interactions) == expected_cf
    again = user_disjoint_balanced(
        df, min_history=1, max_history=4, per_class_train=quota, per_class_valid=1, per_class_test=quota, seed=seed
    )
    assert again.test.equals(result.test) and again.train.equals(result.train)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, seed=st.integers(0, 5), quota=st.integers(1, 3), cap=st.sampled_from([None, 2]))
def test_user_disjoint_balanced_several_examples_per_user(rows: list[Row], seed: int, quota: int,
                                                          cap: int | None) -> None:
    df = to_table(rows)
    result = user_disjoint_balanced(df, min_history=1, max_history=4, per_class_train=quota, per_class_valid=1,
                                    per_class_test=quota, seed=seed, max_per_user=cap)
    check_schema(result)
    check_no_target_in_history(result)
    assert_leak_free(df, result)
    users = [set(t["user_id"].to_list()) for t in result.targets().values()]
    assert not (users[0] & users[1]) and not (users[0] & users[2]) and not (users[1] & users[2])
    requested = {"train": quota, "valid": 1, "test": quota}
    for name, table in result.targets().items():
        per_class = table.group_by("rating").len()["len"].to_list()
        assert len(set(per_class)) <= 1 and all(n <= requested[name] for n in per_class)
        if cap is not None and table.height:
            assert table.group_by("user_id").len()["len"].max() <= cap
        assert result.stats["users"][name] == len(users[list(result.targets()).index(name)])
        shortfall = result.stats["shortfall"][name]
        assert all(requested[name] - n == shortfall.get(c, 0) for c, n in result.stats["per_class"][name].items())
    seqs = user_sequences(rows)
    cut: dict[str, int] = {}
    for name, table in result.targets().items():
        for user, item, history in table.select("user_id", "item_id", "history_item_ids").rows():
            t = len(history)
            assert 1 <= t <= 4 and [r[1] for r in seqs[user]][:t] == history and seqs[user][t][1] == item
            if name != "train":
                cut[user] = min(t, cut.get(user, t))
    expected_cf: Counter = Counter()
    for user, seq in seqs.items():
        expected_cf.update(seq[: cut.get(user, len(seq))])
    assert keys(result.train_interactions) == expected_cf


def test_several_examples_per_user_fill_quotas_one_per_user_cannot() -> None:
    df = random_interactions(40, 30, per_user=(8, 12), seed=2)
    one = user_disjoint_balanced(df, per_class_train=800, per_class_test=10, seed=1)
    several = user_disjoint_balanced(df, per_class_train=800, per_class_test=10, seed=1, max_per_user=None)
    assert one.test.height + one.train.height <= 40
    assert several.train.height > one.train.height
    assert several.stats["users"]["test"] < several.test.height  # test users give several examples each
    assert several.stats["shortfall"]["train"] and several.stats["max_per_user"] is None


def test_user_disjoint_balanced_seed_changes_the_sample() -> None:
    df = random_interactions(300, 60, per_user=(5, 12), seed=7)
    samples = {
        tuple(sorted(user_disjoint_balanced(df, per_class_train=10, per_class_test=5, seed=s).test["user_id"]))
        for s in range(6)
    }
    assert len(samples) >= 5
    result = user_disjoint_balanced(df, per_class_train=10, per_class_test=5, seed=0)
    assert result.test.group_by("rating").len()["len"].to_list() == [5] * 5
    assert result.train.height == 50


def test_user_disjoint_balanced_shortfall_keeps_exact_balance() -> None:
    df = random_interactions(40, 30, per_user=(5, 8), seed=2)
    result = user_disjoint_balanced(df, per_class_train=800, per_class_test=100, seed=1)
    counts = result.stats["per_class"]
    assert len(set(counts["test"].values())) == 1 and len(set(counts["train"].values())) == 1
    assert result.test.height + result.train.height <= 40


def test_assert_leak_free_catches_a_leak() -> None:
    df = random_interactions(4, 20, seed=5)
    result = leave_last_out(df)
    leaky = SplitResult(result.train, result.valid, result.test,
                        pl.concat([result.train_interactions, result.test.select(df.columns)]))
    with pytest.raises(DataError, match="leaks"):
        assert_leak_free(df, leaky)


# --------------------------------------------------------------------------------------------- real data

# Measured 2026-11-22 on the ReasoningRec Beauty release. Every mismatching user has, in the released window,
# an interaction that is ABSENT from processed/ratings.csv (items 229, 399, 682, 880 for users 64, 215, 273,
# 274, 401, 421, 427) — the authors' windows were cut from a slightly larger table. It is not a tie effect:
# with our stable (timestamp, file row) order the other 617/618 users match exactly, although 3,066 rows share
# (user, timestamp) with another row and 1,098 rows are exact duplicates (kept, as the release keeps them). A missing row shifts the user's positions (user 273's train target is
# 680 in the release, 679 here); user 274's extra item sits only in its train window, hence 7 vs 6.
BEAUTY_MISMATCHES = {"train": 7, "valid": 6, "test": 6}


def test_leave_last_out_reproduces_reasoningrec_beauty_windows(shared_data: Path) -> None:
    base = require_data(shared_data, "reasoningrec-beauty", "processed")
    ratings = pl.read_csv(
        base / "ratings.csv",
        schema_overrides={"item": pl.String, "user": pl.String, "rating": pl.Float64, "timestamp": pl.Int64},
    ).rename({"item": "item_id", "user": "user_id"})
    result = leave_last_out(ratings, k_history=5, r_threshold=3)
    assert_leak_free(ratings, result)
    user_items = ratings.group_by("user_id").agg(pl.col("item_id")).rows()
    known = {u: set(items) for u, items in user_items}
    releases = {s: json.loads((base / f"user_{s}.json").read_text()) for s in ("train", "valid", "test")}
    mismatches = {}
    for split, table in result.targets().items():
        released = releases[split]
        ours = {
            u: [*h, i] for u, i, h in table.select("user_id", "item_id", "history_item_ids").rows()
        }
        bad = [u for u, window in released.items() if ours.get(u) != [str(x) for x in window]]
        mismatches[split] = len(bad)
        for u in bad:  # the explanation above, checked: some released window of u has an unknown interaction
            assert any(str(x) not in known[u] for w in releases.values() for x in w[u]), (split, u)
        assert len(released) == table.height == 624
    print(f"Beauty leave_last_out window mismatches per split: {mismatches}")
    assert mismatches == BEAUTY_MISMATCHES


def test_target_schema_has_one_definition() -> None:
    """Split strategies and the release loader share the ONE target-table contract from data.schema."""
    from reasonrec.data import schema, splits
    from reasonrec.data.loaders import reasoningrec

    assert splits.TARGET_SCHEMA is schema.TARGET_SCHEMA
    assert reasoningrec.TARGET_SCHEMA is schema.TARGET_SCHEMA


def test_sliding_windows_end_at_leave_last_outs_train_target_and_never_reach_valid_or_test() -> None:
    from reasonrec.data.splits import leave_last_out, sliding_windows

    inter = pl.DataFrame({
        "user_id": ["a"] * 6 + ["b"] * 3 + ["c"] * 2,
        "item_id": ["i1", "i2", "i3", "i4", "i5", "i6", "j1", "j2", "j3", "k1", "k2"],
        "rating": [5.0, 2.0, 4.0, 1.0, 5.0, 3.0, 4.0, 4.0, 2.0, 5.0, 5.0],
        "timestamp": [1, 2, 3, 4, 5, 6, 1, 2, 3, 1, 2],
    })
    rows = sliding_windows(inter, k_history=2)
    assert rows.filter(pl.col("user_id") == "a")["item_id"].to_list() == ["i2", "i3", "i4"]
    assert rows.filter(pl.col("user_id") == "a")["history_item_ids"].to_list() == [["i1"], ["i1", "i2"], ["i2", "i3"]]
    assert rows.filter(pl.col("user_id") == "b").height == 0 and rows.filter(pl.col("user_id") == "c").height == 0
    split = leave_last_out(inter, k_history=2)
    last = rows.group_by("user_id").agg(pl.col("item_id").last()).sort("user_id")
    assert last["item_id"].to_list() == split.train.filter(pl.col("user_id") == "a")["item_id"].to_list()
    held = set(zip(pl.concat([split.valid, split.test])["user_id"], pl.concat([split.valid, split.test])["item_id"],
                   strict=True))
    assert not held & set(zip(rows["user_id"], rows["item_id"], strict=True))
    assert rows["label"].to_list() == [0, 1, 0] and set(rows["split"].to_list()) == {"train"}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=60), st.floats(0.1, 0.9), st.integers(0, 5))
def test_split_users_is_user_disjoint_and_complete(users, fraction, seed):
    if len(set(users)) < 2:
        return
    context = pl.DataFrame({"user_id": [str(u) for u in users], "item_id": [str(i) for i in range(len(users))]})
    train, test = split_users(context, fraction, seed)
    assert train.height + test.height == context.height
    assert not set(train["user_id"]) & set(test["user_id"])
    assert train.height and test.height
