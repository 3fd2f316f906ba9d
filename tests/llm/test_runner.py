"""Batch runner: order kept, failures recorded (never dropped), summary counts right."""

from __future__ import annotations

from rich.console import Console

from reasonrec.llm.base import Completion, GenerationRequest, ScoreRequest
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.llm.runner import run_generate, run_score
from reasonrec.llm.testing import ScriptedLLM


def _upper(request: GenerationRequest) -> Completion:
    """Echo in capitals; 'explode' takes its whole batch down (a backend crash)."""
    if request.prompt == "explode":
        raise RuntimeError("backend down")
    return Completion(request.prompt.upper(), "stop", prompt_tokens=len(request.prompt), completion_tokens=1)


def _no_scoring(request: ScoreRequest) -> dict[str, float]:
    raise RuntimeError("no scoring here")


def scripted() -> ScriptedLLM:
    return ScriptedLLM(text=_upper, probs=_no_scoring)


def test_run_generate_keeps_order_records_failures_and_counts(tmp_path) -> None:
    llm = CachedLLM(scripted(), LLMCache(tmp_path / "c.sqlite"))
    prompts = ["ccc", "a", "explode", "bb", "dddd"]
    reqs = [GenerationRequest(prompt=p) for p in prompts]
    console = Console(file=open(tmp_path / "log.txt", "w"), width=120)  # noqa: SIM115
    outs, summary = run_generate(llm, reqs, batch_size=2, desc="t", console=console)
    assert len(outs) == 5
    failed = [p for p, o in zip(prompts, outs, strict=True) if o.error]
    assert "explode" in failed and "backend down" in outs[2].error
    for p, o in zip(prompts, outs, strict=True):
        if not o.error:
            assert o.text == p.upper()
    assert summary.prompts == 5 and summary.failures == len(failed) and summary.cache_hits == 0
    assert summary.completion_tokens == 5 - len(failed)
    again, summary2 = run_generate(llm, reqs, batch_size=2, desc="t", console=console)
    assert summary2.cache_hits == 5 - len(failed)
    assert [o.text for o in again] == [o.text for o in outs]
    console.file.close()
    assert "5 prompts" in (tmp_path / "log.txt").read_text()


def test_run_score_turns_backend_exceptions_into_error_results(tmp_path) -> None:
    reqs = [ScoreRequest(choices=("1", "2"), prompt=str(i)) for i in range(3)]
    outs, summary = run_score(scripted(), reqs, batch_size=2, show=False)
    assert len(outs) == 3 and all(o.error and "no scoring here" in o.error for o in outs)
    assert summary.failures == 3
