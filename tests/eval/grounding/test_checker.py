"""The grounding rules on a tiny catalogue with the real MiniLM: each fact type, the combination, the metrics."""

from __future__ import annotations

import polars as pl
import pytest
from grounding_fixtures import TARGET_ROW, tiny_dataset

from reasonrec.eval.grounding import check_predictions, checker_for
from reasonrec.eval.grounding.checker import GroundingChecker
from reasonrec.eval.grounding.metrics import summarise
from reasonrec.eval.grounding.rules import cue_polarity, verdict_polarity
from reasonrec.eval.grounding.sources import ExplanationRecord
from reasonrec.llm.sentence import SentenceEncoder


@pytest.fixture(scope="module")
def checker() -> GroundingChecker:
    return checker_for(tiny_dataset(), encoder=SentenceEncoder())


def _labels(checker: GroundingChecker, texts: list[str], pred: int | None = 1) -> list[str]:
    evidence = checker.retriever.retrieve([TARGET_ROW])[0]
    return [r.label for r in checker.check_texts(texts, evidence, pred)]


@pytest.mark.parametrize(("text", "label"), [
    ("The user will like the soap bar.", "supported"),
    ("Overall, it is a strong match for the user's preferences.", "supported"),
    ("They disliked the Glide Pro-Health Smooth Mint Floss.", "supported"),
    ("They liked the Glide Pro-Health Smooth Mint Floss.", "contradicted"),
    ("They like exfoliating products, such as the bath mitt.", "supported"),  # named by its description
    ("As shown by their purchase of the Waterpik Ultra Water Flosser, they invest in oral care.", "supported"),
    ("They loved the Fekkai Full Blown Aerosol Foam Conditioner.", "unsupported"),  # in the catalogue, not theirs
    ("They enjoyed the Moonlight Velvet Hair Serum by Lumina.", "unsupported"),  # named nowhere
    ("The soap has a rich lather and a lovely scent.", "supported"),
    ("The soap is infused with pheromones and cools the skin.", "unsupported"),
    ("The product is from the brand Pre de Provence.", "supported"),
    ("It costs $4.99.", "supported"),
    ("The user prefers gentle, natural products.", "uncheckable"),
    ("The user profile suggests a love of fragrance.", "uncheckable"),
])
def test_rule_labels(checker: GroundingChecker, text: str, label: str) -> None:
    assert _labels(checker, [text]) == [label]


def test_verdict_against_the_stated_prediction(checker: GroundingChecker) -> None:
    assert _labels(checker, ["The user will not like this soap."], pred=1) == ["contradicted"]
    assert _labels(checker, ["The user will not like this soap."], pred=0) == ["supported"]
    assert _labels(checker, ["The user will like it."], pred=None) == ["uncheckable"]
    assert verdict_polarity("Answer: Prediction: No") == 0
    assert verdict_polarity("It is less likely to resonate with their preferences.") == 0


def test_negative_cue_wins_over_the_positive_it_contains() -> None:
    assert cue_polarity("they are less drawn to") == -1
    assert cue_polarity("they have a soft spot for") == 1
    assert cue_polarity("as shown by their purchase of") == 0
    assert cue_polarity("the product is") is None


def test_records_metrics_and_label_consistency(checker: GroundingChecker) -> None:
    text = ("Prediction: Yes\n1. They disliked the Glide Pro-Health Smooth Mint Floss. They liked the Moonlight "
            "Velvet Hair Serum.\n2. The user will like the soap bar because it has a rich lather. They like calm.")
    record = ExplanationRecord("e1", "m", "u", "t", text, 1, TARGET_ROW)
    wrong = ExplanationRecord("e2", "m", "u", "t", "The user will not enjoy it.", 1, TARGET_ROW)
    results = checker.check_records([record, wrong])
    counts = results[0].counts()
    assert counts["claims"] == 4 and counts["checkable"] == 3 and counts["supported"] == 2
    assert counts["named_items"] == 2 and counts["hallucinated_items"] == 1
    assert results[0].label_consistency == 1.0 and results[1].label_consistency == 0.0
    summary = summarise(results)["m"]
    assert summary["explanations"] == 2 and summary["label_consistency"] == 0.5
    assert summary["supported_precision"] == pytest.approx(2 / 4)
    assert summary["hallucinated_item_rate"] == pytest.approx(1 / 2)


def test_check_predictions_reads_a_predictions_table(checker: GroundingChecker) -> None:
    preds = pl.DataFrame({"method": ["student"], "split": ["test"], "user_id": ["u"], "item_id": ["t"],
                          "pred_label": [1], "reasoning": ["The soap has a rich lather."]})
    table, summary = check_predictions(preds, tiny_dataset(), checker=checker)
    assert table.height == 1 and table["supported_precision"][0] == 1.0
    assert summary["student"]["coverage"] == 1.0
