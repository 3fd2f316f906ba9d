"""`reasonrec demo`: the main job end-to-end — the QUICK ReasoningRec reproduction on Beauty with the embedded model.

Same code path as `reasonrec reproduce reasoningrec --budget quick` (student LoRA on the released teacher
reasoning, TALLRec, zero-shot, CF baselines, the authors' numbers, report.md/html). The ML-100K prepare summary the
demo used to print was dropped: it is `reasonrec data prepare movielens-100k` and says nothing about the main job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors


@one_line_errors()
def demo(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Root of the datasets (default: $REASONREC_DATA_DIR).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path("runs/demo"),
    budget: Annotated[str, typer.Option("--budget", help="quick (default, minutes) | full (paper protocol).")]
    = "quick",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable).")] = None,
) -> None:
    """Quick ReasoningRec reproduction on Beauty (embedded SmolLM2 + LoRA) with baselines and a report."""
    from reasonrec.cli.reproduce import run_reproduction

    run_reproduction("reasoningrec", dataset="reasoningrec-beauty", out=out, data_dir=data_dir, budget=budget,
                     llm_config=None, config=None, overrides=set_ or [])
