"""Parquet shards: the unit of work, retry and resume of the distributed executor.

A job set (one runner call: one kind, one ordered request list, one model) lives in its own directory,
`<output_dir>/<kind>-<digest of model, kind, shard size and every request key>`, so a rerun of the same call
finds its earlier shards and another call never does:

    jobs/shard-000003-<digest>.parquet      key, request (the request payload as JSON)
    results/shard-000003-<digest>.parquet   key + the result fields + the worker that computed it

Shard k covers positions [k * shard_size, (k + 1) * shard_size) of the request list and holds the keys there that
have no successful result yet (first occurrence only: identical requests are computed once). Results are written
to a temporary file and renamed, so a result file exists only when it is complete; a worker killed mid-shard
leaves nothing a rerun would trust. A key is done when some result file holds it without an error; a rerun
schedules exactly the shards that still hold keys that are not done.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.io import write_parquet
from reasonrec.llm.base import (
    LLM,
    ChoiceScores,
    Completion,
    GenerationRequest,
    Message,
    SamplingParams,
    ScoreRequest,
)
from reasonrec.llm.calls import CallKind, call_chunk

Result = Completion | ChoiceScores

JOB_SCHEMA: dict[str, pl.DataType] = {"key": pl.String(), "request": pl.String()}
RESULT_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "generate": {
        "key": pl.String(), "text": pl.String(), "finish_reason": pl.String(), "prompt_tokens": pl.Int64(),
        "completion_tokens": pl.Int64(), "error": pl.String(), "worker": pl.String(),
    },
    "score": {
        "key": pl.String(), "probs": pl.String(), "logprobs": pl.String(), "prompt_tokens": pl.Int64(),
        "error": pl.String(), "worker": pl.String(),
    },
}


# ------------------------------------------------------------------------------------------ requests and results


def request_from_payload(kind: CallKind, payload: dict[str, Any]) -> GenerationRequest | ScoreRequest:
    """The request whose `payload()` is `payload` (the inverse of `GenerationRequest/ScoreRequest.payload`)."""
    messages = payload.get("messages")
    msgs = tuple(Message(**m) for m in messages) if messages is not None else None
    if kind == "generate":
        params = dict(payload["params"])
        params["stop"] = tuple(params.get("stop") or ())
        return GenerationRequest(
            messages=msgs, prompt=payload.get("prompt"), params=SamplingParams(**params),
            sample_index=int(payload["sample_index"]), assistant_prefix=payload.get("assistant_prefix", ""),
        )
    return ScoreRequest(
        choices=tuple(payload["choices"]), messages=msgs, prompt=payload.get("prompt"),
        assistant_prefix=payload.get("assistant_prefix", ""),
    )


def _result_row(kind: CallKind, key: str, result: Result, worker: str) -> dict[str, Any]:
    if kind == "generate":
        assert isinstance(result, Completion)
        return {"key": key, "text": result.text, "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                "error": result.error, "worker": worker}
    assert isinstance(result, ChoiceScores)
    return {"key": key, "probs": json.dumps(result.probs), "logprobs": json.dumps(result.logprobs),
            "prompt_tokens": result.prompt_tokens, "error": result.error, "worker": worker}


def _result_from_row(kind: CallKind, row: dict[str, Any]) -> Result:
    if kind == "generate":
        return Completion(text=row["text"] or "", finish_reason=row["finish_reason"],
                          prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
                          error=row["error"])
    return ChoiceScores(probs=json.loads(row["probs"]), logprobs=json.loads(row["logprobs"]),
                        prompt_tokens=row["prompt_tokens"], error=row["error"])


# ------------------------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class Shard:
    """Shard `index` of a job set: the keys in its block that still need a result."""

    index: int
    keys: tuple[str, ...]

    @property
    def name(self) -> str:
        digest = hashlib.sha256("\n".join(self.keys).encode()).hexdigest()[:12]
        return f"shard-{self.index:06d}-{digest}"


def jobset_dir(output_dir: Path, model_key: str, kind: CallKind, keys: Sequence[str], shard_size: int) -> Path:
    """The directory of one runner call; the same call (same model, kind, requests, shard size) maps to it again."""
    h = hashlib.sha256(f"{model_key}\n{kind}\n{shard_size}\n".encode())
    for key in keys:
        h.update(key.encode())
        h.update(b"\n")
    return output_dir / f"{kind}-{h.hexdigest()[:16]}"


def plan_shards(keys: Sequence[str], done: Iterable[str], shard_size: int) -> list[Shard]:
    """Shards that still hold keys without a result, in position order; each key appears in exactly one shard."""
    finished = set(done)
    seen: set[str] = set()
    shards = []
    for index, start in enumerate(range(0, len(keys), shard_size)):
        pending = []
        for key in keys[start : start + shard_size]:
            if key not in finished and key not in seen:
                seen.add(key)
                pending.append(key)
        if pending:
            shards.append(Shard(index, tuple(pending)))
    return shards


# ------------------------------------------------------------------------------------------ files


class ShardStore:
    """The job and result files of one job set."""

    def __init__(self, root: Path, kind: CallKind) -> None:
        self.root = Path(root)
        self.kind = kind

    def job_path(self, shard: Shard) -> Path:
        return self.root / "jobs" / f"{shard.name}.parquet"

    def result_path(self, shard: Shard) -> Path:
        return self.root / "results" / f"{shard.name}.parquet"

    def result_files(self) -> list[Path]:
        """Complete result files only: temporary files of an interrupted write start with '.' and never match."""
        return sorted((self.root / "results").glob("shard-*.parquet"))

    def write_job(self, shard: Shard, requests: Sequence[GenerationRequest | ScoreRequest]) -> Path:
        rows = {"key": list(shard.keys), "request": [json.dumps(r.payload(), ensure_ascii=False) for r in requests]}
        return write_parquet(self.job_path(shard), pl.DataFrame(rows, schema=JOB_SCHEMA))

    def read_results(self, path: Path) -> dict[str, Result]:
        table = pl.read_parquet(path)
        return {row["key"]: _result_from_row(self.kind, row) for row in table.iter_rows(named=True)}

    def successful_results(self) -> dict[str, Result]:
        """Every key some complete result file holds without an error."""
        found: dict[str, Result] = {}
        for path in self.result_files():
            for key, result in self.read_results(path).items():
                if result.error is None:
                    found[key] = result
        return found


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_shard(llm: LLM, kind: CallKind, job_path: Path, result_path: Path, batch_size: int) -> dict[str, Any]:
    """Compute one shard's job file with `llm` in chunks of `batch_size` and write its result file atomically.

    This is all a worker does; a failure of the backend becomes error rows (a rerun retries them), a crash of the
    worker leaves no result file (the shard runs again)."""
    start = time.perf_counter()
    jobs = pl.read_parquet(job_path)
    keys = jobs["key"].to_list()
    requests = [request_from_payload(kind, json.loads(p)) for p in jobs["request"].to_list()]
    worker = worker_name()
    rows = []
    for s in range(0, len(requests), max(1, batch_size)):
        outs = call_chunk(kind, llm, requests[s : s + batch_size])
        rows.extend(_result_row(kind, k, o, worker) for k, o in zip(keys[s : s + batch_size], outs, strict=True))
    write_parquet(result_path, pl.DataFrame(rows, schema=RESULT_SCHEMAS[kind]))
    return {
        "shard": result_path.stem, "rows": len(rows), "failures": sum(r["error"] is not None for r in rows),
        "worker": worker, "wall_s": time.perf_counter() - start,
    }


__all__ = [
    "JOB_SCHEMA", "RESULT_SCHEMAS", "Result", "Shard", "ShardStore", "jobset_dir", "plan_shards",
    "request_from_payload", "run_shard", "worker_name",
]
