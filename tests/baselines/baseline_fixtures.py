"""A small synthetic dataset with a planted signal, split with the real leave-last-out strategy.

Two item genres (A: items a0.., B: items b0..); 70% of users are A-lovers, the rest B-lovers. A user rates
items of the genre they love 4-5 and the other genre 1-2, and picks their own genre with a personal
probability p_u in [0.3, 0.9]. So every baseline family has something to learn: the user's like-share and mean
vary (user statistics), A items average higher than B items (item statistics), and (user type x genre) is a
clean low-rank/sequential pattern (MF, BPR, LightGCN, SASRec, Caser).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reasonrec.baselines.common import TrainData
from reasonrec.data.splits import leave_last_out


def planted_interactions(n_users: int = 240, n_items_per_genre: int = 30, per_user: int = 14,
                         seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        loves_a = rng.random() < 0.7
        p_own = rng.uniform(0.3, 0.9)
        for t in range(per_user):
            own = rng.random() < p_own
            genre_a = own == loves_a
            item = f"{'a' if genre_a else 'b'}{rng.integers(n_items_per_genre)}"
            rating = float(rng.integers(4, 6) if own else rng.integers(1, 3))
            rows.append((f"u{u}", item, rating, 1_000_000 + 1000 * t))
    return pl.DataFrame(rows, schema={"user_id": pl.String, "item_id": pl.String, "rating": pl.Float64,
                                      "timestamp": pl.Int64}, orient="row")


def planted_split(seed: int = 0, k_history: int = 8) -> tuple[TrainData, pl.DataFrame]:
    """(TrainData for fit, test target table)."""
    result = leave_last_out(planted_interactions(seed=seed), k_history=k_history, r_threshold=3.0)
    # The sequential models need more than one training row per user on this small set: use every position
    # before the valid target as a training target (the same history rule) by re-splitting prefixes.
    return TrainData(result.train_interactions, result.train, result.valid, 3.0), result.test


def dense_train_targets(seed: int = 0, k_history: int = 8) -> pl.DataFrame:
    """Every interaction before a user's valid target as a target row (history = the k before it)."""
    inter = planted_interactions(seed=seed).sort("user_id", "timestamp", maintain_order=True)
    tables = []
    for cut in range(4, 13):  # prefixes of length cut+2 give a train target at position cut-1
        prefix = inter.group_by("user_id", maintain_order=True).head(cut + 2)
        tables.append(leave_last_out(prefix, k_history=k_history, r_threshold=3.0).train)
    return pl.concat(tables)
