"""The LLM protocol every backend implements and every stage uses.

Two operations cover all three methods:
- `generate`: chat messages or a raw prompt → text (reasoning, descriptions, profiles). A `sample_index`
  lets one prompt be sampled M times (Rec-SAVER multi-path) with each sample cached separately.
- `score`: one forward pass → a normalised probability per choice string (" Yes"/" No", "1".."5").
  Multi-token choices are scored by the sum of their token log-probs, never truncated to the first token.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol, runtime_checkable

from reasonrec.errors import LLMError


class LLMUnavailable(LLMError):
    """The backend refuses work for now (a full queue, a wait past the time budget): the caller should retry
    later. Raised through every layer, never turned into per-row errors, so a service can answer 503."""

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings. `repetition_penalty` (> 1 discourages tokens already generated; the prompt is not
    penalised, so citing its titles stays free) and `no_repeat_ngram_size` (n > 0: no n-gram of the output
    twice) stop small models from looping; neutral values leave cache keys as they were."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def payload(self) -> dict:
        """The fields that determine the output; the anti-loop settings only when they are not neutral."""
        out = asdict(self)
        if self.repetition_penalty == 1.0:
            del out["repetition_penalty"]
        if self.no_repeat_ngram_size == 0:
            del out["no_repeat_ngram_size"]
        return out


@dataclass(frozen=True)
class GenerationRequest:
    """Exactly one of `messages` / `prompt`. `assistant_prefix` is text the assistant turn starts with."""

    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)
    sample_index: int = 0
    assistant_prefix: str = ""

    def __post_init__(self) -> None:
        _require_one_prompt(self)

    def payload(self) -> dict:
        """Everything that determines the output (for cache keys)."""
        return {
            **_prompt_payload(self),
            "params": self.params.payload(),
            "sample_index": self.sample_index,
        }


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" | "length" | "error" | "cancelled" (hf on_step hook)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ScoreRequest:
    """Probability of each `choices` string as the continuation of the prompt (+ assistant_prefix)."""

    choices: tuple[str, ...]
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    assistant_prefix: str = ""

    def __post_init__(self) -> None:
        _require_one_prompt(self)
        if len(self.choices) < 2 or len(set(self.choices)) != len(self.choices):
            raise ValueError("ScoreRequest needs at least two distinct choices")

    def payload(self) -> dict:
        return {**_prompt_payload(self), "choices": list(self.choices)}


def _require_one_prompt(request: GenerationRequest | ScoreRequest) -> None:
    if (request.messages is None) == (request.prompt is None):
        raise ValueError(f"{type(request).__name__} needs exactly one of messages or prompt")


def _prompt_payload(request: GenerationRequest | ScoreRequest) -> dict:
    """The prompt fields of a request's payload (its cache key), the same for both request kinds."""
    return {
        "messages": [asdict(m) for m in request.messages] if request.messages is not None else None,
        "prompt": request.prompt,
        "assistant_prefix": request.assistant_prefix,
    }


@dataclass(frozen=True)
class ChoiceScores:
    """`probs` renormalised over the choices; `logprobs` are the raw (summed) token log-probs per choice."""

    probs: dict[str, float]
    logprobs: dict[str, float]
    prompt_tokens: int = 0
    cached: bool = False
    error: str | None = None

    def best(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


@dataclass(frozen=True)
class ModelIdentity:
    """What makes two models produce different outputs: backend, weights hash, adapter hash, and the numeric
    `variant` the weights run in ("bf16", "int8"; None = the weights' own precision)."""

    backend: str
    model: str
    model_hash: str
    adapter_hash: str | None = None
    variant: str | None = None

    def key(self) -> str:
        """Stable JSON; `variant` appears only when set, so caches of full-precision runs keep their keys."""
        fields = asdict(self)
        if fields["variant"] is None:
            del fields["variant"]
        return json.dumps(fields, sort_keys=True)


@runtime_checkable
class LLM(Protocol):
    """A language model backend. Implementations: hf, openai, (optional) llamacpp; wrappers: CachedLLM."""

    @property
    def identity(self) -> ModelIdentity: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]: ...


class ForwardingLLM:
    """An `LLM` that answers with the one it wraps (`self.llm`): wrappers subclass it and override only what they
    add (caching, lazy building, distribution), so the forwarding is written once."""

    llm: LLM

    @property
    def identity(self) -> ModelIdentity:
        return self.llm.identity

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return self.llm.generate(requests)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        return self.llm.score(requests)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest shared leading run of two token-id sequences."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def context_and_continuations(
    encode: Callable[[str], list[int]], text: str, choices: Sequence[str]
) -> tuple[list[int], list[list[int]]]:
    """Context ids shared by all choices + each choice's continuation ids, tokenised IN CONTEXT.

    "prompt + choice" can tokenise differently at the boundary than "prompt" alone; the context is the
    longest token prefix all `prompt + choice` encodings share with the prompt, and each continuation is
    the rest. So the score is log P(prompt tail + choice | shared context) under the model's own tokens.
    Every backend that scores from token log-probs (hf, llamacpp) uses this one definition.
    """
    prompt_ids = encode(text)
    fulls = [encode(text + choice) for choice in choices]
    shared = min(min(common_prefix_len(prompt_ids, f) for f in fulls), len(prompt_ids))
    if shared == 0:
        raise LLMError("empty prompt: nothing to condition the choices on")
    conts = [f[shared:] for f in fulls]
    if any(not c for c in conts):
        raise LLMError(f"a choice tokenises to nothing in context: {tuple(choices)!r}")
    return prompt_ids[:shared], conts


def normalise_logprobs(logprobs: dict[str, float]) -> dict[str, float]:
    """Softmax over the choices' log-probs (numerically stable)."""
    m = max(logprobs.values())
    exps = {k: math.exp(v - m) for k, v in logprobs.items()}
    z = sum(exps.values())
    return {k: v / z for k, v in exps.items()}


def expected_value(probs: dict[str, float], values: dict[str, float] | None = None) -> float:
    """E[value] under `probs` (EXP3RT's E[rating]); `values` defaults to float(choice)."""
    total = 0.0
    for choice, p in probs.items():
        v = values[choice] if values is not None else float(choice.strip())
        total += p * v
    return total


def request_key(identity: ModelIdentity, kind: str, payload: dict) -> str:
    """sha256 over (backend, model hash, adapter hash, request payload) — the cache key."""
    blob = json.dumps({"id": identity.key(), "kind": kind, "payload": payload}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
