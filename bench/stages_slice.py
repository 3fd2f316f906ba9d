"""Every LLM stage of the three methods on a real Beauty slice, with the mechanics checked by assertions.

    REASONREC_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 \
        .venv/bin/python bench/stages_slice.py --out runs/stages_slice            # first run: computes
    ... same command again --expect-cached                                       # resume: 100 % cache hits

Stages (one directory per stage under --out, each with <stage>.parquet + config.yaml + manifest.json):
  ReasoningRec  describe → profile → teacher reasoning (M paths, T) → zero-shot vanilla / full
  EXP3RT        extract → user profiles + item profiles (all / helpful / neighbour) → teacher (M paths) → predict
  Rec-SAVER     explain (N paths) → scrub → verify → pool; teacher paths (M) → filters; zero-shot (no reasoning)

The embedded SmolLM2-135M writes poor text; what this script checks is the MECHANICS: stratified review samples
(largest-remainder apportionment), profile items never inside the recent window, M rows per pair with distinct
sample_index, filter nesting, pool sizes equal to verified counts, EXP3RT profiles built from training reviews
only. The LLM cache lives in the run directory (`<out>/llm_cache.sqlite`) so the first run computes everything and
a second run is all hits; each stage compares its fresh table with the one already on disk (all columns except
`cached`, which flips False → True by design) and reports `identical_to_previous`.

Slice-size caps (stated in summary.json): EXP3RT extracts only the `--user-reviews` newest training reviews of each
slice user, the `--item-reviews` most helpful (then newest) training reviews of each target item and the reviews of
the item's `--neighbours` ranked neighbours — not every review of a 300-review item; ReasoningRec prompts use our generated descriptions for the described items
and the release's (Mixtral) descriptions for the rest (counts reported).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.config import Config
from reasonrec.data.loaders import load_dataset
from reasonrec.io import write_json
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.runner import RunSummary
from reasonrec.stages.common.base import write_stage_output
from reasonrec.stages.exp3rt.extract import ExtractConfig, extract_preferences
from reasonrec.stages.exp3rt.neighbours import rank_neighbours
from reasonrec.stages.exp3rt.predict import Exp3rtPredictConfig, exp3rt_predict_ratings
from reasonrec.stages.exp3rt.profiles import (
    Exp3rtProfileConfig,
    item_profiles,
    pair_context,
    train_preferences,
    user_profiles,
)
from reasonrec.stages.exp3rt.reason import RatingScale, TeacherConfig, post_check_counts
from reasonrec.stages.exp3rt.reason import exp3rt_teacher_reasoning as exp3rt_teacher
from reasonrec.stages.reasoningrec.describe import DescribeConfig, apportion, describe_items, reviews_by_item
from reasonrec.stages.reasoningrec.profile import ProfileConfig, profile_users
from reasonrec.stages.reasoningrec.reason import ReasonConfig, teacher_reasoning
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict
from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations
from reasonrec.stages.recsaver.filters import FILTERS, annotate_filters, filter_counts
from reasonrec.stages.recsaver.teacher import TeacherPathsConfig, recsaver_teacher_paths
from reasonrec.stages.recsaver.verify import VerifyConfig, self_verify
from reasonrec.stages.recsaver.zeroshot import RecSaverZeroShotConfig, recsaver_zeroshot

DATASET = "reasoningrec-beauty"
BEAUTY_SCALE = RatingScale(rating_min=1, rating_max=5)
KEY3 = ("user_id", "item_id", "split")


# ------------------------------------------------------------------------------------------------ slice selection


def select_users(test: pl.DataFrame, interactions: pl.DataFrame, n: int, seed: int) -> list[str]:
    """n test users balanced on the test label (half disliked, half liked), among users with a profile window.

    Eligible: more interactions than the test window (k history + target), so the profile stage has material.
    """
    counts = dict(interactions.group_by("user_id").len().iter_rows())
    eligible = test.filter(
        pl.col("user_id").map_elements(lambda u: counts.get(u, 0), return_dtype=pl.Int64)
        > pl.col("history_item_ids").list.len() + 1
    )
    rng = random.Random(seed)
    picked: list[str] = []
    n_neg = n // 2
    for label, size in ((0, n_neg), (1, n - n_neg)):
        pool = sorted(eligible.filter(pl.col("label") == label)["user_id"].to_list(), key=int)
        picked.extend(rng.sample(pool, min(size, len(pool))))
    return sorted(picked, key=int)


def select_items(
    reviews: dict[str, list], slice_items: list[str], n: int, p: int, seed: int
) -> list[str]:
    """n items with reviews: the slice's own items first; at least n//3 with more than p reviews (so Alg. 1's
    stratified draw is exercised), topped up from a seeded shuffle of the other reviewed items."""
    others = sorted((i for i in reviews if i not in set(slice_items)), key=int)
    random.Random(seed).shuffle(others)
    ordered = [i for i in slice_items if i in reviews] + others
    big = [i for i in ordered if len(reviews[i]) > p][: max(1, n // 3)]
    rest = [i for i in ordered if i not in big][: n - len(big)]
    return big + rest


# ------------------------------------------------------------------------------------------------ stage runner


class SliceRun:
    """Runs stages, writes their artefacts, compares with the previous run's tables, collects the summary."""

    def __init__(self, out: Path, llm: LLM) -> None:
        self.out = out
        self.llm = llm
        self.report: dict[str, dict[str, Any]] = {}

    def stage(
        self, name: str, config: Config, fn: Callable[[list[RunSummary]], pl.DataFrame], *,
        parse_rate: Callable[[pl.DataFrame], float | None] | None = None,
    ) -> pl.DataFrame:
        summaries: list[RunSummary] = []
        started = time.time()
        table = fn(summaries)
        wall = time.time() - started
        path = self.out / name / f"{name}.parquet"
        previous = pl.read_parquet(path) if path.is_file() else None
        write_stage_output(self.out / name, name, table, config, llm=self.llm, summaries=summaries,
                           started_at=started, command=f"bench/stages_slice.py stage {name}")
        rate = parse_rate(table) if parse_rate else (
            float(table["parse_ok"].mean()) if "parse_ok" in table.columns and table.height else None)
        calls = sum(s.prompts for s in summaries)
        self.report[name] = {
            "rows": table.height,
            "calls": calls,
            "cache_hits": sum(s.cache_hits for s in summaries),
            "failures": sum(s.failures for s in summaries),
            "parse_rate": None if rate is None else round(rate, 3),
            "completion_tokens": sum(s.completion_tokens for s in summaries),
            "wall_s": round(wall, 1),
            "identical_to_previous": None if previous is None else _same_table(previous, table),
        }
        print(f"[{name}] {self.report[name]}", flush=True)
        return table

    def note(self, name: str, **values: Any) -> None:
        self.report.setdefault(name, {}).update(values)


def _same_table(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Equal schema and values, ignoring `cached` (False on the computing run, True on the resumed one)."""
    a = a.drop("cached", strict=False)
    b = b.drop("cached", strict=False)
    return a.schema == b.schema and a.equals(b)


def _nonempty_rate(table: pl.DataFrame, col: str = "text") -> float | None:
    if table.height == 0:
        return None
    return float((table[col].is_not_null() & (table[col].str.strip_chars().str.len_chars() > 0)).mean())


# ------------------------------------------------------------------------------------------------ mechanics checks


def check_stratified(desc: pl.DataFrame, reviews: dict[str, list], p: int) -> dict[str, int]:
    """Alg. 1: all reviews when ≤ p, else exactly p with per-rating counts = largest-remainder apportionment."""
    n_strat = 0
    for item, available, used, ratings in desc.select(
        "item_id", "n_reviews_available", "n_reviews_used", "review_ratings"
    ).iter_rows():
        pool = reviews.get(item, [])
        assert available == len(pool), (item, available, len(pool))
        assert used == min(p, available), f"item {item}: used {used} reviews of {available} (p={p})"
        if available > p:
            n_strat += 1
            counts = Counter(round(r.rating) for r in pool)
            got = Counter(round(r) for r in ratings)
            want = {k: v for k, v in apportion(dict(counts), p).items() if v}
            assert dict(got) == want, f"item {item}: per-rating sample {dict(got)} != apportionment {want}"
            for r, k in got.items():
                assert abs(k - p * counts[r] / available) < 1, (item, r, k)
    return {"items": desc.height, "items_stratified": n_strat,
            "items_all_reviews": desc.height - n_strat, "fallback": int(desc["fallback"].sum())}


def check_profiles(prof: pl.DataFrame, test: pl.DataFrame, interactions: pl.DataFrame, m: int) -> dict[str, int]:
    """Profile items: ≤ m, none inside the test window (history + target), none after the target, oldest first."""
    windows = {u: (set(h) | {i}, ts) for u, i, h, ts in
               test.select("user_id", "item_id", "history_item_ids", "timestamp").iter_rows()}
    n_items = 0
    for user, text, items in prof.select("user_id", "text", "profile_item_ids").iter_rows():
        window, cutoff = windows[user]
        assert len(items) <= m, (user, len(items))
        assert not set(items) & window, f"user {user}: profile items {set(items) & window} are in the recent window"
        ts = dict(interactions.filter(pl.col("user_id") == user).select("item_id", "timestamp").iter_rows())
        stamps = [ts[i] for i in items]
        assert all(t <= cutoff for t in stamps), f"user {user}: a profile item is after the test target"
        assert stamps == sorted(stamps), f"user {user}: profile items not in chronological order"
        assert (text is None) == (not items), f"user {user}: text present iff profile items exist"
        n_items += len(items)
    return {"users": prof.height, "with_profile": int(prof["text"].is_not_null().sum()), "profile_items": n_items}


def check_paths(table: pl.DataFrame, keys: tuple[str, ...], m: int) -> dict[str, int]:
    """Exactly M rows per pair with sample_index 0..M-1; counts pairs whose M texts all differ."""
    groups = table.group_by(list(keys)).agg(pl.col("sample_index").sort(), pl.col("text").n_unique().alias("nt"))
    for row in groups.iter_rows(named=True):
        assert row["sample_index"] == list(range(m)), f"pair {[row[k] for k in keys]}: {row['sample_index']}"
    return {"pairs": groups.height, "paths_per_pair": m,
            "pairs_with_distinct_texts": int((groups["nt"] == m).sum())}


def check_filters(paths: pl.DataFrame) -> dict[str, Any]:
    """5class ⊆ 1off ⊆ none and 5class ⊆ binary ⊆ none, sample by sample."""
    marked = annotate_filters(paths)
    for small, big in (("5class", "1off"), ("1off", "none"), ("5class", "binary"), ("binary", "none")):
        bad = marked.filter(pl.col(f"keep_{small}") & ~pl.col(f"keep_{big}")).height
        assert bad == 0, f"filter nesting broken: {bad} samples kept by {small} but not by {big}"
    counts = filter_counts(paths, pair_cols=KEY3)
    return {"unparseable": counts["unparseable"], **{f"kept_{k}": v["kept"] for k, v in counts["filters"].items()}}


def check_pool(verification: pl.DataFrame, pool: pl.DataFrame, n: int) -> dict[str, Any]:
    """Pool: one row per explained pair; n_verified = #verified rows = len(references); n_explanations = N."""
    per_pair = verification.group_by(list(KEY3)).agg(
        pl.col("verified").sum().cast(pl.Int64).alias("v"), pl.len().alias("n"))
    joined = pool.join(per_pair, on=list(KEY3), how="full", coalesce=True)
    assert joined.height == pool.height == per_pair.height, "pool and verification disagree on the pairs"
    assert (joined["n_verified"] == joined["v"]).all(), "pool n_verified != verified rows"
    assert (pool["references"].list.len() == pool["n_verified"]).all(), "len(references) != n_verified"
    assert (pool["n_explanations"] == n).all(), f"a pair does not have N={n} explanations"
    status = dict(verification.group_by("status").len().iter_rows())
    assert sum(status.values()) == verification.height
    assert status.get("verified", 0) == int(pool["n_verified"].sum())
    empty = verification.filter(pl.col("status") == "empty_after_scrub")
    assert empty["re_rating"].is_null().all(), "an explanation with nothing left after scrubbing was verified"
    return {"pairs": pool.height, "verified": int(pool["n_verified"].sum()),
            "pairs_with_references": int((pool["n_verified"] > 0).sum()),
            "scrubbed_explanations": int(verification["scrubbed"].sum()), "status": status}


def check_exp3rt_sources(uprof: pl.DataFrame, iprofs: dict[str, pl.DataFrame], train: pl.DataFrame,
                         neighbours: pl.DataFrame) -> dict[str, int]:
    """Profiles only from TRAINING reviews; neighbour profiles only from the ranked neighbours."""
    train_pairs = set(train.select("user_id", "item_id").iter_rows())
    for user, sources in uprof.select("user_id", "source_ids").iter_rows():
        assert all((user, i) in train_pairs for i in sources), f"user {user}: a profile source is not training"
    for strategy, table in iprofs.items():
        for row in table.iter_rows(named=True):
            assert all((u, row["item_id"]) in train_pairs for u in row["source_ids"]), (strategy, row["item_id"])
    ranked = {(u, i): set(g) for u, i, g in
              neighbours.group_by("user_id", "item_id").agg(pl.col("neighbour_id")).iter_rows()}
    for u, i, sources in iprofs["neighbour"].select("user_id", "item_id", "source_ids").iter_rows():
        assert set(sources) <= ranked.get((u, i), set()), f"({u}, {i}): neighbour profile uses a non-neighbour"
    return {f"item_profiles_{k}_empty": int((t["n_preferences"] == 0).sum()) for k, t in iprofs.items()}


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/stages_slice"))
    ap.add_argument("--items", type=int, default=6, help="items to describe")
    ap.add_argument("--users", type=int, default=4, help="users (balanced on the test label)")
    ap.add_argument("--paths", type=int, default=2, help="M reasoning paths / N explanations per pair")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--long-new-tokens", type=int, default=48,
                    help="budget for outputs with a required format (EXP3RT extract, Rec-SAVER teacher paths)")
    ap.add_argument("--item-reviews", type=int, default=1, help="EXP3RT: extracted reviews per target item")
    ap.add_argument("--user-reviews", type=int, default=2, help="EXP3RT: extracted (newest) train reviews per user")
    ap.add_argument("--neighbours", type=int, default=1, help="EXP3RT: neighbours per pair (paper: 3)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-path", type=Path, default=None, help="default <out>/llm_cache.sqlite")
    ap.add_argument("--expect-cached", action="store_true", help="assert every call is a cache hit (resume check)")
    args = ap.parse_args()

    t_start = time.time()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(DATASET)
    inter, items = ds.interactions, ds.items
    train_t, valid_t, test_t = (ds.splits[f"release_windows_{s}"] for s in ("train", "valid", "test"))
    llm_config = LLMConfig(backend="hf", model="embedded", n_threads=args.threads,
                           cache_path=str(args.cache_path or out / "llm_cache.sqlite"))
    llm = build_llm(llm_config)
    run = SliceRun(out, llm)
    M, T, MNT, seed = args.paths, args.temperature, args.max_new_tokens, args.seed

    users = select_users(test_t, inter, args.users, seed)
    assert len(users) == args.users, f"only {len(users)} eligible users"
    u_test = test_t.filter(pl.col("user_id").is_in(users))
    u_train = train_t.filter(pl.col("user_id").is_in(users))
    assert sorted(Counter(u_test["label"].to_list()).values()) == sorted(
        [args.users // 2, args.users - args.users // 2]), "user sample not balanced on the test label"
    reviews = reviews_by_item(inter)
    slice_items = list(dict.fromkeys(
        [i for row in u_test.iter_rows(named=True) for i in [row["item_id"], *row["history_item_ids"]]]))

    # ---------------------------------------------------------------- ReasoningRec
    dcfg = DescribeConfig(max_new_tokens=MNT, seed=seed, show_progress=False)
    item_ids = select_items(reviews, slice_items, args.items, dcfg.p_reviews, seed)
    desc = run.stage("rr_describe", dcfg, lambda s: describe_items(items, inter, llm, dcfg, item_ids=item_ids,
                                                                   summaries=s), parse_rate=_nonempty_rate)
    run.note("rr_describe", **check_stratified(desc, reviews, dcfg.p_reviews))
    release_desc = ds.artefacts["item_descriptions"].select("item_id", "text")
    ours = desc.filter(pl.col("text").str.len_chars() > 0).select("item_id", "text")
    descriptions = pl.concat([ours, release_desc.join(ours, on="item_id", how="anti")])
    prompt_items = set(slice_items) | set(u_train["item_id"]) | {i for h in u_train["history_item_ids"] for i in h}
    run.note("rr_describe", prompt_items=len(prompt_items),
             prompt_items_generated_desc=len(prompt_items & set(ours["item_id"])),
             prompt_items_release_desc=len((prompt_items - set(ours["item_id"])) & set(release_desc["item_id"])))

    pcfg = ProfileConfig(max_new_tokens=MNT, seed=seed, show_progress=False)
    prof = run.stage("rr_profile", pcfg, lambda s: profile_users(inter, test_t, items, descriptions, llm, pcfg,
                                                                 user_ids=users, summaries=s),
                     parse_rate=lambda t: _nonempty_rate(t.filter(pl.col("profile_item_ids").list.len() > 0)))
    run.note("rr_profile", **check_profiles(prof, u_test, inter, pcfg.m_items))

    rcfg = ReasonConfig(max_new_tokens=MNT, n_samples=M, temperature=T, seed=seed, show_progress=False)
    reas = run.stage("rr_teacher_reasoning", rcfg, lambda s: teacher_reasoning(u_train, items, descriptions, prof,
                                                                               llm, rcfg, summaries=s))
    run.note("rr_teacher_reasoning", agrees=int(reas["agrees"].sum()), **check_paths(reas, KEY3, M))

    for variant in ("vanilla", "full"):
        zcfg = ZeroShotConfig(variant=variant, dataset=DATASET, seed=seed, show_progress=False)
        zs = run.stage(f"rr_zeroshot_{variant}", zcfg, lambda s, c=zcfg: zeroshot_predict(
            u_test, items, descriptions, prof, llm, c, summaries=s))
        assert zs.height == len(users) and zs["score"].is_between(0, 1).all()
        run.note(f"rr_zeroshot_{variant}", mean_p_yes=round(float(zs["score"].mean()), 4),
                 positives=int(zs["label"].sum()))

    # ---------------------------------------------------------------- EXP3RT
    held_out = pl.concat([valid_t, test_t]).select("user_id", "item_id").unique()
    train_inter = inter.join(held_out, on=["user_id", "item_id"], how="anti")
    pairs = u_test.select("user_id", "item_id", "rating")
    neighbours = rank_neighbours(train_inter, pairs, k=args.neighbours, min_co_rated=2, fill_undefined=True)
    ranked = set(neighbours.select("neighbour_id", "item_id").iter_rows())
    has_review = pl.col("review").is_not_null() & (pl.col("review").str.strip_chars().str.len_chars() > 0)
    top_item_reviews = (
        train_inter.filter(pl.col("item_id").is_in(pairs["item_id"].to_list()) & has_review)
        .sort(["item_id", "helpful_votes", "timestamp", "user_id"], descending=[False, True, True, False],
              nulls_last=True)
        .group_by("item_id", maintain_order=True).head(args.item_reviews)
    )
    wanted = (
        {(u, i) for u, i in train_inter.filter(pl.col("user_id").is_in(users) & has_review)
         .sort("user_id", "timestamp", descending=[False, True]).group_by("user_id", maintain_order=True)
         .head(args.user_reviews).select("user_id", "item_id").iter_rows()}
        | set(top_item_reviews.select("user_id", "item_id").iter_rows()) | ranked
    )
    wanted_df = pl.DataFrame(sorted(wanted), schema={"user_id": pl.String(), "item_id": pl.String()}, orient="row")
    to_extract = train_inter.join(wanted_df, on=["user_id", "item_id"], how="semi").sort("user_id", "item_id",
                                                                                         "timestamp")
    ecfg = ExtractConfig(domain="beauty", max_new_tokens=args.long_new_tokens, seed=seed, show_progress=False)
    skipped: dict[str, int] = {}
    prefs = run.stage("exp3rt_extract", ecfg, lambda s: extract_preferences(to_extract, llm, ecfg, items=items,
                                                                            summaries=s, skipped=skipped))
    run.note("exp3rt_extract", reviews_selected=to_extract.height, no_review_skipped=skipped.get("no_review"),
             usable_preferences=train_preferences(prefs, train_inter).height)

    pr: dict[str, Any] = {"domain": "beauty", "max_new_tokens": MNT, "seed": seed, "show_progress": False,
                          "helpful_top_n": 3, "n_neighbours": args.neighbours}
    upcfg = Exp3rtProfileConfig(**pr)
    uprof = run.stage("exp3rt_user_profiles", upcfg, lambda s: user_profiles(prefs, train_inter, llm, upcfg,
                                                                             users=users, summaries=s))
    iprofs: dict[str, pl.DataFrame] = {}
    for strategy in ("all", "helpful", "neighbour"):
        icfg = Exp3rtProfileConfig(**pr, item_strategy=strategy)
        iprofs[strategy] = run.stage(f"exp3rt_item_profiles_{strategy}", icfg, lambda s, c=icfg: item_profiles(
            prefs, train_inter, llm, c, items=items, pairs=pairs, summaries=s))
    run.note("exp3rt_item_profiles_neighbour", **check_exp3rt_sources(uprof, iprofs, train_inter, neighbours))

    desc_map = dict(descriptions.iter_rows())
    items_desc = items.with_columns(pl.col("item_id").replace_strict(desc_map, default=None).alias("description"))
    context = pair_context(pairs, uprof, iprofs["helpful"], items_desc, train_inter)
    u_avg = dict(train_inter.group_by("user_id").agg(pl.col("rating").mean()).iter_rows())
    for u, i, avg in context.select("user_id", "item_id", "user_avg").iter_rows():
        assert avg == u_avg.get(u), f"user {u}: rating bias is not the TRAIN mean"
        assert (u, i) not in set(train_inter.select("user_id", "item_id").iter_rows()), "test pair in train"
    tcfg = TeacherConfig(domain="beauty", n_samples=M, temperature=T, max_new_tokens=MNT, seed=seed,
                         scale=BEAUTY_SCALE, show_progress=False)
    exr = run.stage("exp3rt_teacher_reasoning", tcfg, lambda s: exp3rt_teacher(context, llm, tcfg, summaries=s),
                    parse_rate=lambda t: float(t["post_check_ok"].mean()))
    run.note("exp3rt_teacher_reasoning", **check_paths(exr, ("user_id", "item_id"), M), **post_check_counts(exr))
    prcfg = Exp3rtPredictConfig(domain="beauty", include_bias=True, reasoning=True, max_new_tokens=MNT, seed=seed,
                          scale=BEAUTY_SCALE, like_threshold=3.0, dataset=DATASET, show_progress=False)
    pred = run.stage("exp3rt_predict", prcfg, lambda s: exp3rt_predict_ratings(context, llm, prcfg, summaries=s))
    assert pred["pred_rating"].drop_nulls().is_between(1, 5).all()
    run.note("exp3rt_predict", mae=round(float((pred["pred_rating"] - pred["rating"]).abs().mean()), 4))

    # ---------------------------------------------------------------- Rec-SAVER
    xcfg = ExplainConfig(n_samples=M, temperature=T, max_new_tokens=MNT, seed=seed, show_progress=False)
    expl = run.stage("recsaver_explain", xcfg, lambda s: post_hoc_explanations(u_train, items, inter, llm, xcfg,
                                                                               summaries=s),
                     parse_rate=_nonempty_rate)
    run.note("recsaver_explain", **check_paths(expl, KEY3, M))
    vcfg = VerifyConfig(seed=seed, show_progress=False)
    holder: dict[str, pl.DataFrame] = {}

    def verify(s: list[RunSummary]) -> pl.DataFrame:
        result = self_verify(expl, u_train, items, inter, llm, vcfg, summaries=s)
        holder["pool"] = result.pool
        return result.table

    ver = run.stage("recsaver_verify", vcfg, verify,
                    parse_rate=lambda t: float(t["re_rating"].is_not_null().mean()) if t.height else None)
    pool = holder["pool"]
    write_stage_output(out / "recsaver_pool", "recsaver_pool", pool, vcfg, command="bench/stages_slice.py pool")
    run.note("recsaver_verify", **check_pool(ver, pool, M))

    tpcfg = TeacherPathsConfig(n_samples=M, temperature=T, max_new_tokens=args.long_new_tokens, seed=seed,
                               show_progress=False)
    tpaths = run.stage("recsaver_teacher_paths", tpcfg, lambda s: recsaver_teacher_paths(u_train, items, inter, llm,
                                                                                         tpcfg, summaries=s))
    run.note("recsaver_teacher_paths", **check_paths(tpaths, KEY3, M), **check_filters(tpaths))
    write_stage_output(out / "recsaver_filters", "recsaver_filters", annotate_filters(tpaths).select(
        *KEY3, "sample_index", "rating", "pred_rating", "parse_ok", *[f"keep_{f}" for f in FILTERS]),
        tpcfg, command="bench/stages_slice.py filters")

    zrcfg = RecSaverZeroShotConfig(variant="no_reasoning", dataset=DATASET, seed=seed, show_progress=False)
    zr = run.stage("recsaver_zeroshot_no_reasoning", zrcfg, lambda s: recsaver_zeroshot(u_test, items, inter, llm,
                                                                                        zrcfg, summaries=s))
    run.note("recsaver_zeroshot_no_reasoning", mean_expected_rating=round(float(zr["expected_rating"].mean()), 4))

    # ---------------------------------------------------------------- summary
    stages = {k: v for k, v in run.report.items() if "calls" in v}
    total_calls = sum(v["calls"] for v in stages.values())
    total_hits = sum(v["cache_hits"] for v in stages.values())
    summary = {
        "slice": {"dataset": DATASET, "users": users, "n_users": len(users), "n_items_described": len(item_ids),
                  "paths": M, "temperature": T, "max_new_tokens": MNT, "long_new_tokens": args.long_new_tokens,
                  "item_reviews": args.item_reviews, "user_reviews": args.user_reviews, "neighbours": args.neighbours,
                  "seed": seed, "threads": args.threads},
        "llm": json.loads(llm.identity.key()),
        "stages": run.report,
        "totals": {"calls": total_calls, "cache_hits": total_hits, "wall_s": round(time.time() - t_start, 1),
                   "all_cached": total_hits == total_calls,
                   "all_identical_to_previous": all(v.get("identical_to_previous") for v in stages.values())
                   if all(v.get("identical_to_previous") is not None for v in stages.values()) else None},
    }
    write_json(out / "summary.json", summary)
    print_table(stages)
    print(json.dumps(summary["totals"]), flush=True)
    if args.expect_cached:
        missed = {k: v["calls"] - v["cache_hits"] for k, v in stages.items() if v["cache_hits"] != v["calls"]}
        assert not missed, f"resume: stages with computed calls: {missed}"
        assert summary["totals"]["all_identical_to_previous"], "resume: a table differs from the previous run"


def print_table(stages: dict[str, dict[str, Any]]) -> None:
    head = f"{'stage':34} {'rows':>5} {'calls':>6} {'hits':>5} {'fail':>5} {'parse':>6} {'tok_out':>7} {'wall_s':>7} same"
    print(head)
    print("-" * len(head))
    for name, v in stages.items():
        rate = "-" if v["parse_rate"] is None else f"{v['parse_rate']:.2f}"
        same = {None: "-", True: "yes", False: "NO"}[v["identical_to_previous"]]
        print(f"{name:34} {v['rows']:>5} {v['calls']:>6} {v['cache_hits']:>5} {v['failures']:>5} {rate:>6} "
              f"{v['completion_tokens']:>7} {v['wall_s']:>7} {same}")


if __name__ == "__main__":
    main()
