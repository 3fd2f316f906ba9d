from __future__ import annotations

import json
import os

import polars as pl
import pytest
from stage_fixtures import load_beauty, teacher_echo_llm

from reasonrec.llm.base import Message
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    StageConfig,
    estimate_tokens,
    run_generation_jobs,
    run_score_jobs,
    token_counter,
    write_stage_output,
)
from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_estimate_is_conservative_and_used_without_tokenizer() -> None:
    msgs = (Message("user", "x" * 35),)
    assert estimate_tokens(msgs) == 10 + 4
    assert token_counter(teacher_echo_llm()) is estimate_tokens


def test_jobs_to_tables_and_stage_output(tmp_path) -> None:
    llm = teacher_echo_llm()
    jobs = [GenerationJob({"id": str(i)}, (Message("user", f"q{i}" * (3 - i)),), sample_index=i) for i in range(3)]
    table, summary = run_generation_jobs(llm, jobs, {"id": pl.String()}, show=False)
    assert table["id"].to_list() == ["0", "1", "2"]  # job order, though the runner sorts by length
    assert table["sample_index"].to_list() == [0, 1, 2] and summary.prompts == 3
    assert json.loads(table["prompt"][0]) == [{"role": "user", "content": "q0q0q0"}]
    scores, _ = run_score_jobs(llm, [ScoreJob({"id": "0"}, jobs[0].messages, ("A", "B"))], {"id": pl.String()},
                               show=False)
    assert json.loads(scores["probs"][0]) == {"A": 0.7, "B": 0.3}
    path = write_stage_output(tmp_path / "stage", "thing", table, StageConfig(seed=7), llm=llm, summaries=[summary])
    assert pl.read_parquet(path).equals(table)
    manifest = json.loads((tmp_path / "stage" / "manifest.json").read_text())
    assert manifest["seeds"] == {"seed": 7} and manifest["rows"] == 3 and "thing.parquet" in manifest["outputs"]


@pytest.fixture(scope="module")
def embedded_cached(tmp_path_factory):
    from reasonrec.llm.cache import CachedLLM, LLMCache
    from reasonrec.llm.hf import HFBackend

    backend = HFBackend("embedded", batch_size=4)
    return CachedLLM(backend, LLMCache(tmp_path_factory.mktemp("cache") / "llm.sqlite"), batch_size=4)


def test_real_model_token_counter_and_rerun_is_all_cache_hits(embedded_cached, shared_data) -> None:
    count = token_counter(embedded_cached)
    msgs = (Message("user", "Hello there"),)
    backend = embedded_cached.llm
    assert count(msgs) == len(backend.encode(backend.render(msgs, None)))
    ds = load_beauty(shared_data)
    cfg = DescribeConfig(max_new_tokens=6, show_progress=False)
    first_s: list = []
    first = describe_items(ds.items, ds.interactions, embedded_cached, cfg, item_ids=["0"], summaries=first_s)
    second_s: list = []
    second = describe_items(ds.items, ds.interactions, embedded_cached, cfg, item_ids=["0"],
                            summaries=second_s)
    assert first["item_id"].to_list() == ["0"] and first["error"].is_null().all()
    assert second_s[0].cache_hits == 1 and second_s[0].computed == 0 and second["cached"].all()
    assert second["text"].to_list() == first["text"].to_list()
    assert first["completion_tokens"].max() <= 6
