"""`ScriptedLLM`: the LLM protocol answered by a script, for control-flow tests and dry runs. NOT a model.

Registered as the backend `scripted` (`--llm-config` with `backend: scripted`), so a command can be run end to end
through its real code path without loading weights; unit tests construct it directly with their own script.
Nothing it returns says anything about model quality.

- generate: `text`, a string (`{sample_index}` in it is replaced by the request's) or a function of the request that returns the
  answer text or a whole `Completion`;
- score: `probs`, a function of the request that returns choice → probability or a whole `ChoiceScores`; without
  one, a "[predict=N]" marker in the prompt gives choice "N" probability 0.9 (the others share the rest) and a
  prompt without a marker gets a uniform distribution;
- "[error]" anywhere in a request's prompt (messages, raw prompt or assistant prefix) fails that request alone.
A function may also raise, which fails the whole batch (as a backend crash does). Every batch is recorded in
`batches` as (kind, requests), in call order.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from typing import Literal

from reasonrec.llm.base import ChoiceScores, Completion, GenerationRequest, ModelIdentity, ScoreRequest

DEFAULT_TEXT = "The item matches what the user liked before.\nPrediction: Yes"
FAILURE_MARKER = "[error]"
_PREDICT_MARKER = re.compile(r"\[predict=(\d+)\]")

TextScript = str | Callable[[GenerationRequest], str | Completion]
ScoreScript = Callable[[ScoreRequest], dict[str, float] | ChoiceScores]


def prompt_text(request: GenerationRequest | ScoreRequest) -> str:
    """Everything the model would condition on: messages (or the raw prompt) plus the assistant prefix."""
    body = "\n".join(m.content for m in request.messages) if request.messages else request.prompt or ""
    return body + request.assistant_prefix


def uniform(request: ScoreRequest) -> dict[str, float]:
    return {c: 1.0 / len(request.choices) for c in request.choices}


def marker_probs(request: ScoreRequest) -> dict[str, float]:
    """The last "[predict=N]" marker's choice gets 0.9; no marker (or an unknown choice) → uniform."""
    found = _PREDICT_MARKER.findall(prompt_text(request))
    target = found[-1] if found else None
    if target not in request.choices:
        return uniform(request)
    rest = 0.1 / (len(request.choices) - 1)
    return {c: 0.9 if c == target else rest for c in request.choices}


class ScriptedLLM:
    """Deterministic scripted answers (see the module docstring); records every batch it is sent."""

    def __init__(self, *, text: TextScript = DEFAULT_TEXT, probs: ScoreScript | None = None,
                 model: str = "scripted") -> None:
        self.text = text
        self.probs = probs or marker_probs
        self.model = model
        self.batches: list[tuple[Literal["generate", "score"], list]] = []

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="scripted", model=self.model,
                             model_hash=hashlib.sha256(self.model.encode("utf-8")).hexdigest())

    @property
    def generate_requests(self) -> list[GenerationRequest]:
        """Every generation request, in the order they were sent."""
        return [r for kind, batch in self.batches if kind == "generate" for r in batch]

    @property
    def score_requests(self) -> list[ScoreRequest]:
        """Every scoring request, in the order they were sent."""
        return [r for kind, batch in self.batches if kind == "score" for r in batch]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.batches.append(("generate", list(requests)))
        return [self._complete(r) for r in requests]

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        self.batches.append(("score", list(requests)))
        return [self._score(r) for r in requests]

    def _complete(self, request: GenerationRequest) -> Completion:
        if FAILURE_MARKER in prompt_text(request):
            return Completion("", "error", error="scripted failure")
        answer = self.text.replace("{sample_index}", str(request.sample_index)) if isinstance(self.text, str) \
            else self.text(request)
        if isinstance(answer, Completion):
            return answer
        return Completion(answer, "stop", prompt_tokens=10, completion_tokens=5)

    def _score(self, request: ScoreRequest) -> ChoiceScores:
        if FAILURE_MARKER in prompt_text(request):
            return ChoiceScores({}, {}, error="scripted failure")
        probs = self.probs(request)
        if isinstance(probs, ChoiceScores):
            return probs
        logprobs = {c: math.log(max(p, 1e-12)) for c, p in probs.items()}
        return ChoiceScores(probs, logprobs, prompt_tokens=10)


__all__ = ["DEFAULT_TEXT", "FAILURE_MARKER", "ScriptedLLM", "marker_probs", "prompt_text", "uniform"]
