"""Benchmark: hostile inputs and kill -9 against the real `reasonrec` CLI; every count it reports must be 0.

    .venv/bin/python bench/hostile.py                          # all sections; table + bench/results/hostile.json
    .venv/bin/python bench/hostile.py --sections kill_prepare  # one section

Sections (`SECTIONS`, a list):
- ingestion_eval: every case of `tests/hostile/hostile_cases.py` (ingestion, prepared-directory readers, eval
  predictions) through the `reasonrec` executable in a subprocess, from a working directory holding decoy
  secrets; judged by `hostile_inputs.judge`: tracebacks, silently wrong results (exit 0 where an error was due,
  or wrong numbers), unclear errors, valid input refused, leaked paths (a decoy or an unrequested input in any
  output or manifest).
- kill_prepare: `data prepare` of ML-100K into an already prepared directory, SIGKILLed at five points
  (`hostile_kill.KILL_POINTS`); a reader must see the previous directory intact (never a mix), and a rerun must
  finish and leave no staging directory behind.
- kill_stage: a real LLM stage (`reasoningrec describe`, embedded SmolLM2 on the hf backend, SQLite cache) SIGKILLed
  after its first committed batch, then rerun: no result lost or duplicated, every result committed before the
  kill reused from the cache, and the outputs identical to an uninterrupted run.
- server: `bench/hostile_server.py` against a real `reasonrec llm serve` on 127.0.0.1: the hostile request table,
  16 short clients with and without 2 max-token clients (short p95 within 3x), and disconnect → generation stopped.

Targets: 0 tracebacks, 0 silently wrong, 0 leaked paths; 0 mixed directories accepted; 0 lost or duplicated
results. The machine is shared: the load average is recorded with every run.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "hostile"), str(REPO / "bench"), str(REPO / "src")]

from hostile_cases import CASES  # the test helpers live beside the tests
from hostile_inputs import VERDICTS, Run, judge, setup_workdir
from hostile_kill import KILL_POINTS, NEW_RUN, OLD_RUN, kill_prepare_at, prepare_command

RESULTS = REPO / "bench" / "results" / "hostile.json"
CASE_TIMEOUT_S = 300


@dataclass
class SectionResult:
    counts: dict[str, int]
    """What the table prints."""
    failures: dict[str, int]
    """Counts that must be 0."""
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Section:
    name: str
    run: Callable[[argparse.Namespace, Path], SectionResult]


def cli_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(REPO / "src") + (os.pathsep + path if path else ""),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200"}


def reasonrec_command() -> list[str]:
    """The installed `reasonrec` executable of this interpreter's environment (it imports from PYTHONPATH)."""
    exe = Path(sys.executable).with_name("reasonrec")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from reasonrec.cli import app; sys.argv[0] = 'reasonrec'; app()"]


# ------------------------------------------------------------------------------------------ ingestion / eval


def _run_case(case, work: Path) -> dict:
    workdir = work / f"case-{CASES.index(case):03d}"
    workdir.mkdir()
    before = setup_workdir(case, workdir)
    started = time.perf_counter()
    try:
        proc = subprocess.run([*reasonrec_command(), *case.argv], cwd=workdir, env=cli_env(), capture_output=True,
                              text=True, timeout=CASE_TIMEOUT_S, check=False)
        run = Run(proc.returncode, proc.stdout, proc.stderr)
        verdict, detail = judge(case, run, workdir, before)
    except subprocess.TimeoutExpired:
        verdict, detail = "silently wrong", f"still running after {CASE_TIMEOUT_S} s"
    return {"case": case.name, "argv": list(case.argv), "verdict": verdict, "detail": detail,
            "seconds": round(time.perf_counter() - started, 2)}


def ingestion_eval(args: argparse.Namespace, work: Path) -> SectionResult:
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda case: _run_case(case, work), CASES))
    verdicts = Counter(row["verdict"] for row in rows)
    counts = {"cases": len(rows), **{v: verdicts.get(v, 0) for v in VERDICTS}}
    failures = {v: verdicts.get(v, 0) for v in VERDICTS if v != "ok"}
    for row in rows:
        if row["verdict"] != "ok":
            print(f"  {row['verdict']}: {row['case']}: {row['detail']}", file=sys.stderr)
    return SectionResult(counts, failures, rows)


# ---------------------------------------------------------------------------------------------- kill -9


def kill_prepare(args: argparse.Namespace, work: Path) -> SectionResult:
    from reasonrec.io import sha256_file

    digests, reference = {}, {}
    for name, overrides in (("old", OLD_RUN), ("new", NEW_RUN)):
        reference[name] = work / f"reference-{name}"
        subprocess.run(prepare_command(args.data_dir, reference[name], overrides), env=cli_env(), check=True,
                       capture_output=True, timeout=CASE_TIMEOUT_S)
        digests[name] = sha256_file(reference[name] / "splits" / "test.parquet")
    rows = []
    for point in KILL_POINTS:
        out = work / f"kill-{len(rows)}" / "prepared"
        outcome = kill_prepare_at(point, args.data_dir, out, old=reference["old"], env=cli_env(), digests=digests)
        rows.append({"point": point, "killed": outcome.landed, "reader_saw": outcome.reader,
                     "rerun_ok": outcome.rerun_ok})
        print(f"  kill at {point!r}: reader saw {outcome.reader}", file=sys.stderr)
    counts = {"kills": len(rows), "landed": sum(r["killed"] for r in rows),
              "previous_intact": sum(r["reader_saw"] == "old" for r in rows)}
    failures = {
        "mixed_accepted": sum(r["reader_saw"].startswith("mixed") for r in rows),
        "not_killed_at_point": sum(not r["killed"] for r in rows),
        "rerun_failed": sum(not r["rerun_ok"] for r in rows),
    }
    return SectionResult({**counts, **failures}, failures, rows)


def _cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def _stage_command(args: argparse.Namespace, work: Path, name: str) -> tuple[list[str], Path, Path]:
    cache, out = work / f"{name}.sqlite", work / f"{name}-stage"
    config = work / f"{name}-llm.yaml"
    config.write_text(f"backend: hf\nmodel: embedded\nbatch_size: 2\nn_threads: 1\ncache_path: {cache}\n")
    argv = [*reasonrec_command(), "reasoningrec", "describe", "--dataset", "movielens-100k", "--data-dir",
            str(args.data_dir), "--out", str(out), "--llm-config", str(config), "--limit", str(args.stage_items),
            "--set", "max_new_tokens=8"]
    return argv, cache, out


def kill_stage(args: argparse.Namespace, work: Path) -> SectionResult:
    import polars as pl

    clean_argv, _, clean_out = _stage_command(args, work, "clean")
    subprocess.run(clean_argv, env=cli_env(), check=True, capture_output=True, timeout=1200)
    argv, cache, out = _stage_command(args, work, "killed")
    proc = subprocess.Popen(argv, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 1200
    while _cache_rows(cache) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    landed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = _cache_rows(cache)
    resumed = subprocess.run(argv, env=cli_env(), capture_output=True, text=True, check=False, timeout=1200)
    table = pl.read_parquet(out / "item_descriptions.parquet") if resumed.returncode == 0 else None
    clean = pl.read_parquet(clean_out / "item_descriptions.parquet")
    rows = table.height if table is not None else 0
    distinct = table["item_id"].n_unique() if table is not None else 0
    hits = f"{at_kill} cache hits" in resumed.stdout
    identical = table is not None and table.select("item_id", "text").equals(clean.select("item_id", "text"))
    counts = {"items": args.stage_items, "committed_at_kill": at_kill, "cache_rows_after": _cache_rows(cache)}
    failures = {
        "not_killed_mid_run": int(not landed or not 0 < at_kill < args.stage_items),
        "rerun_failed": int(resumed.returncode != 0),
        "lost": args.stage_items - distinct,
        "duplicated": (rows - distinct) + max(0, _cache_rows(cache) - args.stage_items),
        "committed_not_reused": int(not hits),
        "differs_from_uninterrupted": int(not identical),
    }
    return SectionResult({**counts, **failures}, failures, [{"stdout": resumed.stdout[-400:]}])


def server(args: argparse.Namespace, work: Path) -> SectionResult:
    import hostile_server  # bench/hostile_server.py: starts the server, so imported only when this section runs

    result = hostile_server.run(log_path=work / "server.log")
    probes, fair = result["probes"], result["fairness"]
    counts = {"probes": probes["probes"], "probes_as_expected": probes["passed"],
              "short_p95_ratio": fair["p95_ratio"], **{k: int(v) for k, v in result["targets"].items()}}
    failures = {name: int(not met) for name, met in result["targets"].items()}
    return SectionResult(counts, failures, [result])


SECTIONS: list[Section] = [
    Section("ingestion_eval", ingestion_eval),
    Section("kill_prepare", kill_prepare),
    Section("kill_stage", kill_stage),
    Section("server", server),
]


# ------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(s.name for s in SECTIONS), help="Comma list of sections.")
    parser.add_argument("--data-dir", type=Path, default=None, help="Data root with movielens-100k/.")
    parser.add_argument("--jobs", type=int, default=2, help="Parallel subprocesses for ingestion_eval.")
    parser.add_argument("--stage-items", type=int, default=8, help="Items described by the killed LLM stage.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="Where to write the JSON results.")
    args = parser.parse_args()
    from reasonrec.io import write_json
    from reasonrec.paths import data_dir

    args.data_dir = data_dir(args.data_dir or (REPO.parent / "shared" / "data"))
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(wanted) - {s.name for s in SECTIONS})
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {[s.name for s in SECTIONS]}")
    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    for section in (s for s in SECTIONS if s.name in wanted):
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"bench-hostile-{section.name}-") as tmp:
            result = section.run(args, Path(tmp))
        result.seconds = time.perf_counter() - started
        results[section.name] = {"counts": result.counts, "failures": result.failures,
                                 "target_met": not any(result.failures.values()),
                                 "seconds": round(result.seconds, 1), "load_average_after": os.getloadavg(),
                                 "rows": result.rows}
        print(f"done {section.name} in {result.seconds:.0f} s", file=sys.stderr, flush=True)
    print(f"{'section':<16}{'target':>8}{'seconds':>9}  counts")
    for name, res in results.items():
        counts = ", ".join(f"{k} {v}" for k, v in res["counts"].items())
        print(f"{name:<16}{'met' if res['target_met'] else 'MISSED':>8}{res['seconds']:>9.0f}  {counts}")
    write_json(args.results, {
        "benchmark": "hostile",
        "command": "python bench/hostile.py " + " ".join(sys.argv[1:]),
        "targets": "0 tracebacks, 0 silently wrong, 0 unclear errors, 0 leaked paths; kill -9: 0 mixed "
                   "directories accepted, 0 lost or duplicated results",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    # the dev box is shared by several jobs: high load averages inflate every time
                    "loadavg_1_5_15_before": load_before, "loadavg_1_5_15_after": os.getloadavg()},
        "sections": results,
    })
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
