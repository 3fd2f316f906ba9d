"""Leak scrubbing: splitter spans, the policy's clear cases, and recall/precision on the labelled real sentences."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from reasonrec.stages.recsaver.leak import is_leak, paper_rule, scrub, split_sentences

FIXTURE = Path(__file__).parent / "fixtures" / "leak_sentences.jsonl"
RECALL_FLOOR = 0.80  # our detector on the labelled set; measured 0.84 (bench/leak_detector.py)
PRECISION_FLOOR = 0.90


def _rows() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def _recall_precision(detect) -> tuple[float, float]:
    rows = _rows()
    tp = sum(1 for r in rows if r["label"] == "leak" and detect(r["text"]))
    fp = sum(1 for r in rows if r["label"] != "leak" and detect(r["text"]))
    positives = sum(1 for r in rows if r["label"] == "leak")
    return tp / positives, tp / max(tp + fp, 1)


def test_fixture_is_a_real_labelled_set() -> None:
    rows = _rows()
    assert len(rows) >= 200
    assert {r["label"] for r in rows} == {"leak", "no-leak"}
    assert all(r["annotator"] == "helper-llm" and r["source"] and r["text"].strip() for r in rows)
    assert len({r["text"] for r in rows}) == len(rows)
    # candidates were not only picked by keywords: random samples are part of the set
    assert sum(r["selected_by"].startswith("random") for r in rows) >= 80


def test_detector_recall_beats_paper_rule_and_floor() -> None:
    ours_recall, ours_precision = _recall_precision(is_leak)
    paper_recall, _ = _recall_precision(paper_rule)
    assert ours_recall >= paper_recall
    assert ours_recall >= RECALL_FLOOR
    assert ours_precision >= PRECISION_FLOOR


def test_policy_examples() -> None:
    leaks = [
        "The user gave it 5 stars.", "I'd rate it 4/5.", "Solid 4 out of 5 for me.", "A five-star product.",
        "I give it 4.", "They would give it a 3 because of the scent.", "Prediction: Yes",
        "It deserves the highest rating.", "The user rated it highly.", "My score of 9/10 stands.",
        "### Rating ### 4", "Rating: 2",
    ]
    clean = [
        "The user rates quality highly.", "4 out of 5 dentists recommend it.", "Use SPF 30 daily.",
        "I bought 3 bottles for $12.", "The user will like the new item because it is gentle.",
        "Give it a try!", "It gave my hair volume.", "1. The user prefers natural scents.", "On 9/10/2015 it arrived.",
    ]
    assert [s for s in leaks if not is_leak(s)] == []
    assert [s for s in clean if is_leak(s)] == []


def test_truth_value_near_rating_word_only_with_rating() -> None:
    sentence = "Considering all this, the rating must be 4 given the strong scent match."
    assert is_leak(sentence, rating=4)
    assert not is_leak("The user bought 4 items and rated them carefully.", rating=5)


def test_scrub_keeps_other_sentences_verbatim() -> None:
    text = "The user loves floral scents. They gave it 5 stars!\nPrediction: Yes\nThe price, $3.50, suits them."
    clean, removed = scrub(text)
    assert removed == ["They gave it 5 stars!", "Prediction: Yes"]
    assert clean == "The user loves floral scents. The price, $3.50, suits them."
    assert scrub(text, rule="paper")[1] == ["They gave it 5 stars!"]
    assert scrub("") == ("", [])


def test_splitter_does_not_break_decimals_abbreviations_or_list_numbers() -> None:
    text = "1. The user likes it, e.g. unscented ones. It costs 3.50 dollars. Mr. Smith agrees!"
    assert [s.text for s in split_sentences(text)] == [
        "1. The user likes it, e.g. unscented ones.", "It costs 3.50 dollars.", "Mr. Smith agrees!",
    ]


@given(st.lists(st.sampled_from([
    "The user likes mint.", "It rated 5 stars!", "Great value?", "Prediction: No", "Smells like 4 roses.",
    "It was fine.", "I'd give it 2.",
]), max_size=8), st.sampled_from([" ", "\n", "  "]))
def test_scrub_partitions_sentences(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    clean, removed = scrub(text)
    kept = [s.text for s in split_sentences(clean)]
    assert sorted(kept + removed) == sorted(s.text for s in split_sentences(text))
    assert all(is_leak(s) for s in removed) and not any(is_leak(s) for s in kept)
    # spans index the source exactly
    assert all(text[s.start:s.end] == s.text for s in split_sentences(text))
