"""Accuracy gate for faster kernels: P(yes) and AUC of bf16 / int8 against fp32 on the same Beauty prompts.

A faster path may become a *default* only if, on 200 Beauty prompts, P(yes) stays within 0.01 of fp32 (max over
prompts) and AUC within 0.005. The prompts are the student's own (`build_reasoningrec_sft`, validation split: choices
are made on validation, never on test), every disliked row plus a seeded sample of liked rows (Beauty is 93% liked:
a uniform sample would hold ~14 negatives and the AUC would mean little). Scores are read where `predict` reads
them: after "Prediction:", choices " Yes"/" No", through `HFBackend.score`. Accuracy does not depend on the load,
so this runs on a shared machine too; the wall times it prints do (load recorded).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/kernel_accuracy.py --n 200 --variants bf16,int8

Prints a table and writes bench/results/kernel_accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import polars as pl
import torch
from machine import LoadMonitor

from reasonrec.auc import roc_auc
from reasonrec.data.loaders import load_dataset
from reasonrec.io import write_json
from reasonrec.llm.cpu import thread_governor
from reasonrec.llm.hf import HFBackend
from reasonrec.stages.student import LABEL_SCORING
from reasonrec.train.callbacks import score_requests
from reasonrec.train.sft_data import SFTDataConfig, build_reasoningrec_sft, load_tokenizer

MAX_P_YES_DIFF = 0.01
MAX_AUC_DIFF = 0.005
VARIANTS = {  # name → HFBackend kernel arguments
    "fp32": {"dtype": "fp32"},
    "bf16": {"dtype": "bf16"},
    "int8": {"quantize": "int8"},
    "compile": {"dtype": "fp32", "compile_model": True},
}


def gate_prompts(data_dir: str | None, n: int, seed: int) -> tuple[list, list[int], float]:
    """(score requests, labels, mean prompt tokens): the validation split's negatives (up to half) + seeded
    positives."""
    ds = load_dataset("reasoningrec-beauty", data_dir)
    tok = load_tokenizer()
    a = ds.artefacts
    valid = build_reasoningrec_sft(ds.splits["release_windows_valid"], ds.items, a.get("item_descriptions"),
                                   a.get("user_profiles"), a.get("teacher_reasoning"), tok, SFTDataConfig(),
                                   split="valid", sample=False)
    table = valid.table.with_row_index("_i")
    negatives = table.filter(pl.col("label") == 0).head(n // 2)
    positives = table.filter(pl.col("label") == 1).sample(n=max(0, n - negatives.height), seed=seed)
    chosen = pl.concat([negatives, positives]).head(n).sort("_i")
    prefix, choices = LABEL_SCORING["reasoningrec"]
    prompts = [json.loads(p) for p in chosen["prompt"].to_list()]
    return (score_requests(prompts, prefix, choices), chosen["label"].to_list(),
            float(chosen["prompt_tokens"].mean()))


def score(variant: str, requests: list, batch_size: int, threads: int) -> tuple[list[float], float, dict]:
    governor = thread_governor("adaptive", threads, torch.set_num_threads)  # the shared machine's free cores
    backend = HFBackend("embedded", batch_size=batch_size, threads=governor, **VARIANTS[variant])
    with LoadMonitor() as load:
        start = time.perf_counter()
        out = backend.score(requests)
        wall = time.perf_counter() - start
    errors = [o.error for o in out if o.error]
    if errors:
        raise SystemExit(f"{variant}: {len(errors)} scoring errors, first: {errors[0]}")
    return [o.probs[r.choices[0]] for o, r in zip(out, requests, strict=True)], wall, load.record.as_dict()


def compare(reference: list[float], candidate: list[float], labels: list[int]) -> dict:
    diffs = [abs(a - b) for a, b in zip(reference, candidate, strict=True)]
    auc_ref, auc = roc_auc(labels, reference), roc_auc(labels, candidate)
    auc_diff = abs(auc - auc_ref) if auc is not None and auc_ref is not None else None
    return {"max_abs_p_yes_diff": max(diffs), "mean_abs_p_yes_diff": sum(diffs) / len(diffs), "auc": auc,
            "auc_fp32": auc_ref, "abs_auc_diff": auc_diff,
            "within_bounds": max(diffs) <= MAX_P_YES_DIFF and auc_diff is not None and auc_diff <= MAX_AUC_DIFF}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("REASONREC_DATA_DIR"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="bf16,int8", help=f"comma list of {sorted(set(VARIANTS) - {'fp32'})}")
    ap.add_argument("--threads", type=int, default=2, help="cap for the adaptive thread policy")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "kernel_accuracy.json"))
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if unknown := set(variants) - set(VARIANTS):
        ap.error(f"--variants: unknown {sorted(unknown)}")
    requests, labels, mean_tokens = gate_prompts(args.data, args.n, args.seed)
    scores, walls, loads = {}, {}, {}
    for variant in ["fp32", *variants]:
        scores[variant], walls[variant], loads[variant] = score(variant, requests, args.batch_size, args.threads)
        print(f"{variant}: {walls[variant]:.1f} s, load {loads[variant]}", flush=True)
    rows = {v: {**compare(scores["fp32"], scores[v], labels), "wall_s": walls[v], "load": loads[v]}
            for v in variants}
    print(f"{len(requests)} prompts ({sum(labels)} liked), mean {mean_tokens:.0f} prompt tokens; "
          f"bounds: |ΔP(yes)| ≤ {MAX_P_YES_DIFF}, |ΔAUC| ≤ {MAX_AUC_DIFF}")
    print(f"{'variant':8} {'max|ΔP|':>8} {'mean|ΔP|':>9} {'AUC':>7} {'AUC fp32':>8} {'|ΔAUC|':>7} {'ok':>4} {'wall s':>7}")
    for v, r in rows.items():
        auc, auc_ref, auc_diff = (("-" if x is None else f"{x:.4f}") for x in (r["auc"], r["auc_fp32"],
                                                                                 r["abs_auc_diff"]))
        print(f"{v:8} {r['max_abs_p_yes_diff']:8.4f} {r['mean_abs_p_yes_diff']:9.5f} {auc:>7} {auc_ref:>8} "
              f"{auc_diff:>7} {'yes' if r['within_bounds'] else 'no':>4} {r['wall_s']:7.1f}")
    write_json(args.out, {"config": vars(args), "prompts": len(requests), "liked": sum(labels),
                          "mean_prompt_tokens": mean_tokens, "fp32_wall_s": walls["fp32"], "fp32_load": loads["fp32"],
                          "bounds": {"max_abs_p_yes_diff": MAX_P_YES_DIFF, "abs_auc_diff": MAX_AUC_DIFF},
                          "variants": rows, "p_yes": scores, "labels": labels})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
