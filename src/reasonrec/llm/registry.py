"""Build an `LLM` from a config: one explicit table of backends, cache wrapping by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, field_validator, model_validator

from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM, ForwardingLLM
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.cpu import ThreadPolicy, thread_governor
from reasonrec.llm.executor import DistributedLLM, ExecutorConfig, RateLimitedLLM, check_executor, require_ray
from reasonrec.llm.kernels import AttnImplementation, DType, Quantize
from reasonrec.llm.testing import ScriptedLLM
from reasonrec.llm.vllm import VLLMOptions
from reasonrec.paths import cache_root

if TYPE_CHECKING:
    from reasonrec.llm.hf import HFBackend


class LLMConfig(Config):
    """Which model answers, and how. Defaults: the embedded SmolLM2 on the local transformers backend, cached."""

    backend: Literal["hf", "openai", "llamacpp", "vllm", "scripted"] = "hf"
    model: str = Field("embedded", description="'embedded', a local model directory, or a served model name")
    adapter: str | None = Field(None, description="PEFT LoRA adapter directory (hf and vllm backends)")
    device: str = "auto"
    # Kernels (hf backend; see llm/kernels.py and bench/llm_throughput.py for the measured trade-offs)
    dtype: DType = Field(
        "auto", description="auto: bf16 on CUDA, fp32 on CPU (bf16 is faster on AMX/AVX512-BF16 CPUs but moved P(yes) "
        "by up to 0.046 on Beauty: opt in with bf16); fp16 on GPUs only")
    quantize: Quantize = Field("none", description="int8: dynamic int8 Linear layers (CPU; head and rest fp32; "
                               "moves P(yes) far more than bf16)")
    compile: bool = Field(False, description="torch.compile the forward pass (the first calls compile for minutes)")
    attn_implementation: AttnImplementation = "sdpa"
    batch_size: int = Field(8, ge=1, description="hf: prompts per forward pass when scoring and when prefilling "
                            "generations (compute-bound: wider batches only add padding)")
    decode_batch_size: int = Field(32, ge=1, description="hf: generations decoded together (a decode step reads every "
                                   "weight once for all its rows; long prompts get fewer rows, at most "
                                   "decode_batch_size x 1024 prompt + answer tokens)")
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
    vllm: VLLMOptions = Field(default_factory=VLLMOptions, description="engine settings of the vllm backend")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="where requests run: local | ray")

    @model_validator(mode="after")
    def _executor_fits_backend(self) -> Self:
        check_executor(self.backend, self.executor, self.vllm.tensor_parallel_size)
        return self

    @field_validator("dtype", mode="before")
    @classmethod
    def _torch_dtype_names(cls, value: object) -> object:
        """torch's own names ("float32", "bfloat16", "float16") mean the same as fp32 / bf16 / fp16."""
        return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(value, value) if isinstance(value, str) else value

    def resolved_cache_path(self) -> Path:
        return Path(self.cache_path) if self.cache_path else cache_root() / "llm_cache.sqlite"


def build_hf_backend(config: LLMConfig) -> HFBackend:
    """The local transformers backend with the config's kernels and thread policy (`llm serve` needs it as such:
    the server reads its tokenizer and model directly)."""
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
        decode_batch_size=config.decode_batch_size,
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


def _build_vllm(config: LLMConfig) -> LLM:
    """`model`: 'embedded' or a local model directory; one engine on this box's GPU(s), created on first use."""
    from reasonrec.llm.vllm import VLLMBackend

    return VLLMBackend(config.model, adapter_path=config.adapter, dtype=config.dtype, options=config.vllm,
                       max_prompt_tokens=config.max_prompt_tokens)


def _build_scripted(config: LLMConfig) -> LLM:
    """Scripted answers, no weights (`llm.testing`): control-flow tests and dry runs, never results."""
    return ScriptedLLM(model=config.model)


# Backend name → builder.
BACKENDS: dict[str, Callable[[LLMConfig], LLM]] = {
    "hf": build_hf_backend,
    "openai": _build_openai,
    "llamacpp": _build_llamacpp,
    "vllm": _build_vllm,
    "scripted": _build_scripted,
}


class LazyLLM(ForwardingLLM):
    """The configured LLM, built on first use, so a command checks its inputs before a model loads and a run whose
    stages all come from released artefacts never loads one."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._llm: LLM | None = None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = build_llm(self.config)
        return self._llm


def build_llm(config: LLMConfig) -> LLM:
    """The configured backend, wrapped in the SQLite cache unless `config.cache` is false, and in the Ray executor
    when `config.executor.kind` is 'ray' (its workers call this again with a local executor and no cache)."""
    try:
        builder = BACKENDS[config.backend]
    except KeyError:
        raise ConfigError(
            f"llm.backend={config.backend!r} has no builder; available: {sorted(BACKENDS)}"
        ) from None
    executor = config.executor
    if executor.kind == "ray":
        require_ray()
    llm = builder(config)
    if executor.kind == "local" and executor.qps is not None:
        llm = RateLimitedLLM(llm, executor.qps)
    cache = LLMCache(config.resolved_cache_path()) if config.cache else None
    if cache is not None:
        llm = CachedLLM(llm, cache, batch_size=config.batch_size,
                        generate_batch_size=max(config.batch_size, config.decode_batch_size))
    if executor.kind == "ray":
        return DistributedLLM(llm, config, executor, build_llm, cache)
    return llm
