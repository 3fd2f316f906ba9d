"""`reasonrec baselines run` end to end on prepared synthetic splits."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from baseline_fixtures import planted_split
from typer.testing import CliRunner

from reasonrec.cli import app
from reasonrec.predictions import PREDICTIONS_SCHEMA


def test_run_writes_predictions_candidates_and_manifest(tmp_path: Path) -> None:
    data, test = planted_split()
    splits = tmp_path / "prep" / "splits"
    splits.mkdir(parents=True)
    data.train.write_parquet(splits / "train.parquet")
    data.valid.write_parquet(splits / "valid.parquet")
    test.write_parquet(splits / "test.parquet")
    data.interactions.write_parquet(splits / "train_interactions.parquet")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["baselines", "run", "bpr", "--split-dir", str(tmp_path / "prep"),
                                      "--out", str(out), "--set", "max_iter=20", "--dataset", "planted"])
    assert result.exit_code == 0, result.output
    preds = pl.read_parquet(out / "predictions.parquet")
    assert list(preds.columns) == list(PREDICTIONS_SCHEMA)
    assert preds.group_by("split").len().sort("split")["len"].to_list() == [test.height, data.valid.height]
    cands = pl.read_parquet(out / "candidates.parquet")
    assert cands.group_by("user_id").len()["len"].max() == 20
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["max_iter"] == 20 and manifest["baseline"] == "bpr"


def test_run_names_the_missing_split_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["baselines", "run", "user-mean", "--split-dir", str(tmp_path),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 2  # one line on stderr, no traceback (reasonrec.cli.errors)
    assert "train.parquet" in result.stderr and "missing split file" in result.stderr
