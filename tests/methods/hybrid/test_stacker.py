from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from reasonrec.baselines.features import NUMERIC_FEATURES
from reasonrec.errors import ConfigError
from reasonrec.methods.hybrid.stacker import LLM_TERM, Stacker, StackerConfig
from reasonrec.stages.common.evidence import SIMILARITY_FEATURES

BOOLEAN_SIMILARITIES = ("sim_target_in_history", "sim_near_duplicate")


def _table(n: int, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Rows whose label depends on the CF score and on an LLM term the CF score does not carry."""
    rng = np.random.default_rng(seed)
    cf, llm = rng.normal(size=n), rng.normal(size=n)
    y = (cf + llm + rng.normal(0, 0.7, size=n) > 0).astype(int)
    cold = rng.random(n) < 0.3
    table = pl.DataFrame({
        "user_n": rng.integers(0, 20, size=n), "user_mean_rating": rng.uniform(1, 5, size=n),
        "user_like_share": rng.uniform(size=n), "item_n": np.where(cold, 0, rng.integers(1, 50, size=n)),
        "item_mean_rating": np.where(cold, np.nan, rng.uniform(1, 5, size=n)),
        "item_like_share": np.where(cold, np.nan, rng.uniform(size=n)), "item_cold": cold, "cf_score": cf,
        LLM_TERM: llm,
        **{c: rng.uniform(size=n) for c in SIMILARITY_FEATURES if c not in BOOLEAN_SIMILARITIES},
        **{c: rng.random(n) < 0.1 for c in BOOLEAN_SIMILARITIES},
    }).with_columns(pl.col("item_mean_rating", "item_like_share").fill_nan(None))
    return table, y


def test_the_llm_term_is_used_when_it_carries_signal_and_the_ablation_drops_it() -> None:
    fit_rows, y_fit = _table(600, 0)
    test_rows, y_test = _table(600, 1)
    full = Stacker().fit(fit_rows, y_fit)
    ablation = Stacker(StackerConfig().without(LLM_TERM)).fit(fit_rows, y_fit)
    assert LLM_TERM not in ablation.config.features and LLM_TERM in full.config.features
    auc_full = roc_auc_score(y_test, full.predict_proba(test_rows))
    auc_ablation = roc_auc_score(y_test, ablation.predict_proba(test_rows))
    assert auc_full > auc_ablation + 0.05
    weights = full.weights()
    assert weights[LLM_TERM] > 0.5 and weights["cf_score"] > 0.5
    assert "item_mean_rating_missing" in weights and "user_n_missing" not in weights


def test_gbdt_variant_and_probabilities() -> None:
    fit_rows, y_fit = _table(400, 2)
    model = Stacker(StackerConfig(model="gbdt", gbdt_max_iter=30)).fit(fit_rows, y_fit)
    p = model.predict_proba(fit_rows)
    assert p.shape == (400,) and ((p >= 0) & (p <= 1)).all() and model.weights() == {}


def test_inputs_are_checked() -> None:
    fit_rows, y_fit = _table(50, 3)
    with pytest.raises(ConfigError, match="lacks column"):
        Stacker().fit(fit_rows.drop(LLM_TERM), y_fit)
    with pytest.raises(ConfigError, match="both labels"):
        Stacker().fit(fit_rows, np.ones(50, dtype=int))
    with pytest.raises(RuntimeError, match="before fit"):
        Stacker().predict_proba(fit_rows)
    assert set(NUMERIC_FEATURES) | set(SIMILARITY_FEATURES) <= set(StackerConfig().features)
