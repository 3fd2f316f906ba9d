"""Split strategies: canonical interactions -> train/valid/test target tables + leak-free CF training rows.

Every strategy returns a `SplitResult` whose target tables follow the shared contract (TARGET_SCHEMA): one row
per (user, target item) with the user's history *before* that target, oldest first, never containing the target
interaction itself. `train_interactions` is the canonical interactions table a collaborative-filtering model may
fit on without seeing any valid/test target.

Ordering rule shared by all strategies: interactions are ordered by `timestamp`, ties broken by the row order of
the input table (a stable sort). Loaders keep file order, so ties resolve the way the source file lists them —
this is what reproduces ReasoningRec's released windows (the authors sorted a file that was already in per-user
chronological order). Duplicate rows are kept as separate interactions, as in the releases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reasonrec.data.filters import label_expr
from reasonrec.data.schema import TARGET_SCHEMA
from reasonrec.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "valid", "test")

_ROW = "_row"  # input row index: the stable tiebreak and the identity of an interaction
_POS = "_pos"  # 0-based position of the interaction in its user's chronological sequence
_LEN = "_len"  # number of interactions of the user


@dataclass
class SplitResult:
    """Target tables per split, the CF-safe training interactions and counts describing how they were made."""

    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    train_interactions: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> dict[str, pl.DataFrame]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def empty_targets() -> pl.DataFrame:
    return pl.DataFrame(schema=TARGET_SCHEMA)


# --------------------------------------------------------------------------------------------- helpers


def chronological(interactions: pl.DataFrame) -> pl.DataFrame:
    """Add `_row`, `_pos`, `_len`; rows sorted by (user, timestamp, input row) — the one ordering rule."""
    missing = [c for c in ("user_id", "item_id", "rating", "timestamp") if c not in interactions.columns]
    if missing:
        raise DataError(f"interactions table lacks column(s) {missing}", field=",".join(missing))
    return (
        interactions.with_row_index(_ROW)
        .sort(["user_id", "timestamp", _ROW])
        .with_columns(
            pl.int_range(pl.len()).over("user_id").alias(_POS),
            pl.len().over("user_id").cast(pl.Int64).alias(_LEN),
        )
    )


def _sequences(ordered: pl.DataFrame, r_threshold: float | None) -> pl.DataFrame:
    """One row per user: the user's items/ratings/labels as lists, in the order of `ordered`."""
    return (
        ordered.with_columns(label_expr(r_threshold).alias("_label"))
        .group_by("user_id", maintain_order=True)
        .agg(
            pl.col("item_id").alias("_seq_items"),
            pl.col("rating").alias("_seq_ratings"),
            pl.col("_label").alias("_seq_labels"),
        )
    )


def _build_targets(
    targets: pl.DataFrame,
    sequences: pl.DataFrame,
    *,
    k_history: int | None,
    r_threshold: float | None,
    split: str,
) -> pl.DataFrame:
    """Attach history to target rows.

    `targets` carries `_hist_end`: the exclusive end index into the user's sequence in `sequences`; the history is
    the (at most `k_history`) entries just before it. Users absent from `sequences` get an empty history.
    """
    if targets.height == 0:
        return empty_targets()
    end = pl.col("_hist_end")
    start = end if k_history == 0 else (pl.max_horizontal(end - k_history, pl.lit(0)) if k_history else pl.lit(0))
    joined = targets.join(sequences, on="user_id", how="left")
    out = joined.with_columns(
        label_expr(r_threshold).alias("label"),
        *[
            pl.col(src).fill_null(pl.lit([], dtype=TARGET_SCHEMA[dst])).list.slice(start, end - start).alias(dst)
            for src, dst in (
                ("_seq_items", "history_item_ids"),
                ("_seq_ratings", "history_ratings"),
                ("_seq_labels", "history_labels"),
            )
        ],
        pl.lit(split).alias("split"),
    )
    return out.select([pl.col(c).cast(t) for c, t in TARGET_SCHEMA.items()])


def _canonical(ordered: pl.DataFrame, input_columns: list[str]) -> pl.DataFrame:
    """Back to the caller's columns, in input row order."""
    return ordered.sort(_ROW).select(input_columns)


def _check_k(k_history: int | None) -> None:
    if k_history is not None and k_history < 0:
        raise ConfigError(f"k_history must be >= 0 or None, got {k_history}")


# --------------------------------------------------------------------------------------------- strategies


def leave_last_out(
    interactions: pl.DataFrame, k_history: int | None = 5, r_threshold: float | None = 3.0
) -> SplitResult:
    """ReasoningRec / SASRec sliding leave-one-out.

    Per user (ordered by timestamp, ties by input row): test target = last interaction, valid = 2nd last,
    train = 3rd last; each target's history = the `k_history` interactions just before it (None = all).
    Users with fewer than 3 interactions yield no targets; all their rows stay in `train_interactions`.

    Leakage: `train_interactions` = every interaction strictly before the user's valid target (it includes the
    train target). Valid and test targets never appear there, so a CF model fitted on it may be scored on valid
    *and* test; adding the valid targets back before scoring test is also legal (not done here). Like every
    leave-one-out protocol, other users' interactions later in wall-clock time stay in training — the split is
    per-user chronological, not global (use `temporal_ratio` for that).
    """
    _check_k(k_history)
    ordered = chronological(interactions)
    # Only the tail of each user's sequence can appear in a window: build sequences from it (fast on long users).
    first = pl.lit(0) if k_history is None else pl.max_horizontal(pl.col(_LEN) - 3 - k_history, pl.lit(0))
    ordered = ordered.with_columns(first.alias("_first"))
    sequences = _sequences(ordered.filter(pl.col(_POS) >= pl.col("_first")), r_threshold)
    eligible = ordered.filter(pl.col(_LEN) >= 3)
    tables = {}
    for split, offset in (("train", 3), ("valid", 2), ("test", 1)):
        rows = eligible.filter(pl.col(_POS) == pl.col(_LEN) - offset).with_columns(
            (pl.col(_POS) - pl.col("_first")).alias("_hist_end")
        )
        tables[split] = _build_targets(rows, sequences, k_history=k_history, r_threshold=r_threshold, split=split)
    cf_rows = ordered.filter((pl.col(_LEN) < 3) | (pl.col(_POS) < pl.col(_LEN) - 2))
    train_interactions = _canonical(cf_rows, interactions.columns)
    stats = {
        "strategy": "leave_last_out",
        "k_history": k_history,
        "users": int(ordered["user_id"].n_unique()),
        "users_with_targets": int(eligible["user_id"].n_unique()),
        "users_too_short": int(ordered.filter(pl.col(_LEN) < 3)["user_id"].n_unique()),
        "train_interactions": train_interactions.height,
        **{f"{s}_targets": t.height for s, t in tables.items()},
    }
    return SplitResult(tables["train"], tables["valid"], tables["test"], train_interactions, stats)


def sliding_windows(
    interactions: pl.DataFrame,
    k_history: int | None = 5,
    r_threshold: float | None = 3.0,
    *,
    min_history: int = 1,
    held_out: int = 2,
) -> pl.DataFrame:
    """Every training window the interactions allow: one train target row per position of each user's sequence
    that has at least `min_history` interactions before it and is not among the user's last `held_out` (the
    valid and test targets of leave-last-out). The last such row is leave-last-out's own train target, so these
    rows extend the K release rows without ever reaching a valid or test target. Same ordering and history rule
    as `leave_last_out`; all targets are in its `train_interactions` (CF features for them must be cross-fitted).
    """
    _check_k(k_history)
    if min_history < 1 or held_out < 0:
        raise ConfigError(f"sliding_windows: min_history must be >= 1 and held_out >= 0 (got {min_history}, "
                          f"{held_out})")
    ordered = chronological(interactions)
    sequences = _sequences(ordered, r_threshold)
    rows = ordered.filter((pl.col(_POS) >= min_history) & (pl.col(_POS) < pl.col(_LEN) - held_out)).with_columns(
        pl.col(_POS).alias("_hist_end"))
    return _build_targets(rows, sequences, k_history=k_history, r_threshold=r_threshold, split="train")


def temporal_ratio(
    interactions: pl.DataFrame,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    k_history: int | None = None,
    r_threshold: float | None = 3.0,
) -> SplitResult:
    """EXP3RT: order ALL interactions globally by timestamp (ties by input row) and cut 8:1:1.

    Every interaction is a target in its part. A train target's history = the user's earlier train-part
    interactions; a valid/test target's history = the user's train-part interactions (the most recent
    `k_history` of them; None = all). `train_interactions` = the train part, so no valid/test interaction — nor
    anything later in time than the cut — is visible to a CF model. Cuts are by position, so rows sharing the
    boundary timestamp may fall on both sides (max train timestamp <= min valid timestamp always holds).
    """
    _check_k(k_history)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ConfigError(f"temporal_ratio: ratios must be three non-negative numbers summing to 1, got {ratios}")
    n = interactions.height
    cut_train = round(n * ratios[0])
    cut_valid = round(n * (ratios[0] + ratios[1]))
    ordered = (
        interactions.with_row_index(_ROW)
        .sort(["timestamp", _ROW])
        .with_columns(pl.int_range(pl.len()).alias("_g"))
        .with_columns(
            pl.when(pl.col("_g") < cut_train)
            .then(pl.lit("train"))
            .when(pl.col("_g") < cut_valid)
            .then(pl.lit("valid"))
            .otherwise(pl.lit("test"))
            .alias("_part")
        )
        .sort(["user_id", "timestamp", _ROW])
    )
    train_part = ordered.filter(pl.col("_part") == "train").with_columns(
        pl.int_range(pl.len()).over("user_id").alias(_POS), pl.len().over("user_id").cast(pl.Int64).alias(_LEN)
    )
    sequences = _sequences(train_part, r_threshold)
    train_lengths = train_part.group_by("user_id").agg(pl.len().alias("_n_train"))
    tables = {
        "train": _build_targets(
            train_part.with_columns(pl.col(_POS).alias("_hist_end")),
            sequences, k_history=k_history, r_threshold=r_threshold, split="train",
        )
    }
    for split in ("valid", "test"):
        rows = (
            ordered.filter(pl.col("_part") == split)
            .join(train_lengths, on="user_id", how="left")
            .with_columns(pl.col("_n_train").fill_null(0).alias("_hist_end"))
        )
        tables[split] = _build_targets(rows, sequences, k_history=k_history, r_threshold=r_threshold, split=split)
    train_interactions = _canonical(train_part, interactions.columns)
    ts = {s: (t["timestamp"].min(), t["timestamp"].max()) for s, t in tables.items()}
    stats = {
        "strategy": "temporal_ratio",
        "ratios": list(ratios),
        "k_history": k_history,
        "train_interactions": train_interactions.height,
        **{f"{s}_targets": t.height for s, t in tables.items()},
        **{f"{s}_timestamp_range": list(r) for s, r in ts.items()},
        "valid_users_unseen_in_train": int(tables["valid"].filter(pl.col("history_item_ids").list.len() == 0)
                                          ["user_id"].n_unique()),
        "test_users_unseen_in_train": int(tables["test"].filter(pl.col("history_item_ids").list.len() == 0)
                                         ["user_id"].n_unique()),
    }
    return SplitResult(tables["train"], tables["valid"], tables["test"], train_interactions, stats)


def _draw_balanced(pools: dict[float, list[tuple[str, int]]], classes: list[float], quotas: dict[str, int],
                   exact_balance: bool, max_per_user: int | None = 1
                   ) -> tuple[dict[str, list[int]], dict[str, dict[str, int]]]:
    """Per split in `quotas` order, the rating classes take turns drawing a candidate from their shuffled pool until
    each class has its quota (cut to the smallest class with `exact_balance`; users left without an example are
    released for a later split). A user belongs to ONE split and gives it at most `max_per_user` examples
    (None = any number); when several are allowed, a class of a split drawn before the last draws first from
    users already in that split, so the splits drawn first (test) tie up as few users as possible. Returns the
    chosen input rows and the per-class counts per split."""
    locked: set[str] = set()  # users of an earlier split
    chosen: dict[str, list[int]] = {}
    counts: dict[str, dict[str, int]] = {}
    last = list(quotas)[-1] if quotas else None
    for split, quota in quotas.items():
        draw = _SplitDraw(pools, classes, locked, max_per_user, pack=max_per_user != 1 and split != last)
        active = [r for r in classes if quota > 0]
        while active:
            for rating in list(active):
                if not draw.take(rating) or len(draw.picked[rating]) >= quota:
                    active.remove(rating)
        picked = draw.picked
        if exact_balance and classes and quota > 0:
            floor = min(len(v) for v in picked.values())
            picked = {rating: rows[:floor] for rating, rows in picked.items()}
        locked.update(user for rows in picked.values() for user, _ in rows)
        chosen[split] = [row for rows in picked.values() for _, row in rows]
        counts[split] = {str(r): len(v) for r, v in picked.items()}
    return chosen, counts


class _SplitDraw:
    """The candidates one split draws from: each class's shuffled pool, minus users of earlier splits and users
    at their `max_per_user` cap; with `pack`, `take` prefers users already in the split."""

    def __init__(self, pools: dict[float, list[tuple[str, int]]], classes: list[float], locked: set[str],
                 max_per_user: int | None, *, pack: bool = False) -> None:
        self.pools, self.locked, self.cap = pools, locked, max_per_user
        self.cursor = dict.fromkeys(classes, 0)
        self.picked: dict[float, list[tuple[str, int]]] = {r: [] for r in classes}
        self.taken: dict[str, int] = {}
        self.used: set[int] = set()
        self.by_user: dict[float, dict[str, list[int]]] = {}
        if pack:
            for rating in classes:
                rows: dict[str, list[int]] = {}
                for user, row in reversed(pools[rating]):
                    if user not in locked:
                        rows.setdefault(user, []).append(row)  # reversed: pop() yields pool order
                self.by_user[rating] = rows

    def _open(self, user: str) -> bool:
        return user not in self.locked and (self.cap is None or self.taken.get(user, 0) < self.cap)

    def _keep(self, rating: float, user: str, row: int) -> None:
        self.used.add(row)
        self.taken[user] = self.taken.get(user, 0) + 1
        self.picked[rating].append((user, row))

    def take(self, rating: float) -> bool:
        """Draw one candidate of `rating`; False when the class has none left."""
        rows_of = self.by_user.get(rating)
        if rows_of is not None:
            for user in self.taken:
                rows = rows_of.get(user)
                while rows and rows[-1] in self.used:
                    rows.pop()
                if rows and self._open(user):
                    self._keep(rating, user, rows.pop())
                    return True
        pool, i = self.pools[rating], self.cursor[rating]
        while i < len(pool) and (not self._open(pool[i][0]) or pool[i][1] in self.used):
            i += 1
        if i >= len(pool):
            return False
        self.cursor[rating] = i + 1
        self._keep(rating, *pool[i])
        return True


def user_disjoint_balanced(
    interactions: pl.DataFrame,
    min_history: int = 4,
    max_history: int = 10,
    per_class_train: int = 800,
    per_class_valid: int = 0,
    per_class_test: int = 100,
    seed: int = 42,
    r_threshold: float | None = 3.0,
    exact_balance: bool = True,
    max_per_user: int | None = 1,
) -> SplitResult:
    """Rec-SAVER §4.1: examples with 4 <= |H| <= 10, an equal number per rating class, users disjoint.

    An example is (user, target interaction at position t, history = all t earlier interactions) with
    min_history <= t <= max_history. Test, valid and train users are mutually exclusive. A user gives at most
    `max_per_user` examples (None = any number, the paper's rule: "the user sets are mutually exclusive between
    training and test"); with 1, no example's history reveals another example's target. Sampling (seeded): test
    first, then valid, then train; within a split the rating classes take turns drawing a random candidate of an
    eligible user until each class has its quota. With `exact_balance` every class is cut to the smallest class
    count, so the split stays "fully balanced" when a class runs short; `stats` has the counts, the users per
    split and the `shortfall` per class against the quota.

    `train_interactions` = every interaction except, for valid/test users, their (earliest) target and everything
    after it — the part of an evaluated user's past that a deployed system would have seen.
    """
    if min_history < 0 or max_history < min_history:
        raise ConfigError(f"user_disjoint_balanced: need 0 <= min_history <= max_history, "
                          f"got {min_history}, {max_history}")
    ordered = chronological(interactions)
    candidates = ordered.filter((pl.col(_POS) >= min_history) & (pl.col(_POS) <= max_history))
    classes = sorted(candidates["rating"].unique().to_list())
    rng = random.Random(seed)
    pools: dict[float, list[tuple[str, int]]] = {}
    for rating in classes:
        rows = candidates.filter(pl.col("rating") == rating).select("user_id", _ROW).rows()
        rows.sort()  # deterministic before shuffling, whatever the input order
        rng.shuffle(rows)
        pools[rating] = rows
    quotas = {"test": per_class_test, "valid": per_class_valid, "train": per_class_train}
    chosen, counts = _draw_balanced(pools, classes, quotas, exact_balance, max_per_user)
    sequences = _sequences(ordered, r_threshold)
    tables = {}
    for split in SPLIT_NAMES:
        rows = ordered.filter(pl.col(_ROW).is_in(chosen[split])).with_columns(pl.col(_POS).alias("_hist_end"))
        tables[split] = _build_targets(rows, sequences, k_history=None, r_threshold=r_threshold, split=split)
    eval_cut = (ordered.filter(pl.col(_ROW).is_in(chosen["valid"] + chosen["test"]))
                .group_by("user_id").agg(pl.col(_POS).min().alias("_cut")))
    cf_rows = ordered.join(eval_cut, on="user_id", how="left").filter(
        pl.col("_cut").is_null() | (pl.col(_POS) < pl.col("_cut"))
    )
    train_interactions = _canonical(cf_rows, interactions.columns)
    stats = {
        "strategy": "user_disjoint_balanced",
        "min_history": min_history,
        "max_history": max_history,
        "seed": seed,
        "candidates": candidates.height,
        "candidate_users": int(candidates["user_id"].n_unique()),
        "max_per_user": max_per_user,
        "per_class_requested": {"train": per_class_train, "valid": per_class_valid, "test": per_class_test},
        "per_class": counts,
        "shortfall": {split: {c: quotas[split] - n for c, n in per.items() if n < quotas[split]}
                      for split, per in counts.items()},
        "users": {s: int(t["user_id"].n_unique()) for s, t in tables.items()},
        "train_interactions": train_interactions.height,
        **{f"{s}_targets": t.height for s, t in tables.items()},
    }
    return SplitResult(tables["train"], tables["valid"], tables["test"], train_interactions, stats)


def split_users(table: pl.DataFrame, fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(first, second) rows of `table` with no user in both: users sorted, shuffled with `seed`, `fraction` of
    them (at least one, never all) go first. EXP3RT's released pairs are split this way (train users / test users)."""
    users = sorted(table["user_id"].unique().to_list())
    random.Random(seed).shuffle(users)
    cut = max(1, min(len(users) - 1, round(len(users) * fraction)))
    first_users = pl.Series(users[:cut], dtype=pl.String).implode()
    return table.filter(pl.col("user_id").is_in(first_users)), table.filter(~pl.col("user_id").is_in(first_users))


def from_target_tables(
    interactions: pl.DataFrame, train: pl.DataFrame, valid: pl.DataFrame, test: pl.DataFrame
) -> SplitResult:
    """A split whose target tables are given (a release's windows): the CF-safe training interactions are every
    interaction except the valid and test targets' (user, item) pairs."""
    held_out = pl.concat([valid.select("user_id", "item_id"), test.select("user_id", "item_id")]).unique()
    canonical = interactions.with_columns(pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String))
    train_interactions = canonical.join(held_out, on=["user_id", "item_id"], how="anti")
    stats = {"strategy": "given", "train_interactions": train_interactions.height,
             **{f"{name}_targets": t.height for name, t in (("train", train), ("valid", valid), ("test", test))}}
    return SplitResult(train, valid, test, train_interactions, stats)


# --------------------------------------------------------------------------------------------- checks


def assert_leak_free(interactions: pl.DataFrame, result: SplitResult) -> None:
    """Raise DataError if a valid/test target is also used for training or has no source row.

    Works on the multiset of (user, item, rating, timestamp) keys, restricted to keys of evaluation targets
    (cheap: those are few): for each such key, occurrences in train_interactions + valid + test must not exceed
    occurrences in the input. Duplicate rows are handled: a target may share its key with an identical earlier
    row (kept in history/training), but the same row is never counted twice. train_interactions is a filter of
    the input by construction, so only its overlap with evaluation targets needs checking. Keys are compared by
    a 64-bit hash of the four columns (a collision could only hide a leak, with probability ~n^2 / 2^64).
    """
    key = ["user_id", "item_id", "rating", "timestamp"]

    def hashed(df: pl.DataFrame) -> pl.Series:
        return df.select(pl.struct(key).hash(seed=0).alias("_h"))["_h"]

    eval_keys = pl.concat([hashed(result.valid), hashed(result.test)])
    if eval_keys.len():
        probe = eval_keys.unique().implode()
        parts = [eval_keys, hashed(result.train_interactions)]
        used = pl.concat(parts).to_frame().filter(pl.col("_h").is_in(probe)).group_by("_h").len()
        have = hashed(interactions).to_frame().filter(pl.col("_h").is_in(probe)).group_by("_h").len()
        bad = used.join(have, on="_h", how="left", suffix="_have").filter(
            pl.col("len_have").is_null() | (pl.col("len") > pl.col("len_have"))
        )
        if bad.height:
            eval_rows = pl.concat([result.valid.select(key), result.test.select(key)])
            row = eval_rows.filter(hashed(eval_rows).is_in(bad["_h"].implode())).row(0, named=True)
            raise DataError(
                f"split leaks: {bad.height} evaluation target key(s) also used for training or absent from the "
                f"input, e.g. user {row['user_id']!r} item {row['item_id']!r} at {row['timestamp']}",
                field="user_id,item_id,timestamp",
            )
    for name, table in result.targets().items():
        lengths = table.select(
            pl.col("history_item_ids").list.len().alias("a"), pl.col("history_ratings").list.len().alias("b")
        )
        if lengths.filter(pl.col("a") != pl.col("b")).height:
            raise DataError(f"{name}: history columns disagree in length", field="history_item_ids")
