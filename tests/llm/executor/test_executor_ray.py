"""The `ray` executor on a local 2-CPU cluster against a real `reasonrec llm serve` on 127.0.0.1.

Same outputs as the in-process path (a real stage on a real Beauty slice), and a worker SIGKILLed mid-run loses
and duplicates nothing: Ray restarts it, and a rerun is answered entirely from the finished shards."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data, shared_data_dir

from reasonrec.llm.base import GenerationRequest, Message, SamplingParams
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.runner import run_generate

ITEMS = 4


def _llm(served, tmp_path: Path, executor: dict | None, cache: bool = True):
    raw = {"backend": "openai", "base_url": served.base_url, "model": served.model, "concurrency": 1,
           "cache": cache, "cache_path": str(tmp_path / "cache.sqlite")}
    if executor is not None:
        raw["executor"] = {"kind": "ray", "workers": 2, "output_dir": str(tmp_path / "shards"), **executor}
    return build_llm(LLMConfig.from_dict(raw))


@pytest.mark.slow  # ~40 s plus ~40 s of server start and ray.init on a loaded 2-core box
def test_a_stage_on_ray_writes_the_same_table_as_in_process(tmp_path, served_model, ray_cluster) -> None:
    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items

    require_data(shared_data_dir(), "reasoningrec-beauty")
    ds = load_dataset("reasoningrec-beauty", shared_data_dir())
    ids = ds.items["item_id"].to_list()[:ITEMS]
    config = DescribeConfig(max_new_tokens=8, batch_size=2, show_progress=False)
    local = describe_items(ds.items, ds.interactions, _llm(served_model, tmp_path / "local", None), config,
                           item_ids=ids)
    ray_llm = _llm(served_model, tmp_path / "ray", {"shard_size": 1})
    distributed = describe_items(ds.items, ds.interactions, ray_llm, config, item_ids=ids)
    assert distributed.columns == local.columns
    assert distributed.drop("cached").equals(local.drop("cached"))
    assert distributed["error"].is_null().all() and not distributed["cached"].any()
    shards = sorted((ray_llm.last_run_dir / "results").glob("shard-*.parquet"))
    assert len(shards) == ITEMS
    assert (ray_llm.last_run_dir / "manifest.json").is_file()
    again = describe_items(ds.items, ds.interactions, ray_llm, config, item_ids=ids)
    assert again["cached"].all() and again.drop("cached").equals(local.drop("cached"))


def _requests(n: int) -> list[GenerationRequest]:
    topics = ["soap", "shampoo", "perfume", "lotion", "lipstick", "mascara", "sunscreen", "toner", "serum",
              "nail polish", "conditioner", "face mask"]
    return [GenerationRequest(messages=(Message("user", f"Describe a {topics[i % len(topics)]} in a sentence."),),
                              params=SamplingParams(max_new_tokens=12)) for i in range(n)]


def _kill_first_worker(results_dir: Path, killed: list[tuple[int, int]], stop: threading.Event) -> None:
    """SIGKILL the worker that wrote the first result shard (its pid is in the shard's `worker` column); records
    (pid, result shards finished at that moment)."""
    while not stop.is_set():
        files = sorted(results_dir.glob("shard-*.parquet")) if results_dir.is_dir() else []
        if files:
            pid = int(pl.read_parquet(files[0])["worker"][0].rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, len(list(results_dir.glob("shard-*.parquet")))))
            return
        time.sleep(0.05)


@pytest.mark.slow  # ~1-2 min on a loaded 2-core box: twelve generations through the server, a worker restart
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(tmp_path, served_model, ray_cluster) -> None:
    requests = _requests(12)
    llm = _llm(served_model, tmp_path, {"shard_size": 1}, cache=False)
    out_dir = tmp_path / "shards"
    killed: list[tuple[int, int]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            runs = list(out_dir.glob("generate-*")) if out_dir.is_dir() else []
            if runs:
                _kill_first_worker(runs[0] / "results", killed, stop)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        first, _ = run_generate(llm, requests, batch_size=1, show=False)
    except Exception as exc:  # noqa: BLE001 - a run may fail with its worker; the rerun must still complete
        first = exc
    finally:
        stop.set()
        watcher.join()
    assert killed and killed[0][1] < len(requests), "the watcher must have killed a worker mid-run"
    rerun, summary = run_generate(llm, requests, batch_size=1, show=False)
    assert summary.failures == 0
    results_dir = llm.last_run_dir / "results"
    keys = pl.concat([pl.read_parquet(f) for f in results_dir.glob("shard-*.parquet")])["key"].to_list()
    assert len(keys) == len(set(keys)) == len(requests), "each request has exactly one stored result"
    if isinstance(first, list):  # Ray restarted the worker and the first run finished by itself
        assert [c.text for c in first] == [c.text for c in rerun]
    assert summary.cache_hits == len(requests), "the rerun computed nothing: every shard was finished"
    in_process = _llm(served_model, tmp_path / "local", None, cache=False)
    assert [c.text for c in rerun] == [c.text for c in in_process.generate(requests)]
