"""Issue 11's targets in one table, read from the JSON files `bench/speed_all.sh` wrote (nothing is re-measured).

    .venv/bin/python bench/speed_summary.py bench/results/speed_all

Each line names its source row; a ratio is printed only where the benchmark printed it (both rows measured on an
idle machine), otherwise the benchmark's reason is shown. The reference figures the targets are stated against
("today") are the issue's own idle measurements on this machine type, quoted as given.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

SCORE_TODAY_TOK_S = 746.0  # issue 11: score-1, reasonrec fp32, 2 threads, idle
SCORE_TARGET_X = 3.0
ROOFLINE_TARGET = 0.85
NEIGHBOUR_TARGET = 0.5
GEN_TARGET_X = 2.0
SFT_TARGET_X = 1.5
CLI_TARGET_S = 0.5


def _load(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text()) if path.is_file() else None


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def scoring_lines(llm: dict) -> list[str]:
    rows = {r["path"]: r for r in llm["rows"] if r["workload"] == "score-1"}
    lines = [f"roofline GEMM GFLOP/s {llm['gemm_gflops']}; copy {_fmt(llm['copy_gb_per_s'], '.1f')} GB/s"]
    for path, r in rows.items():
        lines.append(f"score-1 {path:22} {r['tokens_per_s']:8.1f} tok/s  x{r['tokens_per_s'] / SCORE_TODAY_TOK_S:4.2f} "
                     f"of today's {SCORE_TODAY_TOK_S:.0f} (target x{SCORE_TARGET_X:.0f} with bf16/int8)  "
                     f"{_fmt(r.get('fraction_of_peak'))} of its peak (target {ROOFLINE_TARGET} for fp32)  "
                     f"idle: {r['load']['idle']}")
    lines += [f"  {k}: {v}" for k, v in llm["ratios"].items() if k.startswith("score-1")]
    return lines


def generation_lines(llm: dict) -> list[str]:
    lines = []
    for r in (r for r in llm["rows"] if r["workload"] == "gen"):
        lines.append(f"gen     {r['path']:22} {r['tokens_per_s']:8.1f} tok/s  {_fmt(r.get('weight_gb_per_s'), '.1f')} "
                     f"GB/s = {_fmt(r.get('fraction_of_copy_bw'))} of copy bandwidth  idle: {r['load']['idle']}")
    lines += [f"  {k}: {v}" for k, v in llm["ratios"].items() if k.startswith("gen")]
    target = (f"  target: x{GEN_TARGET_X:.0f} of today's batched HF (8 rows per step: reasonrec[fp32]@decode8), "
              "or llama.cpp's rate, whichever is higher")
    return [*lines, target]


def thread_lines(threads: dict) -> list[str]:
    lines = [f"threads {r['path']:30} neighbour={r.get('neighbour', False)!s:5} {r['tokens_per_s']:8.1f} tok/s"
             for r in threads["rows"] if r["path"].startswith("threads:")]
    lines += [f"  {k}: {v}  (target >= {NEIGHBOUR_TARGET})" for k, v in threads["ratios"].items() if "neighbour" in k]
    return lines


def sft_lines(sft: dict) -> list[str]:
    base = sft["args"]["baseline"]
    lines = [f"sft     {r['strategy']:15} {r['supervised_tokens_per_s']:7.1f} supervised tok/s  eval loss "
             f"{r['eval_loss']:.4f} after {r['timed_steps'] + 1} steps  x{base}: "
             f"{r['speedup_vs_baseline'] or 'refused (' + r['speedup_refused'] + ')'}" for r in sft["results"]]
    return [*lines, f"  target: >= x{SFT_TARGET_X} at equal validation loss"]


def accuracy_lines(acc: dict) -> list[str]:
    return [f"gate    {v:8} max|dP(yes)| {r['max_abs_p_yes_diff']:.4f}  |dAUC| {_fmt(r['abs_auc_diff'], '.4f')}  within "
            f"bounds (0.01 / 0.005, {acc['prompts']} prompts): {r['within_bounds']}" for v, r in acc["variants"].items()]


def cli_lines(cli: dict) -> list[str]:
    rows = cli["rows"]
    slowest = max(rows, key=lambda r: r["median_cpu_s"])
    line = (f"cli     {sum(r['under_target_cpu'] for r in rows)}/{len(rows)} --help under {CLI_TARGET_S} s CPU; "
            f"slowest {slowest['command']}: {slowest['median_cpu_s']:.2f} s CPU, {slowest['median_wall_s']:.2f} s wall")
    return [line]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    folder = ap.parse_args().folder
    sections = (("llm_throughput.json", scoring_lines), ("llm_throughput.json", generation_lines),
                ("llm_threads.json", thread_lines), ("sft_throughput.json", sft_lines),
                ("kernel_accuracy.json", accuracy_lines), ("cli_startup.json", cli_lines))
    print(f"issue 11 targets from {folder} (load average now {os.getloadavg()})")
    for name, lines in sections:
        data = _load(folder, name)
        print("\n".join(lines(data)) if data is not None else f"{name}: missing (that step failed or was skipped)")


if __name__ == "__main__":
    main()
