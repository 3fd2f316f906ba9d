"""`reasonrec report RUN... --out DIR`: compare runs in report.md, a self-contained report.html, report.json, PNGs.

stdout carries only the paths written (one per line); progress and errors go to stderr.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.eval import text_metrics_layer
from reasonrec.cli.options import ConfigOpt, SetOpt


def report_command(
    ctx: typer.Context,
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories (predictions.parquet and/or metrics.json, or the authors' release "
            "folder with test_outputs.json) or predictions files."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory for report.md/.html/.json and PNGs.")],
    fmt: Annotated[str, typer.Option("--format", help="Input format: auto | predictions | "
                                     "reasoningrec-release.")] = "auto",
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "reasonrec evaluation report",
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="AUC bootstrap resamples (0 = no CI).")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    threshold: Annotated[
        float, typer.Option("--threshold", help="score >= threshold → like (no parsed label).")
    ] = 0.5,
    no_dedupe: Annotated[bool, typer.Option("--no-dedupe", help="Do not report distinct rows.")] = False,
    text_metrics: Annotated[
        str,
        typer.Option(
            "--text-metrics", help="Opt-in comma list of bleu,rouge1,meteor,bertscore (BERTScore is slow)."
        ),
    ] = "",
    bertscore_model: Annotated[
        Path | None, typer.Option("--bertscore-model", help="Local model dir for BERTScore (default MiniLM).")
    ] = None,
    bertscore_layers: Annotated[int, typer.Option("--bertscore-layers", help="BERTScore layer.")] = 6,
    calibration_bins: Annotated[
        int, typer.Option("--calibration-bins", help="Reliability diagram bins.")
    ] = 10,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Compare methods × datasets across runs: tables with CIs and n, ROC/calibration/K/confusion plots.

    Example: reasonrec report runs/demo runs/k64 --out runs/compare --bootstrap 500
    """
    from reasonrec.cli.options import given_flags, resolve_command_config
    from reasonrec.eval.report import ReportConfig, generate_report

    log = Console(stderr=True)
    started = time.perf_counter()
    with one_line_errors(ValueError, KeyError, FileNotFoundError):  # + bad values/columns/paths
        text = text_metrics_layer(text_metrics, bertscore_model, bertscore_layers)
        flags = given_flags(ctx, {"title": title, "bootstrap": bootstrap, "seed": seed, "threshold": threshold,
                                  "no_dedupe": not no_dedupe, "calibration_bins": calibration_bins})
        flags = {("dedupe" if k == "no_dedupe" else k): v for k, v in flags.items()}
        if text is not None:
            flags["text"] = text
        config_ = resolve_command_config(ReportConfig, config=config, overrides=set_ or [], flags=flags)
        log.print(f"reading {len(inputs)} input(s)")
        report, files = generate_report(inputs, out, config_, fmt)
    log.print(
        f"{len(report.entries)} rows over {len(report.datasets())} dataset(s), {len(files.plots)} plots, "
        f"{time.perf_counter() - started:.1f} s"
    )
    for path in (files.markdown, files.html, files.json, *files.plots):
        typer.echo(str(path))
