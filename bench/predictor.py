"""Issue 13's benchmark: does an explaining predictor beat the CF and user-statistics baselines on enough rows?

One command per dataset (ReasoningRec ML-1M: the 1,880 test users with released teacher reasoning, and all 6,040
CTR windows for methods that need no reference; Beauty: all 622 labelled test rows, with and without the 77 rows
whose target repeats a history item). For each:

1. leak-free features (`reasonrec.features`: window user stats, fitted item stats, MF score; train/valid rows
   cross-fitted);
2. the single baselines on the test rows (user mean, user like-share, item mean, MF, SASRec, Caser);
3. the CF-aware student: label-only completions on K class-balanced train rows whose prompts state the facts,
   LoRA on the embedded SmolLM2 (or `--model`), then P(yes) on the validation rows used for stacking and on the
   test rows (one forward pass each, bf16 where the CPU has it, through the LLM cache: a rerun recomputes nothing);
4. the hybrid: the stacker fitted on validation rows only, with and without the student's log-odds;
5. paired comparisons on the same test rows (`reasonrec.eval.paired`): hybrid - best single baseline, hybrid -
   no-LLM ablation, student - each user-statistics baseline; 95% bootstrap CI + DeLong p.

Prints a table and writes bench/results/predictor.json with the command, the load averages and wall times.

    .venv/bin/python bench/predictor.py --dataset ml1m [--k 512] [--valid-rows 1000] [--skip-llm]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reasonrec.baselines import TrainData, make_baseline
from reasonrec.data.loaders import load_dataset
from reasonrec.eval.bootstrap import rank_auc
from reasonrec.eval.paired import best_reference, paired_auc_difference
from reasonrec.features import FeatureConfig, leak_free_features, with_facts
from reasonrec.io import write_json
from reasonrec.methods.hybrid.stacker import LLM_TERM, Stacker, StackerConfig

DATA_ROOT = Path(os.environ.get("REASONREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"
SINGLE_BASELINES = ("user-mean", "user-like-share", "item-mean", "mf", "sasrec", "caser")
USER_STAT_BASELINES = ("user-mean", "user-like-share")


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
    ds = load_dataset(spec.dataset, data_root=DATA_ROOT)
    tables = {s: ds.splits[spec.prefix + s].filter(pl.col("label").is_not_null()) for s in ("train", "valid", "test")}
    held = pl.concat([ds.splits[spec.prefix + s].select("user_id", "item_id") for s in ("valid", "test")]).unique()
    cf_rows = ds.interactions.join(held, on=["user_id", "item_id"], how="anti")
    features = leak_free_features(tables, cf_rows, FeatureConfig(like_threshold=spec.like_threshold))
    test = tables["test"]
    evaluated = np.ones(test.height, dtype=bool)
    if args.test_limit is not None:  # smoke runs: the first N rows only
        evaluated[args.test_limit:] = False
    if spec.reference_users:
        teacher = ds.artefacts["teacher_reasoning"].filter(pl.col("split") == "test")["user_id"].cast(pl.String)
        evaluated = test["user_id"].is_in(teacher.unique().implode()).to_numpy()
    repeated = np.array([t in (h or []) for t, h in zip(test["item_id"].to_list(),
                                                         test["history_item_ids"].to_list(), strict=True)])
    return {"ds": ds, "tables": tables, "cf_rows": cf_rows, "features": features, "evaluated": evaluated,
            "repeated": repeated}


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


def student_scores(spec: Spec, prep: dict[str, Any], args: argparse.Namespace, run_dir: Path
                   ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train (or reuse) the CF-aware label-only student; its log-odds on the stacking rows and the test rows."""
    from reasonrec.llm.registry import LLMConfig, build_llm
    from reasonrec.predict import PredictConfig, predict_labels
    from reasonrec.train.lora import LoRAConfig, train_lora
    from reasonrec.train.sft_data import SFTDataConfig, build_reasoningrec_sft, load_tokenizer

    tables, feats, ds = prep["tables"], prep["features"], prep["ds"]
    rows = {s: with_facts(tables[s], feats[s], spec.scale_max) for s in tables}
    sft = SFTDataConfig(k=args.k, completion="label", balance_classes=True, include_profile=False,
                        include_descriptions=False, like_threshold=spec.like_threshold, domain=spec.domain,
                        max_seq_length=args.max_seq_length, seed=args.seed)
    adapter = run_dir / "adapter"
    info: dict[str, Any] = {"k": args.k, "model": args.model, "lora_r": args.lora_r, "lr": args.lr}
    if not (adapter / "adapter_config.json").exists():
        tokenizer = load_tokenizer(args.model)
        train = build_reasoningrec_sft(rows["train"], ds.items, None, None, None, tokenizer, sft, split="train")
        valid = build_reasoningrec_sft(rows["valid"].tail(args.early_stop_rows), ds.items, None, None, None,
                                       tokenizer, sft, split="valid", sample=False)
        lora = LoRAConfig(model=args.model, r=args.lora_r, alpha=2 * args.lora_r, learning_rate=args.lr,
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], num_train_epochs=args.epochs,
                          max_seq_length=args.max_seq_length, eval_strategy="steps", eval_steps=args.eval_steps,
                          patience=args.patience, valid_limit=args.early_stop_rows, warmup_steps=0.05,
                          n_threads=args.threads, max_steps=args.max_steps)
        log(f"training on {len(train)} examples ({train.stats.get('yes')} yes / {train.stats.get('no')} no)")
        result = train_lora(train, valid, lora, run_dir, command="bench/predictor.py")
        info.update({"train_wall_s": round(result.wall_s), "best_valid_auc": result.best_metric,
                     "best_step": result.best_step, "steps": result.global_step, "load_after_train": load_average()})
    llm = build_llm(LLMConfig(adapter=str(adapter), model=args.model, dtype=args.dtype, n_threads=args.threads,
                              batch_size=4))
    config = PredictConfig(method="reasoningrec", completion="label", include_profile=False,
                           include_descriptions=False, like_threshold=spec.like_threshold, domain=spec.domain,
                           max_prompt_tokens=args.max_seq_length - 16, show_progress=False, batch_size=4)
    out = {}
    evaluated = prep["evaluated"]
    for split, table in (("valid", rows["valid"].head(args.valid_rows)),
                         ("test", rows["test"].filter(pl.Series(evaluated)))):
        started = time.time()
        preds = predict_labels(table, ds.items, None, None, llm, config)
        p = np.clip(preds["score"].to_numpy().astype(np.float64), 1e-6, 1 - 1e-6)
        out[split] = np.log(p) - np.log1p(-p)
        if split == "test":  # only the evaluated rows are scored (the 1,880 reference users on ML-1M)
            out[split] = np.full(len(evaluated), np.nan)
            out[split][evaluated] = np.log(p) - np.log1p(-p)
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
    if "student" in scores:
        pairs += [("student", b) for b in USER_STAT_BASELINES]
    return {"n": len(y), "negatives": int((y == 0).sum()), "auc": aucs, "best_single_baseline": best,
            "paired": comparisons(y, scores, pairs, resamples)}


def run(spec: Spec, args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    prep = prepare(spec, args)
    log(f"{spec.dataset}: features in {time.time() - started:.0f}s")
    scores = single_baselines(spec, prep)
    tables, feats = prep["tables"], prep["features"]
    valid_rows = min(args.valid_rows, tables["valid"].height)
    fit_table = feats["valid"].head(valid_rows)
    fit_y = tables["valid"]["label"].to_numpy()[:valid_rows]
    test_table = feats["test"]
    record: dict[str, Any] = {"dataset": spec.dataset, "stacking_rows": valid_rows,
                              "stacking_negatives": int((fit_y == 0).sum())}
    ablation_cfg = StackerConfig(model=args.stacker).without(LLM_TERM)
    ablation = Stacker(ablation_cfg).fit(fit_table, fit_y)
    scores["hybrid-no-llm"] = ablation.predict_proba(test_table)
    record["ablation_weights"] = ablation.weights()
    if not args.skip_llm:
        run_dir = Path(args.run_dir or RESULTS.parent / "runs" / f"predictor-{args.dataset}-k{args.k}")
        llm_scores, record["student"] = student_scores(spec, prep, args, run_dir)
        fit_table = fit_table.with_columns(pl.Series(LLM_TERM, llm_scores["valid"]))
        scored = prep["evaluated"]
        test_table = test_table.with_columns(pl.Series(LLM_TERM, llm_scores["test"]))
        hybrid = Stacker(StackerConfig(model=args.stacker)).fit(fit_table, fit_y)
        scores["hybrid"] = np.full(len(scored), np.nan)
        scores["hybrid"][scored] = hybrid.predict_proba(test_table.filter(pl.Series(scored)))
        scores["student"] = llm_scores["test"]
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


def print_table(record: dict[str, Any]) -> None:
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
    parser.add_argument("--max-seq-length", type=int, default=768)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--dtype", default="bfloat16", help="scoring precision (training is fp32 on CPU)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no spin-wait collapse on a shared CPU)")
    parser.add_argument("--stacker", choices=["logistic", "gbdt"], default="logistic")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-llm", action="store_true", help="baselines + no-LLM hybrid only")
    parser.add_argument("--test-limit", type=int, default=None, help="smoke runs: evaluate the first N test rows")
    parser.add_argument("--run-dir", default=None, help="student run directory (an adapter there is reused)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    started = time.time()
    load_before = load_average()
    record = run(SPECS[args.dataset], args)
    record.update({"command": " ".join(sys.argv), "args": vars(args), "load_before": load_before,
                   "load_after": load_average(), "total_wall_s": round(time.time() - started)})
    out = Path(args.out or RESULTS / f"predictor_{args.dataset}{'_nollm' if args.skip_llm else ''}.json")
    write_json(out, record)
    print_table(record)
    print(f"\nwrote {out}; load averages before {load_before}, after {record['load_after']}")
    print(json.dumps({k: record[k] for k in ("stacking_rows", "stacking_negatives")}))


if __name__ == "__main__":
    main()
