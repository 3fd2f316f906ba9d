"""Score jobs from concurrent callers share batched forward passes; overload is `LLMUnavailable` end to end.

Control flow only: a scripted backend records the batch sizes it was called with (the real model is exercised
by the recommendation API tests)."""

from __future__ import annotations

import threading
import time

import pytest

from reasonrec.llm.base import ChoiceScores, LLMUnavailable, ModelIdentity, ScoreRequest
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.runner import run_score
from reasonrec.serve.batching import WorkerLLM
from reasonrec.serve.config import ServerLimits
from reasonrec.serve.worker import ModelWorker


class ScriptedScorer:
    tokenizer = None
    model = None
    max_prompt_tokens = 8192
    identity = ModelIdentity(backend="scripted", model="scorer", model_hash="0")

    def __init__(self, pass_s: float = 0.05) -> None:
        self.batches: list[int] = []
        self.pass_s = pass_s

    def score(self, requests):
        time.sleep(self.pass_s)  # one "forward pass" per call, whatever its size
        self.batches.append(len(requests))
        return [ChoiceScores({c: 1.0 / len(r.choices) for c in r.choices}, {}) for r in requests]

    def generate(self, requests, *, on_step=None):
        raise AssertionError("not used")


def _request(n: int) -> ScoreRequest:
    return ScoreRequest(choices=(" Yes", " No"), prompt=f"prompt {n}")


def test_each_callers_prompts_are_scored_together_and_never_split() -> None:
    """8 concurrent callers × 4 prompts: one backend call per caller (its shared prefix computed once), 4 rows."""
    backend = ScriptedScorer()
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
    assert backend.batches == [4] * 8  # max_batch=10 holds two callers: the third waits whole, never split
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
    backend = ScriptedScorer(pass_s=0.5)
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
    backend = ScriptedScorer(pass_s=0.6)
    limits = ServerLimits(max_batch=1, max_queue=8, request_timeout_s=0.3)
    worker = ModelWorker(backend, limits)
    llm = WorkerLLM(backend, worker, limits)
    try:
        with pytest.raises(LLMUnavailable):
            llm.score([_request(1), _request(2), _request(3)])
    finally:
        worker.close()
