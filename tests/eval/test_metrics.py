"""Metrics against values computed by hand in the test (not by the library that implements them)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.eval import metrics as M


def test_auc_counts_correctly_ordered_pairs() -> None:
    # positives 0.35, 0.8 vs negatives 0.1, 0.4 → ordered pairs: (.35>.1), (.8>.1), (.8>.4) = 3 of 4.
    result = M.binary_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert result.value == pytest.approx(0.75)
    assert result.n == 4


def test_auc_tie_counts_half() -> None:
    assert M.binary_auc([0, 1, 1], [0.5, 0.5, 0.9]).value == pytest.approx((0.5 + 1.0) / 2)


def test_auc_single_class_is_none_with_reason() -> None:
    result = M.binary_auc([1, 1, 1], [0.2, 0.3, 0.4])
    assert result.value is None and "one class" in (result.reason or "") and result.n == 3
    assert M.binary_auc([], []).value is None


def test_accuracy_and_f1_by_hand() -> None:
    y, p = [1, 0, 1, 1], [1, 1, 1, 0]
    assert M.binary_accuracy(y, p).value == pytest.approx(2 / 4)
    # TP=2, FP=1, FN=1 → precision = recall = 2/3 → F1 = 2/3
    assert M.binary_f1(y, p).value == pytest.approx(2 / 3)
    assert M.binary_f1([0, 0], [0, 0]).value is None


def test_log_loss_by_hand_and_non_probability_scores() -> None:
    expected = -(math.log(0.8) + math.log(1 - 0.4)) / 2
    assert M.binary_log_loss([1, 0], [0.8, 0.4]).value == pytest.approx(expected)
    bad = M.binary_log_loss([1, 0], [4.0, 2.0])
    assert bad.value is None and "probabilities" in (bad.reason or "")


def test_likes_from_ratings_uses_strict_cutoff() -> None:
    assert M.likes_from_ratings([1, 3, 3.5, 4, 5]).tolist() == [0, 0, 1, 1, 1]
    assert M.labels_from_scores([0.49, 0.5, 0.9], 0.5).tolist() == [0, 1, 1]


def test_mae_rmse_by_hand() -> None:
    assert M.mae([1, 3, 5], [2, 3, 3]).value == pytest.approx(1.0)
    assert M.rmse([1, 3, 5], [2, 3, 3]).value == pytest.approx(math.sqrt(5 / 3))
    assert M.multiclass_accuracy([1, 3, 5], [1, 3, 4]).value == pytest.approx(2 / 3)


def test_macro_auc_ovr_by_hand_and_skips_absent_class() -> None:
    true = [1, 2, 3, 1]
    probs = np.array([[0.7, 0.2, 0.1, 0.0], [0.2, 0.5, 0.3, 0.0], [0.1, 0.3, 0.6, 0.0], [0.3, 0.6, 0.1, 0.0]])
    # class 1: positives .7,.3 > negatives .2,.1 → 1; class 2: .5 beats .2,.3 not .6 → 2/3; class 3: 1.
    result = M.macro_auc_ovr(true, probs, [1, 2, 3, 4])
    assert result.value == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert result.extra["skipped_classes"] == [4]


def test_recall_and_ndcg_by_hand() -> None:
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d"}
    assert M.recall_at_k(ranked, relevant, 2) == pytest.approx(0.5)
    assert M.ndcg_at_k(ranked, relevant, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert M.recall_at_k(ranked, relevant, 4) == pytest.approx(1.0)
    assert M.ndcg_at_k(ranked, relevant, 4) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    )
    assert M.recall_at_k(ranked, set(), 4) is None


def test_full_ranking_excludes_train_items() -> None:
    items = ["i0", "i1", "i2", "i3"]
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4]])
    # u0 trained on i0, so its ranking is i1, i3, i2; relevant i3 sits at rank 2.
    out = M.full_ranking_metrics(
        scores, items, ["u0", "u1"], {"u0": ["i0"]}, {"u0": {"i3"}, "u1": {"i3"}}, ks=(1, 2)
    )
    # u0: recall@1 = 0, u1 (i3 first): 1 → mean 0.5; @2 both hit → 1.
    assert out["recall@1"].value == pytest.approx(0.5)
    assert out["recall@2"].value == pytest.approx(1.0)
    assert out["ndcg@2"].value == pytest.approx((1 / math.log2(3) + 1.0) / 2)
    assert out["recall@2"].n == 2


def test_candidate_ranking_and_users_without_relevant() -> None:
    out = M.candidate_ranking_metrics(
        {"u": ["x", "y", "z"], "v": ["x", "y"]},
        {"u": [0.1, 0.9, 0.5], "v": [0.3, 0.2]},
        {"u": {"z"}, "v": set()},
        ks=(1, 2),
    )
    assert out["recall@1"].value == 0.0
    assert out["recall@2"].value == 1.0
    assert out["ndcg@2"].value == pytest.approx(1 / math.log2(3))
    assert out["recall@2"].n == 1 and out["recall@2"].extra["users_without_relevant"] == 1


items_st = st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=10, unique=True)


@given(ranked=items_st, relevant=st.sets(st.sampled_from("abcdefghij"), min_size=1))
def test_ndcg_bounded_and_recall_monotone(ranked: list[str], relevant: set[str]) -> None:
    recalls = [M.recall_at_k(ranked, relevant, k) for k in M.RANKING_KS]
    assert all(0.0 <= r <= 1.0 for r in recalls)
    assert recalls == sorted(recalls)
    for k in M.RANKING_KS:
        assert 0.0 <= M.ndcg_at_k(ranked, relevant, k) <= 1.0 + 1e-12


@settings(max_examples=50, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 1), st.integers(-500, 500).map(lambda v: v / 100)), min_size=2, max_size=40
    )
)
def test_auc_invariant_to_monotone_transform(data: list[tuple[int, float]]) -> None:
    y = [d[0] for d in data]
    s = np.array([d[1] for d in data])
    base = M.binary_auc(y, s)
    if base.value is None:
        assert len(set(y)) == 1
        return
    assert M.binary_auc(y, 3 * s + 1).value == pytest.approx(base.value)
    assert M.binary_auc(y, np.exp(s)).value == pytest.approx(base.value)
    assert M.binary_auc(y, -s).value == pytest.approx(1 - base.value)
