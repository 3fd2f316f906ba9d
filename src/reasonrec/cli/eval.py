"""`reasonrec eval ...` commands: score a predictions file; stdout carries only the result (table or JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, SetOpt

app = typer.Typer(
    help="Evaluate predictions: AUC/accuracy/F1, rating and text metrics.\n\n"
    "Example: reasonrec eval predictions runs/demo/predictions.parquet --json", no_args_is_help=True
)
TEXT_METRIC_NAMES = ("bleu", "rouge1", "meteor", "bertscore")

_TABLE_KEYS = (
    "n",
    "parse_failures",
    "parse_failure_rate",
    "auc",
    "auc_ci",
    "accuracy",
    "f1",
    "log_loss",
    "rating_accuracy",
    "macro_auc_ovr",
    "mae",
    "rmse",
    *TEXT_METRIC_NAMES,
)


def text_metrics_layer(text_metrics: str, bertscore_model: Path | None, bertscore_layers: int) -> dict | None:
    """`--text-metrics a,b --bertscore-model DIR --bertscore-layers N` as the `text` section of an eval config."""
    from reasonrec.eval.text import TextMetricsConfig

    names = [m.strip() for m in text_metrics.split(",") if m.strip()]
    if not names:
        return None
    return TextMetricsConfig.from_dict(
        {"metrics": names, "bertscore_model": str(bertscore_model) if bertscore_model else None,
         "bertscore_num_layers": bertscore_layers},
        source="--text-metrics/--bertscore-*",
    ).model_dump()


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _render(result: dict, console: Console) -> None:
    columns = [("all rows", result)]
    if "distinct" in result:
        columns.append((f"distinct ({', '.join(result['dedupe_key'])})", result["distinct"]))
    table = Table(title=f"label from {result.get('label_source')}, threshold {result.get('threshold')}")
    table.add_column("metric")
    for title, _ in columns:
        table.add_column(title, justify="right")
    for key in _TABLE_KEYS:
        if key not in result:
            continue
        table.add_row(key, *[_fmt(part.get(key)) for _, part in columns])
    console.print(table)
    notes = [f"{name}: {m['reason']}" for name, m in result["metrics"].items() if m.get("reason")]
    notes += [f"{name}: model {m['model']}" for name, m in result["metrics"].items() if m.get("model")]
    for note in notes:
        console.print(f"[dim]{note}[/dim]")


@app.command("predictions")
def predictions(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Predictions file (Parquet/JSONL) or the authors' test_outputs.json.")
    ],
    fmt: str = typer.Option("predictions", "--format", help="predictions | reasoningrec-release."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    dedupe: bool = typer.Option(
        False, "--dedupe", help="Also report metrics on distinct prompts / user-item pairs."
    ),
    dedupe_on: str = typer.Option("auto", "--dedupe-on", help="auto | input | user_item."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="AUC bootstrap resamples, 0 to 100000 (0 = no CI)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    threshold: float = typer.Option(
        0.5, "--threshold", help="score >= threshold → like (when no parsed label)."
    ),
    text_metrics: str = typer.Option("", "--text-metrics", help="Comma list of bleu,rouge1,meteor,bertscore."),
    bertscore_model: Annotated[
        Path | None, typer.Option("--bertscore-model", help="Local model dir for BERTScore.")
    ] = None,
    bertscore_layers: int = typer.Option(
        6, "--bertscore-layers", help="Layer of the BERTScore model to use."
    ),
    breakdown: Annotated[
        list[str] | None, typer.Option("--breakdown", help="correctness | segment | rating (repeatable).")
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Score one predictions file (settings: the flags, or any EvalConfig field via --config / --set).

    Example: reasonrec eval predictions runs/demo/predictions.parquet --bootstrap 200 --json
    """
    from reasonrec.cli.options import given_flags, resolve_command_config
    from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
    from reasonrec.eval.readers import read_predictions

    log = Console(stderr=True)
    with one_line_errors(ValueError, KeyError, FileNotFoundError):  # + bad values/columns/paths
        text = text_metrics_layer(text_metrics, bertscore_model, bertscore_layers)
        flags = given_flags(ctx, {"threshold": threshold, "bootstrap": bootstrap, "seed": seed, "dedupe": dedupe,
                                  "dedupe_on": dedupe_on, "breakdown": breakdown})
        flags = {("breakdowns" if k == "breakdown" else k): v for k, v in flags.items()}
        if text is not None:
            flags["text"] = text
        eval_config = resolve_command_config(EvalConfig, config=config, overrides=set_ or [], flags=flags)
        log.print(f"reading {path} as {fmt}")
        df = read_predictions(path, fmt)
        log.print(f"evaluating {df.height} rows")
        result = evaluate_predictions(df, eval_config)
    result = {"path": str(path), "format": fmt, **result}
    if as_json:
        typer.echo(json.dumps(result, allow_nan=False))
    else:
        _render(result, Console())
