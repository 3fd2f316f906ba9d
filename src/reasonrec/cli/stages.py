"""`reasonrec stage describe|profile|reason|zeroshot`: run one ReasoningRec LLM stage into a stage directory.

Each command loads a dataset through the loader registry, builds the LLM from `--llm-config` (default: the
embedded model, cached), runs the stage, and writes `<out>/<stage>.parquet` + config.yaml + manifest.json.
Rerunning after a kill recomputes nothing that finished (LLM cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.stage_run import StageRun

app = typer.Typer(help="ReasoningRec LLM stages (descriptions, profiles, teacher reasoning, zero-shot).",
                  no_args_is_help=True)

DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name in the loader registry.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data root (default: $REASONREC_DATA_DIR).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Stage directory to write the artefact + manifest into.")]
LLMOpt = Annotated[Path | None, typer.Option("--llm-config", help="YAML LLMConfig (default: embedded, cached).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Stage config override key=value (repeatable).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Only the first N items/users/rows.")]
SplitOpt = Annotated[str, typer.Option("--targets", help="Target table name in dataset.splits.")]
DescOpt = Annotated[Path | None, typer.Option(
    "--descriptions", help="item descriptions Parquet (item_id, text); default: the dataset's artefact.")]
ProfOpt = Annotated[Path | None, typer.Option(
    "--profiles", help="user profiles Parquet (user_id, text); default: the dataset's artefact.")]


def _dataset(name: str, data_dir: Path | None):
    from reasonrec.data.loaders import load_dataset

    return load_dataset(name, data_dir)


def _targets(ds, name: str) -> pl.DataFrame:
    if name not in ds.splits:
        raise typer.BadParameter(f"no target table {name!r}; available: {', '.join(sorted(ds.splits)) or 'none'}")
    return ds.splits[name]


def _artefact(ds, path: Path | None, name: str) -> pl.DataFrame | None:
    if path is not None:
        return pl.read_parquet(path)
    return ds.artefacts.get(name)


@app.command()
@one_line_errors()
def describe(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
             set_: SetOpt = None, limit: LimitOpt = None) -> None:
    """Item descriptions from stratified review samples (metadata-only fallback)."""
    from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items

    run = StageRun(f"stage describe {dataset}", llm_config)
    config = DescribeConfig().with_overrides(set_ or [])
    ds = _dataset(dataset, data_dir)
    ids = ds.items["item_id"].to_list()[:limit] if limit else None
    table = describe_items(ds.items, ds.interactions, run.llm, config, item_ids=ids, summaries=run.summaries)
    run.report(run.write(out, "item_descriptions", table, config), table)


@app.command()
@one_line_errors()
def profile(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
            set_: SetOpt = None, limit: LimitOpt = None, targets: SplitOpt = "release_windows_test",
            descriptions: DescOpt = None) -> None:
    """User profiles from the first m interactions before the recent window of each user's latest target."""
    from reasonrec.stages.reasoningrec.profile import ProfileConfig, profile_users

    run = StageRun(f"stage profile {dataset}", llm_config)
    config = ProfileConfig().with_overrides(set_ or [])
    ds = _dataset(dataset, data_dir)
    table_t = _targets(ds, targets)
    users = list(dict.fromkeys(table_t["user_id"].to_list()))[:limit] if limit else None
    table = profile_users(ds.interactions, table_t, ds.items, _artefact(ds, descriptions, "item_descriptions"),
                          run.llm, config, user_ids=users, summaries=run.summaries)
    run.report(run.write(out, "user_profiles", table, config), table)


@app.command()
@one_line_errors()
def reason(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
           set_: SetOpt = None, limit: LimitOpt = None, targets: SplitOpt = "release_windows_train",
           descriptions: DescOpt = None, profiles: ProfOpt = None) -> None:
    """Teacher reasoning conditioned on the true label (n_samples paths per row)."""
    from reasonrec.stages.reasoningrec.reason import ReasonConfig, teacher_reasoning

    run = StageRun(f"stage reason {dataset}", llm_config)
    config = ReasonConfig().with_overrides(set_ or [])
    ds = _dataset(dataset, data_dir)
    table = teacher_reasoning(_targets(ds, targets), ds.items, _artefact(ds, descriptions, "item_descriptions"),
                              _artefact(ds, profiles, "user_profiles"), run.llm, config, limit=limit,
                              summaries=run.summaries)
    run.report(run.write(out, "teacher_reasoning", table, config), table)


@app.command()
@one_line_errors()
def zeroshot(dataset: DatasetOpt, out: OutOpt, data_dir: DataDirOpt = None, llm_config: LLMOpt = None,
             set_: SetOpt = None, limit: LimitOpt = None, targets: SplitOpt = "release_windows_test",
             descriptions: DescOpt = None, profiles: ProfOpt = None) -> None:
    """Zero-shot P(like) predictions (variant=vanilla|wo_description|wo_profile|full|tallrec via --set)."""
    from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

    run = StageRun(f"stage zeroshot {dataset}", llm_config)
    config = ZeroShotConfig(dataset=dataset).with_overrides(set_ or [])
    ds = _dataset(dataset, data_dir)
    table = zeroshot_predict(_targets(ds, targets), ds.items, _artefact(ds, descriptions, "item_descriptions"),
                             _artefact(ds, profiles, "user_profiles"), run.llm, config, limit=limit,
                             summaries=run.summaries)
    run.report(run.write(out, "predictions", table, config), table)
