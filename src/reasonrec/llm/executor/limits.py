"""A request-rate cap for any `LLM`: hosted endpoints rate-limit bursts, and a cluster must not exceed a quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from reasonrec.llm.base import LLM, ChoiceScores, Completion, GenerationRequest, ModelIdentity, ScoreRequest


class RateLimitedLLM:
    """At most `qps` requests per second on average: a call with n requests first waits for n permits.

    Permits are handed out on a schedule (the next call may start n/qps seconds after this one), so bursts are at
    most one call long and the long-run rate never exceeds `qps`, whatever the concurrency of the caller.
    """

    def __init__(
        self,
        llm: LLM,
        qps: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if qps <= 0:
            raise ValueError("qps must be > 0")
        self.llm = llm
        self.qps = qps
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start = clock()

    @property
    def identity(self) -> ModelIdentity:
        return self.llm.identity

    def acquire(self, n: int) -> float:
        """Block until `n` requests may start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + n / self.qps
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.acquire(len(requests))
        return self.llm.generate(requests)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        self.acquire(len(requests))
        return self.llm.score(requests)


__all__ = ["RateLimitedLLM"]
