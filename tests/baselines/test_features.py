"""Leak-free features on the real Beauty release: aligned with the target rows, and no row's features depend on
that row's own label (cross-fitting for train/valid rows, CF training rows without valid/test targets for test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reasonrec.baselines.features import FEATURE_SCHEMA, FeatureConfig, fold_of_rows, leak_free_features
from reasonrec.data.loaders import load_dataset
from reasonrec.errors import ConfigError

SPLITS = ("train", "valid", "test")


def _release(shared_data: Path) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    ds = load_dataset("reasoningrec-beauty", data_root=shared_data)
    tables = {s: ds.splits[f"release_windows_{s}"].filter(pl.col("label").is_not_null()) for s in SPLITS}
    return tables, ds.interactions


def _cf_rows(interactions: pl.DataFrame, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    held = pl.concat([tables[s].select("user_id", "item_id") for s in ("valid", "test")]).unique()
    return interactions.join(held, on=["user_id", "item_id"], how="anti")


def _flip(tables: dict[str, pl.DataFrame], interactions: pl.DataFrame, split: str, rows: np.ndarray
          ) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """The same data with the ratings/labels of `rows` of `split` inverted (5 <-> 1), in the target table AND in
    the interactions, as if those users had answered the other way."""
    mask = pl.Series(np.isin(np.arange(tables[split].height), rows))
    flipped = tables[split].with_columns(
        pl.when(mask).then(6.0 - pl.col("rating")).otherwise(pl.col("rating")).alias("rating"),
        pl.when(mask).then(1 - pl.col("label")).otherwise(pl.col("label")).alias("label"),
    )
    keys = tables[split].filter(mask).select("user_id", "item_id").with_columns(pl.lit(True).alias("_hit"))
    inter = interactions.join(keys, on=["user_id", "item_id"], how="left").with_columns(
        pl.when(pl.col("_hit")).then(6.0 - pl.col("rating")).otherwise(pl.col("rating")).alias("rating")
    ).drop("_hit")
    return {**tables, split: flipped}, inter


def test_features_align_with_rows_and_predict_something(shared_data: Path) -> None:
    tables, interactions = _release(shared_data)
    feats = leak_free_features(tables, _cf_rows(interactions, tables), FeatureConfig(folds=3))
    for split in SPLITS:
        f = feats[split]
        assert f.schema == pl.Schema(FEATURE_SCHEMA)
        assert f["row"].to_list() == list(range(tables[split].height))
        assert f["user_id"].to_list() == tables[split]["user_id"].to_list()
        assert f["item_id"].to_list() == tables[split]["item_id"].to_list()
    assert set(feats["train"]["cf_fold"].unique()) == {0, 1, 2}
    assert feats["test"]["cf_fold"].unique().to_list() == [-1]
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(tables["test"]["label"].to_numpy(), feats["test"]["cf_score"].to_numpy())
    assert auc > 0.7  # MF fitted on the CF rows: 0.803 on these 622 rows (data README)
    # Item statistics come from the fitted rows: a cold test item has no ratings there.
    cold = feats["test"].filter(pl.col("item_cold"))
    assert cold.height > 100 and cold["item_mean_rating"].null_count() == cold.height


@pytest.mark.parametrize("split", ["train", "valid"])
def test_a_cross_fitted_rows_features_ignore_its_own_label(shared_data: Path, split: str) -> None:
    tables, interactions = _release(shared_data)
    config = FeatureConfig(folds=3, seed=7)
    fold0 = np.flatnonzero(fold_of_rows(tables[split].height, config.folds, config.seed) == 0)
    before = leak_free_features(tables, _cf_rows(interactions, tables), config)[split]
    flipped_tables, flipped_inter = _flip(tables, interactions, split, fold0)
    after = leak_free_features(flipped_tables, _cf_rows(flipped_inter, flipped_tables), config)[split]
    assert before[fold0].equals(after[fold0])
    others = np.setdiff1d(np.arange(tables[split].height), fold0)
    if split == "train":  # train targets are CF rows: the flip reaches the other folds' models ...
        assert not before[others]["cf_score"].equals(after[others]["cf_score"])
    else:  # ... valid targets never are, so the flip reaches no model at all.
        assert before.equals(after)


def test_no_test_target_rating_reaches_its_own_features(shared_data: Path) -> None:
    tables, interactions = _release(shared_data)
    config = FeatureConfig(folds=3)
    every = np.arange(tables["test"].height)
    before = leak_free_features(tables, _cf_rows(interactions, tables), config)["test"]
    flipped_tables, flipped_inter = _flip(tables, interactions, "test", every)
    after = leak_free_features(flipped_tables, _cf_rows(flipped_inter, flipped_tables), config)["test"]
    assert before.equals(after)


def test_cf_model_must_be_a_registered_like_scorer() -> None:
    with pytest.raises(ConfigError, match="not a registered baseline"):
        FeatureConfig.from_dict({"cf_model": "nope"})
    assert FeatureConfig(cf_model="item-mean").cf_model == "item-mean"


def _cf_aware_prompts(tables: dict[str, pl.DataFrame], interactions: pl.DataFrame, items: pl.DataFrame,
                      split: str, **feature_options: object) -> list[str]:
    from reasonrec.baselines.features import with_facts
    from reasonrec.train.sft_data import SFTDataConfig, build_reasoningrec_sft, load_tokenizer

    feats = leak_free_features(tables, _cf_rows(interactions, tables), FeatureConfig(folds=3, **feature_options))
    rows = with_facts(tables[split], feats[split], scale_max=5.0).head(150)  # rendering is the slow part
    config = SFTDataConfig(completion="label", facts=True, include_profile=False, include_descriptions=False,
                           max_seq_length=1024)
    sft = build_reasoningrec_sft(rows, items, None, None, None, load_tokenizer(), config, split=split, sample=False)
    assert sft.table["completion"].unique().sort().to_list() == ["Prediction: No", "Prediction: Yes"]
    return [json.loads(p)[-1]["content"] for p in sft.table["prompt"].to_list()]


def test_no_target_rating_reaches_its_own_cf_aware_prompt(shared_data: Path) -> None:
    ds = load_dataset("reasoningrec-beauty", data_root=shared_data)
    tables = {s: ds.splits[f"release_windows_{s}"].filter(pl.col("label").is_not_null()) for s in SPLITS}
    before = _cf_aware_prompts(tables, ds.interactions, ds.items, "test")
    assert all("A collaborative-filtering model predicts a rating of" in p for p in before)
    assert all("Answer with \"Prediction: Yes\" or \"Prediction: No\" only" in p for p in before)
    flipped_tables, flipped_inter = _flip(tables, ds.interactions, "test", np.arange(tables["test"].height))
    assert _cf_aware_prompts(flipped_tables, flipped_inter, ds.items, "test") == before


def test_binllm_codes_replace_the_score_in_the_prompt(shared_data: Path) -> None:
    ds = load_dataset("reasoningrec-beauty", data_root=shared_data)
    tables = {s: ds.splits[f"release_windows_{s}"].filter(pl.col("label").is_not_null()) for s in SPLITS}
    prompts = _cf_aware_prompts(tables, ds.interactions, ds.items, "valid", cf_text="code")
    coded = [p for p in prompts if "Collaborative-filtering codes: user " in p]
    assert len(coded) > len(prompts) // 2 and not any("model predicts a rating" in p for p in coded)
    with pytest.raises(ConfigError, match="latent-factor"):
        leak_free_features(tables, _cf_rows(ds.interactions, tables),
                           FeatureConfig(cf_model="user-mean", cf_text="code"))
