"""Every registered template renders with real rows, leaves nothing unfilled, and trims history oldest-first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stages"))
from stage_fixtures import load_beauty

from reasonrec.prompts import DOMAINS, TEMPLATES, PromptRenderer
from reasonrec.stages.common.base import token_counter
from reasonrec.stages.common.context import ItemCatalog, text_map
from reasonrec.stages.common.evidence import RatingStats

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def beauty(shared_data):
    return load_beauty(shared_data)


@pytest.fixture(scope="module")
def imdb(shared_data):
    from reasonrec.data.loaders import load_dataset

    return load_dataset("exp3rt-imdb", shared_data)


def _beauty_contexts(ds) -> dict[str, dict]:
    catalog = ItemCatalog.from_tables(ds.items, ds.artefacts["item_descriptions"])
    profiles = text_map(ds.artefacts["user_profiles"], "user_id")
    row = next(r for r in ds.splits["release_windows_test"].iter_rows(named=True) if r["user_id"] in profiles)
    history = catalog.history(row["history_item_ids"], row["history_labels"], row["history_ratings"])
    reviewed = ds.interactions.filter(ds.interactions["review"].is_not_null()).head(3)
    history_rv = [
        catalog.entry(i, liked=r > 3, rating=r, review=t)
        for i, r, t in reviewed.select("item_id", "rating", "review").iter_rows()
    ]
    target = catalog.view(row["item_id"])
    d = DOMAINS["beauty"]
    rs = {"domain": d, "history": history_rv, "target": target, "scale_min": 1, "scale_max": 5}
    return {
        "reasoningrec/item_description": {"domain": d, "item": target, "n_words": 25,
                                          "reviews": [{"rating": 5.0, "text": "Lovely smell."}]},
        "reasoningrec/item_description_metadata": {"domain": d, "item": target, "n_words": 25},
        "reasoningrec/user_profile": {"domain": d, "history": history, "q_words": 100},
        "reasoningrec/teacher_reasoning": {"domain": d, "profile": profiles[row["user_id"]], "history": history,
                                           "target": target, "include_descriptions": True, "liked": True},
        "reasoningrec/predict": {"domain": d, "profile": profiles[row["user_id"]], "history": history,
                                 "target": target, "include_descriptions": True, "reasoning": True},
        "tallrec/predict": {"domain": d, "history": history, "target": target},
        "recsaver/predict": {**rs, "example": None, "include_rating": True, "include_review": True,
                             "include_description": True, "reasoning": True},
        "recsaver/explain": {**rs, "rating": 4.0},
        "recsaver/verify": {**rs, "explanation": "The user likes floral scents."},
        "judge/score": {"domain": d, "history": [{"title": h.title, "liked": h.liked} for h in history],
                        "target": {"title": target.title, "description": target.description}, "prediction": 1,
                        "explanation": "The user will like it.", "criterion": "accuracy", "definition": "True?"},
        "grounding/verify_claim": {"domain": d, "target": target, "claim": "The user liked the soap.",
                                   "history": [{"title": h.title, "liked": h.liked, "rating": h.rating,
                                                "description": h.description} for h in history]},
        "grounding/explain": {"domain": d, "target": target, "description": target.description,
                              "similar": [{"title": h.title, "rating": h.rating, "liked": h.liked} for h in history],
                              "user": RatingStats(3, 4.0, 0.67), "item": RatingStats(), "cf_score": 0.71,
                              "prediction": 1, "scale_max": 5},
    }


def _imdb_contexts(ds) -> dict[str, dict]:
    pair = ds.artefacts["rating_pairs_helpful"].row(0, named=True)
    # The IMDB release ships no raw review texts; a released synopsis stands in as the text to extract from.
    title = ds.items.filter(ds.items["item_id"] == pair["item_id"])["title"].to_list()
    d = DOMAINS["movies"]
    return {
        "exp3rt/extract_preferences": {"domain": d, "review": pair["item_synopsis"],
                                       "item_title": title[0] if title else None},
        "exp3rt/user_profile": {"domain": d, "preferences": ["[Like] - pacing", "[Dislike] - gore"], "n_points": 5},
        "exp3rt/item_profile": {"domain": d, "item_title": "Heat", "preferences": ["[Like] - score"], "n_points": 5},
        "exp3rt/teacher_reasoning": {"domain": d, "rating": pair["score"], "user_profile": pair["user_persona"],
                                     "item_description": pair["item_description"],
                                     "item_profile": pair["item_synopsis"], "recommend_from": 7,
                                     "scale_min": 1, "scale_max": 10},
        "exp3rt/predict": {"domain": d, "reasoning": True, "include_bias": True, "user_avg": 7.2, "item_avg": 6.8,
                           "user_profile": pair["user_persona"], "item_description": pair["item_description"],
                           "item_profile": pair["item_synopsis"], "scale_min": 1, "scale_max": 10},
    }


def test_every_template_renders_filled(beauty, imdb) -> None:
    contexts = {**_beauty_contexts(beauty), **_imdb_contexts(imdb)}
    assert set(contexts) == set(TEMPLATES), f"templates without a test context: {set(TEMPLATES) - set(contexts)}"
    renderer = PromptRenderer()
    for name, ctx in contexts.items():
        messages = renderer.render(name, **ctx)
        assert [m.role for m in messages] == ["system", "user"], name
        for m in messages:
            assert "{{" not in m.content and "{%" not in m.content and "Undefined" not in m.content, name
            assert m.content.strip(), name


def test_fitted_history_trims_oldest_and_keeps_target(beauty, embedded_hf_backend) -> None:
    ctx = _beauty_contexts(beauty)["reasoningrec/predict"]
    catalog = ItemCatalog.from_tables(beauty.items, beauty.artefacts["item_descriptions"])
    long_ids = beauty.items["item_id"].to_list()[:40]
    history = catalog.history(long_ids, [1] * len(long_ids))
    ctx = {**ctx, "history": history}
    count = token_counter(embedded_hf_backend)
    messages, dropped = PromptRenderer().render_fitted("reasoningrec/predict", ctx, count, 1024)
    assert count(messages) <= 1024 and dropped > 0
    text = messages[-1].content
    kept = history[dropped:]
    # Entries are numbered oldest first: the survivors are exactly history[dropped:], in order.
    assert f"1. Liked: {kept[0].title}" in text
    assert f"{len(kept)}. Liked: {kept[-1].title}" in text and f"{len(kept) + 1}. Liked:" not in text
    assert f"{len(kept)} most recent" in text
    assert ctx["target"].title in text.split("Target beauty product:")[1]


@pytest.fixture(scope="module")
def embedded_hf_backend():
    from reasonrec.llm.hf import HFBackend

    return HFBackend("embedded", batch_size=1)


FACTS = {"user_n": 4, "user_mean_rating": 4.25, "user_like_share": 0.75, "item_n": 0, "item_mean_rating": None,
         "item_like_share": None, "item_cold": True, "cf_score": 3.94, "cf_code_user": None, "cf_code_item": None,
         "scale_max": 5.0}


@pytest.mark.parametrize("name", ["reasoningrec/predict", "tallrec/predict", "reasoningrec/teacher_reasoning"])
def test_facts_are_a_flag_of_the_student_and_teacher_prompts(beauty, name) -> None:
    ctx = _beauty_contexts(beauty)[name]
    renderer = PromptRenderer()
    plain = renderer.render(name, **ctx)[-1].content
    stated = renderer.render(name, **ctx, facts=FACTS)[-1].content
    assert "Facts computed from ratings before this one" not in plain
    assert "- User: 4 rated beauty products, liked 75%, mean rating 4.2 of 5." in stated
    assert "no earlier ratings (new beauty product)" in stated
    assert "A collaborative-filtering model predicts a rating of 3.9 of 5." in stated
    assert ("Cite these facts" in stated) == (name == "reasoningrec/teacher_reasoning")
    binary = renderer.render(name, **ctx, facts={**FACTS, "scale_max": 1.0, "cf_score": 0.81})[-1].content
    assert "gives a 81% chance of a like" in binary and "mean rating" not in binary
