"""The acceptance interface: `reasonrec eval predictions ... --json` prints exactly one JSON object on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datafiles import require_data
from typer.testing import CliRunner

from reasonrec.cli import app

RUN = "sample256_valsample600_lr1e-4_valauc"


def _expected(run: Path, key: str) -> float:
    return json.loads((run / "results.json").read_text())["beauty"]["beauty"][RUN]["42"]["256"][key]


def test_cli_json_on_authors_release(shared_data: Path) -> None:
    run = require_data(shared_data, "reasoningrec-beauty", "student_reference_outputs", RUN)
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "predictions",
            str(run / "test_outputs.json"),
            "--format",
            "reasoningrec-release",
            "--json",
            "--dedupe",
            "--bootstrap",
            "200",
        ],
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)  # stdout must be exactly one JSON object
    assert payload["auc"] == pytest.approx(_expected(run, "auc"), abs=1e-6)
    assert payload["n"] == 600 and payload["n_distinct"] == 283
    assert payload["parse_failures"] == 4
    low, high = payload["auc_ci"]
    assert low < payload["auc"] < high
    for key in ("accuracy", "f1", "threshold"):
        assert key in payload
    assert "reading" in result.stderr


def test_cli_table_and_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"label": 1, "score": 0.8}\n{"label": 0, "score": 0.3}\n', encoding="utf-8")
    ok = CliRunner().invoke(app, ["eval", "predictions", str(path), "--bootstrap", "0"])
    assert ok.exit_code == 0 and "auc" in ok.stdout and "1.0000" in ok.stdout
    bad = CliRunner().invoke(app, ["eval", "predictions", str(tmp_path / "missing.jsonl"), "--json"])
    assert bad.exit_code == 2 and bad.stdout == "" and "not found" in bad.stderr


@pytest.mark.slow
def test_cli_bertscore_minilm_on_authors_release(shared_data: Path) -> None:
    """~2 CPU-minutes: MiniLM BERTScore of the student's reasoning vs the teacher's (authors: ~0.69 with another model)."""
    run = require_data(shared_data, "reasoningrec-beauty", "student_reference_outputs", RUN)
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "predictions",
            str(run / "test_outputs.json"),
            "--format",
            "reasoningrec-release",
            "--json",
            "--bootstrap",
            "0",
            "--text-metrics",
            "bertscore",
        ],
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert "MiniLM" in payload["metrics"]["bertscore"]["model"]
    assert payload["bertscore"] == pytest.approx(
        0.6868, abs=2e-3
    )  # measured; authors' DeBERTa/RoBERTa: 0.6909


def test_cli_on_zeroshot_parquet(tmp_path: Path) -> None:
    """Zero-shot predictions (probs = {"Yes": p, "No": 1-p}) evaluate through the CLI instead of crashing."""
    import polars as pl

    from reasonrec.predictions import conform_predictions

    p_yes = [0.9, 0.1, 0.6, 0.3]
    df = conform_predictions(
        pl.DataFrame(
            {
                "method": ["zeroshot-full"] * 4,
                "user_id": ["a", "b", "c", "d"],
                "item_id": ["1", "2", "3", "4"],
                "label": [1, 0, 1, 0],
                "rating": [5.0, 1.0, 4.0, 2.0],
                "score": p_yes,
                "pred_label": [int(p >= 0.5) for p in p_yes],
                "probs": [json.dumps({"Yes": p, "No": 1 - p}) for p in p_yes],
            }
        )
    )
    path = tmp_path / "predictions.parquet"
    df.write_parquet(path)
    result = CliRunner().invoke(app, ["eval", "predictions", str(path), "--json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["auc"] == 1.0
