"""ScriptedLLM: markers drive its answers, batches are recorded, and `backend: scripted` builds it from a config."""

from __future__ import annotations

import pytest

from reasonrec.llm.base import GenerationRequest, Message, ScoreRequest
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.testing import DEFAULT_TEXT, ScriptedLLM


def _score(text: str, prefix: str = "") -> ScoreRequest:
    return ScoreRequest(choices=("1", "2", "3"), messages=(Message("user", text),), assistant_prefix=prefix)


def test_markers_decide_scores_and_failures() -> None:
    llm = ScriptedLLM()
    peaked, flat, failed, in_prefix = llm.score([_score("x [predict=2]"), _score("x"), _score("x [error]"),
                                                 _score("x", "so [predict=3]")])
    assert peaked.probs["2"] == pytest.approx(0.9) and peaked.best() == "2"
    assert flat.probs == pytest.approx({"1": 1 / 3, "2": 1 / 3, "3": 1 / 3})
    assert failed.error == "scripted failure" and not failed.probs
    assert in_prefix.best() == "3"


def test_text_script_and_recorded_batches() -> None:
    llm = ScriptedLLM(text="path {sample_index}")
    out = llm.generate([GenerationRequest(prompt="a", sample_index=3), GenerationRequest(prompt="[error]")])
    assert out[0].text == "path 3" and out[1].error == "scripted failure"
    llm.score([_score("y")])
    assert [kind for kind, _ in llm.batches] == ["generate", "score"]
    assert [r.prompt for r in llm.generate_requests] == ["a", "[error]"] and len(llm.score_requests) == 1


def test_registered_as_a_backend() -> None:
    llm = build_llm(LLMConfig(backend="scripted", model="dry-run", cache=False))
    assert isinstance(llm, ScriptedLLM) and llm.identity.backend == "scripted"
    assert llm.generate([GenerationRequest(prompt="q")])[0].text == DEFAULT_TEXT
