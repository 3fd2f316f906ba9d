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
from reasonrec.eval.report import INPUT_FORMATS, ReportConfig, generate_report
from reasonrec.eval.text import TEXT_METRICS, TextMetricsConfig


def report_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories (predictions.parquet and/or metrics.json, or the authors' release "
            "folder with test_outputs.json) or predictions files."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory for report.md/.html/.json and PNGs.")],
    fmt: Annotated[str, typer.Option("--format", help=f"Input format: {', '.join(INPUT_FORMATS)}.")] = "auto",
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
            "--text-metrics", help=f"Opt-in comma list of {','.join(TEXT_METRICS)} (BERTScore is slow)."
        ),
    ] = "",
    bertscore_model: Annotated[
        Path | None, typer.Option("--bertscore-model", help="Local model dir for BERTScore (default MiniLM).")
    ] = None,
    bertscore_layers: Annotated[int, typer.Option("--bertscore-layers", help="BERTScore layer.")] = 6,
    calibration_bins: Annotated[
        int, typer.Option("--calibration-bins", help="Reliability diagram bins.")
    ] = 10,
) -> None:
    """Compare methods × datasets across runs: tables with CIs and n, ROC/calibration/K/confusion plots."""
    log = Console(stderr=True)
    started = time.perf_counter()
    with one_line_errors(ValueError, KeyError, FileNotFoundError):  # + bad values/columns/paths
        names = [m.strip() for m in text_metrics.split(",") if m.strip()]
        text = (
            TextMetricsConfig(
                metrics=names,
                bertscore_model=str(bertscore_model) if bertscore_model else None,
                bertscore_num_layers=bertscore_layers,
            )
            if names
            else None
        )
        config = ReportConfig(
            title=title,
            bootstrap=bootstrap,
            seed=seed,
            threshold=threshold,
            dedupe=not no_dedupe,
            text=text,
            calibration_bins=calibration_bins,
        )
        log.print(f"reading {len(inputs)} input(s)")
        report, files = generate_report(inputs, out, config, fmt)
    log.print(
        f"{len(report.entries)} rows over {len(report.datasets())} dataset(s), {len(files.plots)} plots, "
        f"{time.perf_counter() - started:.1f} s"
    )
    for path in (files.markdown, files.html, files.json, *files.plots):
        typer.echo(str(path))
