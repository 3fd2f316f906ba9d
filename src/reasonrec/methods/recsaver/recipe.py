"""Rec-SAVER recipe (Tsai et al.): post-hoc explanations → scrub + self-verification (reference pools) →
multi-path teacher reasoning (M = 8) annotated with the §4.3 filters → zero-shot CoT rating prediction → evaluate.

Defaults reproduce the paper: user-disjoint split with 4 ≤ |H| ≤ 10 and a balanced 5-class sample (800 train /
100 test per rating), like = rating > 3, M = 8 sampled paths at T = 0.7, rating from the normalised logits of the
five rating digits. `filter` picks which teacher paths count as fine-tuning targets; every path keeps one
`keep_<filter>` column so one table serves all ablations (the paper's best rating results come without a filter).
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.loaders import load_dataset
from reasonrec.data.prepare import PrepareConfig, SplitConfig
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import LazyLLM
from reasonrec.methods.artefacts import ReleaseContext
from reasonrec.methods.base import Protocol
from reasonrec.methods.recipe import (
    GENERATE,
    RecipeConfig,
    RecipeContext,
    RecipeResult,
    finish,
    prepare_targets,
)
from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations
from reasonrec.stages.recsaver.filters import FILTERS, annotate_filters, filter_counts
from reasonrec.stages.recsaver.teacher import TeacherPathsConfig, recsaver_teacher_paths
from reasonrec.stages.recsaver.verify import VerifyConfig, self_verify
from reasonrec.stages.recsaver.zeroshot import RecSaverZeroShotConfig, recsaver_zeroshot

METHOD = "recsaver"
STAGES = ("explanations", "verification", "reference_pool", "teacher_paths", "predictions")


def _paper_prepare() -> PrepareConfig:
    """The paper's pairs (§4.1): `SplitConfig`'s user-disjoint balanced defaults (4 ≤ |H| ≤ 10, 800/100 per class)."""
    return PrepareConfig(dataset="amazon-beauty-raw", r_threshold=3.0, split=SplitConfig(strategy="user_disjoint_balanced"))


class RecSaverArtefacts(Config):
    """Source of each stage output: generate | skip | path to a Parquet stage table (no released artefacts)."""

    explanations: str = GENERATE
    verification: str = GENERATE
    teacher_paths: str = GENERATE


class RecSaverConfig(RecipeConfig):
    dataset: str = "amazon-beauty-raw"
    prepare: PrepareConfig = Field(default_factory=_paper_prepare)
    artefacts: RecSaverArtefacts = Field(default_factory=RecSaverArtefacts)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    teacher: TeacherPathsConfig = Field(default_factory=TeacherPathsConfig)
    filter: str = Field("none", description=f"teacher-path filter for SFT targets; one of {list(FILTERS)}")
    zeroshot: RecSaverZeroShotConfig = Field(default_factory=RecSaverZeroShotConfig)
    teacher_split: str = "train"


def run(config: RecSaverConfig, out_dir: str | Path, llm: LLM | None = None) -> RecipeResult:
    """Compose the Rec-SAVER stages and write the run directory."""
    if config.filter not in FILTERS:
        raise ConfigError(f"filter={config.filter!r}; known: {', '.join(FILTERS)}")
    started = time.time()
    out = Path(out_dir)
    llm = llm if llm is not None else LazyLLM(config.llm)
    ds = load_dataset(config.dataset, config.data_dir, config.prepare.load)
    prepared = prepare_targets(config, out, ds)
    targets = prepared.targets
    test, teach = targets["test"], targets.get(config.teacher_split, targets["test"].clear())
    inter = ds.interactions  # reviews of history items; targets never show their own review
    ctx = RecipeContext(out, llm, ds, config.artefacts.model_dump(), ReleaseContext(targets=targets))

    explanations = ctx.stage("explanations", lambda s: post_hoc_explanations(
        teach, ds.items, inter, llm, config.explain, summaries=s), config.explain)  # type: ignore[arg-type]
    pool: dict[str, pl.DataFrame] = {}

    def verify(s):
        result = self_verify(explanations, teach, ds.items, inter, llm, config.verify, summaries=s)  # type: ignore
        pool["pool"] = result.pool
        return result.table

    if explanations is not None:  # skipped explanations → nothing to verify; empty ones give empty tables
        ctx.stage("verification", verify, config.verify)
        if "pool" in pool:
            ctx.stage("reference_pool", lambda s: pool["pool"], config.verify, uses_llm=False)
    paths = ctx.stage("teacher_paths", lambda s: annotate_filters(recsaver_teacher_paths(
        teach, ds.items, inter, llm, config.teacher, summaries=s), threshold=config.teacher.like_threshold),
        config.teacher)  # type: ignore[arg-type]
    counts = filter_counts(paths, threshold=config.teacher.like_threshold) if paths is not None and paths.height \
        else None
    zs = config.zeroshot.model_copy(update={"dataset": config.dataset})
    predictions = ctx.stage("predictions", lambda s: recsaver_zeroshot(
        test, ds.items, inter, llm, zs, train_targets=targets.get("train"), summaries=s), zs)  # type: ignore
    if predictions is None:
        raise ConfigError("artefacts for 'predictions' cannot be 'skip': the recipe evaluates them")
    return finish(config, METHOD, out, ctx, predictions, started,
                  extra={"filter": config.filter, "filter_counts": counts,
                         "rows": {k: v.height for k, v in targets.items()}})


RECIPE = Protocol(name="run recsaver", config=RecSaverConfig, run=run, default_dataset="amazon-beauty-raw", stages=STAGES)

__all__ = ["METHOD", "RECIPE", "STAGES", "RecSaverArtefacts", "RecSaverConfig", "run"]
