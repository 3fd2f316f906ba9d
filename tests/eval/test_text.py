"""Text metrics: hand-checkable values, WordNet synonyms offline, multi-reference aggregation, local BERTScore."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reasonrec.eval import text as T


def test_ensure_wordnet_copies_with_lf_line_endings(tmp_path: Path) -> None:
    root = T.ensure_wordnet(tmp_path / "nltk_data")
    data = (root / "corpora" / "wordnet" / "index.noun").read_bytes()
    assert b"\r\n" not in data and len(data) > 1_000_000
    assert T.ensure_wordnet(tmp_path / "nltk_data") == root  # idempotent


def test_meteor_uses_wordnet_synonyms() -> None:
    ref, hyp = "the child was sick today", "the child was ill today"
    # with synonyms: 5/5 matched in 1 chunk → Fmean 1, penalty 0.5·(1/5)^3 = 0.004
    assert T.meteor_pair(hyp, ref, use_synonyms=True) == pytest.approx(0.996)
    # exact/stem only: 4/5 matched in 2 chunks → Fmean 0.8, penalty 0.5·(2/4)^3 → 0.8·0.9375
    assert T.meteor_pair(hyp, ref, use_synonyms=False) == pytest.approx(0.75)


def test_rouge1_by_hand() -> None:
    # overlap {the, cat}: P = 2/3, R = 2/4 → F = 4/7
    assert T.rouge1_pair("the cat sat", "the cat ran away") == pytest.approx(4 / 7)


def test_bleu_extremes() -> None:
    assert T.bleu_pair("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert T.bleu_pair("alpha beta gamma delta", "one two three four") == pytest.approx(0.0)


def test_multi_reference_best_and_mean() -> None:
    cfg = T.TextMetricsConfig(metrics=["rouge1", "bleu", "meteor"])
    scores = T.score_texts(["the cat sat"], [["the cat sat", "a dog ran"]], cfg)
    assert scores.best["rouge1"][0] == pytest.approx(1.0)
    assert scores.mean["rouge1"][0] == pytest.approx(0.5)
    for name in cfg.metrics:
        assert scores.best[name][0] >= scores.mean[name][0]
    summary = scores.summary()
    assert summary["rouge1"].n == 1 and summary["rouge1"].extra["mean_over_references"] == pytest.approx(0.5)


def test_summary_skips_rows_without_text() -> None:
    scores = T.score_texts(["a b"], ["a b"], T.TextMetricsConfig(metrics=["rouge1"])).expand(np.array([1]), 3)
    result = scores.summary(np.array([0, 1, 2]))["rouge1"]
    assert result.n == 1 and result.value == pytest.approx(1.0)


@pytest.fixture(scope="module")
def minilm() -> T.BertScoreModel:
    return T.BertScoreModel()


def test_bertscore_local_minilm(minilm: T.BertScoreModel) -> None:
    assert "MiniLM" in minilm.name
    f1 = minilm.f1(
        ["the cream made my skin soft", "the cream made my skin soft"],
        ["the cream made my skin soft", "the train left the station late"],
    )
    assert f1[0] == pytest.approx(1.0, abs=1e-4)
    assert f1[1] < f1[0]
    scores = T.score_texts(
        ["a nice lotion"], [["a nice lotion", "tax law"]], T.TextMetricsConfig(metrics=["bertscore"]), minilm
    )
    assert scores.models["bertscore"] == minilm.name
    assert scores.best["bertscore"][0] > scores.mean["bertscore"][0]
