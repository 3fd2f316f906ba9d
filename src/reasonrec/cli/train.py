"""`reasonrec train sft-data|lora`: build the student's SFT dataset, or train a LoRA student into a run directory.

Both read a `TrainRunConfig` YAML (optional) plus `--set key=value` overrides (e.g. `--set sft.k=64
--set lora.eval_metric=eval_loss`), so a run is reproducible from its written config.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.errors import ConfigError, DataError

app = typer.Typer(help="Distil the teacher into a student: SFT datasets and LoRA training.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TrainRunConfig YAML (default: paper defaults).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override key=value, e.g. sft.k=64 (repeatable).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output directory.")]
DatasetOpt = Annotated[str | None, typer.Option("--dataset", help="Dataset name (overrides the config).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data root (default: $REASONREC_DATA_DIR).")]


def _config(config: Path | None, set_: list[str] | None, dataset: str | None, data_dir: Path | None):
    from reasonrec.train.student import TrainRunConfig

    overrides = list(set_ or [])
    if dataset:
        overrides.append(f"dataset={dataset}")
    if data_dir:
        overrides.append(f"data_dir={data_dir}")
    return TrainRunConfig.from_yaml(config, overrides) if config else TrainRunConfig().with_overrides(overrides)


@app.command("sft-data")
def sft_data(out: OutOpt, config: ConfigOpt = None, set_: SetOpt = None, dataset: DatasetOpt = None,
             data_dir: DataDirOpt = None) -> None:
    """Write <out>/train/sft.parquet (+ valid/) with sft_stats.json; prints the stats."""
    from reasonrec.runs import write_manifest
    from reasonrec.train.sft_data import load_tokenizer
    from reasonrec.train.student import build_sft_splits

    cfg = _config(config, set_, dataset, data_dir)
    train, valid = build_sft_splits(cfg, load_tokenizer(cfg.lora.model))
    paths = [train.write(out / "train")]
    if valid is not None:
        paths.append(valid.write(out / "valid"))
    write_manifest(out, command="train sft-data", config=cfg, seeds={"seed": cfg.sft.seed})
    typer.echo(json.dumps({"train": train.stats, "valid": valid.stats if valid else None}, indent=2))


@app.command("lora")
def lora(out: OutOpt, config: ConfigOpt = None, set_: SetOpt = None, dataset: DatasetOpt = None,
         data_dir: DataDirOpt = None) -> None:
    """Train a LoRA student: <out>/adapter, trainer_log.jsonl, curves.png, config.yaml, manifest.json."""
    from reasonrec.train.student import run_training

    cfg = _config(config, set_, dataset, data_dir)
    result = run_training(cfg, out, command="train lora")
    typer.echo(json.dumps({
        "adapter": str(result.adapter_dir), "global_step": result.global_step, "best_metric": result.best_metric,
        "best_step": result.best_step, "train_examples": result.train_examples, "wall_s": round(result.wall_s, 1),
    }, indent=2))


def _trainer_log(run: Path) -> Path:
    """A LoRA run directory, or a reproduction directory whose student/ holds the trainer log."""
    for candidate in (run / "trainer_log.jsonl", run / "student" / "trainer_log.jsonl"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{run}: no trainer_log.jsonl (looked in {run} and {run / 'student'})")


@app.command("curves")
@one_line_errors()
def curves(
    runs: Annotated[list[Path], typer.Argument(help="LoRA run directories (or reproduction dirs with student/).")],
    out: Annotated[Path, typer.Option("--out", help="PNG to write.")] = Path("curves_compare.png"),
    name: Annotated[list[str] | None, typer.Option("--name", help="Legend label per run, in order.")] = None,
) -> None:
    """Overlay several runs' validation AUC / loss per step (compare recipes on validation); prints each run's best."""
    from reasonrec.train.curves import plot_compare, read_log, series

    names = list(name or [])
    if names and len(names) != len(runs):
        raise ConfigError(f"{len(names)} --name values for {len(runs)} runs")
    logs = {}
    for i, run in enumerate(runs):
        path = _trainer_log(run)
        label = names[i] if names else (run.name if run.name != "student" else run.parent.name)
        logs[label] = read_log(path)
    plot_compare(logs, out, title="validation curves")
    rows = []
    for label, log in logs.items():
        steps, aucs = series(log, "eval_auc")
        best = max(range(len(aucs)), key=aucs.__getitem__) if aucs else None
        rows.append({"run": label, "evaluations": len(aucs),
                     "best_valid_auc": None if best is None else round(aucs[best], 4),
                     "best_step": None if best is None else steps[best],
                     "last_step": max(series(log, "loss")[0], default=None)})
    typer.echo(json.dumps({"plot": str(out), "runs": rows}, indent=2))
