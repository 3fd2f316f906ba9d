"""Preference extraction: parser properties (hypothesis), control flow (fake LLM), real model on real reviews."""

from __future__ import annotations

import polars as pl
import pytest
from exp3rt_fixtures import exp3rt_llm, real_cached_llm
from hypothesis import assume, given
from hypothesis import strategies as st

from reasonrec.stages.exp3rt.extract import (
    ExtractConfig,
    extract_preferences,
    parse_preferences,
    render_preferences,
    reviews_for_profiles,
)

ITEM_TEXT = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" ,.'!?()&%-"),
    min_size=1, max_size=40,
).map(str.strip)


def _plain_item(text: str) -> bool:
    from reasonrec.stages.exp3rt import extract

    return (bool(text) and not extract._BULLET.match(text) and not extract._NONE.match(text)
            and extract._CONTENT.search(text) is not None)


@given(st.lists(ITEM_TEXT, max_size=6), st.lists(ITEM_TEXT, max_size=6))
def test_render_parse_round_trip(likes: list[str], dislikes: list[str]) -> None:
    assume(all(_plain_item(t) for t in likes + dislikes))
    got_likes, got_dislikes, ok = parse_preferences(render_preferences(likes, dislikes))
    assert ok
    assert got_likes == likes and got_dislikes == dislikes


def test_none_is_an_empty_list_and_markdown_case_tolerated() -> None:
    assert render_preferences([], []) == "[Like]\nNone.\n[Dislike]\nNone."
    assert parse_preferences("[Like]\nNone.\n[Dislike]\nNone.") == ([], [], True)
    text = "**[like]**\n* Smells **great**\n1. Long lasting\n\n## Dislikes:\n- none\n"
    assert parse_preferences(text) == (["Smells great", "Long lasting"], [], True)
    inline = "Likes: soft texture\nDislike: the price"
    assert parse_preferences(inline) == (["soft texture"], ["the price"], True)
    # placeholders echoed from the prompt are not preferences
    assert parse_preferences("[Like]\n- ...\n[Dislike]\n- ...") == ([], [], True)


def test_unparseable_is_a_value_not_a_guess() -> None:
    assert parse_preferences("I loved it, five stars.") == ([], [], False)
    assert parse_preferences("[Like]\n- colour") == (["colour"], [], False)  # no [Dislike] tag
    likes, _, ok = parse_preferences("[Like]\n- a\n[Dislike]\n- b\n[Like]\n- c")  # repeated tag: ambiguous
    assert likes == ["a"] and not ok
    assert parse_preferences(None) == ([], [], False)


def test_control_flow_skips_empty_reviews_and_keeps_errors() -> None:
    inter = pl.DataFrame({
        "user_id": ["u1", "u2", "u3", "u4"], "item_id": ["i1", "i1", "i2", "i2"],
        "rating": [5.0, 1.0, 4.0, 3.0], "timestamp": [1, 2, 3, 4],
        "review": ["Lovely scent.", "  ", "[error] broken", None],
    })
    items = pl.DataFrame({"item_id": ["i1", "i2"], "title": ["Rose Soap", None]})
    fake = exp3rt_llm()
    skipped: dict[str, int] = {}
    out = extract_preferences(inter, fake, ExtractConfig(show_progress=False), items=items, skipped=skipped)
    assert skipped == {"no_review": 2}
    assert out["user_id"].to_list() == ["u1", "u3"]
    assert out["likes"].to_list() == [["scent"], []]
    assert out["parse_ok"].to_list() == [True, False]
    assert out["error"].to_list()[0] is None and out["error"].to_list()[1] == "scripted failure"
    sent = {r.messages[-1].content for r in fake.generate_requests}
    assert any('of "Rose Soap"' in t and "Lovely scent." in t for t in sent)
    assert len(fake.generate_requests) >= 2


@pytest.mark.slow
def test_real_model_on_real_beauty_reviews(shared_data, tmp_path) -> None:
    """2 real 2018 All_Beauty reviews through the embedded model: mechanics and cache hits on rerun."""
    from datafiles import require_data

    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    ds = load_dataset("amazon-beauty-raw", data_root=shared_data)
    reviews = ds.interactions.filter(pl.col("review").str.len_chars() > 80).head(2)
    llm = real_cached_llm(tmp_path / "cache.sqlite")
    cfg = ExtractConfig(max_new_tokens=48, show_progress=False)
    first, again = [], []
    out1 = extract_preferences(reviews, llm, cfg, items=ds.items, summaries=first)
    out2 = extract_preferences(reviews, llm, cfg, items=ds.items, summaries=again)
    assert out1.height == 2 and out1["error"].is_null().all()
    assert (out1["raw"].str.len_chars() > 0).all()
    assert out1["completion_tokens"].max() <= 48
    assert first[0].cache_hits == 0 and again[0].cache_hits == again[0].prompts == 2
    assert out2.select("raw", "likes", "dislikes", "parse_ok").equals(out1.select("raw", "likes", "dislikes",
                                                                                   "parse_ok"))
    # whatever the small model wrote, parse_ok agrees with re-parsing the raw text
    assert [parse_preferences(t)[2] for t in out1["raw"]] == out1["parse_ok"].to_list()


def test_reviews_for_profiles_bounds_each_user_and_item_and_skips_empty_reviews() -> None:
    train = pl.DataFrame({
        "user_id": ["a", "a", "a", "b", "c", "d"],
        "item_id": ["x", "y", "z", "x", "x", "w"],
        "timestamp": [1, 2, 3, 4, 5, 6],
        "review": ["a-x", "a-y", "a-z", "b-x", None, "d-w"],
        "helpful_votes": [0, 0, 0, 9, 50, 0],
    })
    out = reviews_for_profiles(train, ["a"], ["x"], per_user=2, per_item=1)
    # a's two most recent reviews (z, y) and x's most helpful review with text (b's; c's has none)
    assert out["review"].to_list() == ["a-y", "a-z", "b-x"]
    everything = reviews_for_profiles(train, ["a", "d"], ["x"], per_user=None, per_item=None)
    assert everything["review"].to_list() == ["a-x", "a-y", "a-z", "b-x", "d-w"]
    assert reviews_for_profiles(train, [], [], per_user=1, per_item=1).height == 0
