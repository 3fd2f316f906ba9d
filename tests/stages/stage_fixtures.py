"""Small helpers shared by the ReasoningRec stage tests: a control-flow fake LLM and the Beauty release."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reasonrec.data.schema import Dataset
from reasonrec.errors import ConfigError
from reasonrec.llm.base import ChoiceScores, Completion, GenerationRequest, ModelIdentity, ScoreRequest


class FakeLLMForControlFlow:
    """Deterministic stand-in for unit tests of stage plumbing only (never for quality claims).

    generate: echoes the truth the teacher prompt states, so parse/agree logic can be checked.
    score: P(first choice) = 0.7.
    """

    def __init__(self) -> None:
        self.generated: list[GenerationRequest] = []
        self.scored: list[ScoreRequest] = []

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="fake", model="fake-control-flow", model_hash="0")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.generated.extend(requests)
        out = []
        for r in requests:
            prompt = " ".join(m.content for m in r.messages or ())
            answer = "No" if "DID NOT LIKE" in prompt else "Yes"
            out.append(Completion(f"reason {r.sample_index}\nPrediction: {answer}", "stop", 10, 5))
        return out

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        self.scored.extend(requests)
        return [
            ChoiceScores({r.choices[0]: 0.7, r.choices[1]: 0.3}, {r.choices[0]: -0.36, r.choices[1]: -1.2}, 10)
            for r in requests
        ]


def load_beauty(root: Path) -> Dataset:
    """`load_dataset("reasoningrec-beauty")`, or the loader directly while it is not registered yet."""
    from reasonrec.data.loaders import load_dataset

    try:
        return load_dataset("reasoningrec-beauty", root)
    except ConfigError:
        from reasonrec.data.loaders.base import LoadOptions
        from reasonrec.data.loaders.reasoningrec import load_reasoningrec_beauty

        return load_reasoningrec_beauty(root, LoadOptions())
