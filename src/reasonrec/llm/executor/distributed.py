"""`DistributedLLM`: an LLM whose runner calls are mapped over a Ray cluster in Parquet shards.

It behaves as the in-process LLM it wraps for single calls (`generate`, `score`, `identity`, token counting), and
`llm/runner.py` hands it whole request lists (`run`). A run:
1. computes every request's cache key; answers the keys the SQLite cache already holds (the cache stays the source
   of truth on one machine), then the keys an earlier run's result shards hold (they are copied into the cache);
2. writes the remaining requests as job shards and maps them over the workers (`ray_data.run_on_ray`);
3. reads each result shard as it lands, stores its successful rows in the cache and reports them to the runner;
4. writes `manifest.json` (executor config, LLM identity, row counts, sha256 of every result shard) in the job set
   directory. The caller (a stage) writes its artefact exactly as the in-process path does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from reasonrec.config import Config
from reasonrec.errors import ConfigError, LLMError
from reasonrec.llm.base import LLM, ForwardingLLM, GenerationRequest, ScoreRequest, request_key
from reasonrec.llm.cache import LLMCache, result_from_json, result_to_json
from reasonrec.llm.calls import CallKind
from reasonrec.llm.executor.config import ExecutorConfig
from reasonrec.llm.executor.shards import Result, ShardStore, jobset_dir, plan_shards
from reasonrec.paths import cache_root
from reasonrec.runs import write_manifest

Report = Callable[[list[int], list], None]
MAX_UNWRAP = 8


def require_ray() -> None:
    """One-line error when Ray is absent (it is an optional dependency)."""
    try:
        import ray  # noqa: F401 - only checks that the optional dependency is importable
    except ImportError:
        raise ConfigError(
            "llm.executor.kind='ray' needs Ray: pip install 'reasonrec[ray]' (pins ray[data]==2.60.0)"
        ) from None


class DistributedLLM(ForwardingLLM):
    """Wraps the in-process LLM (`llm`) built from `llm_config`; `build(config)` rebuilds it on each worker."""

    def __init__(
        self,
        llm: LLM,
        llm_config: Config,
        executor: ExecutorConfig,
        build: Callable[[Any], LLM],
        cache: LLMCache | None,
    ) -> None:
        self.llm = llm
        self.llm_config = llm_config
        self.executor = executor
        self.build = build
        self.cache = cache
        self.last_run_dir: Path | None = None

    def output_dir(self) -> Path:
        return Path(self.executor.output_dir) if self.executor.output_dir else cache_root() / "executor"

    def worker_config(self) -> Config:
        """The LLM config each worker builds: no cache (workers may sit on other machines), local execution with
        this worker's share of the QPS cap."""
        local = ExecutorConfig(kind="local", qps=self.executor.per_worker_qps())
        return self.llm_config.model_copy(update={"cache": False, "executor": local})

    # ------------------------------------------------------------------------------------------ run

    def run(self, kind: CallKind, requests: Sequence[GenerationRequest | ScoreRequest], batch_size: int,
            report: Report) -> None:
        """Compute `requests`, calling `report(positions, results)` as results arrive; every position once."""
        started = time.time()
        identity = self.identity
        keys = [request_key(identity, kind, r.payload()) for r in requests]
        positions: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            positions.setdefault(key, []).append(i)
        store = ShardStore(jobset_dir(self.output_dir(), identity.key(), kind, keys, self.executor.shard_size), kind)
        self.last_run_dir = store.root
        done = self._resume(kind, store, positions, report)
        shards = plan_shards(keys, done, self.executor.shard_size)
        first_request = {key: requests[pos[0]] for key, pos in positions.items()}
        jobs = []
        for shard in shards:
            job = store.write_job(shard, [first_request[k] for k in shard.keys])
            jobs.append({"job": str(job), "result": str(store.result_path(shard)), "endpoint": self._endpoint(shard.index)})
        summaries = list(self._execute(kind, store, jobs, batch_size, positions, report, done)) if jobs else []
        missing = [k for k in positions if k not in done]
        if missing:
            raise LLMError(f"ray executor: {len(missing)} requests have no result in {store.root}; rerun to resume")
        write_manifest(
            store.root, command=f"ray executor ({kind})", config=self.executor,
            outputs=store.result_files(), started_at=started,
            extra={"llm": json.loads(identity.key()), "kind": kind, "requests": len(requests),
                   "unique_requests": len(positions), "shards_run": summaries},
        )

    def _endpoint(self, shard_index: int) -> str:
        endpoints = self.executor.endpoints
        return endpoints[shard_index % len(endpoints)] if endpoints else ""

    def _resume(self, kind: CallKind, store: ShardStore, positions: dict[str, list[int]], report: Report
                ) -> dict[str, Result]:
        """Results known before any work: cache hits, then successful rows of earlier result shards."""
        done: dict[str, Result] = {}
        if self.cache is not None:
            for key, value in self.cache.get_many(list(positions)).items():
                done[key] = result_from_json(kind, value)
        earlier = {k: v for k, v in store.successful_results().items() if k in positions and k not in done}
        self._store(kind, earlier)
        done.update(earlier)
        for key, result in done.items():
            self._report(key, replace(result, cached=True), positions, report)
        return done

    def _execute(self, kind: CallKind, store: ShardStore, jobs: list[dict[str, str]], batch_size: int,
                 positions: dict[str, list[int]], report: Report, done: dict[str, Result]):
        from reasonrec.llm.executor.ray_data import run_on_ray  # Ray is optional: imported only for a Ray run

        for summary in run_on_ray(self.executor, self.worker_config(), self.build, kind, jobs, batch_size):
            results = store.read_results(Path(store.root / "results" / f"{summary['shard']}.parquet"))
            self._store(kind, {k: v for k, v in results.items() if v.error is None})
            for key, result in results.items():
                if key in positions and key not in done:
                    done[key] = result
                    self._report(key, result, positions, report)
            yield {k: summary[k] for k in ("shard", "rows", "failures", "worker", "wall_s")}

    def _store(self, kind: CallKind, results: dict[str, Result]) -> None:
        if self.cache is None or not results:
            return
        model_key = self.identity.key()
        self.cache.put_many([(key, kind, model_key, result_to_json(r)) for key, r in results.items()])

    @staticmethod
    def _report(key: str, result: Result, positions: dict[str, list[int]], report: Report) -> None:
        report(positions[key], [result] * len(positions[key]))


def distributed_of(llm: Any) -> DistributedLLM | None:
    """The `DistributedLLM` inside `llm` (following `.llm` wrappers), or None for in-process execution."""
    obj = llm
    for _ in range(MAX_UNWRAP):
        if isinstance(obj, DistributedLLM):
            return obj
        obj = getattr(obj, "llm", None)
        if obj is None:
            return None
    return None


__all__ = ["DistributedLLM", "distributed_of", "require_ray"]
