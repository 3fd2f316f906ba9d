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
