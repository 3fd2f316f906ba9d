"""A prepared directory is a dataset: loaded by path wherever a name is accepted, split tables included, and a
directory whose files no longer match its manifest is refused."""

from __future__ import annotations

import polars as pl
import pytest
from own_data import COLUMN_MAP, column_map_setting, write_shop
from typer.testing import CliRunner

from reasonrec.data.loaders import is_dataset, load_dataset
from reasonrec.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from reasonrec.cli import app

    root = tmp_path_factory.mktemp("prep")
    files = write_shop(root)
    result = CliRunner().invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(root / "prepared"),
                                      "--set", column_map_setting()])
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


def test_errors_name_the_real_keys_and_list_the_valid_ones(tmp_path) -> None:
    from reasonrec.cli import app

    files = write_shop(tmp_path)
    runner = CliRunner()
    typo = runner.invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(tmp_path / "p"),
                               "--set", f"load.item_path={files['items']}"])
    assert typo.exit_code == 2
    assert "item_path: unknown setting" in typo.output and "items_path" in typo.output and "column_map" in typo.output
    section = runner.invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(tmp_path / "p"),
                                  "--set", "split.kk=3"])
    assert "split.kk: unknown setting; valid here: strategy, k_history" in section.output
    canonical = runner.invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(tmp_path / "p"),
                                    "--set", "load.column_map={userid: uid}"])
    assert "not canonical columns" in canonical.output and "user_id" in canonical.output
    unmapped = runner.invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(tmp_path / "p")])
    assert "load.column_map={user_id: <your column>}" in unmapped.output and "options." not in unmapped.output


def test_jsonl_ratings_and_items_with_titles(tmp_path) -> None:
    import json

    from reasonrec.cli import app
    from reasonrec.data.loaders.tabular import TabularOptions, load_tabular

    ratings = tmp_path / "ratings.jsonl"
    rows = [{"uid": f"u{n % 4}", "sku": f"s{n % 5}", "stars": 1 + n % 5, "date": f"2024-01-{1 + n:02d}"}
            for n in range(20)]
    ratings.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps({"sku": f"s{n}", "title": f"Serum {n}", "categories": ["Beauty", "Skin"]})
                               for n in range(5)))
    ds = load_tabular(tmp_path, TabularOptions(path=ratings, items_path=items, column_map=COLUMN_MAP))
    assert ds.interactions.height == 20 and ds.items["title"].to_list()[0] == "Serum 0"
    assert ds.items["categories"].to_list()[0] == ["Beauty", "Skin"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"uid": "u", "sku": "s", "stars": 4, "date": "2024-01-01"}\n{not json}\n')
    result = CliRunner().invoke(app, ["data", "prepare", str(bad), "--out", str(tmp_path / "p"),
                                      "--set", column_map_setting()])
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output and "invalid JSON" in result.output
