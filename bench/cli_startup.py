"""CLI start-up: wall and CPU seconds of `reasonrec --help` and a few subcommands' `--help` (target: < 0.5 s each).

Each command runs `--repeats` times in a fresh process; the table shows the median wall time and the median CPU time
(user + system of the child: unlike the wall time, barely affected by other processes on the machine). The load is
recorded per command. A CLI that imports torch or the evaluation stack for `--help` shows up here at once.

    .venv/bin/python bench/cli_startup.py --repeats 5
    .venv/bin/python bench/cli_startup.py --every --repeats 2      # every command and group of the CLI

Prints a table and writes bench/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import LoadMonitor

from reasonrec.io import write_json

TARGET_S = 0.5
COMMANDS = ([], ["llm"], ["reasoningrec"], ["train"], ["predict"], ["data"], ["eval"], ["run"], ["reproduce"],
            ["reproduce", "reasoningrec"])


def reasonrec_command() -> list[str]:
    """The installed `reasonrec` entry point next to this interpreter, else `python -m reasonrec.cli`."""
    script = Path(sys.executable).with_name("reasonrec")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "reasonrec.cli"]


def every_command() -> list[list[str]]:
    """Every group and command of the CLI, walked from its click tree (the root first)."""
    import typer

    from reasonrec.cli import app

    def walk(command, path: list[str]):
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def time_help(args: list[str], repeats: int) -> dict:
    walls, cpus = [], []
    with LoadMonitor() as load:
        for _ in range(repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run([*reasonrec_command(), *args, "--help"], capture_output=True, text=True,
                                  check=False)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {"command": " ".join(["reasonrec", *args, "--help"]), "ok": done.returncode == 0,
            "median_wall_s": statistics.median(walls), "median_cpu_s": statistics.median(cpus),
            "under_target_cpu": statistics.median(cpus) < TARGET_S, "load": load.record.as_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--every", action="store_true", help="every command and group, not the usual few")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "cli_startup.json"))
    args = ap.parse_args()
    rows = [time_help(list(cmd), args.repeats) for cmd in (every_command() if args.every else COMMANDS)]
    print(f"{'command':34} {'ok':>3} {'wall s':>7} {'CPU s':>6} {f'<{TARGET_S}s':>6} {'others':>6}")
    for r in rows:
        print(f"{r['command']:34} {'yes' if r['ok'] else 'no':>3} {r['median_wall_s']:7.2f} {r['median_cpu_s']:6.2f} "
              f"{'yes' if r['under_target_cpu'] else 'no':>6} {r['load']['other_busy_cores']!s:>6}")
    write_json(args.out, {"config": vars(args), "target_s": TARGET_S, "load_average_end": os.getloadavg(),
                          "rows": rows})
    slowest = max(rows, key=lambda r: r["median_cpu_s"])
    print(f"{sum(r['under_target_cpu'] for r in rows)}/{len(rows)} under {TARGET_S} s CPU; slowest "
          f"{slowest['command']} {slowest['median_cpu_s']:.2f} s; all ok: {all(r['ok'] for r in rows)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
