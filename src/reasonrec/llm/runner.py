"""Run many requests through any `LLM` with progress, accounting and no silent drops.

Every stage calls `run_generate` / `run_score`: requests are sent in chunks (each chunk is one cached
transaction when the LLM is a `CachedLLM`), the progress bar shows ETA, tokens/s, cache hits and failures,
and a backend exception on a chunk becomes per-request error results instead of losing the run.

This is also where the executor is chosen, so every stage gains it without code of its own: an LLM built with
`executor: ray` (`llm.executor.DistributedLLM`) receives the whole request list and maps it over a Ray cluster in
Parquet shards; results come back in request order with the same summary and progress as in process.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from reasonrec.llm.base import LLM, ChoiceScores, Completion, GenerationRequest, ScoreRequest
from reasonrec.llm.calls import CallKind, call_chunk
from reasonrec.llm.executor import distributed_of

CHUNK_SIZE = 32
"""Requests per runner chunk: one progress update and one cache commit each. A chunk must hold a whole decode
group (`LLMConfig.decode_batch_size`), or generation decodes fewer rows per step than it could."""


@dataclass
class RunSummary:
    desc: str
    prompts: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0

    @property
    def computed(self) -> int:
        return self.prompts - self.cache_hits

    @property
    def tokens_per_s(self) -> float:
        return (self.prompt_tokens + self.completion_tokens) / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "computed": self.computed, "tokens_per_s": round(self.tokens_per_s, 1)}

    def line(self) -> str:
        return (
            f"{self.desc}: {self.prompts} prompts, {self.cache_hits} cache hits, {self.failures} failures, "
            f"tokens in/out {self.prompt_tokens}/{self.completion_tokens}, {self.wall_s:.1f} s "
            f"({self.tokens_per_s:.0f} tok/s computed+cached)"
        )


def _order_by_length(requests: Sequence[GenerationRequest | ScoreRequest]) -> list[int]:
    """Send similar-length prompts together so backend batches pad little (approximate: characters)."""

    def size(r: GenerationRequest | ScoreRequest) -> int:
        if r.prompt is not None:
            return len(r.prompt)
        return sum(len(m.content) for m in r.messages or ())

    return sorted(range(len(requests)), key=lambda i: size(requests[i]))


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console,
        transient=False,
    )


def _run(
    kind: CallKind,
    llm: LLM,
    requests: Sequence,
    batch_size: int,
    desc: str,
    show: bool,
    console: Console | None,
) -> tuple[list, RunSummary]:
    summary = RunSummary(desc=desc, prompts=len(requests))
    results: list = [None] * len(requests)
    start = time.perf_counter()
    console = console or Console(stderr=True)
    with _progress(console) as progress:
        task = progress.add_task(desc, total=len(requests), stats="", visible=show)

        def record(idx: Sequence[int], outs: Sequence) -> None:
            for i, out in zip(idx, outs, strict=True):
                results[i] = out
                summary.cache_hits += int(out.cached)
                summary.failures += int(out.error is not None)
                summary.prompt_tokens += out.prompt_tokens
                summary.completion_tokens += getattr(out, "completion_tokens", 0)
            elapsed = time.perf_counter() - start
            tps = (summary.prompt_tokens + summary.completion_tokens) / elapsed if elapsed > 0 else 0.0
            progress.update(
                task,
                advance=len(idx),
                stats=f"{tps:,.0f} tok/s · hits {summary.cache_hits} · failed {summary.failures}",
            )

        distributed = distributed_of(llm)
        if distributed is not None and requests:
            distributed.run(kind, requests, batch_size, record)
        else:
            order = _order_by_length(requests)
            for s in range(0, len(order), max(1, batch_size)):
                idx = order[s : s + batch_size]
                record(idx, call_chunk(kind, llm, [requests[i] for i in idx]))
    summary.wall_s = time.perf_counter() - start
    if show:
        console.print(summary.line())
    return results, summary


def run_generate(
    llm: LLM,
    requests: Sequence[GenerationRequest],
    *,
    batch_size: int = CHUNK_SIZE,
    desc: str = "generate",
    show: bool = True,
    console: Console | None = None,
) -> tuple[list[Completion], RunSummary]:
    """Completions in request order (failures carry `error`), plus the run's summary."""
    return _run("generate", llm, requests, batch_size, desc, show, console)


def run_score(
    llm: LLM,
    requests: Sequence[ScoreRequest],
    *,
    batch_size: int = CHUNK_SIZE,
    desc: str = "score",
    show: bool = True,
    console: Console | None = None,
) -> tuple[list[ChoiceScores], RunSummary]:
    """Choice scores in request order (failures carry `error`), plus the run's summary."""
    return _run("score", llm, requests, batch_size, desc, show, console)
