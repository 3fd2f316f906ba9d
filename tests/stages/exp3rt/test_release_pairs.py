"""The released EXP3RT IMDB pairs as stage inputs: the student prompt is the prompt scored, and candidate pairs get
the release's persona and printed averages (rating bias)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.llm.testing import ScriptedLLM, uniform
from reasonrec.stages.exp3rt.predict import Exp3rtPredictConfig, exp3rt_predict_ratings, rating_prompts_json
from reasonrec.stages.exp3rt.profiles import pair_context, with_release_bias


@pytest.fixture(scope="module")
def imdb(shared_data):
    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    require_data(shared_data, "exp3rt-imdb")
    ds = load_dataset("exp3rt-imdb", shared_data)
    return ds, imdb_release_context(ds, "helpful")


def test_exp3rt_student_is_trained_on_the_prompt_it_is_scored_with(imdb):
    _, context = imdb
    rows = context.head(3)
    cfg = Exp3rtPredictConfig(max_prompt_tokens=1000, show_progress=False)
    llm = ScriptedLLM(text="It fits the user's taste.", probs=uniform)
    exp3rt_predict_ratings(rows, llm, cfg)
    sent = [[{"role": m.role, "content": m.content} for m in r.messages] for r in llm.generate_requests]
    trained = [json.loads(p) for p in rating_prompts_json(rows, cfg, llm)]
    assert sorted(map(json.dumps, sent)) == sorted(map(json.dumps, trained))  # the runner may reorder requests
    assert len(set(map(json.dumps, trained))) == 3
    assert "Average" in trained[0][-1]["content"] or "average" in trained[0][-1]["content"]  # rating bias shown


def test_rerank_candidates_get_the_release_persona_and_averages(imdb):
    ds, context = imdb
    user = context["user_id"][0]
    items = context.filter(pl.col("user_id") != user)["item_id"].unique().head(3)
    pairs = pl.DataFrame({"user_id": [user] * items.len(), "item_id": items})
    bare = pair_context(pairs, ds.artefacts["user_profiles"], ds.artefacts["item_profiles"], ds.items, None)
    assert bare["user_avg"].is_null().all()  # no training ratings: no bias without the release
    filled = with_release_bias(bare, context)
    release_user = context.filter(pl.col("user_id") == user).row(0, named=True)
    assert filled["user_avg"].to_list() == [release_user["user_avg"]] * items.len()
    assert filled["user_profile"].to_list() == [release_user["user_profile"]] * items.len()
    assert filled["item_avg"].is_not_null().all() and filled.columns == bare.columns
