"""`reasonrec reproduce <paper>`: one command per paper → OUT/metrics.json + report.md/html (+ config, manifest).

Every command takes the same options: `--out`, `--dataset`, `--data-dir`, `--budget quick|full` (quick = minutes on
a laptop CPU, full = the paper's protocol), `--llm-config` (the students' base model), `--teacher-llm-config` (the
teacher; both default to the embedded model), `--config` (a YAML of
reproduction settings), `--set key=value` and `--print-config`. One precedence (`cli.options`): paper defaults ←
dataset defaults ← budget preset ← --config YAML ← flags ← --set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import (
    BudgetOpt,
    ConfigOpt,
    DataDirOpt,
    LLMOpt,
    OutOpt,
    PrintOpt,
    SetOpt,
    TeacherLLMOpt,
    print_config,
    yaml_layer,
)

app = typer.Typer(
    help="Reproduce a paper end-to-end (ReasoningRec, EXP3RT, Rec-SAVER).\n\n"
    "Example: reasonrec reproduce reasoningrec --budget quick --out runs/rr_quick",
    no_args_is_help=True,
)

DatasetOpt = Annotated[str | None, typer.Option("--dataset", help="Dataset (default: the paper's).")]
AblationOpt = Annotated[str | None, typer.Option(
    "--ablation", help="One of the paper's ablation tables, as a preset above the budget (docs/fidelity.md lists "
    "them; an unknown name lists the known ones).")]


def run_reproduction(paper: str, *, out: Path, dataset: str | None = None, data_dir: Path | None = None,
                     budget: str = "full", llm_config: Path | None = None, teacher_llm_config: Path | None = None,
                     config: Path | None = None, overrides: list[str] | None = None,
                     flags: dict[str, Any] | None = None, print_only: bool = False,
                     ablation: str | None = None) -> dict[str, Any]:
    """Resolve the config (one precedence), run, print the metrics table. Used by `demo` too."""
    from reasonrec.methods import get_reproduction
    from reasonrec.methods.reproduction import metrics_table

    started = time.time()
    repro = get_reproduction(paper)
    llm = yaml_layer(llm_config) if llm_config is not None else None
    teacher = yaml_layer(teacher_llm_config) if teacher_llm_config is not None else None
    resolved = repro.resolve(budget=budget, overrides=overrides or [], yaml=yaml_layer(config),
                             flags={"dataset": dataset, "data_dir": data_dir, "llm": llm, "teacher_llm": teacher,
                                    **(flags or {})}, ablation=ablation)
    print_config(print_only, config=resolved)
    command = f"reasonrec reproduce {paper} --dataset {resolved.dataset} --budget {budget} --out {out}"
    if resolved.ablation:
        command += f" --ablation {resolved.ablation}"
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
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="reasoningrec-beauty (default) | reasoningrec-ml1m | reasoningrec-release (any category "
        "in the release layout: --set domain=fashion)")] = None,
    k: Annotated[int | None, typer.Option("--k", help="K training examples (paper: 64/128/256).")] = None,
    data_dir: DataDirOpt = None, budget: BudgetOpt = "full", ablation: AblationOpt = None, llm_config: LLMOpt = None,
    teacher_llm_config: TeacherLLMOpt = None, config: ConfigOpt = None, set_: SetOpt = None,
    print_config_: PrintOpt = False,
) -> None:
    """Student (LoRA on the released teacher reasoning) vs TALLRec, zero-shot, CF baselines and the authors.

    Example: reasonrec reproduce reasoningrec --budget quick --k 64 --out runs/rr_k64
    """
    run_reproduction("reasoningrec", out=out, dataset=dataset, data_dir=data_dir, budget=budget,
                     llm_config=llm_config, teacher_llm_config=teacher_llm_config, config=config, overrides=set_,
                     flags={"k": k}, ablation=ablation, print_only=print_config_)


def _paper_command(paper: str, doc: str) -> Callable[..., None]:
    """`reproduce <paper>` for a paper that takes only the options every reproduction shares (ReasoningRec adds
    --k, so it has its own command above)."""

    def command(
        out: OutOpt, dataset: DatasetOpt = None, data_dir: DataDirOpt = None, budget: BudgetOpt = "full",
        ablation: AblationOpt = None, llm_config: LLMOpt = None, teacher_llm_config: TeacherLLMOpt = None,
        config: ConfigOpt = None, set_: SetOpt = None, print_config_: PrintOpt = False,
    ) -> None:
        run_reproduction(paper, out=out, dataset=dataset, data_dir=data_dir, budget=budget, llm_config=llm_config,
                         teacher_llm_config=teacher_llm_config, config=config, overrides=set_,
                         print_only=print_config_, ablation=ablation)

    command.__doc__ = doc
    return one_line_errors()(command)


PAPER_COMMANDS = {
    "exp3rt": """Rating student (expected rating) vs the averages and MF: RMSE/MAE, top-k reranking.

    IMDB release: a user-disjoint part of the released pairs.

    Raw reviews (reasoningrec-beauty, amazon-beauty-raw): 5-core, 8:1:1 by timestamp, warm/cold/unseen tables.

    Example: reasonrec reproduce exp3rt --dataset reasoningrec-beauty --budget quick --out runs/exp3rt_beauty
    """,
    "recsaver": """Zero-shot CoT vs no reasoning, verified references, student paths/filters, NLG + correctness tables.

    Example: reasonrec reproduce recsaver --dataset movielens-100k --budget quick --teacher-llm-config t.yaml --out rs
    """,
}
"""The papers `_paper_command` serves, with their --help text."""

for _paper, _doc in PAPER_COMMANDS.items():
    app.command(_paper)(_paper_command(_paper, _doc))


__all__ = ["app", "run_reproduction"]
