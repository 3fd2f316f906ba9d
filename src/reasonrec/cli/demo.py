"""`reasonrec demo`: the main job end-to-end — the QUICK ReasoningRec reproduction on Beauty with the embedded model.

Same code path as `reasonrec reproduce reasoningrec --budget quick` (student LoRA on the released teacher
reasoning, TALLRec, zero-shot, CF baselines, the authors' numbers, report.md/html).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import BudgetOpt, DataDirOpt, LLMOpt, SetOpt


@one_line_errors()
def demo(
    data_dir: DataDirOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path("runs/demo"),
    budget: BudgetOpt = "quick",
    llm_config: LLMOpt = None,
    set_: SetOpt = None,
) -> None:
    """Quick ReasoningRec reproduction on Beauty (embedded SmolLM2 + LoRA) with baselines and a report.

    Example: reasonrec demo --data-dir ../shared/data --out runs/demo
    """
    from reasonrec.cli.reproduce import run_reproduction

    run_reproduction("reasoningrec", dataset="reasoningrec-beauty", out=out, data_dir=data_dir, budget=budget,
                     llm_config=llm_config, overrides=set_ or [])
