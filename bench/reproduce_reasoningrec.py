"""Benchmark: the ReasoningRec Beauty full protocol on this CPU (student LoRA K=256, all test users).

Prints AUC with its bootstrap CI, BERTScore, train time and scoring time for the student next to TALLRec, the
zero-shot model and the CF / user-statistics baselines on the SAME test rows, and the authors' released numbers;
writes bench/results/reproduce_reasoningrec.json. `--k` / `--max-steps` / `--test-users` shorten the run (say so
when quoting it). Nothing here looks at the test split before the final scoring: early stopping uses valid.

    .venv/bin/python bench/reproduce_reasoningrec.py                    # full protocol (hours on 2 cores)
    .venv/bin/python bench/reproduce_reasoningrec.py --k 64 --max-steps 40 --reasoning-rows 20
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# overrides that make a run cheaper than the paper protocol (quoted runs must say so)
SHORTENING = {"lora.num_train_epochs", "lora.max_steps", "lora.max_seq_length", "lora.patience", "test_users",
              "tallrec", "zeroshot", "baselines"}
RESULTS = Path(__file__).resolve().parent / "results" / "reproduce_reasoningrec.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="reasoningrec-beauty")
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--max-steps", type=int, default=-1, help="> 0 caps LoRA steps (shortened protocol)")
    parser.add_argument("--test-users", type=int, default=None)
    parser.add_argument("--reasoning-rows", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_reproduce_reasoningrec"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON summary path (one per variant)")
    args = parser.parse_args()

    from reasonrec.methods.reasoningrec.reproduction import REPRODUCTION
    from reasonrec.methods.reproduction import metrics_table

    overrides = [f"k={args.k}", f"lora.max_steps={args.max_steps}", f"reasoning_rows={args.reasoning_rows}",
                 *([f"test_users={args.test_users}"] if args.test_users else []), *args.overrides]
    config = REPRODUCTION.resolve(args.dataset, "full", overrides)
    started = time.time()
    metrics = REPRODUCTION.run(config, args.out, command="bench/reproduce_reasoningrec.py " + " ".join(overrides))
    wall = time.time() - started
    timings = metrics.get("timings", {})
    summary = {
        "command": "bench/reproduce_reasoningrec.py " + " ".join(overrides),
        "dataset": args.dataset, "k": args.k, "max_steps": args.max_steps,
        "shortened": args.max_steps > 0 or bool(args.test_users) or args.k != 256
        or any(o.split("=")[0] in SHORTENING for o in args.overrides),
        "wall_s": round(wall, 1),
        "train_s": timings.get("train_student"), "score_s": timings.get("score_student"),
        "train_plus_score_s": round((timings.get("train_student") or 0) + (timings.get("score_student") or 0), 1),
        "runs": [{k: v for k, v in r.items() if k != "result"} for r in metrics.get("runs", [])],
        "baselines": {n: {k: v for k, v in b.items() if k != "result"} for n, b in metrics["baselines"].items()},
        "authors": metrics.get("authors"), "training": metrics.get("training"), "notes": metrics.get("notes"),
        "test_rows": metrics.get("test_rows"),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print(metrics_table(metrics))
    print(f"train {summary['train_s']} s · student scoring {summary['score_s']} s · wall {wall:.0f} s")
    for note in metrics.get("notes") or []:
        print("note:", note)
    print(f"wrote {args.results} and {args.out}/report.md")


if __name__ == "__main__":
    main()
