"""Checks every loader's result goes through: rating-scale inference, timestamp bounds, text caps at load."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.loaders.common import RATING_SCALES, RowIssues, check_timestamps, infer_rating_range
from reasonrec.data.schema import Dataset, TextCaps, cap_text_fields
from reasonrec.errors import DataError


@settings(max_examples=60, deadline=None)
@given(scale=st.sampled_from(RATING_SCALES), data=st.data())
def test_ratings_from_a_usual_scale_infer_a_scale_holding_them(scale: tuple[float, float], data) -> None:
    low, high = scale
    steps = int((high - low) * 2)
    values = data.draw(st.lists(st.integers(0, steps).map(lambda k: low + k / 2), min_size=1, max_size=40))
    inferred = infer_rating_range(pl.Series(values, dtype=pl.Float64))
    assert inferred is not None and inferred[0] <= min(values) and max(values) <= inferred[1]


@pytest.mark.parametrize("junk", [99.0, -3.0, 42.0, 1e9])
def test_a_stray_value_far_outside_the_bulk_is_left_outside(junk: float) -> None:
    stars = [float(1 + k % 5) for k in range(19)]
    assert infer_rating_range(pl.Series([*stars, junk])) == (1.0, 5.0)


def test_no_usual_scale_is_none_and_half_stars_widen() -> None:
    assert infer_rating_range(pl.Series([4.0, 99.0, -3.0])) is None
    assert infer_rating_range(pl.Series([float(1 + k % 5) for k in range(19)] + [0.5])) == (0.5, 5.0)
    assert infer_rating_range(pl.Series([float("nan")])) is None


def test_timestamp_bounds_raise_or_skip_with_the_line() -> None:
    df = pl.DataFrame({"timestamp": [5, -1, 10**13], "_line": [2, 3, 4]})
    with pytest.raises(DataError) as exc:
        check_timestamps(df, 0, 4_102_444_800, path=Path("r.csv"), issues=RowIssues())
    assert (exc.value.line, exc.value.field) == (3, "timestamp")
    issues = RowIssues("skip")
    kept = check_timestamps(df, 0, 4_102_444_800, path=Path("r.csv"), issues=issues)
    assert kept["timestamp"].to_list() == [5] and issues.count == 2
    assert "milliseconds" in issues.reasons[1]


def test_text_caps_cut_count_and_spare_ids() -> None:
    long_id = "x" * 50
    items = pl.DataFrame({"item_id": [long_id, "b"], "title": ["t" * 30, "short"], "year": [1, 2]})
    users = pl.DataFrame({"user_id": ["u"], "bio": ["b" * 30]})
    inter = pl.DataFrame({"user_id": ["u"], "item_id": [long_id], "review": [None]}, schema_overrides={"review": pl.String})
    capped = cap_text_fields(Dataset("d", inter, items, users), TextCaps(title=10, other=20))
    assert capped.items["title"].to_list() == ["t" * 10, "short"]
    assert capped.items["item_id"][0] == long_id and capped.users["bio"][0] == "b" * 20
    assert capped.info["text_caps"]["capped"] == {"items.title": 1, "users.bio": 1}
    assert capped.info["text_caps"]["caps"]["title"] == 10
    untouched = cap_text_fields(Dataset("d", inter, items, users), TextCaps(title=None, other=None))
    assert untouched.items.equals(items) and untouched.info["text_caps"]["capped"] == {}


def test_every_loader_result_is_capped(shared_data: Path) -> None:
    require_data(shared_data, "movielens-100k", "u.item")
    ds = load_dataset("movielens-100k", shared_data, LoadOptions(text_caps=TextCaps(title=8)))
    assert ds.items["title"].str.len_chars().max() == 8
    assert ds.info["text_caps"]["capped"]["items.title"] > 1000
