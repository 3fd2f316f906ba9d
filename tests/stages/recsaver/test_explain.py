"""Post-hoc explanations: N samples per pair, the truth in the prompt, one cache entry per sample."""

from __future__ import annotations

import polars as pl
from recsaver_fixtures import recsaver_llm, tiny_tables

from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.runner import RunSummary
from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations


def _gen(req) -> str:
    return f"  explanation {req.sample_index} at T={req.params.temperature}  "


def test_n_samples_per_pair_with_truth_and_cache(tmp_path) -> None:
    targets, items, inter = tiny_tables()
    fake = recsaver_llm(_gen)
    llm = CachedLLM(fake, LLMCache(tmp_path / "c.sqlite"))
    cfg = ExplainConfig(n_samples=3, temperature=0.9, show_progress=False)
    summaries: list[RunSummary] = []
    table = post_hoc_explanations(targets, items, inter, llm, cfg, summaries=summaries)
    assert table.height == 9
    assert table.columns[:6] == ["user_id", "item_id", "split", "sample_index", "rating", "text"]
    per_pair = table.group_by("user_id").agg(pl.col("sample_index").sort())
    assert all(s == [0, 1, 2] for s in per_pair["sample_index"].to_list())
    assert table.filter(pl.col("user_id") == "u2")["rating"].unique().to_list() == [2.0]
    assert set(table["text"]) == {f"explanation {i} at T=0.9" for i in range(3)}  # stripped
    prompts = {r.messages[-1].content for r in fake.generate_requests}
    assert any("The user rated the new beauty product 2." in p and "u2 thinks c is poor" in p for p in prompts)
    assert len(fake.generate_requests) == 9 and summaries[0].cache_hits == 0
    again = post_hoc_explanations(targets, items, inter, llm, cfg, summaries=summaries)
    assert len(fake.generate_requests) == 9 and summaries[1].cache_hits == 9
    assert again.drop("cached").equals(table.drop("cached"))


def test_rows_without_rating_are_skipped_and_limit_applies() -> None:
    targets, items, inter = tiny_tables()
    targets = targets.with_columns(pl.when(pl.col("user_id") == "u3").then(None).otherwise(pl.col("rating"))
                                   .alias("rating"))
    table = post_hoc_explanations(targets, items, inter, recsaver_llm(_gen),
                                  ExplainConfig(n_samples=1, show_progress=False))
    assert sorted(table["user_id"]) == ["u1", "u2"]
    limited = post_hoc_explanations(targets, items, inter, recsaver_llm(_gen),
                                    ExplainConfig(n_samples=2, show_progress=False), limit=1)
    assert limited.height == 2 and set(limited["user_id"]) == {"u1"}
