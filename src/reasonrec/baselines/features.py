"""Leak-free facts about a (user, target item) row: what a CF-aware prompt states and what a hybrid predictor uses.

For every row of the train / valid / test target tables, `leak_free_features` returns one row of numbers:

- the user's statistics over the history window the prompt shows (number of ratings, mean rating, like-share) —
  the history never contains the target (target-table contract), so these are before the target by construction;
- the target item's statistics (ratings count = popularity, mean rating, like-share, cold flag) and the score of a
  CF model (MF by default, any registered baseline by config), both *fitted*: on the CF training interactions
  with the scored rows' own targets removed.

Why fitted per fold: the CF training interactions contain every train target (and, under sliding windows, many
more rows' targets). A model fitted on them and scored on those rows has memorised the labels, and a student
trained on such scores learns to copy them. So train and valid rows are cross-fitted: the rows are split into
`folds` seeded folds and each fold is scored by a model fitted without that fold's (user, item) targets (and, for
models that read target tables, without that fold's rows). Test rows are scored by one model fitted on all the CF
training rows — those never contain a valid or test target (`SplitResult.train_interactions`). A row's features
therefore never depend on its own label (`tests/test_features.py` flips a label and checks).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from reasonrec.baselines import BASELINES, TrainData, make_baseline
from reasonrec.config import Config
from reasonrec.errors import ConfigError

FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "user_id": pl.String(),
    "item_id": pl.String(),
    "split": pl.String(),
    "user_n": pl.Int64(),
    "user_mean_rating": pl.Float64(),
    "user_like_share": pl.Float64(),
    "item_n": pl.Int64(),
    "item_mean_rating": pl.Float64(),
    "item_like_share": pl.Float64(),
    "item_cold": pl.Boolean(),
    "cf_score": pl.Float64(),
    "cf_code_user": pl.String(),
    "cf_code_item": pl.String(),
    "cf_fold": pl.Int64(),
}
"""`row` = the row's position in its split's target table; `cf_fold` = the fold whose model scored it (-1: the
model fitted on all CF training rows, used for test rows). Null statistics mean "no data" (empty window, cold item).
`cf_code_*` (only with `cf_text='code'`) are BinLLM-style text codes of the CF embeddings: one bit per latent factor
(its sign), so a prompt can carry the collaborative signal as tokens instead of a score; null for a cold id."""

NUMERIC_FEATURES: tuple[str, ...] = (
    "user_n", "user_mean_rating", "user_like_share", "item_n", "item_mean_rating", "item_like_share",
    "item_cold", "cf_score",
)
"""The columns a stacking model reads (nulls are imputed there, with a missing-indicator)."""

CROSS_FITTED_SPLITS = ("train", "valid")


class FeatureConfig(Config):
    """Which CF model scores the rows and how the train/valid rows are cross-fitted."""

    cf_model: str = Field("mf", description="any registered baseline with a 'like' task (baselines.BASELINES)")
    cf_overrides: dict[str, Any] = Field(default_factory=dict, description="config overrides of that baseline")
    folds: int = Field(5, ge=2, le=20, description="cross-fitting folds for train/valid rows")
    seed: int = 42
    like_threshold: float = Field(3.0, description="r_T: liked = rating > r_T (0.5 for 0/1 ratings)")
    cf_text: Literal["score", "code"] = Field(
        "score", description="how a prompt states the CF signal: its score, or BinLLM-style codes (mf only)")

    @field_validator("cf_model")
    @classmethod
    def _registered_like_scorer(cls, name: str) -> str:
        spec = BASELINES.get(name)
        if spec is None:
            raise ValueError(f"{name!r} is not a registered baseline; known: {', '.join(BASELINES)}")
        if "like" not in spec.tasks:
            raise ValueError(f"{name!r} cannot score like/dislike rows")
        return name


def window_stats(targets: pl.DataFrame, like_threshold: float) -> pl.DataFrame:
    """(user_n, user_mean_rating, user_like_share) over each row's history window (nulls for an empty window)."""
    n, means, shares = [], [], []
    for ratings, labels in zip(targets["history_ratings"].to_list(), targets["history_labels"].to_list(),
                               strict=True):
        ratings = [float(r) for r in (ratings or []) if r is not None]
        liked = [int(lab) for lab in (labels or []) if lab is not None]
        if not liked and ratings:
            liked = [int(r > like_threshold) for r in ratings]
        n.append(max(len(ratings), len(liked)))
        means.append(float(np.mean(ratings)) if ratings else None)
        shares.append(float(np.mean(liked)) if liked else None)
    return pl.DataFrame({"user_n": n, "user_mean_rating": means, "user_like_share": shares},
                        schema={"user_n": pl.Int64, "user_mean_rating": pl.Float64, "user_like_share": pl.Float64})


def item_stats(interactions: pl.DataFrame, items: list[str], like_threshold: float) -> pl.DataFrame:
    """Count, mean rating and like-share of each item in `interactions` (the fitted rows); cold items get n=0."""
    stats = interactions.group_by(pl.col("item_id").cast(pl.String)).agg(
        pl.len().cast(pl.Int64).alias("item_n"),
        pl.col("rating").cast(pl.Float64).mean().alias("item_mean_rating"),
        (pl.col("rating").cast(pl.Float64) > like_threshold).cast(pl.Float64).mean().alias("item_like_share"),
    )
    out = pl.DataFrame({"item_id": items}, schema={"item_id": pl.String}).join(
        stats, on="item_id", how="left", maintain_order="left")
    return out.with_columns(pl.col("item_n").fill_null(0)).with_columns(
        (pl.col("item_n") == 0).alias("item_cold")).drop("item_id")


def fold_of_rows(n: int, folds: int, seed: int) -> np.ndarray:
    """A seeded fold index per row, as balanced as possible."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    out = np.empty(n, dtype=np.int64)
    for rank, row in enumerate(order):
        out[row] = rank % folds
    return out


def _without_targets(interactions: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """CF training interactions minus every (user, item) that is a target of `rows` (all duplicates of it)."""
    keys = rows.select(pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String)).unique()
    return interactions.join(keys, on=["user_id", "item_id"], how="anti")


def cf_codes(model: Any, ids: list[str], side: Literal["user", "item"]) -> list[str | None]:
    """BinLLM-style codes: the sign bits of each id's latent factors ('0110…'); None for an id the model lacks."""
    inner = getattr(model, "model", None)
    factors = getattr(inner, "u_factors" if side == "user" else "i_factors", None)
    index = getattr(inner, "uid_map" if side == "user" else "iid_map", None)
    if factors is None or index is None:
        raise ConfigError(f"features.cf_text='code' needs a latent-factor CF model (mf), not {model.name!r}")
    return [None if index.get(i) is None else "".join("1" if v > 0 else "0" for v in factors[index[i]])
            for i in ids]


def _fitted_columns(model: Any, rows: pl.DataFrame, fitted_on: pl.DataFrame, config: FeatureConfig) -> pl.DataFrame:
    preds = model.predict(rows, split=None)
    items = rows["item_id"].cast(pl.String).to_list()
    users = rows["user_id"].cast(pl.String).to_list()
    codes = (cf_codes(model, users, "user"), cf_codes(model, items, "item")) if config.cf_text == "code" \
        else ([None] * rows.height, [None] * rows.height)
    return item_stats(fitted_on, items, config.like_threshold).with_columns(
        preds["score"].cast(pl.Float64).alias("cf_score"),
        pl.Series("cf_code_user", codes[0], dtype=pl.String), pl.Series("cf_code_item", codes[1], dtype=pl.String),
    )


def _fit(config: FeatureConfig, interactions: pl.DataFrame, train: pl.DataFrame, valid: pl.DataFrame | None) -> Any:
    model = make_baseline(config.cf_model, {"seed": config.seed, **config.cf_overrides})
    valid = valid if valid is not None and valid.height else None
    return model.fit(TrainData(interactions, train, valid, r_threshold=config.like_threshold))


def _cross_fitted(split: str, tables: Mapping[str, pl.DataFrame], interactions: pl.DataFrame,
                  config: FeatureConfig) -> pl.DataFrame:
    rows = tables[split]
    folds = fold_of_rows(rows.height, config.folds, config.seed)
    parts = []
    for fold in range(config.folds):
        held = rows.filter(pl.Series(folds == fold))
        if held.height == 0:
            continue
        fitted_on = _without_targets(interactions, held)
        others = {name: t.filter(pl.Series(folds != fold)) if name == split else t
                  for name, t in tables.items() if name in CROSS_FITTED_SPLITS}
        model = _fit(config, fitted_on, others["train"], others.get("valid"))
        parts.append(_fitted_columns(model, held, fitted_on, config).with_columns(
            pl.Series("row", np.flatnonzero(folds == fold), dtype=pl.Int64), pl.lit(fold, pl.Int64).alias("cf_fold")))
    return pl.concat(parts).sort("row")


FACT_FIELDS: tuple[str, ...] = (*NUMERIC_FEATURES, "cf_code_user", "cf_code_item")


def with_facts(targets: pl.DataFrame, features: pl.DataFrame, scale_max: float) -> pl.DataFrame:
    """`targets` + a `facts` struct column (FACT_FIELDS + scale_max) that the student prompts render
    (`prompts/_facts.j2`); `features` must be this table's leak_free_features output, row for row."""
    if features.height != targets.height or features["item_id"].to_list() != targets["item_id"].cast(
            pl.String).to_list():
        raise ConfigError("with_facts: the features were computed for a different target table")
    facts = features.select(pl.struct(*FACT_FIELDS, pl.lit(float(scale_max)).alias("scale_max")).alias("facts"))
    return pl.concat([targets.drop("facts", strict=False), facts], how="horizontal")


def leak_free_features(tables: Mapping[str, pl.DataFrame], train_interactions: pl.DataFrame,
                       config: FeatureConfig | None = None) -> dict[str, pl.DataFrame]:
    """FEATURE_SCHEMA rows for each split in `tables` ('train', 'valid', 'test'; 'train' is required: CF models
    train on it), in table row order. Train/valid rows are cross-fitted, other splits scored by one full fit."""
    config = config or FeatureConfig()
    if "train" not in tables:
        raise ConfigError("leak_free_features needs the 'train' target table (CF models read it)")
    interactions = train_interactions.with_columns(pl.col("user_id").cast(pl.String),
                                                   pl.col("item_id").cast(pl.String))
    full_model = None
    out: dict[str, pl.DataFrame] = {}
    for split, rows in tables.items():
        if split in CROSS_FITTED_SPLITS:
            fitted = _cross_fitted(split, tables, interactions, config)
        else:
            if full_model is None:
                full_model = _fit(config, interactions, tables["train"], tables.get("valid"))
            fitted = _fitted_columns(full_model, rows, interactions, config).with_columns(
                pl.Series("row", np.arange(rows.height), dtype=pl.Int64), pl.lit(-1, pl.Int64).alias("cf_fold"))
        base = pl.DataFrame({
            "row": np.arange(rows.height, dtype=np.int64),
            "user_id": rows["user_id"].cast(pl.String), "item_id": rows["item_id"].cast(pl.String),
            "split": [split] * rows.height,
        }, schema={"row": pl.Int64, "user_id": pl.String, "item_id": pl.String, "split": pl.String})
        table = pl.concat([base, window_stats(rows, config.like_threshold)], how="horizontal").join(
            fitted, on="row", how="left")
        out[split] = table.select([pl.col(c).cast(t) for c, t in FEATURE_SCHEMA.items()])
    return out


__all__ = ["FACT_FIELDS", "FEATURE_SCHEMA", "NUMERIC_FEATURES", "FeatureConfig", "cf_codes", "fold_of_rows",
           "item_stats", "leak_free_features", "window_stats", "with_facts"]
