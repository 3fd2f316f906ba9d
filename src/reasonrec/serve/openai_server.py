"""An OpenAI-compatible HTTP server in front of a local (HF) backend: `reasonrec llm serve`.

Why: every stage talks to models through the `LLM` protocol, and the `openai` backend talks HTTP. Serving a
local student behind the same API lets one pipeline run against a remote teacher and a local student alike,
and lets other tools (or vLLM-style clients) score with log-probs.

What it speaks (a subset of the OpenAI API plus the vLLM extensions the `openai` backend relies on):
- `GET /health`, `GET /v1/models`
- `POST /v1/chat/completions`: messages, temperature, top_p, max_tokens, stop, seed, n, `logprobs: bool` +
  `top_logprobs: int`; vLLM extensions `add_generation_prompt`, `continue_final_message` (the final assistant
  message is continued, e.g. after "Prediction:") and `prompt_logprobs: int` (log-prob of every prompt token).
- `POST /v1/completions`: prompt (string or list of strings), the same sampling fields, `logprobs: int`, and
  `echo: true` (with `max_tokens: 0` this returns only the prompt tokens' log-probs — how a client scores a
  multi-token choice: send prompt+choice and sum the choice tokens' log-probs).

Text is generated through the backend's own batched `generate` (requests arriving together are batched by one
worker thread that owns the model). Log-probs come from one teacher-forced forward pass over prompt + generated
tokens, where the generated text is re-tokenised (for a tiny fraction of outputs the re-tokenisation can differ
from the sampled token ids; the text is always the backend's). Reported log-probs are the raw model
distribution (log-softmax of the logits, before temperature / top-p), as in vLLM.

Errors use OpenAI's body `{"error": {"message", "type", "param", "code"}}`: 400 for invalid bodies/params and
oversize prompts, 401 for a missing/wrong API key, 404 for an unknown model, 500 for a backend failure.
"""

from __future__ import annotations

import asyncio
import hmac
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from reasonrec.llm.base import Completion, GenerationRequest, SamplingParams

DEFAULT_MAX_PROMPT_TOKENS = 2048
DEFAULT_MAX_TOP_LOGPROBS = 20
LM_HEAD_CHUNK = (
    256  # positions per lm_head chunk: keeps a 2k-token echo pass far below a full [L, V] logits tensor
)


class ServableLLM(Protocol):
    """What the server needs from a backend: batched `generate` plus the tokenizer and torch model it runs."""

    tokenizer: Any
    model: Any

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...


# ----------------------------------------------------------------------------------------------- errors


class APIError(Exception):
    """An error with an HTTP status and an OpenAI-style body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(status_code=self.status, content=body, headers=headers)


# ----------------------------------------------------------------------------------------------- request bodies


class _Body(BaseModel):
    # Unknown OpenAI fields (user, frequency_penalty, ...) are accepted and ignored, as vLLM does.
    model_config = ConfigDict(extra="ignore")


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(_Body):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class _SamplingBody(_Body):
    model: str
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=0)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=16)
    stream: bool = False

    @field_validator("stop")
    @classmethod
    def _stop_not_empty(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else (value or [])
        if any(s == "" for s in stops):
            raise ValueError("stop strings must be non-empty")
        return value

    def stop_tuple(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatCompletionBody(_SamplingBody):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    prompt_logprobs: int | None = Field(None, ge=0)


class CompletionBody(_SamplingBody):
    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0)
    echo: bool = False
    max_tokens: int | None = Field(16, ge=0)


# ----------------------------------------------------------------------------------------------- model worker


@dataclass
class _GenerateJob:
    request: GenerationRequest
    future: Future


@dataclass
class _CallJob:
    fn: Callable[[], Any]
    future: Future


class ModelWorker:
    """One thread owns the model: generation jobs that arrive together go to `llm.generate` as one batch,
    forward passes (log-probs) run between batches. Serialising keeps torch off concurrent threads."""

    def __init__(self, llm: ServableLLM, *, max_batch: int = 8, batch_window_s: float = 0.01) -> None:
        self.llm = llm
        self.max_batch = max_batch
        self.batch_window_s = batch_window_s
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="reasonrec-model-worker", daemon=True)
        self._thread.start()

    def generate(self, request: GenerationRequest) -> Future:
        fut: Future = Future()
        self._queue.put(_GenerateJob(request, fut))
        return fut

    def call(self, fn: Callable[[], Any]) -> Future:
        fut: Future = Future()
        self._queue.put(_CallJob(fn, fut))
        return fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        deferred: list = []
        while True:
            job = deferred.pop(0) if deferred else self._queue.get()
            if job is None:
                return
            if isinstance(job, _CallJob):
                self._run_call(job)
                continue
            batch = [job]
            deadline = time.monotonic() + self.batch_window_s
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if isinstance(nxt, _GenerateJob):
                    batch.append(nxt)
                else:
                    deferred.append(nxt)
                    if nxt is None:
                        break
            self._run_batch(batch)

    @staticmethod
    def _run_call(job: _CallJob) -> None:
        try:
            job.future.set_result(job.fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            job.future.set_exception(exc)

    def _run_batch(self, batch: list[_GenerateJob]) -> None:
        try:
            results = self.llm.generate([j.request for j in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"backend returned {len(results)} completions for {len(batch)} requests")
        except BaseException as exc:  # noqa: BLE001
            for j in batch:
                j.future.set_exception(exc)
            return
        for j, result in zip(batch, results, strict=True):
            j.future.set_result(result)


# ----------------------------------------------------------------------------------------------- log-probs


@dataclass(frozen=True)
class TokenLogprob:
    token_id: int
    token: str
    logprob: float
    rank: int  # 1 = most likely
    top: list[tuple[int, str, float]]  # (id, text, logprob), most likely first


def _decode_token(tokenizer: Any, token_id: int) -> str:
    return tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)


def token_logprobs(model: Any, tokenizer: Any, ids: list[int], start: int, top_k: int) -> list[TokenLogprob]:
    """Log-prob of each token `ids[start:]` given everything before it (start >= 1), with its top-k
    alternatives. One forward pass; the lm_head is applied in chunks so memory stays O(chunk x vocab)."""
    import torch

    if start < 1 or start > len(ids):
        raise ValueError(f"start must be in [1, {len(ids)}], got {start}")
    if start == len(ids):
        return []
    device = next(model.parameters()).device
    with torch.inference_mode():
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        out = model(input_ids=input_ids, output_hidden_states=True, use_cache=False, logits_to_keep=1)
        hidden = out.hidden_states[-1][0]  # [L, H], final norm applied
        head = model.get_output_embeddings()
        results: list[TokenLogprob] = []
        for lo in range(start - 1, len(ids) - 1, LM_HEAD_CHUNK):
            hi = min(lo + LM_HEAD_CHUNK, len(ids) - 1)
            logits = head(hidden[lo:hi]).float()
            logprobs = torch.log_softmax(logits, dim=-1)
            targets = torch.tensor(ids[lo + 1 : hi + 1], dtype=torch.long, device=device)
            actual = logprobs.gather(1, targets[:, None])[:, 0]
            ranks = (logprobs > actual[:, None]).sum(dim=1) + 1
            k = max(top_k, 0)
            top_vals, top_ids = torch.topk(logprobs, k, dim=-1) if k else (None, None)
            for row in range(hi - lo):
                tid = int(targets[row])
                top = []
                if k:
                    top = [
                        (int(i), _decode_token(tokenizer, int(i)), float(v))
                        for i, v in zip(top_ids[row].tolist(), top_vals[row].tolist(), strict=True)
                    ]
                results.append(
                    TokenLogprob(tid, _decode_token(tokenizer, tid), float(actual[row]), int(ranks[row]), top)
                )
    return results


def next_token_logprob(model: Any, tokenizer: Any, ids: list[int], top_k: int) -> TokenLogprob:
    """The greedy next token after `ids` with its log-prob and top-k alternatives, from ONE forward pass
    (the scoring hot path: argmax and alternatives come from the same distribution)."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([ids], dtype=torch.long, device=device), use_cache=False, logits_to_keep=1
        )
        logprobs = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        top_vals, top_ids = torch.topk(logprobs, max(top_k, 1))
        token = int(top_ids[0])
        top = [
            (int(i), _decode_token(tokenizer, int(i)), float(v))
            for i, v in zip(top_ids[:top_k].tolist(), top_vals[:top_k].tolist(), strict=True)
        ]
        return TokenLogprob(token, _decode_token(tokenizer, token), float(top_vals[0]), 1, top)


# ----------------------------------------------------------------------------------------------- prompt rendering


def encode(tokenizer: Any, text: str) -> tuple[list[int], list[int]]:
    """Token ids of `text` (no special tokens added, as the backend encodes rendered prompts) and each token's
    start offset in `text`."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [int(start) for start, _ in enc["offset_mapping"]]


def render_chat(tokenizer: Any, body: ChatCompletionBody) -> str:
    if body.continue_final_message and body.add_generation_prompt:
        raise APIError(
            400,
            "continue_final_message and add_generation_prompt cannot both be true "
            "(set add_generation_prompt=false to continue the final assistant message)",
            param="continue_final_message",
        )
    if body.continue_final_message and body.messages[-1].role != "assistant":
        raise APIError(
            400, "continue_final_message needs the last message to have role 'assistant'", param="messages"
        )
    messages = [{"role": m.role, "content": m.text()} for m in body.messages]
    try:
        return tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=body.add_generation_prompt,
            continue_final_message=body.continue_final_message,
        )
    except Exception as exc:  # template errors are the request's fault (e.g. roles out of order)
        raise APIError(400, f"chat template rejected the messages: {exc}", param="messages") from exc


# ----------------------------------------------------------------------------------------------- the app


@dataclass
class ServerSettings:
    model_name: str
    api_key: str | None
    max_prompt_tokens: int
    max_top_logprobs: int
    default_chat_max_tokens: int


def create_app(
    llm: ServableLLM,
    model_name: str,
    api_key: str | None = None,
    max_prompt_tokens: int = DEFAULT_MAX_PROMPT_TOKENS,
    *,
    max_top_logprobs: int = DEFAULT_MAX_TOP_LOGPROBS,
    default_chat_max_tokens: int = 256,
    max_batch: int = 8,
    model_root: str | None = None,
) -> FastAPI:
    """Build the FastAPI app serving `llm` under the name `model_name` (the only model `/v1/models` lists).

    `model_root` is what `/v1/models` reports as the model's `root` (vLLM's field for the underlying weights);
    clients fold it into their cache identity, so pass something that changes with the weights."""
    settings = ServerSettings(
        model_name, api_key or None, max_prompt_tokens, max_top_logprobs, default_chat_max_tokens
    )
    worker_box: dict[str, ModelWorker] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        worker_box["worker"] = ModelWorker(llm, max_batch=max_batch)
        try:
            yield
        finally:
            worker_box.pop("worker").close()

    app = FastAPI(title="reasonrec OpenAI-compatible server", lifespan=lifespan)
    created = int(time.time())
    tokenizer = llm.tokenizer

    async def run_in_worker(fn: Callable[[], Any]) -> Any:
        return await asyncio.wrap_future(worker_box["worker"].call(fn))

    async def generate_many(requests: list[GenerationRequest]) -> list[Completion]:
        futures = [worker_box["worker"].generate(r) for r in requests]
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))

    # -- errors

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts, first_param = [], None
        for err in errors[:5]:
            if err.get("type") == "json_invalid":
                detail = (err.get("ctx") or {}).get("error", "")
                return APIError(400, f"request body is not valid JSON: {detail}".rstrip(": ")).response()
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            param = ".".join(loc) or None
            first_param = first_param or param
            parts.append(f"{param or 'body'}: {err.get('msg', 'invalid')}")
        return APIError(400, "invalid request: " + "; ".join(parts), param=first_param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return APIError(exc.status_code, str(exc.detail), type=kind).response()

    @app.exception_handler(Exception)
    async def _server_error(_: Request, exc: Exception) -> JSONResponse:
        return APIError(500, f"backend failure: {type(exc).__name__}: {exc}", type="server_error").response()

    # -- checks

    def check_auth(request: Request) -> None:
        if settings.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.api_key.encode()
        ):
            raise APIError(
                401,
                "missing or invalid API key (send 'Authorization: Bearer <key>')",
                type="authentication_error",
                code="invalid_api_key",
            )

    def check_common(body: _SamplingBody) -> None:
        if body.model != settings.model_name:
            raise APIError(
                404,
                f"model {body.model!r} does not exist; this server serves {settings.model_name!r}",
                type="not_found_error",
                param="model",
                code="model_not_found",
            )
        if body.stream:
            raise APIError(400, "stream=true is not supported by this server", param="stream")

    def check_prompt_size(n_tokens: int, param: str) -> None:
        if n_tokens > settings.max_prompt_tokens:
            raise APIError(
                400,
                f"the prompt has {n_tokens} tokens, more than this server's limit of "
                f"{settings.max_prompt_tokens} (max_prompt_tokens)",
                param=param,
                code="context_length_exceeded",
            )

    def check_top(k: int | None, param: str) -> int:
        k = k or 0
        if k > settings.max_top_logprobs:
            raise APIError(
                400, f"{param}={k} exceeds this server's maximum of {settings.max_top_logprobs}", param=param
            )
        return k

    # -- the shared generation path

    async def complete(
        prompt_text: str,
        prompt_ids: list[int],
        body: _SamplingBody,
        max_tokens: int,
        want_logprobs: bool,
        top_k: int,
    ) -> list[tuple[Completion, list[TokenLogprob] | None]]:
        """n completions of one rendered prompt, each with generated-token log-probs when asked for."""
        stops = body.stop_tuple()
        seed = body.seed if body.seed is not None else 0
        if max_tokens == 0:
            empty = Completion(text="", finish_reason="length", prompt_tokens=len(prompt_ids))
            return [(empty, [] if want_logprobs else None) for _ in range(body.n)]
        if body.temperature == 0.0 and max_tokens == 1 and want_logprobs:
            # The scoring hot path: one greedy token with its alternatives. The forward pass that yields the
            # log-probs also yields the argmax, so we skip a second (generation) pass over the same prompt.
            def one_step() -> tuple[Completion, list[TokenLogprob]]:
                step = next_token_logprob(llm.model, tokenizer, prompt_ids, top_k)
                is_eos = step.token_id in set(_eos_ids(tokenizer))
                text, finish = ("", "stop") if is_eos else (step.token, "length")
                for s in stops:
                    if s in text:
                        text, finish = text[: text.index(s)], "stop"
                # the EOS token keeps its log-prob entry (as vLLM reports it): a scorer still sees the alternatives
                return Completion(text, finish, len(prompt_ids), 1), [step]

            result = await run_in_worker(one_step)
            return [result for _ in range(body.n)]
        params = SamplingParams(
            temperature=body.temperature, top_p=body.top_p, max_new_tokens=max_tokens, stop=stops, seed=seed
        )
        requests = [
            GenerationRequest(prompt=prompt_text, params=params, sample_index=i) for i in range(body.n)
        ]
        completions = await generate_many(requests)
        for c in completions:
            if c.finish_reason == "error":
                raise APIError(500, f"backend failed to generate: {c.error}", type="server_error")
        if not want_logprobs:
            return [(c, None) for c in completions]
        out = []
        for c in completions:
            gen_ids = list(tokenizer(c.text, add_special_tokens=False)["input_ids"]) if c.text else []
            ids = prompt_ids + gen_ids
            lps = await run_in_worker(
                lambda ids=ids: token_logprobs(llm.model, tokenizer, ids, len(prompt_ids), top_k)
            )
            out.append((c, lps))
        return out

    # -- endpoints

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": settings.model_name}

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict:
        check_auth(request)
        return {
            "object": "list",
            "data": [
                {
                    "id": settings.model_name,
                    "object": "model",
                    "created": created,
                    "owned_by": "reasonrec",
                    "root": model_root or settings.model_name,
                    "max_model_len": settings.max_prompt_tokens,
                }
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionBody, request: Request) -> dict:
        check_auth(request)
        check_common(body)
        top_k = check_top(body.top_logprobs, "top_logprobs")
        if top_k and not body.logprobs:
            raise APIError(400, "top_logprobs needs logprobs=true", param="top_logprobs")
        prompt_top = (
            check_top(body.prompt_logprobs, "prompt_logprobs") if body.prompt_logprobs is not None else None
        )
        prompt_text = render_chat(tokenizer, body)
        prompt_ids, _ = encode(tokenizer, prompt_text)
        check_prompt_size(len(prompt_ids), "messages")
        max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
        if max_tokens is None:
            max_tokens = settings.default_chat_max_tokens
        results = await complete(prompt_text, prompt_ids, body, max_tokens, body.logprobs, top_k)
        choices = []
        completion_tokens = 0
        for i, (c, lps) in enumerate(results):
            completion_tokens += c.completion_tokens or (len(lps) if lps is not None else 0)
            choice: dict[str, Any] = {
                "index": i,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
            if lps is not None:
                choice["logprobs"] = {
                    "content": [
                        {
                            "token": t.token,
                            "logprob": t.logprob,
                            "bytes": list(t.token.encode("utf-8")),
                            "top_logprobs": [
                                {"token": s, "logprob": lp, "bytes": list(s.encode("utf-8"))}
                                for _, s, lp in t.top
                            ],
                        }
                        for t in lps
                    ]
                }
            choices.append(choice)
        response: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": settings.model_name,
            "choices": choices,
            "usage": _usage(len(prompt_ids), completion_tokens),
        }
        if prompt_top is not None:
            plps = await run_in_worker(
                lambda: token_logprobs(llm.model, tokenizer, prompt_ids, 1, prompt_top)
            )
            response["prompt_logprobs"] = [None] + [_vllm_prompt_entry(t) for t in plps]
        return response

    @app.post("/v1/completions")
    async def completions(body: CompletionBody, request: Request) -> dict:
        check_auth(request)
        check_common(body)
        top_k = check_top(body.logprobs, "logprobs")
        want_logprobs = body.logprobs is not None
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if not prompts:
            raise APIError(400, "prompt must not be empty", param="prompt")
        max_tokens = body.max_tokens if body.max_tokens is not None else 16
        if max_tokens == 0 and not body.echo:
            raise APIError(400, "max_tokens=0 is only meaningful with echo=true", param="max_tokens")
        encoded = []
        for p in prompts:
            ids, offsets = encode(tokenizer, p)
            if not ids:
                raise APIError(400, "prompt must contain at least one token", param="prompt")
            check_prompt_size(len(ids), "prompt")
            encoded.append((ids, offsets))
        choices = []
        prompt_tokens = completion_tokens = 0
        for p, (ids, offsets) in zip(prompts, encoded, strict=True):
            prompt_tokens += len(ids)
            results = await complete(p, ids, body, max_tokens, want_logprobs, top_k)
            echo_lps: list[TokenLogprob] | None = None
            if body.echo and want_logprobs:
                echo_lps = await run_in_worker(
                    lambda ids=ids: token_logprobs(llm.model, tokenizer, ids, 1, top_k)
                )
            for c, lps in results:
                completion_tokens += c.completion_tokens or (len(lps) if lps is not None else 0)
                text = (p + c.text) if body.echo else c.text
                logprobs_obj = None
                if want_logprobs:
                    tokens, token_lps, tops, text_offset = [], [], [], []
                    if body.echo:
                        first = _decode_token(tokenizer, ids[0])
                        tokens.append(first)
                        token_lps.append(None)
                        tops.append(None)
                        text_offset.append(offsets[0])
                        for t, off in zip(echo_lps or [], offsets[1:], strict=True):
                            tokens.append(t.token)
                            token_lps.append(t.logprob)
                            tops.append(_top_dict(t))
                            text_offset.append(off)
                    pos = len(p) if body.echo else 0
                    for t in lps or []:
                        tokens.append(t.token)
                        token_lps.append(t.logprob)
                        tops.append(_top_dict(t))
                        text_offset.append(pos)
                        pos += len(t.token)
                    logprobs_obj = {
                        "tokens": tokens,
                        "token_logprobs": token_lps,
                        "top_logprobs": tops,
                        "text_offset": text_offset,
                    }
                choices.append(
                    {
                        "index": len(choices),
                        "text": text,
                        "logprobs": logprobs_obj,
                        "finish_reason": c.finish_reason,
                    }
                )
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": settings.model_name,
            "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
        }

    return app


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _top_dict(t: TokenLogprob) -> dict[str, float]:
    """Completions-API top_logprobs: token text → log-prob. The actual token is always included (as OpenAI
    does); two ids decoding to the same text keep the larger log-prob."""
    out: dict[str, float] = {}
    for _, text, lp in t.top:
        out[text] = max(lp, out.get(text, float("-inf")))
    if t.token not in out:
        out[t.token] = t.logprob
    return out


def _vllm_prompt_entry(t: TokenLogprob) -> dict[str, dict]:
    """vLLM's prompt_logprobs entry: {token_id: {logprob, rank, decoded_token}} for the actual token + top-k."""
    entry = {str(t.token_id): {"logprob": t.logprob, "rank": t.rank, "decoded_token": t.token}}
    for rank, (tid, text, lp) in enumerate(t.top, start=1):
        entry.setdefault(str(tid), {"logprob": lp, "rank": rank, "decoded_token": text})
    return entry


def _eos_ids(tokenizer: Any) -> list[int]:
    ids = tokenizer.eos_token_id
    if ids is None:
        return []
    return list(ids) if isinstance(ids, (list, tuple)) else [int(ids)]
