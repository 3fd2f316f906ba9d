"""Throughput of a real stage on the `ray` executor: 1 vs 2 workers against a 2-worker server, and the overhead per
shard against the in-process path.

    REASONREC_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 .venv/bin/python bench/ray_stages.py --items 24

Starts two `python -m reasonrec.cli.llm_serve --threads 1` processes on 127.0.0.1 (the "2-worker server": one model
copy per core), then runs the ReasoningRec describe stage on the first `--items` Beauty items with the `openai`
backend (one request in flight per worker, no cache, a fresh shard directory per run; both servers answer two
warm-up requests first):
  local  : in process, against server A;
  ray x1 : executor=ray, 1 worker, endpoints [A, B] (shard k goes to endpoints[k % 2]);
  ray x2 : executor=ray, 2 workers, same endpoints.
Reports requests/s and tokens/s per run, the 2-vs-1 worker speedup (target >= 1.6x), the overhead per shard
(ray x1 wall minus the compute its worker reported for its shards, over the shards: actor start, Parquet job/result
files, driver ingest; the difference to the in-process run is printed beside it), ray.init time, and the load
average before and after every run (the machine is shared: a ratio measured under load is polluted; see `idle`).
Writes bench/results/ray_stages.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import ray
from stages_backends import free_port, start_server, wait_ready

from reasonrec.data.loaders import load_dataset
from reasonrec.io import write_json
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.runner import RunSummary
from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items

TARGET_SPEEDUP = 1.6


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_once(name: str, raw_llm: dict[str, Any], ds, ids: list[str], config: DescribeConfig) -> dict[str, Any]:
    summaries: list[RunSummary] = []
    load_before = _load()
    llm = build_llm(LLMConfig.from_dict(raw_llm))
    start = time.perf_counter()
    table = describe_items(ds.items, ds.interactions, llm, config, item_ids=ids, summaries=summaries)
    wall = time.perf_counter() - start
    s = summaries[0]
    run_dir = getattr(llm, "last_run_dir", None)
    shard_walls = [x["wall_s"] for x in json.loads((run_dir / "manifest.json").read_text())["shards_run"]] \
        if run_dir is not None else []
    return {
        "run": name, "requests": table.height, "failures": int(table["error"].is_not_null().sum()),
        "wall_s": round(wall, 2), "requests_per_s": round(table.height / wall, 3),
        "tokens_per_s": round((s.prompt_tokens + s.completion_tokens) / wall, 1),
        "shard_compute_s": round(sum(shard_walls), 2), "shards": len(shard_walls),
        "load_before": load_before, "load_after": _load(),
        "texts": table.select("item_id", "text").rows(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=24)
    ap.add_argument("--shard-size", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--out", type=Path, default=Path("bench/results/ray_stages.json"))
    ap.add_argument("--work", type=Path, default=Path("runs/ray_stages"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("reasoningrec-beauty", None)
    ids = ds.items["item_id"].to_list()[: args.items]
    config = DescribeConfig(max_new_tokens=args.max_new_tokens, batch_size=1, show_progress=False)
    procs, bases = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            procs.append(start_server(port, args.work / f"server_{name}.log"))
            bases.append(f"http://127.0.0.1:{port}/v1")
        models = [wait_ready(b, p) for b, p in zip(bases, procs, strict=True)]  # both servers up before timing
        model = models[0]
        base = {"backend": "openai", "base_url": bases[0], "model": model, "concurrency": 1, "cache": False}
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        init_s = time.perf_counter() - t0
        for url in bases:  # warm both servers (first requests allocate) so the first timed run is not penalised
            run_once("warm-up", {**base, "base_url": url}, ds, ids[:2], config)
        runs = [run_once("local", base, ds, ids, config)]
        for workers in (1, 2):
            executor = {"kind": "ray", "workers": workers, "shard_size": args.shard_size, "endpoints": bases,
                        "output_dir": str(args.work / f"shards_{workers}_{time.time_ns()}")}
            runs.append(run_once(f"ray x{workers}", {**base, "executor": executor}, ds, ids, config))
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        if ray.is_initialized():
            ray.shutdown()
    report(args, runs, init_s)


def report(args: argparse.Namespace, runs: list[dict[str, Any]], init_s: float) -> None:
    local, one, two = runs
    shards = -(-args.items // args.shard_size)
    same = local["texts"] == one["texts"] == two["texts"]
    speedup = one["wall_s"] / two["wall_s"]
    cores = os.cpu_count() or 1
    idle = all(max(r["load_before"][0], r["load_after"][0]) < 0.5 * cores for r in runs)
    print(f"{'run':8} {'requests':>8} {'wall s':>8} {'req/s':>7} {'tok/s':>7}  load 1-min before/after")
    for r in runs:
        print(f"{r['run']:8} {r['requests']:>8} {r['wall_s']:>8.1f} {r['requests_per_s']:>7.2f} "
              f"{r['tokens_per_s']:>7.0f}  {r['load_before'][0]:.1f}/{r['load_after'][0]:.1f}")
    # Overhead per shard inside one run (1 worker: wall = shard compute + overhead), immune to load drifting between
    # runs; the difference to the in-process run is printed too.
    overhead = (one["wall_s"] - one["shard_compute_s"]) / shards
    versus_local = (one["wall_s"] - local["wall_s"]) / shards
    print(f"speedup 2 vs 1 workers: {speedup:.2f}x (target >= {TARGET_SPEEDUP}x)"
          + ("" if idle else f"  [machine not idle: load above {0.5 * cores:.1f} on {cores} cores; ratio polluted]"))
    print(f"overhead per shard (ray x1 wall - its shards' compute) / {shards} shards: {overhead:.2f} s "
          f"(ray x1 - local: {versus_local:+.2f} s per shard); ray.init {init_s:.1f} s; identical texts: {same}")
    for r in runs:
        r.pop("texts")
    write_json(args.out, {
        "args": {k: str(v) for k, v in vars(args).items()}, "cores": cores, "ray": ray.__version__,
        "ray_init_s": round(init_s, 2), "shards": shards, "runs": runs, "speedup_2_vs_1": round(speedup, 3),
        "target_speedup": TARGET_SPEEDUP, "overhead_per_shard_s": round(overhead, 3),
        "ray_x1_minus_local_per_shard_s": round(versus_local, 3), "identical_texts": same,
        "idle": idle,
    })
    print(f"wrote {args.out}")
    print(json.dumps({"speedup_2_vs_1": round(speedup, 3), "overhead_per_shard_s": round(overhead, 3)}))


if __name__ == "__main__":
    main()
