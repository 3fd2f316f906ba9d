"""Build an `LLM` from a config: one explicit table of backends, cache wrapping by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.cpu import ThreadPolicy, thread_governor
from reasonrec.llm.kernels import AttnImplementation, Quantize
from reasonrec.paths import cache_root


class LLMConfig(Config):
    """Which model answers, and how. Defaults: the embedded SmolLM2 on the local transformers backend, cached."""

    backend: Literal["hf", "openai", "llamacpp"] = "hf"
    model: str = Field("embedded", description="'embedded', a local model directory, or a served model name")
    adapter: str | None = Field(None, description="PEFT LoRA adapter directory (hf backend)")
    device: str = "auto"
    # Kernels (hf backend; see llm/kernels.py and bench/llm_throughput.py for the measured trade-offs)
    dtype: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bf16 on CUDA, fp32 on CPU (bf16 is faster on AMX/AVX512-BF16 CPUs but moved P(yes) "
        "by up to 0.046 on Beauty: opt in with bf16)")
    quantize: Quantize = Field("none", description="int8: dynamic int8 Linear layers (CPU; head and rest fp32; "
                               "moves P(yes) far more than bf16)")
    compile: bool = Field(False, description="torch.compile the forward pass (the first calls compile for minutes)")
    attn_implementation: AttnImplementation = "sdpa"
    batch_size: int = Field(8, ge=1)
    prefix_reuse: bool = True
    max_prompt_tokens: int | None = None
    # OpenAI-compatible servers
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="name of the env var holding the API key (never the key)")
    concurrency: int = Field(4, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0)
    # CPU threads (hf: torch threads; llamacpp: llama.cpp threads) and llama.cpp per-sequence context
    n_ctx: int = Field(4096, ge=256)
    n_threads: int | None = Field(None, ge=1, description="thread cap (adaptive) or exact count (fixed)")
    thread_policy: ThreadPolicy = Field(
        "adaptive", description="adaptive: torch threads follow the cores other processes leave free (re-decided "
        "between batches); fixed: n_threads (or torch's default) for the whole run")
    # cache
    cache: bool = True
    cache_path: str | None = Field(None, description="SQLite file; default <cache_root>/llm_cache.sqlite")

    @field_validator("dtype", mode="before")
    @classmethod
    def _torch_dtype_names(cls, value: object) -> object:
        """torch's own names ("float32", "bfloat16") mean the same as fp32 / bf16."""
        return {"float32": "fp32", "bfloat16": "bf16"}.get(value, value) if isinstance(value, str) else value

    def resolved_cache_path(self) -> Path:
        return Path(self.cache_path) if self.cache_path else cache_root() / "llm_cache.sqlite"


def _build_hf(config: LLMConfig) -> LLM:
    import torch  # heavy: only the local backend needs it

    from reasonrec.llm.hf import HFBackend

    threads = thread_governor(config.thread_policy, config.n_threads, torch.set_num_threads)
    return HFBackend(
        config.model,
        adapter_path=config.adapter,
        device=config.device,
        dtype=config.dtype,
        quantize=config.quantize,
        compile_model=config.compile,
        attn_implementation=config.attn_implementation,
        batch_size=config.batch_size,
        prefix_reuse=config.prefix_reuse,
        max_prompt_tokens=config.max_prompt_tokens,
        threads=threads,
    )


def _build_openai(config: LLMConfig) -> LLM:
    from reasonrec.llm.openai import OpenAIBackend

    if not config.base_url:
        raise ConfigError("llm.backend='openai' needs llm.base_url (e.g. http://127.0.0.1:8000/v1)")
    return OpenAIBackend(
        config.base_url,
        config.model,
        api_key_env=config.api_key_env or "OPENAI_API_KEY",
        max_concurrency=config.concurrency,
        timeout=config.timeout_s,
        max_retries=config.max_retries,
    )


def _build_llamacpp(config: LLMConfig) -> LLM:
    """`model`: 'embedded' (the SmolLM2 Q4_1 GGUF) or a local .gguf file; `concurrency` = llama.cpp slots."""
    from reasonrec.llm.llamacpp import LlamaCppBackend

    if config.adapter is not None:
        raise ConfigError("llm.adapter (a PEFT LoRA directory) is only supported by llm.backend='hf'")
    gguf = None if config.model == "embedded" else Path(config.model).expanduser()
    if gguf is not None and (gguf.suffix != ".gguf" or not gguf.is_file()):
        raise ConfigError(f"llm.model={config.model!r}: llm.backend='llamacpp' needs 'embedded' or a .gguf file")
    # llama.cpp's thread pool is fixed at start; on a shared machine (adaptive policy) its idle threads sleep
    # instead of spinning.
    poll = 0 if config.thread_policy == "adaptive" else None
    return LlamaCppBackend(gguf, n_ctx=config.n_ctx, n_threads=config.n_threads, n_parallel=config.concurrency,
                           poll=poll)


# Backend name → builder.
BACKENDS: dict[str, Callable[[LLMConfig], LLM]] = {
    "hf": _build_hf,
    "openai": _build_openai,
    "llamacpp": _build_llamacpp,
}


def build_llm(config: LLMConfig) -> LLM:
    """The configured backend, wrapped in the SQLite cache unless `config.cache` is false."""
    try:
        builder = BACKENDS[config.backend]
    except KeyError:
        raise ConfigError(
            f"llm.backend={config.backend!r} has no builder; available: {sorted(BACKENDS)}"
        ) from None
    llm = builder(config)
    if not config.cache:
        return llm
    return CachedLLM(llm, LLMCache(config.resolved_cache_path()), batch_size=config.batch_size)
