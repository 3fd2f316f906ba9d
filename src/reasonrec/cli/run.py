"""`reasonrec run reasoningrec|exp3rt|recsaver|tallrec`: one method recipe end to end into a run directory.

Config precedence (lowest first): the recipe's paper defaults → `--config YAML` → `--dataset/--data-dir/
--limit-users` → `--set key=value`. The LLM comes from `--llm-config` (default: the embedded model, cached).
The lead registers this function: `app.command(name="run")(run_command)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors

MethodArg = Annotated[str, typer.Argument(help="Method recipe: reasoningrec | exp3rt | recsaver | tallrec.")]
DatasetOpt = Annotated[str | None, typer.Option(
    "--dataset", help="Dataset name in the loader registry (default: the recipe's paper dataset).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data root (default: $REASONREC_DATA_DIR).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory: metrics.json, predictions.parquet, stages/.")]
LLMOpt = Annotated[Path | None, typer.Option("--llm-config", help="YAML LLMConfig (default: embedded, cached).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML recipe config (overrides paper defaults).")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Recipe config override key=value, dotted for sections (e.g. artefacts.user_profiles=release); "
    "repeatable.")]
LimitOpt = Annotated[int | None, typer.Option("--limit-users", help="Only the first N test users (quick runs).")]


@one_line_errors()
def run_command(
    method: MethodArg,
    out: OutOpt,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    llm_config: LLMOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    limit_users: LimitOpt = None,
) -> None:
    """Run a method recipe: prepare the split, run (or substitute) each stage, predict, evaluate."""
    import yaml

    from reasonrec.errors import ConfigError
    from reasonrec.methods import get_recipe

    try:
        recipe = get_recipe(method)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="METHOD") from None
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) if config is not None else None
    llm = yaml.safe_load(llm_config.read_text(encoding="utf-8")) if llm_config is not None else None
    cfg = recipe.resolve(overrides=set_ or [], yaml=raw,
                         flags={"dataset": dataset, "data_dir": data_dir, "limit_users": limit_users, "llm": llm})
    result = recipe.run(cfg, out)
    for stage in result.stages:
        rows = "-" if stage.rows is None else stage.rows
        typer.echo(f"  {stage.name:<18} {stage.source:<9} rows={rows} llm_calls={stage.llm_calls} "
                   f"cache_hits={stage.cache_hits} {stage.seconds:.1f}s", err=True)
    summary = {k: result.metrics.get(k) for k in ("method", "dataset", "n", "auc", "auc_ci", "mae", "rmse")}
    typer.echo(json.dumps(summary))
    typer.echo(f"wrote {out / 'metrics.json'} and {out / 'predictions.parquet'}", err=True)


__all__ = ["run_command"]
