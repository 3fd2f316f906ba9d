"""The mechanics checks of bench/stages_slice.py accept correct stage bookkeeping and reject broken bookkeeping.

No LLM is involved: the inputs are the stages' own pure pieces (review sampling, filters, the reference pool) on
small tables, so a check that silently passes everything would fail here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.stages.reasoningrec.describe import Review, sample_reviews
from reasonrec.stages.recsaver.verify import reference_pool

_SPEC = importlib.util.spec_from_file_location(
    "stages_slice", Path(__file__).resolve().parents[3] / "bench" / "stages_slice.py"
)
assert _SPEC is not None and _SPEC.loader is not None
slice_bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(slice_bench)


def _described(item: str, reviews: list[Review], p: int) -> pl.DataFrame:
    chosen = sample_reviews(reviews, p, seed=0, item_id=item)
    return pl.DataFrame({
        "item_id": [item], "n_reviews_available": [len(reviews)], "n_reviews_used": [len(chosen)],
        "review_ratings": [[r.rating for r in chosen]], "fallback": [False],
    })


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=40), st.integers(1, 12))
def test_stratified_check_accepts_algorithm_1_samples(ratings: list[int], p: int) -> None:
    reviews = [Review(f"u{n}", float(r), f"text {n}", n) for n, r in enumerate(ratings)]
    out = slice_bench.check_stratified(_described("i", reviews, p), {"i": reviews}, p)
    assert out["items_stratified"] == int(len(ratings) > p)


def test_stratified_check_rejects_a_skewed_sample() -> None:
    reviews = [Review(f"u{n}", 5.0 if n < 8 else 1.0, "t", n) for n in range(12)]
    desc = _described("i", reviews, 4).with_columns(pl.lit([5.0, 5.0, 5.0, 5.0]).alias("review_ratings"))
    with pytest.raises(AssertionError, match="apportionment"):
        slice_bench.check_stratified(desc, {"i": reviews}, 4)


def _paths(pred: list[float | None], truth: list[float]) -> pl.DataFrame:
    return pl.DataFrame({
        "user_id": ["u"] * len(pred), "item_id": [f"i{n // 2}" for n in range(len(pred))],
        "split": ["train"] * len(pred), "sample_index": [n % 2 for n in range(len(pred))],
        "rating": truth, "pred_rating": pred, "parse_ok": [p is not None for p in pred],
        "text": [f"t{n}" for n in range(len(pred))],
    }, schema_overrides={"pred_rating": pl.Float64()})


def test_filter_and_path_checks_on_real_filters() -> None:
    paths = _paths([5.0, 4.0, 2.0, None], [5.0, 5.0, 4.0, 4.0])
    counts = slice_bench.check_filters(paths)
    assert counts == {"unparseable": 1, "kept_none": 4, "kept_5class": 1, "kept_binary": 2, "kept_1off": 2}
    assert slice_bench.check_paths(paths, slice_bench.KEY3, 2)["pairs"] == 2
    with pytest.raises(AssertionError):
        slice_bench.check_paths(paths.filter(pl.col("sample_index") == 0), slice_bench.KEY3, 2)


def test_pool_check_matches_verified_counts_and_rejects_a_tampered_pool() -> None:
    ver = pl.DataFrame({
        "user_id": ["u", "u", "v", "v"], "item_id": ["a", "a", "b", "b"], "split": ["train"] * 4,
        "sample_index": [0, 1, 0, 1], "rating": [5.0, 5.0, 2.0, 2.0],
        "clean_text": ["x", "y", None, "z"], "verified": [True, False, False, False],
        "status": ["verified", "mismatch", "empty_after_scrub", "mismatch"], "re_rating": [5.0, 4.0, None, 3.0],
        "scrubbed": [False, False, True, False],
    })
    pool = reference_pool(ver)
    out = slice_bench.check_pool(ver, pool, 2)
    assert out["verified"] == 1 and out["pairs_with_references"] == 1
    with pytest.raises(AssertionError):
        slice_bench.check_pool(ver, pool.with_columns(pl.lit(2, pl.Int64).alias("n_verified")), 2)


def test_profile_check_rejects_a_window_item() -> None:
    test = pl.DataFrame({"user_id": ["u"], "item_id": ["t"], "history_item_ids": [["h1", "h2"]], "timestamp": [9]})
    inter = pl.DataFrame({"user_id": ["u"] * 4, "item_id": ["p1", "h1", "h2", "t"], "timestamp": [1, 5, 6, 9]})
    good = pl.DataFrame({"user_id": ["u"], "text": ["likes p1"], "profile_item_ids": [["p1"]]})
    assert slice_bench.check_profiles(good, test, inter, 15)["profile_items"] == 1
    bad = good.with_columns(pl.lit(["p1", "h1"]).alias("profile_item_ids"))
    with pytest.raises(AssertionError, match="recent window"):
        slice_bench.check_profiles(bad, test, inter, 15)
