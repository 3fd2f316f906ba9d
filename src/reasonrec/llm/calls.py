"""One backend call on a chunk of requests that never loses a row: any exception becomes per-request errors.

Shared by the in-process runner and the executor's shard workers, so both record a failing chunk the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from reasonrec.llm.base import LLM, ChoiceScores, Completion, GenerationRequest, ScoreRequest

CallKind = Literal["generate", "score"]


def call_chunk(
    kind: CallKind, llm: LLM, chunk: Sequence[GenerationRequest | ScoreRequest]
) -> list[Completion] | list[ChoiceScores]:
    """`llm.generate` / `llm.score` on `chunk`; one result per request, in order (failures carry `error`)."""
    try:
        outs = llm.generate(chunk) if kind == "generate" else llm.score(chunk)  # type: ignore[arg-type]
        if len(outs) != len(chunk):
            raise RuntimeError(f"backend returned {len(outs)} results for {len(chunk)} requests")
        return outs
    except Exception as exc:  # noqa: BLE001 - record, never drop: any backend failure becomes a row error
        msg = f"{type(exc).__name__}: {exc}"
        if kind == "generate":
            return [Completion("", "error", error=msg) for _ in chunk]
        return [ChoiceScores({}, {}, error=msg) for _ in chunk]


__all__ = ["CallKind", "call_chunk"]
