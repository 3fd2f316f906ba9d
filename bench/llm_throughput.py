"""LLM throughput on the embedded SmolLM2 against the machine's own roofline: naive loop, reasonrec per kernel,
threads under a CPU-heavy neighbour, llama.cpp.

Workloads (same prompts for every path), built from the ReasoningRec Beauty release files:
  score-1:  Yes/No scoring, one ~800-token prompt per user (only the instruction block is shared);
  score-rr: Yes/No scoring while reranking C candidate targets per user (instruction + profile + history shared);
  gen:      greedy generation of up to `--max-new-tokens` tokens for `--gen` prompts.
Paths: naive = `model(input_ids)` / `model.generate` per prompt (fp32; generation: the first `--batch-size` prompts);
reasonrec[KERNEL] = `HFBackend` with `--kernels` (fp32, bf16, int8, compile), prefilling `--batch-size` prompts per
pass and decoding up to `--decode-batch-size` rows per step; reasonrec[fp32]@decodeN decodes only `--batch-size` rows
per step (generation before decode groups); llamacpp (with `--backends hf,llamacpp`) = `LlamaCppBackend` on the Q4_1
GGUF, `--batch-size` slots fed concurrently, run first so its peak RSS is its own.

Roofline (same run): GEMM peaks at SmolLM2's Linear shapes for fp32/bf16/int8 at 1 and `--threads` threads, and copy
bandwidth. Every row is a fraction of its ceiling (`add_roofline`): scoring rows as GFLOP/s (prompt tokens ×
FLOPs/token / time) against their kernel's GEMM peak (llama.cpp's Q4_1: the int8 peak), generation rows as the
weight bytes read per decode step in GB/s against the copy bandwidth. llama.cpp runs with `--threads` threads,
`--batch-size` slots, `--llama-batch` prompt tokens per step and `--llama-poll` (idle-thread busy-wait, 0-100).
Threads (`--sections threads`): score-1 with a synthetic busy-loop neighbour for the fixed 1- and 2-thread policies,
fixed 2 threads with OMP_WAIT_POLICY=PASSIVE (a child process: libgomp reads it at start), and the adaptive governor
(idle and loaded). Every row records the load; ratios are printed only for rows measured on an idle machine.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/llm_throughput.py --kernels fp32,bf16 --sections roofline,score,gen,threads

Prints tables and writes bench/results/llm_throughput.json. Accuracy of the kernels: bench/kernel_accuracy.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from llm_workloads import (
    decode_steps,
    gen_requests,
    load_release,
    naive_generate,
    naive_score,
    prompts,
    score_agreement,
    score_requests,
)
from machine import (
    LoadMonitor,
    PeakRSS,
    attention_flops_per_token,
    competing_process,
    copy_bandwidth,
    gemm_peaks,
    linear_flops_per_token,
    ratio_or_reason,
    weight_bytes,
)

from reasonrec.io import write_json
from reasonrec.llm.cpu import cpu_capability, thread_governor
from reasonrec.llm.hf import HFBackend

KERNELS = {"fp32": {"dtype": "fp32"}, "bf16": {"dtype": "bf16"}, "int8": {"quantize": "int8"},
           "compile": {"dtype": "fp32", "compile_model": True}}
PEAK_KIND = {"fp32": "fp32", "bf16": "bf16", "int8": "int8", "compile": "fp32", "q4_1": "int8"}


def timed(fn):
    with PeakRSS() as rss, LoadMonitor() as load:
        start = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - start
    return result, wall, rss.peak, load.record


def row(workload: str, path: str, prompts_n: int, tokens: int, wall: float, rss: int, load, **extra) -> dict:
    return {"workload": workload, "path": path, "prompts": prompts_n, "tokens": tokens, "wall_s": wall,
            "prompts_per_s": prompts_n / wall, "tokens_per_s": tokens / wall, "peak_rss_mb": rss / 2**20,
            "load": load.as_dict(), "_load": load, **extra}


def scoring_flops_per_token(backend: HFBackend, reqs: list) -> tuple[int, float]:
    """(prompt tokens, FLOPs per prompt token): every Linear layer (the LM head runs for the last token only) +
    causal attention over half the mean prompt on average."""
    tokens = sum(len(backend.encode(backend.render(r.messages, None, r.assistant_prefix))) for r in reqs)
    return tokens, linear_flops_per_token(backend.model) + attention_flops_per_token(
        backend.model, tokens / len(reqs) / 2)


def score_rows(backend: HFBackend, kernel: str, name: str, reqs: list, checks: dict, naive: bool,
               llama_out: dict) -> list[dict]:
    tokens, flops_per_token = scoring_flops_per_token(backend, reqs)
    rows = []
    if backend.kernels.compile:  # the first calls compile (minutes); the row times the compiled model
        backend.score(reqs[: backend.batch_size])
    if naive:
        ref, wall, rss, load = timed(lambda: naive_score(backend, reqs))
        rows.append(row(name, "naive", len(reqs), tokens, wall, rss, load, kernel="fp32",
                        flops_per_token=flops_per_token))
    ours, wall, rss, load = timed(lambda: backend.score(reqs))
    rows.append(row(name, f"reasonrec[{kernel}]", len(reqs), tokens, wall, rss, load, kernel=kernel,
                    flops_per_token=flops_per_token))
    if naive:
        checks[name] = {"max_abs_logprob_diff_vs_naive": max(abs(n[c] - o.logprobs[c])
                                                             for n, o in zip(ref, ours, strict=True) for c in n),
                        "mean_prompt_tokens": tokens / len(reqs)}
        if name in llama_out:
            checks[f"{name}:llamacpp"] = score_agreement(llama_out[name], ours)
    return rows


def gen_rows(backend: HFBackend, kernel: str, greqs: list, naive: bool, checks: dict, llama_out: dict) -> list[dict]:
    """reasonrec[kernel] with its decode groups; with `naive`, also the naive loop on the first `batch_size`
    prompts (one at a time, so its rate needs no more) and reasonrec[kernel]@decodeN, decoding only `batch_size`
    rows per step as generation did before decode groups."""
    weights = weight_bytes(backend.model)
    rows = []
    if backend.kernels.compile:  # compile the prefill and decode graphs before the timed run
        backend.generate(greqs[: backend.batch_size])
    texts = None
    if naive:
        few = greqs[: backend.batch_size]
        (texts, produced), wall, rss, load = timed(lambda: naive_generate(backend, few))
        rows.append(row("gen", "naive", len(few), produced, wall, rss, load, kernel="fp32", steps=produced,
                        weight_bytes=weights))
    widths = [backend.decode_batch_size]
    if naive and backend.decode_batch_size != backend.batch_size:
        widths.insert(0, backend.batch_size)
    for width in widths:
        wide, backend.decode_batch_size = backend.decode_batch_size, width
        try:
            outs, wall, rss, load = timed(lambda: backend.generate(greqs))
        finally:
            backend.decode_batch_size = wide
        path = f"reasonrec[{kernel}]" + ("" if width == wide else f"@decode{width}")
        steps = decode_steps(outs, width, [r.params.max_new_tokens for r in greqs])
        rows.append(row("gen", path, len(greqs), sum(o.completion_tokens for o in outs), wall, rss, load,
                        kernel=kernel, decode_batch_size=width, steps=steps, weight_bytes=weights))
    if texts is not None:
        checks["gen"] = {"identical_texts": sum(a == o.text for a, o in zip(texts, outs[: len(texts)], strict=True)),
                         "of": len(texts), "mean_prompt_tokens": sum(o.prompt_tokens for o in outs) / len(outs)}
        if "gen" in llama_out:
            checks["gen:llamacpp"] = {"identical_texts_vs_hf": sum(a.text == b.text for a, b in zip(
                llama_out["gen"], outs, strict=True)), "of": len(outs)}
    return rows


def add_roofline(rows: list[dict], peaks: dict, bandwidth: float | None, threads: int) -> None:
    """Every row as a fraction of its ceiling. Scoring: GFLOP/s against the GEMM peak of its kernel at `threads`
    (llama.cpp's Q4_1 dot products run on the int8 units: its nearest ceiling is the int8 peak; it borrows the
    FLOPs per token of an hf row of the same workload). Generation: weight bytes read per decode step as GB/s
    against the copy bandwidth."""
    flops = {r["workload"]: r["flops_per_token"] for r in rows if "flops_per_token" in r}
    for r in rows:
        if "steps" in r:
            gbs = r["steps"] * r["weight_bytes"] / r["wall_s"] / 1e9
            r.update(weight_gb_per_s=gbs, fraction_of_copy_bw=gbs / bandwidth if bandwidth else None)
        elif r["workload"] in flops:
            r.setdefault("flops_per_token", flops[r["workload"]])
            gflops = r["tokens_per_s"] * r["flops_per_token"] / 1e9
            peak = peaks.get(f"{PEAK_KIND[r['kernel']]}@{threads}")
            r.update(gflops=gflops, fraction_of_peak=gflops / peak if peak else None)


def thread_rows(args, reqs: list) -> list[dict]:
    """score-1 (fp32) with a busy neighbour: fixed 1, fixed 2, fixed 2 + PASSIVE (child), adaptive; adaptive idle."""
    rows = []
    backend = HFBackend("embedded", batch_size=args.batch_size, dtype="fp32")
    tokens, flops_per_token = scoring_flops_per_token(backend, reqs)
    backend.score(reqs[:2])  # warm-up
    for label, loaded, policy, n in (("adaptive", False, "adaptive", None), ("fixed-1", True, "fixed", 1),
                                     (f"fixed-{args.threads}", True, "fixed", args.threads),
                                     ("adaptive", True, "adaptive", None)):
        with competing_process(args.neighbours) if loaded else contextlib.nullcontext():
            backend.threads = thread_governor(policy, n, torch.set_num_threads)  # a job started next to it
            _, wall, rss, load = timed(lambda: backend.score(reqs))
        rows.append(row("score-1", f"threads:{label}", len(reqs), tokens, wall, rss, load, kernel="fp32",
                        neighbour=loaded, threads_end=torch.get_num_threads(), flops_per_token=flops_per_token))
    with competing_process(args.neighbours):
        rows.append(_passive_child(args))
    torch.set_num_threads(args.threads)
    return rows


def _passive_child(args) -> dict:
    out = Path(args.out).with_suffix(".passive.json")
    cmd = [sys.executable, __file__, "--sections", "score", "--workloads", "score-1", "--kernels", "fp32",
           "--no-naive", "--threads", str(args.threads), "--users", str(args.users), "--data", args.data,
           "--out", str(out)]
    with LoadMonitor() as load:
        done = subprocess.run(cmd, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}, capture_output=True, text=True,
                              check=False)
    if done.returncode != 0:
        raise SystemExit(f"OMP_WAIT_POLICY=PASSIVE child failed:\n{done.stderr[-2000:]}")
    child = next(r for r in json.loads(out.read_text())["rows"] if r["path"] == "reasonrec[fp32]")
    out.unlink()
    return {**child, "path": f"threads:fixed-{args.threads}+PASSIVE", "neighbour": True, "load": load.record.as_dict(),
            "_load": load.record}


def print_rows(rows: list[dict]) -> None:
    print(f"{'workload':9} {'path':26} {'prompts':>7} {'tokens':>7} {'wall s':>7} {'tok/s':>8} {'GFLOP/s':>8} "
          f"{'of peak':>7} {'GB/s':>6} {'RSS MB':>7} {'others':>6}")
    for r in rows:
        frac = r.get("fraction_of_peak") or r.get("fraction_of_copy_bw")
        frac_text = "-" if frac is None else f"{frac:.2f}"
        print(f"{r['workload']:9} {r['path']:26} {r['prompts']:7d} {r['tokens']:7d} {r['wall_s']:7.1f} "
              f"{r['tokens_per_s']:8.1f} {r.get('gflops', 0):8.1f} {frac_text:>7} "
              f"{r.get('weight_gb_per_s', 0):6.1f} {r['peak_rss_mb']:7.0f} {r['load']['other_busy_cores']!s:>6}")


def ratios(rows: list[dict]) -> dict:
    """reasonrec[k] and llamacpp against naive and reasonrec[fp32] per workload; loaded / idle adaptive threads."""
    out = {}
    for w in sorted({r["workload"] for r in rows}):
        by = {r["path"]: r for r in rows if r["workload"] == w}
        for path, r in by.items():
            if not path.startswith(("reasonrec", "llamacpp")):
                continue
            for base in ("naive", "reasonrec[fp32]", *(p for p in by if "@decode" in p)):
                if base in by and path != base:
                    value, why = ratio_or_reason(r["tokens_per_s"], by[base]["tokens_per_s"], r["_load"],
                                                 by[base]["_load"])
                    out[f"{w}: {path} / {base}"] = round(value, 2) if value else f"refused ({why})"
    loaded = [r for r in rows if r["path"] == "threads:adaptive" and r.get("neighbour")]
    idle = [r for r in rows if r["path"] == "threads:adaptive" and not r.get("neighbour")]
    if loaded and idle:
        value, why = ratio_or_reason(loaded[0]["tokens_per_s"], idle[0]["tokens_per_s"], idle[0]["_load"])
        out["score-1: adaptive with a neighbour / adaptive idle"] = round(value, 2) if value else f"refused ({why})"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("REASONREC_DATA_DIR",
                                                     str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--rerank-users", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--gen", type=int, default=64, help="generation prompts (the naive row runs the first "
                    "--batch-size of them)")
    ap.add_argument("--max-new-tokens", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8, help="scoring and prefill batch (llama.cpp: slots)")
    ap.add_argument("--decode-batch-size", type=int, default=32, help="hf rows decoded together (LLMConfig's)")
    ap.add_argument("--sections", default="roofline,score,gen", help="comma list of roofline,score,gen,threads")
    ap.add_argument("--workloads", default="score-1,score-rr", help="scoring workloads for --sections score")
    ap.add_argument("--kernels", default="fp32,bf16", help=f"comma list of {sorted(KERNELS)}")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive rows")
    ap.add_argument("--gen-prompts", choices=["items", "reasoning"], default="items",
                    help="items: ~150-token product prompts (decode-bound); reasoning: ~800-token ReasoningRec prompts")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the fixed-policy rows and the peaks")
    ap.add_argument("--neighbours", type=int, default=1, help="busy-loop processes for --sections threads")
    ap.add_argument("--backends", default="hf", help="comma list of hf, llamacpp")
    ap.add_argument("--llama-batch", type=int, default=512, help="llama.cpp n_batch (prompt tokens per step)")
    ap.add_argument("--llama-poll", type=int, default=None, help="llama.cpp thread polling 0-100 (default 50)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "llm_throughput.json"))
    args = ap.parse_args()
    sections, kernels = set(args.sections.split(",")), [k for k in args.kernels.split(",") if k]
    if bad := set(kernels) - set(KERNELS):
        ap.error(f"--kernels: unknown {sorted(bad)}")
    torch.set_num_threads(args.threads)
    data = load_release(Path(args.data))
    one, rerank = prompts(data, args.users, args.rerank_users, args.candidates)
    score_sets = {"score-1": score_requests(one), "score-rr": score_requests(rerank)}
    score_sets = {k: v for k, v in score_sets.items() if k in args.workloads.split(",")}
    greqs = gen_requests(data, one, args)

    peaks, bandwidth, identities, checks, rows, llama_out = {}, None, {}, {}, [], {}
    if "roofline" in sections:
        with LoadMonitor() as load:
            peaks = gemm_peaks((1, args.threads) if args.threads != 1 else (1,))
            bandwidth = copy_bandwidth(args.threads)
        print(f"roofline: GEMM GFLOP/s {peaks}; copy {bandwidth:.1f} GB/s; load {load.record.as_dict()}")
    if "llamacpp" in args.backends.split(","):
        from llm_workloads import bench_llamacpp

        rows.extend(bench_llamacpp(args, score_sets, greqs if "gen" in sections else [], identities, timed, row,
                                   llama_out))
    for i, kernel in enumerate(kernels if sections & {"score", "gen"} else []):
        backend = HFBackend("embedded", batch_size=args.batch_size, decode_batch_size=args.decode_batch_size,
                            **KERNELS[kernel])
        identities[kernel] = json.loads(backend.identity.key())
        naive = i == 0 and not args.no_naive
        if "score" in sections:
            for name, reqs in score_sets.items():
                rows.extend(score_rows(backend, kernel, name, reqs, checks, naive, llama_out))
        if "gen" in sections:
            rows.extend(gen_rows(backend, kernel, greqs, naive, checks, llama_out))
        del backend
    if "threads" in sections:
        rows.extend(thread_rows(args, score_sets.get("score-1") or score_requests(one)))
    add_roofline(rows, peaks, bandwidth, args.threads)
    print_rows(rows)
    found = ratios(rows)
    for k, v in found.items():
        print(f"  {k}: {v}")
    print("checks: " + json.dumps(checks))
    write_json(args.out, {
        "config": vars(args), "cpu": cpu_capability().as_dict(), "identities": identities,
        "torch_threads": args.threads, "load_average_end": os.getloadavg(), "gemm_gflops": peaks,
        "copy_gb_per_s": bandwidth,
        "rows": [{k: v for k, v in r.items() if k != "_load"} for r in rows], "ratios": found, "checks": checks,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
