"""The `openai` backend: any OpenAI-compatible server (OpenAI, vLLM, `reasonrec llm serve`) behind the LLM protocol.

Why it looks like this:
- Requests run in a bounded thread pool (`max_concurrency`) because remote servers batch concurrent requests
  and rate-limit bursts; one shared httpx client keeps connections alive.
- Transient failures (408, 409, 429, 5xx, connection errors, timeouts) are retried with exponential backoff and
  jitter (honouring `Retry-After`); request errors (400/401/403/404/413/422, ...) are NEVER retried — repeating a
  bad request only burns quota — and surface as `LLMError` with the server's message. Neither is a 5xx whose
  error says the request cannot fit the model's context (some servers report a too-long prompt or too large
  `max_tokens` as 500): the same request would fail the same way every time.
- `generate`: chat messages go to `/v1/chat/completions`; an `assistant_prefix` is sent as a final assistant
  message with `continue_final_message: true, add_generation_prompt: false` (vLLM's extension, also served by
  `reasonrec llm serve`). Raw prompts go to `/v1/completions` with the prefix appended.
- `score` uses log-probs, never sampled text:
  1. one greedy token with `top_logprobs` (chat) / `logprobs` (completions): a choice found among the returned
     top tokens gets that token's log-prob — exact for single-token choices such as " Yes" / " No" / "1".."5";
  2. a choice not among them (a multi-token choice, or a rare one) is scored exactly by summing the log-probs
     of its own tokens: raw prompts via `/v1/completions` with `echo: true, max_tokens: 0, logprobs: 1` on
     prompt+choice (tokens whose `text_offset` is at/after the end of the prompt are the choice's), chat via the
     vLLM `prompt_logprobs` extension on messages + assistant(prefix+choice).
  `score_method="top_logprobs"` skips step 2 and raises instead; `"echo"` always uses step 2.
  Tokenisation-boundary caveat: step 2 assumes the prompt's tokens stay the same when the choice is appended.
  When a tokenizer merges across the boundary (prompt "Rating:" + choice "5" might become one token ":5"),
  the choice has no tokens of its own; we detect this (the choice tokens must decode to exactly the choice) and
  raise `LLMError` instead of guessing — end prompts with a separator the choice does not merge with.
  A server that returns no log-probs (or no echo / prompt_logprobs when step 2 is needed) is an `LLMError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Literal, TypeVar

import httpx

from reasonrec.errors import LLMError
from reasonrec.llm.base import (
    ChoiceScores,
    Completion,
    GenerationRequest,
    ModelIdentity,
    ScoreRequest,
    normalise_logprobs,
)

T = TypeVar("T")
R = TypeVar("R")

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
CONTEXT_ERROR = re.compile(
    r"context[ _-]?(length|window|size)|maximum context|too many tokens|prompt (is too long|has \d+ tokens)"
    r"|max_(new_|completion_)?tokens",
    re.IGNORECASE,
)
ScoreMethod = Literal["auto", "top_logprobs", "echo"]


class _Retryable(Exception):
    """A transient failure worth another attempt (carries an optional server-suggested delay)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIBackend:
    """LLM protocol over an OpenAI-compatible HTTP API. See the module docstring for scoring semantics."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 5,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        score_method: ScoreMethod = "auto",
        top_logprobs: int = 20,
        verify_model: bool = True,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if score_method not in ("auto", "top_logprobs", "echo"):
            raise ValueError(f"score_method must be auto|top_logprobs|echo, got {score_method!r}")
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.score_method: ScoreMethod = score_method
        self.top_logprobs = top_logprobs
        self.verify_model = verify_model
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers=headers,
            limits=httpx.Limits(max_connections=max_concurrency),
        )
        self._jitter = random.Random()
        self._stats_lock = threading.Lock()
        self._identity_lock = threading.Lock()
        self._identity: ModelIdentity | None = None
        self.attempts = 0  # HTTP attempts made (for diagnostics and tests)
        self.retries = 0

    # ------------------------------------------------------------------------------------------- identity

    @property
    def identity(self) -> ModelIdentity:
        """backend "openai", the requested model name, and sha256(base_url | model | server-reported model).

        The server's own description of the model (`root` from vLLM / reasonrec, else the id) is fetched once from
        `/v1/models`, so two servers serving different weights under one name do not share cache entries."""
        with self._identity_lock:
            if self._identity is None:
                reported = self._reported_model() if self.verify_model else ""
                digest = hashlib.sha256(f"{self.base_url}|{self.model}|{reported}".encode()).hexdigest()
                self._identity = ModelIdentity("openai", self.model, digest)
            return self._identity

    def _reported_model(self) -> str:
        listing = self._request("GET", "/models", None)
        entries = listing.get("data") or []
        for entry in entries:
            if entry.get("id") == self.model:
                return str(entry.get("root") or entry.get("id"))
        ids = [e.get("id") for e in entries]
        raise LLMError(f"{self.base_url}: model {self.model!r} is not served (the server lists {ids})")

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------------------------------- HTTP

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        delay = delay / 2 + self._jitter.uniform(0, delay / 2)  # "equal jitter": spread retries, keep growth
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        url = self.base_url + path
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            with self._stats_lock:
                self.attempts += 1
                self.retries += 1 if attempt else 0
            try:
                return self._attempt(method, url, body)
            except _Retryable as exc:
                last = str(exc)
                if attempt == self.max_retries:
                    break
                time.sleep(self._backoff(attempt, exc.retry_after))
        raise LLMError(f"{method} {url}: giving up after {self.max_retries + 1} attempts; last error: {last}")

    def _attempt(self, method: str, url: str, body: dict | None) -> dict:
        try:
            response = self._client.request(method, url, json=body)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # connection refused/reset, protocol errors
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc
        if response.status_code == 200:
            try:
                return response.json()
            except json.JSONDecodeError as exc:
                raise _Retryable(f"200 with a body that is not JSON: {response.text[:200]!r}") from exc
        message = _error_message(response)
        if response.status_code in RETRYABLE_STATUS and not _request_error_as_5xx(response, message):
            raise _Retryable(f"HTTP {response.status_code}: {message}", _retry_after(response))
        raise LLMError(f"{method} {url}: HTTP {response.status_code} (not retried): {message}")

    def _post(self, path: str, body: dict) -> dict:
        return self._request("POST", path, body)

    def _run_all(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply `fn` to every item with at most `max_concurrency` in flight; the first failure is raised."""
        if len(items) <= 1 or self.max_concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in done:
                if f.exception() is not None:
                    for other in futures:
                        other.cancel()
                    raise f.exception()  # type: ignore[misc]
            return [f.result() for f in futures]

    # ------------------------------------------------------------------------------------------- generate

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return self._run_all(self._generate_one, list(requests))

    def _generate_one(self, request: GenerationRequest) -> Completion:
        p = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_new_tokens,
            "seed": _sample_seed(p.seed, request.sample_index),
            "n": 1,
        }
        if p.stop:
            body["stop"] = list(p.stop)
        if p.repetition_penalty != 1.0:  # a vLLM / llama.cpp server extension of the OpenAI API
            body["repetition_penalty"] = p.repetition_penalty
        if request.messages is not None:
            body.update(_chat_messages(request.messages, request.assistant_prefix))
            data = self._post("/chat/completions", body)
            choice = _first_choice(data)
            text = (choice.get("message") or {}).get("content") or ""
        else:
            body["prompt"] = (request.prompt or "") + request.assistant_prefix
            data = self._post("/completions", body)
            choice = _first_choice(data)
            text = choice.get("text") or ""
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            finish_reason=str(choice.get("finish_reason") or "stop"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    # ------------------------------------------------------------------------------------------- score

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        return self._run_all(self._score_one, list(requests))

    def _score_one(self, request: ScoreRequest) -> ChoiceScores:
        top, prompt_tokens = self._next_token_top(request)
        logprobs: dict[str, float] = {}
        missing: list[str] = []
        for choice in request.choices:
            if self.score_method != "echo" and choice in top:
                logprobs[choice] = top[choice]
            else:
                missing.append(choice)
        if missing and self.score_method == "top_logprobs":
            shown = ", ".join(f"{t!r}" for t in list(top)[:10])
            raise LLMError(
                f"choices {missing} are not among the server's top {len(top)} next tokens ({shown}, ...); "
                "score_method='top_logprobs' does not guess — use score_method='auto' to score them exactly "
                "from their own tokens, or pick single-token choices"
            )
        for choice in missing:
            logprobs[choice] = self._sequence_logprob(request, choice, prompt_tokens)
        return ChoiceScores(
            probs=normalise_logprobs(logprobs), logprobs=logprobs, prompt_tokens=prompt_tokens
        )

    def _next_token_top(self, request: ScoreRequest) -> tuple[dict[str, float], int]:
        """Top next-token log-probs after prompt(+prefix) as {token text: logprob}, and the prompt's token count."""
        body: dict[str, Any] = {"model": self.model, "temperature": 0.0, "max_tokens": 1, "n": 1}
        if request.messages is not None:
            body.update(_chat_messages(request.messages, request.assistant_prefix))
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
            data = self._post("/chat/completions", body)
            content = ((_first_choice(data).get("logprobs") or {}).get("content")) or []
            if not content:
                raise LLMError(
                    f"{self.base_url}: the chat response carries no logprobs; this server cannot score"
                )
            top: dict[str, float] = {}
            for entry in content[0].get("top_logprobs") or []:
                top[entry["token"]] = max(float(entry["logprob"]), top.get(entry["token"], float("-inf")))
        else:
            body.update(prompt=(request.prompt or "") + request.assistant_prefix, logprobs=self.top_logprobs)
            data = self._post("/completions", body)
            lp = _first_choice(data).get("logprobs") or {}
            tops = lp.get("top_logprobs") or []
            if not tops or tops[0] is None:
                raise LLMError(
                    f"{self.base_url}: the completion response carries no logprobs; this server cannot score"
                )
            top = {str(k): float(v) for k, v in tops[0].items()}
        return top, int((data.get("usage") or {}).get("prompt_tokens") or 0)

    def _sequence_logprob(self, request: ScoreRequest, choice: str, prefix_tokens: int) -> float:
        """log P(choice | prompt+prefix) as the sum of the choice's own token log-probs (see module caveat)."""
        if request.messages is not None:
            return self._chat_sequence_logprob(request, choice, prefix_tokens)
        prefix = (request.prompt or "") + request.assistant_prefix
        body = {
            "model": self.model,
            "prompt": prefix + choice,
            "echo": True,
            "max_tokens": 0,
            "logprobs": 1,
            "temperature": 0.0,
        }
        lp = _first_choice(self._post("/completions", body)).get("logprobs") or {}
        tokens, values, offsets = lp.get("tokens"), lp.get("token_logprobs"), lp.get("text_offset")
        if not tokens or not values or not offsets:
            raise LLMError(
                f"{self.base_url}: echo=true returned no prompt log-probs; cannot score choice {choice!r}"
            )
        boundary = len(prefix)
        idx = [i for i, off in enumerate(offsets) if off >= boundary]
        return self._sum_choice_tokens(
            choice,
            [tokens[i] for i in idx],
            [values[i] for i in idx],
            first_offset_ok=bool(idx) and offsets[idx[0]] == boundary,
        )

    def _chat_sequence_logprob(self, request: ScoreRequest, choice: str, prefix_tokens: int) -> float:
        assert request.messages is not None
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": 0.0,
            "max_tokens": 1,
            "n": 1,
            "prompt_logprobs": 0,
        }
        body.update(_chat_messages(request.messages, request.assistant_prefix + choice))
        plps = self._post("/chat/completions", body).get("prompt_logprobs")
        if not plps:
            raise LLMError(
                f"{self.base_url}: choice {choice!r} needs multi-token scoring over chat, which needs the vLLM "
                "'prompt_logprobs' extension; this server returned none (use a raw prompt with /v1/completions "
                "echo, or single-token choices)"
            )
        tail = plps[prefix_tokens:]
        tokens, values = [], []
        for entry in tail:
            if not entry:
                raise LLMError(f"{self.base_url}: missing prompt log-prob inside choice {choice!r}")
            # prompt_logprobs=0 → each entry holds only the actual prompt token
            if len(entry) != 1:
                raise LLMError(
                    f"{self.base_url}: prompt_logprobs=0 returned {len(entry)} tokens per position"
                )
            actual = next(iter(entry.values()))
            tokens.append(str(actual.get("decoded_token", "")))
            values.append(float(actual["logprob"]))
        return self._sum_choice_tokens(choice, tokens, values, first_offset_ok=True)

    def _sum_choice_tokens(
        self, choice: str, tokens: list[str], values: list, *, first_offset_ok: bool
    ) -> float:
        if not tokens or not first_offset_ok or "".join(tokens) != choice:
            raise LLMError(
                f"tokenisation boundary: appending choice {choice!r} to the prompt changed the prompt's tokens "
                f"(choice tokens seen: {tokens!r}); its log-prob cannot be isolated — end the prompt with a "
                "separator the choice does not merge with"
            )
        if any(v is None for v in values):
            raise LLMError(f"server returned a null log-prob inside choice {choice!r}")
        return float(sum(values))


# ----------------------------------------------------------------------------------------------- helpers


def _chat_messages(messages: Sequence, assistant_prefix: str) -> dict[str, Any]:
    msgs = [{"role": m.role, "content": m.content} for m in messages]
    if assistant_prefix:
        return {
            "messages": msgs + [{"role": "assistant", "content": assistant_prefix}],
            "add_generation_prompt": False,
            "continue_final_message": True,
        }
    return {"messages": msgs}


def _first_choice(data: dict) -> dict:
    choices = data.get("choices") or []
    if not choices:
        raise LLMError(f"response has no choices: {json.dumps(data)[:300]}")
    return choices[0]


def _sample_seed(seed: int, sample_index: int) -> int:
    """A distinct, reproducible server seed per (seed, sample_index) — sample i of M must differ from i+1."""
    if sample_index == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except (json.JSONDecodeError, ValueError):
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            param = f" (param {err['param']})" if err.get("param") else ""
            return f"{err['message']}{param}"
        if isinstance(err, str):
            return err
        if "detail" in data:
            return str(data["detail"])
    return json.dumps(data)[:500]


def _request_error_as_5xx(response: httpx.Response, message: str) -> bool:
    """A 5xx that is really the request's fault: its error is typed as an invalid request or says the prompt /
    max_tokens does not fit the context."""
    if response.status_code < 500:
        return False
    try:
        err = response.json().get("error")
    except (json.JSONDecodeError, ValueError, AttributeError):
        err = None
    if isinstance(err, dict) and (
        err.get("code") == "context_length_exceeded" or err.get("type") == "invalid_request_error"
    ):
        return True
    return bool(CONTEXT_ERROR.search(message))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
