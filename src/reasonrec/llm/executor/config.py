"""Where LLM requests run: in this process (`local`) or mapped over a Ray cluster (`ray`).

The choice is part of `LLMConfig` (`executor:`), not of any stage: every stage and batch prediction sends its
requests through `llm/runner.py`, which hands them to the configured executor. `executor: ray` is shorthand for
`executor: {kind: ray}`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from reasonrec.config import Config

MAX_WORKERS = 4096
MAX_SHARD_SIZE = 100_000


class ExecutorConfig(Config):
    """How requests are spread over workers. `local` ignores every field except `qps`."""

    kind: Literal["local", "ray"] = Field("local", description="'local': this process; 'ray': a Ray Data job")
    address: str | None = Field(
        None,
        description="None: start a local Ray cluster; 'auto': join the cluster started by `ray start --head`; "
        "'ray://HOST:10001': Ray client",
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local cluster started here (None: all cores)")
    workers: int = Field(2, ge=1, le=MAX_WORKERS, description="concurrent Ray workers, one backend each")
    cpus_per_worker: float = Field(1.0, ge=0.0, description="CPUs Ray reserves per worker")
    gpus_per_worker: float = Field(0.0, ge=0.0, description="GPUs Ray reserves per worker (vLLM: 1 per engine)")
    shard_size: int = Field(64, ge=1, le=MAX_SHARD_SIZE, description="requests per Parquet shard (unit of retry)")
    qps: float | None = Field(
        None, gt=0.0, description="average requests/s over all workers (each worker gets qps/workers); None: no cap"
    )
    endpoints: list[str] = Field(
        default_factory=list,
        description="openai backend: base URLs of servers holding the same model; shard k goes to "
        "endpoints[k % n] (empty: llm.base_url only)",
    )
    output_dir: str | None = Field(
        None, description="shard root, on a filesystem every node mounts (default <cache_root>/executor)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`executor: ray` (YAML) or `--set executor=ray` means `{kind: ray}` with defaults."""
        if isinstance(data, str):
            return {"kind": data}
        return data

    def per_worker_qps(self) -> float | None:
        if self.qps is None:
            return None
        return self.qps / (self.workers if self.kind == "ray" else 1)


def check_executor(backend: str, executor: ExecutorConfig, gpus_per_engine: int) -> None:
    """Cross-field rules between the backend and its executor (raised as config errors at load time)."""
    if executor.endpoints and backend != "openai":
        raise ValueError(f"executor.endpoints are base URLs of OpenAI-compatible servers; llm.backend is {backend!r}")
    if executor.kind == "ray" and backend == "vllm" and executor.gpus_per_worker < gpus_per_engine:
        raise ValueError(
            f"each Ray worker runs one vLLM engine on vllm.tensor_parallel_size={gpus_per_engine} GPU(s): "
            f"set executor.gpus_per_worker={gpus_per_engine}"
        )


__all__ = ["MAX_SHARD_SIZE", "MAX_WORKERS", "ExecutorConfig", "check_executor"]
