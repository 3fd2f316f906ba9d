"""Per-request sampling rules shared by the local backends: seeds that depend on the request alone, and the
anti-loop logits rules (repetition penalty, no-repeat n-grams)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import torch

from reasonrec.llm.base import SamplingParams


def request_seed(params: SamplingParams, sample_index: int, payload: dict) -> int:
    """Seed for one sample: depends on the request itself, never on its batch neighbours."""
    blob = json.dumps([params.seed, sample_index, payload], sort_keys=True, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(blob.encode("utf-8")).digest()[:8], "little") & ((1 << 63) - 1)


def banned_ngram_tokens(tokens: Sequence[int], n: int) -> set[int]:
    """Tokens that would complete an n-gram already present in `tokens` (n ≤ 0: none)."""
    if n <= 0 or len(tokens) < n:
        return set()
    prefix = tuple(tokens[len(tokens) - n + 1:]) if n > 1 else ()
    return {tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tuple(tokens[i:i + n - 1]) == prefix}


def anti_loop_logits(logits: torch.Tensor, tokens: Sequence[int], params: SamplingParams) -> None:
    """In place: the repetition penalty on the tokens generated so far (CTRL's rule: positive logits divided,
    negative multiplied) and −inf for tokens that would repeat an n-gram."""
    if params.repetition_penalty != 1.0 and tokens:
        seen = torch.tensor(sorted(set(tokens)), dtype=torch.long, device=logits.device)
        values = logits[seen]
        logits[seen] = torch.where(values > 0, values / params.repetition_penalty,
                                   values * params.repetition_penalty)
    banned = banned_ngram_tokens(tokens, params.no_repeat_ngram_size)
    if banned:
        logits[torch.tensor(sorted(banned), dtype=torch.long, device=logits.device)] = float("-inf")
