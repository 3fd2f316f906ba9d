"""Human alignment: κ between annotators, human scores against automatic metrics, correct vs incorrect t-test —
on planted ratings whose answers are known, through the library and `reasonrec eval agreement`."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reasonrec.errors import DataError
from reasonrec.eval.human import DIMENSIONS, HumanAlignmentConfig, annotator_agreement, human_alignment

N = 40


def _planted(seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Grounding g in [0, 1] drives every human score (two annotators ±1 noise, one copies the first); half the
    predictions are wrong and those explanations are rated 2 points lower."""
    rng = np.random.default_rng(seed)
    grounding = rng.uniform(0, 1, N)
    correct = np.arange(N) % 2 == 0
    base = np.clip(np.round(1 + 3 * grounding + np.where(correct, 1, -1) * 0.6), 1, 5).astype(int)
    rows = []
    for n in range(N):
        noisy = int(np.clip(base[n] + rng.integers(-1, 2), 1, 5))
        for annotator, value in (("ann1", base[n]), ("ann2", noisy), ("ann3", base[n])):
            rows.append({"annotator": annotator, "user_id": f"u{n}", "item_id": f"i{n}", "method": "llm",
                         **dict.fromkeys(DIMENSIONS, int(value)), "explanation": f"the user likes serum {n}"})
    annotations = pl.DataFrame(rows)
    predictions = pl.DataFrame({
        "method": ["reasoningrec-student"] * N, "user_id": [f"u{n}" for n in range(N)],
        "item_id": [f"i{n}" for n in range(N)], "label": [1] * N,
        "pred_label": [1 if c else 0 for c in correct], "reasoning": [f"the user likes serum {n}" for n in range(N)],
        "reference": [f"the user likes serum {n}" if n % 3 else "unrelated text entirely" for n in range(N)],
        "grounding_precision": grounding,
    })
    return annotations, predictions


def test_planted_study_finds_what_was_planted() -> None:
    annotations, predictions = _planted()
    result = human_alignment(annotations, predictions, HumanAlignmentConfig.from_dict({"text": {"metrics": ["bleu"]}}))
    assert result["explanations"] == N and result["annotations"] == 3 * N
    kappa = result["between_annotators"]
    assert kappa["pairs"]["ann1|ann3"]["accuracy"]["value"] == pytest.approx(1.0)
    assert 0.3 < kappa["pairs"]["ann1|ann2"]["accuracy"]["value"] < 1.0
    assert kappa["pairs"]["ann1|ann2"]["accuracy"]["n"] == N
    grounding = result["human_vs_metrics"]["grounding_precision"]["accuracy"]
    for name in ("pearson", "spearman", "kendall"):
        assert grounding[name]["value"] > 0.45 and grounding[name]["p_value"] < 0.001 and grounding[name]["n"] == N
    assert "text_bleu" in result["metrics"]
    test = result["correct_vs_incorrect"]
    assert test["correct"] == test["incorrect"] == N // 2
    assert test["satisfaction"]["value"] > 2 and test["satisfaction"]["p_value"] < 0.01
    assert test["satisfaction"]["mean_correct"] > test["satisfaction"]["mean_incorrect"]


def test_undefined_statistics_say_why() -> None:
    annotations, _ = _planted()
    one = annotations.filter(pl.col("annotator") == "ann1")
    result = human_alignment(one)
    assert result["between_annotators"]["pairs"] == {} and result["correct_vs_incorrect"] is None
    constant = one.with_columns(pl.lit(3).alias("accuracy"))
    pair = pl.concat([constant, constant.with_columns(pl.lit("ann9").alias("annotator"))])
    assert annotator_agreement(pair)["pairs"]["ann1|ann9"]["accuracy"]["reason"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=2, max_size=30))
def test_identical_annotators_agree_perfectly_or_undefined(values: list[int]) -> None:
    rows = [{"annotator": a, "user_id": f"u{n}", "item_id": "i", "method": "m", **dict.fromkeys(DIMENSIONS, v)}
            for n, v in enumerate(values) for a in ("x", "y")]
    pair = annotator_agreement(pl.DataFrame(rows))["pairs"]["x|y"]["persuasiveness"]
    assert pair["value"] == pytest.approx(1.0) if len(set(values)) > 1 else pair["value"] is None


def test_bad_annotations_are_one_line_errors() -> None:
    annotations, _ = _planted()
    with pytest.raises(DataError, match="accuracy must be an integer from 1 to 5"):
        human_alignment(annotations.with_columns(pl.lit(7).alias("accuracy")))
    with pytest.raises(DataError, match="no 'annotator' column"):
        human_alignment(annotations.drop("annotator"))


def test_cli_reads_an_export_and_writes_json(tmp_path) -> None:
    from reasonrec.cli import app

    annotations, predictions = _planted()
    annotations.write_ndjson(tmp_path / "ratings.jsonl")
    predictions.write_parquet(tmp_path / "predictions.parquet")
    result = CliRunner().invoke(app, ["eval", "agreement", str(tmp_path / "ratings.jsonl"), "--predictions",
                                      str(tmp_path / "predictions.parquet"), "--out", str(tmp_path / "out"),
                                      "--set", "text.metrics=[bleu,rouge1]"])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "out" / "agreement.json").read_text())
    assert set(written["metrics"]) == {"text_bleu", "text_rouge1", "grounding_precision"}
    assert (tmp_path / "out" / "manifest.json").is_file()
    bad = CliRunner().invoke(app, ["eval", "agreement", str(tmp_path / "ratings.txt")])
    assert bad.exit_code == 2 and "file not found" in bad.output
