"""`reasonrec eval grounding` and `reasonrec eval judge`: are explanations true to their rows, and how do judges
rate them. stdout carries only the result (a table, or one JSON object with --json); progress goes to stderr.

Explanations come from a predictions file with a `reasoning` column (`--source predictions`, the default), the
released teacher reasoning (`--source teacher`) or the authors' released student outputs (`--source
authors-student`); each is checked against the rows its prompt was built from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reasonrec.cli.errors import one_line_errors

# Options both commands take (one definition each).
Predictions = Annotated[Path | None, typer.Argument(
    help="Predictions file (Parquet/JSONL) with a reasoning column; omit for --source teacher | authors-student.")]
DatasetName = Annotated[str, typer.Option("--dataset", help="Dataset name.")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data root.")]
Source = Annotated[str, typer.Option("--source", help="predictions | teacher | authors-student.")]
Split = Annotated[str, typer.Option("--split", help="Split of the target rows.")]
RunK = Annotated[int | None, typer.Option("--k", help="authors-student: only the run trained on K rows.")]
Limit = Annotated[int | None, typer.Option("--limit", help="Use a seeded sample of N explanations.")]
Seed = Annotated[int, typer.Option("--seed", help="Sampling seed.")]
Out = Annotated[Path | None, typer.Option("--out", help="Write results, config.yaml and manifest.json here.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]


def _records(predictions: Path | None, dataset: str, data_dir: Path | None, source: str, split: str,
             k: int | None, limit: int | None, seed: int) -> tuple[Any, list]:
    from reasonrec.data.loaders import load_dataset
    from reasonrec.eval.grounding.sources import load_records
    from reasonrec.eval.readers import read_predictions

    if (predictions is None) == (source == "predictions"):
        raise typer.BadParameter("give a predictions file exactly when --source is 'predictions'",
                                 param_hint="PREDICTIONS")
    ds = load_dataset(dataset, data_dir)
    table = read_predictions(predictions, "predictions") if predictions is not None else None
    return ds, load_records(ds, source, split=split, predictions=table, k=k, limit=limit, seed=seed)


def _metrics_table(title: str, rows: dict[str, dict[str, Any]], keys: tuple[str, ...]) -> Table:
    table = Table(title=title)
    table.add_column("method")
    for key in keys:
        table.add_column(key, justify="right")
    for method, values in rows.items():
        cells = [values.get(k) for k in keys]
        table.add_row(method, *["—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells])
    return table


GROUNDING_KEYS = ("explanations", "claims", "coverage", "supported_precision", "contradiction_rate",
                  "hallucinated_item_rate", "label_consistency")


def grounding_command(
    predictions: Predictions = None,
    dataset: DatasetName = "reasoningrec-beauty",
    data_dir: DataDir = None,
    source: Source = "predictions",
    split: Split = "test",
    k: RunK = None,
    limit: Limit = None,
    seed: Seed = 0,
    config: Annotated[Path | None, typer.Option("--config", help="GroundingConfig YAML.")] = None,
    llm_config: Annotated[Path | None, typer.Option(
        "--llm-config", help="LLMConfig YAML of the verifier (with --set verifier=true).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="GroundingConfig override key=value.")] = None,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Check every claim of every explanation against its rows: supported-claim precision, contradiction rate,
    hallucinated items, label consistency and coverage per method.

    Example: reasonrec eval grounding --source teacher --dataset reasoningrec-beauty --limit 200 --out runs/grounding
    """
    from reasonrec.eval.grounding import GroundingConfig, checker_for
    from reasonrec.eval.grounding.metrics import explanation_table, summarise
    from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache

    started = time.time()
    log = Console(stderr=True)
    with one_line_errors(ValueError, KeyError, FileNotFoundError):
        cfg = (GroundingConfig.from_yaml(config, set_ or []) if config else
               GroundingConfig().with_overrides(set_ or []))
        ds, records = _records(predictions, dataset, data_dir, source, split, k, limit, seed)
        log.print(f"checking {len(records)} explanations from {source} on {dataset}")
        checker = checker_for(ds, cfg, SentenceEncoder(cache_path=default_embedding_cache()))
        if cfg.verifier:
            checker.verifier = _verifier(llm_config, checker)
        results = checker.check_records(records)
        summary = summarise(results)
    payload = {"dataset": dataset, "source": source, "split": split, "methods": summary}
    if out is not None:
        _write_grounding(out, results, explanation_table(results), payload, cfg, predictions, started)
        log.print(f"wrote {out}")
    if as_json:
        typer.echo(json.dumps(payload, allow_nan=False))
    else:
        Console().print(_metrics_table(f"grounding — {dataset}, {source}", summary, GROUNDING_KEYS))


def _verifier(llm_config: Path | None, checker: Any) -> Any:
    from reasonrec.eval.grounding.verifier import LLMVerifier
    from reasonrec.llm.registry import LLMConfig, build_llm

    llm_cfg = LLMConfig.from_yaml(llm_config) if llm_config else LLMConfig()
    return LLMVerifier(build_llm(llm_cfg))


def _write_grounding(out: Path, results: list, table: Any, payload: dict, cfg: Any, predictions: Path | None,
                     started: float) -> None:
    from reasonrec.io import write_json, write_jsonl, write_parquet
    from reasonrec.runs import write_manifest

    write_parquet(out / "explanations.parquet", table)
    write_jsonl(out / "claims.jsonl", (
        {"explanation_id": r.explanation_id, "method": r.source, "index": c.index, "text": c.text, "label": c.label,
         "facts": [{"kind": f.kind, "status": f.status, "detail": f.detail} for f in c.facts],
         "items": [{"span": m.span, "how": m.how, "item_ids": [i.item_id for i in m.items]} for m in c.mentions]}
        for r in results for c in r.claims))
    write_json(out / "summary.json", payload)
    write_manifest(out, command="reasonrec eval grounding", config=cfg, seeds={"seed": 0},
                   inputs=[predictions] if predictions else [], started_at=started)


JUDGE_KEYS = ("persuasiveness", "transparency", "accuracy", "satisfaction")


def judge_command(
    predictions: Predictions = None,
    dataset: DatasetName = "reasoningrec-beauty",
    data_dir: DataDir = None,
    source: Source = "predictions",
    split: Split = "test",
    k: RunK = None,
    limit: Limit = None,
    seed: Seed = 0,
    llm_config: Annotated[list[Path] | None, typer.Option(
        "--llm-config", help="LLMConfig YAML of one judge (repeat for several; default: the embedded model).")] = None,
    human: Annotated[Path | None, typer.Option(
        "--human", help="Human ratings (JSONL/CSV/Parquet: explanation_id + criterion columns 1–5).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="JudgeConfig override key=value.")] = None,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Rate explanations 1–5 on persuasiveness, transparency, accuracy and satisfaction with one or more LLM
    judges (averaged); with --human, report agreement (Pearson, Spearman, Kendall, quadratic kappa).

    Example: reasonrec eval judge --source teacher --limit 20 --llm-config judge_a.yaml --llm-config judge_b.yaml
    """
    from reasonrec.eval import judge as J
    from reasonrec.llm.registry import LLMConfig, build_llm
    from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
    from reasonrec.stages.evidence import EvidenceConfig, EvidenceRetriever, default_like_threshold

    started = time.time()
    log = Console(stderr=True)
    with one_line_errors(ValueError, KeyError, FileNotFoundError):
        cfg = J.JudgeConfig().with_overrides(set_ or [])
        ds, records = _records(predictions, dataset, data_dir, source, split, k, limit, seed)
        retriever = EvidenceRetriever.from_tables(
            ds.items, SentenceEncoder(cache_path=default_embedding_cache()), interactions=ds.interactions,
            item_descriptions=ds.artefacts.get("item_descriptions"),
            config=EvidenceConfig(like_threshold=default_like_threshold(ds.interactions)))
        evidence = retriever.retrieve([r.row for r in records])
        items = [J.JudgeItem(r.explanation_id, r.source, r.text, r.pred_label, e)
                 for r, e in zip(records, evidence, strict=True)]
        configs = [(p.stem, LLMConfig.from_yaml(p)) for p in llm_config or []] or [("embedded", LLMConfig())]
        judges = [J.Judge(name, build_llm(c), embedded=c.model == "embedded") for name, c in configs]
        log.print(f"judging {len(items)} explanations × {len(cfg.criteria)} criteria with {len(judges)} judge(s)")
        scores = J.judge_explanations(items, judges, cfg)
        payload = {"dataset": dataset, "source": source, **J.summary(scores, judges)}
        if human is not None:
            payload["agreement"] = J.agreement(scores, J.load_human_ratings(str(human)))
    if out is not None:
        from reasonrec.io import write_json, write_parquet
        from reasonrec.runs import write_manifest

        write_parquet(out / "judge_scores.parquet", scores)
        write_json(out / "summary.json", payload)
        write_manifest(out, command="reasonrec eval judge", config=cfg, seeds={"seed": seed},
                       inputs=[p for p in (predictions, human) if p is not None], started_at=started)
        log.print(f"wrote {out}")
    if as_json:
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    rows = {m: {c: v["mean"] for c, v in crit.items()} for m, crit in payload["methods"].items()}
    Console().print(_metrics_table(f"LLM judge — {', '.join(payload['judges'])}", rows, JUDGE_KEYS))
    if "mechanism_only" in payload:
        log.print(f"[yellow]note: {payload['mechanism_only']}[/yellow]")


__all__ = ["grounding_command", "judge_command"]
