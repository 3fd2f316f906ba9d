"""Run shards on Ray Data: the dataset is the table of pending shards, mapped by a pool of workers.

Ray does the scheduling, placement (CPUs/GPUs per worker) and fault tolerance: a worker process that dies is
restarted and its shard is retried (Ray Data's actor pools default to unlimited restarts and task retries). Each
worker builds its own backend once (an HTTP client for an OpenAI-compatible endpoint, or a vLLM engine on its GPU)
and writes every shard's result file itself, so finished shards survive a lost driver.

Ray is an optional dependency (`reasonrec[ray]`); this module is imported only when `executor.kind` is `ray`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ray
import ray.data
import ray.data.exceptions

from reasonrec.config import Config
from reasonrec.errors import LLMError
from reasonrec.llm.base import LLM
from reasonrec.llm.calls import CallKind
from reasonrec.llm.executor.config import ExecutorConfig
from reasonrec.llm.executor.shards import run_shard

LLMBuilder = Callable[[Any], LLM]


def ensure_ray(executor: ExecutorConfig) -> None:
    """Connect to `executor.address`, or start a local cluster, unless this process is already connected."""
    if ray.is_initialized():
        return
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if executor.address is None:
        ray.init(num_cpus=executor.num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=executor.address, log_to_driver=False)


class ShardWorker:
    """One Ray Data worker: builds its backend(s) once, then computes one shard per call."""

    def __init__(self, llm_config: Config, build: LLMBuilder, kind: CallKind, batch_size: int) -> None:
        self.llm_config = llm_config
        self.build = build
        self.kind = kind
        self.batch_size = batch_size
        self.backends: dict[str, LLM] = {}

    def _backend(self, endpoint: str) -> LLM:
        if endpoint not in self.backends:
            update: dict[str, Any] = {"base_url": endpoint} if endpoint else {}
            self.backends[endpoint] = self.build(self.llm_config.model_copy(update=update))
        return self.backends[endpoint]

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"shard": [], "rows": [], "failures": [], "worker": [], "wall_s": []}
        for job, result, endpoint in zip(batch["job"], batch["result"], batch["endpoint"], strict=True):
            summary = run_shard(self._backend(str(endpoint)), self.kind, Path(job), Path(result), self.batch_size)
            for name, column in out.items():
                column.append(summary[name])
        return out


def run_on_ray(
    executor: ExecutorConfig,
    worker_config: Config,
    build: LLMBuilder,
    kind: CallKind,
    shards: list[dict[str, str]],
    batch_size: int,
) -> Iterator[dict[str, Any]]:
    """Map `shards` ({job, result, endpoint} paths) over the workers; yields each shard's summary as it finishes."""
    ensure_ray(executor)
    ray.data.DataContext.get_current().enable_progress_bars = False
    dataset = ray.data.from_items(shards, override_num_blocks=len(shards))
    mapped = dataset.map_batches(
        ShardWorker,
        fn_constructor_kwargs={"llm_config": worker_config, "build": build, "kind": kind, "batch_size": batch_size},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(executor.workers, len(shards))),
        num_cpus=executor.cpus_per_worker,
        num_gpus=executor.gpus_per_worker or None,
    )
    try:
        yield from mapped.iter_rows()
    except (ray.exceptions.RayError, ray.data.exceptions.SystemException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LLMError(f"ray executor: {type(exc).__name__}: {first}; finished shards are kept: rerun to resume") \
            from exc


__all__ = ["ShardWorker", "ensure_ray", "run_on_ray"]
