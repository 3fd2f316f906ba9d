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
