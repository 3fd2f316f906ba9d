"""Subprocess for test_kill_resume: a real CachedLLM(HFBackend(embedded)) run that logs every computation.

Usage: python kill_resume_worker.py CACHE LOG OUT N_PROMPTS MAX_NEW_TOKENS
Each backend call appends the request keys it computed to LOG (after computing, before the cache commit),
so the test can prove that no request is ever computed twice across a kill and a resume.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

import torch

from reasonrec.llm.base import Completion, GenerationRequest, Message, SamplingParams, request_key
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.hf import HFBackend


def make_requests(n: int, max_new_tokens: int) -> list[GenerationRequest]:
    topics = ["soap", "shampoo", "perfume", "lotion", "lipstick", "mascara", "sunscreen", "toner",
              "serum", "nail polish", "conditioner", "face mask", "hair oil", "body wash", "eyeliner"]
    return [
        GenerationRequest(
            messages=(Message("user", f"In one sentence, why might someone like a {topics[i % len(topics)]}?"),),
            params=SamplingParams(max_new_tokens=max_new_tokens),
        )
        for i in range(n)
    ]


class LoggingBackend:
    """The real HF backend plus an append-only log of the request keys it computed."""

    def __init__(self, inner: HFBackend, log_path: str) -> None:
        self.inner = inner
        self.log_path = log_path

    @property
    def identity(self):
        return self.inner.identity

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        outs = self.inner.generate(requests)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.writelines(request_key(self.identity, "generate", r.payload()) + "\n" for r in requests)
            fh.flush()
            os.fsync(fh.fileno())
        return outs

    def score(self, requests):
        raise NotImplementedError


def main() -> None:
    cache_path, log_path, out_path, n, max_new = sys.argv[1:6]
    torch.set_num_threads(1)
    backend = LoggingBackend(HFBackend("embedded", batch_size=1), log_path)
    llm = CachedLLM(backend, LLMCache(cache_path), batch_size=2)
    outs = llm.generate(make_requests(int(n), int(max_new)))
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump([{"text": o.text, "finish_reason": o.finish_reason, "cached": o.cached} for o in outs], fh)


if __name__ == "__main__":
    main()
