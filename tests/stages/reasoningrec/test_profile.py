from __future__ import annotations

import polars as pl
from stage_fixtures import load_beauty, teacher_echo_llm

from reasonrec.stages.reasoningrec.profile import ProfileConfig, profile_users, select_profile_items


def _timeline() -> tuple[pl.DataFrame, pl.DataFrame]:
    # u1: a(1) b(2) c(3) d(4) e(5) | window f g, target h | later i ; b repeats inside the window
    items = ["a", "b", "c", "d", "e", "f", "b", "g", "h", "i"]
    inter = pl.DataFrame({
        "user_id": ["u1"] * len(items) + ["u2", "u2"],
        "item_id": items + ["x", "y"],
        "rating": [5.0, 2.0, 4.0, 1.0, 5.0, 5.0, 5.0, 3.0, 4.0, 5.0, 5.0, 4.0],
        "timestamp": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2],
    })
    targets = pl.DataFrame({
        "user_id": ["u1", "u1", "u2"],
        "item_id": ["g", "h", "y"],
        "timestamp": [8, 9, 2],
        "label": [0, 1, 1],
        "history_item_ids": [["e", "f", "b"], ["f", "b", "g"], ["x"]],
    })
    return inter, targets


def test_selection_exact_items_excludes_window_and_target() -> None:
    inter, targets = _timeline()
    sel = {s.user_id: s for s in select_profile_items(inter, targets, m=15)}
    # latest target of u1 is h; window {f, b, g, h}: b (repeat) excluded, i is after the target
    assert sel["u1"].item_ids == ["a", "c", "d", "e"]
    assert sel["u1"].ratings == [5.0, 4.0, 1.0, 5.0]
    assert sel["u2"].item_ids == []
    assert select_profile_items(inter, targets, m=2)[0].item_ids == ["a", "c"]


def test_profile_users_null_without_earlier_items() -> None:
    inter, targets = _timeline()
    items = pl.DataFrame({"item_id": list("abcdefghixy"), "title": [f"Title-{c}" for c in "abcdefghixy"]})
    desc = pl.DataFrame({"item_id": ["a"], "text": ["  A lovely   lipstick. "]})
    llm = teacher_echo_llm()
    out = profile_users(inter, targets, items, desc, llm, ProfileConfig(show_progress=False))
    rows = {r["user_id"]: r for r in out.iter_rows(named=True)}
    assert rows["u2"]["text"] is None and rows["u2"]["profile_item_ids"] == []
    assert rows["u1"]["text"] is not None and rows["u1"]["profile_liked"] == [True, True, False, True]
    assert len(llm.generate_requests) == 1
    prompt = llm.generate_requests[0].messages[-1].content
    assert "Liked: Title-a — A lovely lipstick." in prompt and "Disliked: Title-d" in prompt
    assert all(f"Title-{c}" not in prompt for c in "fghi")


def test_beauty_release_profile_coverage(shared_data) -> None:
    """Against the test windows, users with profile items ≈ the release's 160 profiled users (it kept repeats)."""
    ds = load_beauty(shared_data)
    sel = select_profile_items(ds.interactions, ds.splits["release_windows_test"], m=15)
    with_items = {s.user_id for s in sel if s.item_ids}
    released = set(ds.artefacts["user_profiles"]["user_id"].to_list())
    assert len(sel) == 624
    assert len(with_items & released) >= 0.8 * len(released)
    assert len(with_items) <= 200
    window = {r["user_id"]: set(r["history_item_ids"]) | {r["item_id"]}
              for r in ds.splits["release_windows_test"].iter_rows(named=True)}
    assert all(not (set(s.item_ids) & window[s.user_id]) and len(s.item_ids) <= 15 for s in sel)
