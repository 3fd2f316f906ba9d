"""OpenAI response bodies and stream chunks, built from completions and token log-probs.

Shapes follow the OpenAI API (chat.completion, chat.completion.chunk, text_completion) plus vLLM's
`prompt_logprobs`, so the official clients and the `openai` backend parse them unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from reasonrec.llm.base import Completion
from reasonrec.serve.logprobs import TokenLogprob


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _envelope(id_prefix: str, kind: str, model: str, choices: list[dict],
              token_usage: dict[str, int]) -> dict[str, Any]:
    """The body every non-streamed response shares: a fresh id, its object kind, time, model, choices, usage."""
    return {
        "id": new_id(id_prefix),
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": token_usage,
    }


def completion_tokens(c: Completion, lps: list[TokenLogprob] | None) -> int:
    return c.completion_tokens or (len(lps) if lps is not None else 0)


def sse(data: dict | str) -> str:
    """One server-sent event: `data: <json>` and a blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {payload}\n\n"


# ----------------------------------------------------------------------------------------------- chat


def chat_logprobs(lps: list[TokenLogprob]) -> dict[str, list]:
    return {
        "content": [
            {
                "token": t.token,
                "logprob": t.logprob,
                "bytes": list(t.token.encode("utf-8")),
                "top_logprobs": [
                    {"token": s, "logprob": lp, "bytes": list(s.encode("utf-8"))} for _, s, lp in t.top
                ],
            }
            for t in lps
        ]
    }


def chat_response(
    model: str, results: list[tuple[Completion, list[TokenLogprob] | None]], prompt_tokens: int
) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": c.text},
            "finish_reason": c.finish_reason,
            "logprobs": chat_logprobs(lps) if lps is not None else None,
        }
        for i, (c, lps) in enumerate(results)
    ]
    return _envelope("chatcmpl", "chat.completion", model, choices,
                     usage(prompt_tokens, sum(completion_tokens(c, lps) for c, lps in results)))


def vllm_prompt_entry(t: TokenLogprob) -> dict[str, dict]:
    """vLLM's prompt_logprobs entry: {token_id: {logprob, rank, decoded_token}} for the actual token + top-k."""
    entry = {str(t.token_id): {"logprob": t.logprob, "rank": t.rank, "decoded_token": t.token}}
    for rank, (tid, text, lp) in enumerate(t.top, start=1):
        entry.setdefault(str(tid), {"logprob": lp, "rank": rank, "decoded_token": text})
    return entry


# ----------------------------------------------------------------------------------------------- completions


def top_dict(t: TokenLogprob) -> dict[str, float]:
    """Completions-API top_logprobs: token text → log-prob. The actual token is always included (as OpenAI
    does); two ids decoding to the same text keep the larger log-prob."""
    out: dict[str, float] = {}
    for _, text, lp in t.top:
        out[text] = max(lp, out.get(text, float("-inf")))
    if t.token not in out:
        out[t.token] = t.logprob
    return out


def completion_logprobs(
    prompt: str,
    first_prompt_token: str | None,
    prompt_offsets: list[int],
    echo_lps: list[TokenLogprob] | None,
    lps: list[TokenLogprob] | None,
) -> dict[str, list]:
    """Legacy completions logprobs: echoed prompt tokens (the first has no log-prob) then generated tokens.
    `first_prompt_token` is None when the prompt is not echoed."""
    tokens: list[str] = []
    token_lps: list[float | None] = []
    tops: list[dict[str, float] | None] = []
    text_offset: list[int] = []
    if first_prompt_token is not None:
        tokens.append(first_prompt_token)
        token_lps.append(None)
        tops.append(None)
        text_offset.append(prompt_offsets[0])
        for t, off in zip(echo_lps or [], prompt_offsets[1:], strict=True):
            tokens.append(t.token)
            token_lps.append(t.logprob)
            tops.append(top_dict(t))
            text_offset.append(off)
    pos = len(prompt) if first_prompt_token is not None else 0
    for t in lps or []:
        tokens.append(t.token)
        token_lps.append(t.logprob)
        tops.append(top_dict(t))
        text_offset.append(pos)
        pos += len(t.token)
    return {"tokens": tokens, "token_logprobs": token_lps, "top_logprobs": tops, "text_offset": text_offset}


def completion_response(
    model: str, choices: list[dict], prompt_tokens: int, generated: int
) -> dict[str, Any]:
    return _envelope("cmpl", "text_completion", model, choices, usage(prompt_tokens, generated))


# ----------------------------------------------------------------------------------------------- streaming


class ChunkWriter:
    """The chunks of one streamed response: same id, created and model on every chunk; `usage: null` on each
    when the client asked for a final usage chunk (as OpenAI sends them)."""

    def __init__(self, *, chat: bool, model: str, include_usage: bool) -> None:
        self.chat = chat
        self.id = new_id("chatcmpl" if chat else "cmpl")
        self.object = "chat.completion.chunk" if chat else "text_completion"
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage

    def _chunk(self, choices: list[dict], usage_: dict | None = None) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            body["usage"] = usage_
        return sse(body)

    def role(self, index: int) -> str:
        return self._chunk([self._choice(index, {"role": "assistant", "content": ""}, None)])

    def text(self, index: int, text: str) -> str:
        return self._chunk([self._choice(index, {"content": text} if self.chat else text, None)])

    def finish(self, index: int, finish_reason: str) -> str:
        return self._chunk([self._choice(index, {} if self.chat else "", finish_reason)])

    def usage(self, prompt_tokens: int, completion_tokens_: int) -> str:
        return self._chunk([], usage(prompt_tokens, completion_tokens_))

    def _choice(self, index: int, delta: dict | str, finish_reason: str | None) -> dict[str, Any]:
        if self.chat:
            return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {"index": index, "text": delta, "logprobs": None, "finish_reason": finish_reason}
