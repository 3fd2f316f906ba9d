"""A prepared directory: only the files a loader read are hashed, it is committed as a unit, readers verify it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from reasonrec.data.prepare import PrepareConfig, describe, prepare, source_files
from reasonrec.data.prepared import verify_prepared
from reasonrec.data.schema import Dataset
from reasonrec.data.synthetic import random_interactions, write_movielens_100k_format
from reasonrec.errors import ConfigError, DataError
from reasonrec.io import sha256_file

RATINGS = "user_id,item_id,rating,timestamp\n" + "".join(
    f"u{u},i{i},{1 + (u + i) % 5},{1000 + 10 * i}\n" for u in range(4) for i in range(5)
)


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_movielens_100k_format(root / "movielens-100k", random_interactions(30, 25, per_user=(4, 12), seed=5))
    return root


def test_manifest_hashes_only_the_files_read_never_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (home / ".env").write_text("API_KEY=decoy\n")
    (home / "ratings.csv").write_text(RATINGS)
    monkeypatch.chdir(home)
    cfg = PrepareConfig.from_dict({"dataset": "tabular", "load": {"path": "ratings.csv"}})
    prepare(cfg, home / "prepared")
    text = (home / "prepared" / "manifest.json").read_text()
    manifest = json.loads(text)
    assert manifest["inputs"] == {"ratings.csv": sha256_file(home / "ratings.csv")}
    assert "id_rsa" not in text and ".env" not in text and ".ssh" not in text


def test_source_files_take_only_listed_regular_files(tmp_path: Path) -> None:
    listed = tmp_path / "a.csv"
    listed.write_text("x")
    (tmp_path / "folder").mkdir()
    info = {"sources": {"interactions": str(listed), "items": "", "nested": [str(tmp_path / "folder"), str(listed)]}}
    empty = pl.DataFrame()
    assert source_files(Dataset("x", empty, empty, empty, info=info)) == [listed]
    assert source_files(Dataset("x", empty, empty, empty, info={})) == []


def test_reprepare_replaces_the_directory_and_leaves_no_staging(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    prepare(PrepareConfig(data_dir=tiny_root), out)
    (out / "describe.png").write_bytes(b"stale")
    prepare(PrepareConfig(data_dir=tiny_root).with_overrides(["split.k_history=2"]), out)
    assert not (out / "describe.png").exists()
    assert pl.read_parquet(out / "splits" / "test.parquet")["history_item_ids"].list.len().max() <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "p"]
    assert verify_prepared(out)["config"]["split"]["k_history"] == 2


def test_prepare_removes_what_a_killed_run_left_beside_out(tiny_root: Path, tmp_path: Path) -> None:
    stale = tmp_path / ".p.staging-deadbeef"
    (stale / "splits").mkdir(parents=True)
    prepare(PrepareConfig(data_dir=tiny_root), tmp_path / "p")
    assert not stale.exists()


def test_prepare_refuses_to_replace_a_foreign_directory_or_a_file(tiny_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a prepared directory"):
        prepare(PrepareConfig(data_dir=tiny_root), home)
    assert (home / "notes.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="not a directory"):
        prepare(PrepareConfig(data_dir=tiny_root), home / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare(PrepareConfig(data_dir=tiny_root), empty)
    assert verify_prepared(empty)["outputs"]


@pytest.fixture
def two_runs(tiny_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    prepare(PrepareConfig(data_dir=tiny_root), old)
    prepare(PrepareConfig(data_dir=tiny_root).with_overrides(["split.k_history=2"]), new)
    return old, new


def test_reader_refuses_new_tables_beside_old_splits(two_runs: tuple[Path, Path]) -> None:
    old, new = two_runs
    shutil.copy(new / "splits" / "test.parquet", old / "splits" / "test.parquet")
    with pytest.raises(DataError, match="splits/test.parquet does not match"):
        describe(old)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), "manifest.json missing"),
        (lambda d: (d / "splits" / "valid.parquet").unlink(), "listed in manifest.json but missing"),
        (lambda d: shutil.copy(d / "splits" / "test.parquet", d / "splits" / "extra.parquet"), "not recorded"),
        (lambda d: (d / "manifest.json").write_text("{"), "unreadable manifest"),
        (lambda d: _edit_manifest(d, {"../../etc/passwd": "0"}), "outside the directory"),
    ],
)
def test_reader_refuses_a_damaged_directory(two_runs: tuple[Path, Path], damage, message: str) -> None:
    old, _ = two_runs
    damage(old)
    with pytest.raises(DataError, match=message):
        verify_prepared(old)


def _edit_manifest(root: Path, extra_outputs: dict[str, str]) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["outputs"].update(extra_outputs)
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_extra_files_outside_the_tables_do_not_matter(two_runs: tuple[Path, Path]) -> None:
    old, _ = two_runs
    (old / "describe.json").write_text("{}")
    os.utime(old / "interactions.parquet")  # touching is not changing
    assert describe(old)["interactions"] > 0
