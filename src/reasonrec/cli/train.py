"""`reasonrec train sft-data|lora|curves`: build the student's SFT dataset, train a LoRA student into a run
directory (the one student path, `train.student`), or compare runs' validation curves.

`sft-data` and `lora` resolve a `TrainRunConfig`: defaults ← --config YAML ← flags (--dataset, --data-dir, the
base model of --llm-config as `lora.model`) ← --set (e.g. `--set sft.k=64 --set lora.eval_metric=eval_loss`), so a
run is reproducible from its written config.yaml.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import (
    ConfigOpt,
    DataDirOpt,
    LLMOpt,
    OutOpt,
    PrintOpt,
    SetOpt,
    print_config,
    resolve_command_config,
    resolve_llm_config,
    split_llm_overrides,
)
from reasonrec.errors import ConfigError, DataError

if TYPE_CHECKING:
    from reasonrec.train.student import TrainRunConfig

app = typer.Typer(
    help="Distil the teacher into a student: SFT datasets, LoRA training, validation curves.\n\n"
    "Example: reasonrec train lora --out runs/k64 --set sft.k=64 --set lora.num_train_epochs=1",
    no_args_is_help=True,
)

DatasetOpt = Annotated[str | None, typer.Option("--dataset", help="Dataset name (default: the config's).")]


def _config(config: Path | None, set_: list[str] | None, dataset: str | None, data_dir: Path | None,
            llm_config: Path | None) -> TrainRunConfig:
    from reasonrec.train.student import TrainRunConfig

    own, llm_overrides = split_llm_overrides(set_)
    base_model = None
    if llm_config is not None or llm_overrides:
        llm = resolve_llm_config(llm_config, llm_overrides)
        if llm.backend != "hf":
            raise ConfigError(f"a student is trained locally: llm.backend must be 'hf', not {llm.backend!r}")
        base_model = {"model": llm.model}
    return resolve_command_config(TrainRunConfig, config=config, overrides=own,
                                  flags={"dataset": dataset, "data_dir": data_dir, "lora": base_model})


@app.command("sft-data")
@one_line_errors()
def sft_data(out: OutOpt, config: ConfigOpt = None, set_: SetOpt = None, dataset: DatasetOpt = None,
             data_dir: DataDirOpt = None, llm_config: LLMOpt = None, print_config_: PrintOpt = False) -> None:
    """Write <out>/train/sft.parquet (+ valid/) with sft_stats.json; prints the stats.

    Example: reasonrec train sft-data --out runs/sft_k64 --set sft.k=64 --set sft.balance_classes=true
    """
    from reasonrec.runs import write_manifest
    from reasonrec.train.sft_data import load_tokenizer
    from reasonrec.train.student import build_sft_splits

    cfg = _config(config, set_, dataset, data_dir, llm_config)
    print_config(print_config_, config=cfg)
    train, valid = build_sft_splits(cfg, load_tokenizer(cfg.lora.model))
    paths = [train.write(out / "train")]
    if valid is not None:
        paths.append(valid.write(out / "valid"))
    write_manifest(out, command="train sft-data", config=cfg, seeds={"seed": cfg.sft.seed})
    typer.echo(json.dumps({"train": train.stats, "valid": valid.stats if valid else None}, indent=2))


@app.command("lora")
@one_line_errors()
def lora(out: OutOpt, config: ConfigOpt = None, set_: SetOpt = None, dataset: DatasetOpt = None,
         data_dir: DataDirOpt = None, llm_config: LLMOpt = None, print_config_: PrintOpt = False) -> None:
    """Train a LoRA student: <out>/adapter, trainer_log.jsonl, curves.png, config.yaml, manifest.json.

    Example: reasonrec train lora --out runs/k64 --set sft.k=64 --set lora.learning_rate=1e-3
    """
    from reasonrec.train.student import run_training

    cfg = _config(config, set_, dataset, data_dir, llm_config)
    print_config(print_config_, config=cfg)
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its log dicts; stdout is the result JSON
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
    """Overlay several runs' validation AUC / loss per step (compare recipes on validation); prints each run's best.

    Example: reasonrec train curves runs/k64 runs/k128 --name K=64 --name K=128 --out curves.png
    """
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
