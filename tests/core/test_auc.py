"""The one AUC: sklearn's value for reporting, the exact Mann-Whitney statistic for resampling loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from reasonrec.auc import rank_auc, roc_auc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=40))
def test_rank_auc_equals_sklearn(pairs: list[tuple[int, int]]) -> None:
    labels = np.array([p[0] for p in pairs])
    scores = np.array([p[1] / 6 for p in pairs])  # few levels → many ties
    if labels.min() == labels.max():
        return
    assert rank_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_roc_auc_is_undefined_with_one_class():
    assert roc_auc([1, 1], [0.2, 0.9]) is None
    assert roc_auc([0, 1, 1], [0.1, 0.5, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.7, 0.7]) == 0.5


def test_rank_auc_is_nan_with_one_class() -> None:
    assert np.isnan(rank_auc([1, 1, 1], [0.1, 0.2, 0.3]))
