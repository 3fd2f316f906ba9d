"""`reasonrec run reasoningrec|exp3rt|recsaver|tallrec|hybrid`: one method recipe end to end into a run directory.

The recipe's config resolves with the one precedence (`cli.options`): paper defaults ← --config YAML ← flags
(--dataset, --data-dir, --llm-config, --limit-users) ← --set. The LLM is the config's `llm` section.
"""

from __future__ import annotations

import json
from typing import Annotated

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
    yaml_layer,
)

MethodArg = Annotated[str, typer.Argument(help="Method recipe: reasoningrec | exp3rt | recsaver | tallrec | hybrid.")]
DatasetOpt = Annotated[str | None, typer.Option(
    "--dataset", help="Dataset name in the loader registry (default: the recipe's paper dataset).")]
LimitUsersOpt = Annotated[int | None, typer.Option("--limit-users", help="Only the first N test users (quick runs).")]


@one_line_errors()
def run_command(
    method: MethodArg,
    out: OutOpt,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    llm_config: LLMOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
    limit_users: LimitUsersOpt = None,
) -> None:
    """Run a method recipe: prepare the split, run (or substitute) each stage, predict, evaluate.

    Example: reasonrec run reasoningrec --out runs/rr --limit-users 5 --set artefacts.teacher_reasoning=release
    """
    from reasonrec.errors import ConfigError
    from reasonrec.methods import get_recipe

    try:
        recipe = get_recipe(method)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="METHOD") from None
    cfg = recipe.resolve(overrides=set_ or [], yaml=yaml_layer(config), flags={
        "dataset": dataset, "data_dir": data_dir, "limit_users": limit_users,
        "llm": yaml_layer(llm_config) if llm_config is not None else None})
    print_config(print_config_, config=cfg)
    result = recipe.run(cfg, out)
    for stage in result.stages:
        rows = "-" if stage.rows is None else stage.rows
        typer.echo(f"  {stage.name:<18} {stage.source:<9} rows={rows} llm_calls={stage.llm_calls} "
                   f"cache_hits={stage.cache_hits} {stage.seconds:.1f}s", err=True)
    summary = {k: result.metrics.get(k) for k in ("method", "dataset", "n", "auc", "auc_ci", "mae", "rmse")}
    typer.echo(json.dumps(summary))
    typer.echo(f"wrote {out / 'metrics.json'} and {out / 'predictions.parquet'}", err=True)


__all__ = ["run_command"]
