"""`reasonrec data prepare|describe` through Typer's CliRunner: real ML-100K, a tiny synthetic set, errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data
from typer.testing import CliRunner

from reasonrec.cli.data import app
from reasonrec.data.synthetic import random_interactions, write_movielens_100k_format

runner = CliRunner()


def test_prepare_and_describe_movielens_100k(shared_data: Path, tmp_path: Path) -> None:
    require_data(shared_data, "movielens-100k", "u.data")
    out = tmp_path / "ml100k"
    result = runner.invoke(app, ["prepare", "movielens-100k", "--data-dir", str(shared_data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out / "interactions.parquet").height == 100_000
    assert pl.read_parquet(out / "items.parquet").height == 1_682
    assert pl.read_parquet(out / "users.parquet").height == 943
    # ML-100K users all have >= 20 ratings: one target per user in each split, 5 history items each
    for name in ("train", "valid", "test"):
        split = pl.read_parquet(out / "splits" / f"{name}.parquet")
        assert split.height == 943 and (split["history_item_ids"].list.len() == 5).all()
    assert pl.read_parquet(out / "splits" / "train_interactions.parquet").height == 100_000 - 2 * 943
    assert (out / "config.yaml").exists() and (out / "manifest.json").exists()

    described = runner.invoke(app, ["describe", str(out)])
    assert described.exit_code == 0, described.output
    assert "100,000" in described.output and "1,682" in described.output
    summary = json.loads((out / "describe.json").read_text())
    assert (summary["users"], summary["items"], summary["interactions"]) == (943, 1682, 100_000)
    assert summary["density"] == pytest.approx(100_000 / (943 * 1682))
    assert summary["history_length"]["max"] == 737
    assert summary["rating_histogram"]["4.0"] == 34_174
    assert (out / "describe.png").stat().st_size > 1000


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_movielens_100k_format(root / "movielens-100k", random_interactions(25, 20, per_user=(4, 10), seed=3))
    return root


def test_prepare_tiny_with_overrides_and_yaml(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "a"
    result = runner.invoke(app, [
        "prepare", "movielens-100k", "--data-dir", str(tiny_root), "--out", str(out),
        "--set", "split.strategy=temporal_ratio", "--set", "split.k_history=2", "--set", "r_threshold=4",
    ])
    assert result.exit_code == 0, result.output
    assert "temporal_ratio" in result.output
    test = pl.read_parquet(out / "splits" / "test.parquet")
    assert (test["label"] == (test["rating"] > 4).cast(pl.Int64)).all()
    assert test["history_item_ids"].list.len().max() <= 2

    # the resolved config written by one run drives the next one identically
    again = tmp_path / "b"
    result = runner.invoke(app, ["prepare", str(out / "config.yaml"), "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(again / "splits" / "test.parquet").equals(test)

    described = runner.invoke(app, ["describe", str(again)])
    assert described.exit_code == 0, described.output
    assert json.loads((again / "describe.json").read_text())["split_strategy"] == "temporal_ratio"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prepare", "no-such-dataset"], "unknown dataset"),
        (["prepare", "movielens-100k", "--set", "split.k_history=abc"], "split.k_history"),
        (["prepare", "movielens-100k", "--set", "nosuchkey=1"], "nosuchkey"),
        (["prepare", "movielens-100k", "--set", "split.strategy"], "key.subkey=value"),
        (["prepare", "missing.yaml"], "config file not found"),
    ],
)
def test_prepare_errors_are_one_line_exit_2(tiny_root: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--data-dir", str(tiny_root), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_prepare_missing_data_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", "movielens-100k", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "not found" in result.output and "Traceback" not in result.output


def test_describe_error_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["describe", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a prepared directory" in result.output


def test_every_option_has_help() -> None:
    prepare_help = runner.invoke(app, ["prepare", "--help"]).output
    for text in ("Dataset name", "--data-dir", "Root of the datasets", "--out", "Directory to write", "--set",
                 "Config override"):
        assert text in prepare_help
    describe_help = runner.invoke(app, ["describe", "--help"]).output
    assert "A directory written by" in describe_help
