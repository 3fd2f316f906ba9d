from __future__ import annotations

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
