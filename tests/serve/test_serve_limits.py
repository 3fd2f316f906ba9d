"""Server limits over real HTTP: a full queue (503 + Retry-After), the per-request time budget, and 500 bodies
without internals. The app runs in-process under uvicorn on 127.0.0.1 around the real embedded model."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest
from serve_helpers import serve_in_thread
from server_probes import LEAK

from reasonrec.serve.app import create_app
from reasonrec.serve.config import ServerLimits

pytestmark = pytest.mark.model
MODEL = "smol"


def _long_stream(root: str, started: threading.Event, stop: threading.Event) -> None:
    body = {"model": MODEL, "prompt": "1, 2, 3, 4,", "max_tokens": 1000, "temperature": 0, "stream": True}
    with httpx.stream("POST", root + "/v1/completions", json=body, timeout=120) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                started.set()
            if stop.is_set():
                return


def test_a_full_queue_answers_503_with_retry_after(hf_backend):
    app = create_app(hf_backend, MODEL, limits=ServerLimits(max_queue=2, max_tokens=1000))
    with serve_in_thread(app) as root:
        started, stop = threading.Event(), threading.Event()
        thread = threading.Thread(target=_long_stream, args=(root, started, stop), daemon=True)
        thread.start()
        assert started.wait(60)
        body = {"model": MODEL, "prompt": "a, b, c,", "max_tokens": 500, "n": 3}
        r = httpx.post(root + "/v1/completions", json=body, timeout=60)
        stop.set()
        thread.join(30)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "queue_full"


def test_the_time_budget_returns_the_text_so_far_as_length(hf_backend):
    app = create_app(hf_backend, MODEL, limits=ServerLimits(request_timeout_s=1.5, max_tokens=3000))
    with serve_in_thread(app) as root:
        body = {"model": MODEL, "prompt": "1, 2, 3, 4, 5,", "max_tokens": 3000, "temperature": 0}
        r = httpx.post(root + "/v1/completions", json=body, timeout=60)
        metrics = httpx.get(root + "/metrics").text
    choice = r.json()["choices"][0]
    assert r.status_code == 200 and choice["finish_reason"] == "length"
    assert 0 < r.json()["usage"]["completion_tokens"] < 3000 and choice["text"].startswith(" 6")
    assert 'reasonrec_jobs_expired_total{model="smol"} 1' in metrics


class BrokenGenerate:
    """The real model whose generate raises with internals in the message (a backend bug)."""

    def __init__(self, llm) -> None:
        self.tokenizer, self.model, self.max_prompt_tokens = llm.tokenizer, llm.model, llm.max_prompt_tokens

    def generate(self, requests, *, on_step=None):
        raise RuntimeError("CUDA error at /work/secret/path/model.py:42 object at 0x7f00")


def test_a_backend_failure_is_a_500_with_a_reference_only(hf_backend, caplog):
    app = create_app(BrokenGenerate(hf_backend), MODEL)
    caplog.set_level(logging.ERROR, logger="reasonrec.serve")
    with serve_in_thread(app) as root:
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        r = httpx.post(root + "/v1/chat/completions", json=chat, timeout=60)
        streamed = httpx.post(root + "/v1/chat/completions", json={**chat, "stream": True}, timeout=60)
    assert r.status_code == 500
    message = r.json()["error"]["message"]
    assert message.startswith("internal server error (reference ") and not LEAK.search(r.text)
    reference = message.split("reference ")[1].split(")")[0]
    assert any(reference in rec.getMessage() and "/work/secret" in rec.getMessage() for rec in caplog.records)
    assert streamed.status_code == 200 and '"error"' in streamed.text and not LEAK.search(streamed.text)
    assert streamed.text.rstrip().endswith("data: [DONE]")
