"""Generic CSV/TSV/Parquet loader: column map, side tables, bad rows, and a round-trip property."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.loaders.base import LATEST_TIMESTAMP
from reasonrec.data.loaders.tabular import TabularOptions, load_tabular
from reasonrec.data.schema import INTERACTIONS_SCHEMA
from reasonrec.errors import ConfigError, DataError

FIXTURES = Path(__file__).parent / "fixtures" / "tabular"
MAP = {"user_id": "uid", "item_id": "iid", "rating": "stars", "timestamp": "when", "review": "comment"}


def _write(tmp_path: Path, text: str, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_column_map_and_side_tables() -> None:
    options = TabularOptions(
        path=FIXTURES / "ratings.csv",
        column_map=MAP,
        items_path=FIXTURES / "items.csv",
        users_path=FIXTURES / "users.tsv",
    )
    ds = load_dataset("tabular", FIXTURES, options)
    inter = ds.interactions
    assert inter.columns == list(INTERACTIONS_SCHEMA)
    assert inter["user_id"].to_list() == ["007", "007", "008"]  # ids stay strings, leading zeros kept
    assert inter["rating"].to_list() == [4.5, 2.0, 5.0]
    assert inter["timestamp"].to_list() == [
        1600000000,
        int(datetime(2020, 9, 14, tzinfo=UTC).timestamp()),
        1600000100,
    ]
    assert inter["review"].to_list() == ["Great, really", "two\nlines", ""]
    items = {r["item_id"]: r for r in ds.items.iter_rows(named=True)}
    assert items["m1"]["genres"] == ["Crime", "Thriller"] and items["m1"]["price"] == 9.99
    assert items["m2"]["price"] is None and items["m2"]["year"] == 2009
    assert ds.users.schema["age"] == pl.String and ds.users["user_id"].to_list() == ["007", "008"]


def test_line_numbers_survive_multiline_fields_and_blank_lines(tmp_path: Path) -> None:
    text = (FIXTURES / "ratings.csv").read_text() + "009,m2,lots,1600000200,\n"
    path = _write(tmp_path, text)
    with pytest.raises(DataError) as exc:
        load_tabular(tmp_path, LoadOptions(path=path, column_map=MAP))
    assert (exc.value.line, exc.value.field) == (7, "rating")


def test_missing_column_names_source_and_canonical(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_tabular(tmp_path, LoadOptions(path=FIXTURES / "ratings.csv", column_map={"user_id": "uid"}))
    assert exc.value.field == "item_id" and "options.column_map" in str(exc.value)


def test_bad_rows_raise_or_skip(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "user_id,item_id,rating,timestamp\n"
        "u1,i1,4,100\n"
        "u1,i2,4\n"  # line 3: wrong field count
        "u2,i1,nan,101\n"  # line 4: NaN rating
        "u2,i2,3,1.5e2x\n"  # line 5: bad timestamp
        ",i3,3,102\n"  # line 6: empty id
        "u3,i1,3,103\n",
    )
    with pytest.raises(DataError) as exc:
        load_tabular(tmp_path, LoadOptions(path=path))
    assert exc.value.line == 3 and "expected 4 fields" in str(exc.value)
    ds = load_tabular(tmp_path, LoadOptions(path=path, on_error="skip"))
    assert ds.interactions["user_id"].to_list() == ["u1", "u3"]
    assert ds.info["skipped"]["count"] == 4
    reasons = " ".join(ds.info["skipped"]["reasons"])
    for fragment in (":3:", ":4: field 'rating'", ":5: field 'timestamp'", ":6: field 'user_id'"):
        assert fragment in reasons


def test_rating_range_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "user_id,item_id,rating,timestamp\nu1,i1,11,1\n")
    with pytest.raises(DataError, match="load.rating_range"):  # 11 fits no usual scale: declare one
        load_tabular(tmp_path, LoadOptions(path=path))
    ds = load_tabular(tmp_path, TabularOptions(path=path, rating_range=(0, 20)))
    assert ds.interactions["rating"].to_list() == [11.0]
    with pytest.raises(DataError) as exc:
        load_tabular(tmp_path, TabularOptions(path=path, rating_range=(1, 10)))
    assert (exc.value.line, exc.value.field) == (2, "rating")


def test_duplicates_follow_dedupe(tmp_path: Path) -> None:
    path = _write(tmp_path, "user_id,item_id,rating,timestamp\nu1,i1,1,5\nu1,i1,2,5\n")
    with pytest.raises(DataError) as exc:
        load_tabular(tmp_path, LoadOptions(path=path))
    assert exc.value.line == 3
    ds = load_tabular(tmp_path, LoadOptions(path=path, dedupe="keep_last"))
    assert ds.interactions["rating"].to_list() == [2.0] and ds.info["duplicates_dropped"] == 1


def test_wrong_encoding_suggests_option(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"user_id,item_id,rating,timestamp\nu1,i1,4,1\nZo\xeb,i1,4,2\n")
    with pytest.raises(DataError) as exc:
        load_tabular(tmp_path, LoadOptions(path=path))
    assert exc.value.line == 3 and "options.encoding" in str(exc.value)
    ds = load_tabular(tmp_path, LoadOptions(path=path, encoding="latin-1"))
    assert ds.interactions["user_id"].to_list() == ["u1", "Zoë"]


def test_tsv_gz_and_parquet(tmp_path: Path) -> None:
    gz = tmp_path / "r.tsv.gz"
    gz.write_bytes(gzip.compress(b"user_id\titem_id\trating\ttimestamp\nu1\ti1\t3\t10\n"))
    assert load_tabular(tmp_path, LoadOptions(path=gz)).interactions.height == 1
    pq = tmp_path / "r.parquet"
    pl.DataFrame(
        {
            "u": [1, 2],
            "i": [10, 10],
            "r": [3, 4],
            "t": [datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)],
        }
    ).write_parquet(pq)
    ds = load_tabular(
        tmp_path,
        LoadOptions(path=pq, column_map={"user_id": "u", "item_id": "i", "rating": "r", "timestamp": "t"}),
    )
    assert ds.interactions["user_id"].to_list() == ["1", "2"]
    assert ds.interactions["timestamp"].to_list() == [1577836800, 1577923200]


def test_needs_path() -> None:
    with pytest.raises(ConfigError, match="options.path"):
        load_dataset("tabular", FIXTURES)


def test_relative_path_resolves_under_data_root(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "ratings.csv", tmp_path / "ratings.csv")
    ds = load_dataset("tabular", tmp_path, LoadOptions(path=Path("ratings.csv"), column_map=MAP))
    assert ds.interactions.height == 3


_ids = st.text(alphabet="abc0123456789,\"' é", min_size=1, max_size=6).filter(lambda s: s.strip() == s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            _ids, _ids, st.integers(min_value=1, max_value=10).map(lambda r: r / 2),
            st.integers(0, LATEST_TIMESTAMP),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda r: (r[0], r[1], r[3]),
    ),
    suffix=st.sampled_from([".csv", ".tsv", ".parquet"]),
)
def test_round_trip_random_table(
    tmp_path: Path, rows: list[tuple[str, str, float, int]], suffix: str
) -> None:
    table = pl.DataFrame(
        rows, schema={"uid": pl.String, "iid": pl.String, "score": pl.Float64, "ts": pl.Int64}, orient="row"
    )
    path = tmp_path / f"random{suffix}"
    if suffix == ".parquet":
        table.write_parquet(path)
    else:
        table.write_csv(path, separator="\t" if suffix == ".tsv" else ",")
    options = LoadOptions(
        path=path, column_map={"user_id": "uid", "item_id": "iid", "rating": "score", "timestamp": "ts"}
    )
    ds = load_tabular(tmp_path, options)
    got = ds.interactions.select("user_id", "item_id", "rating", "timestamp")
    assert got.rows() == table.rows()
