"""`reasonrec reproduce exp3rt` on raw reviews with timestamps: the paper's own protocol (§4.1.1, §4.2, Table 3).

1. k-core (5), then ALL interactions ordered by timestamp and cut 8:1:1 (`data.splits.temporal_ratio`, via
   `data.prepare` under OUT/data): nothing later than the train cut is visible to any profile, average or baseline.
2. Preferences are extracted from TRAINING reviews only (each user's most recent `reviews_per_user`, each item's
   most helpful `reviews_per_item`; `stages.exp3rt.extract.reviews_for_profiles`), then user / item profiles and
   the rating bias (user / item average TRAINING rating) form each pair's context (`stages.exp3rt.profiles`).
3. The teacher writes rationales for the training pairs, the student learns them (`methods.exp3rt.student`) and
   answers the test pairs with E[rating].
4. Rating baselines from the registry (global / user / item mean, MF with its setting chosen on the VALID part)
   on the same test rows, and every row split into the paper's warm / cold / unseen users (`data.segments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reasonrec.baselines import TrainData
from reasonrec.data.prepare import PrepareConfig, SplitConfig, prepare
from reasonrec.data.segments import SEGMENTS, segment_counts, segment_targets
from reasonrec.data.splits import SplitResult
from reasonrec.eval.metrics import mae, rmse
from reasonrec.eval.report import Section
from reasonrec.io import write_parquet
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import build_llm
from reasonrec.methods.base import Ablation, Timer
from reasonrec.methods.exp3rt.config import Exp3rtReproConfig
from reasonrec.methods.exp3rt.student import (
    distil_and_score,
    rationale_note,
    student_name,
)
from reasonrec.methods.reproduction import (
    baseline_predictions,
    evaluate,
    finish_reproduction,
    headline,
    models_note,
    models_record,
    same_rows,
    tune_on_valid,
)
from reasonrec.stages.exp3rt.extract import extract_preferences, reviews_for_profiles
from reasonrec.stages.exp3rt.profiles import ItemStrategy, item_profiles, pair_context, user_profiles

PAIR_KEY = ["user_id", "item_id"]
# The release's item-profile variants as the profile stage's strategies (EXP3RT Table 6), so `variant` and its
# ablation presets mean the same on both protocols.
ITEM_STRATEGY: dict[str, ItemStrategy] = {"helpful": "helpful", "similarity": "neighbour"}


def temporal_split(config: Exp3rtReproConfig, out: Path, command: str) -> tuple[SplitResult, pl.DataFrame,
                                                                                 dict[str, Any]]:
    """(the split, the items table, its counts): the paper's k-core and 8:1:1 by timestamp, written to OUT/data."""
    prep = PrepareConfig(dataset=config.dataset, data_dir=config.data_dir, filters=config.filters,
                         r_threshold=config.like_cutoff, seed=config.seed,
                         split=SplitConfig(strategy="temporal_ratio", ratios=config.ratios, k_history=None))
    prepared = prepare(prep, out / "data", command=f"{command}: prepare")
    loaded = prepared.dataset.interactions.height
    stats = {"loaded": loaded, "after_filters": prepared.filtered.height, **prepared.split.stats}
    return prepared.split, prepared.dataset.items, stats


def sample_pairs(targets: pl.DataFrame, n: int | None, seed: int) -> pl.DataFrame:
    """One row per (user, item) (a repeated pair keeps its first row), then at most `n` of them drawn with
    `seed`, in table order."""
    rows = targets.unique(subset=PAIR_KEY, keep="first", maintain_order=True).with_row_index("_i")
    if n is not None and rows.height > n:
        rows = rows.sample(n=n, seed=seed).sort("_i")
    return rows.drop("_i")


def profile_context(config: Exp3rtReproConfig, items: pl.DataFrame, train_inter: pl.DataFrame,
                    train_rows: pl.DataFrame, test_rows: pl.DataFrame, teacher: LLM, stages: Path
                    ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(train context, test context, counts): preferences of TRAINING reviews → profiles → pair context.
    Users without a training review (unseen) get the empty profile, never one built from a later review."""
    pairs = pl.concat([train_rows.select(PAIR_KEY), test_rows.select(PAIR_KEY)]).unique(maintain_order=True)
    users = pairs["user_id"].unique(maintain_order=True).to_list()
    item_ids = pairs["item_id"].unique(maintain_order=True).to_list()
    reviews = reviews_for_profiles(train_inter, users, item_ids, per_user=config.reviews_per_user,
                                   per_item=config.reviews_per_item)
    common = {"domain": config.domain, "seed": config.seed, "show_progress": config.show_progress}
    prefs = extract_preferences(reviews, teacher, config.extract.model_copy(update=common), items=items)
    profile_cfg = config.profiles.model_copy(update={**common, "item_strategy": ITEM_STRATEGY[config.variant]})
    uprof = user_profiles(prefs, train_inter, teacher, profile_cfg, users=users)
    iprof = item_profiles(prefs, train_inter, teacher, profile_cfg, items=items, pairs=pairs, item_ids=item_ids)
    for name, table in (("preferences", prefs), ("user_profiles", uprof), ("item_profiles", iprof)):
        write_parquet(stages / f"{name}.parquet", table)
    contexts = [pair_context(rows.select(*PAIR_KEY, "rating"), uprof, iprof, items, train_inter)
                for rows in (train_rows, test_rows)]
    counts = {"reviews_extracted": prefs.height, "preferences_parsed": int(prefs["parse_ok"].sum()),
              "users_with_profile_notes": int((uprof["n_preferences"] > 0).sum()), "users": len(users),
              "items_with_profile_notes": int((iprof["n_preferences"] > 0).sum()), "items": len(item_ids)}
    return contexts[0], contexts[1], counts


def rating_baselines(split: SplitResult, config: Exp3rtReproConfig) -> tuple[dict[str, pl.DataFrame],
                                                                            dict[str, Any]]:
    """Every rating baseline fitted on the training part and scored on EVERY test row (one per pair); MF with
    the `mf_grid` setting of lowest RMSE on the valid part. Returns (name → predictions, MF selection)."""
    data = TrainData(split.train_interactions, split.train, split.valid, config.like_cutoff)
    test = sample_pairs(split.test, None, config.seed)
    overrides: dict[str, Mapping[str, Any]] = {}
    selection: dict[str, Any] = {}
    if "mf" in config.rating_baselines and config.mf_grid:
        chosen, grid = tune_on_valid("mf", data, config.mf_grid, seed=config.seed)
        overrides["mf"] = chosen
        selection = {"chosen": chosen, "valid_rmse": grid}
    names = ["global-mean", *[n for n in config.rating_baselines if n != "global-mean"]]
    fitted = baseline_predictions(data, test, names, seed=config.seed, dataset=config.dataset, overrides=overrides)
    return {name: preds for name, (preds, _) in fitted.items()}, selection


def segment_errors(predictions: pl.DataFrame, segmented: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """{Total, warm, cold, unseen} → {n, rmse, mae} of `predictions` on the rows of `segmented` (user segments)."""
    rows = segmented.select(*PAIR_KEY, "rating", "segment").join(
        predictions.select(*PAIR_KEY, "pred_rating"), on=PAIR_KEY, how="inner").filter(
        pl.col("pred_rating").is_not_null())
    out: dict[str, dict[str, Any]] = {}
    for name in ("total", *SEGMENTS):
        part = rows if name == "total" else rows.filter(pl.col("segment") == name)
        true, pred = part["rating"].to_numpy().astype(np.float64), part["pred_rating"].to_numpy()
        out[name] = {"n": part.height, "rmse": rmse(true, pred).value if part.height else None,
                     "mae": mae(true, pred).value if part.height else None}
    return out


def segment_section(title: str, errors: Mapping[str, Mapping[str, Mapping[str, Any]]], note: str) -> Section:
    """EXP3RT Table 3 layout: one row per method, (n, RMSE, MAE) for Total, warm, cold and unseen users."""
    parts = ("total", *SEGMENTS)
    header = ["Method", *[f"{p.capitalize()} {m}" for p in parts for m in ("n", "RMSE", "MAE")]]
    rows = [[method, *[seg[p][m] for p in parts for m in ("n", "rmse", "mae")]] for method, seg in errors.items()]
    return Section(title, header, rows, note=note)


SEGMENT_NOTE = ("Warm = users with more than 3 training interactions, cold = 1–3, unseen = none (EXP3RT §4.2; "
                "`data.segments`). MF and the user mean have no user term for unseen users (they fall back to the "
                "item / global terms), which the paper leaves blank ('-').")


def run_temporal(config: Exp3rtReproConfig, out: Path, llm: LLM | None, *, command: str, started: float,
                 timer: Timer, ablations: Mapping[str, Ablation]) -> dict[str, Any]:
    """The whole temporal protocol (module docstring) → OUT/ with the warm/cold/unseen tables."""
    with timer("split"):
        split, items, split_stats = temporal_split(config, out, command)
        train_rows = sample_pairs(split.train, config.train_pairs, config.seed)
        all_test = segment_targets(sample_pairs(split.test, None, config.seed), split.train_interactions)
        test_rows = sample_pairs(all_test, config.test_pairs, config.seed)
        split_stats["train_pairs_drawn"] = train_rows.height
    teacher = llm if llm is not None else build_llm(config.teacher_llm)
    with timer("profiles"):
        train_ctx, test_ctx, profile_counts = profile_context(
            config, items, split.train_interactions, train_rows, test_rows, teacher, out / "stages")
    student = distil_and_score(train_ctx, test_ctx, config, teacher if config.rationale == "teacher" else None,
                               out, command, timer)
    preds = student.predictions
    with timer("baselines"):
        every_row, mf_selection = rating_baselines(split, config)
    baselines = {}
    for base, rows in every_row.items():
        result = evaluate(same_rows(rows, test_rows), config, like_cutoff=config.like_cutoff)
        baselines[base] = {"dataset": config.dataset, "split": "test", **headline(result), "result": result}
    segments = {student_name(config): segment_errors(preds, test_rows),
                **{b: segment_errors(rows, test_rows) for b, rows in every_row.items()}}
    segments_all = {b: segment_errors(rows, all_test) for b, rows in every_row.items()}
    models = models_record(config)  # the teacher extracts and profiles whatever the rationale
    notes = temporal_notes(config, models, split_stats, all_test, test_rows, profile_counts, mf_selection)
    metrics = {
        **student.metrics(config), "models": models, "protocol": "temporal",
        "baselines": baselines, "segments": segments, "segments_all_test_rows": segments_all,
        "segment_counts": {"scored": segment_counts(test_rows), "all_test": segment_counts(all_test),
                           "items_scored": segment_counts(test_rows, "item_segment")},
        "split_stats": split_stats, "profiles": profile_counts, "mf_selection": mf_selection, "notes": notes,
        "timings": timer.seconds,
    }
    sections = [
        segment_section("Warm / cold / unseen users (EXP3RT Table 3), the scored test rows", segments,
                        SEGMENT_NOTE + " Every method on the same rows."),
        segment_section(f"Warm / cold / unseen users, baselines on all {all_test.height} test pairs",
                        segments_all, SEGMENT_NOTE),
    ]
    finish_reproduction(out, config=config, command=command, predictions=preds, metrics=metrics, started_at=started,
                        title=f"EXP3RT reproduction — {config.dataset}, temporal 8:1:1 ({config.budget})",
                        ablations=ablations, sections=sections)
    return metrics


def temporal_notes(config: Exp3rtReproConfig, models: Mapping[str, str], split_stats: Mapping[str, Any],
                   all_test: pl.DataFrame, test_rows: pl.DataFrame, profiles: Mapping[str, Any],
                   mf_selection: Mapping[str, Any]) -> list[str]:
    ratios = ":".join(f"{r:g}" for r in config.ratios)
    k_core = f"{config.filters.k_core}-core" if config.filters.k_core else "no k-core filter (filters.k_core=null)"
    notes = [
        models_note(models) + " The paper: GPT-3.5 teacher, Llama-3-8B student; 'embedded' is SmolLM2-135M.",
        rationale_note(config, models),
        (f"Split (§4.1.1): {k_core} ({split_stats['loaded']} → {split_stats['after_filters']} "
         f"interactions), then every interaction ordered by timestamp and cut {ratios}: "
         f"{split_stats['train_targets']} train / {split_stats['valid_targets']} valid / "
         f"{split_stats['test_targets']} test. Test users: {segment_counts(all_test)} test pairs per segment."),
        (f"Scored: {test_rows.height} test pairs ({segment_counts(test_rows)}); "
         f"{split_stats['train_pairs_drawn']} training pairs drawn for the teacher and the student."),
        (f"Profiles from TRAINING reviews only: {profiles['reviews_extracted']} reviews extracted "
         f"({config.reviews_per_user} most recent per user, {config.reviews_per_item} most helpful per item), "
         f"item profiles by the '{ITEM_STRATEGY[config.variant]}' strategy, "
         f"{profiles['users_with_profile_notes']}/{profiles['users']} users and "
         f"{profiles['items_with_profile_notes']}/{profiles['items']} items with notes; unseen users get 'None.'."),
        ("Rating bias: user / item average TRAINING rating in the prompt. Read-out: E[rating] over the normalised "
         "rating-token probabilities (§3.5.3); the baselines are point predictions."),
    ]
    if mf_selection:
        notes.append(f"MF (biased, cornac) setting chosen on the valid part: {mf_selection['chosen']} "
                     f"(valid RMSE per setting: {mf_selection['valid_rmse']}).")
    if config.student == "zeroshot":
        notes.append("Student: ZERO-SHOT — the student base answers the rating prompt without fine-tuning.")
    if config.budget == "quick":
        notes.append("QUICK budget: a few pairs, short generations: the mechanics, not the paper's levels.")
    return notes


__all__ = ["profile_context", "rating_baselines", "run_temporal", "sample_pairs", "segment_errors",
           "segment_section", "temporal_split"]
