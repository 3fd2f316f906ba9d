"""Benchmark: how long the release loaders, the release report and a default bootstrap take (timings the tests
do not assert).

    REASONREC_DATA_DIR=../shared/data .venv/bin/python bench/load_times.py --repeats 3

Each task runs `--repeats` times in this process after one warm-up; the table shows the median wall time, the
target, and the load recorded around the runs. Targets (idle machine): each release loader < 3 s, the three
600-row release runs reported end to end < 15 s, a 1,000-resample AUC bootstrap of 600 rows < 1 s. Writes bench/results/load_times.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from machine import LoadMonitor

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.exp3rt import load_exp3rt_imdb
from reasonrec.data.loaders.reasoningrec import load_reasoningrec_beauty, load_reasoningrec_ml1m
from reasonrec.eval.bootstrap import bootstrap_ci
from reasonrec.eval.report import ReportConfig, generate_report

RELEASE_RUNS = [f"sample{k}_valsample600_lr1e-4_valauc" for k in (64, 128, 256)]


def _report(root: Path) -> None:
    runs = [root / "reasoningrec-beauty" / "student_reference_outputs" / name for name in RELEASE_RUNS]
    with tempfile.TemporaryDirectory() as out:
        generate_report(runs, Path(out), ReportConfig(bootstrap=200))


def _bootstrap() -> None:
    rng = np.random.default_rng(1)
    bootstrap_ci(rng.integers(0, 2, 600), rng.random(600), n_resamples=1000, seed=0)


def tasks(root: Path) -> dict[str, tuple[Callable[[], object], float]]:
    """name -> (call, target seconds)."""
    return {
        "load reasoningrec-beauty": (lambda: load_reasoningrec_beauty(root, LoadOptions()), 3.0),
        "load reasoningrec-ml1m": (lambda: load_reasoningrec_ml1m(root, LoadOptions()), 3.0),
        "load exp3rt-imdb": (lambda: load_exp3rt_imdb(root, LoadOptions()), 3.0),
        "report: 3 release runs": (lambda: _report(root), 15.0),
        "bootstrap 1000 x 600 rows": (_bootstrap, 1.0),
    }


def measure(call: Callable[[], object], repeats: int) -> list[float]:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("REASONREC_DATA_DIR", "../shared/data")))
    parser.add_argument("--repeats", type=int, default=3, choices=range(1, 21), metavar="1..20")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "load_times.json")
    args = parser.parse_args()
    rows = []
    print(f"{'task':26} {'median s':>9} {'target s':>9}  met   load 1-min before/after")
    for name, (call, target) in tasks(args.data_dir).items():
        with LoadMonitor() as monitor:
            times = measure(call, args.repeats)
        median = statistics.median(times)
        load = monitor.record
        rows.append({"task": name, "seconds": times, "median_s": median, "target_s": target,
                     "met": median < target, "load": load.as_dict()})
        print(f"{name:26} {median:9.2f} {target:9.1f}  {'yes' if median < target else 'NO ':3}   "
              f"{load.loadavg_start[0]:.1f}/{load.loadavg_end[0]:.1f}{'' if load.idle else '  (not idle)'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
