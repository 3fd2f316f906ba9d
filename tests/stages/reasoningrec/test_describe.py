from __future__ import annotations

from collections import Counter

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stage_fixtures import teacher_echo_llm

from reasonrec.stages.reasoningrec.describe import (
    DescribeConfig,
    Review,
    apportion,
    describe_items,
    sample_reviews,
    trim_words,
)

reviews_strategy = st.lists(
    st.tuples(st.integers(1, 5), st.integers(0, 60)), min_size=0, max_size=60
).map(lambda pairs: [Review(f"u{i}", float(r), " ".join(f"w{j}" for j in range(n)) or "ok", i)
                     for i, (r, n) in enumerate(pairs)])


@settings(max_examples=150, deadline=None)
@given(reviews=reviews_strategy, p=st.integers(1, 12), seed=st.integers(0, 10))
def test_sampler_counts_proportions_and_determinism(reviews: list[Review], p: int, seed: int) -> None:
    chosen = sample_reviews(reviews, p, seed, "item", review_words=50)
    if len(reviews) <= p:
        assert len(chosen) == len(reviews)
    else:
        assert len(chosen) == p
        have = Counter(round(r.rating) for r in reviews)
        got = Counter(round(r.rating) for r in chosen)
        for rating, n in have.items():
            assert abs(got[rating] - p * n / len(reviews)) < 1
    assert {r.reviewer for r in chosen} <= {r.reviewer for r in reviews}
    assert len({r.reviewer for r in chosen}) == len(chosen)
    assert all(len(r.text.split()) <= 50 for r in chosen)
    assert chosen == sample_reviews(list(reversed(reviews)), p, seed, "item", review_words=50)


def test_apportion_largest_remainder() -> None:
    # shares 5:3:2 of 7 slots → quotas 3.5, 2.1, 1.4 → floors 3,2,1 + one leftover to the largest remainder (5★)
    assert apportion({5: 5, 4: 3, 1: 2}, 7) == {5: 4, 4: 2, 1: 1}
    assert sum(apportion({5: 13, 4: 1, 3: 1, 2: 1, 1: 1}, 10).values()) == 10


def test_trim_words_keeps_first_fifty() -> None:
    text = " ".join(f"word{i}" for i in range(80))
    assert trim_words(text, 50).split() == [f"word{i}" for i in range(50)]
    assert trim_words("  a   b  ", 50) == "a b"


def test_seed_changes_sample() -> None:
    reviews = [Review(f"u{i}", 5.0, f"text {i}", i) for i in range(40)]
    samples = {tuple(r.reviewer for r in sample_reviews(reviews, 10, s, "x")) for s in range(5)}
    assert len(samples) > 1


def test_describe_items_flags_fallback_and_bookkeeping() -> None:
    items = pl.DataFrame({"item_id": ["a", "b"], "title": ["Lipstick", "Old Movie"], "year": [None, 1994]})
    inter = pl.DataFrame({
        "user_id": [f"u{i}" for i in range(12)],
        "item_id": ["a"] * 12,
        "rating": [5.0] * 8 + [2.0] * 4,
        "timestamp": list(range(12)),
        "review": [" ".join(["great"] * 70)] * 12,
    })
    llm = teacher_echo_llm()
    out = describe_items(items, inter, llm, DescribeConfig(show_progress=False))
    a, b = out.row(0, named=True), out.row(1, named=True)
    assert (a["item_id"], a["fallback"], a["n_reviews_used"], a["n_reviews_available"]) == ("a", False, 10, 12)
    assert sorted(a["review_ratings"]).count(2.0) in (3, 4)
    assert (b["item_id"], b["fallback"], b["n_reviews_used"]) == ("b", True, 0)
    prompts = [r.messages[-1].content for r in llm.generate_requests]
    metadata_prompt = next(p for p in prompts if "Old Movie" in p)
    review_prompt = next(p for p in prompts if "Lipstick" in p)
    assert "1994" in metadata_prompt and "Reviews:" not in metadata_prompt
    assert "great " * 50 not in review_prompt + " " and "25 words" in review_prompt
