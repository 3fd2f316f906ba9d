"""Retry and error behaviour of the `openai` backend against small real HTTP servers on 127.0.0.1.

Each scripted server (stdlib http.server in a thread) answers from a list of steps — an HTTP status + JSON body,
a cut connection, or a stall past the client timeout — and records when each attempt arrived. No HTTP mocking:
the backend's real httpx client talks to a real socket.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reasonrec.errors import LLMError
from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.openai import OpenAIBackend

OK_CHAT = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}
MESSAGES = (Message("user", "How are you?"),)


@dataclass
class Step:
    status: int = 200
    body: dict | None = None
    cut: bool = False  # close the connection without any response
    stall_s: float = 0.0  # sleep before answering (to trigger client timeouts)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    steps: list[Step]
    arrivals: list[float] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@contextmanager
def scripted_server(steps: list[Step]) -> Iterator[tuple[str, Script]]:
    """Serve `steps` in order (the last one repeats) on a free loopback port; yields (base_url, script)."""
    script = Script(steps)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            with lock:
                script.arrivals.append(time.monotonic())
                script.bodies.append(json.loads(raw) if raw else {})
                script.paths.append(self.path)
                step = script.steps[min(len(script.arrivals) - 1, len(script.steps) - 1)]
            if step.stall_s:
                time.sleep(step.stall_s)
            if step.cut:
                self.close_connection = True
                self.connection.close()
                return
            payload = json.dumps(step.body if step.body is not None else {}).encode()
            self.send_response(step.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for k, v in step.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


def _backend(url: str, **kwargs) -> OpenAIBackend:
    kwargs.setdefault("backoff_base", 0.05)
    kwargs.setdefault("verify_model", False)
    return OpenAIBackend(url, "m", api_key_env=None, timeout=kwargs.pop("timeout", 5.0), **kwargs)


def _gen() -> list[GenerationRequest]:
    return [GenerationRequest(messages=MESSAGES, params=SamplingParams(max_new_tokens=4))]


def test_retries_429_then_500_then_succeeds_with_growing_backoff():
    steps = [
        Step(429, {"error": {"message": "slow down"}}),
        Step(500, {"error": {"message": "boom"}}),
        Step(200, OK_CHAT),
    ]
    with scripted_server(steps) as (url, script):
        backend = _backend(url)
        out = backend.generate(_gen())
    assert out[0].text == "fine" and out[0].finish_reason == "stop"
    assert len(script.arrivals) == 3 and backend.retries == 2
    gap1, gap2 = (b - a for a, b in zip(script.arrivals, script.arrivals[1:], strict=False))
    # equal jitter: attempt k waits in [base*2^k/2, base*2^k]
    assert gap1 >= 0.025 and gap2 >= 0.05
    assert script.paths == ["/v1/chat/completions"] * 3
    assert script.bodies[0]["messages"] == [{"role": "user", "content": "How are you?"}]


def test_retry_after_header_is_honoured():
    steps = [Step(429, {"error": {"message": "rate"}}, headers={"Retry-After": "0.4"}), Step(200, OK_CHAT)]
    with scripted_server(steps) as (url, script):
        _backend(url, backoff_base=0.01).generate(_gen())
    assert script.arrivals[1] - script.arrivals[0] >= 0.4


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_request_errors_are_never_retried(status):
    steps = [
        Step(status, {"error": {"message": f"bad thing {status}", "param": "messages"}}),
        Step(200, OK_CHAT),
    ]
    with scripted_server(steps) as (url, script):
        backend = _backend(url)
        with pytest.raises(
            LLMError, match=rf"HTTP {status} \(not retried\): bad thing {status} \(param messages\)"
        ):
            backend.generate(_gen())
    assert len(script.arrivals) == 1 and backend.retries == 0


@pytest.mark.parametrize(
    "error",
    [
        {"message": "backend failed to generate: prompt has 4000 tokens; limit 4096 incl. max_new_tokens"},
        {"message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."},
        {"message": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048"},
        {"message": "the request exceeds the available context size"},
        {"message": "boom", "code": "context_length_exceeded"},
        {"message": "boom", "type": "invalid_request_error"},
    ],
)
def test_context_errors_misreported_as_5xx_are_not_retried(error):
    with scripted_server([Step(500, {"error": error}), Step(200, OK_CHAT)]) as (url, script):
        backend = _backend(url)
        with pytest.raises(LLMError, match=r"HTTP 500 \(not retried\)"):
            backend.generate(_gen())
    assert len(script.arrivals) == 1 and backend.retries == 0


def test_cut_connection_and_timeout_are_retried():
    steps = [Step(cut=True), Step(stall_s=1.0, body=OK_CHAT), Step(200, OK_CHAT)]
    with scripted_server(steps) as (url, script):
        backend = _backend(url, timeout=0.3, backoff_base=0.01)
        out = backend.generate(_gen())
    assert out[0].text == "fine"
    assert len(script.arrivals) == 3


def test_gives_up_after_max_retries():
    with scripted_server([Step(503, {"error": {"message": "overloaded"}})]) as (url, script):
        backend = _backend(url, max_retries=2, backoff_base=0.01)
        with pytest.raises(LLMError, match="giving up after 3 attempts.*overloaded"):
            backend.generate(_gen())
    assert len(script.arrivals) == 3


def test_assistant_prefix_is_continued_and_raw_prompts_use_completions():
    ok_completion = {"choices": [{"index": 0, "text": " Yes", "finish_reason": "length"}], "usage": {}}
    with scripted_server([Step(200, OK_CHAT)]) as (url, script):
        _backend(url).generate(
            [
                GenerationRequest(
                    messages=MESSAGES, assistant_prefix="Prediction:", params=SamplingParams(stop=("\n",))
                )
            ]
        )
    body = script.bodies[0]
    assert body["messages"][-1] == {"role": "assistant", "content": "Prediction:"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["stop"] == ["\n"] and body["temperature"] == 0.0
    with scripted_server([Step(200, ok_completion)]) as (url, script):
        out = _backend(url).generate([GenerationRequest(prompt="Q: ok?\n", assistant_prefix="A:")])
    assert script.paths == ["/v1/completions"] and script.bodies[0]["prompt"] == "Q: ok?\nA:"
    assert out[0].text == " Yes"


def test_samples_get_distinct_seeds():
    with scripted_server([Step(200, OK_CHAT)]) as (url, script):
        params = SamplingParams(temperature=0.8, seed=3)
        _backend(url, max_concurrency=1).generate(
            [GenerationRequest(messages=MESSAGES, params=params, sample_index=i) for i in range(4)]
        )
    seeds = [b["seed"] for b in script.bodies]
    assert len(set(seeds)) == 4 and seeds[0] == 3


def test_score_without_logprobs_is_an_error_not_a_guess():
    with scripted_server([Step(200, OK_CHAT)]) as (url, _), pytest.raises(LLMError, match="no logprobs"):
        _backend(url).score([ScoreRequest(choices=(" Yes", " No"), messages=MESSAGES)])


def test_score_reads_top_logprobs_and_normalises():
    top = [
        {"token": " Yes", "logprob": -0.5},
        {"token": " No", "logprob": -1.5},
        {"token": " I", "logprob": -3.0},
    ]
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"content": " Yes"},
                "finish_reason": "length",
                "logprobs": {"content": [{"token": " Yes", "logprob": -0.5, "top_logprobs": top}]},
            }
        ],
        "usage": {"prompt_tokens": 9},
    }
    with scripted_server([Step(200, body)]) as (url, script):
        scores = _backend(url).score(
            [ScoreRequest(choices=(" Yes", " No"), messages=MESSAGES, assistant_prefix="Prediction:")]
        )[0]
    assert scores.logprobs == {" Yes": -0.5, " No": -1.5}
    assert scores.probs[" Yes"] == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert scores.prompt_tokens == 9
    sent = script.bodies[0]
    assert sent["max_tokens"] == 1 and sent["logprobs"] is True and sent["top_logprobs"] == 20


def test_identity_uses_the_servers_reported_model():
    listing = {"object": "list", "data": [{"id": "m", "root": "weights-A"}]}
    other = {"object": "list", "data": [{"id": "m", "root": "weights-B"}]}
    with scripted_server([Step(200, listing)]) as (url, _):
        a = OpenAIBackend(url, "m", api_key_env=None).identity
    with scripted_server([Step(200, other)]) as (url2, _):
        b = OpenAIBackend(url2, "m", api_key_env=None).identity
    assert a.backend == "openai" and a.model == "m" and a.model_hash != b.model_hash
    with scripted_server([Step(200, listing)]) as (url, _), pytest.raises(LLMError, match="not served"):
        _ = OpenAIBackend(url, "missing", api_key_env=None).identity
