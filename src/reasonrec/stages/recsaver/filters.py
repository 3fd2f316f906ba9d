"""Rec-SAVER §4.3 filters over multi-path teacher samples: which reasoning paths become fine-tuning targets.

Each teacher sample carries the teacher's own parsed rating (`pred_rating`) next to the truth (`rating`):
  none    keep every sample (the paper trains on all M paths);
  5class  keep pred == truth;
  binary  keep (pred > r_T) == (truth > r_T)   (r_T = 3: both on the same side);
  1off    keep |pred − truth| ≤ 1.
Unparseable samples (no single rating in the text; `pred_rating` null or `parse_ok` false) cannot be compared
with the truth, so every filter except `none` drops them; `filter_counts` reports how many. `none` keeps them
because the paper's unfiltered setting trains on every sampled path — the SFT builder should still decide
whether to keep a path with no rating line (we only count them here).
By construction 5class ⊆ 1off ⊆ none and 5class ⊆ binary ⊆ none (tests check it).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from reasonrec.errors import ConfigError

FilterPredicate = Callable[[pl.Expr, pl.Expr, float], pl.Expr]

FILTERS: dict[str, FilterPredicate] = {
    "none": lambda pred, truth, r_t: pl.lit(True),
    "5class": lambda pred, truth, r_t: pred == truth,
    "binary": lambda pred, truth, r_t: (pred > r_t) == (truth > r_t),
    "1off": lambda pred, truth, r_t: (pred - truth).abs() <= 1,
}


def _comparable(samples: pl.DataFrame, pred_col: str) -> pl.Expr:
    ok = pl.col(pred_col).is_not_null()
    if "parse_ok" in samples.columns:
        ok = ok & pl.col("parse_ok").fill_null(False)
    return ok


def keep_mask(
    samples: pl.DataFrame, name: str, *, threshold: float = 3.0, truth_col: str = "rating",
    pred_col: str = "pred_rating",
) -> pl.Series:
    """Boolean per sample: does filter `name` keep it?"""
    if name not in FILTERS:
        raise ConfigError(f"unknown filter {name!r}; known: {', '.join(FILTERS)}")
    for col in (truth_col, pred_col):
        if col not in samples.columns:
            raise ConfigError(f"samples table has no {col!r} column (columns: {samples.columns})")
    if name == "none":
        return pl.Series("keep", [True] * samples.height, dtype=pl.Boolean())
    rule = FILTERS[name](pl.col(pred_col), pl.col(truth_col), threshold)
    expr = (_comparable(samples, pred_col) & rule.fill_null(False)).alias("keep")
    return samples.select(expr).to_series()


def apply_filter(samples: pl.DataFrame, name: str, **kwargs) -> pl.DataFrame:
    """The samples filter `name` keeps (order preserved)."""
    return samples.filter(keep_mask(samples, name, **kwargs))


def filter_counts(samples: pl.DataFrame, *, threshold: float = 3.0, truth_col: str = "rating",
                  pred_col: str = "pred_rating", pair_cols: tuple[str, ...] = ("user_id", "item_id")) -> dict:
    """Kept samples and pairs with ≥1 kept sample per filter, plus the unparseable count."""
    unparseable = int(samples.height - samples.select(_comparable(samples, pred_col).sum()).item())
    out: dict = {"samples": samples.height, "unparseable": unparseable, "filters": {}}
    present_pairs = [c for c in pair_cols if c in samples.columns]
    for name in FILTERS:
        kept = apply_filter(samples, name, threshold=threshold, truth_col=truth_col, pred_col=pred_col)
        out["filters"][name] = {
            "kept": kept.height,
            "dropped": samples.height - kept.height,
            "pairs_with_any": kept.select(present_pairs).unique().height if present_pairs else None,
        }
    return out


def annotate_filters(samples: pl.DataFrame, **kwargs) -> pl.DataFrame:
    """Add one boolean column per filter, `keep_<name>`, so one table serves every ablation."""
    return samples.with_columns(
        [keep_mask(samples, name, **kwargs).alias(f"keep_{name}") for name in FILTERS]
    )


def training_paths(paths: pl.DataFrame, name: str) -> tuple[pl.DataFrame, int]:
    """Annotated teacher paths as a student's SFT input under filter `name`: `keep` = the filter's verdict, paths
    with no reasoning text dropped (and counted: the second value), the prompt column named as
    `train.sft_data.build_rating_sft` expects."""
    table = paths.with_columns(
        pl.col(f"keep_{name}").alias("keep"),
        pl.col("reasoning").fill_null("").str.strip_chars().alias("reasoning"),
        pl.col("prompt").alias("student_prompt"),
    )
    empty = table.filter(pl.col("keep") & (pl.col("reasoning") == "")).height
    return table.with_columns(pl.col("keep") & (pl.col("reasoning") != "")), empty


__all__ = ["FILTERS", "annotate_filters", "apply_filter", "filter_counts", "keep_mask", "training_paths"]
