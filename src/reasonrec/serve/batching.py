"""The `LLM` protocol over the model worker, so library code (prompt building, scoring, explanations) runs
unchanged inside a service while concurrent requests share batched forward passes.

Each `score` / `generate` call turns its requests into worker jobs and blocks the calling thread (a server's
request thread) until they are answered. Jobs submitted by different requests meet in the worker's queue and are
batched there (`ModelWorker`); the score jobs of one call form a group that the backend scores in one pass over
their shared prompt prefix. A full queue or a wait past the time
budget raises `LLMUnavailable` (retry later), which every layer passes through untouched: the service answers
503 with Retry-After, never a half-scored list. Wrap this in `CachedLLM` so repeated requests never reach the
worker at all.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from concurrent.futures import wait
from typing import Any

from reasonrec.llm.base import (
    ChoiceScores,
    Completion,
    ForwardingLLM,
    GenerationRequest,
    LLMUnavailable,
    ScoreRequest,
)
from reasonrec.serve.config import ServerLimits
from reasonrec.serve.worker import (
    GenerationJob,
    Job,
    JobCancelled,
    JobExpired,
    ModelWorker,
    QueueFull,
    ScoreJob,
)


class WorkerLLM(ForwardingLLM):
    """`LLM` whose calls run as jobs on `worker` (which owns `backend`, kept as `.llm` like `CachedLLM` so token
    counting finds its tokenizer); identity is the backend's."""

    def __init__(self, backend: Any, worker: ModelWorker, limits: ServerLimits) -> None:
        self.llm = backend
        self.worker = worker
        self.limits = limits
        self._calls = itertools.count(1)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        deadline = time.monotonic() + self.limits.request_timeout_s
        group = next(self._calls)  # this call's prompts (one user's candidates) share their prefix
        return self._run([ScoreJob(deadline=deadline, request=r, group=group) for r in requests])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        deadline = time.monotonic() + self.limits.request_timeout_s
        return self._run([GenerationJob(deadline=deadline, request=r) for r in requests])

    def _run(self, jobs: list[Job]) -> list:
        if not jobs:
            return []
        retry = self.limits.retry_after_s
        try:
            self.worker.submit(jobs)
        except QueueFull as exc:
            raise LLMUnavailable(f"the model is busy ({exc}); retry later", retry_after_s=retry) from exc
        except JobCancelled as exc:
            raise LLMUnavailable("the server is shutting down", retry_after_s=retry) from exc
        budget = self.limits.request_timeout_s + 1.0  # the worker enforces the deadline; this only bounds a stall
        _, pending = wait([j.future for j in jobs], timeout=budget)
        if pending:
            self.worker.cancel(jobs)
            raise LLMUnavailable(f"no answer within the time budget ({self.limits.request_timeout_s:g} s)",
                                 retry_after_s=retry)
        try:
            return [j.future.result() for j in jobs]
        except (JobExpired, JobCancelled) as exc:
            self.worker.cancel(jobs)
            raise LLMUnavailable(f"the model is busy: {exc}", retry_after_s=retry) from exc


__all__ = ["WorkerLLM"]
