"""MovieLens 100K / 1M loaders: real files, tiny fixtures, and every kind of bad row."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.loaders.common import RowIssues
from reasonrec.data.loaders.movielens import (
    load_movielens_1m,
    load_movielens_100k,
    read_ml1m_movies,
    read_ml1m_users,
)
from reasonrec.data.schema import INTERACTIONS_SCHEMA, ITEMS_SCHEMA
from reasonrec.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    folder = tmp_path / "ml100k"
    shutil.copytree(FIXTURES / "ml100k", folder)
    return folder


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


# --- real data ---------------------------------------------------------------------------------------------


def test_ml100k_real_counts(shared_data: Path) -> None:
    require_data(shared_data, "movielens-100k", "u.data")
    ds = load_dataset("movielens-100k", shared_data)
    assert ds.interactions.height == 100_000
    assert ds.items.height == 1_682
    assert ds.users.height == 943
    assert ds.interactions.schema == pl.Schema(INTERACTIONS_SCHEMA)
    assert ds.interactions["rating"].min() == 1.0 and ds.interactions["rating"].max() == 5.0
    toy = ds.items.filter(pl.col("item_id") == "1").row(0, named=True)
    assert toy["title"] == "Toy Story" and toy["year"] == 1995
    assert toy["raw_title"] == "Toy Story (1995)"
    assert sorted(toy["genres"]) == ["Animation", "Children's", "Comedy"]
    assert toy["imdb_url"].startswith("http://us.imdb.com/")
    assert ds.users.columns == ["user_id", "age", "gender", "occupation", "zip"]
    assert ds.info["unknown_items"] == 0 and ds.info["unknown_users"] == 0


def test_ml1m_real_movies_and_users(shared_data: Path) -> None:
    raw = require_data(shared_data, "reasoningrec-ml1m", "raw", "movies.dat").parent
    movies = read_ml1m_movies(raw / "movies.dat")
    users = read_ml1m_users(raw / "users.dat")
    assert movies.height == 3_883
    assert users.height == 6_040
    toy = movies.filter(pl.col("item_id") == "1").row(0, named=True)
    assert (toy["title"], toy["year"]) == ("Toy Story", 1995)
    assert toy["genres"] == ["Animation", "Children's", "Comedy"]
    assert movies["title"].str.contains("é").any()  # latin-1 decoded, not mangled
    first = users.filter(pl.col("user_id") == "1").row(0, named=True)
    assert (first["gender"], first["age"], first["age_group"], first["occupation"]) == (
        "F",
        1,
        "Under 18",
        "K-12 student",
    )


def test_ml1m_missing_ratings_names_path(shared_data: Path) -> None:
    raw = require_data(shared_data, "reasoningrec-ml1m", "raw", "movies.dat").parent
    with pytest.raises(DataError) as exc:
        load_movielens_1m(shared_data, LoadOptions(path=raw))
    assert exc.value.path == str(raw / "ratings.dat")


# --- fixtures ----------------------------------------------------------------------------------------------


def test_ml100k_fixture_tables(ml100k: Path) -> None:
    ds = load_movielens_100k(ml100k.parent, LoadOptions(path=ml100k))
    assert ds.interactions.height == 4
    assert ds.interactions["timestamp"].dtype == pl.Int64
    items = {r["item_id"]: r for r in ds.items.iter_rows(named=True)}
    assert items["20"]["title"] == "Cité des enfants perdus, La"
    assert items["20"]["genres"] == ["Action", "Comedy"]
    assert items["30"]["year"] is None and items["30"]["genres"] == ["unknown"]
    assert ds.items.columns[: len(ITEMS_SCHEMA)] == list(ITEMS_SCHEMA)


def test_ml100k_wrong_field_count(ml100k: Path) -> None:
    _append(ml100k / "u.data", b"3\t10\t4\n")
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k))
    assert exc.value.line == 5 and "expected 4 fields" in str(exc.value)
    assert exc.value.path == str(ml100k / "u.data")


def test_ml100k_non_numeric_rating(ml100k: Path) -> None:
    _append(ml100k / "u.data", b"3\t10\tfive\t881250960\n")
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k))
    assert (exc.value.line, exc.value.field) == (5, "rating")


def test_ml100k_rating_out_of_range(ml100k: Path) -> None:
    _append(ml100k / "u.data", b"3\t10\t7\t881250960\n")
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k))
    assert (exc.value.line, exc.value.field) == (5, "rating") and "outside" in str(exc.value)


def test_ml100k_bad_timestamp(ml100k: Path) -> None:
    _append(ml100k / "u.data", b"3\t10\t4\tyesterday\n")
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k))
    assert (exc.value.line, exc.value.field) == (5, "timestamp")


def test_ml100k_skip_counts_bad_rows(ml100k: Path) -> None:
    _append(ml100k / "u.data", b"3\t10\tfive\t881250960\n3\t10\n3\t20\t0\t881250961\n3\t30\t2\t881250962\n")
    ds = load_movielens_100k(ml100k, LoadOptions(path=ml100k, on_error="skip"))
    assert ds.interactions.height == 5
    skipped = ds.info["skipped"]
    assert skipped["count"] == 3
    assert any(":5: field 'rating'" in r for r in skipped["reasons"])
    assert any(":6:" in r and "expected 4 fields" in r for r in skipped["reasons"])
    assert any(":7: field 'rating'" in r for r in skipped["reasons"])


def test_ml100k_duplicates(ml100k: Path) -> None:
    _append(ml100k / "u.data", b"1\t10\t2\t881250949\n")
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k))
    assert exc.value.line == 5 and "first seen at line 1" in str(exc.value)
    first = load_movielens_100k(ml100k, LoadOptions(path=ml100k, dedupe="keep_first"))
    last = load_movielens_100k(ml100k, LoadOptions(path=ml100k, dedupe="keep_last"))
    assert first.info["duplicates_dropped"] == last.info["duplicates_dropped"] == 1
    pick = pl.col("user_id").eq("1") & pl.col("item_id").eq("10")
    assert first.interactions.filter(pick)["rating"].to_list() == [5.0]
    assert last.interactions.filter(pick)["rating"].to_list() == [2.0]
    skipped = load_movielens_100k(ml100k, LoadOptions(path=ml100k, on_error="skip"))
    assert skipped.info["skipped"]["count"] == 1 and skipped.interactions.height == 4


def test_ml100k_wrong_encoding_suggests_option(ml100k: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k, encoding="utf-8"))
    assert exc.value.path == str(ml100k / "u.item") and exc.value.line == 2
    assert "load.encoding" in str(exc.value)


def test_unknown_encoding(ml100k: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k, encoding="no-such-codec"))
    assert exc.value.field == "encoding"


def test_ml100k_bad_genre_flag(ml100k: Path) -> None:
    _append(ml100k / "u.item", b"40|Heat (1995)|01-Jan-1995||http://y|0|x|0\n")
    with pytest.raises(DataError) as exc:
        load_movielens_100k(ml100k, LoadOptions(path=ml100k))
    assert exc.value.line == 4 and exc.value.field == "genre:Action"


def test_ml100k_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_dataset("movielens-100k", tmp_path)
    assert exc.value.path == str(tmp_path / "movielens-100k")


def test_ml1m_ratings_parser(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n\n2::1193::4::978298413\n"
    )
    (folder / "movies.dat").write_bytes(
        b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    ds = load_movielens_1m(tmp_path, LoadOptions(path=folder))
    assert ds.interactions.height == 3
    assert ds.interactions["user_id"].to_list() == ["1", "1", "2"]
    assert ds.interactions["timestamp"].to_list() == [978300760, 978302109, 978298413]
    assert ds.items.filter(pl.col("item_id") == "661")["genres"].to_list() == [
        ["Animation", "Children's", "Musical"]
    ]
    assert ds.users.filter(pl.col("user_id") == "2")["occupation"].to_list() == ["self-employed"]
    # blank line 3 keeps numbering exact: the bad row is on line 5
    with (folder / "ratings.dat").open("a") as fh:
        fh.write("2::661::4.5.1::978298414\n")
    with pytest.raises(DataError) as exc:
        load_movielens_1m(tmp_path, LoadOptions(path=folder))
    assert (exc.value.line, exc.value.field) == (5, "rating")


def test_row_issues_keeps_first_reasons_only() -> None:
    issues = RowIssues("skip")
    for line in range(1, 30):
        issues.report("bad", path="f", line=line)
    assert issues.count == 29 and len(issues.as_info()["reasons"]) == 10
