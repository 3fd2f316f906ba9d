"""Local transformers backend: batched generation and choice scoring on CPU or GPU.

Why a hand-written decode loop instead of `model.generate`: per-request seeds (a sample must not depend on
which other requests shared its batch), per-request stop strings and finish reasons, and dropping finished
rows from the batch so one long answer does not keep seven finished rows computing. Generation prefills
`batch_size` prompts per pass and decodes up to `decode_batch_size` rows per step over KV buffers reserved for the
whole generation (`llm.kv_cache`: why both pay on a CPU).

Scoring reads choice log-probs from one forward pass. Two savings matter at scale:
- the instruction block is identical across thousands of prompts, so the longest common token prefix of a
  batch is run once and its KV cache expanded to the batch (padding sits between prefix and suffix, with
  explicit position ids, so every row sees exactly the positions it would see alone);
- multi-token choices (" 1" is two SmolLM2 tokens) run only their continuation tokens on top of the
  prompt's cached KV, never the prompt again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from reasonrec.errors import LLMError
from reasonrec.io import sha256_file
from reasonrec.llm.base import (
    ChoiceScores,
    Completion,
    GenerationRequest,
    ModelIdentity,
    SamplingParams,
    ScoreRequest,
    common_prefix_len,
    context_and_continuations,
    normalise_logprobs,
)
from reasonrec.llm.chat import TokenizerChat
from reasonrec.llm.cpu import ThreadGovernor
from reasonrec.llm.embedded import EMBEDDED_MODELS, ensure_embedded_model, weights_sha256
from reasonrec.llm.kernels import AttnImplementation, DType, Quantize, apply_kernels, choose_kernels
from reasonrec.llm.kv_cache import decode_groups, reserved_cache
from reasonrec.llm.sampling import anti_loop_logits, request_seed

MIN_SHARED_PREFIX = 8  # below this, a separate prefix pass costs more than it saves

StepHook = Callable[[list[tuple[int, int]]], Collection[int]]
"""`generate(..., on_step=hook)`: after every decode step, `hook([(request index, new token id), ...])` for the
rows that produced a token; it returns the request indices to stop now (finish_reason "cancelled"). A server uses
it to stream tokens, to stop a request whose client left, and to run other work between steps."""


def resolve_model_path(model_path: str | Path) -> tuple[Path, str]:
    """An embedded model name ('embedded' = SmolLM2, 'gemma3-270m') → its converted directory; anything else must
    be a local model directory."""
    if str(model_path) in EMBEDDED_MODELS:
        return ensure_embedded_model(str(model_path)), EMBEDDED_MODELS[str(model_path)][0]
    path = Path(model_path).expanduser()
    if not (path / "config.json").is_file():
        raise LLMError(f"{path}: not a model directory (no config.json); use model='embedded' or a local path")
    return path, path.name


def adapter_sha256(adapter_path: Path) -> str:
    files = sorted(adapter_path.glob("adapter_model.*")) + sorted(adapter_path.glob("adapter_config.json"))
    if not files:
        raise LLMError(f"{adapter_path}: no adapter_model.* found (expected a PEFT adapter directory)")
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _kv_tensors(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _cache_from(kv: list[tuple[torch.Tensor, torch.Tensor]]) -> DynamicCache:
    """A fresh cache over existing tensors (updates concatenate, so the source tensors stay untouched)."""
    return DynamicCache(ddp_cache_data=kv)


@dataclass
class _Row:
    """One generation in flight."""

    index: int
    prompt_len: int
    params: SamplingParams
    generator: torch.Generator | None
    tokens: list[int]
    text: str | None = None  # set when a stop string truncated the output
    finish_reason: str | None = None


class HFBackend(TokenizerChat):
    """transformers backend implementing the `LLM` protocol (optionally with a PEFT LoRA adapter).

    Kernels (`dtype`, `quantize`, `compile`, `attn_implementation`) are chosen by `llm.kernels`; `threads` (a
    `cpu.ThreadGovernor`) re-sizes torch's thread pool between batches from the cores other processes leave free.
    """

    def __init__(
        self,
        model_path: str | Path = "embedded",
        *,
        adapter_path: str | Path | None = None,
        device: str = "auto",
        dtype: DType = "auto",
        quantize: Quantize = "none",
        compile_model: bool = False,
        attn_implementation: AttnImplementation = "sdpa",
        batch_size: int = 8,
        decode_batch_size: int = 32,
        prefix_reuse: bool = True,
        max_prompt_tokens: int | None = None,
        merge_adapter: bool = True,
        threads: ThreadGovernor | None = None,
    ) -> None:
        model_dir, name = resolve_model_path(model_path)
        self.model_dir = model_dir
        dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
        self.kernels = choose_kernels(dtype, quantize, compile_model, dev.type)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        tokenizer.padding_side = "left"  # for callers that batch with this tokenizer; our own batching pads itself
        # On CPU load fp32 and let `apply_kernels` cast: adapters merge, int8 quantises and the bf16 path's fp32
        # LM head copies from exact weights. A GPU loads straight in its dtype (large models, no fp32 detour).
        exact_first = dev.type == "cpu" or adapter_path is not None
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), dtype=torch.float32 if exact_first else self.kernels.torch_dtype,
            attn_implementation=attn_implementation,
        )
        adapter_hash = None
        if adapter_path is not None:
            from peft import PeftModel  # optional: only adapter runs need it

            adapter_dir = Path(adapter_path).expanduser()
            adapter_hash = adapter_sha256(adapter_dir)
            model = PeftModel.from_pretrained(model, str(adapter_dir))
            if merge_adapter:  # same outputs, no adapter overhead per forward
                model = model.merge_and_unload()
            name = f"{name}+{adapter_dir.name}"
        model = apply_kernels(model.to(dev).eval(), self.kernels)
        identity = ModelIdentity(backend="hf", model=name, model_hash=weights_sha256(model_dir),
                                 adapter_hash=adapter_hash, variant=self.kernels.variant)
        self._attach(model, tokenizer, identity, dev, batch_size=batch_size, decode_batch_size=decode_batch_size,
                     prefix_reuse=prefix_reuse, max_prompt_tokens=max_prompt_tokens, threads=threads)

    @classmethod
    def wrap(cls, model: Any, tokenizer: Any, identity: ModelIdentity, *, batch_size: int = 8,
             decode_batch_size: int = 32, prefix_reuse: bool = True) -> HFBackend:
        """The protocol over a model already in memory (LoRA training's validation scoring): no loading, no
        kernel changes, the caller keeps the model's train/eval mode and its thread settings."""
        backend = cls.__new__(cls)
        backend.model_dir = None
        backend.kernels = None
        backend._attach(model, tokenizer, identity, next(model.parameters()).device, batch_size=batch_size,
                        decode_batch_size=decode_batch_size, prefix_reuse=prefix_reuse, max_prompt_tokens=None,
                        threads=None)
        return backend

    def _attach(self, model: Any, tokenizer: Any, identity: ModelIdentity, device: torch.device, *,
                batch_size: int, decode_batch_size: int, prefix_reuse: bool, max_prompt_tokens: int | None,
                threads: ThreadGovernor | None) -> None:
        self.model = model
        self.device = device
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.decode_batch_size = max(1, int(decode_batch_size))
        self.prefix_reuse = prefix_reuse
        self.threads = threads
        self.max_prompt_tokens = max_prompt_tokens or int(
            getattr(model.config, "max_position_embeddings", 8192) or 8192
        )
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        self.eos_ids = eos_ids
        self._identity = identity

    def _adjust_threads(self) -> None:
        if self.threads is not None:
            self.threads.adjust()

    # ------------------------------------------------------------------ protocol

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    def generate(
        self, requests: Sequence[GenerationRequest], *, on_step: StepHook | None = None
    ) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        prepared: list[tuple[int, list[int]]] = []
        for i, req in enumerate(requests):
            ids = self.prompt_ids(req, self.max_prompt_tokens)
            if isinstance(ids, Completion):
                results[i] = ids
            else:
                prepared.append((i, ids))
        # Length buckets: sort by prompt length so each batch pads little.
        prepared.sort(key=lambda p: len(p[1]))
        sizes = [(len(ids), requests[i].params.max_new_tokens) for i, ids in prepared]
        for group in decode_groups(sizes, self.decode_batch_size):
            chunk = [prepared[g] for g in group]
            self._adjust_threads()
            try:
                outs = self._generate_batch([requests[i] for i, _ in chunk], [ids for _, ids in chunk],
                                            _chunk_hook(on_step, [i for i, _ in chunk]))
            except Exception:  # noqa: BLE001 - a failing batch is retried request by request below
                outs = []
                for i, ids in chunk:  # isolate the failing request
                    try:
                        outs.extend(self._generate_batch([requests[i]], [ids], _chunk_hook(on_step, [i])))
                    except Exception as exc:  # noqa: BLE001 - isolate per-request failures; recorded as errors
                        outs.append(Completion("", "error", prompt_tokens=len(ids), error=repr(exc)))
            for (i, _), out in zip(chunk, outs, strict=True):
                results[i] = out
        return [r if r is not None else Completion("", "error", error="not computed") for r in results]

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        results: list[ChoiceScores | None] = [None] * len(requests)
        prepared: list[tuple[int, list[int], list[list[int]]]] = []
        for i, req in enumerate(requests):
            try:
                context, conts = self._score_inputs(req)
            except Exception as exc:  # noqa: BLE001 - isolate per-request failures; recorded as errors
                results[i] = ChoiceScores({}, {}, error=f"prepare failed: {exc}")
                continue
            if len(context) + max(len(c) for c in conts) > self.max_prompt_tokens:
                results[i] = ChoiceScores({}, {}, prompt_tokens=len(context), error="prompt too long")
                continue
            prepared.append((i, context, conts))
        # Sort by token ids: neighbours share the longest prefixes (same instruction, same user), which the
        # batch prefix pass then computes once.
        prepared.sort(key=lambda p: p[1])
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            self._adjust_threads()
            try:
                outs = self._score_batch([(ctx, conts) for _, ctx, conts in chunk], self.prefix_reuse)
            except Exception:  # noqa: BLE001 - a failing batch is retried request by request below
                outs = []
                for _, ctx, conts in chunk:
                    try:
                        outs.extend(self._score_batch([(ctx, conts)], False))
                    except Exception as exc:  # noqa: BLE001 - isolate per-request failures; recorded as errors
                        outs.append(ChoiceScores({}, {}, prompt_tokens=len(ctx), error=repr(exc)))
            for (i, ctx, _), lps in zip(chunk, outs, strict=True):
                if isinstance(lps, ChoiceScores):
                    results[i] = lps
                    continue
                logprobs = dict(zip(requests[i].choices, lps, strict=True))
                results[i] = ChoiceScores(
                    probs=normalise_logprobs(logprobs), logprobs=logprobs, prompt_tokens=len(ctx)
                )
        return [r if r is not None else ChoiceScores({}, {}, error="not computed") for r in results]

    # ------------------------------------------------------------------ forward pass

    def _forward(self, input_ids, attention_mask, position_ids, cache, *, last_only: bool):
        """One cached forward pass on `self.device`; `last_only` computes logits for the final position only."""
        dev = self.device
        return self.model(
            input_ids=input_ids.to(dev),
            attention_mask=attention_mask.to(dev),
            position_ids=position_ids.to(dev),
            past_key_values=cache,
            use_cache=True,
            **({"logits_to_keep": 1} if last_only else {}),
        )

    # ------------------------------------------------------------------ scoring internals

    def _score_inputs(self, req: ScoreRequest) -> tuple[list[int], list[list[int]]]:
        """Context ids + each choice's continuation, tokenised in context (`base.context_and_continuations`)."""
        return context_and_continuations(self.encode, self.render(req.messages, req.prompt, req.assistant_prefix),
                                         req.choices)

    @torch.inference_mode()
    def _score_batch(
        self, items: list[tuple[list[int], list[list[int]]]], prefix_reuse: bool
    ) -> list[list[float]]:
        """Summed continuation log-probs per item and choice."""
        contexts = [ctx for ctx, _ in items]
        batch = len(items)
        prefix_len = 0
        if prefix_reuse:
            prefix_len = len(contexts[0])
            for ctx in contexts[1:]:
                prefix_len = common_prefix_len(contexts[0][:prefix_len], ctx)
            prefix_len = min(prefix_len, min(len(c) for c in contexts) - 1)  # each row keeps >= 1 own token
            if prefix_len < MIN_SHARED_PREFIX:
                prefix_len = 0
        dev = self.device
        past: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if prefix_len:
            prefix = torch.tensor([contexts[0][:prefix_len]], device=dev)
            cache = DynamicCache()
            self.model(input_ids=prefix, past_key_values=cache, use_cache=True, logits_to_keep=1)
            past = [
                (k.expand(batch, -1, -1, -1).contiguous(), v.expand(batch, -1, -1, -1).contiguous())
                for k, v in _kv_tensors(cache)
            ]
        suffixes = [ctx[prefix_len:] for ctx in contexts]
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, prefix_len + width), dtype=torch.long)
        mask[:, :prefix_len] = 1
        positions = torch.ones((batch, width), dtype=torch.long)
        for r, suf in enumerate(suffixes):
            n = len(suf)
            input_ids[r, width - n :] = torch.tensor(suf)
            mask[r, prefix_len + width - n :] = 1
            positions[r, width - n :] = torch.arange(prefix_len, prefix_len + n)
        cache = _cache_from(past) if past is not None else DynamicCache()
        out = self._forward(input_ids, mask, positions, cache, last_only=True)
        next_lp = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
        ctx_kv = _kv_tensors(out.past_key_values)
        ctx_lens = [len(c) for c in contexts]
        n_choices = len(items[0][1])
        scores = [[0.0] * len(conts) for _, conts in items]
        for r, (_, conts) in enumerate(items):
            for c, cont in enumerate(conts):
                scores[r][c] = float(next_lp[r, cont[0]])
        # Multi-token choices: run only their remaining tokens on the cached context, one pass per choice slot.
        max_choices = max(len(conts) for _, conts in items)
        for c in range(max(n_choices, max_choices)):
            tails = [conts[c] if c < len(conts) else [] for _, conts in items]
            steps = max((len(t) - 1 for t in tails), default=0)
            if steps <= 0:
                continue
            feed = torch.full((batch, steps), self.pad_id, dtype=torch.long)
            step_mask = torch.zeros((batch, steps), dtype=torch.long)
            step_pos = torch.ones((batch, steps), dtype=torch.long)
            for r, tail in enumerate(tails):
                n = max(len(tail) - 1, 0)
                if n:
                    feed[r, :n] = torch.tensor(tail[:-1])
                    step_mask[r, :n] = 1
                    step_pos[r, :n] = torch.arange(ctx_lens[r], ctx_lens[r] + n)
            full_mask = torch.cat([mask, step_mask], dim=1)
            step_out = self._forward(feed, full_mask, step_pos, _cache_from(ctx_kv), last_only=False)
            lp = torch.log_softmax(step_out.logits.float(), dim=-1)
            for r, tail in enumerate(tails):
                for j in range(len(tail) - 1):
                    scores[r][c] += float(lp[r, j, tail[j + 1]])
        return scores

    # ------------------------------------------------------------------ generation internals

    def _next_tokens(self, logits: torch.Tensor, rows: list[_Row]) -> list[int]:
        if any(row.params.repetition_penalty != 1.0 or row.params.no_repeat_ngram_size for row in rows):
            logits = logits.float().clone()
            for r, row in enumerate(rows):
                anti_loop_logits(logits[r], row.tokens, row.params)
        greedy = logits.argmax(dim=-1).tolist()
        chosen: list[int] = []
        for r, row in enumerate(rows):
            p = row.params
            if p.temperature <= 0 or row.generator is None:
                chosen.append(int(greedy[r]))
                continue
            probs = torch.softmax(logits[r].float() / p.temperature, dim=-1)
            if p.top_p < 1.0:
                sorted_p, order = torch.sort(probs, descending=True)
                keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < p.top_p
                keep[0] = True
                filtered = torch.zeros_like(probs)
                filtered[order[keep]] = sorted_p[keep]
                probs = filtered / filtered.sum()
            chosen.append(int(torch.multinomial(probs.cpu(), 1, generator=row.generator).item()))
        return chosen

    def _prefill(self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 prompts: list[list[int]], capacity: int) -> tuple[Any, torch.Tensor]:
        """The prompts' KV in a cache reserved for `capacity` positions, and their last-position logits.

        Prompts run in slices of `batch_size` rows, each padded only to its own longest prompt (prefill is
        compute-bound: a wider batch only adds padding); every slice's KV is written right-aligned into the
        reserved buffers as soon as it is computed, and the positions before it stay zero and masked."""
        batch, width = input_ids.shape
        cache = None
        logits = []
        for start in range(0, batch, self.batch_size):
            rows = slice(start, start + self.batch_size)
            own = max(len(p) for p in prompts[rows])
            cols = slice(width - own, width)
            out = self._forward(input_ids[rows, cols], mask[rows, cols], positions[rows, cols], DynamicCache(),
                                last_only=True)
            kv = _kv_tensors(out.past_key_values)
            if cache is None:
                cache = reserved_cache(kv, capacity, batch=batch, length=width)
            cache.place(rows, kv)
            logits.append(out.logits[:, -1, :])
            del out, kv  # one slice's DynamicCache at a time: the reserved buffers are the only full copy
        return cache, torch.cat(logits)

    @torch.inference_mode()
    def _generate_batch(
        self, reqs: list[GenerationRequest], prompts: list[list[int]], on_step: StepHook | None = None
    ) -> list[Completion]:
        dev = self.device
        batch = len(prompts)
        width = max(len(p) for p in prompts)
        input_ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for r, ids in enumerate(prompts):
            input_ids[r, width - len(ids) :] = torch.tensor(ids)
            mask[r, width - len(ids) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        rows = []
        for r, req in enumerate(reqs):
            gen = None
            if req.params.temperature > 0:
                gen = torch.Generator().manual_seed(request_seed(req.params, req.sample_index, req.payload()))
            rows.append(_Row(index=r, prompt_len=len(prompts[r]), params=req.params, generator=gen, tokens=[]))
        cache, logits = self._prefill(input_ids, mask, positions, prompts,
                                      width + max(req.params.max_new_tokens for req in reqs))
        mask = mask.to(dev)
        next_pos = positions[:, -1].to(dev) + 1
        active = rows
        while active:
            chosen = self._next_tokens(logits, active)
            keep: list[int] = []
            emitted: list[tuple[int, int]] = []
            for r, (row, tok) in enumerate(zip(active, chosen, strict=True)):
                if tok in self.eos_ids:
                    row.finish_reason = "stop"
                    continue
                row.tokens.append(tok)
                emitted.append((row.index, tok))
                if row.params.stop:
                    text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
                    hits = [text.find(s) for s in row.params.stop if s and s in text]
                    if hits:
                        row.text = text[: min(hits)]
                        row.finish_reason = "stop"
                        continue
                if len(row.tokens) >= row.params.max_new_tokens:
                    row.finish_reason = "length"
                    continue
                keep.append(r)
            if on_step is not None:
                stopped = set(on_step(emitted))
                for r in keep:
                    if active[r].index in stopped:
                        active[r].finish_reason = "cancelled"
                keep = [r for r in keep if active[r].index not in stopped]
            if not keep:
                break
            self._adjust_threads()  # a decode batch runs for seconds: follow the neighbours' load within it
            if len(keep) < len(active):  # drop finished rows from the batch
                idx = torch.tensor(keep, device=dev)
                cache.batch_select_indices(idx)
                mask = mask[idx]
                next_pos = next_pos[idx]
                chosen = [chosen[r] for r in keep]
                active = [active[r] for r in keep]
            mask = torch.cat([mask, torch.ones((len(active), 1), dtype=mask.dtype, device=dev)], dim=1)
            out = self._forward(torch.tensor(chosen, device=dev).unsqueeze(1), mask, next_pos.unsqueeze(1), cache,
                                last_only=False)
            logits = out.logits[:, -1, :]
            next_pos = next_pos + 1
        completions = []
        for row in rows:
            text = row.text if row.text is not None else self.tokenizer.decode(row.tokens, skip_special_tokens=True)
            completions.append(
                Completion(
                    text=text,
                    finish_reason=row.finish_reason or "length",
                    prompt_tokens=row.prompt_len,
                    completion_tokens=len(row.tokens),
                )
            )
        return completions


def _chunk_hook(on_step: StepHook | None, indices: list[int]) -> StepHook | None:
    """`on_step` seen from one batch: its row numbers are mapped to and from the caller's request indices."""
    if on_step is None:
        return None

    def hook(tokens: list[tuple[int, int]]) -> set[int]:
        stopped = set(on_step([(indices[row], tok) for row, tok in tokens]))
        return {row for row, index in enumerate(indices) if index in stopped}

    return hook
