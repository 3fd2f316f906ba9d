"""A long generation must not starve short requests, and must stop when its client goes away (real server,
real model, real sockets). Progress is read from the server's own /metrics."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from serve_helpers import metric

pytestmark = pytest.mark.model

STOP_WITHIN_S = 2.0
COUNTING = "1, 2, 3, 4, 5, 6,"  # greedy SmolLM2 keeps counting: a generation that only max_tokens ends


def _wait_for(condition, timeout_s: float, poll_s: float = 0.05) -> float:
    """Seconds until `condition()` holds (fails the test after `timeout_s`)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(poll_s)
    return time.monotonic() - start


def _running(server) -> float:
    return metric(server.root, "reasonrec_running_jobs", server.api_key)


def _long_body(server, **extra) -> dict:
    return {"model": server.model, "prompt": COUNTING, "max_tokens": 2000, "temperature": 0, **extra}


def test_short_requests_finish_while_a_long_stream_runs_and_it_stops_on_disconnect(openai_server):
    s = openai_server
    first_chunk = threading.Event()
    close_long = threading.Event()
    long_done: list[bool] = []

    def long_client() -> None:
        with httpx.stream(
            "POST",
            s.base_url + "/completions",
            json=_long_body(s, stream=True),
            headers=s.headers(),
            timeout=120,
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    first_chunk.set()
                if line == "data: [DONE]":
                    long_done.append(True)
                if close_long.is_set():
                    return  # leaving the block closes the connection mid-stream

    thread = threading.Thread(target=long_client, daemon=True)
    thread.start()
    assert first_chunk.wait(60)
    short = {
        "model": s.model,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 4,
        "temperature": 0,
    }
    for _ in range(3):
        r = httpx.post(s.base_url + "/chat/completions", json=short, headers=s.headers(), timeout=60)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 1
    assert (
        not long_done and _running(s) >= 1
    )  # the long one is still generating: shorts ran between its steps

    tokens_before = metric(s.root, "reasonrec_tokens_generated_total", s.api_key)
    close_long.set()
    thread.join(30)
    elapsed = _wait_for(lambda: _running(s) == 0, timeout_s=30)
    assert elapsed <= STOP_WITHIN_S, f"generation kept running {elapsed:.2f} s after the client left"
    settled = metric(s.root, "reasonrec_tokens_generated_total", s.api_key)
    time.sleep(0.5)
    assert metric(s.root, "reasonrec_tokens_generated_total", s.api_key) == settled >= tokens_before
    assert not long_done


def test_a_non_streaming_generation_stops_when_its_client_times_out(openai_server):
    s = openai_server
    cancelled_before = metric(s.root, "reasonrec_jobs_cancelled_total", s.api_key)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            s.base_url + "/completions",
            json=_long_body(s),
            headers=s.headers(),
            timeout=httpx.Timeout(60, read=3.0),
        )
    elapsed = _wait_for(lambda: _running(s) == 0, timeout_s=30)
    assert elapsed <= STOP_WITHIN_S, f"generation kept running {elapsed:.2f} s after the client left"
    assert metric(s.root, "reasonrec_jobs_cancelled_total", s.api_key) == cancelled_before + 1
