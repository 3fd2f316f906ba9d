"""Self-verification bookkeeping (fake LLM, control flow only) and a tiny real embedded-model run."""

from __future__ import annotations

import os

import polars as pl
import pytest
from recsaver_fixtures import recsaver_llm, tiny_tables

from reasonrec.stages.recsaver.verify import (
    POOL_SCHEMA,
    VERIFICATION_SCHEMA,
    VerifyConfig,
    self_verify,
    with_references,
)


def _explanations(rows: list[tuple[str, str, int, float, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"user_id": u, "item_id": i, "split": "test", "sample_index": s, "rating": r, "text": t, "error": e}
         for u, i, s, r, t, e in rows],
        schema_overrides={"text": pl.String(), "error": pl.String()},
    )


def test_verification_keeps_exactly_the_recovered_explanations() -> None:
    targets, items, inter = tiny_tables()
    exps = _explanations([
        ("u1", "t1", 0, 5.0, "Loves rose scents [predict=5].", None),                       # verified
        ("u1", "t1", 1, 5.0, "Mint fan [predict=4].", None),                                # mismatch
        ("u1", "t1", 2, 5.0, "### Reason ###\nGreat fit [predict=5]. They gave it 5 stars.", None),  # scrubbed, ok
        ("u2", "t2", 0, 2.0, "The user gave it 2 stars. Rating: 2", None),                  # empty after scrub
        ("u2", "t2", 1, 2.0, None, "backend down"),                                         # explain failed
        ("u3", "t3", 0, 4.0, "Scent clash [error].", None),                                 # verify failed
        ("u3", "t3", 1, 4.0, "Likes oils [predict=4]. I'd give it a 4 because.", None),     # verified, scrubbed
    ])
    llm = recsaver_llm()
    result = self_verify(exps, targets, items, inter, llm, VerifyConfig(show_progress=False))
    t = result.table
    status = dict(zip(zip(t["user_id"], t["sample_index"]), t["status"], strict=True))
    assert status == {
        ("u1", 0): "verified", ("u1", 1): "mismatch", ("u1", 2): "verified", ("u2", 0): "empty_after_scrub",
        ("u2", 1): "explain_failed", ("u3", 0): "verify_failed", ("u3", 1): "verified",
    }
    assert len(llm.score_requests) == 5  # 7 explanations; no call for the empty or failed ones
    row = t.filter((pl.col("user_id") == "u1") & (pl.col("sample_index") == 2)).row(0, named=True)
    assert row["removed_sentences"] == ["They gave it 5 stars."] and row["scrubbed"]
    assert row["clean_text"] == "Great fit [predict=5]." and row["re_rating"] == 5.0
    # the verify prompt never contains the removed sentence nor the truth statement
    assert all("5 stars" not in r.messages[-1].content for r in llm.score_requests)
    pool = {r["user_id"]: r for r in result.pool.iter_rows(named=True)}
    assert pool["u1"]["references"] == ["Loves rose scents [predict=5].", "Great fit [predict=5]."]
    assert (pool["u1"]["n_verified"], pool["u2"]["n_verified"], pool["u3"]["n_verified"]) == (2, 0, 1)
    assert pool["u2"]["references"] == [] and pool["u2"]["n_explanations"] == 2
    assert result.pool["n_verified"].sum() == t["verified"].sum()


def test_empty_explanations_give_empty_typed_tables() -> None:
    """No explanations (e.g. every explain call failed upstream or a tiny run) is a value, not a SchemaError."""
    targets, items, inter = tiny_tables()
    empty = _explanations([("u1", "t1", 0, 5.0, "x", None)]).clear()
    llm = recsaver_llm()
    result = self_verify(empty, targets, items, inter, llm, VerifyConfig(show_progress=False))
    assert result.table.height == 0 and result.pool.height == 0
    assert result.table.schema == VERIFICATION_SCHEMA
    assert result.pool.schema == POOL_SCHEMA
    assert len(llm.score_requests) == 0


def test_generate_mode_parses_and_marks_unparseable() -> None:
    targets, items, inter = tiny_tables()
    exps = _explanations([("u1", "t1", 0, 5.0, "A [gen=5]", None), ("u1", "t1", 1, 5.0, "B [gen=x]", None)])

    def gen(req):
        return "5" if "[gen=5]" in req.messages[-1].content else "maybe"

    llm = recsaver_llm(gen)
    result = self_verify(exps, targets, items, inter, llm, VerifyConfig(rating_from="generate", show_progress=False))
    assert result.table["status"].to_list() == ["verified", "unparseable"]
    assert all(r.assistant_prefix == "### Rating ###\n" and r.params.temperature == 0.0
               for r in llm.generate_requests)


def test_scrub_rule_none_and_paper_are_switches() -> None:
    targets, items, inter = tiny_tables()
    exps = _explanations([("u1", "t1", 0, 5.0, "Fits [predict=5]. Rated it 5/5. A rating of 5.", None)])
    llm = recsaver_llm()
    none = self_verify(exps, targets, items, inter, llm, VerifyConfig(scrub_rule="none", show_progress=False))
    paper = self_verify(exps, targets, items, inter, llm, VerifyConfig(scrub_rule="paper", show_progress=False))
    ours = self_verify(exps, targets, items, inter, llm, VerifyConfig(show_progress=False))
    assert none.table["n_removed"].to_list() == [0]
    assert paper.table["removed_sentences"].to_list() == [["A rating of 5."]]
    assert ours.table["removed_sentences"].to_list() == [["Rated it 5/5.", "A rating of 5."]]


@pytest.mark.slow
def test_real_embedded_explain_and_verify_on_real_beauty_pairs(shared_data, tmp_path) -> None:
    """2 real Beauty pairs, N=2: mechanics, cache hits on rerun, identical rerun."""
    from datafiles import require_data

    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.splits import user_disjoint_balanced
    from reasonrec.llm.registry import LLMConfig, build_llm
    from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    ds = load_dataset("amazon-beauty-raw", data_root=shared_data)
    split = user_disjoint_balanced(ds.interactions, per_class_train=0, per_class_test=1, seed=3)
    targets = split.test.head(2)
    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), batch_size=4))
    ecfg = ExplainConfig(n_samples=2, max_new_tokens=48, max_prompt_tokens=900, show_progress=False)
    vcfg = VerifyConfig(max_prompt_tokens=1000, show_progress=False)
    runs = []
    for _ in range(2):
        summaries: list = []
        exps = post_hoc_explanations(targets, ds.items, ds.interactions, llm, ecfg, summaries=summaries)
        result = self_verify(exps, targets, ds.items, split.train_interactions, llm, vcfg, summaries=summaries)
        runs.append((exps, result, summaries))
    exps, result, _ = runs[0]
    assert exps.height == 4 and sorted(exps["sample_index"].to_list()) == [0, 0, 1, 1]
    assert exps["error"].is_null().all() and exps["text"].str.len_chars().min() > 0
    assert result.table.height == 4 and set(result.table["status"]) <= {"verified", "mismatch", "empty_after_scrub"}
    assert result.pool.height == 2 and result.pool["n_verified"].sum() == result.table["verified"].sum()
    exps2, result2, second = runs[1]
    assert all(s.cache_hits == s.prompts for s in second)
    assert exps2["text"].to_list() == exps["text"].to_list()
    assert result2.table.drop("re_probs").equals(result.table.drop("re_probs"))


def test_with_references_joins_the_verified_pool_only():
    preds = pl.DataFrame({"method": ["m", "m"], "user_id": ["a", "b"], "item_id": ["1", "2"],
                          "reasoning": ["r1", "r2"], "reference": [None, None]},
                         schema_overrides={"reference": pl.String})
    pool = pl.DataFrame({"user_id": ["a", "b"], "item_id": ["1", "2"], "split": ["test", "test"],
                         "references": [["good scent", "nice"], []], "n_verified": [2, 0]})
    out = with_references(preds, pool).sort("user_id")
    assert out["references"].to_list() == [["good scent", "nice"], None]
    assert out["reference"].to_list() == ["good scent", None]
    assert with_references(preds, None)["reference"].is_null().all()
