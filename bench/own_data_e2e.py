"""The own-data path end to end with commands only, timed: ratings.csv + items.csv → `data prepare` → `baselines run
bpr` → `reasoningrec reason` (tiny teacher) → `train lora` (tiny student) → `bundle` → `serve` (+ one explained list and one /api/explain over
HTTP) → `recommend` (the same list from the CLI, explanations from the shared LLM cache).

    HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python bench/own_data_e2e.py

The steps are `tests/own_data_cli.py` (also run as the slow test `tests/test_own_data_cli.py`), the same commands
as the README's "Your own data" section. Prints seconds per step and the load average before/after each (the
machine is shared: wall times move with it); writes bench/results/own_data_e2e.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from own_data_cli import read_recommendations, run_chain

from reasonrec.io import write_json

RESULTS = ROOT / "bench" / "results" / "own_data_e2e.json"


def main() -> dict[str, Any]:
    loads: dict[str, list[float]] = {"start": [round(x, 2) for x in os.getloadavg()]}

    def on_step(step: str, seconds: float) -> None:
        loads[step] = [round(x, 2) for x in os.getloadavg()]
        print(f"{step:<10} {seconds:>8.1f} s   load avg {loads[step][0]:.2f}", flush=True)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="own_data_e2e_") as tmp:
        chain = run_chain(Path(tmp), on_step)
        rows = read_recommendations(chain.work)
    results = {
        "bench": "own_data_e2e", "cpu_count": os.cpu_count(), "seconds": chain.seconds,
        "total_s": round(time.perf_counter() - started, 1), "loadavg_after_step": loads,
        "served": chain.served, "explained": chain.explained,
        "cli_matches_service": [r["item_id"] for r in rows] == [i["item_id"] for i in chain.served["items"]],
    }
    print(f"{'total':<10} {results['total_s']:>8.1f} s   CLI list == service list: {results['cli_matches_service']}")
    write_json(RESULTS, results)
    print(f"wrote {RESULTS}")
    return results


if __name__ == "__main__":
    main()
