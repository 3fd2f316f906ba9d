"""The FastAPI app of `reasonrec llm serve`: an OpenAI-compatible API in front of a local (HF) model.

Why: every stage talks to models through the `LLM` protocol, and the `openai` backend talks HTTP. Serving a local
student behind the same API lets one pipeline run against a remote teacher and a local student alike, and lets
other tools (the official `openai` client, vLLM-style clients) generate and score with log-probs.

What it speaks (a subset of the OpenAI API plus the vLLM extensions the `openai` backend relies on):
- `GET /health` (open), `GET /v1/models`, `GET /metrics` (Prometheus text), `GET /openapi.json`;
- `POST /v1/chat/completions`: messages, temperature, top_p, max_tokens / max_completion_tokens, stop, seed, n,
  `logprobs` + `top_logprobs`, `stream` + `stream_options.include_usage`; vLLM's `add_generation_prompt`,
  `continue_final_message` (continue the final assistant message, e.g. after "Prediction:") and
  `prompt_logprobs` (log-prob of every prompt token);
- `POST /v1/completions`: prompt (a string or a list), the same sampling fields, `logprobs`, `echo` (with
  `max_tokens: 0`, only the prompt tokens' log-probs: how a client scores a multi-token choice), `stream`.
Parameters it does not implement are refused with 400 (see `schema.py`); `/docs` is not served (its page would
load scripts from a CDN), `/openapi.json` is, behind the API key.

Order of checks, each before any work the next would cost: API key (401, even for a malformed body) → body size
(413, before the body is parsed) → JSON and field validation (400) → model name (404) → unsupported parameters
and the server's caps (400) → prompt tokenised and sized (400) → a bounded queue (503 + Retry-After). Errors use
OpenAI's body `{"error": {"message", "type", "param", "code"}}`; a 500 carries only a reference to the server log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from reasonrec.serve.config import ServerLimits
from reasonrec.serve.engine import Engine
from reasonrec.serve.guard import BEARER, Guard, install_error_handlers
from reasonrec.serve.logprobs import decode_token
from reasonrec.serve.metrics import metrics_text
from reasonrec.serve.responses import (
    chat_response,
    completion_logprobs,
    completion_response,
    completion_tokens,
    vllm_prompt_entry,
)
from reasonrec.serve.schema import (
    UNSUPPORTED_CHAT,
    UNSUPPORTED_COMPLETIONS,
    APIError,
    ChatCompletionBody,
    CompletionBody,
    Neutral,
    SamplingBody,
    check_unsupported,
)
from reasonrec.serve.streaming import stream_response
from reasonrec.serve.worker import ModelWorker, ServableLLM

log = logging.getLogger("reasonrec.serve")
OPEN_PATHS = frozenset({"/health"})


def create_app(
    llm: ServableLLM,
    model_name: str,
    api_key: str | None = None,
    limits: ServerLimits | None = None,
    *,
    model_root: str | None = None,
) -> FastAPI:
    """The app serving `llm` under `model_name` (the only model `/v1/models` lists).

    `model_root` is what `/v1/models` reports as the model's `root` (vLLM's field for the underlying weights);
    clients fold it into their cache identity, so pass something that changes with the weights."""
    limits = limits or ServerLimits()
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = ModelWorker(llm, limits)
        app.state.engine = Engine(llm, limits, worker)
        try:
            yield
        finally:
            worker.close()

    app = FastAPI(
        title="reasonrec OpenAI-compatible server", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.add_middleware(
        Guard,
        api_key=api_key or None,
        max_body_bytes=limits.max_body_bytes,
        open_paths=OPEN_PATHS,
        key_headers=(BEARER,),
    )
    install_error_handlers(app, validation_status=400)

    def engine_for(request: Request) -> Engine:
        return request.app.state.engine

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": model_name}

    @app.get("/v1/models")
    async def list_models() -> dict:
        entry = {
            "id": model_name,
            "object": "model",
            "created": created,
            "owned_by": "reasonrec",
            "root": model_root or model_name,
            "max_model_len": limits.max_prompt_tokens,
        }
        return {"object": "list", "data": [entry]}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> str:
        return metrics_text(engine_for(request).worker.stats(), model_name)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionBody, request: Request) -> dict | Response:
        _check_body(body, model_name, UNSUPPORTED_CHAT)
        return await _chat(engine_for(request), body, request, model_name)

    @app.post("/v1/completions", response_model=None)
    async def completions(body: CompletionBody, request: Request) -> dict | Response:
        _check_body(body, model_name, UNSUPPORTED_COMPLETIONS)
        return await _completions(engine_for(request), body, request, model_name)

    return app


def _check_body(body: SamplingBody, model_name: str, unsupported: dict[str, Neutral]) -> None:
    """The model is the one served (404), and no parameter the server does not implement is set (400)."""
    if body.model != model_name:
        raise APIError(
            404,
            f"model {body.model!r} does not exist; this server serves {model_name!r}",
            type="not_found_error",
            param="model",
            code="model_not_found",
        )
    check_unsupported(body, unsupported)


def _refuse_with_stream(body: SamplingBody, **features: Any) -> None:
    if not body.stream:
        return
    for name, value in features.items():
        if value:
            raise APIError(400, f"{name} is not supported with stream=true", param=name)


async def _chat(engine: Engine, body: ChatCompletionBody, request: Request, model: str) -> dict | Response:
    top_k = engine.check_top(body.top_logprobs, "top_logprobs")
    if top_k and not body.logprobs:
        raise APIError(400, "top_logprobs needs logprobs=true", param="top_logprobs")
    prompt_top = (
        engine.check_top(body.prompt_logprobs, "prompt_logprobs")
        if body.prompt_logprobs is not None
        else None
    )
    _refuse_with_stream(body, logprobs=body.logprobs, prompt_logprobs=body.prompt_logprobs is not None)
    engine.check_n(body.n)
    prompt = engine.prepare(engine.render_chat(body), "messages")
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    max_tokens = engine.max_tokens(
        body.requested_max_tokens(), engine.limits.default_chat_max_tokens, len(prompt.ids), param
    )
    if body.stream:
        return stream_response(engine, [prompt], body, max_tokens, chat=True, model=model)
    results = await engine.complete(request, prompt, body, max_tokens, body.logprobs, top_k)
    response = chat_response(model, results, len(prompt.ids))
    if prompt_top is not None:
        plps = await engine.logprobs(request, prompt.ids, 1, prompt_top)
        response["prompt_logprobs"] = [None] + [vllm_prompt_entry(t) for t in plps]
    return response


async def _completions(engine: Engine, body: CompletionBody, request: Request, model: str) -> dict | Response:
    top_k = engine.check_top(body.logprobs, "logprobs")
    want_logprobs = body.logprobs is not None
    _refuse_with_stream(body, logprobs=want_logprobs)
    texts = body.prompts()
    if not texts:
        raise APIError(400, "prompt must not be empty", param="prompt")
    engine.check_n(body.n, len(texts))
    requested = body.max_tokens if body.max_tokens is not None else 16
    if requested == 0 and not body.echo:
        raise APIError(400, "max_tokens=0 is only meaningful with echo=true", param="max_tokens")
    prompts = [engine.prepare(text, "prompt") for text in texts]
    for prompt in prompts:
        engine.max_tokens(requested, requested, len(prompt.ids), "max_tokens")
    if body.stream:
        return stream_response(engine, prompts, body, requested, chat=False, model=model, echo=body.echo)
    choices: list[dict] = []
    generated = 0
    for prompt in prompts:
        results = await engine.complete(request, prompt, body, requested, want_logprobs, top_k)
        echo_lps = (
            await engine.logprobs(request, prompt.ids, 1, top_k) if body.echo and want_logprobs else None
        )
        first_token = decode_token(engine.tokenizer, prompt.ids[0]) if body.echo else None
        for c, lps in results:
            generated += completion_tokens(c, lps)
            logprobs = (
                completion_logprobs(prompt.text, first_token, prompt.offsets, echo_lps, lps)
                if want_logprobs
                else None
            )
            text = (prompt.text + c.text) if body.echo else c.text
            choices.append(
                {"index": len(choices), "text": text, "logprobs": logprobs, "finish_reason": c.finish_reason}
            )
    return completion_response(model, choices, sum(len(p.ids) for p in prompts), generated)
