"""ReasoningRec recipe (Bismay et al.): describe → profile → teacher reasoning → zero-shot P(like) → evaluate.

Defaults reproduce the paper: like = rating > r_T = 3, k = 5 recent items per window (leave-last-out), item
descriptions from p = 10 reviews in n = 25 words, user profiles from the first m = 15 items in q = 100 words, one
greedy teacher path per training target. The student (LoRA on K teacher examples) is the optional `student` step.

Targets: `prepare` (default) re-derives the windows from the canonical interactions with `reasonrec.data.prepare`
(reproduces 618 of 624 released Beauty test windows); `release` uses the dataset's own split tables
(`<release_prefix>_<split>`, e.g. `release_windows_test`) — use it with released teacher reasoning, whose texts
are about exactly those targets.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.loaders import load_dataset
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import LazyLLM
from reasonrec.methods.artefacts import ReleaseContext
from reasonrec.methods.base import Protocol
from reasonrec.methods.recipe import (
    GENERATE,
    PreparedTargets,
    RecipeConfig,
    RecipeContext,
    RecipeResult,
    finish,
    limit_targets,
    prepare_targets,
    window_items,
)
from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items
from reasonrec.stages.reasoningrec.profile import ProfileConfig, profile_users
from reasonrec.stages.reasoningrec.reason import ReasonConfig, teacher_reasoning
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

METHOD = "reasoningrec"
STAGES = ("item_descriptions", "user_profiles", "teacher_reasoning", "predictions")


class ReasoningRecArtefacts(Config):
    """Source of each stage output: generate | release | skip | path to a Parquet stage table."""

    item_descriptions: str = GENERATE
    user_profiles: str = GENERATE
    teacher_reasoning: str = GENERATE


class ReasoningRecConfig(RecipeConfig):
    dataset: str = "reasoningrec-beauty"
    targets: Literal["prepare", "release"] = Field("prepare", description="re-derive windows or use the release's")
    release_prefix: str = Field("release_windows", description="split tables <prefix>_<split> for targets=release")
    artefacts: ReasoningRecArtefacts = Field(default_factory=ReasoningRecArtefacts)
    describe: DescribeConfig = Field(default_factory=DescribeConfig)
    profile: ProfileConfig = Field(default_factory=ProfileConfig)
    reason: ReasonConfig = Field(default_factory=ReasonConfig)
    teacher_splits: list[str] = Field(default_factory=lambda: ["train"], description="splits the teacher explains")
    zeroshot: ZeroShotConfig = Field(default_factory=ZeroShotConfig)
    predict_split: str = Field("test", description="split whose targets get predictions and metrics")


def release_targets(dataset, prefix: str, limit_users: int | None, user_ids: list[str] | None = None
                    ) -> PreparedTargets:
    """The dataset's own split tables `<prefix>_{train,valid,test}` (release windows)."""
    targets = {s: dataset.splits[f"{prefix}_{s}"] for s in ("train", "valid", "test")
               if f"{prefix}_{s}" in dataset.splits}
    if "test" not in targets:
        raise ConfigError(f"targets=release: dataset {dataset.name!r} has no split table {prefix}_test; "
                          f"available: {', '.join(sorted(dataset.splits)) or 'none'}")
    return PreparedTargets(limit_targets(targets, limit_users, user_ids), dataset.interactions, f"release:{prefix}")


def run(config: ReasoningRecConfig, out_dir: str | Path, llm: LLM | None = None) -> RecipeResult:
    """Compose the stages (see module docstring) and write the run directory (`methods.base`)."""
    started = time.time()
    out = Path(out_dir)
    llm = llm if llm is not None else LazyLLM(config.llm)
    ds = load_dataset(config.dataset, config.data_dir, config.prepare.load)
    prepared = (release_targets(ds, config.release_prefix, config.limit_users, config.user_ids) if config.targets == "release"
                else prepare_targets(config, out, ds))
    targets = prepared.targets
    if config.predict_split not in targets:
        raise ConfigError(f"predict_split={config.predict_split!r} not among the target tables {sorted(targets)}")
    test = targets[config.predict_split]
    teacher_targets = {name: targets[name] for name in config.teacher_splits if name in targets}
    ctx = RecipeContext(out, llm, ds, config.artefacts.model_dump(), ReleaseContext(targets=teacher_targets))

    descriptions = ctx.stage(
        "item_descriptions",
        lambda s: describe_items(ds.items, ds.interactions, llm, config.describe,  # type: ignore[arg-type]
                                 item_ids=window_items(targets, config.limit_items), summaries=s),
        config.describe,
    )
    profiles = ctx.stage(
        "user_profiles",
        lambda s: profile_users(ds.interactions, test, ds.items, descriptions, llm, config.profile,  # type: ignore
                                user_ids=test["user_id"].unique(maintain_order=True).to_list(), summaries=s),
        config.profile,
    )
    teach_targets = list(teacher_targets.values())
    ctx.stage(
        "teacher_reasoning",
        lambda s: teacher_reasoning(pl.concat(teach_targets) if teach_targets else test.clear(), ds.items,
                                    descriptions, profiles, llm, config.reason, summaries=s),  # type: ignore
        config.reason,
    )
    zs_config = config.zeroshot.model_copy(update={"dataset": config.dataset,
                                                   "method": config.zeroshot.method or f"{METHOD}-zeroshot-"
                                                   f"{config.zeroshot.variant}"})
    predictions = ctx.stage(
        "predictions",
        lambda s: zeroshot_predict(test, ds.items, descriptions, profiles, llm, zs_config,  # type: ignore[arg-type]
                                   summaries=s),
        zs_config,
    )
    if predictions is None:
        raise ConfigError("artefacts for 'predictions' cannot be 'skip': the recipe evaluates them")
    return finish(config, METHOD, out, ctx, predictions, started,
                  extra={"targets": prepared.source, "rows": {k: v.height for k, v in targets.items()}})


RECIPE = Protocol(name="run reasoningrec", config=ReasoningRecConfig, run=run, default_dataset="reasoningrec-beauty", stages=STAGES)

__all__ = ["METHOD", "RECIPE", "STAGES", "ReasoningRecArtefacts", "ReasoningRecConfig", "release_targets", "run"]
