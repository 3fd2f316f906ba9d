"""A prepared directory is a dataset: loaded by path wherever a name is accepted, split tables included, and a
directory whose files no longer match its manifest is refused."""

from __future__ import annotations

import polars as pl
import pytest
from own_data import COLUMN_MAP, write_shop
from typer.testing import CliRunner

from reasonrec.data.loaders import is_dataset, load_dataset
from reasonrec.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from reasonrec.cli import app

    root = tmp_path_factory.mktemp("prep")
    files = write_shop(root)
    mapping = "{" + ", ".join(f"{k}: {v}" for k, v in COLUMN_MAP.items()) + "}"
    result = CliRunner().invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(root / "prepared"),
                                      "--set", f"load.column_map={mapping}"])
    assert result.exit_code == 0, result.output
    return root / "prepared"


def test_a_prepared_directory_loads_by_path_with_its_splits(prepared) -> None:
    assert is_dataset(str(prepared)) and is_dataset("movielens-100k") and not is_dataset(str(prepared.parent))
    ds = load_dataset(str(prepared))
    assert ds.name == "tabular"
    assert ds.interactions.height == 324 and ds.users.height == 36
    assert set(ds.splits) == {"prepared_train", "prepared_valid", "prepared_test"}
    assert ds.splits["prepared_test"].equals(pl.read_parquet(prepared / "splits" / "test.parquet"))
    assert str(prepared / "interactions.parquet") in ds.info["sources"].values()


def test_preparing_again_from_the_directory_rederives_a_split(prepared, tmp_path) -> None:
    from reasonrec.cli import app

    result = CliRunner().invoke(app, ["data", "prepare", str(prepared), "--out", str(tmp_path / "again"),
                                      "--set", "split.k_history=2"])
    assert result.exit_code == 0, result.output
    test = pl.read_parquet(tmp_path / "again" / "splits" / "test.parquet")
    assert test["history_item_ids"].list.len().max() == 2


def test_edited_directories_and_unknown_names_are_refused(prepared, tmp_path) -> None:
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(prepared, copy)
    pl.read_parquet(copy / "items.parquet").head(2).write_parquet(copy / "items.parquet")
    with pytest.raises(DataError, match="items.parquet does not match"):
        load_dataset(str(copy))
    with pytest.raises(ConfigError, match="neither a registered name"):
        load_dataset(str(tmp_path / "missing"))


def test_a_csv_given_the_obvious_way_is_read_as_data_not_yaml(tmp_path) -> None:
    from reasonrec.cli import app

    files = write_shop(tmp_path)
    result = CliRunner().invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "missing column 'user_id'" in result.output and "uid" in result.output  # the columns it did find
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    result = CliRunner().invoke(app, ["data", "prepare", str(other), "--out", str(tmp_path / "q")])
    assert result.exit_code == 2 and "neither a YAML config" in result.output
