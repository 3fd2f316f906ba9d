"""The model worker: one thread owns the model and schedules every generation and forward pass on it.

Why one thread: torch on concurrent threads would fight over the same cores and the same weights; serialising
keeps each step fast and the order explainable. Why two lanes: a request for 1,000 tokens must not make a
4-token request wait minutes. Jobs asking for at most `short_max_tokens` (and every log-prob forward pass) go to
the short lane; longer ones to the long lane. A long batch is decoded step by step, and between two of its steps
the worker runs one unit of short work (one forward pass, or one batch of short generations, to completion):
short requests wait for at most one long step. While short work keeps coming, the long batch still keeps
`long_share` of the worker's time (short units pause until it has had it), so neither lane starves the other.
Long requests are batched first come, first served: one that arrives while a long batch runs waits for that
batch to end (its time budget includes the wait), since a running batch cannot take new rows.

Every job carries a deadline (the per-request time budget) and a cancel flag (the client went away); both are
checked between decode steps, so a generation stops within one step of either. The queue is bounded: `submit`
raises `QueueFull` instead of letting waiting work grow without limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from reasonrec.llm.base import Completion, GenerationRequest
from reasonrec.llm.hf import StepHook
from reasonrec.serve.config import ServerLimits

log = logging.getLogger("reasonrec.serve")


class ServableLLM(Protocol):
    """What the server needs from a backend: batched `generate` with a per-step hook, the tokenizer and torch
    model it runs (for log-probs), and its context limit."""

    tokenizer: Any
    model: Any
    max_prompt_tokens: int

    def generate(
        self, requests: Sequence[GenerationRequest], *, on_step: StepHook | None = None
    ) -> list[Completion]: ...


class QueueFull(Exception):
    """The bounded queue has no room for the submitted jobs."""


class JobExpired(Exception):
    """The job waited in the queue past its time budget and was never started."""


class JobCancelled(Exception):
    """The job was cancelled (its client went away, or the server is shutting down) before it ran."""


@dataclass(eq=False, kw_only=True)
class Job:
    deadline: float  # time.monotonic() by which the request must be answered
    future: Future = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False, kw_only=True)
class GenerationJob(Job):
    request: GenerationRequest
    on_token: Callable[[int], None] | None = None  # called on the worker thread with each new token id
    expired: bool = False  # stopped by its deadline (reported as finish_reason "length")


@dataclass(eq=False, kw_only=True)
class CallJob(Job):
    fn: Callable[[], Any]  # a forward pass over the model (log-probs)


@dataclass
class WorkerStats:
    running: int = 0
    tokens_generated: int = 0
    jobs_completed: int = 0
    jobs_cancelled: int = 0
    jobs_expired: int = 0
    jobs_rejected: int = 0


class ModelWorker:
    """Schedules jobs on one thread: long lane decoded step by step, short work run between its steps."""

    def __init__(self, llm: ServableLLM, limits: ServerLimits) -> None:
        self.llm = llm
        self.limits = limits
        self._cond = threading.Condition()
        self._short: deque[Job] = deque()
        self._long: deque[GenerationJob] = deque()
        self._running: list[Job] = []
        self._closed = False
        self._stats = WorkerStats()
        self._thread = threading.Thread(target=self._run, name="reasonrec-model-worker", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------- clients

    def is_long(self, job: Job) -> bool:
        return (
            isinstance(job, GenerationJob)
            and job.request.params.max_new_tokens > self.limits.short_max_tokens
        )

    def submit(self, jobs: Sequence[Job]) -> None:
        """Queue all of `jobs` or none of them (`QueueFull`)."""
        with self._cond:
            if self._closed:
                raise JobCancelled("the server is shutting down")
            if len(self._short) + len(self._long) + len(jobs) > self.limits.max_queue:
                self._stats.jobs_rejected += len(jobs)
                raise QueueFull(
                    f"{len(self._short) + len(self._long)} jobs queued (max_queue={self.limits.max_queue})"
                )
            for job in jobs:
                if self.is_long(job):
                    self._long.append(job)  # type: ignore[arg-type]
                else:
                    self._short.append(job)
            self._cond.notify()

    def cancel(self, jobs: Sequence[Job]) -> None:
        """Stop `jobs`: queued ones are dropped now, running ones stop at the next decode step."""
        with self._cond:
            for job in jobs:
                if job.future.done() or job.cancelled.is_set():
                    continue
                job.cancelled.set()
                for lane in (self._short, self._long):
                    if job in lane:
                        lane.remove(job)  # type: ignore[arg-type]
                        self._resolve_unstarted(job, JobCancelled("cancelled before it started"))

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                **vars(self._stats),
                "queued_short": len(self._short),
                "queued_long": len(self._long),
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for lane in (self._short, self._long):
                while lane:
                    self._resolve_unstarted(lane.popleft(), JobCancelled("the server is shutting down"))
            for job in self._running:
                job.cancelled.set()
            self._cond.notify_all()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------------------------------- scheduling

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._short or self._long or self._closed):
                    self._cond.wait()
                if self._closed:
                    return
                if 0 < len(self._long) < self.limits.max_batch and not self._short:
                    # long requests that arrive together share one batch: a long batch, once started, runs to
                    # its end before the next long one starts (short work still runs between its steps)
                    self._cond.wait(timeout=self.limits.long_batch_window_s)
                long_batch = self._take(self._long)
                work = long_batch or self._take(self._short)
            if work:
                self._execute(work, preemptible=bool(long_batch))

    def _take(self, lane: deque) -> list[Job]:
        """The next unit of work from `lane` (caller holds the lock): one call job, or a batch of generations
        in arrival order. Jobs whose deadline passed in the queue are answered with `JobExpired`."""
        now = time.monotonic()
        while lane and lane[0].deadline < now:
            self._resolve_unstarted(lane.popleft(), JobExpired("waited in the queue past its time budget"))
        if not lane:
            return []
        if isinstance(lane[0], CallJob):
            return [job for job in (lane.popleft(),) if self._start(job)]
        batch: list[Job] = []
        for job in list(lane):
            if len(batch) == self.limits.max_batch:
                break
            if isinstance(job, GenerationJob) and job.deadline >= now:
                lane.remove(job)
                if self._start(job):
                    batch.append(job)
        return batch

    def _start(self, job: Job) -> bool:
        """Mark the job's future running; False when its waiter already cancelled it (nothing to run)."""
        if job.future.set_running_or_notify_cancel():
            return True
        self._stats.jobs_cancelled += 1
        return False

    def _resolve_unstarted(self, job: Job, exc: Exception) -> None:
        if isinstance(exc, JobExpired):
            self._stats.jobs_expired += 1
        else:
            self._stats.jobs_cancelled += 1
        _settle(job, exception=exc)

    def _execute(self, work: list[Job], *, preemptible: bool) -> None:
        with self._cond:
            self._running.extend(work)
            self._stats.running += len(work)
        try:
            if isinstance(work[0], CallJob):
                self._call(work[0])
            else:
                self._generate(work, preemptible)  # type: ignore[arg-type]
        finally:
            with self._cond:
                for job in work:
                    self._running.remove(job)
                self._stats.running -= len(work)
                self._stats.jobs_completed += len(work)

    @staticmethod
    def _call(job: CallJob) -> None:
        try:
            result = job.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            _settle(job, exception=exc)
        else:
            _settle(job, result=result)

    def _generate(self, jobs: list[GenerationJob], preemptible: bool) -> None:
        hook = self._step_hook(jobs, preemptible)
        try:
            results = self.llm.generate([j.request for j in jobs], on_step=hook)
            if len(results) != len(jobs):
                raise RuntimeError(f"backend returned {len(results)} completions for {len(jobs)} requests")
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting requests
            for job in jobs:
                _settle(job, exception=exc)
            return
        for job, result in zip(jobs, results, strict=True):
            if result.finish_reason == "cancelled" and job.expired:
                result = replace(result, finish_reason="length")
            _settle(job, result=result)

    def _step_hook(self, jobs: list[GenerationJob], preemptible: bool) -> StepHook:
        stopped: set[int] = set()
        share = _TimeShare(self.limits.long_share)

        def on_step(tokens: list[tuple[int, int]]) -> set[int]:
            share.long_step_done()
            for index, token in tokens:
                _emit(jobs[index], token)
            with self._cond:
                self._stats.tokens_generated += len(tokens)
                waiting = preemptible and bool(self._short)
                nested = self._take(self._short) if waiting and share.short_may_run() else []
            if not waiting:
                share.reset()
            if nested:
                with share.short_unit():
                    self._execute(nested, preemptible=False)
            self._stop_finished_rows(jobs, stopped)
            share.long_step_starts()
            return stopped

        return on_step

    def _stop_finished_rows(self, jobs: list[GenerationJob], stopped: set[int]) -> None:
        """Add to `stopped` the rows whose client left or whose time budget ran out."""
        now = time.monotonic()
        for i, job in enumerate(jobs):
            if i in stopped or job.future.done():
                continue
            if job.cancelled.is_set():
                stopped.add(i)
                self._count("jobs_cancelled")
            elif now > job.deadline:
                job.expired = True
                stopped.add(i)
                self._count("jobs_expired")

    def _count(self, name: str) -> None:
        with self._cond:
            setattr(self._stats, name, getattr(self._stats, name) + 1)


def _settle(job: Job, *, result: Any = None, exception: BaseException | None = None) -> None:
    """Resolve the job's future once; a future already resolved (or cancelled by its waiter) stays as it is."""
    try:
        if exception is not None:
            job.future.set_exception(exception)
        else:
            job.future.set_result(result)
    except InvalidStateError:
        pass


def _emit(job: GenerationJob, token: int) -> None:
    if job.on_token is None:
        return
    try:
        job.on_token(token)
    except Exception:  # a broken stream consumer must not stop the other rows of the batch
        log.exception("token callback failed; the stream of this request stops here")
        job.on_token = None


class _TimeShare:
    """While short work waits, a running long batch keeps `long_share` of the worker's time: short units run
    between its steps only while the long batch has had its share since the contention began."""

    def __init__(self, long_share: float) -> None:
        self.ratio = long_share / (1.0 - long_share)
        self.long_s = self.short_s = 0.0
        self._step_started = time.monotonic()

    def long_step_done(self) -> None:
        self.long_s += time.monotonic() - self._step_started

    def long_step_starts(self) -> None:
        self._step_started = time.monotonic()

    def short_may_run(self) -> bool:
        return self.long_s >= self.ratio * self.short_s

    def reset(self) -> None:
        self.long_s = self.short_s = 0.0

    @contextmanager
    def short_unit(self) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.short_s += time.monotonic() - started
