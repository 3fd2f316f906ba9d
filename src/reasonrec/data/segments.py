"""Warm / cold / unseen segments of a test target table (EXP3RT §4, Table 3).

EXP3RT: "the warm-start subset includes users who have interacted with items more than three times in the
training set, the cold-start subset comprises the remaining interactions, and the unseen set consists of
interactions from users who have not appeared in the training set". Its table reports CF numbers for cold but
none for unseen, so the three are disjoint: warm = more than 3 training interactions, cold = 1..3, unseen = 0.
Counting is over the CF training interactions of the split (`SplitResult.train_interactions`).

The paper segments by user; we add the same rule applied to the target item as `item_segment` (our extension,
useful on Beauty where most test items are new).
"""

from __future__ import annotations

import polars as pl

SEGMENTS = ("warm", "cold", "unseen")
EXP3RT_WARM_THRESHOLD = 3


def _segment_expr(count: pl.Expr, warm_threshold: int) -> pl.Expr:
    return (
        pl.when(count > warm_threshold)
        .then(pl.lit("warm"))
        .when(count > 0)
        .then(pl.lit("cold"))
        .otherwise(pl.lit("unseen"))
    )


def segment_targets(
    targets: pl.DataFrame, train_interactions: pl.DataFrame, warm_threshold: int = EXP3RT_WARM_THRESHOLD
) -> pl.DataFrame:
    """Add `user_train_count`, `item_train_count`, `segment` (by user) and `item_segment` (by item) columns."""
    users = train_interactions.group_by("user_id").agg(pl.len().cast(pl.Int64).alias("user_train_count"))
    items = train_interactions.group_by("item_id").agg(pl.len().cast(pl.Int64).alias("item_train_count"))
    drop = [c for c in ("user_train_count", "item_train_count", "segment", "item_segment") if c in targets.columns]
    out = (
        targets.drop(drop)
        .join(users, on="user_id", how="left", maintain_order="left")
        .join(items, on="item_id", how="left", maintain_order="left")
        .with_columns(pl.col("user_train_count").fill_null(0), pl.col("item_train_count").fill_null(0))
    )
    return out.with_columns(
        _segment_expr(pl.col("user_train_count"), warm_threshold).alias("segment"),
        _segment_expr(pl.col("item_train_count"), warm_threshold).alias("item_segment"),
    )


def segment_counts(segmented: pl.DataFrame, column: str = "segment") -> dict[str, int]:
    """Rows per segment, every segment present (zeros included) in the canonical order."""
    found = dict(segmented.group_by(column).len().rows())
    return {s: int(found.get(s, 0)) for s in SEGMENTS}
