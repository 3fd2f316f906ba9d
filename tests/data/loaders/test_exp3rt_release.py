"""EXP3RT IMDB release loader on the real files: counts from data/README.md, id mapping, error paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.exp3rt import load_exp3rt_imdb
from reasonrec.errors import DataError


@pytest.fixture(scope="module")
def imdb(shared_data: Path):
    require_data(shared_data, "exp3rt-imdb", "rating_bias", "test_helpful.json")
    return load_exp3rt_imdb(shared_data, LoadOptions())


def test_counts(imdb) -> None:
    assert imdb.items.height == 1155
    assert imdb.users.height == 859
    assert imdb.artefacts["item_profiles"].height == 1155
    assert imdb.artefacts["user_profiles"].height == 859
    assert imdb.artefacts["rating_pairs_helpful"].height == 2073
    assert imdb.artefacts["rating_pairs_similarity"].height == 2073
    assert imdb.info["rating_pairs"]["helpful_and_similarity_same_pairs_and_scores"] is True
    assert [imdb.artefacts[f"item_profile_pairs_{s}"].height for s in ("valid", "test")] == [115, 116]
    assert [imdb.artefacts[f"user_profile_pairs_{s}"].height for s in ("valid", "test")] == [85, 87]


def test_interactions_are_the_rating_pairs(imdb) -> None:
    inter = imdb.interactions
    assert inter.height == 2073
    assert inter["timestamp"].null_count() == 2073
    assert inter["rating"].min() >= 1 and inter["rating"].max() <= 10
    first = inter.row(0, named=True)
    assert (first["user_id"], first["item_id"]) == ("/user/ur55597043/", "0053125")
    assert any("timestamp" in note for note in imdb.info["notes"])


def test_item_metadata_parsed_from_descriptions(imdb) -> None:
    north = imdb.items.filter(pl.col("item_id") == "0053125").row(0, named=True)
    assert north["title"] == "North by Northwest" and north["year"] == 1959
    assert north["genres"] == ["Action", "Adventure", "Mystery", "Thriller"]
    assert imdb.artefacts["item_profiles"]["text"][0].startswith("[Like]")


def test_topk_splits_use_original_ids(imdb) -> None:
    train, test = imdb.splits["topk_train"], imdb.splits["topk_test"]
    assert train["user_id"].n_unique() == test["user_id"].n_unique() == 791
    assert imdb.splits["topk_org_train"]["user_id"].n_unique() == 859
    row = test.row(0, named=True)
    assert (row["user_id"], row["user_remap"], row["item_remap"]) == ("/user/ur55597043/", 0, 443)
    assert set(train["item_id"]) <= set(imdb.items["item_id"])
    assert imdb.info["topk"]["topk_org_test"]["duplicate_rows_dropped"] == 4146
    assert imdb.splits["topk_org_test"].select(pl.struct("user_id", "item_id").is_duplicated().any()).item() is False


def _copy(shared_data: Path, tmp_path: Path) -> Path:
    src = require_data(shared_data, "exp3rt-imdb")
    shutil.copytree(src, tmp_path / "exp3rt-imdb")
    return tmp_path / "exp3rt-imdb"


def test_missing_file_is_named(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path)
    (root / "topk" / "user_list.txt").unlink()
    with pytest.raises(DataError) as err:
        load_exp3rt_imdb(tmp_path, LoadOptions())
    assert err.value.path.endswith("user_list.txt") and "org_id remap_id" in str(err.value)


def test_malformed_json_is_named(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path)
    (root / "user_profile" / "user_profile.json").write_text('[{"user_id": "a",', encoding="utf-8")
    with pytest.raises(DataError, match="malformed JSON") as err:
        load_exp3rt_imdb(tmp_path, LoadOptions())
    assert err.value.path.endswith("user_profile.json")


def test_unknown_remap_id_names_line(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path)
    path = root / "topk" / "test.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = "2 999999"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_exp3rt_imdb(tmp_path, LoadOptions())
    assert err.value.line == 3 and err.value.field == "item"
