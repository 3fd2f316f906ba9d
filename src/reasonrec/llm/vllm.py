"""The `vllm` backend: an offline vLLM engine on this box's GPU(s) behind the LLM protocol (and the cache).

Why it looks like this:
- Prompts are rendered and tokenised here with the model's own tokenizer and chat template (`TokenizerChat`, as
  the hf and llama.cpp backends do) and sent as token ids, so all local backends see the same tokens.
- `generate` gives every request its own seed derived from the request (`sampling.request_seed`): a sample never depends
  on which requests shared its batch, and sample i of M differs from sample i+1.
- `score` reads choice log-probs, never sampled text, with the definition every local backend shares
  (`base.context_and_continuations`): the context is the longest token prefix all `prompt + choice` encodings share.
  1. One forward pass per request: the top `vllm.top_logprobs` next-token log-probs after the context. When every
     choice is a single token found among them (" Yes" / " No", "1".."5"), that is the answer.
  2. Otherwise each choice is scored exactly from its own tokens: context + continuation with
     `prompt_logprobs=0`, summing the continuation's log-probs.
- The engine is created on first use: building the backend (tokenizer, identity hash) is cheap, so a driver that
  only counts tokens or sends work to Ray workers never holds a GPU.

vLLM is an optional dependency (`reasonrec[vllm]`, a CUDA box); without it the backend refuses with one line.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import ConfigError, LLMError
from reasonrec.llm.base import (
    ChoiceScores,
    Completion,
    GenerationRequest,
    ModelIdentity,
    ScoreRequest,
    context_and_continuations,
    normalise_logprobs,
)
from reasonrec.llm.chat import TokenizerChat

VLLM_MISSING = (
    "llm.backend='vllm' needs vLLM on a CUDA GPU box: pip install 'reasonrec[vllm]' (vLLM is not installed here)"
)
DTYPES = {"auto": "auto", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class VLLMOptions(Config):
    """Engine settings of the `vllm` backend (see vLLM's `LLM(...)` arguments of the same names)."""

    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0, description="share of GPU memory vLLM may take")
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs one engine shards the model over")
    max_model_len: int | None = Field(None, ge=256, le=1_048_576, description="context length (None: the model's)")
    enforce_eager: bool = Field(False, description="skip CUDA graph capture (faster start, slower decode)")
    enable_prefix_caching: bool = Field(True, description="reuse KV of shared prompt prefixes across requests")
    top_logprobs: int = Field(
        20, ge=2, le=1000,
        description="next-token log-probs read in the one-pass score; choices outside them are scored exactly",
    )
    max_lora_rank: int = Field(16, ge=1, le=512, description="largest LoRA rank the engine accepts (llm.adapter)")


def require_vllm() -> None:
    """Refuse in one line when vLLM is not installed (checked without importing it: importing initialises CUDA)."""
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(VLLM_MISSING)


def one_pass_logprobs(top: dict[int, float], choices: Sequence[str], conts: Sequence[Sequence[int]]
                      ) -> dict[str, float] | None:
    """Choice log-probs from one next-token distribution, or None when a choice needs more than that
    (a multi-token continuation, or a token outside the returned top log-probs)."""
    out: dict[str, float] = {}
    for choice, cont in zip(choices, conts, strict=True):
        if len(cont) != 1 or cont[0] not in top:
            return None
        out[choice] = top[cont[0]]
    return out


def continuation_logprob(prompt_logprobs: Sequence[dict[int, float] | None], start: int, cont: Sequence[int]
                         ) -> float:
    """log P(cont | the first `start` tokens) from per-position prompt log-probs of context + cont."""
    total = 0.0
    for offset, token in enumerate(cont):
        entry = prompt_logprobs[start + offset] if start + offset < len(prompt_logprobs) else None
        if not entry or token not in entry:
            raise LLMError(f"vLLM returned no prompt log-prob for token {token} at position {start + offset}")
        total += entry[token]
    return total


class VLLMBackend(TokenizerChat):
    """vLLM offline engine implementing the `LLM` protocol (optionally with a LoRA adapter)."""

    def __init__(
        self,
        model_path: str | Path = "embedded",
        *,
        adapter_path: str | Path | None = None,
        dtype: str = "auto",
        options: VLLMOptions | None = None,
        max_prompt_tokens: int | None = None,
    ) -> None:
        require_vllm()
        from transformers import AutoTokenizer  # heavy; this backend exists only where vLLM (and torch) do

        from reasonrec.llm.embedded import weights_sha256
        from reasonrec.llm.hf import adapter_sha256, resolve_model_path

        self.options = options or VLLMOptions()
        self.model_dir, name = resolve_model_path(model_path)
        self.dtype = DTYPES.get(dtype, dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self.adapter_dir = Path(adapter_path).expanduser() if adapter_path is not None else None
        adapter_hash = adapter_sha256(self.adapter_dir) if self.adapter_dir is not None else None
        if self.adapter_dir is not None:
            name = f"{name}+{self.adapter_dir.name}"
        self.max_prompt_tokens = max_prompt_tokens or self.options.max_model_len
        self._identity = ModelIdentity("vllm", name, weights_sha256(self.model_dir), adapter_hash)
        self._engine: Any = None

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    def engine(self) -> Any:
        """The vLLM engine, created on first use."""
        if self._engine is None:
            from vllm import LLM as Engine  # optional heavy dependency

            o = self.options
            self._engine = Engine(
                model=str(self.model_dir), dtype=self.dtype, gpu_memory_utilization=o.gpu_memory_utilization,
                tensor_parallel_size=o.tensor_parallel_size, max_model_len=o.max_model_len,
                enforce_eager=o.enforce_eager, enable_prefix_caching=o.enable_prefix_caching,
                max_logprobs=o.top_logprobs, enable_lora=self.adapter_dir is not None,
                max_lora_rank=o.max_lora_rank,
            )
            if self.max_prompt_tokens is None:
                engine = self._engine.llm_engine
                model_config = getattr(engine, "model_config", None) or engine.vllm_config.model_config
                self.max_prompt_tokens = int(model_config.max_model_len)
        return self._engine

    def _lora(self) -> Any:
        if self.adapter_dir is None:
            return None
        from vllm.lora.request import LoRARequest

        return LoRARequest("adapter", 1, str(self.adapter_dir))

    def _run(self, prompts: list[list[int]], params: list[Any]) -> list[Any]:
        from vllm.inputs import TokensPrompt

        return self.engine().generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in prompts], params, use_tqdm=False,
            lora_request=self._lora(),
        )

    # ------------------------------------------------------------------------------------------ generate

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        from vllm import SamplingParams

        from reasonrec.llm.sampling import request_seed

        self.engine()
        results: list[Completion | None] = [None] * len(requests)
        todo: list[tuple[int, list[int], Any]] = []
        for i, req in enumerate(requests):
            ids = self.prompt_ids(req, self.max_prompt_tokens or 0)
            if isinstance(ids, Completion):
                results[i] = ids
                continue
            p = req.params
            todo.append((i, ids, SamplingParams(
                n=1, temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_new_tokens,
                stop=list(p.stop) or None, seed=request_seed(p, req.sample_index, req.payload()),
                repetition_penalty=p.repetition_penalty,
            )))
        if todo:
            outs = self._run([ids for _, ids, _ in todo], [params for _, _, params in todo])
            for (i, ids, _), out in zip(todo, outs, strict=True):
                sample = out.outputs[0]
                reason = "length" if sample.finish_reason == "length" else "stop"
                results[i] = Completion(sample.text, reason, prompt_tokens=len(ids),
                                        completion_tokens=len(sample.token_ids))
        return [r if r is not None else Completion("", "error", error="not computed") for r in results]

    # ------------------------------------------------------------------------------------------ score

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        from vllm import SamplingParams

        self.engine()
        results: list[ChoiceScores | None] = [None] * len(requests)
        prepared: list[tuple[int, list[int], list[list[int]]]] = []
        for i, req in enumerate(requests):
            try:
                text = self.render(req.messages, req.prompt, req.assistant_prefix)
                context, conts = context_and_continuations(self.encode, text, req.choices)
            except Exception as exc:  # noqa: BLE001 - isolate per-request failures; recorded as errors
                results[i] = ChoiceScores({}, {}, error=f"prepare failed: {exc}")
                continue
            if len(context) + max(len(c) for c in conts) > (self.max_prompt_tokens or 0):
                results[i] = ChoiceScores({}, {}, prompt_tokens=len(context), error="prompt too long")
                continue
            prepared.append((i, context, conts))
        next_token = SamplingParams(n=1, temperature=0.0, max_tokens=1, logprobs=self.options.top_logprobs)
        firsts = self._run([ctx for _, ctx, _ in prepared], [next_token] * len(prepared)) if prepared else []
        exact: list[tuple[int, list[int], list[list[int]]]] = []
        for (i, context, conts), out in zip(prepared, firsts, strict=True):
            top = {tid: float(lp.logprob) for tid, lp in (out.outputs[0].logprobs or [{}])[0].items()}
            logprobs = one_pass_logprobs(top, requests[i].choices, conts)
            if logprobs is None:
                exact.append((i, context, conts))
            else:
                results[i] = ChoiceScores(normalise_logprobs(logprobs), logprobs, prompt_tokens=len(context))
        self._score_exact(requests, exact, results)
        return [r if r is not None else ChoiceScores({}, {}, error="not computed") for r in results]

    def _score_exact(self, requests: Sequence[ScoreRequest], exact: list[tuple[int, list[int], list[list[int]]]],
                     results: list[ChoiceScores | None]) -> None:
        """Multi-token or rare choices: one prompt-logprob pass per (request, choice) over context + continuation."""
        if not exact:
            return
        from vllm import SamplingParams

        seqs = [ctx + cont for _, ctx, conts in exact for cont in conts]
        params = SamplingParams(n=1, temperature=0.0, max_tokens=1, prompt_logprobs=0)
        outs = iter(self._run(seqs, [params] * len(seqs)))
        for i, context, conts in exact:
            per_choice = [[{tid: float(lp.logprob) for tid, lp in entry.items()} if entry else None
                           for entry in (next(outs).prompt_logprobs or [])] for _ in conts]
            try:
                logprobs = {choice: continuation_logprob(plps, len(context), cont)
                            for choice, cont, plps in zip(requests[i].choices, conts, per_choice, strict=True)}
            except LLMError as exc:
                results[i] = ChoiceScores({}, {}, prompt_tokens=len(context), error=str(exc))
                continue
            results[i] = ChoiceScores(normalise_logprobs(logprobs), logprobs, prompt_tokens=len(context))


__all__ = ["VLLM_MISSING", "VLLMBackend", "VLLMOptions", "continuation_logprob", "one_pass_logprobs", "require_vllm"]
