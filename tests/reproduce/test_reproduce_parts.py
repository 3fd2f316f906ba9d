"""The pieces the EXP3RT / Rec-SAVER reproductions compose: one prompt for training and scoring, candidate pairs
with the release's rating bias, 1-vs-M-path × filter SFT inputs, multi-reference joins, the extra report tables,
and the teacher-rating read-out on the real embedded model."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.llm.testing import ScriptedLLM, uniform
from reasonrec.reproduce import exp3rt as exp3rt_repro
from reasonrec.reproduce import recsaver as recsaver_repro
from reasonrec.reproduce.sections import Section, append_sections

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def scripted() -> ScriptedLLM:
    """Records what `exp3rt_predict_ratings` sends; answers with fixed text and uniform digit probabilities."""
    return ScriptedLLM(text="It fits the user's taste.", probs=uniform)


@pytest.fixture(scope="module")
def imdb(shared_data):
    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    require_data(shared_data, "exp3rt-imdb")
    ds = load_dataset("exp3rt-imdb", shared_data)
    return ds, imdb_release_context(ds, "helpful")


def test_exp3rt_student_is_trained_on_the_prompt_it_is_scored_with(imdb):
    from reasonrec.stages.exp3rt.predict import exp3rt_predict_ratings

    _, context = imdb
    rows = context.head(3)
    cfg = exp3rt_repro._stage_config(exp3rt_repro.resolve("exp3rt-imdb", "quick", ["show_progress=false"]))
    llm = scripted()
    exp3rt_predict_ratings(rows, llm, cfg)
    sent = [[{"role": m.role, "content": m.content} for m in r.messages] for r in llm.generate_requests]
    trained = [json.loads(p) for p in exp3rt_repro.student_prompts(rows, cfg, llm)]
    assert sorted(map(json.dumps, sent)) == sorted(map(json.dumps, trained))  # the runner may reorder requests
    assert len(set(map(json.dumps, trained))) == 3
    assert "Average" in trained[0][-1]["content"] or "average" in trained[0][-1]["content"]  # rating bias shown


def test_rerank_candidates_get_the_release_persona_and_averages(imdb):
    from reasonrec.stages.exp3rt.profiles import pair_context

    ds, context = imdb
    user = context["user_id"][0]
    items = context.filter(pl.col("user_id") != user)["item_id"].unique().head(3)
    pairs = pl.DataFrame({"user_id": [user] * items.len(), "item_id": items})
    bare = pair_context(pairs, ds.artefacts["user_profiles"], ds.artefacts["item_profiles"], ds.items, None)
    assert bare["user_avg"].is_null().all()  # no training ratings: no bias without the release
    filled = exp3rt_repro.with_release_bias(bare, context)
    release_user = context.filter(pl.col("user_id") == user).row(0, named=True)
    assert filled["user_avg"].to_list() == [release_user["user_avg"]] * items.len()
    assert filled["user_profile"].to_list() == [release_user["user_profile"]] * items.len()
    assert filled["item_avg"].is_not_null().all() and filled.columns == bare.columns


def test_recsaver_student_specs_are_validated():
    cfg = recsaver_repro.resolve("amazon-beauty-raw", "quick", ["students=[1:none,M:1off]"])
    assert cfg.students == ["1:none", "M:1off"] and cfg.n_paths == 2 and cfg.lora.max_steps == 1
    assert recsaver_repro.student_name("M:1off", cfg.n_paths) == "recsaver-student-2path-1off"
    full = recsaver_repro.resolve("amazon-beauty-raw", "full")
    assert full.students == recsaver_repro.PAPER_STUDENTS and full.n_paths == 8 and full.per_class_test == 100
    from reasonrec.errors import ConfigError

    with pytest.raises(ConfigError):
        recsaver_repro.resolve("amazon-beauty-raw", "quick", ["students=[3:none]"])
    with pytest.raises(ConfigError):
        recsaver_repro.resolve("amazon-beauty-raw", "quick", ["students=[M:strict]"])


def _paths() -> pl.DataFrame:
    """Two pairs × 3 sampled paths; the teacher got pair A right on paths 0 and 2, pair B never."""
    from reasonrec.stages.recsaver.filters import annotate_filters

    prompt = json.dumps([{"role": "user", "content": "Rate the new item."}])
    table = pl.DataFrame({
        "user_id": ["a", "a", "a", "b", "b", "b"], "item_id": ["1", "1", "1", "2", "2", "2"],
        "split": ["train"] * 6, "sample_index": [0, 1, 2, 0, 1, 2],
        "rating": [5.0, 5.0, 5.0, 2.0, 2.0, 2.0], "pred_rating": [5.0, 3.0, 5.0, 5.0, 4.0, None],
        "parse_ok": [True, True, True, True, True, False],
        "reasoning": ["Loves this brand.", "Unsure.", "", "Likes serums.", "Maybe.", "Hmm"],
        "text": ["x"] * 6, "prompt": [prompt] * 6, "error": [None] * 6,
    })
    return annotate_filters(table)


@pytest.mark.parametrize(("spec", "expected_examples", "expected_pairs"), [
    ("1:none", 2, 2),      # first path of each pair
    ("M:none", 5, 2),      # every path with reasoning (a's third path is empty)
    ("M:5class", 1, 1),    # a/0 only (a/2 is correct but has no reasoning)
    ("M:binary", 1, 1),    # a/0 (b: 5 and 4 are both on the other side of 3)
    ("M:1off", 1, 1),      # a/0; b/1 is 2 away
])
def test_student_paths_feed_build_rating_sft_per_spec(spec, expected_examples, expected_pairs):
    from reasonrec.train.sft_data import SFTDataConfig, build_rating_sft, load_tokenizer

    table, empty = recsaver_repro.student_paths(_paths(), spec)
    per_pair = 3 if spec.startswith("M") else 1
    sft = build_rating_sft(table, load_tokenizer("embedded"),
                           SFTDataConfig(method="recsaver", k="all", paths_per_pair=per_pair, max_seq_length=512))
    assert len(sft) == expected_examples
    assert sft.table.select("user_id", "item_id").unique().height == expected_pairs
    assert all(c.endswith(f"### Rating ###\n{int(r)}") for c, r in zip(sft.table["completion"], sft.table["rating"],
                                                                       strict=True))  # TRUE rating as target
    assert empty == 1  # a/2: kept by every filter (5 vs 5) but it has no reasoning to learn from


def test_with_references_joins_the_verified_pool_only():
    preds = pl.DataFrame({"method": ["m", "m"], "user_id": ["a", "b"], "item_id": ["1", "2"],
                          "reasoning": ["r1", "r2"], "reference": [None, None]},
                         schema_overrides={"reference": pl.String})
    pool = pl.DataFrame({"user_id": ["a", "b"], "item_id": ["1", "2"], "split": ["test", "test"],
                         "references": [["good scent", "nice"], []], "n_verified": [2, 0]})
    out = recsaver_repro.with_references(preds, pool).sort("user_id")
    assert out["references"].to_list() == [["good scent", "nice"], None]
    assert out["reference"].to_list() == ["good scent", None]
    assert recsaver_repro.with_references(preds, None)["reference"].is_null().all()


def test_sections_land_before_notes_in_markdown_and_inside_html(tmp_path):
    (tmp_path / "report.md").write_text("# R\n\n| a |\n\n## Notes\n\n- n\n")
    (tmp_path / "report.html").write_text("<html><body><h1>R</h1></body></html>")
    append_sections(tmp_path, [Section("Reranking", ["k", "recall"], [[5, 0.25], [10, None]], note="why")])
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Reranking") < md.index("## Notes") and "| 5 | 0.250 |" in md and "| 10 | — |" in md
    page = (tmp_path / "report.html").read_text()
    assert page.index("<h2>Reranking</h2>") < page.index("</body>") and "<td>0.250</td>" in page


def test_teacher_paths_without_a_rating_line_get_a_scored_rating(tmp_path):
    """Real embedded model: a path cut off before its rating line gets the argmax digit after its reasoning;
    a parsed path keeps its parsed rating."""
    from reasonrec.llm.registry import LLMConfig, build_llm

    cfg = recsaver_repro.resolve("amazon-beauty-raw", "quick", ["show_progress=false"])
    llm = build_llm(LLMConfig(n_threads=1, cache_path=str(tmp_path / "cache.sqlite")))
    prompt = json.dumps([{"role": "user", "content": "Past purchases: a rose perfume (rating 5), a musk perfume "
                                                     "(rating 5).\nNew item: a rose body lotion.\nRate it 1-5."}])
    paths = pl.DataFrame({
        "user_id": ["a", "a"], "item_id": ["1", "1"], "split": ["train", "train"], "sample_index": [0, 1],
        "rating": [5.0, 5.0], "pred_rating": [4.0, None], "parse_ok": [True, False],
        "reasoning": ["She loves rose scents.", "She loves rose scents and"], "text": ["t", "t"],
        "prompt": [prompt, prompt], "error": [None, None],
    })
    out = recsaver_repro.score_missing_ratings(paths, llm, cfg)
    assert out["rating_source"].to_list() == ["parsed", "scored"]
    assert out["pred_rating"][0] == 4.0 and out["pred_rating"][1] in {1.0, 2.0, 3.0, 4.0, 5.0}
    assert out["parse_ok"].all() and out.height == 2
