from __future__ import annotations

import json

import polars as pl
import pytest

from reasonrec.errors import ConfigError
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.eval.text import TextMetricsConfig


def _binary() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d", "a"],
            "item_id": ["1", "2", "3", "4", "1"],
            "label": [1, 0, 1, 0, 1],
            "score": [0.9, 0.2, 0.4, 0.6, 0.9],
            "pred_label": [1, 0, None, 0, 1],
            "parse_ok": [True, True, False, True, True],
            "reasoning": ["she likes soft creams", "too oily", "??", "smells bad", "she likes soft creams"],
            "reference": [
                "she likes soft creams",
                "it is oily",
                "likes it",
                "the smell is bad",
                "she likes soft creams",
            ],
            "segment": ["warm", "cold", "warm", "unseen", "warm"],
        }
    )


def test_parse_failures_counted_and_excluded_from_label_metrics() -> None:
    r = evaluate_predictions(_binary(), EvalConfig(bootstrap=0))
    assert r["n"] == 5 and r["parse_failures"] == 1 and r["parse_failure_rate"] == pytest.approx(0.2)
    # AUC on all 5 scored rows: positives .9,.4,.9 vs negatives .2,.6 → (2+1+2)/6
    assert r["auc"] == pytest.approx(5 / 6)
    assert r["metrics"]["auc"]["n"] == 5
    # accuracy on the 4 parsed rows, all correct
    assert r["accuracy"] == 1.0 and r["metrics"]["accuracy"]["n"] == 4
    assert r["label_source"] == "pred_label" and r["threshold"] == 0.5
    assert r["metrics"]["accuracy"]["parse_failures"] == 1


def test_dedupe_on_user_item_reports_both() -> None:
    r = evaluate_predictions(_binary(), EvalConfig(bootstrap=0, dedupe=True))
    assert r["n_distinct"] == 4 and r["duplicate_rows"] == 1 and r["dedupe_key"] == ["user_id", "item_id"]
    assert r["distinct"]["auc"] == pytest.approx(3 / 4)  # .9,.4 vs .2,.6
    no_ids = _binary().drop("user_id", "item_id")
    with pytest.raises(ConfigError):
        evaluate_predictions(no_ids, EvalConfig(bootstrap=0, dedupe=True))


def test_single_class_gives_reason_not_crash() -> None:
    df = pl.DataFrame({"label": [1, 1], "score": [0.3, 0.8]})
    r = evaluate_predictions(df, EvalConfig(bootstrap=100))
    assert r["auc"] is None and "one class" in r["metrics"]["auc"]["reason"]
    assert r["auc_ci"] is None
    assert r["label_source"] == "score>=0.5" and r["accuracy"] == pytest.approx(0.5)


def test_rating_predictions_multiclass_and_derived_binary() -> None:
    probs = [
        {"1": 0.7, "2": 0.1, "3": 0.1, "4": 0.05, "5": 0.05},
        {"4": 0.6, "5": 0.4},
        {"5": 0.9, "4": 0.1},
        {"2": 0.5, "3": 0.5},
    ]
    df = pl.DataFrame(
        {
            "rating": [1.0, 5.0, 5.0, 3.0],
            "pred_rating": [1.5, 4.4, 4.9, 2.5],
            "probs": [json.dumps(p) for p in probs],
        }
    )
    r = evaluate_predictions(df, EvalConfig(bootstrap=0))
    assert r["mae"] == pytest.approx((0.5 + 0.6 + 0.1 + 0.5) / 4)
    # argmax classes 1, 4, 5, 2 (tie 2/3 → lower) vs truth 1, 5, 5, 3
    assert r["rating_accuracy"] == pytest.approx(2 / 4)
    assert r["rating_classes"] == [1, 2, 3, 4, 5]
    # binary truth from r > 3: [0,1,1,0]; score = pred_rating → positives 4.4,4.9 beat 1.5,2.5
    assert r["auc"] == 1.0
    assert r["metrics"]["macro_auc_ovr"]["skipped_classes"] == [2, 4]


def test_breakdowns_correctness_segment_and_text() -> None:
    cfg = EvalConfig(
        bootstrap=0, breakdowns=["correctness", "segment"], text=TextMetricsConfig(metrics=["rouge1"])
    )
    r = evaluate_predictions(_binary(), cfg)
    groups = r["breakdowns"]["correctness"]
    assert groups["correct"]["n"] == 4 and groups["unparsed"]["n"] == 1
    assert groups["unparsed"]["rouge1"] == 0.0
    # ROUGE-1 F per row: 1; "too oily"/"it is oily" P=1/2 R=1/3 → 0.4; 0; "smells bad"/"the smell is bad"
    # (no stemming) P=1/2 R=1/4 → 1/3; 1
    assert r["rouge1"] == pytest.approx((1.0 + 0.4 + 0.0 + 1 / 3 + 1.0) / 5)
    assert set(r["breakdowns"]["segment"]) == {"warm", "cold", "unseen"}
    assert r["breakdowns"]["segment"]["warm"]["n"] == 3
    json.dumps(r, allow_nan=False)


def test_label_choice_probs_are_ignored_for_rating_metrics() -> None:
    """Zero-shot stages write probs={"Yes": p, "No": 1-p} (choice → probability); the evaluator must score
    them on `score` and not try to read "Yes"/"No" as rating classes (it used to raise ValueError)."""
    p_yes = [0.9, 0.2, 0.7, 0.4]
    df = pl.DataFrame(
        {
            "label": [1, 0, 1, 0],
            "rating": [5.0, 2.0, 4.0, 1.0],
            "score": p_yes,
            "pred_label": [int(p >= 0.5) for p in p_yes],
            "probs": [json.dumps({"Yes": p, "No": 1.0 - p}) for p in p_yes],
        }
    )
    r = evaluate_predictions(df, EvalConfig(bootstrap=0))
    assert r["auc"] == 1.0 and r["accuracy"] == 1.0
    assert "mae" not in r and "rating_classes" not in r and "macro_auc_ovr" not in r


def test_probs_with_mixed_keys_are_not_rating_classes() -> None:
    df = pl.DataFrame({"label": [1, 0], "score": [0.8, 0.3], "probs": ['{"5": 0.8, "No": 0.2}', None]})
    r = evaluate_predictions(df, EvalConfig(bootstrap=0))
    assert r["auc"] == 1.0 and "rating_classes" not in r
