"""Evidence retrieval: leak-free statistics, similarity features, the most similar history items (real MiniLM)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from datafiles import require_data, shared_data_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.data.loaders import load_dataset
from reasonrec.llm.sentence import SentenceEncoder
from reasonrec.stages.common.evidence import (
    SIMILARITY_FEATURES,
    EvidenceRetriever,
    PriorInteractions,
    default_like_threshold,
    similarity_features,
)


def _interactions(rows: list[tuple[str, str, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["user_id", "item_id", "rating", "timestamp"], orient="row")


def test_same_day_ties_resolve_by_the_window_and_the_target_never_counts() -> None:
    inter = _interactions([
        ("u", "a", 5.0, 1), ("u", "b", 2.0, 2), ("u", "c", 4.0, 2), ("u", "t", 1.0, 2), ("u", "z", 5.0, 3),
        ("v", "t", 5.0, 1), ("v", "t", 3.0, 2), ("w", "t", 4.0, 2),
    ])
    prior = PriorInteractions(inter)
    cut = prior.locate("u", "t", ["b", "c"], 2)
    assert cut.position == 3
    stats = prior.user_stats("u", cut)
    assert (stats.n, stats.mean_rating, stats.like_share) == (3, pytest.approx(11 / 3), pytest.approx(2 / 3))
    assert prior.user_ratings("u", cut) == {"a": 5.0, "b": 2.0, "c": 4.0}
    item = prior.item_stats("t", cut)  # strictly before t=2: only v's first rating
    assert (item.n, item.mean_rating) == (1, 5.0)


def test_unmatched_window_falls_back_to_strictly_earlier_timestamps() -> None:
    prior = PriorInteractions(_interactions([("u", "a", 5.0, 1), ("u", "b", 2.0, 2), ("u", "t", 4.0, 2)]))
    cut = prior.locate("u", "t", ["not-rated"], 2)
    assert prior.user_stats("u", cut).n == 1
    assert prior.user_stats("nobody", prior.locate("nobody", "t", [], 5)).cold


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(1, 5), st.integers(0, 4)), min_size=2, max_size=12),
       st.data())
def test_user_statistics_never_see_the_target_or_later(seq: list[tuple[str, int, int]], data: st.DataObject) -> None:
    seq = sorted(seq, key=lambda r: r[2])  # chronological, ties keep list order (the one ordering rule)
    inter = _interactions([("u", item, float(r), t) for item, r, t in seq])
    pos = data.draw(st.integers(1, len(seq) - 1))
    window = [item for item, _, _ in seq[max(0, pos - 3) : pos]]
    prior = PriorInteractions(inter)
    cut = prior.locate("u", seq[pos][0], window, seq[pos][2])
    assert cut.position is not None and cut.position <= pos
    stats = prior.user_stats("u", cut)
    assert stats.n == cut.position
    expected = [float(r) for _, r, _ in seq[: cut.position]]
    assert stats.mean_rating == (pytest.approx(np.mean(expected)) if expected else None)


def test_similarity_features_by_hand() -> None:
    f = similarity_features(np.array([0.9, 0.2, 0.5, 0.4]), [True, False, True, False], False, 0.95)
    assert (f.liked_max, f.disliked_max) == (0.9, 0.4)
    assert f.liked_mean == pytest.approx(0.7) and f.disliked_mean == pytest.approx(0.3)
    assert f.max_diff == pytest.approx(0.5) and f.mean_diff == pytest.approx(0.4)
    assert not f.near_duplicate and f.n_liked == f.n_disliked == 2
    empty = similarity_features(np.array([0.97]), [True], True, 0.95)
    assert empty.disliked_max == 0.0 and empty.n_disliked == 0 and empty.near_duplicate and empty.target_in_history


def test_default_like_threshold_reads_the_rating_scale() -> None:
    assert default_like_threshold(_interactions([("u", "a", 0.0, 1), ("u", "b", 1.0, 2)])) == 0.5
    assert default_like_threshold(_interactions([("u", "a", 4.0, 1)])) == 3.0


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


def test_retriever_ranks_the_similar_history_item_first(encoder: SentenceEncoder) -> None:
    items = pl.DataFrame({
        "item_id": ["t", "h1", "h2", "h3"],
        "title": ["Lavender Shower Gel", "Stainless Steel Tweezers", "Lavender Bath and Shower Gel", "Nail Polish"],
        "description": [None, None, "calming lavender scent", None],
    })
    inter = _interactions([("u", "h1", 2.0, 1), ("u", "h2", 5.0, 2), ("u", "h3", 4.0, 3), ("u", "t", 5.0, 4)])
    retriever = EvidenceRetriever.from_tables(items, encoder, interactions=inter)
    row = {"user_id": "u", "item_id": "t", "timestamp": 4, "history_item_ids": ["h1", "h2", "h3"],
           "history_ratings": [2.0, 5.0, 4.0], "history_labels": [0, 1, 1]}
    ev = retriever.retrieve([row])[0]
    assert ev.most_similar(2)[0].item_id == "h2"
    assert ev.features.liked_max > ev.features.disliked_max and ev.features.max_diff > 0.2
    assert ev.user.n == 3 and ev.window_stats().like_share == pytest.approx(2 / 3)
    assert ev.prior_ratings == {"h1": 2.0, "h2": 5.0, "h3": 4.0}
    table = retriever.similarity_table(pl.DataFrame([row]))
    assert table.height == 1 and table["sim_max_diff"][0] == pytest.approx(ev.features.max_diff)


def test_similarity_table_keeps_row_order_and_ignores_the_target_label(encoder: SentenceEncoder) -> None:
    items = pl.DataFrame({"item_id": ["t", "h1", "h2"],
                          "title": ["Lavender Shower Gel", "Stainless Steel Tweezers", "Lavender Bath Gel"]})
    retriever = EvidenceRetriever.from_tables(items, encoder)
    rows = pl.DataFrame({"user_id": ["u", "v", "w"], "item_id": ["t", "t", "t"], "label": [1, 0, 1],
                         "history_item_ids": [["h1", "h2"], ["h1", "h2"], ["t"]],
                         "history_labels": [[0, 1], [1, 0], [1]]})
    table = retriever.similarity_table(rows)
    assert table.columns == list(SIMILARITY_FEATURES) and table.height == 3
    assert table["sim_max_diff"][0] > 0.2 and table["sim_max_diff"][1] < -0.2  # v disliked the similar item
    assert table["sim_target_in_history"].to_list() == [False, False, True]
    flipped = retriever.similarity_table(rows.with_columns(pl.Series("label", [0, 1, 0])))
    assert flipped.equals(table)
    empty = retriever.similarity_table(rows.head(0))
    assert empty.columns == list(SIMILARITY_FEATURES) and empty.height == 0


def test_beauty_release_statistics_are_leak_free() -> None:
    root = shared_data_dir()
    require_data(root, "reasoningrec-beauty", "processed", "ratings.csv")
    ds = load_dataset("reasoningrec-beauty", root)
    prior = PriorInteractions(ds.interactions)
    targets = ds.splits["release_windows_test"].filter(pl.col("timestamp").is_not_null())
    matched = 0
    for row in targets.iter_rows(named=True):
        window = [str(i) for i in row["history_item_ids"]]
        cut = prior.locate(row["user_id"], row["item_id"], window, row["timestamp"])
        ratings = prior.user_ratings(row["user_id"], cut)
        if set(window) <= set(ratings):
            matched += 1
            assert prior.user_stats(row["user_id"], cut).n >= len(set(window))
        assert cut.timestamp is None or prior.item_stats(row["item_id"], cut).n == sum(
            1 for t in prior._items.get(row["item_id"], ([], None, None))[0] if t < cut.timestamp)
    assert matched >= 0.9 * targets.height  # the window is found in the user's sequence for nearly every row
