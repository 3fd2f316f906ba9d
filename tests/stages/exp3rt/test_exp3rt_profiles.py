"""Profile construction: train-only aggregation, the three item strategies and their keys (fake LLM, control
flow only), plus the released-IMDB context assembly on the real files."""

from __future__ import annotations

import polars as pl
import pytest
from exp3rt_fixtures import exp3rt_llm

from reasonrec.stages.exp3rt.extract import render_preferences
from reasonrec.stages.exp3rt.profiles import (
    Exp3rtProfileConfig,
    ProfileLookup,
    imdb_release_context,
    item_profiles,
    pair_context,
    split_average,
    user_profiles,
)


def tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train interactions (A,B,C,D on items 1-4 as in test_neighbours) and one preference row per review,
    plus a TEST review by A on item 5 that must never reach a profile."""
    ratings = {"A": {"1": 5, "2": 3, "3": 4, "4": 2}, "B": {"1": 4, "2": 2, "4": 3}, "C": {"1": 2, "3": 2},
               "D": {"2": 5, "4": 1}}
    helpful = {("A", "1"): 9, ("B", "1"): 1, ("C", "1"): 5}
    rows = [(u, i, float(r), 10 * n + int(i), helpful.get((u, i), 0))
            for n, (u, items) in enumerate(ratings.items()) for i, r in items.items()]
    train = pl.DataFrame(rows, schema={"user_id": pl.String, "item_id": pl.String, "rating": pl.Float64,
                                       "timestamp": pl.Int64, "helpful_votes": pl.Int64}, orient="row")
    prefs = [(u, i, t, [f"like-{u}{i}"], [], True) for u, i, _, t, _ in rows]
    prefs.append(("A", "5", 999, ["LEAKED-test-review"], [], True))
    prefs.append(("B", "2", 5, ["unparsed"], [], False))  # duplicate of a train pair but parse failed
    preferences = pl.DataFrame(prefs, schema={"user_id": pl.String, "item_id": pl.String, "timestamp": pl.Int64,
                                              "likes": pl.List(pl.String), "dislikes": pl.List(pl.String),
                                              "parse_ok": pl.Boolean}, orient="row")
    return train, preferences


def echo_notes(request) -> str:
    """Fake 'profile': echo which notes the prompt contained, as a valid preference list."""
    content = request.messages[-1].content
    found = sorted({w for w in content.split() if w.startswith(("like-", "LEAKED"))})
    return render_preferences(found, [])


def test_user_profile_aggregates_all_train_preferences_only() -> None:
    train, prefs = tables()
    fake = exp3rt_llm(gen=echo_notes)
    out = user_profiles(prefs, train, fake, Exp3rtProfileConfig(show_progress=False), users=["A", "B", "Z"])
    by_user = {r["user_id"]: r for r in out.iter_rows(named=True)}
    assert by_user["A"]["likes"] == ["like-A1", "like-A2", "like-A3", "like-A4"]
    assert "LEAKED" not in " ".join(r.messages[-1].content for r in fake.generate_requests)
    assert by_user["B"]["n_preferences"] == 3  # the unparsed duplicate is not aggregated
    # a user without training preferences: empty profile, no LLM call
    assert by_user["Z"]["n_preferences"] == 0 and by_user["Z"]["text"] == "[Like]\nNone.\n[Dislike]\nNone."
    assert by_user["Z"]["parse_ok"] and len(fake.generate_requests) == 2


def test_prompt_budget_drops_oldest_notes_first() -> None:
    train, prefs = tables()
    fake = exp3rt_llm(gen=echo_notes)
    cfg = Exp3rtProfileConfig(show_progress=False, max_prompt_tokens=130)
    out = user_profiles(prefs, train, fake, cfg, users=["A"])
    row = out.row(0, named=True)
    assert row["n_dropped"] > 0
    assert row["likes"] == [f"like-A{i}" for i in range(1 + row["n_dropped"], 5)]  # newest kept


def test_item_strategies_all_and_helpful_key_by_item() -> None:
    train, prefs = tables()
    fake = exp3rt_llm(gen=echo_notes)
    all_ = item_profiles(prefs, train, fake, Exp3rtProfileConfig(show_progress=False), item_ids=["1", "5"])
    assert all_.columns[0] == "item_id" and "user_id" not in all_.columns
    rows = {r["item_id"]: r for r in all_.iter_rows(named=True)}
    assert rows["1"]["likes"] == ["like-A1", "like-B1", "like-C1"]
    assert rows["5"]["n_preferences"] == 0  # item 5 only has a TEST review
    helpful = item_profiles(prefs, train, fake, Exp3rtProfileConfig(show_progress=False, item_strategy="helpful",
                                                              helpful_top_n=2), item_ids=["1"])
    row = helpful.row(0, named=True)
    assert row["likes"] == ["like-A1", "like-C1"]  # 9 and 5 votes beat 1
    assert row["source_ids"] == ["A", "C"]  # most helpful first


def test_neighbour_strategy_is_per_pair() -> None:
    train, prefs = tables()
    fake = exp3rt_llm(gen=echo_notes)
    pairs = pl.DataFrame({"user_id": ["D", "C", "A"], "item_id": ["1", "2", "9"]})
    cfg = Exp3rtProfileConfig(show_progress=False, item_strategy="neighbour", n_neighbours=2)
    out = item_profiles(prefs, train, fake, cfg, pairs=pairs)
    assert out.columns[:2] == ["user_id", "item_id"] and out.height == 3
    rows = {(r["user_id"], r["item_id"]): r for r in out.iter_rows(named=True)}
    assert rows[("D", "1")]["source_ids"] == ["A", "B"]  # sim 0.447 > -0.707
    assert rows[("C", "2")]["source_ids"] == ["A", "B"]  # undefined similarity: filled by co-rated count
    assert rows[("A", "9")]["n_preferences"] == 0
    lookup = ProfileLookup.from_table(out)
    assert lookup.get("D", "1") == rows[("D", "1")]["text"] and lookup.get("A", "1") is None
    with pytest.raises(Exception, match="pairs"):
        item_profiles(prefs, train, fake, cfg)


def test_pair_context_uses_train_averages() -> None:
    train, prefs = tables()
    fake = exp3rt_llm(gen=echo_notes)
    users = user_profiles(prefs, train, fake, Exp3rtProfileConfig(show_progress=False), users=["A"])
    items_p = item_profiles(prefs, train, fake, Exp3rtProfileConfig(show_progress=False), item_ids=["1"])
    items = pl.DataFrame({"item_id": ["1"], "title": ["Rose Soap"], "description": [None]},
                         schema={"item_id": pl.String, "title": pl.String, "description": pl.String})
    ctx = pair_context(pl.DataFrame({"user_id": ["A", "Q"], "item_id": ["1", "1"], "rating": [4.0, 2.0]}),
                       users, items_p, items, train)
    a, q = ctx.row(0, named=True), ctx.row(1, named=True)
    assert a["user_avg"] == pytest.approx(3.5) and a["item_avg"] == pytest.approx((5 + 4 + 2) / 3)
    assert a["item_description"] == "Title: Rose Soap" and a["user_profile"].startswith("[Like]")
    assert q["user_avg"] is None and q["user_profile"] is None


def test_split_average() -> None:
    assert split_average("[Like]\n- x\n\n[Average Rating]\n7.3") == ("[Like]\n- x", 7.3)
    assert split_average("[Like]\n- x") == ("[Like]\n- x", None)


def test_imdb_release_context_on_real_files(shared_data) -> None:
    from datafiles import require_data

    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "exp3rt-imdb", "rating_bias", "test_helpful.json")
    ds = load_dataset("exp3rt-imdb", data_root=shared_data)
    ctx = imdb_release_context(ds, "helpful")
    assert ctx.height == 2073
    assert ctx["user_avg"].null_count() == 0 and ctx["item_avg"].null_count() == 0
    assert ctx["user_avg"].min() >= 1 and ctx["user_avg"].max() <= 10
    assert not ctx["user_profile"].str.contains("Average Rating").any()
    assert ctx["item_description"].str.starts_with("Title:").all()
