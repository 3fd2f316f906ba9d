"""Agreement between two raters (e.g. LLM-judged vs human / teacher vs student scores; Rec-SAVER Tables 6–8).

Weighted Cohen's kappa (sklearn), Pearson, Spearman and Kendall correlations with their p-values and a two-sample
t-test (scipy).
Each returns a `MetricResult` with n; constant inputs make Pearson undefined, which is reported, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from reasonrec.eval.metrics import MetricResult


def weighted_kappa(
    rater_a: Sequence[int] | np.ndarray,
    rater_b: Sequence[int] | np.ndarray,
    weights: Literal["quadratic", "linear"] | None = "quadratic",
) -> MetricResult:
    """Cohen's kappa with quadratic weights by default (disagreeing by 2 costs 4× disagreeing by 1)."""
    a = np.asarray(rater_a)
    b = np.asarray(rater_b)
    if len(a) != len(b):
        raise ValueError(f"raters have different lengths: {len(a)} vs {len(b)}")
    if len(a) == 0:
        return MetricResult("weighted_kappa", None, 0, "no paired ratings")
    if len(set(a.tolist()) | set(b.tolist())) < 2:
        return MetricResult("weighted_kappa", None, len(a), "both raters use a single identical category")
    value = float(cohen_kappa_score(a, b, weights=weights))
    return MetricResult("weighted_kappa", value, len(a), extra={"weights": weights})


def _correlation(name: str, test: Callable[..., Any], x: Sequence[float] | np.ndarray,
                 y: Sequence[float] | np.ndarray) -> MetricResult:
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if len(xa) != len(ya):
        raise ValueError(f"inputs have different lengths: {len(xa)} vs {len(ya)}")
    if len(xa) < 2:
        return MetricResult(name, None, len(xa), "fewer than 2 pairs")
    if np.all(xa == xa[0]) or np.all(ya == ya[0]):
        return MetricResult(name, None, len(xa), "one input is constant")
    result = test(xa, ya)
    return MetricResult(name, float(result.statistic), len(xa), extra={"p_value": float(result.pvalue)})


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> MetricResult:
    """Pearson r with its two-sided p-value (in `extra["p_value"]`)."""
    return _correlation("pearson", stats.pearsonr, x, y)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> MetricResult:
    """Spearman rank correlation with its two-sided p-value."""
    return _correlation("spearman", stats.spearmanr, x, y)


def kendall(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> MetricResult:
    """Kendall's tau-b with its two-sided p-value (ties, common on a 1–5 scale, are accounted for)."""
    return _correlation("kendall", stats.kendalltau, x, y)


def t_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, equal_var: bool = True
) -> MetricResult:
    """Two-sample (independent) t-test; value is the t statistic, `extra` holds p_value and both group sizes."""
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    n = len(xa) + len(xb)
    if len(xa) < 2 or len(xb) < 2:
        return MetricResult("t_test", None, n, "each group needs at least 2 values")
    result = stats.ttest_ind(xa, xb, equal_var=equal_var)
    if not np.isfinite(result.statistic):
        return MetricResult("t_test", None, n, "zero variance in both groups")
    return MetricResult(
        "t_test",
        float(result.statistic),
        n,
        extra={"p_value": float(result.pvalue), "n_a": len(xa), "n_b": len(xb), "equal_var": equal_var},
    )
