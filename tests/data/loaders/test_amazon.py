"""Amazon 2018 / 2023 loaders: the real Beauty file, hand-written fixtures (plain and gzip), bad records."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data
from hypothesis import given
from hypothesis import strategies as st

from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.loaders.amazon import (
    find_files,
    join_review,
    load_amazon_2018,
    load_amazon_2023,
    parse_price,
    parse_vote,
)
from reasonrec.data.schema import INTERACTIONS_SCHEMA, ITEMS_SCHEMA
from reasonrec.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


REVIEW_2018 = {
    "overall": 4.0,
    "reviewerID": "U3",
    "asin": "A1",
    "reviewText": "ok",
    "summary": "fine",
    "unixReviewTime": 1500000000,
}


# --- value parsers -----------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**9))
def test_parse_vote_roundtrips_thousands_separators(n: int) -> None:
    assert parse_vote(f"{n:,}") == n
    assert parse_vote(str(n)) == n
    assert parse_vote(n) == n


@given(st.integers(min_value=0, max_value=10**8), st.integers(min_value=0, max_value=99))
def test_parse_price_roundtrips_dollar_strings(dollars: int, cents: int) -> None:
    value = dollars + cents / 100
    assert parse_price(f"${value:,.2f}") == pytest.approx(value)
    assert parse_price(f"{value:.2f}") == pytest.approx(value)


@given(st.text())
def test_parse_price_never_raises(text: str) -> None:
    result = parse_price(text)
    assert result is None or result >= 0


def test_parse_price_and_vote_edge_cases() -> None:
    assert parse_price("") is None and parse_price(None) is None
    assert parse_price("$5.99 - $9.99") is None  # a range is not one price
    assert parse_price(".a-box-inner{background-color:#fff}") is None
    assert parse_price(24.99) == 24.99 and parse_price(float("nan")) is None
    assert parse_vote(None) == 0
    for bad in ("many", "-3", "1.5", True, -1, "1,23"):
        with pytest.raises(ValueError):
            parse_vote(bad)


def test_join_review() -> None:
    assert join_review("Five Stars", "As advertised.") == "Five Stars. As advertised."
    assert join_review("Meh!", "Broke.") == "Meh! Broke."
    assert join_review(None, "Body") == "Body" and join_review("Head", "  ") == "Head"
    assert join_review(None, None) is None


# --- real data ---------------------------------------------------------------------------------------------


def test_beauty_raw_real_file(shared_data: Path) -> None:
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    ds = load_dataset("amazon-beauty-raw", shared_data)
    raw_lines = 5_269
    assert ds.interactions.height + ds.info["duplicates_dropped"] == raw_lines
    assert ds.interactions.height == 4_161  # distinct (reviewer, asin, unixReviewTime)
    assert ds.info["dedupe"] == "keep_first" and ds.info["skipped"]["count"] == 0
    assert ds.items.columns == list(ITEMS_SCHEMA)  # no meta file: only item_id filled
    assert ds.items.height == 85 and ds.items["title"].null_count() == 85
    assert ds.users.height == 991
    assert ds.interactions.schema.get("helpful_votes") == pl.Int64
    first = ds.interactions.row(0, named=True)
    assert first["review"] == "Five Stars. As advertised. Reasonably priced"
    assert first["summary"] == "Five Stars" and first["timestamp"] == 1472688000
    assert ds.interactions["helpful_votes"].max() > 0


def test_beauty_raw_explicit_dedupe_error(shared_data: Path) -> None:
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    with pytest.raises(DataError) as exc:
        load_dataset("amazon-beauty-raw", shared_data, LoadOptions(dedupe="error"))
    assert exc.value.line is not None and exc.value.field == "user_id,item_id,timestamp"


# --- 2018 fixtures -----------------------------------------------------------------------------------------


def test_amazon_2018_folder_with_meta() -> None:
    ds = load_amazon_2018(FIXTURES, LoadOptions(path=FIXTURES / "amazon2018"))
    inter = ds.interactions
    assert inter.height == 4 and list(inter.columns[:6]) == list(INTERACTIONS_SCHEMA)
    assert inter["helpful_votes"].to_list() == [0, 1234, 3, 0]
    assert inter["review"].to_list()[:3] == [
        "Five Stars. As advertised. Reasonably priced",
        "Meh! Broke after a week.",
        "Nice.",
    ]
    assert inter["timestamp"][3] == int(datetime(2011, 5, 3, tzinfo=UTC).timestamp())
    items = {r["item_id"]: r for r in ds.items.iter_rows(named=True)}
    assert set(items) == {"A1", "A2", "A3"}  # meta-only item A9 is not in the item table
    assert items["A1"]["price"] == 12.34 and items["A1"]["brand"] == "ToyCo"
    assert items["A1"]["categories"] == ["Toys & Games", "Vehicles"]
    assert items["A1"]["description"] == "A small car.\nBlue."
    assert items["A2"]["price"] is None and items["A2"]["brand"] is None
    assert items["A3"]["price"] is None and items["A3"]["raw_price"] == "$5.99 - $9.99"
    assert ds.info["unparsed_prices"] == 1 and ds.info["items_without_meta"] == 0
    assert ds.users["user_id"].to_list() == ["U1", "U2"]


def test_amazon_2018_file_path_finds_sibling_meta() -> None:
    reviews, meta = find_files(FIXTURES / "amazon2018" / "Toys_5.json")
    assert meta == FIXTURES / "amazon2018" / "meta_Toys.json"
    assert reviews.name == "Toys_5.json"


@pytest.mark.parametrize(
    ("line", "field", "needle"),
    [
        ('{"overall": 5.0, "reviewerID": "U3", "asin": "A1"', None, "invalid JSON"),
        ("[1, 2]", None, "expected a JSON object"),
        (json.dumps({**REVIEW_2018, "overall": "great"}), "overall", "not a valid number"),
        (json.dumps({**REVIEW_2018, "overall": 6.0}), "rating", "outside"),
        (json.dumps({k: v for k, v in REVIEW_2018.items() if k != "asin"}), "asin", "missing"),
        (json.dumps({**REVIEW_2018, "vote": "lots"}), "vote", "not a vote count"),
        (json.dumps({**REVIEW_2018, "unixReviewTime": "soon"}), "unixReviewTime", "no valid timestamp"),
    ],
)
def test_amazon_2018_bad_records(tmp_path: Path, line: str, field: str | None, needle: str) -> None:
    folder = _copy("amazon2018", tmp_path)
    _append(folder / "Toys_5.json", line + "\n")
    with pytest.raises(DataError) as exc:
        load_amazon_2018(tmp_path, LoadOptions(path=folder))
    assert exc.value.path == str(folder / "Toys_5.json")
    assert exc.value.line == 5 and exc.value.field == field and needle in str(exc.value)
    skipped = load_amazon_2018(tmp_path, LoadOptions(path=folder, on_error="skip"))
    assert skipped.interactions.height == 4
    assert skipped.info["skipped"]["count"] == 1 and ":5" in skipped.info["skipped"]["reasons"][0]


def test_amazon_2018_latin1_byte_suggests_encoding(tmp_path: Path) -> None:
    folder = _copy("amazon2018", tmp_path)
    with (folder / "Toys_5.json").open("ab") as fh:
        fh.write(
            b'{"overall": 4.0, "reviewerID": "U3", "asin": "A1", "summary": "Caf\xe9", "unixReviewTime": 1}\n'
        )
    with pytest.raises(DataError) as exc:
        load_amazon_2018(tmp_path, LoadOptions(path=folder))
    assert exc.value.line == 5 and "options.encoding" in str(exc.value) and "0xe9" in str(exc.value)
    ds = load_amazon_2018(tmp_path, LoadOptions(path=folder, encoding="latin-1"))
    assert "Café" in ds.interactions["summary"].to_list()


def test_amazon_2018_duplicates(tmp_path: Path) -> None:
    folder = _copy("amazon2018", tmp_path)
    dup = {"overall": 1.0, "reviewerID": "U1", "asin": "A1", "summary": "again", "unixReviewTime": 1472688000}
    _append(folder / "Toys_5.json", json.dumps(dup) + "\n")
    with pytest.raises(DataError) as exc:
        load_amazon_2018(tmp_path, LoadOptions(path=folder))
    assert exc.value.line == 5 and "first seen at line 1" in str(exc.value)
    last = load_amazon_2018(tmp_path, LoadOptions(path=folder, dedupe="keep_last"))
    assert last.info["duplicates_dropped"] == 1
    assert last.interactions.filter(pl.col("item_id") == "A1", pl.col("user_id") == "U1")[
        "rating"
    ].to_list() == [1.0]


def test_amazon_2018_ambiguous_folder(tmp_path: Path) -> None:
    folder = _copy("amazon2018", tmp_path)
    shutil.copy(folder / "Toys_5.json", folder / "Games_5.json")
    with pytest.raises(DataError, match="several review files"):
        load_amazon_2018(tmp_path, LoadOptions(path=folder))


def test_amazon_2018_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_amazon_2018(tmp_path, LoadOptions())
    assert exc.value.path == str(tmp_path / "amazon-2018")


# --- 2023 fixtures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["amazon2023", "amazon2023_gz"])
def test_amazon_2023_plain_and_gzip(folder: str) -> None:
    ds = load_amazon_2023(FIXTURES, LoadOptions(path=FIXTURES / folder))
    inter = ds.interactions
    assert inter["item_id"].to_list() == ["P1", "P1", "P2"]  # parent_asin, not the variant asin
    assert inter["timestamp"].to_list() == [1588687728, 1588615855, 1600000000]  # milliseconds → seconds
    assert inter["helpful_votes"].to_list() == [2, 0, 0]
    assert inter["review"].to_list() == [
        "Love it. My kid plays with it daily.",
        "Broken. Arrived broken.",
        "Good value.",
    ]
    assert inter["verified"].to_list() == [True, False, True]
    items = {r["item_id"]: r for r in ds.items.iter_rows(named=True)}
    assert items["P1"]["price"] == 24.99 and items["P1"]["brand"] == "TrainCo"
    assert items["P1"]["categories"] == ["Toys & Games", "Trains"]
    assert items["P1"]["description"] == "A wooden train set.\nTen pieces."
    assert json.loads(items["P1"]["details"]) == {"Item Weight": "1 pound"}
    assert items["P1"]["rating_number"] == 120 and items["P2"]["price"] is None
    assert ds.users["user_id"].to_list() == ["AU1", "AU2"]


def test_amazon_2023_registry_name() -> None:
    ds = load_dataset("amazon-2023", FIXTURES, LoadOptions(path=FIXTURES / "amazon2023_gz" / "Toys.jsonl.gz"))
    assert ds.name == "amazon-2023" and ds.items["title"].to_list() == ["Wooden Train", "Ball"]


def test_amazon_2023_bad_records(tmp_path: Path) -> None:
    folder = _copy("amazon2023", tmp_path)
    good = {"rating": 3.0, "parent_asin": "P2", "user_id": "AU3", "timestamp": 1600000000000}
    _append(folder / "Toys.jsonl", json.dumps({**good, "timestamp": "yesterday"}) + "\n\n")
    _append(folder / "Toys.jsonl", json.dumps({k: v for k, v in good.items() if k != "parent_asin"}) + "\n")
    with pytest.raises(DataError) as exc:
        load_amazon_2023(tmp_path, LoadOptions(path=folder))
    assert (exc.value.line, exc.value.field) == (4, "timestamp")
    ds = load_amazon_2023(tmp_path, LoadOptions(path=folder, on_error="skip"))
    reasons = ds.info["skipped"]["reasons"]
    assert ds.info["skipped"]["count"] == 2 and ":6: field 'parent_asin'" in reasons[1]


def test_amazon_2023_corrupt_gzip(tmp_path: Path) -> None:
    bad = tmp_path / "Toys.jsonl.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="gzip"):
        load_amazon_2023(tmp_path, LoadOptions(path=bad))


# --- several categories in one folder (the `data download` layout) -----------------------------------------


def test_category_picks_one_of_several_and_skips_the_checksum_record(tmp_path: Path) -> None:
    folder = _copy("amazon2023", tmp_path)
    shutil.copy(folder / "Toys.jsonl", folder / "Games.jsonl")
    shutil.copy(folder / "meta_Toys.jsonl", folder / "meta_Games.jsonl")
    (folder / "checksums.json").write_text('{"version": 1, "files": {}}')
    with pytest.raises(DataError, match="several review files.*load.category.*Games.*Toys"):
        load_amazon_2023(tmp_path, LoadOptions(path=folder))
    reviews, meta = find_files(folder, "Games")
    assert (reviews.name, meta.name if meta else None) == ("Games.jsonl", "meta_Games.jsonl")
    ds = load_dataset("amazon-2023", tmp_path, LoadOptions(path=folder, category="Toys"))
    assert ds.info["sources"] == {"interactions": str(folder / "Toys.jsonl"), "items": str(folder / "meta_Toys.jsonl")}
    with pytest.raises(DataError, match="category 'Books' \\(present: Games, Toys\\)"):
        load_amazon_2023(tmp_path, LoadOptions(path=folder, category="Books"))
    with pytest.raises(DataError, match="'Games' file but load.category='Toys'"):
        find_files(folder / "Games.jsonl", "Toys")


def test_sources_name_only_files_that_were_read(tmp_path: Path) -> None:
    folder = _copy("amazon2018", tmp_path)
    (folder / "meta_Toys.json").unlink()
    ds = load_amazon_2018(tmp_path, LoadOptions(path=folder))
    assert ds.info["sources"] == {"interactions": str(folder / "Toys_5.json")}  # no "" that would mean the cwd
