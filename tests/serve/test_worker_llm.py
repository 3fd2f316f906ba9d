"""Score jobs from concurrent callers share batched forward passes; overload is `LLMUnavailable` end to end.

Control flow only: the scripted LLM records the batch sizes it was called with (the real model is exercised
by the recommendation API tests)."""

from __future__ import annotations

import threading
import time

import pytest

from reasonrec.llm.base import ChoiceScores, LLMUnavailable, ScoreRequest
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.runner import run_score
from reasonrec.llm.testing import ScriptedLLM, uniform
from reasonrec.serve.batching import WorkerLLM
from reasonrec.serve.config import ServerLimits
from reasonrec.serve.worker import ModelWorker


def slow_scorer(pass_s: float = 0.05) -> ScriptedLLM:
    """The one scripted LLM, taking `pass_s` per prompt (a "forward pass": the worker's tests bound it to one
    prompt per batch where time matters) and answering uniformly."""

    def probs(request: ScoreRequest) -> dict[str, float]:
        time.sleep(pass_s)
        return uniform(request)

    return ScriptedLLM(probs=probs, model="scorer")


def batch_sizes(llm: ScriptedLLM) -> list[int]:
    return [len(requests) for kind, requests in llm.batches if kind == "score"]


def _request(n: int) -> ScoreRequest:
    return ScoreRequest(choices=(" Yes", " No"), prompt=f"prompt {n}")


def test_each_callers_prompts_are_scored_together_and_never_split() -> None:
    """8 concurrent callers × 4 prompts: one backend call per caller (its shared prefix computed once), 4 rows."""
    backend = slow_scorer(0.01)
    limits = ServerLimits(max_batch=10, max_queue=64)
    worker = ModelWorker(backend, limits)
    llm = WorkerLLM(backend, worker, limits)
    results: dict[int, list[ChoiceScores]] = {}
    try:
        threads = [threading.Thread(target=lambda n=n: results.__setitem__(
            n, llm.score([_request(10 * n + k) for k in range(4)]))) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        worker.close()
    assert sorted(results) == list(range(8)) and all(len(r) == 4 for r in results.values())
    assert all(r.probs == {" Yes": 0.5, " No": 0.5} for rs in results.values() for r in rs)
    assert batch_sizes(backend) == [4] * 8  # max_batch=10 holds two callers: the third waits whole, never split
    stats = worker.stats()
    assert stats["scores"] == 32 and stats["score_batches"] == 8


def test_a_group_larger_than_a_batch_is_split_and_partial_groups_wait() -> None:
    from collections import deque

    from reasonrec.serve.worker import ScoreJob, _whole_groups

    def jobs(group: int, n: int) -> list[ScoreJob]:
        return [ScoreJob(deadline=time.monotonic() + 60, request=_request(n), group=group) for n in range(n)]

    big = jobs(1, 5)
    assert _whole_groups(big[:3], deque(big)) == big[:3]  # alone and larger than a batch: split
    a, b = jobs(1, 2), jobs(2, 3)
    lane = deque(a + b)
    assert _whole_groups((a + b)[:4], lane) == a  # b would be split: it waits for the next batch
    assert _whole_groups(a + b, lane) == a + b


def test_a_full_queue_is_unavailable_through_the_cache_and_the_runner(tmp_path) -> None:
    backend = slow_scorer(0.5)
    limits = ServerLimits(max_batch=1, max_queue=2, retry_after_s=3)
    worker = ModelWorker(backend, limits)
    cached = CachedLLM(WorkerLLM(backend, worker, limits), LLMCache(tmp_path / "cache.sqlite"))
    try:
        with pytest.raises(LLMUnavailable) as info:
            run_score(cached, [_request(n) for n in range(5)], batch_size=5, show=False)
    finally:
        worker.close()
    assert info.value.retry_after_s == 3
    assert "busy" in str(info.value)


def test_a_job_that_waits_past_its_budget_is_unavailable() -> None:
    backend = slow_scorer(0.6)
    limits = ServerLimits(max_batch=1, max_queue=8, request_timeout_s=0.3)
    worker = ModelWorker(backend, limits)
    llm = WorkerLLM(backend, worker, limits)
    try:
        with pytest.raises(LLMUnavailable):
            llm.score([_request(1), _request(2), _request(3)])
    finally:
        worker.close()
