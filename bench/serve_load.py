"""Load on `reasonrec serve BUNDLE` from 32 concurrent loopback clients, with and without micro-batching.

    HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python bench/serve_load.py [--requests 96] [--clients 32]

The bundle is the own-data shop of the tests, grown to enough users that no request repeats (each request asks a
different user's list, so the LLM cache answers nothing and every candidate is a real forward pass). The same
request list runs against two servers, each with a fresh LLM cache:
  batched       limits.max_batch=32: score jobs queued together (from any request) are taken together, and each
                list's candidates go to the model as one batch that computes their shared prompt prefix
                (profile + history) once;
  one-at-a-time limits.max_batch=1: every candidate its own forward pass.
Per mode: requests/s, p50/p95/p99 latency, statuses (target: 0 responses outside 2xx/4xx, 0 transport errors;
no request is sent after `--deadline`, the ones in flight finish),
the worker's mean score-batch size, and afterwards a correctness probe (the probe user's list equals the one
served before the load; 401 without the key; 404 for an unknown user; /health/ready 200). Every phase has a time
bound (`--deadline`) and records the load average: the machine is shared, so absolute numbers move with it, the
batched/one-at-a-time ratio on the same requests much less.

Prints a table and writes bench/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from reasonrec.io import write_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "serve"))
from own_data import build_shop
from serve_helpers import metric, server_process

from reasonrec.bundle import BundleConfig, BundleSources, write_bundle

KEY_ENV, KEY = "REASONREC_BENCH_REC_KEY", "bench-rec-key-not-secret"
RESULTS = ROOT / "bench" / "results" / "serve_load.json"
PROBE_USER = "user0000"
MODES = {"batched": 32, "one-at-a-time": 1}
REQUEST_TIMEOUT_S = 600


def build_bundle(root: Path, users: int) -> Path:
    shop = build_shop(root, users=users, per_user=9, seed=11, id_width=4)
    config = BundleConfig(name="shop-load", dataset="shop", domain="beauty", include_descriptions=False,
                          include_profile=False)
    return write_bundle(BundleSources(shop["prepared"], shop["cf"]), config, root / "bundle")


async def _client(client: httpx.AsyncClient, queue: asyncio.Queue, deadline: float, n: int,
                  out: list[tuple[float, int | str]]) -> None:
    """Send requests until the queue is empty or the deadline passes (no new request after it; one in flight
    finishes, bounded by the server's request_timeout_s)."""
    while time.monotonic() < deadline:
        try:
            user = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        started = time.perf_counter()
        try:
            response = await client.get(f"/api/recommend/{user}", params={"n": n}, timeout=REQUEST_TIMEOUT_S + 30)
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        out.append((time.perf_counter() - started, status))


async def _load(root: str, users: list[str], clients: int, deadline_s: float, n: int) -> dict[str, Any]:
    queue: asyncio.Queue = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)
    results: list[tuple[float, int | str]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    started = time.monotonic()
    deadline = started + deadline_s
    async with httpx.AsyncClient(base_url=root, headers={"X-API-Key": KEY}, limits=limits) as client:
        await asyncio.gather(*(_client(client, queue, deadline, n, results) for _ in range(clients)))
    wall = time.monotonic() - started
    latencies = np.array([s for s, status in results if status == 200])
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    bad = sum(c for s, c in statuses.items() if not (s.isdigit() and 200 <= int(s) < 500))
    return {
        "requests_sent": len(results), "requests_ok": len(latencies), "unsent": queue.qsize(),
        "wall_s": round(wall, 2), "requests_per_s": round(len(latencies) / wall, 3) if wall else None,
        **{f"p{q}_s": round(float(np.percentile(latencies, q)), 3) if len(latencies) else None for q in (50, 95, 99)},
        "statuses": statuses, "errors_non_4xx": bad,
    }


def _probe(root: str) -> dict[str, Any]:
    headers = {"X-API-Key": KEY}
    listing = httpx.get(f"{root}/api/recommend/{PROBE_USER}", params={"n": 5}, headers=headers, timeout=300)
    return {
        "list": [(i["item_id"], round(i["p_like"], 6)) for i in listing.json()["items"]] if listing.is_success
        else listing.status_code,
        "no_key": httpx.get(f"{root}/api/recommend/{PROBE_USER}", timeout=30).status_code,
        "unknown_user": httpx.get(f"{root}/api/recommend/nobody", headers=headers, timeout=30).status_code,
        "ready": httpx.get(f"{root}/health/ready", timeout=30).status_code,
    }


def run_mode(bundle: Path, work: Path, mode: str, users: list[str], args: argparse.Namespace) -> dict[str, Any]:
    server_args = [str(bundle), "--set", "port={port}", "--set", f"api_key_env={KEY_ENV}", "--set",
                   f"threads={args.threads}", "--set", f"llm_cache={work / f'{mode}_cache.sqlite'}", "--set",
                   f"feedback_db={work / f'{mode}_feedback.sqlite'}", "--set", f"n_candidates={args.candidates}",
                   "--set", f"limits.max_batch={MODES[mode]}", "--set", f"limits.request_timeout_s={REQUEST_TIMEOUT_S}"]
    env = {KEY_ENV: KEY, "HF_HUB_OFFLINE": "1"}
    with server_process("reasonrec.cli.serve", server_args, env, work / f"{mode}.log", 600,
                        health="/health/ready") as (root, _):
        before = _probe(root)
        load_start = os.getloadavg()
        result = asyncio.run(_load(root, users, args.clients, args.deadline, args.n))
        load_end = os.getloadavg()
        batches = metric(root, "reasonrec_score_batches_total", KEY)
        scores = metric(root, "reasonrec_scores_total", KEY)
        after = _probe(root)
    return {
        **result, "mode": mode, "max_batch": MODES[mode], "score_passes": int(scores),
        "mean_batch": round(scores / batches, 2) if batches else None,
        "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in load_end],
        "probe_before": before, "probe_after": after,
        "correct_after": before["list"] == after["list"] and after["no_key"] == 401
        and after["unknown_user"] == 404 and after["ready"] == 200,
    }


def table(results: dict[str, Any]) -> str:
    head = (f"{'mode':<14} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'ok/sent':>9} {'non-4xx':>8} "
            f"{'batch':>6} {'correct':>8} {'load avg (start→end)':>22}")
    lines = [head, "-" * len(head)]
    for mode in MODES:
        r = results["modes"][mode]
        lines.append(f"{mode:<14} {r['requests_per_s']:>7} {r['p50_s']:>7} {r['p95_s']:>7} {r['p99_s']:>7} "
                     f"{r['requests_ok']:>4}/{r['requests_sent']:<4} {r['errors_non_4xx']:>8} "
                     f"{r['mean_batch']:>6} {r['correct_after']!s:>8} "
                     f"{r['loadavg_start'][0]:>9} → {r['loadavg_end'][0]:<9}")
    lines.append(f"batching gain (same {results['requests']} requests, req/s batched / one-at-a-time): "
                 f"{results['batching_gain']}")
    return "\n".join(lines)


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=48, help="distinct users asked, same list in both modes")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--n", type=int, default=3, help="items per list")
    parser.add_argument("--candidates", type=int, default=4, help="CF candidates scored per list")
    parser.add_argument("--deadline", type=float, default=480.0, help="seconds each mode may run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        work = Path(tmp)
        bundle = build_bundle(work, users=args.requests + 8)
        users = [f"user{u:04d}" for u in range(1, args.requests + 1)]  # the probe user is never in the load
        modes = {mode: run_mode(bundle, work, mode, users, args) for mode in MODES}
    batched, single = modes["batched"]["requests_per_s"], modes["one-at-a-time"]["requests_per_s"]
    results = {
        "bench": "serve_load", "requests": args.requests, "clients": args.clients, "n": args.n,
        "candidates": args.candidates, "threads": args.threads, "cpu_count": os.cpu_count(),
        "batching_gain": round(batched / single, 2) if batched and single else None, "modes": modes,
    }
    print(table(results))
    write_json(RESULTS, results)
    print(f"wrote {RESULTS}")
    return results


if __name__ == "__main__":
    main()
