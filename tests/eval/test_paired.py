from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from reasonrec.eval.paired import (
    best_reference,
    compare_to_reference,
    delong_p_value,
    paired_auc_difference,
)


def _rows(n: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    strong = y + rng.normal(0, 0.6, size=n)
    weak = y + rng.normal(0, 2.5, size=n)
    return y, strong, weak


def test_a_clearly_better_scorer_gets_a_ci_above_zero_and_a_small_p() -> None:
    y, strong, weak = _rows()
    d = paired_auc_difference(y, strong, weak, n_resamples=300, seed=0)
    assert d is not None
    assert d.diff == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak), abs=1e-12)
    assert d.low > 0 and d.verdict == "better" and d.p_value < 1e-3
    reverse = paired_auc_difference(y, weak, strong, n_resamples=300, seed=0)
    assert reverse is not None and reverse.verdict == "worse" and reverse.high < 0


def test_identical_scorers_cannot_be_ranked() -> None:
    y, strong, _ = _rows()
    d = paired_auc_difference(y, strong, strong.copy(), n_resamples=100)
    assert d is not None and d.diff == 0.0 and d.low == 0.0 and d.high == 0.0
    assert d.verdict == "cannot rank" and d.p_value == 1.0


def test_noise_level_difference_is_reported_as_cannot_rank() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=60)
    a = y + rng.normal(0, 1.5, size=60)
    b = y + rng.normal(0, 1.5, size=60)
    d = paired_auc_difference(y, a, b, n_resamples=300, seed=2)
    assert d is not None and d.low < 0 < d.high and d.verdict == "cannot rank"


def test_seeded_and_single_class_rows_have_no_difference() -> None:
    y, strong, weak = _rows(100)
    assert paired_auc_difference(y, strong, weak, n_resamples=50, seed=7) == paired_auc_difference(
        y, strong, weak, n_resamples=50, seed=7)
    assert paired_auc_difference([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1]) is None


def test_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="n_resamples"):
        paired_auc_difference([0, 1], [0.1, 0.9], [0.2, 0.8], n_resamples=10**7)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_auc_difference([0, 1], [0.1, 0.9], [0.2])


def test_compare_to_reference_uses_the_best_method_as_the_bar() -> None:
    y, strong, weak = _rows()
    scores = {"weak": weak, "strong": strong, "mid": 0.5 * strong + 0.5 * weak}
    ref = best_reference(y, scores)
    assert ref == "strong"
    table = compare_to_reference(y, scores, ref, n_resamples=200)
    assert set(table) == {"weak", "mid"}
    assert all(d is not None and d.diff < 0 for d in table.values())
    with pytest.raises(ValueError, match="reference"):
        compare_to_reference(y, scores, "nope")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5), st.integers(0, 5)), min_size=6, max_size=40))
def test_delong_p_value_is_a_probability_and_symmetric(rows: list[tuple[int, int, int]]) -> None:
    y = np.array([r[0] for r in rows])
    if y.min() == y.max():
        return
    a = np.array([r[1] for r in rows], dtype=float)
    b = np.array([r[2] for r in rows], dtype=float)
    p = delong_p_value(y, a, b)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(delong_p_value(y, b, a), abs=1e-12)


def test_compare_methods_pairs_rows_across_methods_and_uses_the_best_baseline() -> None:
    import polars as pl

    from reasonrec.eval.paired import compare_methods, shared_rows

    y, strong, weak = _rows(300)
    frames = []
    for method, scores in (("mf", weak), ("user-mean", 0.3 * strong + weak), ("hybrid", strong)):
        frames.append(pl.DataFrame({"method": method, "split": "test", "user_id": [str(i) for i in range(300)],
                                    "item_id": "x", "label": y, "score": scores}))
    frames[0] = frames[0].head(250)  # a method that scored fewer rows limits the shared rows
    preds = pl.concat(frames)
    labels, scores = shared_rows(preds, ["mf", "user-mean", "hybrid"])
    assert len(labels) == 250 and set(scores) == {"mf", "user-mean", "hybrid"}
    result = compare_methods(preds, ["mf", "user-mean", "item-mean"], n_resamples=200)
    assert result["reference"] == "user-mean" and result["n"] == 250
    assert set(result["comparisons"]) == {"hybrid"}
    assert result["comparisons"]["hybrid"]["verdict"] == "better"
    assert compare_methods(preds, ["sasrec"])["reference"] is None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_compare_methods_does_not_depend_on_the_order_of_the_prediction_rows(seed: int) -> None:
    import polars as pl

    from reasonrec.eval.paired import compare_methods

    y, strong, weak = _rows(120)
    preds = pl.concat([pl.DataFrame({"method": m, "split": "test", "user_id": [str(i) for i in range(120)],
                                     "item_id": "x", "label": y, "score": s})
                       for m, s in (("user-mean", weak), ("hybrid", strong))])
    shuffled = preds.sample(fraction=1.0, shuffle=True, seed=seed)
    assert compare_methods(shuffled, ["user-mean"], n_resamples=100) == compare_methods(preds, ["user-mean"],
                                                                                        n_resamples=100)
