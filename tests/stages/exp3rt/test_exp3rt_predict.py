"""Rating prediction: E[rating] mapping, bias/reasoning flags, one scoring pass after the generated reasoning
(fake LLM, control flow only), and the real model on released IMDB pairs incl. the two-token "10" choice."""

from __future__ import annotations

import json

import polars as pl
import pytest
from datafiles import require_data
from exp3rt_fixtures import exp3rt_llm, real_cached_llm

from reasonrec.predictions import PREDICTIONS_SCHEMA
from reasonrec.stages.exp3rt.predict import (
    RATING_LINE,
    Exp3rtPredictConfig,
    exp3rt_predict_ratings,
    expected_rating,
)
from reasonrec.stages.exp3rt.profiles import CONTEXT_SCHEMA
from reasonrec.stages.exp3rt.reason import RatingScale


def test_expected_rating_maps_prompt_scale_back() -> None:
    imdb = RatingScale()
    assert expected_rating({"0": 0.5, "9": 0.5}, imdb) == pytest.approx(5.5)  # (0+9)/2 + 1
    assert expected_rating({str(d): 0.1 for d in range(10)}, imdb) == pytest.approx(5.5)
    assert expected_rating({"1": 0.25, "5": 0.75}, RatingScale(rating_min=1, rating_max=5)) == pytest.approx(4.0)


def context_rows() -> pl.DataFrame:
    return pl.DataFrame([
        {"user_id": "u1", "item_id": "i1", "rating": 9.0, "user_profile": "[Like]\n- thrillers",
         "item_profile": "[Like]\n- suspense", "item_description": "Title: X", "user_avg": 7.0, "item_avg": 8.5},
        {"user_id": "u2", "item_id": "i2", "rating": 2.0, "user_profile": "[Like]\n- comedy [error]",
         "item_profile": None, "item_description": None, "user_avg": None, "item_avg": None},
    ], schema=CONTEXT_SCHEMA)


def peaked_at_7(request) -> dict[str, float]:
    return {c: (0.91 if c == "7" else 0.01) for c in request.choices}


def test_reasoning_then_one_scoring_pass() -> None:
    fake = exp3rt_llm(gen=lambda r: " The suspense suits the user.\nPredicted User Rating: 3",
                                 probs=peaked_at_7)
    out = exp3rt_predict_ratings(context_rows(), fake, Exp3rtPredictConfig(show_progress=False))
    assert list(out.columns[: len(PREDICTIONS_SCHEMA)]) == list(PREDICTIONS_SCHEMA)
    assert len(fake.score_requests) == 1  # the failed generation (u2) is not scored
    score = fake.score_requests[0]
    assert score.assistant_prefix == f"Reasoning: The suspense suits the user.\n\n{RATING_LINE}"
    assert score.choices == tuple(str(d) for d in range(10))
    assert all(r.assistant_prefix == "Reasoning: " for r in fake.generate_requests)
    assert all("Predicted User Rating" in r.params.stop for r in fake.generate_requests)
    u1 = out.row(0, named=True)
    assert u1["pred_rating"] == pytest.approx(8.0 * 0.91 + sum(d + 1 for d in range(10) if d != 7) * 0.01)
    assert u1["score"] == u1["pred_rating"] and u1["parse_ok"] and u1["label"] is None
    probs = json.loads(u1["probs"])
    assert set(probs) == {str(r) for r in range(1, 11)} and probs["8"] == pytest.approx(0.91)
    assert u1["reasoning"] == "The suspense suits the user."
    u2 = out.row(1, named=True)
    assert u2["pred_rating"] is None and not u2["parse_ok"] and u2["error"] == "scripted failure"
    # bias on the prompt scale (7.0 → 6.0, 8.5 → 7.5) and the 0–9 range in the system prompt
    gen_prompt = next(r for r in fake.generate_requests if "thrillers" in r.messages[-1].content)
    assert "<User Average Rating>\n6.0" in gen_prompt.messages[-1].content
    assert "<Item Average Rating>\n7.5" in gen_prompt.messages[-1].content
    assert "from 0 to 9" in gen_prompt.messages[0].content


def test_no_reasoning_no_bias_scores_directly_with_labels() -> None:
    ctx = context_rows().head(1)
    fake = exp3rt_llm(probs=peaked_at_7)
    cfg = Exp3rtPredictConfig(show_progress=False, reasoning=False, include_bias=False, like_threshold=7.0)
    out = exp3rt_predict_ratings(ctx, fake, cfg)
    assert not fake.generate_requests and fake.score_requests[0].assistant_prefix == RATING_LINE
    text = fake.score_requests[0].messages[-1].content + fake.score_requests[0].messages[0].content
    assert "Average Rating" not in text and "Reasoning" not in text
    row = out.row(0, named=True)
    assert row["label"] == 1 and row["pred_label"] == 1 and row["parse_ok"] and row["reasoning"] is None


@pytest.mark.slow
def test_real_model_predicts_on_released_imdb_pairs(shared_data, tmp_path) -> None:
    """2 users × 2 items: reasoning (48 tokens) + one scoring pass; bias off/on; "10" as a 2-token choice."""

    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    require_data(shared_data, "exp3rt-imdb", "rating_bias", "test_helpful.json")
    ctx = imdb_release_context(load_dataset("exp3rt-imdb", data_root=shared_data))
    ctx = ctx.unique(subset=["user_id"], keep="first", maintain_order=True).unique(
        subset=["item_id"], keep="first", maintain_order=True).head(2)
    llm = real_cached_llm(tmp_path / "cache.sqlite")
    cfg = Exp3rtPredictConfig(max_new_tokens=48, max_prompt_tokens=1500, show_progress=False)
    first, again = [], []
    out = exp3rt_predict_ratings(ctx, llm, cfg, summaries=first)
    out2 = exp3rt_predict_ratings(ctx, llm, cfg, summaries=again)
    assert out.height == 2 and out["error"].is_null().all() and out["parse_ok"].all()
    assert out["pred_rating"].is_between(1.0, 10.0).all()
    for p in out["probs"]:
        assert sum(json.loads(p).values()) == pytest.approx(1.0)
    assert [s.cache_hits for s in first] == [0, 0]
    assert all(s.cache_hits == s.prompts == 2 for s in again)
    assert out2["pred_rating"].to_list() == out["pred_rating"].to_list()
    # the no-bias, no-reasoning ablation runs through the same scoring path
    no_bias = exp3rt_predict_ratings(ctx, llm, cfg.model_copy(update={"include_bias": False, "reasoning": False}))
    assert no_bias["pred_rating"].is_between(1.0, 10.0).all()
    # raw 1–10 digits: "10" is two tokens for SmolLM2 and is scored by its summed log-probs
    raw = cfg.model_copy(update={"reasoning": False, "scale": RatingScale(rating_min=1, rating_max=10, offset=0)})
    raw_out = exp3rt_predict_ratings(ctx, llm, raw)
    probs = json.loads(raw_out["probs"][0])
    assert "10" in probs and 0.0 < probs["10"] < 1.0 and sum(probs.values()) == pytest.approx(1.0)
    assert raw_out["pred_rating"].is_between(1.0, 10.0).all()
