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


def test_candidates_never_repeat_what_the_user_saw_before_the_test_target(tmp_path: Path) -> None:
    """The valid target (seen before the test target, absent from the CF training rows) is never proposed."""
    from baseline_fixtures import planted_interactions

    from reasonrec.data.splits import leave_last_out

    inter = planted_interactions()
    split = leave_last_out(inter, k_history=3, r_threshold=3.0)
    prep = tmp_path / "prep"
    (prep / "splits").mkdir(parents=True)
    inter.write_parquet(prep / "interactions.parquet")
    for name, table in split.targets().items():
        table.write_parquet(prep / "splits" / f"{name}.parquet")
    split.train_interactions.write_parquet(prep / "splits" / "train_interactions.parquet")
    result = CliRunner().invoke(app, ["baselines", "run", "bpr", "--split-dir", str(prep), "--out",
                                      str(tmp_path / "run"), "--set", "max_iter=30", "--top-k", "30"])
    assert result.exit_code == 0, result.output
    cands = pl.read_parquet(tmp_path / "run" / "candidates.parquet")
    test = split.test.select("user_id", "timestamp")
    before = inter.join(test, on="user_id", suffix="_target").filter(pl.col("timestamp") < pl.col("timestamp_target"))
    leaked = cands.join(before.select("user_id", "item_id").unique(), on=["user_id", "item_id"])
    assert leaked.height == 0
    valid_items = split.valid.select("user_id", "item_id")
    assert cands.join(valid_items, on=["user_id", "item_id"]).height == 0
    assert cands.columns == ["user_id", "item_id", "rank", "score"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert any(k.endswith("interactions.parquet") and "splits" not in k for k in manifest["inputs"])
