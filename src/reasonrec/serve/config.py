"""What `reasonrec llm serve` runs and the limits it enforces, as typed configs (`--config serve.yaml`,
`--set limits.max_tokens=512`).

Every limit bounds something a client controls: prompt and body size, generated tokens, samples, log-prob width,
queued work and wall time. The defaults are safe for a small model on a shared CPU; raise them on purpose.
"""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import Field, model_validator

from reasonrec.config import Config
from reasonrec.llm.cpu import ThreadPolicy
from reasonrec.llm.kernels import DType, Quantize

DEFAULT_MAX_PROMPT_TOKENS = 2048


class ServerLimits(Config):
    """Per-request caps (400 above them), the queue bound (503 above it) and the scheduler's lanes."""

    max_prompt_tokens: int = Field(DEFAULT_MAX_PROMPT_TOKENS, ge=1, description="longer prompts get 400")
    max_tokens: int = Field(
        1024, ge=1, description="largest max_tokens / max_completion_tokens a request may ask"
    )
    default_chat_max_tokens: int = Field(256, ge=1, description="chat max_tokens when the request sets none")
    max_n: int = Field(4, ge=1, description="largest n (samples per prompt)")
    max_prompts: int = Field(16, ge=1, description="largest number of prompts in one /v1/completions request")
    max_top_logprobs: int = Field(20, ge=0, description="largest top_logprobs / logprobs / prompt_logprobs")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="request bodies above this get 413 unread")
    max_queue: int = Field(64, ge=1, description="queued generations + forward passes; above it 503")
    request_timeout_s: float = Field(
        120.0,
        gt=0,
        description="wall-time budget per request: queued past it → 503, generating past it → cut",
    )
    short_max_tokens: int = Field(
        64,
        ge=1,
        description="requests asking for at most this many tokens run in the short lane, between the "
        "decode steps of long ones",
    )
    long_share: float = Field(
        0.33,
        ge=0,
        lt=1,
        description="share of the worker's time a running long batch keeps while short work "
        "waits (0: short work always runs first)",
    )
    max_batch: int = Field(8, ge=1, description="generations decoded together in one batch")
    long_batch_window_s: float = Field(
        0.1, ge=0, le=5, description="a long batch waits this long for more long requests to share it"
    )
    retry_after_s: int = Field(1, ge=0, description="Retry-After sent with 503")

    @model_validator(mode="after")
    def _default_within_cap(self) -> Self:
        if self.default_chat_max_tokens > self.max_tokens:
            raise ValueError(
                f"default_chat_max_tokens={self.default_chat_max_tokens} exceeds max_tokens={self.max_tokens}"
            )
        return self


class ServeConfig(Config):
    """The model to serve, where to listen, who may call it, and the limits."""

    model: str = Field("embedded", description="'embedded' or a local transformers model directory")
    adapter: str | None = Field(None, description="PEFT LoRA adapter directory (merged into the model)")
    device: str = "auto"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key_env: str | None = Field(None, description="env var holding the API key (never the key itself)")
    allow_insecure_host: bool = Field(
        False, description="allow a non-loopback host without an API key (anyone who can reach it may use it)"
    )
    served_model_name: str | None = None
    threads: int | None = Field(None, ge=1, description="torch CPU threads")
    thread_policy: ThreadPolicy = Field(
        "fixed", description="fixed: `threads` for the server's life; adaptive: re-sized between batches to the "
        "cores other processes leave free (capped at `threads`)")
    dtype: DType = Field("auto", description="weights' precision (llm.kernels): auto = bf16 on CUDA, fp32 on CPU")
    quantize: Quantize = Field("none", description="int8: dynamic int8 Linear layers (CPU)")
    log_level: str = "warning"
    limits: ServerLimits = Field(default_factory=ServerLimits)


def is_loopback(host: str) -> bool:
    """True for 'localhost' and loopback addresses (127.0.0.0/8, ::1); any other name or address is exposed."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


class RecommendLimits(ServerLimits):
    """The recommendation service's defaults: room for many concurrent lists (each candidate is one queued
    forward pass), score batches that hold a list's candidates, small bodies (only ids and ratings are sent)."""

    max_queue: int = Field(1024, ge=1, description="queued forward passes / generations; above it 503")
    max_batch: int = Field(32, ge=1, description="score jobs (or generations) taken together; a list's candidates "
                           "should fit in one batch")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="request bodies above this get 413 unread")
    request_timeout_s: float = Field(180.0, gt=0, description="queued past it → 503")


class RecommendServeConfig(Config):
    """What `reasonrec serve BUNDLE` runs: where it listens, who may call it, where feedback goes, the limits."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key_env: str | None = Field(None, description="env var holding the key clients send as X-API-Key")
    allow_insecure_host: bool = Field(False, description="allow a non-loopback host without an API key")
    feedback_db: str | None = Field(None, description="SQLite file for feedback and ratings; default beside "
                                    "the bundle: <bundle>.feedback.sqlite")
    llm_cache: str | None = Field(None, description="SQLite LLM cache; default the user cache")
    explain_top: int = Field(3, ge=1, le=20, description="items explained when a list is asked with explain=true")
    n_candidates: int = Field(20, ge=1, le=500, description="CF candidates scored per list (at least n)")
    max_list: int = Field(50, ge=1, le=100, description="largest n a client may ask for")
    threads: int | None = Field(None, ge=1, description="torch CPU threads")
    log_level: str = "warning"
    limits: RecommendLimits = Field(default_factory=RecommendLimits)
