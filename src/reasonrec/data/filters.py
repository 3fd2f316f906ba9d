"""Row filters over the canonical interactions table.

Each filter is a pure function (table in, table out) so a prepare run is a plain composition that a config
describes completely. Row order is preserved: the split strategies break timestamp ties by row order.
"""

from __future__ import annotations

import polars as pl

from reasonrec.errors import ConfigError


def k_core(interactions: pl.DataFrame, k: int) -> pl.DataFrame:
    """Keep only interactions whose user AND item each have at least `k` interactions, iterated to a fixpoint.

    Dropping a sparse item can push a user below `k` (and vice versa), so one pass is not enough: we repeat
    until no row is removed. Duplicate rows count as separate interactions (as in the raw 5-core releases).
    """
    if k < 1:
        raise ConfigError(f"k_core: k must be >= 1, got {k}")
    out = interactions
    while True:
        kept = out.filter(
            (pl.len().over("user_id") >= k) & (pl.len().over("item_id") >= k)
        )
        if kept.height == out.height:
            return kept
        out = kept


def history_length_bounds(
    interactions: pl.DataFrame, min_length: int | None = None, max_length: int | None = None
) -> pl.DataFrame:
    """Keep only users whose number of interactions lies in [min_length, max_length] (either bound optional).

    Whole users are dropped rather than truncated: truncating would silently change what "the user's
    history" means for every later stage (Rec-SAVER filters users the same way).
    """
    if min_length is not None and max_length is not None and min_length > max_length:
        raise ConfigError(f"history bounds: min_length {min_length} > max_length {max_length}")
    count = pl.len().over("user_id")
    cond = pl.lit(True)
    if min_length is not None:
        cond = cond & (count >= min_length)
    if max_length is not None:
        cond = cond & (count <= max_length)
    return interactions.filter(cond)


def label_expr(r_threshold: float | None, column: str = "rating") -> pl.Expr:
    """The like/dislike label: 1 if rating > r_T else 0 (ReasoningRec r_T = 3); null when no threshold."""
    if r_threshold is None:
        return pl.lit(None, dtype=pl.Int64())
    return (pl.col(column) > r_threshold).cast(pl.Int64())


def binarise(interactions: pl.DataFrame, r_threshold: float | None) -> pl.DataFrame:
    """Add an Int64 `label` column (1 if rating > r_threshold, else 0; null if r_threshold is None)."""
    return interactions.with_columns(label_expr(r_threshold).alias("label"))
