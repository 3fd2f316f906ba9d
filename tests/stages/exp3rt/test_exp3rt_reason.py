"""Teacher reasoning: rating scale mapping, post-checks, M-sample control flow (fake LLM), real model on the
released IMDB profiles."""

from __future__ import annotations

import polars as pl
import pytest
from datafiles import require_data
from exp3rt_fixtures import exp3rt_llm, real_cached_llm

from reasonrec.stages.exp3rt.profiles import CONTEXT_SCHEMA
from reasonrec.stages.exp3rt.reason import (
    RatingScale,
    TeacherConfig,
    bad_opener,
    clean_reasoning,
    exp3rt_teacher_reasoning,
    mentions_rating,
    post_check_counts,
)


def test_rating_scale_imdb_maps_to_single_digits() -> None:
    imdb = RatingScale(rating_min=1, rating_max=10)
    assert imdb.resolved_offset() == 1 and imdb.choices() == tuple(str(d) for d in range(10))
    assert imdb.to_prompt(10) == 9 and imdb.to_data(0) == 1 and imdb.data_label("9") == "10"
    beauty = RatingScale(rating_min=1, rating_max=5)
    assert beauty.resolved_offset() == 0 and beauty.choices() == ("1", "2", "3", "4", "5")
    raw = RatingScale(rating_min=1, rating_max=10, offset=0)
    assert raw.choices()[-1] == "10"  # a two-token choice on SmolLM2: llm.score sums its tokens


@pytest.mark.parametrize(("text", "flag"), [
    ("Based on the profile, the user will enjoy it.", True),
    ("Reasoning: **I would** recommend this film.", True),
    ('"Based on" nothing', True),
    ("The user loves tense thrillers, so this fits.", False),
    ("I wouldn't call it... the user likes it.", False),
])
def test_bad_opener(text: str, flag: bool) -> None:
    assert bad_opener(text) is flag


@pytest.mark.parametrize(("text", "rating", "flag"), [
    ("The user would give it 8.", 8.0, True),
    ("A solid 8/10 experience for the user.", 7.0, True),
    ("The user rated similar films highly.", 3.0, False),
    ("This 1980 classic suits the user.", 8.0, False),
    ("Released in 1998, it has 2 leads.", 8.0, False),
    ("It deserves a rating of 9 from the user.", 4.0, True),
    ("Among the top 10 westerns.", 10.0, True),  # the true rating appears: flagged (conservative)
])
def test_mentions_rating(text: str, rating: float, flag: bool) -> None:
    assert mentions_rating(text, rating) is flag


def test_clean_reasoning_strips_label_and_rating_tail() -> None:
    assert clean_reasoning("Reasoning: The user likes it.\n\nPredicted User Rating: 7") == "The user likes it."
    assert clean_reasoning("**Reasoning:** Fine.") == "Fine."


def context_rows() -> pl.DataFrame:
    return pl.DataFrame([
        {"user_id": "u1", "item_id": "i1", "rating": 9.0, "user_profile": "[Like]\n- thrillers",
         "item_profile": "[Like]\n- suspense", "item_description": "Title: X", "user_avg": 7.0, "item_avg": 8.0},
        {"user_id": "u2", "item_id": "i2", "rating": 2.0, "user_profile": "[Like]\n- comedy",
         "item_profile": None, "item_description": None, "user_avg": None, "item_avg": None},
        {"user_id": "u3", "item_id": "i3", "rating": None, "user_profile": "p", "item_profile": "q",
         "item_description": "d", "user_avg": None, "item_avg": None},
    ], schema=CONTEXT_SCHEMA)


def test_teacher_control_flow_m_samples_and_flags() -> None:
    def gen(request) -> str:
        if "thrillers" in request.messages[-1].content:
            return "Based on the profile the user will love the suspense." if request.sample_index == 0 \
                else "Reasoning: The suspense suits the user's taste for thrillers."
        return "The user would give it 2 at most."
    fake = exp3rt_llm(gen=gen)
    cfg = TeacherConfig(n_samples=2, temperature=0.7, show_progress=False)
    out = exp3rt_teacher_reasoning(context_rows(), fake, cfg)
    assert out.height == 4  # u3 has no rating: skipped
    assert sorted(out["sample_index"].to_list()) == [0, 0, 1, 1]
    assert all(r.params.temperature == 0.7 for r in fake.generate_requests)
    u1 = out.filter(pl.col("user_id") == "u1").sort("sample_index")
    assert u1["bad_opener"].to_list() == [True, False] and u1["post_check_ok"].to_list() == [False, True]
    assert u1["reasoning"][1] == "The suspense suits the user's taste for thrillers."
    assert u1["sft_target"][1].endswith("Predicted User Rating: 8")  # 9 on 1–10 → 8 on 0–9
    counts = post_check_counts(out)
    assert counts == {"rows": 4, "bad_opener": 1, "mentions_rating": 2, "post_check_ok": 1, "failed_calls": 0}
    prompt = next(r.messages[-1].content for r in fake.generate_requests if "thrillers" in r.messages[-1].content)
    assert "<User Rating>\n9" in prompt and "1–10" in prompt


@pytest.mark.slow
def test_real_model_teacher_on_released_imdb_profiles(shared_data, tmp_path) -> None:
    """2 users × 2 items of the released IMDB test pairs, M=2, 48 tokens: mechanics + cache hits on rerun."""

    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    require_data(shared_data, "exp3rt-imdb", "rating_bias", "test_helpful.json")
    ctx = imdb_release_context(load_dataset("exp3rt-imdb", data_root=shared_data))
    ctx = ctx.unique(subset=["user_id"], keep="first", maintain_order=True).unique(
        subset=["item_id"], keep="first", maintain_order=True).head(2)
    llm = real_cached_llm(tmp_path / "cache.sqlite")
    cfg = TeacherConfig(n_samples=2, temperature=0.8, max_new_tokens=48, max_prompt_tokens=1500,
                        show_progress=False)
    first, again = [], []
    out = exp3rt_teacher_reasoning(ctx, llm, cfg, summaries=first)
    out2 = exp3rt_teacher_reasoning(ctx, llm, cfg, summaries=again)
    assert out.height == 4 and out["error"].is_null().all()
    assert out["user_id"].n_unique() == 2 and out["item_id"].n_unique() == 2
    assert (out["reasoning"].str.len_chars() > 0).all() and out["completion_tokens"].max() <= 48
    assert first[0].cache_hits == 0 and again[0].cache_hits == again[0].prompts == 4
    assert out2["text"].to_list() == out["text"].to_list()
    counts = post_check_counts(out)
    assert counts["rows"] == 4 and counts["post_check_ok"] <= 4
