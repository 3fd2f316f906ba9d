"""Evidence-grounded explanations: the prompt holds only the retrieved evidence and the final label, the text
starts with that label's verdict, and the student and zero-shot paths share the one implementation."""

from __future__ import annotations

import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reasonrec.llm.sentence import SentenceEncoder
from reasonrec.llm.testing import ScriptedLLM
from reasonrec.predict import PredictConfig, predict_labels
from reasonrec.prompts import DOMAINS
from reasonrec.stages.common.evidence import EvidenceRetriever
from reasonrec.stages.common.grounded import ExplainConfig, anchor_fact, grounded_explanations, verdict_prefix
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

ITEMS = pl.DataFrame({
    "item_id": ["t", "h1", "h2", "h3", "h4"],
    "title": ["Lavender Soap Bar", "Rose Soap Bar", "Mint Dental Floss", "Shea Butter Soap", "Car Wax"],
    "description": ["A gentle lavender soap.", None, None, None, None],
})
INTERACTIONS = pl.DataFrame({"user_id": ["u"] * 5 + ["v"], "item_id": ["h1", "h2", "h3", "h4", "t", "t"],
                             "rating": [5.0, 1.0, 4.0, 2.0, 5.0, 4.0], "timestamp": [1, 2, 3, 4, 6, 5]})
TARGETS = pl.DataFrame({
    "user_id": ["u"], "item_id": ["t"], "rating": [5.0], "label": [1], "timestamp": [6], "split": ["test"],
    "history_item_ids": [["h1", "h2", "h3", "h4"]], "history_ratings": [[5.0, 1.0, 4.0, 2.0]],
    "history_labels": [[1, 0, 1, 0]],
})


@pytest.fixture(scope="module")
def retriever() -> EvidenceRetriever:
    return EvidenceRetriever.from_tables(ITEMS, SentenceEncoder(), interactions=INTERACTIONS)


@pytest.mark.parametrize("label", [1, 0])
def test_prompt_holds_only_the_evidence_and_the_text_starts_with_the_verdict(retriever, label: int) -> None:
    llm = ScriptedLLM(text="they rated similar soaps highly.")
    cfg = ExplainConfig(mode="evidence", anchor="verdict", top_k=2, repetition_penalty=1.2, no_repeat_ngram_size=3)
    texts, shown = grounded_explanations(TARGETS.to_dicts(), [label], retriever, llm, cfg, domain=DOMAINS["beauty"],
                                         show=False)
    request = llm.generate_requests[0]
    prompt = "\n".join(m.content for m in request.messages)
    similar = [e["title"] for e in json.loads(shown[0])["similar"]]
    assert len(similar) == 2 and "Car Wax" not in similar and all(f'"{t}"' in prompt for t in similar)
    assert "Car Wax" not in prompt and "Mint Dental Floss" not in prompt  # only the top-2 evidence is shown
    assert ("will like this" if label else "will not like this") in prompt
    assert "The user rated 4 beauty products before" in prompt
    assert "Other users rated this beauty product 1 times" in prompt
    assert request.assistant_prefix == verdict_prefix(label, DOMAINS["beauty"])
    assert texts[0] == f"{request.assistant_prefix} they rated similar soaps highly."
    assert request.params.no_repeat_ngram_size == cfg.no_repeat_ngram_size
    assert request.params.repetition_penalty == cfg.repetition_penalty


@pytest.mark.parametrize(("label", "fact"), [
    (1, 'they liked the similar beauty product "Rose Soap Bar" (rated 5 of 5)'),
    (0, 'they disliked the similar beauty product "Car Wax" (rated 2 of 5)'),
])
def test_evidence_anchor_states_the_most_similar_item_that_agrees_with_the_label(retriever, label, fact) -> None:
    evidence = retriever.retrieve(TARGETS.to_dicts())[0]
    agreeing = [e for e in evidence.most_similar(4) if e.liked == bool(label)]
    assert fact == anchor_fact(evidence, label, DOMAINS["beauty"], 5) and f'"{agreeing[0].view.title}"' in fact
    llm = ScriptedLLM(text="Both are gentle soaps.")
    cfg = ExplainConfig(mode="evidence", anchor="evidence")
    texts, _ = grounded_explanations(TARGETS.to_dicts(), [label], retriever, llm, cfg, domain=DOMAINS["beauty"],
                                     show=False)
    assert llm.generate_requests[0].assistant_prefix == f"{verdict_prefix(label, DOMAINS['beauty'])} {fact}."
    assert texts[0] == f"{verdict_prefix(label, DOMAINS['beauty'])} {fact}. Both are gentle soaps."


def test_evidence_anchor_falls_back_to_statistics_and_never_states_a_disagreeing_fact(retriever) -> None:
    row = {**TARGETS.to_dicts()[0], "history_labels": [1, 1, 1, 1], "history_ratings": [5.0, 5.0, 4.0, 4.0]}
    evidence = retriever.retrieve([row])[0]
    assert anchor_fact(evidence, 1, DOMAINS["beauty"], 5).startswith("they liked the similar")
    assert anchor_fact(evidence, 0, DOMAINS["beauty"], 5) is None  # user and item like-shares say "like" too


def test_student_and_zeroshot_share_the_grounded_mode() -> None:
    explain = {"mode": "evidence", "top_k": 2}
    st_llm, zs_llm = ScriptedLLM(text="x."), ScriptedLLM(text="x.")
    st = predict_labels(TARGETS, ITEMS, None, None, st_llm,
                        PredictConfig(method_name="m", generate_reasoning=True, explain=explain, show_progress=False),
                        interactions=INTERACTIONS)
    zs = zeroshot_predict(TARGETS, ITEMS, None, None, zs_llm,
                          ZeroShotConfig(method="m", generate_reasoning=True, explain=explain, show_progress=False),
                          interactions=INTERACTIONS)
    assert_frame_equal(st, zs)
    assert len(st_llm.generate_requests) == 1  # the grounded text only, no free reasoning beside it
    label = st["pred_label"][0]
    assert st["reasoning"][0].startswith(verdict_prefix(label, DOMAINS["beauty"]))
    assert json.loads(st["evidence"][0])["user"]["n"] == 4


def test_rows_outside_the_reasoning_limit_get_no_explanation() -> None:
    targets = pl.concat([TARGETS, TARGETS.with_columns(pl.lit("v").alias("user_id"))])
    llm = ScriptedLLM(text="x.")
    frame = predict_labels(targets, ITEMS, None, None, llm,
                           PredictConfig(generate_reasoning=True, reasoning_limit=1, explain={"mode": "evidence"},
                                         show_progress=False))
    assert frame["reasoning"].is_null().to_list() == [False, True]
    assert frame["evidence"].is_null().to_list() == [False, True]
