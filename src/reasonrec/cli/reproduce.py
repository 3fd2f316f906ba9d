"""`reasonrec reproduce <paper>`: one command per paper → OUT/metrics.json + report.md/html (+ config, manifest).

Every command takes the same options: `--out`, `--data-dir`, `--budget quick|full` (quick = minutes on a laptop
CPU, full = the paper's protocol), `--llm-config` (LLMConfig YAML for the base/teacher model), `--config` (a YAML
of reproduction settings) and repeatable `--set key=value` overrides applied last.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from reasonrec.cli.errors import one_line_errors

app = typer.Typer(help="Reproduce a paper end-to-end (ReasoningRec, EXP3RT, Rec-SAVER).", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", help="Run directory (metrics.json, report.md/html, ...).")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data root (default $REASONREC_DATA_DIR).")]
BudgetOpt = Annotated[str, typer.Option("--budget", help="quick (minutes, subsets) | full (paper protocol).")]
LLMOpt = Annotated[Path | None, typer.Option("--llm-config", help="LLMConfig YAML (default: embedded model).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML with reproduction settings.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable), applied last.")]


def run_reproduction(paper: str, *, dataset: str | None, out: Path, data_dir: Path | None, budget: str,
                     llm_config: Path | None, config: Path | None, overrides: list[str] | None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve the config (defaults ← YAML ← budget ← --set), run, print the metrics table. Used by `demo` too."""
    import yaml

    from reasonrec.methods import get_reproduction
    from reasonrec.methods.reproduction import metrics_table

    started = time.time()
    repro = get_reproduction(paper)
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) if config is not None else None
    llm = yaml.safe_load(llm_config.read_text(encoding="utf-8")) if llm_config is not None else None
    resolved = repro.resolve(dataset, budget, overrides or [], yaml=raw,
                             flags={"data_dir": data_dir, "llm": llm, **(extra or {})})
    name = resolved.dataset
    command = f"reasonrec reproduce {paper} --dataset {name} --budget {budget} --out {out}"
    metrics = repro.run(resolved, out, command=command)
    typer.echo(metrics_table(metrics))
    for note in metrics.get("notes") or []:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {out / 'metrics.json'}, {out / 'report.md'}, {out / 'report.html'} "
               f"({time.time() - started:.0f} s)")
    return metrics


@app.command("reasoningrec")
@one_line_errors()
def reasoningrec(
    out: OutOpt,
    dataset: Annotated[str, typer.Option("--dataset", help="reasoningrec-beauty | reasoningrec-ml1m | "
                                         "reasoningrec-release (any category: --set domain=fashion)")]
    = "reasoningrec-beauty",
    k: Annotated[int | None, typer.Option("--k", help="K training examples (paper: 64/128/256).")] = None,
    data_dir: DataOpt = None, budget: BudgetOpt = "full", llm_config: LLMOpt = None, config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Student (LoRA on the released teacher reasoning) vs TALLRec, zero-shot, CF baselines and the authors."""
    overrides = [*(set_ or []), *([f"k={k}"] if k is not None else [])]
    run_reproduction("reasoningrec", dataset=dataset, out=out, data_dir=data_dir, budget=budget,
                     llm_config=llm_config, config=config, overrides=overrides)


@app.command("exp3rt")
@one_line_errors()
def exp3rt(
    out: OutOpt,
    dataset: Annotated[str, typer.Option("--dataset", help="exp3rt-imdb")] = "exp3rt-imdb",
    data_dir: DataOpt = None, budget: BudgetOpt = "full", llm_config: LLMOpt = None, config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Rating student on a user-disjoint part of the released pairs: RMSE/MAE vs averages, top-k reranking."""
    run_reproduction("exp3rt", dataset=dataset, out=out, data_dir=data_dir, budget=budget,
                     llm_config=llm_config, config=config, overrides=set_)


@app.command("recsaver")
@one_line_errors()
def recsaver(
    out: OutOpt,
    dataset: Annotated[str, typer.Option("--dataset", help="amazon-beauty-raw")] = "amazon-beauty-raw",
    data_dir: DataOpt = None, budget: BudgetOpt = "full", llm_config: LLMOpt = None, config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Zero-shot CoT vs no reasoning, verified references, student paths/filters, NLG + correctness tables."""
    run_reproduction("recsaver", dataset=dataset, out=out, data_dir=data_dir, budget=budget,
                     llm_config=llm_config, config=config, overrides=set_)
