"""`Recommender`: candidates never repeat what the user saw up to the cut-off, cold users get popular items,
the student's P(like) orders the list and its explanation comes with it (real embedded model)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from own_data import build_shop

from reasonrec.bundle import BundleConfig, BundleSources, load_bundle, write_bundle
from reasonrec.errors import DataError
from reasonrec.llm.base import ScoreRequest
from reasonrec.llm.testing import ScriptedLLM, prompt_text
from reasonrec.recommend import RECOMMENDATION_SCHEMA, RecommendConfig, Recommender, as_records, render_table


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_shop(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def cf_recommender(shop, tmp_path_factory) -> Recommender:
    out = write_bundle(BundleSources(shop["prepared"], shop["cf"]), BundleConfig(scorer="cf", student=False),
                       tmp_path_factory.mktemp("b") / "bundle")
    return Recommender(load_bundle(out))


def hashed_probs(request: ScoreRequest) -> dict[str, float]:
    """A different, fixed P(first choice) per prompt (so per candidate), from the prompt's hash."""
    p = 0.05 + 0.9 * int(hashlib.sha256(prompt_text(request).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    first, second = request.choices
    return {first: p, second: 1.0 - p}


def _seen(recommender: Recommender, user: str, cutoff: int | None = None) -> set[str]:
    return set(recommender.history(user, cutoff).item_ids)


def test_candidates_exclude_everything_seen_up_to_the_cutoff(cf_recommender: Recommender) -> None:
    users = cf_recommender.users()[:12]
    recs = cf_recommender.recommend(users, RecommendConfig(n=5, n_candidates=10))
    assert recs.schema == pl.Schema(RECOMMENDATION_SCHEMA)
    assert recs.group_by("user_id").len()["len"].to_list() == [5] * 12
    for user, item in recs.select("user_id", "item_id").iter_rows():
        assert item not in _seen(cf_recommender, user)  # valid and test items included, not only training ones
    assert recs["title"].null_count() == 0 and recs["generator"].unique().to_list() == ["bpr"]
    assert recs["rank"].to_list()[:5] == [1, 2, 3, 4, 5]
    # As of an earlier cut-off, items the user only saw later may come back, and history is shorter.
    user = users[0]
    stamps = cf_recommender.history(user).timestamps
    early = cf_recommender.recommend([user], RecommendConfig(n=24, n_candidates=24, cutoff=stamps[3]))
    assert set(early["item_id"]) & (_seen(cf_recommender, user) - _seen(cf_recommender, user, stamps[3]))
    assert not set(early["item_id"]) & _seen(cf_recommender, user, stamps[3])


def test_cold_users_get_popular_unseen_items_and_unknown_users_an_error(cf_recommender: Recommender) -> None:
    bundle = cf_recommender.bundle
    cold_user = bundle.cf.user_ids[0]
    bundle.cf.user_ids[0] = "someone-else"  # the generator no longer knows this user
    bundle.cf.__post_init__()
    try:
        recs = cf_recommender.recommend([cold_user], RecommendConfig(n=3))
    finally:
        bundle.cf.user_ids[0] = cold_user
        bundle.cf.__post_init__()
    assert recs["generator"].to_list() == ["popular"] * 3
    assert not set(recs["item_id"]) & _seen(cf_recommender, cold_user)
    with pytest.raises(DataError, match="unknown user '../etc/passwd'"):
        cf_recommender.recommend(["../etc/passwd"])


@pytest.mark.model
def test_student_scores_order_the_list_and_explain_it(shop, tmp_path) -> None:
    from reasonrec.llm.registry import LLMConfig, build_llm

    llm_config = LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), batch_size=4, n_threads=1)
    config = BundleConfig(scorer="llm", domain="beauty", explanation_tokens=24, llm=llm_config)
    bundle = load_bundle(write_bundle(BundleSources(shop["prepared"], shop["cf"]), config, tmp_path / "bundle"))
    llm = build_llm(bundle.llm_config())
    bundle.check_model(llm.identity.model_hash)
    recommender = Recommender(bundle, llm)
    user = recommender.users()[0]
    recs = recommender.recommend([user], RecommendConfig(n=3, n_candidates=6, explain=True, explain_top=2))
    assert recs.height == 3 and recs["error"].null_count() == 3
    p = recs["p_like"].to_list()
    assert all(0.0 <= x <= 1.0 for x in p) and p == sorted(p, reverse=True)
    assert recs["explanation"][0] and recs["explanation"][1] and recs["explanation"][2] is None
    assert recs["evidence"].null_count() == 1 and recs["grounding"].null_count() == 1  # only explained rows
    records = as_records(recs)
    history = set(recommender.history(user).item_ids)
    for record in records[:2]:
        verdict = "will likely enjoy" if record["p_like"] >= 0.5 else "will likely not enjoy"
        assert verdict in record["explanation"]  # the explanation argues for the predicted label
        assert {e["item_id"] for e in record["evidence"]["similar"]} <= history  # evidence = the user's own rows
        marks = record["grounding"]
        assert marks["claims"] == len(marks["sentences"]) >= 1 and marks["label_consistency"] == 1.0
    render_table(recs)

    free = Recommender(load_bundle(write_bundle(
        BundleSources(shop["prepared"], shop["cf"]),
        config.model_copy(update={"explain": config.explain.model_copy(update={"mode": "free"})}),
        tmp_path / "free")), llm)
    words = free.recommend([user], RecommendConfig(n=3, n_candidates=6, explain=True, explain_top=1))
    assert words["explanation"][0] and words["evidence"].null_count() == 3 and words["grounding"].null_count() == 3


def test_the_hybrid_scorer_blends_p_like_with_the_generator_rank(cf_recommender: Recommender) -> None:
    """Control flow (scripted P(like)): weight 1 is the student's order, weight 0 the generator's, and in between
    each score is exactly the stated blend."""
    scripted = Recommender(cf_recommender.bundle, ScriptedLLM(probs=hashed_probs))
    assert scripted.scorers() == ["llm", "cf", "hybrid"] and cf_recommender.scorers() == ["cf"]
    users = scripted.users()[:3]

    def recs(weight: float) -> pl.DataFrame:
        return scripted.recommend(users, RecommendConfig(n=5, n_candidates=8, scorer="hybrid", hybrid_weight=weight))

    student, generator, blend = recs(1.0), recs(0.0), recs(0.5)
    llm_only = scripted.recommend(users, RecommendConfig(n=5, n_candidates=8, scorer="llm"))
    assert student.select("user_id", "item_id").equals(llm_only.select("user_id", "item_id"))
    assert student["score"].to_list() == student["p_like"].to_list()
    assert generator["rank"].to_list() == generator["generator_rank"].to_list()
    expected = 0.5 * blend["p_like"] + 0.5 * (1.0 - (blend["generator_rank"] - 1) / 8)
    assert (blend["score"] - expected).abs().max() < 1e-12
    assert set(blend["scorer"]) == {"hybrid"}
