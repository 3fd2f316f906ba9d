"""Scale on paper: measured tokens per LLM call, and from them the cost and wall time of a full ReasoningRec teacher
run (describe every item, profile every user, reason every train/valid/test pair) at 1, 8 and 64 GPUs with vLLM.

    # 1. per-call tokens (real stages on a sample of rows, embedded model, one new token each; minutes of CPU)
    REASONREC_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 .venv/bin/python bench/scaling.py measure --rows 12
    # 2. the projection (reads bench/results/scaling_calls.json + ray_stages.json; rewrites the table in the doc)
    .venv/bin/python bench/scaling.py project --doc docs/scaling.md

`measure`: prompt tokens are what the backend counted for OUR prompts (describe, profile, reason: the teacher stages;
predict: the student's scoring prompt), built by the real stages from the released tables; output tokens are the
released outputs (Mixtral descriptions, profiles and teacher reasoning; the authors' student outputs for Beauty,
the teacher reasoning as the student's target on ML-1M) counted with the same tokenizer (SmolLM2's; see the doc
for what that assumes). `project`: a roofline model of one vLLM engine per GPU whose every assumption is a flag
below and is printed with the result. Writes bench/results/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

RESULTS = Path("bench/results")
CALLS_JSON = RESULTS / "scaling_calls.json"
TABLE_START, TABLE_END = "<!-- scaling-table:start -->", "<!-- scaling-table:end -->"
STAGES = ("describe", "profile", "reason")
GPU_COUNTS = (1, 8, 64)
# Full-run sizes. Beauty / ML-1M: the loaded release (items, users; 3 reasoning pairs per user: train/valid/test
# targets). Fashion is not in the shared data: the paper's Table 5 (6,089 items; its user count is garbled as
# "12.73", read here as 1,273) with Beauty's per-call tokens (same Amazon layout and prompts).
FASHION = {"items": 6089, "users": 1273}


def _stats(values: list[int]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {"n": 0, "mean": 0.0, "p95": 0.0}
    return {"n": len(values), "mean": round(sum(values) / len(values), 1),
            "p95": float(values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)])}


# ---------------------------------------------------------------------------------------------------- measure


def measure(rows: int, cache_path: Path) -> dict[str, Any]:
    import polars as pl

    from reasonrec.data.loaders import load_dataset
    from reasonrec.llm.cache import CachedLLM, LLMCache
    from reasonrec.llm.hf import HFBackend
    from reasonrec.predict import PredictConfig, predict_labels
    from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items
    from reasonrec.stages.reasoningrec.profile import ProfileConfig, profile_users
    from reasonrec.stages.reasoningrec.reason import ReasonConfig, teacher_reasoning

    backend = HFBackend("embedded", batch_size=4)
    llm = CachedLLM(backend, LLMCache(cache_path), batch_size=4)  # a rerun replays the calls it already made
    out: dict[str, Any] = {"tokenizer": backend.identity.model, "rows_per_stage": rows, "datasets": {}}
    for name, domain, train, test in (("reasoningrec-beauty", "beauty", "release_windows_train",
                                       "release_windows_test"),
                                      ("reasoningrec-ml1m", "movies", "seq_ctr_train", "seq_ctr_test")):
        ds = load_dataset(name, None)
        art = ds.artefacts
        desc, prof = art.get("item_descriptions"), art.get("user_profiles")
        one = {"domain": domain, "max_new_tokens": 1, "show_progress": False}
        users = ds.splits[test]["user_id"].unique(maintain_order=True).to_list()[:rows]
        prompts = {
            "describe": describe_items(ds.items, ds.interactions, llm, DescribeConfig(**one),
                                       item_ids=ds.items["item_id"].to_list()[:rows]),
            "profile": profile_users(ds.interactions, ds.splits[test], ds.items, desc, llm, ProfileConfig(**one),
                                     user_ids=users),
            "reason": teacher_reasoning(ds.splits[train], ds.items, desc, prof, llm, ReasonConfig(**one), limit=rows),
            "predict": predict_labels(ds.splits[test], ds.items, desc, prof, llm,
                                      PredictConfig(domain=domain, dataset=name, show_progress=False), limit=rows),
        }
        student = art.get("student_reference_outputs")
        predict_out = (student["output"] if student is not None else art["teacher_reasoning"]["text"])
        outputs = {"describe": desc["text"], "profile": prof["text"], "reason": art["teacher_reasoning"]["text"],
                   "predict": predict_out}
        per_stage = {}
        for stage, table in prompts.items():
            texts = [t for t in outputs[stage].to_list() if t]
            counted = table.filter(pl.col("error").is_null() & (pl.col("prompt_tokens") > 0))["prompt_tokens"]
            per_stage[stage] = {
                "prompt_tokens": _stats(counted.to_list()),
                "output_tokens": _stats([len(backend.encode(t)) for t in texts]),
                "output_source": f"released {stage} outputs ({len(texts)} texts)"
                if stage != "predict" or student is not None else "released teacher reasoning (student target)",
            }
        out["datasets"][name] = {"items": ds.items.height, "users": ds.users.height, "stages": per_stage}
    out["load_average"] = list(os.getloadavg())
    return out


# ---------------------------------------------------------------------------------------------------- project


def gpu_model(a: argparse.Namespace) -> dict[str, float]:
    """Derived per-GPU figures of the roofline model (one vLLM engine, the whole model on one GPU)."""
    flops_per_token = 2 * a.active_params
    weight_bytes = a.total_params * a.bytes_per_param
    kv_budget = a.gpu_mem * a.mem_utilization - weight_bytes - a.activation_reserve
    return {
        "flops_per_token": flops_per_token,
        "weight_bytes": weight_bytes,
        "kv_budget_bytes": kv_budget,
        "prefill_tokens_per_s": a.peak_flops * a.prefill_mfu / flops_per_token,
    }


def decode_step_s(a: argparse.Namespace, m: dict[str, float], batch: int, context: float) -> float:
    """One decode step for `batch` sequences of mean `context` tokens: the slower of memory and compute."""
    memory = (m["weight_bytes"] + batch * context * a.kv_bytes_per_token) / (a.bandwidth * a.bandwidth_eff)
    compute = batch * m["flops_per_token"] / (a.peak_flops * a.decode_mfu)
    return max(memory, compute)


def stage_wall(a: argparse.Namespace, m: dict[str, float], calls: int, prompt: float, output: float, gpus: int,
               shard_overhead_s: float) -> dict[str, float]:
    """Wall time of one stage on `gpus` engines: prefill, then decode in waves of as many sequences as KV fits."""
    per_gpu = math.ceil(calls / gpus)
    max_batch = max(1, int(m["kv_budget_bytes"] // ((prompt + output) * a.kv_bytes_per_token)))
    batch = max(1, min(max_batch, a.max_num_seqs, per_gpu))
    waves = math.ceil(per_gpu / batch)
    prefill = per_gpu * prompt / m["prefill_tokens_per_s"]
    decode = waves * output * decode_step_s(a, m, batch, prompt + output / 2)
    shards = math.ceil(per_gpu / a.shard_size)
    wall = prefill + decode + shards * shard_overhead_s
    return {"calls": calls, "calls_per_gpu": per_gpu, "batch": batch, "waves": waves, "prefill_s": prefill,
            "decode_s": decode, "shard_overhead_s": shards * shard_overhead_s, "wall_s": wall,
            "decode_tokens_per_s_per_gpu": batch / decode_step_s(a, m, batch, prompt + output / 2)}


def dataset_calls(calls: dict[str, Any]) -> dict[str, dict[str, Any]]:
    beauty, ml1m = calls["datasets"]["reasoningrec-beauty"], calls["datasets"]["reasoningrec-ml1m"]

    def sized(d: dict[str, Any], items: int, users: int, source: str) -> dict[str, Any]:
        tokens = {s: (d["stages"][s]["prompt_tokens"]["mean"], d["stages"][s]["output_tokens"]["mean"])
                  for s in STAGES}
        return {"counts": {"describe": items, "profile": users, "reason": 3 * users}, "tokens": tokens,
                "source": source}

    return {
        "Beauty": sized(beauty, beauty["items"], beauty["users"], "release sizes, measured tokens"),
        "Fashion": sized(beauty, FASHION["items"], FASHION["users"], "paper Table 5 sizes, Beauty's tokens"),
        "ML-1M": sized(ml1m, ml1m["items"], ml1m["users"], "release sizes, measured tokens"),
    }


def project(a: argparse.Namespace) -> dict[str, Any]:
    calls = json.loads(a.calls.read_text())
    ray_bench = json.loads(a.ray_bench.read_text()) if a.ray_bench.is_file() else {}
    shard_overhead = a.shard_overhead if a.shard_overhead is not None else max(
        0.0, float(ray_bench.get("overhead_per_shard_s", 0.0)))
    m = gpu_model(a)
    rows = []
    for name, d in dataset_calls(calls).items():
        for gpus in GPU_COUNTS:
            stages = {s: stage_wall(a, m, d["counts"][s], *d["tokens"][s], gpus, shard_overhead) for s in STAGES}
            wall = a.startup_s + sum(v["wall_s"] for v in stages.values())
            gpu_hours = gpus * wall / 3600
            rows.append({"dataset": name, "gpus": gpus, "calls": sum(d["counts"].values()),
                         "tokens_in": sum(d["counts"][s] * d["tokens"][s][0] for s in STAGES),
                         "tokens_out": sum(d["counts"][s] * d["tokens"][s][1] for s in STAGES),
                         "wall_s": wall, "gpu_hours": gpu_hours, "cost_usd": gpu_hours * a.usd_per_gpu_hour,
                         "stages": stages, "source": d["source"]})
    return {"assumptions": {k: v for k, v in vars(a).items() if k not in ("calls", "ray_bench", "doc", "cmd")},
            "derived": m, "shard_overhead_s": shard_overhead, "rows": rows, "calls": calls}


def _hms(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def markdown(result: dict[str, Any]) -> str:
    lines = ["| dataset | GPUs | calls | tokens in / out | wall time | GPU-hours | cost (USD) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['dataset']} | {r['gpus']} | {r['calls']:,} | {r['tokens_in'] / 1e6:.2f} M / "
                     f"{r['tokens_out'] / 1e6:.2f} M | {_hms(r['wall_s'])} | {r['gpu_hours']:.2f} | "
                     f"{r['cost_usd']:.2f} |")
    lines += ["", "| dataset | stage | prompt tokens / call | output tokens / call | source |", "|---|---|---:|---:|---|"]
    for name, d in result["calls"]["datasets"].items():
        for stage, s in d["stages"].items():
            lines.append(f"| {name} | {stage} | {s['prompt_tokens']['mean']:.0f} (p95 {s['prompt_tokens']['p95']:.0f},"
                         f" n={s['prompt_tokens']['n']}) | {s['output_tokens']['mean']:.0f} "
                         f"(p95 {s['output_tokens']['p95']:.0f}) | {s['output_source']} |")
    m = result["derived"]
    derived = (f"Derived per GPU: prefill {m['prefill_tokens_per_s']:,.0f} tok/s; weights "
               f"{m['weight_bytes'] / 1e9:.1f} GB; KV budget {m['kv_budget_bytes'] / 1e9:.1f} GB; Ray overhead "
               f"{result['shard_overhead_s']:.2f} s per shard (bench/ray_stages.json). Generated by "
               "`bench/scaling.py project`; do not edit by hand.")
    lines += ["", derived]
    return "\n".join(lines)


def write_doc(doc: Path, table: str) -> None:
    text = doc.read_text()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{doc}: no {TABLE_START} ... {TABLE_END} block to replace")
    doc.write_text(pattern.sub(lambda _: f"{TABLE_START}\n{table}\n{TABLE_END}", text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    me = sub.add_parser("measure", help="per-call tokens from real stages on a sample of rows")
    me.add_argument("--rows", type=int, default=12)
    me.add_argument("--cache", type=Path, default=Path("runs/scaling/llm_cache.sqlite"))
    pr = sub.add_parser("project", help="cost and wall time at 1/8/64 GPUs from the measured per-call tokens")
    pr.add_argument("--calls", type=Path, default=CALLS_JSON)
    pr.add_argument("--ray-bench", type=Path, default=RESULTS / "ray_stages.json")
    pr.add_argument("--doc", type=Path, default=None, help="rewrite the generated table block in this Markdown file")
    # Model: Mixtral-8x7B-Instruct-v0.1 (the papers' teacher), 4-bit weights as in the paper (nf4) -> AWQ in vLLM.
    pr.add_argument("--total-params", type=float, default=46.7e9)
    pr.add_argument("--active-params", type=float, default=12.9e9, help="2 of 8 experts per token")
    pr.add_argument("--bytes-per-param", type=float, default=0.5, help="4-bit weights")
    pr.add_argument("--kv-bytes-per-token", type=float, default=131072, help="2 x 32 layers x 8 KV heads x 128 x bf16")
    # GPU: NVIDIA H100 SXM 80 GB datasheet figures, with efficiency factors (assumptions, not measurements).
    pr.add_argument("--gpu-mem", type=float, default=80e9)
    pr.add_argument("--mem-utilization", type=float, default=0.9, help="vLLM gpu_memory_utilization")
    pr.add_argument("--activation-reserve", type=float, default=4e9)
    pr.add_argument("--peak-flops", type=float, default=989e12, help="dense BF16 tensor-core peak")
    pr.add_argument("--prefill-mfu", type=float, default=0.35)
    pr.add_argument("--decode-mfu", type=float, default=0.25)
    pr.add_argument("--bandwidth", type=float, default=3.35e12, help="HBM3 bytes/s")
    pr.add_argument("--bandwidth-eff", type=float, default=0.7)
    pr.add_argument("--max-num-seqs", type=int, default=256, help="vLLM's default cap on concurrent sequences")
    pr.add_argument("--startup-s", type=float, default=180.0, help="engine start: weights load + CUDA graphs")
    pr.add_argument("--shard-size", type=int, default=256)
    pr.add_argument("--shard-overhead", type=float, default=None, help="s per shard; default: bench/ray_stages")
    pr.add_argument("--usd-per-gpu-hour", type=float, default=3.0, help="on-demand H100 price assumed")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.cmd == "measure":
        start = time.time()
        result = measure(args.rows, args.cache)
        result["wall_s"] = round(time.time() - start, 1)
        CALLS_JSON.write_text(json.dumps(result, indent=2))
        print(json.dumps(result["datasets"], indent=1))
        print(f"wrote {CALLS_JSON} (load average {result['load_average']})")
        return
    result = project(args)
    table = markdown(result)
    print(table)
    (RESULTS / "scaling.json").write_text(json.dumps(result, indent=2, default=str))
    if args.doc is not None:
        write_doc(args.doc, table)
        print(f"rewrote the table in {args.doc}")


if __name__ == "__main__":
    main()
