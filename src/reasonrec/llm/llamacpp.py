"""Optional llama.cpp backend: the GGUF run in-process through xllamacpp's embedded llama.cpp server.

Why this shape:
- Prompts are rendered and tokenised by the HF tokenizer (for the embedded model: the very tokenizer the hf
  backend uses), and llama.cpp receives token ids. So both backends see the same chat template, the same
  `assistant_prefix` placement and the same tokens; only the weights differ (Q4_1 GGUF vs fp32 dequantised).
- Requests are issued from `n_parallel` Python threads (the xllamacpp calls release the GIL); the server's
  continuous batching puts them into one decode batch, and its per-slot prompt cache reuses a context
  across the follow-up requests of one score.
- Scoring reads llama.cpp's raw next-token log-probs (`n_probs`, computed before any sampler/grammar).
  Choices whose first token is not in the top `top_logprobs`, and multi-token choices, are forced with a
  token-literal grammar (`root ::= <[id]> <[id]>`) whose per-token log-probs are still the raw model ones;
  the returned token ids are checked against the expected continuation, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reasonrec.errors import LLMError
from reasonrec.io import sha256_file
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
from reasonrec.llm.embedded import ensure_embedded_model
from reasonrec.llm.embedded import gguf_path as embedded_gguf_path

LLAMA_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's "pick a random seed" sentinel; request seeds must avoid it
# Sampler chain matching the hf backend: temperature scales the logits, then nucleus filtering, then sampling.
# (llama.cpp's default chain applies top_p before temperature and adds top_k/min_p filters.)
HF_EQUIVALENT_SAMPLERS = ["temperature", "top_p"]

_PreparedGeneration = tuple[GenerationRequest, list[int]]  # request, prompt ids
_PreparedScore = tuple[ScoreRequest, list[int], list[list[int]]]  # request, context ids, continuation ids


def fold_seed(seed: int) -> int:
    """A 64-bit request seed folded into llama.cpp's uint32 seed space, never the random sentinel."""
    return seed % LLAMA_RANDOM_SEED


def _response_error(resp: Any) -> str | None:
    """llama.cpp answers errors as {"code", "message"} or {"error": {...}} instead of "choices"."""
    if not isinstance(resp, dict):
        return f"unexpected response type {type(resp).__name__}"
    if "error" in resp:
        err = resp["error"]
        return str(err.get("message", err)) if isinstance(err, dict) else str(err)
    if "choices" not in resp or not resp["choices"]:
        return str(resp.get("message") or resp)[:500]
    return None


class LlamaCppBackend(TokenizerChat):
    """llama.cpp (xllamacpp) backend implementing the `LLM` protocol on a local GGUF file."""

    def __init__(
        self,
        gguf_path: str | Path | None = None,
        *,
        tokenizer_path: str | Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_parallel: int = 4,
        n_batch: int = 512,
        top_logprobs: int = 20,
        poll: int | None = None,
    ) -> None:
        """`gguf_path=None` → the embedded SmolLM2 GGUF. `n_ctx` is per sequence (each of the `n_parallel`
        server slots gets its own); `n_threads=None` lets llama.cpp use every physical core. `poll` is how hard
        idle llama.cpp threads busy-wait for work (0-100, llama.cpp's default 50): 0 makes them sleep, which a
        machine shared with other CPU-heavy processes needs (the same spin-wait collapse as OpenMP's)."""
        try:
            import xllamacpp
        except ImportError as exc:  # optional dependency
            raise LLMError(
                "llm.backend='llamacpp' needs the xllamacpp package (pip install xllamacpp)"
            ) from exc
        gguf = Path(gguf_path).expanduser() if gguf_path is not None else embedded_gguf_path()
        if not gguf.is_file():
            raise LLMError(f"{gguf}: GGUF file not found")
        self.gguf_path = gguf
        self.n_ctx = int(n_ctx)
        self.n_parallel = max(1, int(n_parallel))
        self.top_logprobs = max(2, int(top_logprobs))
        self.tokenizer = self._load_tokenizer(gguf, tokenizer_path)

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_ctx = self.n_ctx * self.n_parallel  # llama.cpp splits the context evenly across slots
        params.kv_unified = False
        params.n_parallel = self.n_parallel
        params.n_batch = int(n_batch)
        params.n_ubatch = int(n_batch)
        params.cache_prompt = True
        params.warmup = False
        params.verbosity = 0
        if n_threads is not None:
            params.cpuparams.n_threads = int(n_threads)
            params.cpuparams_batch.n_threads = int(n_threads)
        if poll is not None:
            params.cpuparams.poll = params.cpuparams_batch.poll = max(0, min(100, int(poll)))
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise LLMError(f"{gguf}: llama.cpp could not load the model: {exc}") from exc
        self._identity = ModelIdentity(backend="llamacpp", model=gguf.stem, model_hash=sha256_file(gguf))

    @staticmethod
    def _load_tokenizer(gguf: Path, tokenizer_path: str | Path | None):
        """The embedded GGUF uses the hf backend's converted tokenizer (same template, same ids); other
        GGUFs read their tokenizer and chat template from the GGUF itself unless a directory is given."""
        from transformers import AutoTokenizer

        if tokenizer_path is not None:
            return AutoTokenizer.from_pretrained(str(Path(tokenizer_path).expanduser()))
        try:
            is_embedded = gguf.resolve() == embedded_gguf_path().resolve()
        except LLMError:
            is_embedded = False
        if is_embedded:
            return AutoTokenizer.from_pretrained(str(ensure_embedded_model(verify_hash=False)))
        return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)

    # ------------------------------------------------------------------ protocol

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        # Tokenise here, in the caller's thread: a fast tokenizer shared by threads can fail ("Already borrowed").
        prepared = [self._prepare_generation(r) for r in requests]
        return self._map(self._generate_one, prepared)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        prepared = [self._prepare_score(r) for r in requests]
        return self._map(self._score_one, prepared)

    def close(self) -> None:
        """Free the model and KV cache now instead of at garbage collection."""
        self._server = None

    # ------------------------------------------------------------------ internals

    def _map(self, fn, requests: Sequence) -> list:
        if len(requests) <= 1 or self.n_parallel == 1:
            return [fn(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.n_parallel, len(requests))) as pool:
            return list(pool.map(fn, requests))

    def _call(self, body: dict) -> dict:
        server = self._server
        if server is None:
            raise LLMError("LlamaCppBackend is closed")
        return server.handle_completions(body)

    def _prepare_generation(self, req: GenerationRequest) -> _PreparedGeneration | Completion:
        ids = self.prompt_ids(req, self.n_ctx)
        return ids if isinstance(ids, Completion) else (req, ids)

    def _generate_one(self, prepared: _PreparedGeneration | Completion) -> Completion:
        from reasonrec.llm.sampling import request_seed  # the one definition of per-sample seeds

        if isinstance(prepared, Completion):
            return prepared
        req, ids = prepared
        p = req.params
        body = {
            "prompt": ids,
            "max_tokens": p.max_new_tokens,
            "temperature": max(0.0, p.temperature),
            "top_p": p.top_p,
            "samplers": HF_EQUIVALENT_SAMPLERS,
            "seed": fold_seed(request_seed(p, req.sample_index, req.payload())),
            "stop": [s for s in p.stop if s],
            "cache_prompt": True,
        }
        if p.repetition_penalty != 1.0:
            body |= {"repeat_penalty": p.repetition_penalty, "samplers": ["penalties", *HF_EQUIVALENT_SAMPLERS]}
        try:
            resp = self._call(body)
        except Exception as exc:  # noqa: BLE001 - one bad request must not sink the batch
            return Completion("", "error", prompt_tokens=len(ids), error=repr(exc))
        err = _response_error(resp)
        if err is not None:
            return Completion("", "error", prompt_tokens=len(ids), error=err)
        choice = resp["choices"][0]
        usage = resp.get("usage", {})
        finish = choice.get("finish_reason") or "length"
        return Completion(
            text=choice.get("text", ""),
            finish_reason=finish if finish in {"stop", "length"} else "stop",
            prompt_tokens=int(usage.get("prompt_tokens", len(ids))),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    def _score_inputs(self, req: ScoreRequest) -> tuple[list[int], list[list[int]]]:
        """Context ids + each choice's continuation, tokenised in context (`base.context_and_continuations`)."""
        return context_and_continuations(self.encode, self.render(req.messages, req.prompt, req.assistant_prefix),
                                         req.choices)

    def _prepare_score(self, req: ScoreRequest) -> _PreparedScore | ChoiceScores:
        try:
            context, conts = self._score_inputs(req)
        except Exception as exc:  # noqa: BLE001 - one bad request must not sink the batch
            return ChoiceScores({}, {}, error=f"prepare failed: {exc}")
        if len(context) + max(len(c) for c in conts) > self.n_ctx:
            return ChoiceScores({}, {}, prompt_tokens=len(context), error="prompt too long")
        return req, context, conts

    def _score_one(self, prepared: _PreparedScore | ChoiceScores) -> ChoiceScores:
        if isinstance(prepared, ChoiceScores):
            return prepared
        req, context, conts = prepared
        try:
            first = self._top_logprobs(context)
            logprobs: dict[str, float] = {}
            for choice, cont in zip(req.choices, conts, strict=True):
                if len(cont) == 1 and cont[0] in first:
                    logprobs[choice] = first[cont[0]]
                else:
                    logprobs[choice] = self._forced_logprob(context, cont)
        except Exception as exc:  # noqa: BLE001 - one bad request must not sink the batch
            return ChoiceScores({}, {}, prompt_tokens=len(context), error=str(exc))
        return ChoiceScores(probs=normalise_logprobs(logprobs), logprobs=logprobs, prompt_tokens=len(context))

    def _top_logprobs(self, context: list[int]) -> dict[int, float]:
        """Raw log-probs of the `top_logprobs` most likely next tokens after `context`."""
        body = {
            "prompt": context,
            "max_tokens": 1,
            "n_probs": self.top_logprobs,
            "temperature": 0.0,
            "cache_prompt": True,
        }
        resp = self._call(body)
        err = _response_error(resp)
        if err is not None:
            raise LLMError(f"llama.cpp scoring request failed: {err}")
        step = resp["choices"][0]["logprobs"]["content"][0]
        return {int(t["id"]): float(t["logprob"]) for t in step["top_logprobs"]}

    def _forced_logprob(self, context: list[int], cont: list[int]) -> float:
        """Summed raw log-probs of `cont` after `context`, decoding it under a token-literal grammar."""
        grammar = "root ::= " + " ".join(f"<[{t}]>" for t in cont)
        body = {
            "prompt": context,
            "max_tokens": len(cont),
            "n_probs": 1,
            "temperature": 0.0,
            "grammar": grammar,
            "cache_prompt": True,
        }
        resp = self._call(body)
        err = _response_error(resp)
        if err is not None:
            raise LLMError(f"llama.cpp forced-choice request failed: {err}")
        steps = resp["choices"][0]["logprobs"]["content"]
        got = [int(s["id"]) for s in steps]
        if got != cont:
            raise LLMError(f"llama.cpp did not follow the forced continuation: expected {cont}, got {got}")
        return float(sum(float(s["logprob"]) for s in steps))
