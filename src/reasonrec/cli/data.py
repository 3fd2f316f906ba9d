"""`reasonrec data ...` commands: prepare a dataset into a split directory, describe one, download one.

Thin wrappers over `reasonrec.data.prepare`; every expected failure (unknown dataset, bad override, bad data)
is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reasonrec.cli.data_download import download_command
from reasonrec.cli.errors import one_line_errors

app = typer.Typer(help="Prepare, describe and download datasets.\n\nExample: reasonrec data prepare movielens-100k "
                  "--out runs/ml100k", no_args_is_help=True)
app.command(name="download")(download_command)

def load_prepare_config(target: str, data_dir: Path | None, overrides: list[str]) -> Any:
    """`target` is a dataset name or a YAML config path; `--data-dir` and `--set` are applied on top."""
    from reasonrec.data.loaders import LOADERS
    from reasonrec.data.prepare import PrepareConfig
    from reasonrec.errors import ConfigError

    path = Path(target)
    if target.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        config = PrepareConfig.from_yaml(path, overrides)
    else:
        config = PrepareConfig.from_dict({"dataset": target}, overrides, source="--set")
    if data_dir is not None:
        config = config.model_copy(update={"data_dir": data_dir})
    if config.dataset not in LOADERS:
        raise ConfigError(f"unknown dataset {config.dataset!r}; known datasets: {', '.join(sorted(LOADERS))}")
    return config


def render_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the describe summary as two rich tables (dataset, splits)."""
    console = console or Console()
    overview = Table(title=f"Dataset {summary.get('dataset') or ''} ({summary['dir']})")
    overview.add_column("statistic")
    overview.add_column("value", justify="right")
    overview.add_row("users", f"{summary['users']:,}")
    overview.add_row("items", f"{summary['items']:,}")
    overview.add_row("interactions", f"{summary['interactions']:,}")
    overview.add_row("density", f"{summary['density']:.4%}")
    for rating, count in summary["rating_histogram"].items():
        overview.add_row(f"rating {rating}", f"{count:,}")
    h = summary["history_length"]
    overview.add_row("history length p10/p50/p90/max", f"{h['p10']:g} / {h['p50']:g} / {h['p90']:g} / {h['max']:g}")
    if summary.get("train_interactions") is not None:
        overview.add_row("CF train interactions", f"{summary['train_interactions']:,}")
    console.print(overview)
    if summary["splits"]:
        splits = Table(title=f"Splits ({summary.get('split_strategy') or '?'})")
        # compact cells so the table fits 80 columns; segments = EXP3RT user segments against the CF train rows
        for col in ("split", "targets", "users", "labels 1/0/null", "mean hist", "warm/cold/unseen"):
            splits.add_column(col, justify="right" if col != "split" else "left", no_wrap=True)
        for name, entry in summary["splits"].items():
            seg = entry.get("segments")
            labels = entry["labels"]
            splits.add_row(
                name, f"{entry['targets']:,}", f"{entry['users']:,}",
                f"{labels['positive']}/{labels['negative']}/{labels['unlabelled']}",
                f"{entry['mean_history_length']:.2f}",
                f"{seg['warm']}/{seg['cold']}/{seg['unseen']}" if seg else "-",
            )
        console.print(splits)


def load_report(info: dict[str, Any]) -> list[str]:
    """What loading did to the rows, one line each: CSV counts, rating range, skips, duplicates, text caps."""
    lines = []
    for path, read in (info.get("read") or {}).items():
        if "lines" in read:
            lines.append(f"read {read['rows']:,} rows from {read['lines']:,} lines of {path} "
                         f"({read['multiline_rows']:,} row(s) span several lines)")
        else:
            lines.append(f"read {read['rows']:,} rows from {path}")
    if "rating_range" in info:
        rr = info["rating_range"]
        how = "inferred; set load.rating_range to change it" if rr["inferred"] else "load.rating_range"
        lines.append(f"rating range [{rr['low']:g}, {rr['high']:g}] ({how})")
    skipped = info.get("skipped") or {}
    if skipped.get("count"):
        first = skipped["reasons"][0] if skipped.get("reasons") else ""
        lines.append(f"skipped {skipped['count']:,} malformed row(s) (load.on_error=skip); first: {first}")
    if info.get("duplicates_dropped"):
        lines.append(f"dropped {info['duplicates_dropped']:,} duplicate (user, item, timestamp) row(s) "
                     f"(load.dedupe)")
    caps = info.get("text_caps")
    if caps is not None:
        counts = ", ".join(f"{name} {n:,}" for name, n in caps["capped"].items()) or "none"
        limits = ", ".join(f"{name} {n:,}" for name, n in caps["caps"].items() if n is not None)
        lines.append(f"text fields cut to their cap at load: {counts} (load.text_caps in characters: {limits})")
    return lines


def prepare_and_describe(dataset: str, data_dir: Path | None, out: Path) -> dict[str, Any]:
    """Prepare `dataset` with the default config into `out`, then print and write its description."""
    from reasonrec.data.prepare import PrepareConfig, describe, prepare, write_describe

    prepare(PrepareConfig(dataset=dataset, data_dir=data_dir), out)
    summary = describe(out)
    write_describe(out, summary)
    render_summary(summary)
    return summary


@app.command("prepare")
def prepare_command(
    target: Annotated[str, typer.Argument(help="Dataset name (e.g. movielens-100k) or a PrepareConfig YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the prepared tables and splits into.")],
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Root of the datasets (default: config data_dir, else $REASONREC_DATA_DIR)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Config override key=value, repeatable (e.g. --set split.strategy=temporal_ratio)."),
    ] = None,
) -> None:
    """Load a dataset, apply filters, split it, and write Parquet tables + config.yaml + manifest.json.

    Example: reasonrec data prepare movielens-100k --out runs/ml100k --set split.strategy=temporal_ratio
    """
    from reasonrec.data.prepare import prepare

    with one_line_errors():
        config = load_prepare_config(target, data_dir, set_ or [])
        prepared = prepare(config, out)
    stats = prepared.split.stats
    for line in load_report(prepared.dataset.info):
        typer.echo(line)
    typer.echo(
        f"prepared {config.dataset} -> {out}: {prepared.dataset.interactions.height:,} interactions loaded, "
        f"{prepared.filtered.height:,} after filters; {config.split.strategy}: "
        f"train {stats['train_targets']:,} / valid {stats['valid_targets']:,} / test {stats['test_targets']:,} "
        f"targets, {stats['train_interactions']:,} CF train interactions"
    )


@app.command("describe")
def describe_command(
    directory: Annotated[Path, typer.Argument(help="A directory written by `reasonrec data prepare`.")],
) -> None:
    """Print dataset and split statistics; write DIR/describe.json and DIR/describe.png.

    Example: reasonrec data describe runs/ml100k
    """
    from reasonrec.data.prepare import describe, write_describe

    with one_line_errors():
        summary = describe(directory)
        json_path, png_path = write_describe(directory, summary)
    render_summary(summary)
    typer.echo(f"wrote {json_path} and {png_path}")
