"""Rec-SAVER zero-shot ablations: flags change exactly the prompt parts they name (fake LLM, control flow)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from datafiles import require_data
from recsaver_fixtures import recsaver_llm, tiny_tables

from reasonrec.errors import ConfigError
from reasonrec.predictions import PREDICTIONS_SCHEMA
from reasonrec.stages.recsaver.context import RATING_PREFIX, REASON_PREFIX
from reasonrec.stages.recsaver.filters import filter_counts
from reasonrec.stages.recsaver.teacher import TeacherPathsConfig, recsaver_teacher_paths
from reasonrec.stages.recsaver.zeroshot import RecSaverZeroShotConfig, recsaver_zeroshot


def _run(variant: str, gen=None, **kw):
    targets, items, inter = tiny_tables()
    llm = recsaver_llm(gen)
    cfg = RecSaverZeroShotConfig(variant=variant, show_progress=False, dataset="tiny", **kw)
    out = recsaver_zeroshot(targets, items, inter, llm, cfg, **({"train_targets": kw_train()} if variant == "one_shot"
                                                              else {}))
    return out, llm


def kw_train() -> pl.DataFrame:
    targets, _, _ = tiny_tables()
    return targets.with_columns(pl.lit("train").alias("split"))


def _user_message(req) -> str:
    return req.messages[-1].content


def test_no_reasoning_scores_digits_once_and_fills_predictions() -> None:
    out, llm = _run("no_reasoning")
    assert len(llm.generate_requests) == 0 and len(llm.score_requests) == 3
    assert all(r.choices == ("1", "2", "3", "4", "5") and r.assistant_prefix == RATING_PREFIX
               for r in llm.score_requests)
    assert list(out.columns[: len(PREDICTIONS_SCHEMA)]) == list(PREDICTIONS_SCHEMA)
    row = out.row(0, named=True)
    probs = json.loads(row["probs"])
    assert row["score"] == pytest.approx(probs["4"] + probs["5"])  # uniform without a marker
    assert row["parse_ok"] and row["method"] == "recsaver-zeroshot-no_reasoning"
    assert out["label"].to_list() == [int(r > 3) for r in out["rating"].to_list()]


def test_cot_generates_reasoning_then_scores_with_it_in_the_prefix() -> None:
    out, llm = _run("cot", gen=lambda r: "Likes citrus [predict=5].\n### Rating ###\n2")
    assert len(llm.generate_requests) == 3 and len(llm.score_requests) == 3
    assert all(r.assistant_prefix == REASON_PREFIX and "###" in r.params.stop for r in llm.generate_requests)
    prefix = llm.score_requests[0].assistant_prefix
    assert prefix.startswith(REASON_PREFIX + "Likes citrus [predict=5].") and prefix.endswith(RATING_PREFIX)
    assert out["pred_rating"].to_list() == [5.0, 5.0, 5.0]
    assert out["reasoning"].to_list() == ["Likes citrus [predict=5]."] * 3
    assert out["score"].to_list() == pytest.approx([0.925] * 3)  # 0.9 + 0.1/4


def test_generate_mode_parses_and_counts_unparseable() -> None:
    def gen(req):
        return "fine\n### Rating ###\n4" if "Citrus Gel" in _user_message(req) else "no idea"

    out, _ = _run("cot", gen=gen, rating_from="generate")
    by_item = {r["item_id"]: r for r in out.iter_rows(named=True)}
    assert by_item["t1"]["pred_rating"] == 4.0 and by_item["t1"]["parse_ok"]
    assert by_item["t2"]["pred_rating"] is None and not by_item["t2"]["parse_ok"]
    assert by_item["t1"]["pred_label"] == 1


@pytest.mark.parametrize(
    ("variant", "has_review", "has_rating"),
    [("cot", True, True), ("no_review", False, True), ("no_review_no_rating", False, False)],
)
def test_feedback_ablations_remove_reviews_and_ratings(variant: str, has_review: bool, has_rating: bool) -> None:
    _, llm = _run(variant)
    text = "\n".join(_user_message(r) for r in llm.generate_requests)
    assert ("u1 thinks a is great" in text) is has_review
    assert ("User rating: 5" in text) is has_rating
    assert "Rose Soap" in text  # the items themselves stay


def test_no_description_hides_descriptions() -> None:
    targets, items, inter = tiny_tables()
    items = items.with_columns(pl.lit("SECRET-DESC").alias("description"))
    for variant, expected in (("cot", True), ("no_description", False)):
        llm = recsaver_llm()
        recsaver_zeroshot(targets, items, inter, llm, RecSaverZeroShotConfig(variant=variant, show_progress=False))
        assert ("SECRET-DESC" in _user_message(llm.generate_requests[0])) is expected


def test_one_shot_example_comes_from_another_train_user_and_is_reproducible() -> None:
    out, llm = _run("one_shot")
    assert all(e != u for e, u in zip(out["example_user"], out["user_id"], strict=True))
    assert all("solved example" in _user_message(r) for r in llm.generate_requests)
    again, _ = _run("one_shot")
    assert again["example_user"].to_list() == out["example_user"].to_list()
    targets, items, inter = tiny_tables()
    with pytest.raises(ConfigError):
        recsaver_zeroshot(targets, items, inter, recsaver_llm(),
                          RecSaverZeroShotConfig(variant="one_shot", show_progress=False))


def test_teacher_paths_sample_m_times_and_feed_filters() -> None:
    targets, items, inter = tiny_tables()
    answers = iter(["a\n### Rating ###\n5", "b\n### Rating ###\n4", "c", "d\n### Rating ###\n2",
                    "e\n### Rating ###\n1", "f\n### Rating ###\n4"])
    llm = recsaver_llm(lambda r: next(answers))
    cfg = TeacherPathsConfig(n_samples=2, show_progress=False)
    paths = recsaver_teacher_paths(targets, items, inter, llm, cfg)
    assert paths.height == 6 and sorted(set(paths["sample_index"])) == [0, 1]
    assert all(r.params.temperature == 0.7 for r in llm.generate_requests)
    assert paths["parse_ok"].sum() == 5
    counts = filter_counts(paths)
    assert counts["unparseable"] == 1 and counts["filters"]["none"]["kept"] == 6


@pytest.mark.slow
def test_real_embedded_no_reasoning_on_real_beauty_pairs(shared_data, tmp_path) -> None:
    """2 real Beauty pairs scored over the digits by the embedded model; rerun is all cache hits, identical."""
    import os

    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.splits import user_disjoint_balanced
    from reasonrec.llm.registry import LLMConfig, build_llm

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    ds = load_dataset("amazon-beauty-raw", data_root=shared_data)
    split = user_disjoint_balanced(ds.interactions, per_class_train=0, per_class_test=1, seed=3)
    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), batch_size=2))
    cfg = RecSaverZeroShotConfig(variant="no_reasoning", max_prompt_tokens=900, show_progress=False)
    runs = []
    for _ in range(2):
        summaries: list = []
        runs.append((recsaver_zeroshot(split.test.head(2), ds.items, split.train_interactions, llm, cfg,
                                       summaries=summaries), summaries))
    out, _ = runs[0]
    assert out.height == 2 and out["parse_ok"].all()
    for row in out.iter_rows(named=True):
        probs = json.loads(row["probs"])
        assert set(probs) == {"1", "2", "3", "4", "5"} and sum(probs.values()) == pytest.approx(1.0)
        assert row["pred_rating"] == float(max(probs, key=probs.__getitem__))
        assert 0.0 <= row["score"] <= 1.0
    again, summaries = runs[1]
    assert summaries[0].cache_hits == summaries[0].prompts == 2
    assert again.drop("cached").equals(out.drop("cached"))
