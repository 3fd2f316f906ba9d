"""`reasonrec run hybrid`: the explaining hybrid predictor end to end on a release's target windows.

CF-aware rows (leak-free facts, cross-fitted on train/valid) → the CF-aware student (LoRA, label-focused; or the
given LLM as the scorer, for control-flow runs) → the stacker fitted on validation rows only, with and without the
student's log-odds → the single baselines on the same test rows → one run directory (`write_run`):

    OUT/predictions.parquet   cf-aware-student, hybrid (reasoning = the student's explanation), hybrid-no-llm
    OUT/baselines/*.parquet   each single baseline on the same rows (the report pairs every method with the best)
    OUT/metrics.json          per-method results, baselines, the paired comparisons, stacker weights, timings
    OUT/report.md/html/json   with the paired comparison vs the best baseline, hybrid vs its no-LLM ablation,
                              and both again without rows whose target repeats a history item
    OUT/student/              the student's SFT data and LoRA run (an adapter there is reused)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reasonrec.baselines import TrainData
from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.schema import Dataset
from reasonrec.data.splits import from_target_tables
from reasonrec.errors import ConfigError
from reasonrec.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from reasonrec.eval.grounding.marks import COLUMN as MARKS
from reasonrec.eval.grounding.marks import summarise_marks
from reasonrec.eval.paired import compare_methods, paired_auc_difference, shared_rows
from reasonrec.eval.report import Section
from reasonrec.io import write_parquet
from reasonrec.llm.base import LLM
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
from reasonrec.methods.base import Protocol, RunReport, Timer, write_run
from reasonrec.methods.hybrid.predictor import (
    ABLATION,
    HYBRID,
    STUDENT,
    HybridConfig,
    cf_aware_rows,
    explain_own_label,
    fit_hybrid,
    hybrid_predictions,
    student_llm,
    student_scores,
    train_student,
)
from reasonrec.methods.hybrid.stacker import LLM_TERM
from reasonrec.methods.recipe import RecipeResult, StageRecord
from reasonrec.methods.reproduction import baseline_predictions, evaluate, headline, mark_explanations
from reasonrec.predictions import conform_predictions

METHOD = "hybrid"
SPLITS = ("train", "valid", "test")

DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "reasoningrec-beauty": {},
    "reasoningrec-ml1m": {"split_prefix": "seq_ctr_", "domain": "movies", "like_threshold": 0.5, "scale_max": 1.0,
                          "require_test_reference": True},
}

# quick = `reasonrec demo`: sized for ≤ 20 min on an idle 2-core CPU, where scoring costs ~1 s a prompt and a LoRA
# step ~10 s: K=64 (16 steps), 200 stacking rows, the first 320 test rows (≥ 300, table order, never chosen by
# outcome) and 20 evidence-grounded explanations. `full` scores every labelled test row with K=512.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "student": {"k": 64, "eval_steps": 8, "patience": 2, "early_stop_rows": 32, "max_seq_length": 512,
                    "threads": 2},
        "test_limit": 320, "stacking_rows": 200, "explain_rows": 20, "bootstrap": 500,
        "baseline_overrides": {"sasrec": {"max_epochs": 20}, "caser": {"max_epochs": 20}},
    },
    "full": {},
}


def release_tables(ds: Dataset, config: HybridConfig) -> dict[str, pl.DataFrame]:
    missing = [config.split_prefix + s for s in SPLITS if config.split_prefix + s not in ds.splits]
    if missing:
        raise ConfigError(f"{config.dataset} has no split table(s) {', '.join(missing)}; have {sorted(ds.splits)}")
    return {s: ds.splits[config.split_prefix + s].filter(pl.col("label").is_not_null()) for s in SPLITS}


def evaluated_mask(ds: Dataset, test: pl.DataFrame, config: HybridConfig) -> np.ndarray:
    """The evaluated test rows: users with a released test reference if required, the first `test_limit` rows."""
    mask = np.ones(test.height, dtype=bool)
    if config.require_test_reference:
        teacher = ds.artefacts.get("teacher_reasoning")
        if teacher is None:
            raise ConfigError(f"{config.dataset}: require_test_reference needs a teacher_reasoning artefact")
        users = teacher.filter(pl.col("split") == "test")["user_id"].cast(pl.String).unique()
        mask &= test["user_id"].cast(pl.String).is_in(users.implode()).to_numpy()
    if config.test_limit is not None:
        mask &= np.arange(test.height) < config.test_limit
    return mask


def repeated_targets(rows: pl.DataFrame) -> pl.DataFrame:
    """(user_id, item_id) of rows whose target is already in the user's history window."""
    repeat = [str(t) in {str(h) for h in (hist or [])}
              for t, hist in zip(rows["item_id"].to_list(), rows["history_item_ids"].to_list(), strict=True)]
    return rows.filter(pl.Series(repeat, dtype=pl.Boolean)).select(pl.col("user_id").cast(pl.String),
                                                                   pl.col("item_id").cast(pl.String))


def comparisons(predictions: pl.DataFrame, baselines: list[str], config: HybridConfig) -> dict[str, Any]:
    """Every method vs the best baseline, and the hybrid vs its no-LLM ablation, on the rows all of them scored,
    bootstrapped like the report's own paired table (the evaluation seed, not the model's), so one comparison
    prints one CI."""
    resamples = config.bootstrap or DEFAULT_RESAMPLES
    out = compare_methods(predictions, baselines, n_resamples=resamples, seed=DEFAULT_SEED)
    methods = set(predictions["method"].to_list())
    if {HYBRID, ABLATION} <= methods:
        labels, scores = shared_rows(predictions, [HYBRID, ABLATION])
        d = paired_auc_difference(labels, scores[HYBRID], scores[ABLATION], n_resamples=resamples, seed=DEFAULT_SEED)
        out["hybrid_vs_ablation"] = None if d is None else d.to_dict()
    return out


def comparison_section(title: str, result: Mapping[str, Any]) -> Section:
    rows = []
    pairs = [(m, result["reference"], d) for m, d in result["comparisons"].items()]
    if result.get("hybrid_vs_ablation") is not None:
        pairs.append((HYBRID, ABLATION, result["hybrid_vs_ablation"]))
    for a, b, d in pairs:
        if d is not None:
            rows.append([f"{a} − {b}", f"{d['diff']:+.3f}", f"[{d['low']:+.3f}, {d['high']:+.3f}]",
                         f"{d['p_value']:.3g}", d["n"], d["verdict"]])
    return Section(title, ("Comparison", "AUC difference", "95% CI", "DeLong p", "n", "Verdict"), rows,
                   note=f"{result['n']} rows, {result['n_negative']} negatives; paired bootstrap CI + DeLong.")


def score_student(ds: Dataset, rows: Any, test: pl.DataFrame, fit_rows: pl.DataFrame, config: HybridConfig,
                  out: Path, llm: LLM | None, timer: Timer, interactions: pl.DataFrame | None = None,
                  encoder: SentenceEncoder | None = None) -> tuple[pl.DataFrame, pl.DataFrame, LLM]:
    """(student predictions on the stacking rows, on the test rows, the student); trains the student unless `llm`
    is given. `interactions` (train only) give the explanations' user/item statistics."""
    if llm is None:
        with timer("train_student"):
            adapter = train_student(rows, ds.items, ds.artefacts, config, out / "student", scored=test)
        llm = student_llm(config, adapter)
    with timer("score_student"):
        fit = student_scores(fit_rows, ds.items, llm, config)
        scored = student_scores(test, ds.items, llm, config, explain=config.explain_rows, interactions=interactions,
                                encoder=encoder)
    return fit, scored, llm


def run(config: HybridConfig, out_dir: str | Path, llm: LLM | None = None) -> RecipeResult:
    """The hybrid recipe (module docstring); `llm`, when given, scores as the student instead of a trained one."""
    started = time.time()
    out = Path(out_dir)
    timer = Timer()
    # one sentence model for the similarities, the explanations' evidence and the grounding checker
    encoder = (SentenceEncoder(cache_path=default_embedding_cache())
               if config.evidence_features or config.explain_rows else None)
    with timer("features"):
        ds = load_dataset(config.dataset, config.data_dir, LoadOptions(domain=config.domain))
        tables = release_tables(ds, config)
        split = from_target_tables(ds.interactions, *(ds.splits[config.split_prefix + s] for s in SPLITS))
        rows = cf_aware_rows(tables, split.train_interactions, config, ds.items, ds.artefacts.get("item_descriptions"),
                             encoder)
    mask = pl.Series(evaluated_mask(ds, tables["test"], config))
    test, test_features = rows.rows["test"].filter(mask), rows.features["test"].filter(mask)
    if test.height == 0:
        raise ConfigError(f"{config.dataset}: no labelled test rows selected")
    fit_rows, fit_features = rows.rows["valid"].head(config.stacking_rows), rows.features["valid"].head(
        config.stacking_rows)
    frames: list[pl.DataFrame] = []
    fit_student = test_student = None
    if config.use_student:
        fit_student, test_student, llm = score_student(ds, rows, test, fit_rows, config, out, llm, timer,
                                                       split.train_interactions, encoder)
        frames.append(conform_predictions(test_student.drop(LLM_TERM)))
    with timer("stacker"):
        logodds = None if fit_student is None else fit_student[LLM_TERM].to_numpy()
        hybrid, ablation = fit_hybrid(fit_features, fit_rows["label"].to_numpy(), logodds, config.stacker)
        if hybrid is not None:
            frames.append(hybrid_predictions(test, test_features, hybrid, method=HYBRID, dataset=config.dataset,
                                             student=test_student))
    if hybrid is not None and llm is not None and config.explain_rows and config.explain.mode == "evidence":
        with timer("explain_hybrid"):
            frames = [explain_own_label(f, test, ds.items, llm, config, split.train_interactions, encoder)
                      if f["method"][0] == HYBRID else f for f in frames]
        frames.append(hybrid_predictions(test, test_features, ablation, method=ABLATION, dataset=config.dataset))
    with timer("baselines"):
        data = TrainData(split.train_interactions, split.train, split.valid, r_threshold=config.like_threshold)
        fitted = baseline_predictions(data, test, config.baselines, seed=config.seed, dataset=config.dataset,
                                      overrides=config.baseline_overrides)
        for name, (preds, _) in fitted.items():
            write_parquet(out / "baselines" / f"{name}.parquet", preds)
    with timer("grounding"):
        frames = mark_explanations(ds, frames, config.grounding, encoder)
    predictions = pl.concat(frames, how="diagonal_relaxed")
    everything = pl.concat([predictions, *(p for p, _ in fitted.values())], how="diagonal_relaxed")
    repeats = repeated_targets(test)
    views = {"all test rows": everything,
             "without repeated targets": everything.join(repeats, on=["user_id", "item_id"], how="anti")}
    paired = {view: comparisons(table, list(fitted), config) for view, table in views.items()}
    metrics = run_metrics(config, predictions, fitted, paired, hybrid, ablation, timer)
    if MARKS in predictions.columns:
        metrics["grounding"] = summarise_marks(predictions)
    metrics.update({"test_rows": test.height, "repeated_target_rows": repeats.height,
                    "stacking_rows": fit_rows.height, "stacking_negatives": int((fit_rows["label"] == 0).sum())})
    sections = [comparison_section(f"Paired comparisons — {view} ({config.dataset})", result)
                for view, result in paired.items()]
    write_run(out, config=config, command="run hybrid", metrics=metrics, started_at=started, predictions=predictions,
              report=RunReport(title=f"Explaining hybrid — {config.dataset} ({config.budget})",
                               bootstrap=config.bootstrap, sections=sections),
              seeds={"seed": config.seed}, manifest_extra={"method": METHOD, "budget": config.budget})
    stages = [StageRecord(name, "generate", None, None, seconds) for name, seconds in timer.seconds.items()]
    return RecipeResult(out_dir=out, predictions=predictions, metrics=metrics, stages=stages)


def run_metrics(config: HybridConfig, predictions: pl.DataFrame, fitted: Mapping[str, tuple[pl.DataFrame, float]],
                paired: Mapping[str, Any], hybrid: Any, ablation: Any, timer: Timer) -> dict[str, Any]:
    """metrics.json: the hybrid's headline numbers on top (or the ablation's without a student), every method."""
    runs = []
    for method in predictions["method"].unique(maintain_order=True).to_list():
        result = evaluate(predictions.filter(pl.col("method") == method), config)
        runs.append({"method": method, "dataset": config.dataset, "split": "test", **headline(result),
                     "result": result})
    top = next((r for r in runs if r["method"] == HYBRID), next(r for r in runs if r["method"] == ABLATION))
    baselines = {name: {"dataset": config.dataset, "split": "test", **headline(res := evaluate(preds, config)),
                        "result": res} for name, (preds, _) in fitted.items()}
    return {
        "method": top["method"], "dataset": config.dataset, "split": "test",
        **{k: v for k, v in top.items() if k not in ("method", "dataset", "split", "result")},
        "runs": runs, "baselines": baselines, "paired": dict(paired),
        "stacker": {"hybrid": None if hybrid is None else hybrid.weights(), ABLATION: ablation.weights()},
        "student": {"name": STUDENT, "model": config.llm.model, **config.student.model_dump()}
        if config.use_student else None,
        "timings": {**timer.seconds, "baseline_fit_predict": {n: s for n, (_, s) in fitted.items()}},
        "budget": config.budget,
    }


RECIPE = Protocol(name="run hybrid", config=HybridConfig, run=run, default_dataset="reasoningrec-beauty",
                  presets=PRESETS, datasets=DATASET_DEFAULTS, stages=("features", "student", "stacker", "baselines"))

__all__ = ["DATASET_DEFAULTS", "METHOD", "PRESETS", "RECIPE", "run"]
