"""§4.3 filters: exact counts on a hand-built table and nesting/count properties (hypothesis)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reasonrec.errors import ConfigError
from reasonrec.stages.recsaver.filters import (
    FILTERS,
    annotate_filters,
    apply_filter,
    filter_counts,
    keep_mask,
    training_paths,
)


def _samples(pairs: list[tuple[float, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"user_id": [f"u{i // 2}" for i in range(len(pairs))], "item_id": ["i"] * len(pairs),
         "sample_index": [i % 2 for i in range(len(pairs))],
         "rating": [t for t, _ in pairs], "pred_rating": [p for _, p in pairs],
         "parse_ok": [p is not None for _, p in pairs]},
        schema_overrides={"pred_rating": pl.Float64()},
    )


def test_exact_counts() -> None:
    # (truth, teacher prediction)
    s = _samples([(5, 5), (5, 4), (4, 2), (2, 3), (3, 4), (1, None), (3, 3), (2, 1)])
    keep = {name: keep_mask(s, name).to_list() for name in FILTERS}
    assert keep["none"] == [True] * 8
    assert keep["5class"] == [True, False, False, False, False, False, True, False]
    assert keep["binary"] == [True, True, False, True, False, False, True, True]
    assert keep["1off"] == [True, True, False, True, True, False, True, True]
    counts = filter_counts(s)
    assert counts["unparseable"] == 1
    assert {k: v["kept"] for k, v in counts["filters"].items()} == {"none": 8, "5class": 2, "binary": 5, "1off": 6}
    assert all(v["kept"] + v["dropped"] == 8 for v in counts["filters"].values())
    annotated = annotate_filters(s)
    assert annotated["keep_1off"].to_list() == keep["1off"]


def test_unknown_filter_and_missing_column_are_config_errors() -> None:
    s = _samples([(5, 5)])
    with pytest.raises(ConfigError):
        keep_mask(s, "3class")
    with pytest.raises(ConfigError):
        keep_mask(s.drop("pred_rating"), "binary")


ratings = st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0])


@given(st.lists(st.tuples(ratings, st.one_of(st.none(), ratings)), min_size=0, max_size=40))
def test_filters_are_nested_and_counts_add_up(pairs) -> None:
    s = _samples(pairs).with_row_index("rid")
    kept = {name: set(apply_filter(s, name)["rid"].to_list()) for name in FILTERS}
    assert kept["5class"] <= kept["1off"] <= kept["none"]
    assert kept["5class"] <= kept["binary"] <= kept["none"]
    unparseable = {i for i, (_, p) in enumerate(pairs) if p is None}
    for name in ("5class", "binary", "1off"):
        assert not (kept[name] & unparseable)
    assert kept["none"] == set(range(len(pairs)))
    counts = filter_counts(s)
    assert counts["unparseable"] == len(unparseable)
    for name, c in counts["filters"].items():
        assert c["kept"] == len(kept[name]) and c["kept"] + c["dropped"] == len(pairs)


def _paths() -> pl.DataFrame:
    """Two pairs × 3 sampled paths; the teacher got pair A right on paths 0 and 2, pair B never."""
    prompt = json.dumps([{"role": "user", "content": "Rate the new item."}])
    table = pl.DataFrame({
        "user_id": ["a", "a", "a", "b", "b", "b"], "item_id": ["1", "1", "1", "2", "2", "2"],
        "split": ["train"] * 6, "sample_index": [0, 1, 2, 0, 1, 2],
        "rating": [5.0, 5.0, 5.0, 2.0, 2.0, 2.0], "pred_rating": [5.0, 3.0, 5.0, 5.0, 4.0, None],
        "parse_ok": [True, True, True, True, True, False],
        "reasoning": ["Loves this brand.", "Unsure.", "", "Likes serums.", "Maybe.", "Hmm"],
        "text": ["x"] * 6, "prompt": [prompt] * 6, "error": [None] * 6,
    })
    return annotate_filters(table)




@pytest.mark.parametrize(("spec", "expected_examples", "expected_pairs"), [
    ("1:none", 2, 2),      # first path of each pair
    ("M:none", 5, 2),      # every path with reasoning (a's third path is empty)
    ("M:5class", 1, 1),    # a/0 only (a/2 is correct but has no reasoning)
    ("M:binary", 1, 1),    # a/0 (b: 5 and 4 are both on the other side of 3)
    ("M:1off", 1, 1),      # a/0; b/1 is 2 away
])
def test_training_paths_feed_build_rating_sft_per_spec(spec, expected_examples, expected_pairs):
    from reasonrec.train.sft_data import SFTDataConfig, build_rating_sft, load_tokenizer

    table, empty = training_paths(_paths(), spec.partition(":")[2])
    per_pair = 3 if spec.startswith("M") else 1
    sft = build_rating_sft(table, load_tokenizer("embedded"),
                           SFTDataConfig(method="recsaver", k="all", paths_per_pair=per_pair, max_seq_length=512))
    assert len(sft) == expected_examples
    assert sft.table.select("user_id", "item_id").unique().height == expected_pairs
    assert all(c.endswith(f"### Rating ###\n{int(r)}") for c, r in zip(sft.table["completion"], sft.table["rating"],
                                                                       strict=True))  # TRUE rating as target
    assert empty == 1  # a/2: kept by every filter (5 vs 5) but it has no reasoning to learn from
