"""`reasonrec reasoningrec describe|profile|reason|zeroshot`: run one ReasoningRec LLM stage into a stage directory.

Each command loads a dataset through the loader registry, resolves its stage config (`--config`, `--set`) and the
LLM (`--llm-config`, `--set llm.*`; default: the embedded model, cached), runs the stage, and writes
`<out>/<stage>.parquet` + config.yaml + manifest.json. Rerunning after a kill recomputes nothing that finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, DataDirOpt, LimitOpt, LLMOpt, OutOpt, PrintOpt, SetOpt
from reasonrec.cli.stage_run import stage_command

if TYPE_CHECKING:
    import polars as pl

    from reasonrec.data.schema import Dataset

app = typer.Typer(
    help="ReasoningRec LLM stages: item descriptions, user profiles, teacher reasoning, zero-shot P(like).\n\n"
    "Example: reasonrec reasoningrec describe --dataset reasoningrec-beauty --out runs/desc --limit 5",
    no_args_is_help=True,
)

DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name in the loader registry.")]
TargetsOpt = Annotated[str, typer.Option("--targets", help="Target table name in the dataset's splits.")]
DescOpt = Annotated[Path | None, typer.Option(
    "--descriptions", help="item descriptions Parquet (item_id, text); default: the dataset's artefact.")]
ProfOpt = Annotated[Path | None, typer.Option(
    "--profiles", help="user profiles Parquet (user_id, text); default: the dataset's artefact.")]


def _dataset(name: str, data_dir: Path | None) -> Dataset:
    from reasonrec.data.loaders import load_dataset

    return load_dataset(name, data_dir)


def _targets(ds: Dataset, name: str) -> pl.DataFrame:
    if name not in ds.splits:
        raise typer.BadParameter(f"no target table {name!r}; available: {', '.join(sorted(ds.splits)) or 'none'}")
    return ds.splits[name]


def _artefact(ds: Dataset, path: Path | None, name: str) -> pl.DataFrame | None:
    import polars as pl

    if path is not None:
        return pl.read_parquet(path)
    return ds.artefacts.get(name)


@app.command()
@one_line_errors()
def describe(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
             config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
             limit: LimitOpt = None) -> None:
    """Item descriptions from stratified review samples (metadata-only fallback).

    Example: reasonrec reasoningrec describe --dataset reasoningrec-beauty --out runs/desc --limit 5
    --set n_words=30
    """
    from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items

    cfg, run = stage_command(DescribeConfig, f"reasoningrec describe {dataset}", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config)
    ds = _dataset(dataset, data_dir)
    ids = ds.items["item_id"].to_list()[:limit] if limit else None
    table = describe_items(ds.items, ds.interactions, run.llm, cfg, item_ids=ids, summaries=run.summaries)
    run.report(run.write(out, "item_descriptions", table, cfg), table)


@app.command()
@one_line_errors()
def profile(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
            config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False, limit: LimitOpt = None,
            targets: TargetsOpt = "release_windows_test", descriptions: DescOpt = None) -> None:
    """User profiles from the first m interactions before the recent window of each user's latest target.

    Example: reasonrec reasoningrec profile --dataset reasoningrec-beauty --out runs/prof --limit 3
    --set q_words=60
    """
    from reasonrec.stages.reasoningrec.profile import ProfileConfig, profile_users

    cfg, run = stage_command(ProfileConfig, f"reasoningrec profile {dataset}", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config)
    ds = _dataset(dataset, data_dir)
    table_t = _targets(ds, targets)
    users = list(dict.fromkeys(table_t["user_id"].to_list()))[:limit] if limit else None
    table = profile_users(ds.interactions, table_t, ds.items, _artefact(ds, descriptions, "item_descriptions"),
                          run.llm, cfg, user_ids=users, summaries=run.summaries)
    run.report(run.write(out, "user_profiles", table, cfg), table)


@app.command()
@one_line_errors()
def reason(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
           config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False, limit: LimitOpt = None,
           targets: TargetsOpt = "release_windows_train", descriptions: DescOpt = None,
           profiles: ProfOpt = None) -> None:
    """Teacher reasoning conditioned on the true label (n_samples paths per row).

    Example: reasonrec reasoningrec reason --dataset reasoningrec-beauty --out runs/teacher --limit 4
    --set n_samples=2 --set temperature=0.7
    """
    from reasonrec.stages.reasoningrec.reason import ReasonConfig, teacher_reasoning

    cfg, run = stage_command(ReasonConfig, f"reasoningrec reason {dataset}", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config)
    ds = _dataset(dataset, data_dir)
    table = teacher_reasoning(_targets(ds, targets), ds.items, _artefact(ds, descriptions, "item_descriptions"),
                              _artefact(ds, profiles, "user_profiles"), run.llm, cfg, limit=limit,
                              summaries=run.summaries)
    run.report(run.write(out, "teacher_reasoning", table, cfg), table)


@app.command()
@one_line_errors()
def zeroshot(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
             config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False, limit: LimitOpt = None,
             targets: TargetsOpt = "release_windows_test", descriptions: DescOpt = None,
             profiles: ProfOpt = None) -> None:
    """Zero-shot P(like) predictions (variant = vanilla | wo_description | wo_profile | full | tallrec).

    Example: reasonrec reasoningrec zeroshot --dataset reasoningrec-beauty --out runs/zs --limit 20
    --set variant=tallrec
    """
    from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

    cfg, run = stage_command(ZeroShotConfig, f"reasoningrec zeroshot {dataset}", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config, defaults={"dataset": dataset})
    ds = _dataset(dataset, data_dir)
    table = zeroshot_predict(_targets(ds, targets), ds.items, _artefact(ds, descriptions, "item_descriptions"),
                             _artefact(ds, profiles, "user_profiles"), run.llm, cfg, limit=limit,
                             summaries=run.summaries)
    run.report(run.write(out, "predictions", table, cfg), table)


__all__ = ["app"]
