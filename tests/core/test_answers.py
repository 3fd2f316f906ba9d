"""Parsers: rendered valid outputs always parse back; garbage never yields a value; real teacher texts parse."""

from __future__ import annotations

import json

from datafiles import require_data
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.answers import (
    first_prediction_label,
    parse_exp3rt,
    parse_reasoningrec,
    parse_recsaver,
    render_exp3rt,
    render_reasoningrec,
    render_recsaver,
    strip_trailing_prediction,
)

# Reasoning text that cannot itself contain an answer marker (real reasoning may mention "rating", but a
# property test must not generate a second, conflicting answer by accident).
_WORDS = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Zs"), whitelist_characters=".,;!?\n-'"),
                 max_size=300)
reasoning_text = _WORDS.filter(
    lambda t: not any(m in t.lower() for m in ("prediction", "rating", "reason", "#"))
)


@given(label=st.sampled_from([0, 1]), reasoning=reasoning_text, first=st.booleans())
def test_reasoningrec_round_trip(label: int, reasoning: str, first: bool) -> None:
    parsed = parse_reasoningrec(render_reasoningrec(label, reasoning, prediction_first=first))
    assert parsed.label == label
    assert parsed.reasoning == reasoning.strip()


@given(rating=st.integers(1, 5), reasoning=reasoning_text)
def test_recsaver_round_trip(rating: int, reasoning: str) -> None:
    parsed = parse_recsaver(render_recsaver(rating, reasoning))
    assert parsed.rating == rating
    assert parsed.reasoning == reasoning.strip()


@given(rating=st.integers(0, 9), reasoning=reasoning_text)
def test_exp3rt_round_trip(rating: int, reasoning: str) -> None:
    parsed = parse_exp3rt(render_exp3rt(rating, reasoning))
    assert parsed.rating == rating
    assert parsed.reasoning == reasoning.strip()


@settings(max_examples=300)
@given(garbage=st.text(max_size=400).filter(
    lambda t: not any(m in t.lower() for m in ("prediction", "rating"))))
def test_garbage_never_yields_a_value(garbage: str) -> None:
    assert parse_reasoningrec(garbage).label is None
    assert parse_recsaver(garbage).rating is None
    assert parse_exp3rt(garbage).rating is None
    assert parse_reasoningrec(garbage).raw == garbage


def test_markdown_case_and_whitespace_are_tolerated() -> None:
    assert parse_reasoningrec("The user likes it.\n\n**Prediction:** **YES**").label == 1
    assert parse_reasoningrec("## prediction:   no\nbecause...").label == 0
    assert parse_recsaver("**### Reason ###**\nfits\n\n### RATING ###\n\n  **4**").rating == 4
    assert parse_exp3rt("**Reasoning:** ok\n**Predicted User Rating:** `7`").rating == 7
    assert parse_exp3rt("Predicted User Rating: 7\nReasoning: answer first").reasoning == "answer first"


def test_conflicting_or_out_of_scale_answers_are_none() -> None:
    assert parse_reasoningrec("Prediction: Yes\n...\nPrediction: No").label is None
    assert parse_reasoningrec("Prediction: Yes\nPrediction: yes").label == 1
    assert parse_recsaver("### Rating ###\n7").rating is None  # default scale 1..5
    assert parse_recsaver("### Rating ###\n7", scale=None).rating == 7
    assert parse_recsaver("### Rating ###\nGive a single numerical rating, e.g. 1").rating is None
    assert parse_exp3rt("Predicted User Rating: [Predict the user's rating]").rating is None


def test_real_teacher_reasoning_parses(shared_data) -> None:
    path = require_data(shared_data, "reasoningrec-beauty", "teacher_reasoning", "reasoning_test_dict.json")
    texts = json.loads(path.read_text(encoding="utf-8"))
    parsed = [parse_reasoningrec(t) for t in texts.values()]
    labels = [p.label for p in parsed]
    # Every teacher text ends with "Prediction: Yes|No" (data/README.md); all must parse, mostly Yes.
    assert None not in labels
    assert 0 < labels.count(0) < labels.count(1)
    assert all("Prediction" not in p.reasoning for p in parsed)
    assert all(len(p.reasoning) > 50 for p in parsed)


def test_real_finetune_outputs_parse_prediction_first(shared_data) -> None:
    path = require_data(shared_data, "reasoningrec-beauty", "finetune_data", "reasoningrec", "test.json")
    rows = json.loads(path.read_text(encoding="utf-8"))
    for row in rows[:100]:
        parsed = parse_reasoningrec(row["output"])
        expected = 1 if row["output"].lstrip().lower().startswith("prediction: yes") else 0
        assert parsed.label == expected


def test_first_prediction_label() -> None:
    assert first_prediction_label("Prediction: Yes \n 1. ...") == 1
    assert first_prediction_label("1. Prediction: No because") == 0
    assert first_prediction_label("[INST] something else") is None
    assert first_prediction_label(None) is None


def test_strip_trailing_prediction():
    text = "\n   1. Likes soap.\n   2. Target is soap.\nPrediction: Yes"
    assert strip_trailing_prediction(text) == "1. Likes soap.\n2. Target is soap."
