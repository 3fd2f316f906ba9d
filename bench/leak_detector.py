"""Recall/precision of rating-leak detectors on the hand-labelled sentence set.

Compares Rec-SAVER's three-phrase rule ("a rating of", "stars", "scores") with `reasonrec.stages.recsaver.leak.is_leak`
on `tests/stages/recsaver/fixtures/leak_sentences.jsonl` (real sentences from the 2018 Beauty reviews and the released
teacher reasoning, labelled one by one by the annotator named in each row). Prints a table and writes
`bench/results/leak_detector.json`.

    .venv/bin/python bench/leak_detector.py
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reasonrec.io import write_json
from reasonrec.stages.recsaver.leak import is_leak, paper_rule

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "stages" / "recsaver" / "fixtures" / "leak_sentences.jsonl"
OUT = ROOT / "bench" / "results" / "leak_detector.json"


def load_labelled(path: Path = FIXTURE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(rows: list[dict], detect: Callable[[str], bool]) -> dict:
    tp = fp = fn = tn = 0
    misses, false_alarms = [], []
    for row in rows:
        truth = row["label"] == "leak"
        pred = detect(row["text"])
        if truth and pred:
            tp += 1
        elif truth:
            fn += 1
            misses.append(row["text"])
        elif pred:
            fp += 1
            false_alarms.append(row["text"])
        else:
            tn += 1
    recall = tp / (tp + fn) if tp + fn else float("nan")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn, "recall": recall, "precision": precision, "f1": f1,
        "misses": misses, "false_alarms": false_alarms,
    }


DETECTORS: dict[str, Callable[[str], bool]] = {
    "paper_three_phrases": paper_rule,
    "reasonrec_is_leak": lambda s: is_leak(s),
}


def main() -> dict:
    rows = load_labelled()
    sources = sorted({r["source"] for r in rows})
    result: dict = {
        "fixture": str(FIXTURE.relative_to(ROOT)),
        "n": len(rows),
        "n_leak": sum(r["label"] == "leak" for r in rows),
        "by_source": {s: sum(r["source"] == s for r in rows) for s in sources},
        "detectors": {},
    }
    print(f"{len(rows)} sentences, {result['n_leak']} labelled leak ({result['by_source']})")
    print(f"{'detector':<22} {'recall':>7} {'precision':>9} {'f1':>6} {'tp':>4} {'fp':>4} {'fn':>4}")
    for name, detect in DETECTORS.items():
        stats = evaluate(rows, detect)
        result["detectors"][name] = stats
        print(f"{name:<22} {stats['recall']:7.3f} {stats['precision']:9.3f} {stats['f1']:6.3f} "
              f"{stats['tp']:4d} {stats['fp']:4d} {stats['fn']:4d}")
    for name, stats in result["detectors"].items():
        for kind in ("misses", "false_alarms"):
            for text in stats[kind]:
                print(f"  [{name} {kind[:-2] if kind == 'misses' else 'false alarm'}] {text[:110]}")
    write_json(OUT, result)
    return result


if __name__ == "__main__":
    main()
