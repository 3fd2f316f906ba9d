from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from reasonrec.auc import rank_auc
from reasonrec.eval.bootstrap import bootstrap_ci


def test_bootstrap_is_seeded_and_brackets_the_auc() -> None:
    y = [0, 0, 0, 1, 1, 1, 1, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.9, 0.6, 0.65, 0.3]
    a = bootstrap_ci(y, s, n_resamples=200, seed=3)
    b = bootstrap_ci(y, s, n_resamples=200, seed=3)
    assert a.extra == b.extra and a.n == 10
    assert 0.0 <= a.extra["low"] <= a.extra["high"] <= 1.0
    assert a.extra["n_valid"] <= 200


def test_bootstrap_separable_and_degenerate() -> None:
    sep = bootstrap_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_resamples=50)
    assert sep.extra["low"] == 1.0 and sep.extra["high"] == 1.0
    one = bootstrap_ci([1, 1, 1], [0.1, 0.2, 0.3])
    assert one.value is None and one.reason


def test_default_statistic_is_the_fast_rank_auc_and_matches_sklearn() -> None:
    """`reasonrec eval` bootstraps with the rank AUC by default: same interval as sklearn's, ~20x faster."""
    assert inspect.signature(bootstrap_ci).parameters["statistic"].default is rank_auc
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 1)  # ties
    fast = bootstrap_ci(y, s, n_resamples=100, seed=5)
    slow = bootstrap_ci(y, s, statistic=roc_auc_score, n_resamples=100, seed=5)
    assert fast.extra["low"] == pytest.approx(slow.extra["low"], abs=1e-12)
    assert fast.extra["high"] == pytest.approx(slow.extra["high"], abs=1e-12)
    assert fast.value == pytest.approx(slow.value, abs=1e-12)
