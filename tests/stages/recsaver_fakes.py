"""Shared pieces for the Rec-SAVER stage tests: a scripted fake LLM (control flow only) and tiny tables."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import polars as pl

from reasonrec.llm.base import ChoiceScores, Completion, GenerationRequest, ModelIdentity, ScoreRequest


class FakeLLMForControlFlow:
    """Scripted outputs for control-flow tests. NOT a model: answers come from markers in the prompt.

    generate: `gen(request) -> str`; score: the digit named by a "[predict=N]" marker in the last user message
    gets probability 0.9 (the rest share 0.1); "[error]" yields a per-request error; no marker → uniform.
    """

    identity = ModelIdentity(backend="fake", model="fake-control-flow", model_hash="f" * 64)

    def __init__(self, gen: Callable[[GenerationRequest], str] | None = None) -> None:
        self.gen = gen or (lambda r: "### Reason ###\nok\n### Rating ###\n3")
        self.generate_calls = 0
        self.score_calls = 0
        self.score_requests: list[ScoreRequest] = []
        self.generate_requests: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.generate_calls += len(requests)
        self.generate_requests.extend(requests)
        return [Completion(self.gen(r), "stop", prompt_tokens=10, completion_tokens=5) for r in requests]

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        self.score_calls += len(requests)
        self.score_requests.extend(requests)
        out = []
        for r in requests:
            text = (r.messages[-1].content if r.messages else r.prompt or "") + r.assistant_prefix
            if "[error]" in text:
                out.append(ChoiceScores({}, {}, error="scripted failure"))
                continue
            m = re.findall(r"\[predict=(\d)\]", text)
            target = m[-1] if m else None
            rest = (0.1 / (len(r.choices) - 1)) if target in r.choices else 1.0 / len(r.choices)
            probs = {c: (0.9 if c == target else rest) for c in r.choices}
            out.append(ChoiceScores(probs, {c: math.log(p) for c, p in probs.items()}, prompt_tokens=10))
        return out


def tiny_tables() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(targets, items, interactions): 3 users, ratings/reviews in history; targets in the contract schema."""
    items = pl.DataFrame({"item_id": ["a", "b", "c", "d", "t1", "t2", "t3"],
                          "title": ["Rose Soap", "Mint Paste", "Lavender Oil", "Nail Kit", "Citrus Gel",
                                    "Shea Bar", "Hair Mask"]})
    hist = {"u1": (["a", "b"], [5.0, 4.0]), "u2": (["c", "d"], [2.0, 1.0]), "u3": (["a", "c"], [3.0, 5.0])}
    tgt = {"u1": ("t1", 5.0), "u2": ("t2", 2.0), "u3": ("t3", 4.0)}
    rows = []
    inter = []
    for u, (ids, rs) in hist.items():
        for pos, (i, r) in enumerate(zip(ids, rs, strict=True)):
            inter.append({"user_id": u, "item_id": i, "rating": r, "timestamp": pos,
                          "review": f"{u} thinks {i} is {'great' if r > 3 else 'poor'}"})
        t, r = tgt[u]
        inter.append({"user_id": u, "item_id": t, "rating": r, "timestamp": 10, "review": "target review"})
        rows.append({"user_id": u, "item_id": t, "rating": r, "timestamp": 10, "label": int(r > 3),
                     "history_item_ids": ids, "history_ratings": rs, "history_labels": [int(x > 3) for x in rs],
                     "split": "test"})
    targets = pl.DataFrame(rows, schema_overrides={"history_item_ids": pl.List(pl.String()),
                                                   "history_ratings": pl.List(pl.Float64()),
                                                   "history_labels": pl.List(pl.Int64())})
    return targets, items, pl.DataFrame(inter)
