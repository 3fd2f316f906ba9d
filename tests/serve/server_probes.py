"""Hostile and careless requests against `reasonrec llm serve`, as one table of cases → expected outcome.

Used by `test_server_probes.py` (the regression suite) and by `bench/hostile_server.py` (which counts them).
Every probe is answered before any generation starts, so the table runs in seconds. A probe passes when the
status is the expected one, an error body is OpenAI-shaped, and no body carries internals (tracebacks, file
paths, exception class names, object addresses).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

# The limits both the test fixture and the bench start the server with (the probes below depend on them).
MAX_PROMPT_TOKENS = 512
MAX_TOKENS = (
    8000  # with a 512-token cap on prompts, a near-cap max_tokens can overflow the 8192-token context
)
MAX_N = 4
MAX_TOP_LOGPROBS = 20
MAX_BODY_BYTES = 65536
SERVER_LIMIT_ARGS = [
    "--max-prompt-tokens",
    str(MAX_PROMPT_TOKENS),
    "--max-tokens",
    str(MAX_TOKENS),
    "--max-n",
    str(MAX_N),
    "--max-top-logprobs",
    str(MAX_TOP_LOGPROBS),
    "--max-body-bytes",
    str(MAX_BODY_BYTES),
]

LEAK = re.compile(
    r"Traceback|File \"|site-packages|\.py\b|/usr/|/work/|/root/|/home/|/tmp/| object at 0x|<class '|"
    r"\b(RuntimeError|KeyError|TypeError|AttributeError|ValueError|IndexError|AssertionError|RecursionError|"
    r"OSError|Exception)\b"
)


@dataclass(frozen=True)
class Probe:
    name: str
    path: str
    body: Any = None  # dict/list → JSON; bytes → sent as is; None → no body
    expect: int = 400
    method: str = "POST"
    auth: str = "good"  # good | none | wrong
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # send the bytes without Content-Length


CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
HI = [{"role": "user", "content": "hi"}]


def _chat(model: str, **fields: Any) -> dict:
    return {"model": model, "messages": HI, "max_tokens": 1, **fields}


def _completion(model: str, **fields: Any) -> dict:
    return {"model": model, "prompt": "hi", "max_tokens": 1, **fields}


def _auth_and_size_probes(model: str) -> list[Probe]:
    big = b'{"model": "x", "prompt": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    return [
        Probe("models without key", "/v1/models", method="GET", auth="none", expect=401),
        Probe("models with wrong key", "/v1/models", method="GET", auth="wrong", expect=401),
        Probe(
            "key without Bearer",
            "/v1/models",
            method="GET",
            auth="none",
            expect=401,
            headers={"Authorization": "test-key-not-secret"},
        ),
        Probe(
            "basic auth scheme",
            "/v1/models",
            method="GET",
            auth="none",
            expect=401,
            headers={"Authorization": "Basic dGVzdDp0ZXN0"},
        ),
        Probe("no key + invalid JSON", CHAT, b"{not json", auth="none", expect=401),
        Probe("no key + invalid body", CHAT, {"model": 1}, auth="none", expect=401),
        Probe("no key + oversize body", CHAT, big, auth="none", expect=401),
        Probe("metrics without key", "/metrics", method="GET", auth="none", expect=401),
        Probe("openapi without key", "/openapi.json", method="GET", auth="none", expect=401),
        Probe("docs without key", "/docs", method="GET", auth="none", expect=401),
        Probe("docs not served (no CDN)", "/docs", method="GET", expect=404),
        Probe("redoc not served", "/redoc", method="GET", expect=404),
        Probe("health is open", "/health", method="GET", auth="none", expect=200),
        Probe("body over limit (Content-Length)", CHAT, big, expect=413),
        Probe("body over limit (chunked)", CHAT, big, expect=413, chunked=True),
        Probe("2 MB prompt", COMPLETIONS, _completion(model, prompt="apple " * 350_000), expect=413),
    ]


def _json_probes(model: str) -> list[Probe]:
    nested = b"[" * 30_000 + b"]" * 30_000  # under the body limit: the parser's recursion is what is probed
    return [
        Probe("invalid JSON", CHAT, b"{not json"),
        Probe("empty body", CHAT, b""),
        Probe("JSON array body", CHAT, [1, 2, 3]),
        Probe("JSON string body", CHAT, "hello"),
        Probe("JSON null body", CHAT, b"null"),
        Probe("deeply nested JSON", CHAT, nested),
        Probe("invalid UTF-8", CHAT, b'{"model": "\xff\xfe", "messages": []}'),
        Probe(
            "NaN temperature",
            CHAT,
            b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], '
            b'"temperature": NaN}' % model.encode(),
        ),
        Probe(
            "Infinity top_p",
            COMPLETIONS,
            b'{"model": "%s", "prompt": "hi", "top_p": Infinity}' % model.encode(),
        ),
        Probe(
            "form-encoded body",
            CHAT,
            b"model=x&messages=y",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
    ]


def _field_probes(model: str) -> list[Probe]:
    return [
        Probe("missing model", CHAT, {"messages": HI}),
        Probe("missing messages", CHAT, {"model": model}),
        Probe("empty messages", CHAT, {"model": model, "messages": []}),
        Probe("unknown role", CHAT, _chat(model, messages=[{"role": "robot", "content": "x"}])),
        Probe(
            "tool role", CHAT, _chat(model, messages=[{"role": "tool", "content": "x", "tool_call_id": "1"}])
        ),
        Probe(
            "image content part",
            CHAT,
            _chat(
                model,
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}],
                    }
                ],
            ),
        ),
        Probe("null content", CHAT, _chat(model, messages=[{"role": "user", "content": None}])),
        Probe(
            "message name field", CHAT, _chat(model, messages=[{"role": "user", "content": "x", "name": "a"}])
        ),
        Probe("model is a number", CHAT, {"model": 7, "messages": HI}),
        Probe("unknown model", CHAT, _chat("gpt-4o"), expect=404),
        Probe("path-like model", CHAT, _chat("../../etc/passwd"), expect=404),
        Probe("temperature 3", CHAT, _chat(model, temperature=3)),
        Probe("negative temperature", CHAT, _chat(model, temperature=-1)),
        Probe("top_p 0", CHAT, _chat(model, top_p=0)),
        Probe("negative max_tokens", CHAT, _chat(model, max_tokens=-1)),
        Probe("max_tokens 10^12", CHAT, _chat(model, max_tokens=10**12)),
        Probe("max_tokens above cap", CHAT, _chat(model, max_tokens=MAX_TOKENS + 1)),
        Probe("max_completion_tokens above cap", CHAT, _chat(model, max_completion_tokens=MAX_TOKENS + 1)),
        Probe(
            "max_tokens above context room",
            COMPLETIONS,
            _completion(model, prompt="word " * 400, max_tokens=MAX_TOKENS),
        ),
        Probe("n 0", CHAT, _chat(model, n=0)),
        Probe("n above cap", CHAT, _chat(model, n=MAX_N + 1)),
        Probe("n 10^6", COMPLETIONS, _completion(model, n=10**6)),
        Probe("empty stop string", CHAT, _chat(model, stop=[""])),
        Probe("100 stop strings", CHAT, _chat(model, stop=[f"s{i}" for i in range(100)])),
        Probe("10k-char stop string", CHAT, _chat(model, stop="x" * 10_000)),
        Probe("seed 2^70", CHAT, _chat(model, seed=2**70)),
        Probe("top_logprobs above cap", CHAT, _chat(model, logprobs=True, top_logprobs=MAX_TOP_LOGPROBS + 1)),
        Probe("top_logprobs without logprobs", CHAT, _chat(model, top_logprobs=2)),
        Probe("prompt_logprobs 10^4", CHAT, _chat(model, prompt_logprobs=10_000)),
        Probe("completions logprobs 10^4", COMPLETIONS, _completion(model, logprobs=10_000)),
        Probe("unknown parameter", CHAT, _chat(model, frobnicate=True)),
        Probe("vLLM-only top_k", CHAT, _chat(model, top_k=5)),
        Probe("prompt over max_prompt_tokens", COMPLETIONS, _completion(model, prompt="apple " * 2000)),
        Probe("empty prompt", COMPLETIONS, _completion(model, prompt="")),
        Probe("empty prompt list", COMPLETIONS, _completion(model, prompt=[])),
        Probe("token-id prompt", COMPLETIONS, _completion(model, prompt=[1, 2, 3])),
        Probe("17 prompts", COMPLETIONS, _completion(model, prompt=["hi"] * 17)),
        Probe("max_tokens 0 without echo", COMPLETIONS, _completion(model, max_tokens=0)),
        Probe(
            "continue without assistant turn",
            CHAT,
            _chat(model, continue_final_message=True, add_generation_prompt=False),
        ),
        Probe(
            "continue + generation prompt",
            CHAT,
            _chat(model, messages=[*HI, {"role": "assistant", "content": "x"}], continue_final_message=True),
        ),
    ]


def _unsupported_probes(model: str) -> list[Probe]:
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    return [
        Probe("tools", CHAT, _chat(model, tools=[tool])),
        Probe("tool_choice auto", CHAT, _chat(model, tool_choice="auto")),
        Probe("functions", CHAT, _chat(model, functions=[{"name": "f"}])),
        Probe("function_call", CHAT, _chat(model, function_call="auto")),
        Probe("JSON mode", CHAT, _chat(model, response_format={"type": "json_object"})),
        Probe("JSON schema", CHAT, _chat(model, response_format={"type": "json_schema", "json_schema": {}})),
        Probe("logit_bias", CHAT, _chat(model, logit_bias={"1": 100})),
        Probe("frequency_penalty", CHAT, _chat(model, frequency_penalty=1.5)),
        Probe("presence_penalty", COMPLETIONS, _completion(model, presence_penalty=1.0)),
        Probe("audio output", CHAT, _chat(model, modalities=["text", "audio"], audio={"voice": "x"})),
        Probe("reasoning_effort", CHAT, _chat(model, reasoning_effort="high")),
        Probe("store", CHAT, _chat(model, store=True)),
        Probe("web search", CHAT, _chat(model, web_search_options={})),
        Probe("best_of", COMPLETIONS, _completion(model, best_of=3)),
        Probe("suffix", COMPLETIONS, _completion(model, suffix="end")),
        Probe("stream + logprobs", CHAT, _chat(model, stream=True, logprobs=True)),
        Probe("stream + completions logprobs", COMPLETIONS, _completion(model, stream=True, logprobs=1)),
        Probe("stream_options without stream", CHAT, _chat(model, stream_options={"include_usage": True})),
        Probe(
            "stream obfuscation",
            CHAT,
            _chat(model, stream=True, stream_options={"include_obfuscation": True}),
        ),
        Probe("stream with max_tokens 0", CHAT, _chat(model, stream=True, max_tokens=0)),
    ]


def _route_probes() -> list[Probe]:
    return [
        Probe("GET on chat", CHAT, method="GET", expect=405),
        Probe("POST on models", "/v1/models", {}, expect=405),
        Probe("unknown route", "/v1/embeddings", {"input": "x"}, expect=404),
        Probe("path traversal", "/v1/../../etc/passwd", method="GET", expect=404),
        Probe("encoded traversal", "/v1/%2e%2e/%2e%2e/etc/passwd", method="GET", expect=404),
        Probe("DELETE models", "/v1/models", method="DELETE", expect=405),
    ]


def server_probes(model: str) -> list[Probe]:
    """Every probe for a server started with SERVER_LIMIT_ARGS serving `model`."""
    return [
        *_auth_and_size_probes(model),
        *_json_probes(model),
        *_field_probes(model),
        *_unsupported_probes(model),
        *_route_probes(),
    ]


def send(client: httpx.Client, base: str, key: str, probe: Probe) -> httpx.Response:
    """`base` is the server root (no /v1)."""
    headers = {"content-type": "application/json"}
    if probe.auth == "good":
        headers["Authorization"] = f"Bearer {key}"
    elif probe.auth == "wrong":
        headers["Authorization"] = "Bearer wrong-key"
    headers.update(probe.headers)
    body = probe.body
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    if probe.chunked and body is not None:
        content: Any = iter([body[i : i + 8192] for i in range(0, len(body), 8192)])
    else:
        content = body
    return client.request(probe.method, base + probe.path, content=content, headers=headers)


def problems(probe: Probe, response: httpx.Response) -> list[str]:
    """What is wrong with the answer to `probe` (empty when it passes)."""
    found = []
    if response.status_code != probe.expect:
        found.append(f"status {response.status_code}, expected {probe.expect}")
    if LEAK.search(response.text):
        found.append(f"internals in the body: {LEAK.search(response.text).group(0)!r}")
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            if not isinstance(error.get("message"), str) or not error["message"]:
                found.append("error body without a message")
        except (ValueError, KeyError, TypeError):
            found.append(f"error body is not OpenAI-shaped: {response.text[:120]!r}")
    return found
