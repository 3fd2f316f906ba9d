"""A scripted LLM for the EXP3RT stage tests — control flow only, never a stand-in for model quality."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from reasonrec.llm.base import ChoiceScores, Completion, GenerationRequest, ModelIdentity, ScoreRequest


class FakeLLMForControlFlow:
    """generate: `gen(request)` (default: a fixed preference list); score: `probs(request)` (default uniform).

    "[error]" anywhere in the last message makes that request fail, to exercise the error path.
    """

    identity = ModelIdentity(backend="fake", model="exp3rt-control-flow", model_hash="e" * 64)

    def __init__(
        self,
        gen: Callable[[GenerationRequest], str] | None = None,
        probs: Callable[[ScoreRequest], dict[str, float]] | None = None,
    ) -> None:
        self.gen = gen or (lambda r: "[Like]\n- scent\n[Dislike]\nNone.")
        self.probs = probs
        self.generate_requests: list[GenerationRequest] = []
        self.score_requests: list[ScoreRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.generate_requests.extend(requests)
        out = []
        for r in requests:
            if r.messages and "[error]" in r.messages[-1].content:
                out.append(Completion("", "error", error="scripted failure"))
            else:
                out.append(Completion(self.gen(r), "stop", prompt_tokens=10, completion_tokens=5))
        return out

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        self.score_requests.extend(requests)
        out = []
        for r in requests:
            if r.messages and "[error]" in r.messages[-1].content:
                out.append(ChoiceScores({}, {}, error="scripted failure"))
                continue
            probs = self.probs(r) if self.probs else {c: 1.0 / len(r.choices) for c in r.choices}
            out.append(ChoiceScores(probs, {c: math.log(max(p, 1e-12)) for c, p in probs.items()}, prompt_tokens=10))
        return out


_BACKEND: list = []


def real_cached_llm(cache_file):
    """The real embedded SmolLM2 (loaded once per test process) behind a fresh SQLite cache at `cache_file`."""
    import os

    import torch

    from reasonrec.llm.cache import CachedLLM, LLMCache
    from reasonrec.llm.hf import HFBackend

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not _BACKEND:
        torch.set_num_threads(1)  # shared cores: avoid OpenMP spin-wait collapse
        _BACKEND.append(HFBackend("embedded", batch_size=4))
    return CachedLLM(_BACKEND[0], LLMCache(cache_file), batch_size=4)
