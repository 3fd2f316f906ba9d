"""LLM-as-judge: the real embedded model scores explanations (mechanism only), judges average, agreement maths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reasonrec.errors import DataError
from reasonrec.eval.judge import (
    MECHANISM_NOTE,
    Judge,
    JudgeConfig,
    JudgeItem,
    agreement,
    judge_explanations,
    load_human_ratings,
    summary,
)
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.prompts import ItemView
from reasonrec.stages.common.evidence import Evidence, EvidenceItem, RatingStats, similarity_features


def _evidence() -> Evidence:
    history = (EvidenceItem("h", ItemView("Mint Floss"), 2.0, False, 0, 0.3),)
    return Evidence("u", "t", 2, ItemView("Lavender Soap Bar", description="A soap with a rich lather."), history,
                    RatingStats(1, 2.0, 0.0), RatingStats(), similarity_features(np.array([0.3]), [False], False, 0.95))


@pytest.mark.model
def test_embedded_judges_score_and_average(tmp_path: Path) -> None:
    item = JudgeItem("e1", "teacher", "The user will like the soap: it has a rich lather.", 1, _evidence())
    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), batch_size=4, n_threads=1))
    judges = [Judge("a", llm, embedded=True), Judge("b", llm, embedded=True)]
    scores = judge_explanations([item], judges, JudgeConfig(criteria=["accuracy"], show_progress=False))
    assert scores.height == 2 and scores["error"].is_null().all()
    assert scores["score"].is_between(1, 5).all()
    assert all(abs(sum(json.loads(p).values()) - 1) < 1e-6 for p in scores["probs"])
    out = summary(scores, judges)
    assert out["mechanism_only"] == MECHANISM_NOTE
    assert set(out["methods"]["teacher"]) == {"accuracy"}
    assert out["methods"]["teacher"]["accuracy"]["n"] == 1  # two judges averaged into one score


def test_unknown_criterion_is_an_error() -> None:
    from reasonrec.eval.judge import judge_requests

    with pytest.raises(DataError, match="unknown judge criteria"):
        judge_requests([], JudgeConfig(criteria=["wit"]))


def test_agreement_with_human_ratings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    human_scores = rng.integers(1, 6, size=30).astype(float)
    judged = pl.DataFrame({
        "explanation_id": [f"e{i}" for i in range(30)] * 2, "method": ["m"] * 60, "criterion": ["accuracy"] * 60,
        "judge": ["a"] * 30 + ["b"] * 30,
        "score": np.concatenate([human_scores + 0.2, human_scores - 0.2]).tolist(),
    })
    path = tmp_path / "human.jsonl"
    path.write_text("".join(json.dumps({"explanation_id": f"e{i}", "accuracy": int(s)}) + "\n"
                            for i, s in enumerate(human_scores)), encoding="utf-8")
    result = agreement(judged, load_human_ratings(str(path)))["accuracy"]
    assert result["pearson"]["value"] == pytest.approx(1.0)
    assert result["spearman"]["value"] == pytest.approx(1.0)
    assert result["kendall"]["value"] == pytest.approx(1.0)
    assert result["weighted_kappa"]["value"] == pytest.approx(1.0) and result["pearson"]["n"] == 30


def test_human_ratings_out_of_range_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "human.csv"
    path.write_text("explanation_id,accuracy\ne1,7\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"human\.csv.*accuracy"):
        load_human_ratings(str(path))
