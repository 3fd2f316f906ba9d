"""`reasonrec train sft-data` writes the SFT tables, stats and a manifest from config overrides."""

from __future__ import annotations

import json

import polars as pl
from datafiles import require_data
from typer.testing import CliRunner

from reasonrec.cli.train import app


def test_sft_data_command(shared_data, tmp_path):
    require_data(shared_data, "reasoningrec-beauty", "processed", "user_train.json")
    out = tmp_path / "sft"
    result = CliRunner().invoke(app, ["sft-data", "--out", str(out), "--data-dir", str(shared_data),
                                      "--set", "sft.k=8", "--set", "sft.method=tallrec", "--set", "valid_split=null"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["train"]["examples"] == 8 and stats["valid"] is None
    table = pl.read_parquet(out / "train" / "sft.parquet")
    assert table.height == 8 and set(table["completion"]) <= {"Yes.", "No."}
    assert (out / "manifest.json").is_file() and "k: 8" in (out / "config.yaml").read_text()


def _write_log(path, records):
    path.mkdir(parents=True, exist_ok=True)
    (path / "trainer_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_curves_command_overlays_runs_and_reports_best_validation_step(tmp_path):
    _write_log(tmp_path / "a", [{"step": 1, "loss": 2.0}, {"step": 2, "eval_loss": 1.9}, {"step": 2, "eval_auc": 0.52},
                                {"step": 4, "eval_auc": 0.61}, {"step": 6, "eval_auc": 0.58}, {"step": 6, "loss": 1.5}])
    _write_log(tmp_path / "repro" / "student", [{"step": 3, "eval_auc": 0.49}])
    png = tmp_path / "cmp.png"
    result = CliRunner().invoke(app, ["curves", str(tmp_path / "a"), str(tmp_path / "repro"), "--out", str(png)])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    assert [(r["run"], r["best_valid_auc"], r["best_step"], r["evaluations"]) for r in runs] == [
        ("a", 0.61, 4, 3), ("repro", 0.49, 3, 1)]
    assert runs[0]["last_step"] == 6
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_command_names_a_directory_without_a_log(tmp_path):
    result = CliRunner().invoke(app, ["curves", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "nothing: no trainer_log.jsonl" in result.output
    assert not (tmp_path / "x.png").exists()
