"""Reranking: permutation, stability, oracle dominance, list-wise shuffling, and a real BPR → rerank run."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest
from datafiles import require_data
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.errors import DataError
from reasonrec.rerank import (
    RerankConfig,
    compare_rankings,
    listwise_scores,
    normalise_candidates,
    ranked_lists,
    relevant_sets,
    rerank,
    rerank_and_evaluate,
    scores_from_predictions,
    shuffled_lists,
)


def _candidates(lists: dict[str, list[str]]) -> pl.DataFrame:
    rows = [(u, i, r + 1) for u, items in lists.items() for r, i in enumerate(items)]
    return pl.DataFrame(rows, schema={"user_id": pl.String, "item_id": pl.String, "rank": pl.Int64}, orient="row")


def _scores(pairs: dict[tuple[str, str], float]) -> pl.DataFrame:
    return pl.DataFrame([(u, i, s) for (u, i), s in pairs.items()],
                        schema={"user_id": pl.String, "item_id": pl.String, "score": pl.Float64}, orient="row")


candidate_lists = st.dictionaries(
    st.sampled_from([f"u{i}" for i in range(6)]),
    st.lists(st.sampled_from([f"i{i}" for i in range(30)]), min_size=1, max_size=20, unique=True),
    min_size=1, max_size=5,
)


@given(candidate_lists, st.data())
@settings(max_examples=60, deadline=None)
def test_rerank_is_a_permutation_of_each_users_candidates(lists, data):
    cands = _candidates(lists)
    scores = _scores({(u, i): data.draw(st.sampled_from([0.0, 1.0, 2.5]) | st.floats(-5, 5))
                      for u, items in lists.items() for i in items})
    out = ranked_lists(rerank(cands, scores))
    assert set(out) == set(lists)
    for user, items in lists.items():
        assert sorted(out[user]) == sorted(items)
        assert len(out[user]) == len(items)


@given(candidate_lists, st.floats(-3, 3, allow_nan=False))
@settings(max_examples=40, deadline=None)
def test_constant_scores_keep_the_generator_order(lists, value):
    cands = _candidates(lists)
    scores = _scores({(u, i): value for u, items in lists.items() for i in items})
    assert ranked_lists(rerank(cands, scores)) == lists


@given(candidate_lists, st.data())
@settings(max_examples=60, deadline=None)
def test_oracle_scorer_never_loses_to_the_generator(lists, data):
    cands = _candidates(lists)
    relevant = {u: set(data.draw(st.lists(st.sampled_from(items), max_size=len(items)))) for u, items in lists.items()}
    oracle = _scores({(u, i): float(i in relevant[u]) for u, items in lists.items() for i in items})
    result = compare_rankings(cands, rerank(cands, oracle), relevant)
    for key, before in result["generator"].items():
        after = result["reranked"][key]
        if before is None:
            assert after is None
        else:
            assert after >= before - 1e-12, key


def test_hand_computed_rerank_ties_and_missing_scores():
    cands = _candidates({"u": ["a", "b", "c", "d"]})
    scores = _scores({("u", "a"): 0.1, ("u", "b"): 0.9, ("u", "c"): 0.1})  # d has no score
    table = rerank(cands, scores)
    assert table["item_id"].to_list() == ["b", "a", "c", "d"]  # a before c: tie keeps the generator order
    assert table["generator_rank"].to_list() == [2, 1, 3, 4]
    assert table["score"].to_list()[-1] is None
    # one relevant item at generator rank 2 → moved to rank 1: NDCG@5 1/log2(3) → 1
    result = compare_rankings(cands, table, {"u": {"b"}}, ks=(5,))
    assert result["generator"]["ndcg@5"] == pytest.approx(1 / math.log2(3))
    assert result["reranked"]["ndcg@5"] == pytest.approx(1.0)
    assert result["gain"]["recall@5"] == pytest.approx(0.0)


def test_duplicate_candidates_are_an_error():
    with pytest.raises(DataError, match="listed twice"):
        normalise_candidates(_candidates({"u": ["a"]}).vstack(_candidates({"u": ["a"]})))


def test_listwise_scores_shuffle_then_map_back_to_item_ids():
    lists = {"u1": [f"i{k}" for k in range(10)], "u2": [f"j{k}" for k in range(10)]}
    cands = _candidates(lists)
    shown: dict[str, list[str]] = {}

    def position_biased_scorer(user, items):  # an LLM that prefers earlier list positions…
        shown[user] = list(items)
        return [float(int(item[1:])) for item in items]  # …but here scores depend only on the item

    scores = listwise_scores(cands, position_biased_scorer, seed=7)
    assert shown["u1"] != lists["u1"]  # the prompt order is shuffled
    assert shown == shuffled_lists(cands, seed=7)  # reproducible for a seed
    assert shuffled_lists(cands, seed=8) != shown
    out = ranked_lists(rerank(cands, scores))
    assert out["u1"] == list(reversed(lists["u1"]))  # mapped back by id, not by position


def test_scores_from_predictions_average_samples():
    preds = pl.DataFrame({"user_id": ["u", "u", "u"], "item_id": ["a", "a", "b"], "pred_rating": [2.0, 4.0, 1.0]})
    out = scores_from_predictions(preds, "pred_rating").sort("item_id")
    assert out["score"].to_list() == [3.0, 1.0]


def test_rerank_and_evaluate_writes_outputs(tmp_path):
    cands = _candidates({"u": ["a", "b", "c"], "v": ["x", "y"]})
    scores = _scores({("u", "c"): 1.0, ("u", "a"): 0.0, ("u", "b"): 0.0, ("v", "x"): 0.0, ("v", "y"): 1.0})
    _, metrics = rerank_and_evaluate(cands, scores, {"u": {"c"}, "v": {"y"}}, RerankConfig(ks=[1, 2]),
                                            tmp_path)
    assert metrics["reranked"]["recall@1"] == 1.0 and metrics["generator"]["recall@1"] == 0.0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["users"] == 2 and saved["missing_scores"] == 0
    assert pl.read_parquet(tmp_path / "reranked.parquet").height == 5
    assert (tmp_path / "manifest.json").exists()


def test_real_bpr_candidates_on_movielens_reranked_by_item_popularity(shared_data, tmp_path):
    """Real pipeline on ML-100K: leave-last-out → BPR top-20 → rerank by training popularity (a simple scorer)."""
    require_data(shared_data, "movielens-100k", "u.data")
    from reasonrec.baselines import BPRMF, BPRConfig, TrainData
    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.splits import leave_last_out
    from reasonrec.rerank import generate_candidates, pairwise_scores

    ds = load_dataset("movielens-100k", shared_data)
    split = leave_last_out(ds.interactions, k_history=5, r_threshold=3.0)
    model = BPRMF(BPRConfig(max_iter=20, seed=1)).fit(TrainData(split.train_interactions, split.train))
    users = split.test["user_id"].to_list()[:200]
    cands = generate_candidates(model, users, RerankConfig())
    assert cands.group_by("user_id").len()["len"].max() == 20

    popularity = split.train_interactions.group_by("item_id").len().rename({"len": "score"})

    def popularity_scorer(pairs: pl.DataFrame) -> pl.DataFrame:
        return pairs.join(popularity, on="item_id", how="left").with_columns(pl.col("score").cast(pl.Float64))

    scores = pairwise_scores(cands, popularity_scorer)
    relevant = relevant_sets(split.test.filter(pl.col("user_id").is_in(users)).select("user_id", "item_id"))
    reranked, metrics = rerank_and_evaluate(cands, scores, relevant, RerankConfig(), tmp_path)
    assert ranked_lists(reranked).keys() == ranked_lists(cands).keys()
    assert metrics["users"] == len(set(cands["user_id"]))
    # Recall@20 covers the whole candidate list: reranking cannot change it.
    assert metrics["reranked"]["recall@20"] == pytest.approx(metrics["generator"]["recall@20"])
    assert set(metrics["generator"]) == {f"{m}@{k}" for m in ("recall", "ndcg") for k in (5, 10, 15, 20)}
    print(json.dumps({k: metrics[k] for k in ("generator", "reranked")}, indent=1))


def test_rerank_cli(tmp_path):
    import typer
    from typer.testing import CliRunner

    from reasonrec.cli.rerank import rerank_command

    _candidates({"u": ["a", "b", "c"]}).write_parquet(tmp_path / "c.parquet")
    pl.DataFrame({"user_id": ["u"] * 3, "item_id": ["a", "b", "c"], "pred_rating": [1.0, 2.0, 9.0]}).write_parquet(
        tmp_path / "s.parquet")
    pl.DataFrame({"user_id": ["u"], "item_id": ["c"]}).write_parquet(tmp_path / "r.parquet")
    app = typer.Typer()
    app.command()(rerank_command)
    res = CliRunner().invoke(app, ["--candidates", str(tmp_path / "c.parquet"), "--scores", str(tmp_path / "s.parquet"),
                                   "--relevant", str(tmp_path / "r.parquet"), "--out", str(tmp_path / "out"),
                                   "--score-column", "pred_rating", "--ks", "1,3"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generator"]["recall@1"] == 0.0 and out["reranked"]["recall@1"] == 1.0
    assert pl.read_parquet(tmp_path / "out" / "reranked.parquet")["item_id"].to_list() == ["c", "b", "a"]


def test_too_few_scored_candidates_refuse_metrics_and_reasoning_travels(tmp_path):
    cands = _candidates({"u": [f"i{n}" for n in range(10)]})
    few = pl.DataFrame({"user_id": ["u", "u"], "item_id": ["i9", "i1"], "score": [0.9, 0.1],
                        "reasoning": ["because serums", None]})
    with pytest.raises(DataError, match=r"only 2 of 10 candidates \(20.0%\) have a score"):
        rerank_and_evaluate(cands, few, {"u": {"i9"}}, RerankConfig(), tmp_path / "refused")
    assert not (tmp_path / "refused" / "metrics.json").exists()
    reranked, metrics = rerank_and_evaluate(cands, few, {"u": {"i9"}}, RerankConfig(min_scored_share=0.2),
                                            tmp_path / "allowed")
    assert metrics["scored_share"] == pytest.approx(0.2) and metrics["missing_scores"] == 8
    assert reranked["item_id"][0] == "i9" and reranked["reasoning"][0] == "because serums"
    assert reranked["reasoning"].null_count() == 9


def test_seen_before_is_everything_up_to_the_target():
    from reasonrec.rerank import seen_before

    targets = pl.DataFrame({"user_id": ["u", "v"], "item_id": ["t", "t"], "timestamp": [30, 10],
                            "history_item_ids": [["h"], []]})
    inter = pl.DataFrame({"user_id": ["u", "u", "u", "u", "v"], "item_id": ["a", "b", "t", "later", "z"],
                          "timestamp": [10, 20, 30, 40, 10]})
    seen = seen_before(targets, inter)
    assert seen["u"] == {"a", "b", "h"} and not seen.get("v")
