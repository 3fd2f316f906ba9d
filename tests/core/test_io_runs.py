import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from reasonrec.config import Config
from reasonrec.errors import DataError
from reasonrec.io import atomic_path, read_jsonl, sha256_file, write_jsonl, write_parquet
from reasonrec.runs import NOT_HASHED, hash_inputs, write_manifest


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_parquet_and_jsonl_round_trip(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_parquet(tmp_path / "t.parquet", df)
    assert pl.read_parquet(tmp_path / "t.parquet").equals(df)
    write_jsonl(tmp_path / "t.jsonl", df.to_dicts())
    assert read_jsonl(tmp_path / "t.jsonl") == df.to_dicts()


def test_manifest_records_config_seeds_and_hashes(tmp_path: Path) -> None:
    class C(Config):
        seed: int = 3

    src = tmp_path / "input.txt"
    src.write_text("hello")
    out = tmp_path / "run"
    out.mkdir()
    (out / "result.txt").write_text("result")
    write_manifest(out, command="test", config=C(), seeds={"split": 3}, inputs=[src])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seeds"] == {"split": 3}
    assert manifest["inputs"][str(src)] == hashlib.sha256(b"hello").hexdigest()
    assert manifest["outputs"]["result.txt"] == sha256_file(out / "result.txt")
    assert "config.yaml" in manifest["outputs"]
    assert manifest["packages"]["polars"] == pl.__version__
    assert (out / "config.yaml").read_text().strip() == "seed: 3"


def test_data_error_message_names_file_line_field() -> None:
    err = DataError("not a number", path="u.data", line=17, field="rating")
    assert str(err) == "u.data:17: field 'rating': not a number"


def test_inputs_are_hashed_one_by_one_and_never_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "secret.key").write_text("s")
    (tmp_path / "data.csv").write_text("d")
    monkeypatch.chdir(tmp_path)
    hashed = hash_inputs(["data.csv", "", "folder", "missing.csv"])
    assert hashed == {"data.csv": hashlib.sha256(b"d").hexdigest(), "folder": NOT_HASHED}
