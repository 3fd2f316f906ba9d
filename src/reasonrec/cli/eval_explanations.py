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
from reasonrec.cli.options import (
    ConfigOpt,
    DataDirOpt,
    LLMOpt,
    PrintOpt,
    SetOpt,
    print_config,
    resolve_with_llm,
)

# Input selectors both commands take (the shared vocabulary comes from cli.options).
Predictions = Annotated[Path | None, typer.Argument(
    help="Predictions file (Parquet/JSONL) with a reasoning column; omit for --source teacher | authors-student.")]
DatasetName = Annotated[str, typer.Option("--dataset", help="Dataset name.")]
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


def _settings(cls: Any, config: Path | None, llm_config: Path | None, set_: list[str] | None,
              print_only: bool) -> tuple[Any, Any]:
    """The command's config and its LLM's, resolved through the one precedence (`--print-config` exits here)."""
    cfg, llm_cfg = resolve_with_llm(cls, config=config, llm_config=llm_config, overrides=set_)
    print_config(print_only, config=cfg, llm=llm_cfg)
    return cfg, llm_cfg


def _metrics_table(title: str, rows: dict[str, dict[str, Any]], keys: tuple[str, ...]) -> Table:
    table = Table(title=title)
    table.add_column("method")
    for key in keys:
        table.add_column(key, justify="right")
    for method, values in rows.items():
        cells = [values.get(k) for k in keys]
        table.add_row(method, *["—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells])
    return table


GROUNDING_KEYS = ("explanations", "claims", "coverage", "supported_precision", "fact_precision",
                  "contradiction_rate", "hallucinated_item_rate", "label_consistency")


def grounding_command(
    predictions: Predictions = None,
    dataset: DatasetName = "reasoningrec-beauty",
    data_dir: DataDirOpt = None,
    source: Source = "predictions",
    split: Split = "test",
    k: RunK = None,
    limit: Limit = None,
    seed: Seed = 0,
    config: ConfigOpt = None,
    llm_config: LLMOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
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
        cfg, llm_cfg = _settings(GroundingConfig, config, llm_config, set_, print_config_)
        ds, records = _records(predictions, dataset, data_dir, source, split, k, limit, seed)
        log.print(f"checking {len(records)} explanations from {source} on {dataset}")
        checker = checker_for(ds, cfg, SentenceEncoder(cache_path=default_embedding_cache()))
        if cfg.verifier:
            checker.verifier = _verifier(llm_cfg)
        results = checker.check_records(records)
        summary = summarise(results)
    payload = {"dataset": dataset, "source": source, "split": split, "methods": summary}
    if out is not None:
        _write_grounding(out, results, explanation_table(results), payload, cfg, predictions, started, seed)
        log.print(f"wrote {out}")
    if as_json:
        typer.echo(json.dumps(payload, allow_nan=False))
    else:
        Console().print(_metrics_table(f"grounding — {dataset}, {source}", summary, GROUNDING_KEYS))


def _verifier(llm_cfg: Any) -> Any:
    from reasonrec.eval.grounding.verifier import LLMVerifier
    from reasonrec.llm.registry import build_llm

    return LLMVerifier(build_llm(llm_cfg))


def _write_grounding(out: Path, results: list, table: Any, payload: dict, cfg: Any, predictions: Path | None,
                     started: float, seed: int) -> None:
    from reasonrec.io import write_json, write_jsonl, write_parquet
    from reasonrec.runs import write_manifest

    write_parquet(out / "explanations.parquet", table)
    write_jsonl(out / "claims.jsonl", (
        {"explanation_id": r.explanation_id, "method": r.source, "index": c.index, "text": c.text, "label": c.label,
         "facts": [{"kind": f.kind, "status": f.status, "detail": f.detail} for f in c.facts],
         "items": [{"span": m.span, "how": m.how, "item_ids": [i.item_id for i in m.items]} for m in c.mentions]}
        for r in results for c in r.claims))
    write_json(out / "summary.json", payload)
    write_manifest(out, command="reasonrec eval grounding", config=cfg, seeds={"seed": seed},
                   inputs=[predictions] if predictions else [], started_at=started)


JUDGE_KEYS = ("persuasiveness", "transparency", "accuracy", "satisfaction")


def judge_command(
    predictions: Predictions = None,
    dataset: DatasetName = "reasoningrec-beauty",
    data_dir: DataDirOpt = None,
    source: Source = "predictions",
    split: Split = "test",
    k: RunK = None,
    limit: Limit = None,
    seed: Seed = 0,
    llm_config: LLMOpt = None,
    human: Annotated[Path | None, typer.Option(
        "--human", help="Human ratings (JSONL/CSV/Parquet: explanation_id + criterion columns 1–5).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Rate explanations 1–5 on persuasiveness, transparency, accuracy and satisfaction with one or more LLM
    judges (averaged); with --human, report agreement (Pearson, Spearman, Kendall, quadratic kappa). One judge
    is the --llm-config model; several are named under `judges:` in the --config YAML (name: LLMConfig).

    Example: reasonrec eval judge --source teacher --limit 20 --config judges.yaml
    """
    from reasonrec.eval import judge as J
    from reasonrec.llm.registry import build_llm
    from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
    from reasonrec.stages.common.evidence import EvidenceConfig, EvidenceRetriever, default_like_threshold

    started = time.time()
    log = Console(stderr=True)
    with one_line_errors(ValueError, KeyError, FileNotFoundError):
        cfg, llm_cfg = _settings(J.JudgeConfig, config, llm_config, set_, print_config_)
        ds, records = _records(predictions, dataset, data_dir, source, split, k, limit, seed)
        retriever = EvidenceRetriever.from_tables(
            ds.items, SentenceEncoder(cache_path=default_embedding_cache()), interactions=ds.interactions,
            item_descriptions=ds.artefacts.get("item_descriptions"),
            config=EvidenceConfig(like_threshold=default_like_threshold(ds.interactions)))
        evidence = retriever.retrieve([r.row for r in records])
        items = [J.JudgeItem(r.explanation_id, r.source, r.text, r.pred_label, e)
                 for r, e in zip(records, evidence, strict=True)]
        configs = list(cfg.judges.items()) or [(llm_config.stem if llm_config else llm_cfg.model, llm_cfg)]
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
