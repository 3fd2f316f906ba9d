"""Issue 13's benchmark: does an explaining predictor beat the CF and user-statistics baselines on enough rows?

One command per dataset (ReasoningRec ML-1M: the 1,880 test users with released teacher reasoning, and all 6,040
CTR windows for methods that need no reference; Beauty: all 622 labelled test rows, with and without the 77 rows
whose target repeats a history item). For each:

1. leak-free features (`reasonrec.baselines.features`: window user stats, fitted item stats, MF score; train/valid rows
   cross-fitted) and the evidence similarities (MiniLM, titles + catalogue descriptions, no generated descriptions)
   of the target to the user's liked and disliked history items;
2. the single baselines on the test rows (user mean, user like-share, item mean, MF, SASRec, Caser);
3. the CF-aware student: label-only completions on K class-balanced train rows whose prompts state the facts,
   LoRA on the embedded SmolLM2 (or `--model`), then P(yes) on the validation rows used for stacking and on the
   test rows (one forward pass each, fp32 on CPU, through the LLM cache: a rerun recomputes nothing);
4. the hybrid: the stacker fitted on validation rows only, with and without the student's log-odds;
5. paired comparisons on the same test rows (`reasonrec.eval.paired`): hybrid - best single baseline, hybrid -
   no-LLM ablation, no-LLM ablation - the same without the evidence similarities, student - each user-statistics
   baseline; 95% bootstrap CI + DeLong p.

Prints a table and writes bench/results/predictor.json with the command, the load averages and wall times.

    .venv/bin/python bench/predictor.py --dataset ml1m [--k 512] [--valid-rows 1000] [--skip-llm]
    .venv/bin/python bench/predictor.py --dataset beauty --curves 'k=64,256;label_weight=1,10;model=embedded,gemma3-270m'

If a target is not met, the second form shows why: validation-AUC learning curves over training rows, label weight
and model size (one factor at a time), from which a recipe is chosen before anything is scored on test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import polars as pl

from reasonrec.auc import rank_auc
from reasonrec.baselines import TrainData, make_baseline
from reasonrec.data.loaders import load_dataset
from reasonrec.data.splits import from_target_tables
from reasonrec.eval.paired import best_reference, paired_auc_difference
from reasonrec.io import write_json
from reasonrec.llm.kernels import DType
from reasonrec.llm.registry import LLMConfig
from reasonrec.methods.hybrid.predictor import (
    HybridConfig,
    StudentConfig,
    cf_aware_rows,
    fit_hybrid,
    student_llm,
    student_scores,
    train_student,
)
from reasonrec.methods.hybrid.recipe import SPLITS, evaluated_mask, release_tables
from reasonrec.methods.hybrid.stacker import LLM_TERM, Stacker, StackerConfig
from reasonrec.stages.common.evidence import SIMILARITY_FEATURES, EvidenceConfig

DATA_ROOT = Path(os.environ.get("REASONREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"
SINGLE_BASELINES = ("user-mean", "user-like-share", "item-mean", "mf", "sasrec", "caser")
USER_STAT_BASELINES = ("user-mean", "user-like-share")
NO_EVIDENCE = "hybrid-no-llm-no-evidence"


@dataclass(frozen=True)
class Spec:
    dataset: str
    prefix: str
    like_threshold: float
    scale_max: float
    domain: str
    reference_users: bool


SPECS = {
    "ml1m": Spec("reasoningrec-ml1m", "seq_ctr_", 0.5, 1.0, "movies", True),
    "beauty": Spec("reasoningrec-beauty", "release_windows_", 3.0, 5.0, "beauty", False),
}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load_average()[0]}] {msg}", file=sys.stderr, flush=True)


def prepare(spec: Spec, args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's own data steps (`methods.hybrid.recipe`): release tables, leak-free CF rows, evaluated rows."""
    config = hybrid_config(spec, args).model_copy(update={"test_limit": args.test_limit,
                                                          "require_test_reference": spec.reference_users})
    ds = load_dataset(spec.dataset, data_root=DATA_ROOT)
    tables = release_tables(ds, config)
    cf_rows = from_target_tables(ds.interactions, *(ds.splits[spec.prefix + s] for s in SPLITS)).train_interactions
    rows = cf_aware_rows(tables, cf_rows, config, ds.items, ds.artefacts.get("item_descriptions"))
    test = tables["test"]
    repeated = np.array([t in (h or []) for t, h in zip(test["item_id"].to_list(),
                                                         test["history_item_ids"].to_list(), strict=True)])
    return {"ds": ds, "tables": tables, "cf_rows": cf_rows, "rows": rows, "features": rows.features,
            "evaluated": evaluated_mask(ds, test, config), "repeated": repeated}


def single_baselines(spec: Spec, prep: dict[str, Any]) -> dict[str, np.ndarray]:
    tables = prep["tables"]
    data = TrainData(prep["cf_rows"], tables["train"], tables["valid"], r_threshold=spec.like_threshold)
    out = {}
    for name in SINGLE_BASELINES:
        started = time.time()
        model = make_baseline(name, {"seed": 42}).fit(data)
        out[name] = model.predict(tables["test"], split="test")["score"].to_numpy()
        log(f"{name}: fit+score {time.time() - started:.0f}s")
    return out


def hybrid_config(spec: Spec, args: argparse.Namespace) -> HybridConfig:
    student = StudentConfig(k=args.k, lora_r=args.lora_r, learning_rate=args.lr, epochs=args.epochs,
                            max_steps=args.max_steps, eval_steps=args.eval_steps, patience=args.patience,
                            early_stop_rows=args.early_stop_rows, max_seq_length=args.max_seq_length,
                            label_weight=args.label_weight, threads=args.threads, score_dtype=args.dtype,
                            seed=args.seed)
    return HybridConfig(dataset=spec.dataset, split_prefix=spec.prefix, llm=LLMConfig(model=args.model),
                        domain=spec.domain, like_threshold=spec.like_threshold, scale_max=spec.scale_max,
                        student=student, stacker=StackerConfig(model=args.stacker),
                        evidence=EvidenceConfig(generated_descriptions=args.generated_descriptions),
                        stacking_rows=args.valid_rows, show_progress=False)


def student_logodds(spec: Spec, prep: dict[str, Any], config: HybridConfig, run_dir: Path
                    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train (or reuse) the CF-aware student; its log-odds on the stacking rows and on the evaluated test rows
    (NaN elsewhere: on ML-1M only the 1,880 reference users are scored)."""
    ds, rows, evaluated = prep["ds"], prep["rows"], prep["evaluated"]
    started = time.time()
    adapter = train_student(rows, ds.items, ds.artefacts, config, run_dir,
                            scored=rows.rows["test"].filter(pl.Series(evaluated)))
    info: dict[str, Any] = {**config.student.model_dump(), "train_wall_s": round(time.time() - started),
                            "load_after_train": load_average()}
    llm = student_llm(config, adapter)
    out = {}
    for split, table in (("valid", rows.rows["valid"].head(config.stacking_rows)),
                         ("test", rows.rows["test"].filter(pl.Series(evaluated)))):
        started = time.time()
        logodds = student_scores(table, ds.items, llm, config)[LLM_TERM].to_numpy()
        if split == "test":
            out[split] = np.full(len(evaluated), np.nan)
            out[split][evaluated] = logodds
        else:
            out[split] = logodds
        info[f"score_{split}_s"] = round(time.time() - started)
        info[f"score_{split}_rows"] = table.height
        log(f"student scored {table.height} {split} rows in {time.time() - started:.0f}s")
    return out, info


def comparisons(y: np.ndarray, scores: dict[str, np.ndarray], pairs: list[tuple[str, str]], resamples: int
                ) -> list[dict[str, Any]]:
    out = []
    for a, b in pairs:
        d = paired_auc_difference(y, scores[a], scores[b], n_resamples=resamples)
        if d is not None:
            out.append({"a": a, "b": b, **d.to_dict()})
    return out


def evaluate_rows(y: np.ndarray, scores: dict[str, np.ndarray], resamples: int) -> dict[str, Any]:
    singles = {n: s for n, s in scores.items() if n in SINGLE_BASELINES}
    best = best_reference(y, singles)
    aucs = {n: rank_auc(y, s) for n, s in scores.items()}
    pairs = [(m, best) for m in scores if m not in SINGLE_BASELINES]
    if "hybrid" in scores:
        pairs.append(("hybrid", "hybrid-no-llm"))
    pairs.append(("hybrid-no-llm", NO_EVIDENCE))
    if "student" in scores:
        pairs += [("student", b) for b in USER_STAT_BASELINES]
    return {"n": len(y), "negatives": int((y == 0).sum()), "auc": aucs, "best_single_baseline": best,
            "paired": comparisons(y, scores, list(dict.fromkeys(pairs)), resamples)}


def run(spec: Spec, args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    prep = prepare(spec, args)
    log(f"{spec.dataset}: features in {time.time() - started:.0f}s")
    scores = single_baselines(spec, prep)
    tables, feats = prep["tables"], prep["features"]
    config = hybrid_config(spec, args)
    valid_rows = min(args.valid_rows, tables["valid"].height)
    fit_y = tables["valid"]["label"].to_numpy()[:valid_rows]
    record: dict[str, Any] = {"dataset": spec.dataset, "stacking_rows": valid_rows,
                              "stacking_negatives": int((fit_y == 0).sum())}
    logodds = None
    if not args.skip_llm:
        run_dir = Path(args.run_dir or RESULTS.parent / "runs" / f"predictor-{args.dataset}-k{args.k}")
        logodds, record["student"] = student_logodds(spec, prep, config, run_dir)
        scores["student"] = logodds["test"]
    hybrid, ablation = fit_hybrid(feats["valid"].head(valid_rows), fit_y,
                                  None if logodds is None else logodds["valid"], config.stacker)
    scores["hybrid-no-llm"] = ablation.predict_proba(feats["test"])
    record["ablation_weights"] = ablation.weights()
    plain = [c for c in ablation.config.features if c not in SIMILARITY_FEATURES]
    no_evidence = Stacker(ablation.config.model_copy(update={"features": plain}))
    no_evidence.fit(feats["valid"].head(valid_rows), fit_y)
    scores[NO_EVIDENCE] = no_evidence.predict_proba(feats["test"])
    if hybrid is not None and logodds is not None:
        scored = prep["evaluated"]
        test = feats["test"].with_columns(pl.Series(LLM_TERM, logodds["test"])).filter(pl.Series(scored))
        scores["hybrid"] = np.full(len(scored), np.nan)
        scores["hybrid"][scored] = hybrid.predict_proba(test)
        record["hybrid_weights"] = hybrid.weights()
    y = tables["test"]["label"].to_numpy()
    views = {"evaluated": prep["evaluated"]}
    if spec.reference_users:
        views["all_windows"] = np.ones(len(y), dtype=bool)
    views["evaluated_without_repeats"] = prep["evaluated"] & ~prep["repeated"]
    record["views"] = {}
    for view, mask in views.items():  # methods not scored on every row of a view are left out of it
        view_scores = {n: s[mask] for n, s in scores.items() if not np.isnan(s[mask]).any()}
        record["views"][view] = evaluate_rows(y[mask], view_scores, args.resamples)
    record["wall_s"] = round(time.time() - started)
    return record


CURVE_FACTORS = {"k": int, "label_weight": float, "model": str, "lora_r": int, "lr": float}


def parse_curves(text: str) -> list[tuple[str, Any]]:
    """'k=64,128;label_weight=1,10' → [(k, 64), (k, 128), (label_weight, 1.0), (label_weight, 10.0)]."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, values = part.partition("=")
        if name not in CURVE_FACTORS or not values:
            raise SystemExit(f"--curves: expected FACTOR=v1,v2 with FACTOR in {sorted(CURVE_FACTORS)}, got {part!r}")
        out += [(name, CURVE_FACTORS[name](v)) for v in values.split(",")]
    return out


def learning_curves(spec: Spec, args: argparse.Namespace) -> dict[str, Any]:
    """One student per factor value (the other settings as given): its validation AUC curve and best value. Test
    rows are never scored here: a recipe is chosen on these curves, then run on test with --run-dir."""
    from reasonrec.train.curves import read_log

    prep = prepare(spec, args)
    curves = []
    for name, value in parse_curves(args.curves):
        run_args = argparse.Namespace(**{**vars(args), name: value})
        run_dir = Path(args.run_dir or RESULTS.parent / "runs" / f"predictor-{args.dataset}-curves") / f"{name}-{value}"
        started = time.time()
        train_student(prep["rows"], prep["ds"].items, prep["ds"].artefacts, hybrid_config(spec, run_args), run_dir)
        points = [(r["step"], r["eval_auc"]) for r in read_log(run_dir / "trainer_log.jsonl")
                  if r.get("eval_auc") is not None]
        best = max(points, key=lambda p: p[1]) if points else (None, None)
        curves.append({"factor": name, "value": value, "run_dir": str(run_dir), "valid_auc": points,
                       "best_step": best[0], "best_valid_auc": best[1], "wall_s": round(time.time() - started),
                       "load": load_average()})
        log(f"curve {name}={value}: best validation AUC {best[1]} at step {best[0]}")
    return {"dataset": spec.dataset, "curves": curves, "early_stop_rows": args.early_stop_rows}


def print_table(record: dict[str, Any]) -> None:
    if "curves" in record:
        print(f"\n{record['dataset']} — validation AUC on {record['early_stop_rows']} rows (choose here, not on test)")
        print("| factor | value | best valid AUC | at step | wall s |")
        print("|---|---|---|---|---|")
        for c in record["curves"]:
            auc = "n/a" if c["best_valid_auc"] is None else f"{c['best_valid_auc']:.3f}"
            print(f"| {c['factor']} | {c['value']} | {auc} | {c['best_step']} | {c['wall_s']} |")
        return
    for view, res in record["views"].items():
        print(f"\n{record['dataset']} — {view}: {res['n']} rows, {res['negatives']} negatives; best single "
              f"baseline {res['best_single_baseline']}")
        print("| method | AUC |")
        print("|---|---|")
        for name, auc in sorted(res["auc"].items(), key=lambda kv: -kv[1]):
            print(f"| {name} | {auc:.3f} |")
        print("| comparison | diff | 95% CI | DeLong p | verdict |")
        print("|---|---|---|---|---|")
        for c in res["paired"]:
            print(f"| {c['a']} - {c['b']} | {c['diff']:+.3f} | [{c['low']:+.3f}, {c['high']:+.3f}] | "
                  f"{c['p_value']:.3g} | {c['verdict']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(SPECS), default="ml1m")
    parser.add_argument("--k", type=int, default=512, help="class-balanced training rows for the student")
    parser.add_argument("--valid-rows", type=int, default=1000, help="validation rows the hybrid is fitted on")
    parser.add_argument("--early-stop-rows", type=int, default=128, help="validation rows for early stopping")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--eval-steps", type=int, default=32)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--label-weight", type=float, default=1.0)
    parser.add_argument("--max-seq-length", type=int, default=768)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--dtype", default="auto", choices=get_args(DType),
                        help="scoring precision (auto: fp32 on CPU, bf16 on CUDA)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no spin-wait collapse on a shared CPU)")
    parser.add_argument("--stacker", choices=["logistic", "gbdt"], default="logistic")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--generated-descriptions", action="store_true",
                        help="embed the release's generated item descriptions for the evidence similarities (Beauty's "
                        "summarise every review, the target user's own included; ML-1M's are written from the title)")
    parser.add_argument("--skip-llm", action="store_true", help="baselines + no-LLM hybrid only")
    parser.add_argument("--test-limit", type=int, default=None, help="smoke runs: evaluate the first N test rows")
    parser.add_argument("--run-dir", default=None, help="student run directory (an adapter there is reused)")
    parser.add_argument("--curves", default=None, help="learning curves instead of a test run, one factor at a "
                        "time: 'k=64,256;label_weight=1,10;model=embedded,gemma3-270m'")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    started = time.time()
    load_before = load_average()
    record = learning_curves(SPECS[args.dataset], args) if args.curves else run(SPECS[args.dataset], args)
    record.update({"command": " ".join(sys.argv), "args": vars(args), "load_before": load_before,
                   "load_after": load_average(), "total_wall_s": round(time.time() - started)})
    suffix = "_curves" if args.curves else ("_nollm" if args.skip_llm else "")
    out = Path(args.out or RESULTS / f"predictor_{args.dataset}{suffix}.json")
    write_json(out, record)
    print_table(record)
    print(f"\nwrote {out}; load averages before {load_before}, after {record['load_after']}")


if __name__ == "__main__":
    main()
