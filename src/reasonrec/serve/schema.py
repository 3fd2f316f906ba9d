"""The OpenAI-compatible request bodies and error body the server accepts and returns.

Bodies are strict: a field the server does not know is a 400, and an OpenAI parameter the server does not
implement (`tools`, `response_format` other than text, `logit_bias`, penalties, ...) is a 400 naming it, unless
its value asks for nothing (`null`, `[]`, `0`, `{"type": "text"}`). Silently ignoring it would return an answer
to a different question. Fields that only label a request (`user`, `metadata`, cache keys) are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_STOP_STRINGS = 16
MAX_STOP_CHARS = 256
SEED_BOUND = 2**63


class APIError(Exception):
    """An error with an HTTP status and OpenAI's body `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})
        if status == 401:
            self.headers.setdefault("WWW-Authenticate", "Bearer")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, content=self.body(), headers=self.headers or None)


def _is_none(value: Any) -> bool:
    return value is None


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _is_zero(value: Any) -> bool:
    return value is None or value == 0


def _is_text_format(value: Any) -> bool:
    return value is None or value == {"type": "text"}


def _is_false(value: Any) -> bool:
    return value is None or value is False


# OpenAI parameter → (accepts this value?, what the server supports instead).
Neutral = tuple[Callable[[Any], bool], str]
UNSUPPORTED_COMMON: dict[str, Neutral] = {
    "frequency_penalty": (_is_zero, "only 0"),
    "presence_penalty": (_is_zero, "only 0"),
    "logit_bias": (_is_empty, "no logit bias"),
}
UNSUPPORTED_CHAT: dict[str, Neutral] = {
    **UNSUPPORTED_COMMON,
    "tools": (_is_empty, "no tool calling"),
    "tool_choice": (lambda v: v in (None, "none"), "only 'none' (no tool calling)"),
    "functions": (_is_empty, "no function calling"),
    "function_call": (lambda v: v in (None, "none"), "only 'none' (no function calling)"),
    "response_format": (_is_text_format, "only {'type': 'text'}: no JSON mode or constrained decoding"),
    "audio": (_is_none, "text only"),
    "modalities": (lambda v: v in (None, ["text"]), "only ['text']"),
    "prediction": (_is_none, "no predicted outputs"),
    "reasoning_effort": (_is_none, "not a reasoning model"),
    "verbosity": (_is_none, "no verbosity control"),
    "web_search_options": (_is_none, "no web search"),
    "moderation": (_is_none, "no moderation"),
    "store": (_is_false, "nothing is stored"),
}
UNSUPPORTED_COMPLETIONS: dict[str, Neutral] = {
    **UNSUPPORTED_COMMON,
    "best_of": (lambda v: v in (None, 1), "only 1"),
    "suffix": (lambda v: v in (None, ""), "no suffix (insertion)"),
}


def check_unsupported(body: BaseModel, table: dict[str, Neutral]) -> None:
    for name, (neutral, supported) in table.items():
        value = getattr(body, name)
        if not neutral(value):
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            raise APIError(400, f"{name}={shown} is not supported by this server ({supported})", param=name)


class _Strict(BaseModel):
    """Unknown fields are errors; NaN/inf are not numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)

    def template_role(self) -> str:
        """OpenAI's 'developer' role is the system role of models without a separate one."""
        return "system" if self.role == "developer" else self.role


class StreamOptions(_Strict):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None

    @field_validator("include_obfuscation")
    @classmethod
    def _no_obfuscation(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("include_obfuscation is not supported by this server")
        return value


class SamplingBody(_Strict):
    model: str
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=0)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-SEED_BOUND, lt=SEED_BOUND)
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    # labels only: accepted, they do not change what is generated
    user: str | None = None
    # OpenAI parameters this server does not implement: see `check_unsupported`
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None

    @field_validator("stop")
    @classmethod
    def _stop_bounded(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else (value or [])
        if any(s == "" for s in stops):
            raise ValueError("stop strings must be non-empty")
        if len(stops) > MAX_STOP_STRINGS or any(len(s) > MAX_STOP_CHARS for s in stops):
            raise ValueError(
                f"at most {MAX_STOP_STRINGS} stop strings of at most {MAX_STOP_CHARS} characters"
            )
        return value

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> SamplingBody:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed with stream=true")
        return self

    def stop_tuple(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionBody(SamplingBody):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    # vLLM extensions (the `openai` backend uses them to continue "Prediction:" and to score multi-token choices)
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    prompt_logprobs: int | None = Field(None, ge=0)
    # labels only
    metadata: dict[str, str] | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    # not implemented: see UNSUPPORTED_CHAT
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    audio: Any = None
    modalities: list[str] | None = None
    prediction: Any = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    web_search_options: Any = None
    moderation: Any = None
    store: bool | None = None

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionBody(SamplingBody):
    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0)
    echo: bool = False
    max_tokens: int | None = Field(16, ge=0)
    # not implemented: see UNSUPPORTED_COMPLETIONS
    best_of: int | None = None
    suffix: str | None = None

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)
