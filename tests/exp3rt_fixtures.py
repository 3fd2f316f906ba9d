"""Scripted LLMs for the EXP3RT stage tests — control flow only, never a stand-in for model quality."""

from __future__ import annotations

from collections.abc import Callable

from reasonrec.llm.base import GenerationRequest, ScoreRequest
from reasonrec.llm.testing import ScriptedLLM, uniform


def exp3rt_llm(
    gen: Callable[[GenerationRequest], str] | None = None,
    probs: Callable[[ScoreRequest], dict[str, float]] | None = None,
) -> ScriptedLLM:
    """Control flow only: generation answers `gen(request)` (default: a fixed preference list); scoring answers
    `probs(request)` (default uniform); "[error]" in a prompt fails that request."""
    return ScriptedLLM(text=gen or "[Like]\n- scent\n[Dislike]\nNone.", probs=probs or uniform)


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
