"""prepare/describe on a tiny synthetic MovieLens-format dataset (through the real loader)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from reasonrec.data.prepare import PrepareConfig, apply_filters, describe, prepare, write_describe
from reasonrec.data.schema import TARGET_SCHEMA
from reasonrec.data.synthetic import random_interactions, write_movielens_100k_format
from reasonrec.errors import ConfigError, DataError
from reasonrec.io import sha256_file


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_movielens_100k_format(root / "movielens-100k", random_interactions(40, 30, per_user=(3, 15), seed=11))
    return root


def test_defaults_reproduce_reasoningrec() -> None:
    cfg = PrepareConfig()
    assert (cfg.split.strategy, cfg.split.k_history, cfg.r_threshold, cfg.seed) == ("leave_last_out", 5, 3.0, 42)
    assert cfg.filters.k_core is None
    changed = cfg.with_overrides(["split.strategy=temporal_ratio", "filters.k_core=5", "split.k_history=null"])
    assert (changed.split.strategy, changed.filters.k_core, changed.split.k_history) == ("temporal_ratio", 5, None)
    with pytest.raises(ConfigError):
        cfg.with_overrides(["split.strategy=random"])
    with pytest.raises(ConfigError):
        cfg.with_overrides(["filters.kcore=5"])


def test_prepare_writes_loaded_tables_splits_and_manifest(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    cfg = PrepareConfig(dataset="movielens-100k", data_dir=tiny_root).with_overrides(["filters.k_core=5"])
    prepared = prepare(cfg, out)
    loaded = pl.read_parquet(out / "interactions.parquet")
    assert loaded.height == prepared.dataset.interactions.height  # as loaded, before the k-core filter
    assert prepared.filtered.height < loaded.height
    for name in ("train", "valid", "test"):
        table = pl.read_parquet(out / "splits" / f"{name}.parquet")
        assert dict(table.schema) == TARGET_SCHEMA
        assert table.height == prepared.split.stats[f"{name}_targets"] > 0
    cf = pl.read_parquet(out / "splits" / "train_interactions.parquet")
    assert cf.height == prepared.split.stats["train_interactions"]
    assert PrepareConfig.from_yaml(out / "config.yaml") == cfg
    manifest = json.loads((out / "manifest.json").read_text())
    u_data = tiny_root / "movielens-100k" / "u.data"
    assert manifest["inputs"][str(u_data)] == sha256_file(u_data)
    folder = tiny_root / "movielens-100k"
    assert set(manifest["inputs"]) == {str(folder / f"u.{n}") for n in ("data", "item", "user", "genre")}
    assert manifest["outputs"]["splits/test.parquet"] == sha256_file(out / "splits" / "test.parquet")
    assert manifest["seeds"] == {"split": 42}
    assert manifest["filters"]["after_k_core"] == prepared.filtered.height
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporaries


@pytest.mark.parametrize(
    "overrides",
    [
        ["split.strategy=temporal_ratio", "split.k_history=3"],
        ["split.strategy=user_disjoint_balanced", "split.per_class_train=3", "split.per_class_test=1",
         "split.min_history=2"],
    ],
)
def test_prepare_other_strategies(tiny_root: Path, tmp_path: Path, overrides: list[str]) -> None:
    cfg = PrepareConfig(data_dir=tiny_root).with_overrides(overrides)
    prepared = prepare(cfg, tmp_path / "p")
    assert prepared.split.stats["strategy"] == cfg.split.strategy
    assert prepared.split.test.height > 0


def test_prepare_refuses_an_empty_result(tiny_root: Path, tmp_path: Path) -> None:
    cfg = PrepareConfig(data_dir=tiny_root).with_overrides(["filters.k_core=1000"])
    with pytest.raises(DataError, match="no interactions left"):
        prepare(cfg, tmp_path / "p")


def test_describe_summarises_and_plots(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    prepared = prepare(PrepareConfig(data_dir=tiny_root), out)
    summary = describe(out)
    loaded = prepared.dataset.interactions
    assert summary["interactions"] == loaded.height
    assert summary["users"] == loaded["user_id"].n_unique() == 40
    assert summary["density"] == pytest.approx(loaded.height / (40 * loaded["item_id"].n_unique()))
    assert sum(summary["rating_histogram"].values()) == loaded.height
    h = summary["history_length"]
    assert 3 <= h["p10"] <= h["p50"] <= h["p90"] <= h["max"] <= 15
    test = summary["splits"]["test"]
    assert test["targets"] == 40
    assert test["labels"]["positive"] + test["labels"]["negative"] == 40
    assert sum(test["segments"].values()) == 40
    json_path, png_path = write_describe(out, summary)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json_path.read_text())["interactions"] == loaded.height


def test_apply_filters_reports_counts() -> None:
    df = random_interactions(20, 15, per_user=(2, 9), seed=4)
    cfg = PrepareConfig().with_overrides(["filters.min_history=5", "filters.max_history=8"]).filters
    out, counts = apply_filters(df, cfg)
    lengths = out.group_by("user_id").len()["len"]
    assert lengths.min() >= 5 and lengths.max() <= 8
    assert counts == {"loaded": df.height, "after_history_bounds": out.height}


def test_describe_rejects_a_non_prepared_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a prepared directory"):
        describe(tmp_path)
