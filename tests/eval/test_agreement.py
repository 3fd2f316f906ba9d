from __future__ import annotations

import math

import pytest

from reasonrec.eval.agreement import pearson, t_test, weighted_kappa


def test_quadratic_kappa_two_categories_by_hand() -> None:
    # O: (1,1)=1 (1,2)=1 (2,2)=2; E(1,2)=2*3/4, E(2,1)=2*1/4; κ = 1 - 1/(1.5+0.5) = 0.5
    assert weighted_kappa([1, 1, 2, 2], [1, 2, 2, 2]).value == pytest.approx(0.5)


def test_quadratic_kappa_three_categories_by_hand() -> None:
    # one disagreement (2 vs 3) weight (1/2)^2; Σ w·E = 2/3 + 1/4 + 1/3 = 1.25 → κ = 1 - 0.25/1.25
    result = weighted_kappa([1, 2, 3], [1, 3, 3])
    assert result.value == pytest.approx(0.8) and result.n == 3


def test_kappa_degenerate() -> None:
    assert weighted_kappa([2, 2], [2, 2]).value is None


def test_pearson_by_hand() -> None:
    r = 15 / math.sqrt(228)  # Σdxdy = 5, Σdx² = 2, Σdy² = 114/9
    result = pearson([1, 2, 3], [2, 4, 7])
    assert result.value == pytest.approx(r)
    t = r / math.sqrt(1 - r * r)  # n-2 = 1 degree of freedom: Student t is Cauchy
    assert result.extra["p_value"] == pytest.approx(2 * (0.5 - math.atan(t) / math.pi))
    assert pearson([1, 1, 1], [1, 2, 3]).value is None


def test_t_test_by_hand() -> None:
    result = t_test([1, 2, 3], [4, 5, 6])
    assert result.value == pytest.approx(-3 / math.sqrt(2 / 3))  # pooled var 1, se sqrt(1/3 + 1/3)
    assert result.extra["p_value"] == pytest.approx(0.0213, abs=5e-4)  # t table, df = 4
    assert t_test([1], [2, 3]).value is None
