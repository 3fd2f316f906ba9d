"""The hybrid's data flow on the real Beauty release: CF-aware rows, stacker fitted on validation only, and
predictions that carry the student's explanation. The student's scores here are given, not computed (control
flow only); the real student path is exercised by bench/predictor.py and the LoRA tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reasonrec.baselines.features import NUMERIC_FEATURES, FeatureConfig
from reasonrec.data.loaders import load_dataset
from reasonrec.errors import ConfigError
from reasonrec.methods.hybrid.predictor import (
    ABLATION,
    HYBRID,
    HybridConfig,
    cf_aware_rows,
    fit_hybrid,
    hybrid_predictions,
)
from reasonrec.methods.hybrid.stacker import LLM_TERM, StackerConfig
from reasonrec.predictions import PREDICTIONS_SCHEMA
from reasonrec.stages.common.evidence import SIMILARITY_FEATURES


def test_hybrid_predictions_carry_the_students_explanation_and_the_ablation_none(shared_data: Path) -> None:
    ds = load_dataset("reasoningrec-beauty", data_root=shared_data)
    tables = {s: ds.splits[f"release_windows_{s}"].filter(pl.col("label").is_not_null())
              for s in ("train", "valid", "test")}
    held = pl.concat([tables[s].select("user_id", "item_id") for s in ("valid", "test")]).unique()
    config = HybridConfig(features=FeatureConfig(folds=3))
    rows = cf_aware_rows(tables, ds.interactions.join(held, on=["user_id", "item_id"], how="anti"), config,
                         ds.items)
    assert "facts" in rows.rows["test"].columns and rows.rows["test"].height == tables["test"].height
    assert set(SIMILARITY_FEATURES) <= set(rows.features["test"].columns) <= set(config.stacker.features) | {
        "row", "user_id", "item_id", "split", "cf_code_user", "cf_code_item", "cf_fold"}
    repeats = [t in (h or []) for t, h in zip(tables["test"]["item_id"].to_list(),
                                               tables["test"]["history_item_ids"].to_list(), strict=True)]
    assert rows.features["test"]["sim_target_in_history"].to_list() == repeats

    rng = np.random.default_rng(0)
    valid_y = tables["valid"]["label"].to_numpy()
    valid_logodds = 2.0 * (valid_y - 0.5) + rng.normal(0, 1, size=len(valid_y))
    hybrid, ablation = fit_hybrid(rows.features["valid"], valid_y, valid_logodds, config.stacker)
    assert hybrid is not None and LLM_TERM in hybrid.weights() and LLM_TERM not in ablation.weights()

    test = tables["test"]
    student = pl.DataFrame({LLM_TERM: rng.normal(size=test.height),
                            "reasoning": [f"because {i}" for i in range(test.height)]})
    with_llm = hybrid_predictions(test, rows.features["test"], hybrid, method=HYBRID, dataset="beauty",
                                  student=student)
    without = hybrid_predictions(test, rows.features["test"], ablation, method=ABLATION, dataset="beauty")
    for preds in (with_llm, without):
        assert list(preds.schema)[: len(PREDICTIONS_SCHEMA)] == list(PREDICTIONS_SCHEMA)
        assert preds["user_id"].to_list() == test["user_id"].to_list()
        assert preds["score"].is_between(0, 1).all()
    assert with_llm["reasoning"].to_list()[:2] == ["because 0", "because 1"]
    assert without["reasoning"].null_count() == test.height
    none_hybrid, _ = fit_hybrid(rows.features["valid"], valid_y, None, config.stacker)
    assert none_hybrid is None


def test_similarity_features_are_stacked_by_default_and_dropped_with_evidence_off() -> None:
    assert set(SIMILARITY_FEATURES) <= set(HybridConfig().stacker.features)
    off = HybridConfig(evidence_features=False)
    assert not set(SIMILARITY_FEATURES) & set(off.stacker.features) and LLM_TERM in off.stacker.features
    with pytest.raises(ConfigError, match="evidence_features=false"):
        HybridConfig(evidence_features=False,
                     stacker=StackerConfig(features=[*NUMERIC_FEATURES, "sim_max_diff"]))
    with pytest.raises(ConfigError, match="items table"):
        cf_aware_rows({}, pl.DataFrame(), HybridConfig())
