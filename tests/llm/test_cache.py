"""SQLite cache: hits are marked, only misses reach the backend, batches commit one by one, errors retry."""

from __future__ import annotations

import sqlite3

import pytest

from reasonrec.llm.base import (
    ChoiceScores,
    Completion,
    GenerationRequest,
    SamplingParams,
    ScoreRequest,
    normalise_logprobs,
)
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.testing import ScriptedLLM


def _echo(request: GenerationRequest) -> Completion:
    if request.prompt == "bad":
        return Completion("", "error", error="boom")
    return Completion(f"echo:{request.prompt}:{request.sample_index}", "stop", prompt_tokens=3, completion_tokens=2)


def _ranked(request: ScoreRequest) -> ChoiceScores:
    lps = {c: -float(i + 1) for i, c in enumerate(request.choices)}
    return ChoiceScores(normalise_logprobs(lps), lps, prompt_tokens=4)


def scripted(crash_after_batches: int | None = None) -> ScriptedLLM:
    """Echoes prompts, fails "bad", and (optionally) is killed when asked for one batch too many."""
    llm = ScriptedLLM(text=_echo, probs=_ranked)
    if crash_after_batches is not None:
        def crash(request: GenerationRequest) -> Completion:
            if len(llm.batches) > crash_after_batches:
                raise KeyboardInterrupt("simulated kill")
            return _echo(request)

        llm.text = crash
    return llm


def computed(llm: ScriptedLLM) -> list[list[str]]:
    """The prompts of each batch that reached the backend (the kill's batch excluded)."""
    return [[r.prompt for r in batch] for _, batch in llm.batches]


def _req(p: str, i: int = 0) -> GenerationRequest:
    return GenerationRequest(prompt=p, params=SamplingParams(max_new_tokens=5), sample_index=i)


def test_hits_are_marked_and_only_misses_are_computed(tmp_path) -> None:
    fake = scripted()
    llm = CachedLLM(fake, LLMCache(tmp_path / "c.sqlite"), batch_size=2)
    first = llm.generate([_req("a"), _req("b"), _req("a"), _req("a", 1)])
    assert [c.cached for c in first] == [False] * 4
    assert sorted(p for call in computed(fake) for p in call) == ["a", "a", "b"]  # duplicate "a"/0 computed once
    assert first[0] == first[2]
    second = llm.generate([_req("c"), _req("a"), _req("b")])
    assert [c.cached for c in second] == [False, True, True]
    assert computed(fake)[-1] == ["c"]
    assert second[1].text == "echo:a:0" and second[1].completion_tokens == 2
    assert llm.cache.count("generate") == 4


def test_errors_are_never_cached(tmp_path) -> None:
    fake = scripted()
    llm = CachedLLM(fake, LLMCache(tmp_path / "c.sqlite"))
    out = llm.generate([_req("bad"), _req("ok")])
    assert out[0].error == "boom" and out[1].error is None
    again = llm.generate([_req("bad"), _req("ok")])
    assert again[0].cached is False and again[1].cached is True
    assert computed(fake)[-1] == ["bad"]


def test_each_batch_is_committed_before_the_next_runs(tmp_path) -> None:
    path = tmp_path / "c.sqlite"
    fake = scripted(crash_after_batches=2)
    llm = CachedLLM(fake, LLMCache(path), batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        llm.generate([_req(str(i)) for i in range(7)])
    # Two batches finished before the "kill": exactly their four rows are durable, read by a fresh connection.
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM results").fetchone()[0] == 4
    resumed = CachedLLM(scripted(), LLMCache(path), batch_size=2)
    out = resumed.generate([_req(str(i)) for i in range(7)])
    assert sum(c.cached for c in out) == 4
    assert sorted(p for call in computed(resumed.llm) for p in call) == ["4", "5", "6"]


def test_scores_round_trip_and_keys_separate_kinds(tmp_path) -> None:
    fake = scripted()
    llm = CachedLLM(fake, LLMCache(tmp_path / "c.sqlite"))
    req = ScoreRequest(choices=(" Yes", " No"), prompt="q")
    a = llm.score([req])[0]
    b = llm.score([req])[0]
    assert not a.cached and b.cached and a.probs == b.probs and a.logprobs == b.logprobs
    llm.generate([_req("q")])
    assert llm.cache.count("score") == 1 and llm.cache.count("generate") == 1
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
