"""The model worker's scheduling: lanes, interleaving, the bounded queue, deadlines and cancellation.

Control flow is tested with a scripted step-by-step backend (each decode step emits one token per active request
and calls the hook, as the hf backend does); the time budget is also checked on the real embedded model.
"""

from __future__ import annotations

import threading
import time

import pytest

from reasonrec.llm.base import Completion, GenerationRequest, SamplingParams
from reasonrec.serve.config import ServerLimits
from reasonrec.serve.worker import CallJob, GenerationJob, JobCancelled, JobExpired, ModelWorker, QueueFull

STEP_S = 0.002


class ScriptedStepLLM:
    """Emits token `100 + step` per active request per step; records (request prompt, step) in `timeline`."""

    tokenizer = None
    model = None
    max_prompt_tokens = 8192

    def __init__(self) -> None:
        self.timeline: list[tuple[str, int]] = []
        self.fail_prompts: set[str] = set()

    def generate(self, requests, *, on_step=None):
        if any(r.prompt in self.fail_prompts for r in requests):
            raise RuntimeError("scripted failure")
        tokens = {i: [] for i in range(len(requests))}
        finish: dict[int, str] = {}
        step = 0
        while len(finish) < len(requests):
            time.sleep(STEP_S)
            emitted = []
            for i, r in enumerate(requests):
                if i in finish:
                    continue
                tokens[i].append(100 + step)
                emitted.append((i, 100 + step))
                self.timeline.append((r.prompt, step))
                if len(tokens[i]) >= r.params.max_new_tokens:
                    finish[i] = "length"
            stopped = set(on_step(emitted)) if on_step else set()
            for i in stopped - set(finish):
                finish[i] = "cancelled"
            step += 1
        return [
            Completion(" ".join(map(str, tokens[i])), finish[i], 1, len(tokens[i]))
            for i in range(len(requests))
        ]


def _job(prompt: str, max_new_tokens: int, *, deadline_s: float = 60.0, on_token=None) -> GenerationJob:
    request = GenerationRequest(prompt=prompt, params=SamplingParams(max_new_tokens=max_new_tokens))
    return GenerationJob(deadline=time.monotonic() + deadline_s, request=request, on_token=on_token)


@pytest.fixture
def llm() -> ScriptedStepLLM:
    return ScriptedStepLLM()


@pytest.fixture
def worker(llm):
    w = ModelWorker(llm, ServerLimits(short_max_tokens=8, max_queue=6, max_batch=4))
    yield w
    w.close()


def _tokens_seen(n: int) -> tuple[threading.Event, callable]:
    event, count = threading.Event(), [0]

    def on_token(_: int) -> None:
        count[0] += 1
        if count[0] >= n:
            event.set()

    return event, on_token


def test_short_jobs_run_between_the_steps_of_a_long_one(worker, llm):
    started, on_token = _tokens_seen(3)
    long = _job("long", 5000, on_token=on_token)
    worker.submit([long])
    assert started.wait(10)
    shorts = [_job(f"short{i}", 4) for i in range(3)]
    worker.submit(shorts)
    results = [s.future.result(timeout=10) for s in shorts]
    assert [r.completion_tokens for r in results] == [4, 4, 4]
    assert not long.future.done()  # the long one is paused, not finished, while shorts run
    worker.cancel([long])
    assert long.future.result(timeout=5).finish_reason == "cancelled"
    long_steps = [step for prompt, step in llm.timeline if prompt == "long"]
    first_short = next(i for i, (p, _) in enumerate(llm.timeline) if p.startswith("short"))
    assert any(p == "long" for p, _ in llm.timeline[first_short:])  # the long one resumed afterwards
    assert len(long_steps) < 5000


def test_a_long_job_starts_even_when_short_jobs_keep_the_queue_busy(worker, llm):
    shorts = [_job(f"short{i}", 8) for i in range(5)]
    long = _job("long", 20)
    worker.submit([*shorts, long])
    assert long.future.result(timeout=10).completion_tokens == 20
    assert all(s.future.result(timeout=10).completion_tokens == 8 for s in shorts)
    prompts = [p for p, _ in llm.timeline]
    last_short = max(i for i, p in enumerate(prompts) if p.startswith("short"))
    assert prompts.index("long") < last_short  # the long one began before the shorts were all done


def test_a_full_queue_refuses_the_whole_submission(worker):
    blocker_started, on_token = _tokens_seen(1)
    blocker = _job("blocker", 100_000, on_token=on_token)
    worker.submit([blocker])
    assert blocker_started.wait(10)
    worker.submit([_job("long", 100, deadline_s=60) for _ in range(5)])
    with pytest.raises(QueueFull):
        worker.submit([_job("long", 100), _job("long", 100)])
    stats = worker.stats()
    assert stats["queued_long"] == 5 and stats["jobs_rejected"] == 2


def test_a_job_past_its_deadline_in_the_queue_is_never_started(worker):
    expired = _job("late", 4, deadline_s=-1.0)
    worker.submit([expired])
    with pytest.raises(JobExpired):
        expired.future.result(timeout=10)
    assert worker.stats()["jobs_expired"] == 1


def test_the_time_budget_cuts_a_running_generation_as_length(worker):
    job = _job("budget", 100_000, deadline_s=0.3)
    worker.submit([job])
    result = job.future.result(timeout=10)
    assert result.finish_reason == "length" and 0 < result.completion_tokens < 100_000
    assert worker.stats()["jobs_expired"] == 1


def test_cancelling_a_queued_job_frees_its_slot(worker):
    started, on_token = _tokens_seen(1)
    worker.submit([_job("blocker", 100_000, on_token=on_token)])
    assert started.wait(10)
    queued = _job("queued", 100)
    worker.submit([queued])
    worker.cancel([queued])
    with pytest.raises(JobCancelled):
        queued.future.result(timeout=5)
    assert worker.stats()["queued_long"] == 0


def test_a_backend_failure_fails_its_jobs_and_the_worker_goes_on(worker, llm):
    llm.fail_prompts.add("bad")
    bad, good = _job("bad", 4), _job("good", 4)
    worker.submit([bad])
    with pytest.raises(RuntimeError, match="scripted failure"):
        bad.future.result(timeout=10)
    worker.submit([good])
    assert good.future.result(timeout=10).completion_tokens == 4


def test_forward_pass_jobs_run_in_the_short_lane(worker):
    started, on_token = _tokens_seen(2)
    long = _job("long", 100_000, on_token=on_token)
    worker.submit([long])
    assert started.wait(10)
    call = CallJob(deadline=time.monotonic() + 60, fn=lambda: "forward pass done")
    worker.submit([call])
    assert call.future.result(timeout=10) == "forward pass done" and not long.future.done()
    worker.cancel([long])


def test_close_answers_every_queued_job(llm):
    w = ModelWorker(llm, ServerLimits(short_max_tokens=8, max_queue=10))
    started, on_token = _tokens_seen(1)
    running = _job("running", 100_000, on_token=on_token)
    w.submit([running])
    assert started.wait(10)
    queued = [_job("queued", 100) for _ in range(3)]
    w.submit(queued)
    w.close()
    assert running.future.result(timeout=5).finish_reason == "cancelled"
    for job in queued:
        assert isinstance(job.future.exception(timeout=5), JobCancelled)
    with pytest.raises(JobCancelled):
        w.submit([_job("after", 4)])


@pytest.mark.model
def test_time_budget_on_the_real_model(hf_backend):
    w = ModelWorker(hf_backend, ServerLimits(request_timeout_s=1.5))
    try:
        params = SamplingParams(temperature=0.0, max_new_tokens=3000)
        job = GenerationJob(
            deadline=time.monotonic() + 1.5, request=GenerationRequest(prompt="1, 2, 3, 4, 5,", params=params)
        )
        started = time.monotonic()
        w.submit([job])
        result: Completion = job.future.result(timeout=60)
        assert result.finish_reason == "length" and 0 < result.completion_tokens < 3000
        assert time.monotonic() - started < 10
        assert result.text.startswith(" 6")
    finally:
        w.close()


def _long_steps_per_short_unit(llm: ScriptedStepLLM, long_share: float) -> float:
    """Long decode steps per short unit while a feeder keeps two short jobs queued for 0.5 s."""
    w = ModelWorker(llm, ServerLimits(short_max_tokens=8, max_batch=2, long_share=long_share))
    try:
        started, on_token = _tokens_seen(1)
        long = _job("long", 100_000, on_token=on_token)
        w.submit([long])
        assert started.wait(10)
        units = 0
        until = time.monotonic() + 0.5
        while time.monotonic() < until:
            pair = [_job("short", 4), _job("short", 4)]
            w.submit(pair)
            for job in pair:
                job.future.result(timeout=10)
            units += 1
        w.cancel([long])
        long.future.result(timeout=10)
    finally:
        w.close()
    return sum(p == "long" for p, _ in llm.timeline) / units


def test_a_long_batch_keeps_its_share_while_short_work_keeps_coming():
    starved = _long_steps_per_short_unit(ScriptedStepLLM(), long_share=0.0)
    shared = _long_steps_per_short_unit(ScriptedStepLLM(), long_share=0.5)
    # a short unit is 4 steps: with half the time the long batch makes ~4 steps per unit, without it ~1
    assert starved < 2.0 < shared


def test_a_future_cancelled_by_its_waiter_is_skipped_and_the_worker_goes_on(worker):
    started, on_token = _tokens_seen(1)
    blocker = _job("blocker", 100_000, on_token=on_token)
    worker.submit([blocker])
    assert started.wait(10)
    abandoned = _job("abandoned", 100)
    worker.submit([abandoned])
    assert abandoned.future.cancel()  # what asyncio.wrap_future does when the awaiting task is cancelled
    worker.cancel([blocker])
    after = _job("after", 4)
    worker.submit([after])
    assert after.future.result(timeout=10).completion_tokens == 4
    assert abandoned.future.cancelled()
