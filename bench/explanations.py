"""Grounding of explanations: the checker's precision/recall on the labelled claims, and the checker run over the
released explanations in one table.

1. **Labelled claims** (`tests/eval/grounding/fixtures/claims.jsonl`, hand-labelled; see its README): precision and
   recall of the checker's "supported" and "ungrounded" (unsupported or contradicted) labels and of "checkable",
   on the test part (the thresholds were tuned on the dev part, shown for reference).
2. **Explanations table**: the checker over a seeded sample of `--limit` explanations per source — the released
   Mixtral teacher reasoning (Beauty, ML-1M test), the authors' released Llama-2-7B student (Beauty, K=256; ML-1M
   student outputs were not released), and rows reserved for our ReasoningRec student and our evidence-grounded
   mode (run them with `--ours NAME=predictions.parquet`). The zero-shot base model answers "yes" for almost
   every row, so the grounded mode also explains each sampled test row's TRUE label ("true labels" rows): both
   verdicts, the explanation measured apart from the prediction.

`--tune` instead varies one threshold at a time around the defaults on the dev claims and prints the best values
(the defaults in `GroundingConfig` were chosen this way; test claims are never used for it).

`--generate N` adds our rows (embedded SmolLM2, `bench/grounded_runs.py`): the ReasoningRec student's own
reasoning and the student in the evidence-grounded mode on N Beauty test rows (`--adapter`: a trained student,
e.g. the demo's runs/demo/student/adapter), and the base model zero-shot in the grounded mode on N test rows of
each dataset. `--sweep N` runs the grounded mode's anti-loop decoding sweep on N validation rows per dataset and
writes bench/results/explanations_sweep.json (the ExplainConfig defaults come from it). `--anchor-sweep N` compares
how the grounded answer starts (the verdict alone, or the verdict and the retrieved fact behind it) on N validation
rows per dataset and writes bench/results/explanations_anchor.json (`ExplainConfig.anchor`'s default comes from it).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/explanations.py [--limit 200] [--tune] [--ours beauty:our-student=P]
        [--generate 200 --adapter runs/demo/student/adapter] [--sweep 10] [--anchor-sweep 30]

Prints tables and writes bench/results/explanations.json (with the load average: timings are not the point here,
but the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import polars as pl
import torch
from grounded_runs import anchor_sweep, grounding_summary, student_rows, sweep, true_label_rows, zeroshot_rows

from reasonrec.data.loaders import load_dataset
from reasonrec.eval.grounding import GroundingConfig, checker_for
from reasonrec.eval.grounding.metrics import summarise
from reasonrec.eval.grounding.sources import load_records
from reasonrec.eval.grounding.validation import load_labelled, predict_labelled, score_labels
from reasonrec.io import write_json
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("REASONREC_DATA_DIR", ROOT.parent / "shared" / "data"))
FIXTURE = ROOT / "tests" / "eval" / "grounding" / "fixtures" / "claims.jsonl"
OUT = ROOT / "bench" / "results" / "explanations.json"
DATASETS = {"beauty": "reasoningrec-beauty", "ml1m": "reasoningrec-ml1m"}
SOURCES: list[tuple[str, str, str, dict[str, Any]]] = [  # (row name, dataset, source, options)
    ("Mixtral teacher (released)", "beauty", "teacher", {}),
    ("authors' 7B student, K=256 (released)", "beauty", "authors-student", {"k": 256}),
    ("Mixtral teacher (released)", "ml1m", "teacher", {}),
]
NOT_RUN = [
    ("authors' 7B student (released)", "ml1m", "the release has no ML-1M student outputs"),
    ("our ReasoningRec student", "beauty", "not run: pass --generate N --adapter STUDENT_ADAPTER"),
    ("our ReasoningRec student", "ml1m", "no ML-1M student adapter trained here"),
    ("our evidence-grounded mode, student", "beauty", "not run: pass --generate N --adapter STUDENT_ADAPTER"),
    ("our evidence-grounded mode, zero-shot", "beauty", "not run: pass --generate N"),
    ("our evidence-grounded mode, zero-shot", "ml1m", "not run: pass --generate N"),
]
TUNED = {"min_title_idf": (4.0, 5.0, 6.0), "item_similarity": (0.45, 0.55, 0.65),
         "catalogue_similarity": (0.65, 0.75, 0.85), "attribute_similarity": (0.5, 0.6, 0.7),
         "attribute_overlap": (0.4, 0.5, 0.67)}
COLUMNS = ("explanations", "claims", "coverage", "supported_precision", "fact_precision", "later_precision", "contradiction_rate", "unsupported_rate",
           "hallucinated_item_rate", "label_consistency", "loop_rate")


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def labelled_scores(claims: list[dict], data: dict, encoder: SentenceEncoder, config: GroundingConfig) -> dict:
    checkers = {k: checker_for(ds, config, encoder) for k, ds in data.items()}
    out = {}
    for part in ("dev", "test"):
        rows = [c for c in claims if c["part"] == part]
        predicted = predict_labelled(rows, checkers, data)
        out[part] = score_labels([c["label"] for c in rows], predicted)
        by_source = {}
        for source in sorted({c["source"] for c in rows}):
            keep = [i for i, c in enumerate(rows) if c["source"] == source]
            by_source[source] = score_labels([rows[i]["label"] for i in keep], [predicted[i] for i in keep])
        out[part]["by_source"] = by_source
    return out


def print_labelled(scores: dict) -> None:
    print(f"\n{'part':<5} {'class':<11} {'precision':>9} {'recall':>7} {'pred':>5} {'gold':>5}")
    for part, s in scores.items():
        for name in ("supported", "ungrounded", "checkable"):
            c = s[name]
            print(f"{part:<5} {name:<11} {_fmt(c['precision']):>9} {_fmt(c['recall']):>7} "
                  f"{c['predicted']:>5} {c['gold']:>5}")
        print(f"{part:<5} exact label agreement on gold-checkable claims: {_fmt(s['exact_on_checkable'])} (n={s['n']})")


def tune(claims: list[dict], data: dict, encoder: SentenceEncoder) -> dict:
    """One threshold at a time around the defaults, on dev only; objective: mean F1 of supported and ungrounded."""
    dev = [c for c in claims if c["part"] == "dev"]
    gold = [c["label"] for c in dev]

    def objective(cfg: GroundingConfig) -> float:
        s = score_labels(gold, predict_labelled(dev, {k: checker_for(ds, cfg, encoder) for k, ds in data.items()},
                                                data))
        f1 = [2 * p * r / (p + r) if p and r else 0.0
              for p, r in ((s[c]["precision"], s[c]["recall"]) for c in ("supported", "ungrounded"))]
        return sum(f1) / 2

    best = GroundingConfig()
    result = {"default": objective(best), "steps": []}
    for name, values in TUNED.items():
        trials = {v: objective(best.model_copy(update={name: v})) for v in values}
        chosen = max(trials, key=lambda v: (trials[v], v == getattr(best, name)))
        best = best.model_copy(update={name: chosen})
        result["steps"].append({"param": name, "trials": trials, "chosen": chosen})
        print(f"{name:<22} " + "  ".join(f"{v}: {f:.3f}" for v, f in trials.items()) + f"  → {chosen}")
    result["chosen"] = {k: getattr(best, k) for k in TUNED}
    return result


def explanation_table(data: dict, encoder: SentenceEncoder, limit: int, ours: list[str]) -> list[dict]:
    rows = []
    runs = [(name, key, source, opts, None) for name, key, source, opts in SOURCES]
    for spec in ours:
        where, _, path = spec.partition("=")
        key, _, name = where.partition(":")
        runs.append((name, key, "predictions", {}, pl.read_parquet(path)))
    for name, key, source, opts, preds in runs:
        started = time.time()
        records = load_records(data[key], source, predictions=preds, limit=limit, seed=0, **opts)
        summary = next(iter(summarise(checker_for(data[key], encoder=encoder).check_records(records)).values()))
        rows.append({"row": name, "dataset": key, "source": source, **summary, "wall_s": time.time() - started})
        print(f"  {name} / {key}: {len(records)} explanations in {time.time() - started:.0f} s", flush=True)
    return rows


def our_rows(data: dict, encoder: SentenceEncoder, n: int, adapter: Path | None, threads: int,
             max_new_tokens: int, out_dir: Path) -> list[dict]:
    """Generate our explanations (cached), keep them as predictions files, check them like the released ones."""
    runs = [(name, key, lambda ds=ds, key=key, make=make: make(ds, key, n, threads))
            for name, make in (("our evidence-grounded mode, zero-shot", zeroshot_rows),
                               ("our evidence-grounded mode, true labels", true_label_rows))
            for key, ds in data.items()]
    if adapter is not None:
        runs = [("our ReasoningRec student", "beauty", lambda: student_rows(
                    data["beauty"], "beauty", n, adapter, "free", threads, max_new_tokens)),
                ("our evidence-grounded mode, student", "beauty", lambda: student_rows(
                    data["beauty"], "beauty", n, adapter, "evidence", threads, max_new_tokens)), *runs]
    rows = []
    for name, key, run in runs:
        frame, timing = run()
        frame.write_parquet(out_dir / f"{key}_{name.replace(' ', '_').replace(',', '')}.parquet")
        auc_rows = frame.filter(pl.col("score").is_not_null()) if "score" in frame.columns else frame.clear()
        rows.append({"row": name, "dataset": key, "source": "generated", **grounding_summary(frame, data[key], encoder),
                     **timing, "n_scored": auc_rows.height})
    return rows


def with_not_run(rows: list[dict]) -> list[dict]:
    return rows + [{"row": name, "dataset": key, "note": note} for name, key, note in NOT_RUN
                   if not any(r["row"] == name and r["dataset"] == key for r in rows)]


def print_table(rows: list[dict]) -> None:
    print(f"\n{'explanations':<40} {'data':<6} " + " ".join(f"{c[:11]:>11}" for c in COLUMNS))
    for r in rows:
        if "note" in r:
            print(f"{r['row']:<40} {r['dataset']:<6} {r['note']}")
        else:
            print(f"{r['row']:<40} {r['dataset']:<6} " + " ".join(f"{_fmt(r.get(c)):>11}" for c in COLUMNS))


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=200, help="explanations per source (seeded sample)")
    parser.add_argument("--tune", action="store_true", help="tune thresholds on the dev claims and stop")
    parser.add_argument("--ours", action="append", default=[], help="dataset:name=predictions.parquet")
    parser.add_argument("--skip-table", action="store_true", help="only the labelled-claims section")
    parser.add_argument("--generate", type=int, default=0, help="our explanations: N test rows per dataset")
    parser.add_argument("--adapter", type=Path, default=None, help="trained ReasoningRec student (LoRA) for --generate")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="the student's own reasoning length")
    parser.add_argument("--sweep", type=int, default=0, help="anti-loop sweep on N validation rows per dataset")
    parser.add_argument("--anchor-sweep", type=int, default=0,
                        help="how the grounded answer starts (verdict | evidence) on N validation rows per dataset")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for MiniLM (1: on a shared CPU, 2 threads ran ~4x slower)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    load = os.getloadavg()
    data = {k: load_dataset(v, DATA_ROOT) for k, v in DATASETS.items()}
    encoder = SentenceEncoder(cache_path=default_embedding_cache())
    claims = load_labelled(FIXTURE)
    if args.tune:
        write_json(OUT.with_name("explanations_tuning.json"), {"load_average": load, **tune(claims, data, encoder)})
        return {}
    sweeps = {"sweep": (sweep, "explanations_sweep.json"), "anchor_sweep": (anchor_sweep, "explanations_anchor.json")}
    for option, (run, name) in sweeps.items():
        if getattr(args, option):
            swept = run(data, getattr(args, option), encoder, args.threads)
            write_json(OUT.with_name(name), {"load_average_start": load, "load_average_end": os.getloadavg(),
                                             "wall_s": time.time() - started, **swept})
            print(f"chosen: {swept['chosen']}")
            return swept
    result: dict[str, Any] = {"load_average_start": load, "threads": args.threads,
                              "fixture": str(FIXTURE.relative_to(ROOT)),
                              "n_claims": len(claims), "config": GroundingConfig().model_dump(mode="json")}
    result["labelled"] = labelled_scores(claims, data, encoder, GroundingConfig())
    print_labelled(result["labelled"])
    if not args.skip_table:
        table = explanation_table(data, encoder, args.limit, args.ours)
        if args.generate:
            out_dir = ROOT / "runs" / "bench_explanations"
            out_dir.mkdir(parents=True, exist_ok=True)
            table += our_rows(data, encoder, args.generate, args.adapter, args.threads, args.max_new_tokens, out_dir)
        result["table"] = with_not_run(table)
        print_table(result["table"])
    result["wall_s"] = time.time() - started
    result["load_average_end"] = os.getloadavg()
    print(f"\nwall {result['wall_s']:.0f} s; load average {load} → {result['load_average_end']} (shared machine)")
    write_json(OUT, result)
    return result


if __name__ == "__main__":
    main()
