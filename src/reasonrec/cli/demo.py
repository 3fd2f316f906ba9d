"""`reasonrec demo`: the main job end-to-end — the explaining hybrid on Beauty with the embedded model, QUICK budget.

Same code path as `reasonrec run hybrid` at the quick preset: leak-free CF facts, a CF-aware label-only student
(LoRA on the embedded SmolLM2), the hybrid stacked on validation rows with and without the student, the single
baselines on the same test rows (the first 320 labelled Beauty test rows), and every method against the best baseline
with a 95% paired CI — "cannot rank" where the rows cannot tell them apart. The paper reproduction is
`reasonrec reproduce reasoningrec --budget quick`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import BudgetOpt, DataDirOpt, LLMOpt, SetOpt, yaml_layer


@one_line_errors()
def demo(
    data_dir: DataDirOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path("runs/demo"),
    budget: BudgetOpt = "quick",
    llm_config: LLMOpt = None,
    set_: SetOpt = None,
) -> None:
    """Explaining hybrid on Beauty (CF-aware SmolLM2 student + stacker) vs the baselines, with paired CIs.

    Example: reasonrec demo --data-dir ../shared/data --out runs/demo
    """
    from reasonrec.methods import get_recipe
    from reasonrec.methods.reproduction import metrics_table

    started = time.time()
    recipe = get_recipe("hybrid")
    config = recipe.resolve(budget=budget, overrides=set_ or [], flags={
        "data_dir": data_dir, "llm": yaml_layer(llm_config) if llm_config is not None else None})
    metrics = recipe.run(config, out).metrics
    typer.echo(metrics_table(metrics))
    for view, result in metrics["paired"].items():
        typer.echo(f"\n{view}: each method − best baseline ({result['reference']}), {result['n']} rows")
        pairs = [(m, d) for m, d in result["comparisons"].items()]
        pairs += [("hybrid − hybrid-no-llm", result["hybrid_vs_ablation"])] if result.get("hybrid_vs_ablation") else []
        for name, d in pairs:
            if d is not None:
                typer.echo(f"  {name:32s} {d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {d['verdict']}")
    typer.echo(f"wrote {out / 'metrics.json'}, {out / 'report.md'}, {out / 'report.html'} "
               f"({time.time() - started:.0f} s)")
