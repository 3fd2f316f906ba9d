"""`reasonrec eval grounding` on real Beauty rows: one JSON object on stdout, run files with a manifest, and
one-line errors for what a user gets wrong."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from datafiles import require_data
from typer.testing import CliRunner

from reasonrec.cli import app
from reasonrec.data.loaders import load_dataset


def test_grounding_cli_on_a_predictions_file(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    require_data(shared_data, "reasoningrec-beauty", "processed", "ratings.csv")
    monkeypatch.setenv("REASONREC_CACHE_DIR", str(tmp_path / "cache"))
    row = load_dataset("reasoningrec-beauty", shared_data).splits["release_windows_test"].row(0, named=True)
    preds = pl.DataFrame({
        "method": ["our-student"], "split": ["test"], "user_id": [row["user_id"]], "item_id": [row["item_id"]],
        "pred_label": [1], "label": [row["label"]],
        "reasoning": ["Prediction: Yes\nThe user will like it. They enjoyed the Moonlight Velvet Serum by Lumina."],
    })
    path = tmp_path / "predictions.parquet"
    preds.write_parquet(path)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "grounding", str(path), "--data-dir", str(shared_data),
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    summary = payload["methods"]["our-student"]
    assert summary["explanations"] == 1 and summary["claims"] == 2
    assert summary["label_consistency"] == 1.0 and summary["hallucinated_items"] == 1
    assert {p.name for p in out.iterdir()} >= {"explanations.parquet", "claims.jsonl", "summary.json",
                                               "config.yaml", "manifest.json"}
    claims = [json.loads(line) for line in (out / "claims.jsonl").read_text().splitlines()]
    assert [c["label"] for c in claims] == ["supported", "unsupported"]
    shown = CliRunner().invoke(app, ["eval", "grounding", str(path), "--data-dir", str(shared_data),
                                     "--out", str(tmp_path / "run2")], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.stderr
    assert "fact_precision" in shown.stdout and "supported_precision" in shown.stdout


def test_grounding_cli_errors_are_one_line(shared_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "grounding", "--source", "teacher", "--data-dir", str(shared_data),
                                      "--set", "attribute_overlap=2"])
    assert result.exit_code == 2 and "attribute_overlap" in result.stderr and "Traceback" not in result.stderr
    result = CliRunner().invoke(app, ["eval", "grounding", "--source", "nonsense", str(tmp_path / "p.parquet")])
    assert result.exit_code == 2


def test_judge_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["eval", "judge", "--help"])
    assert result.exit_code == 0 and "Example:" in result.stdout and "--human" in result.stdout
