"""Benchmark: `data prepare` end-to-end (load -> filter -> split -> write Parquet + manifest).

Runs ML-100K (real files) and synthetic 10x / 100x scale-ups generated with `synthetic_like` (same per-user
length, item popularity and rating distributions; each real item gets N look-alike copies) and written in
ML-100K format, so every run goes through the real loader. Each run is a fresh subprocess: wall time of the
prepare call, wall time of the whole process (imports included) and peak RSS (ru_maxrss) are measured there.

    .venv/bin/python bench/data_prep.py            # prints a table, writes bench/results/data_prep.json

Target: ML-100K end-to-end < 5 s; time and memory growing roughly linearly with rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "data_prep.json"


def worker(data_root: Path, out: Path) -> None:
    """One measured prepare run; prints a JSON line with its numbers."""
    t_process = time.perf_counter()
    from reasonrec.data.prepare import PrepareConfig, prepare

    t0 = time.perf_counter()
    prepared = prepare(PrepareConfig(dataset="movielens-100k", data_dir=data_root), out)
    prepare_s = time.perf_counter() - t0
    print(json.dumps({
        "prepare_s": prepare_s,
        "process_s": time.perf_counter() - t_process,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": prepared.dataset.interactions.height,
        "users": prepared.dataset.interactions["user_id"].n_unique(),
        "items": prepared.dataset.interactions["item_id"].n_unique(),
        "test_targets": prepared.split.test.height,
    }))


def run_once(data_root: Path, work: Path) -> dict:
    out = Path(tempfile.mkdtemp(dir=work, prefix="out-"))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", "--data-root", str(data_root), "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"worker failed ({data_root}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["subprocess_s"] = wall
    return result


def make_synthetic(reference_root: Path, scale: int, work: Path, seed: int) -> Path:
    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.synthetic import synthetic_like, write_movielens_100k_format

    reference = load_dataset("movielens-100k", reference_root).interactions
    root = work / f"synthetic-x{scale}"
    write_movielens_100k_format(root / "movielens-100k", synthetic_like(reference, scale, seed=seed))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-root", type=Path, help="Data root holding movielens-100k/ (default: shared data).")
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scales", default="1,10,100", help="Comma-separated scale factors (1 = real ML-100K).")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per scale (median reported).")
    parser.add_argument("--repeats-large", type=int, default=1, help="Runs for scales >= 100 (slow).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the synthetic generator.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="Where to write the JSON results.")
    args = parser.parse_args()
    if args.worker:
        worker(args.data_root, args.out)
        return

    from reasonrec.paths import data_dir

    reference_root = data_dir(args.data_root or (REPO.parent / "shared" / "data"))
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-data-prep-") as tmp:
        work = Path(tmp)
        for scale in (int(s) for s in args.scales.split(",")):
            t0 = time.perf_counter()
            root = reference_root if scale == 1 else make_synthetic(reference_root, scale, work, args.seed)
            generate_s = time.perf_counter() - t0 if scale != 1 else 0.0
            repeats = args.repeats_large if scale >= 100 else args.repeats
            runs = [run_once(root, work) for _ in range(repeats)]
            row = {
                "dataset": "movielens-100k" if scale == 1 else f"synthetic x{scale}",
                "scale": scale,
                "rows": runs[0]["rows"],
                "users": runs[0]["users"],
                "items": runs[0]["items"],
                "repeats": repeats,
                "prepare_s_median": statistics.median(r["prepare_s"] for r in runs),
                "process_s_median": statistics.median(r["process_s"] for r in runs),
                "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
                "prepare_s_runs": [r["prepare_s"] for r in runs],
                "generate_s": generate_s,
            }
            rows.append(row)
            print(f"done {row['dataset']}: {row['prepare_s_median']:.2f} s", file=sys.stderr, flush=True)

    base = rows[0]
    print(f"{'dataset':<18}{'rows':>12}{'users':>9}{'items':>9}{'n':>3}{'prepare s':>11}{'process s':>11}"
          f"{'s/Mrow':>9}{'peak RSS MB':>13}{'time x':>8}")
    for r in rows:
        r["seconds_per_million_rows"] = r["prepare_s_median"] / r["rows"] * 1e6
        r["time_ratio_vs_first"] = r["prepare_s_median"] / base["prepare_s_median"]
        print(f"{r['dataset']:<18}{r['rows']:>12,}{r['users']:>9,}{r['items']:>9,}{r['repeats']:>3}"
              f"{r['prepare_s_median']:>11.2f}{r['process_s_median']:>11.2f}{r['seconds_per_million_rows']:>9.2f}"
              f"{r['peak_rss_mb_max']:>13.0f}{r['time_ratio_vs_first']:>8.1f}")
    import platform

    from reasonrec.io import write_json

    write_json(args.results, {
        "benchmark": "data_prep",
        "command": "python bench/data_prep.py " + " ".join(sys.argv[1:]),
        "what": "reasonrec.data.prepare.prepare(PrepareConfig(dataset='movielens-100k')) in a fresh subprocess: "
                "load (real loader) + leave_last_out k=5 + Parquet/manifest writes",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    # the dev box is shared by several jobs: high load averages inflate every time
                    "loadavg_1_5_15_before": load_before, "loadavg_1_5_15_after": os.getloadavg()},
        "target": "ML-100K prepare < 5 s",
        "ml100k_under_target": rows[0]["scale"] == 1 and rows[0]["prepare_s_median"] < 5.0,
        "results": rows,
    })
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
