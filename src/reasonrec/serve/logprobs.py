"""Token log-probs from the served torch model: what `logprobs`, `top_logprobs`, `echo` and `prompt_logprobs`
report.

Log-probs come from one teacher-forced forward pass over prompt + generated tokens, where the generated text is
re-tokenised (for a tiny fraction of outputs the re-tokenisation can differ from the sampled token ids; the text
is always the backend's). Reported log-probs are the raw model distribution (log-softmax of the logits, before
temperature / top-p), as in vLLM. These functions run on the model worker's thread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

LM_HEAD_CHUNK = (
    256  # positions per lm_head chunk: a 2k-token echo pass stays far below a full [L, V] logits tensor
)


@dataclass(frozen=True)
class TokenLogprob:
    token_id: int
    token: str
    logprob: float
    rank: int  # 1 = most likely
    top: list[tuple[int, str, float]]  # (id, text, logprob), most likely first


def decode_token(tokenizer: Any, token_id: int) -> str:
    return tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)


def encode(tokenizer: Any, text: str) -> tuple[list[int], list[int]]:
    """Token ids of `text` (no special tokens added, as the backend encodes rendered prompts) and each token's
    start offset in `text`."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [int(start) for start, _ in enc["offset_mapping"]]


def eos_ids(tokenizer: Any) -> set[int]:
    ids = tokenizer.eos_token_id
    if ids is None:
        return set()
    return set(ids) if isinstance(ids, (list, tuple)) else {int(ids)}


def _top(tokenizer: Any, ids: list[int], values: list[float]) -> list[tuple[int, str, float]]:
    return [(i, decode_token(tokenizer, i), v) for i, v in zip(ids, values, strict=True)]


def token_logprobs(model: Any, tokenizer: Any, ids: list[int], start: int, top_k: int) -> list[TokenLogprob]:
    """Log-prob of each token `ids[start:]` given everything before it (start >= 1), with its top-k
    alternatives. One forward pass; the lm_head is applied in chunks so memory stays O(chunk x vocab)."""
    if start < 1 or start > len(ids):
        raise ValueError(f"start must be in [1, {len(ids)}], got {start}")
    if start == len(ids):
        return []
    device = next(model.parameters()).device
    k = max(top_k, 0)
    results: list[TokenLogprob] = []
    with torch.inference_mode():
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        out = model(input_ids=input_ids, output_hidden_states=True, use_cache=False, logits_to_keep=1)
        hidden = out.hidden_states[-1][0]  # [L, H], final norm applied
        head = model.get_output_embeddings()
        for lo in range(start - 1, len(ids) - 1, LM_HEAD_CHUNK):
            hi = min(lo + LM_HEAD_CHUNK, len(ids) - 1)
            logprobs = torch.log_softmax(head(hidden[lo:hi]).float(), dim=-1)
            targets = torch.tensor(ids[lo + 1 : hi + 1], dtype=torch.long, device=device)
            actual = logprobs.gather(1, targets[:, None])[:, 0]
            ranks = (logprobs > actual[:, None]).sum(dim=1) + 1
            top_vals, top_ids = torch.topk(logprobs, k, dim=-1) if k else (None, None)
            for row in range(hi - lo):
                tid = int(targets[row])
                top = _top(tokenizer, top_ids[row].tolist(), top_vals[row].tolist()) if k else []
                results.append(
                    TokenLogprob(tid, decode_token(tokenizer, tid), float(actual[row]), int(ranks[row]), top)
                )
    return results


def next_token_logprob(model: Any, tokenizer: Any, ids: list[int], top_k: int) -> TokenLogprob:
    """The greedy next token after `ids` with its log-prob and top-k alternatives, from ONE forward pass
    (the scoring hot path: argmax and alternatives come from the same distribution)."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([ids], dtype=torch.long, device=device), use_cache=False, logits_to_keep=1
        )
        logprobs = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        top_vals, top_ids = torch.topk(logprobs, max(top_k, 1))
        token = int(top_ids[0])
        top = _top(tokenizer, top_ids[:top_k].tolist(), top_vals[:top_k].tolist())
        return TokenLogprob(token, decode_token(tokenizer, token), float(top_vals[0]), 1, top)
