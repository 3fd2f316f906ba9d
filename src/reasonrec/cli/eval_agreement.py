"""`reasonrec eval agreement ANNOTATIONS`: the human-alignment statistics of explanation ratings (Rec-SAVER's
human study) — between annotators, against automatic metrics, and between correct and incorrect predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, MaybeOutOpt, PrintOpt, SetOpt

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def read_annotation_table(path: Path) -> Any:
    """The explorer's SQLite store, or an export: .csv, .jsonl or .parquet with one rating per row."""
    import polars as pl

    from reasonrec.errors import DataError
    from reasonrec.serve.feedback import read_annotations

    if path.suffix.lower() in SQLITE_SUFFIXES:
        rows = read_annotations(path)
        if not rows:
            raise DataError("the store holds no annotations yet", path=path)
        return pl.DataFrame(rows, infer_schema_length=None)
    if not path.is_file():
        raise DataError("file not found", path=path)
    readers = {".csv": pl.read_csv, ".jsonl": pl.read_ndjson, ".parquet": pl.read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"unknown annotations format {path.suffix!r}; use {', '.join([*SQLITE_SUFFIXES, *readers])}",
                        path=path)
    try:
        return reader(path)
    except Exception as exc:  # polars raises several error types for malformed files
        raise DataError(f"cannot read annotations: {exc}", path=path) from exc


@one_line_errors()
def agreement_command(
    annotations: Annotated[Path, typer.Argument(help="The explorer's feedback store (.sqlite) or a .csv/.jsonl/"
                                                     ".parquet export of its annotations.")],
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="Predictions the explanations came from (label, pred_label, reference, grounding*/"
                              "judge* columns): enables metric correlations and the correct-vs-incorrect t-test.")
    ] = None,
    out: MaybeOutOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
) -> None:
    """Inter-annotator quadratic kappa; Pearson/Spearman/Kendall of human scores vs BLEU/ROUGE/METEOR/BERTScore,
    grounding and judge scores; t-test of human scores between correct and incorrect predictions. Settings
    (HumanAlignmentConfig), e.g. --set text.metrics=[bleu,rouge1,meteor,bertscore].

    Example: reasonrec eval agreement bundle.feedback.sqlite --predictions runs/student/predictions.parquet --out runs/human
    """
    import json
    import time

    from reasonrec.cli.options import print_config, resolve_command_config
    from reasonrec.eval.human import HumanAlignmentConfig, human_alignment
    from reasonrec.eval.readers import read_predictions
    from reasonrec.io import write_json
    from reasonrec.runs import write_manifest

    started = time.time()
    cfg = resolve_command_config(HumanAlignmentConfig, config=config, overrides=set_ or [])
    print_config(print_config_, config=cfg)
    table = read_annotation_table(annotations)
    preds = read_predictions(predictions) if predictions is not None else None
    result = human_alignment(table, preds, cfg)
    render_alignment(result)
    if out is not None:
        written = write_json(out / "agreement.json", result)
        write_manifest(out, command="reasonrec eval agreement", config=cfg,
                       inputs=[annotations, *([predictions] if predictions else [])], outputs=[written,
                       out / "config.yaml"], started_at=started)
        typer.echo(f"wrote {written}")
    else:
        typer.echo(json.dumps(result, indent=2, default=str))


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("value") is None:
        return f"- ({entry.get('reason', 'n/a')})" if entry else "-"
    p = entry.get("p_value")
    return f"{entry['value']:.3f}" + (f" (p={p:.3g}, n={entry['n']})" if p is not None else f" (n={entry['n']})")


def render_alignment(result: dict[str, Any]) -> None:
    """Three readable tables: annotators, human vs metrics, correct vs incorrect."""
    from rich.console import Console
    from rich.table import Table

    from reasonrec.eval.human import DIMENSIONS

    console = Console(stderr=True)
    kappa = Table(title=f"Quadratic κ between annotators ({len(result['between_annotators']['annotators'])})")
    kappa.add_column("pair")
    for dim in DIMENSIONS:
        kappa.add_column(dim)
    for pair, values in result["between_annotators"]["pairs"].items():
        kappa.add_row(pair, *[_cell(values[d]) for d in DIMENSIONS])
    console.print(kappa)
    if result["human_vs_metrics"]:
        metrics = Table(title="Human score vs automatic metric (Pearson / Spearman / Kendall)")
        metrics.add_column("metric")
        for dim in DIMENSIONS:
            metrics.add_column(dim)
        for metric, values in result["human_vs_metrics"].items():
            metrics.add_row(metric, *["\n".join(_cell(values[d][k]) for k in ("pearson", "spearman", "kendall"))
                                      for d in DIMENSIONS])
        console.print(metrics)
    test = result.get("correct_vs_incorrect")
    if test:
        table = Table(title=f"t-test: correct ({test['correct']}) vs incorrect ({test['incorrect']}) predictions")
        for column in ("dimension", "mean correct", "mean incorrect", "t"):
            table.add_column(column)
        for dim in DIMENSIONS:
            row = test[dim]
            means = [f"{m:.2f}" if m is not None else "-" for m in (row["mean_correct"], row["mean_incorrect"])]
            table.add_row(dim, *means, _cell(row))
        console.print(table)
