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


def test_verifier_is_asked_only_about_uncheckable_claims(checker: GroundingChecker) -> None:
    from reasonrec.eval.grounding.verifier import LLMVerifier
    from reasonrec.llm.testing import ScriptedLLM

    llm = ScriptedLLM(probs=lambda request: {c: 0.9 if c == " Yes" else 0.05 for c in request.choices})
    with_verifier = GroundingChecker(checker.retriever, checker.config.model_copy(update={"verifier": True}),
                                     verifier=LLMVerifier(llm))
    evidence = checker.retriever.retrieve([TARGET_ROW])[0]
    results = with_verifier.check_texts(["The user prefers gentle products.", "The soap has a rich lather."],
                                        evidence, 1)
    asked = llm.score_requests
    assert len(asked) == 1 and "The user prefers gentle products." in asked[0].messages[-1].content
    assert [r.label for r in results] == ["supported", "supported"]
    assert results[0].facts[-1].kind == "verifier"


@pytest.mark.model
def test_llm_verifier_answers_with_a_label(checker: GroundingChecker, tmp_path) -> None:
    from reasonrec.eval.grounding.verifier import LLMVerifier
    from reasonrec.llm.registry import LLMConfig, build_llm

    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), batch_size=2, n_threads=1))
    evidence = checker.retriever.retrieve([TARGET_ROW])[0]
    labels = LLMVerifier(llm).verify(["The user disliked the mint floss."], evidence)
    assert labels[0] in ("supported", "unsupported", "uncheckable")
