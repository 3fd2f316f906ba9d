"""EXP3RT recipe (Kim et al.): extract preferences → user/item profiles → pair context → teacher reasoning →
rating prediction with rating bias, E[rating] from one scoring pass → evaluate.

Defaults reproduce the paper: 5-core, temporal 8:1:1 split, profiles from TRAINING reviews only, the user's and
item's average training rating shown in the prompt ("rating bias"), E[rating] over the rating tokens, IMDB 1–10
(prompt 0–9). For a 1–5 dataset set `predict.scale` and `teacher.scale` (`rating_max: 5`).

Targets:
  prepare  split the canonical interactions with `prepare` (needs timestamps and review texts);
  release  the released EXP3RT IMDB rating pairs (`rating_pairs_<release_variant>`) as the test pairs; the pair
           context (profiles + the authors' printed averages) then comes from the release — the IMDB release has
           no training ratings or reviews, so nothing upstream of the context can be generated, and
           preferences / profiles / teacher reasoning are not run;
  auto     (default) release when the dataset ships the rating pairs, else prepare.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.loaders import load_dataset
from reasonrec.data.prepare import FilterConfig, PrepareConfig, SplitConfig
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import LazyLLM
from reasonrec.methods.artefacts import ReleaseContext
from reasonrec.methods.base import Protocol
from reasonrec.methods.recipe import (
    GENERATE,
    RELEASE,
    SKIP,
    RecipeConfig,
    RecipeContext,
    RecipeResult,
    finish,
    prepare_targets,
)
from reasonrec.stages.exp3rt.extract import ExtractConfig, extract_preferences
from reasonrec.stages.exp3rt.predict import Exp3rtPredictConfig, exp3rt_predict_ratings
from reasonrec.stages.exp3rt.profiles import Exp3rtProfileConfig, item_profiles, pair_context, user_profiles
from reasonrec.stages.exp3rt.reason import TeacherConfig, exp3rt_teacher_reasoning

METHOD = "exp3rt"
STAGES = ("preferences", "user_profiles", "item_profiles", "pair_context", "teacher_reasoning", "predictions")


def _paper_prepare() -> PrepareConfig:
    return PrepareConfig(
        filters=FilterConfig(k_core=5),
        r_threshold=None,
        split=SplitConfig(strategy="temporal_ratio", ratios=(0.8, 0.1, 0.1), k_history=None),
    )


class Exp3rtArtefacts(Config):
    """Source of each stage output: generate | release | skip | path to a Parquet stage table."""

    preferences: str = GENERATE
    user_profiles: str = GENERATE
    item_profiles: str = GENERATE
    pair_context: str = GENERATE
    teacher_reasoning: str = GENERATE


class Exp3rtConfig(RecipeConfig):
    dataset: str = "exp3rt-imdb"
    prepare: PrepareConfig = Field(default_factory=_paper_prepare)
    targets: Literal["auto", "prepare", "release"] = "auto"
    release_variant: Literal["helpful", "similarity"] = "helpful"
    artefacts: Exp3rtArtefacts = Field(default_factory=Exp3rtArtefacts)
    extract: ExtractConfig = Field(default_factory=lambda: ExtractConfig(domain="movies"))
    profiles: Exp3rtProfileConfig = Field(default_factory=lambda: Exp3rtProfileConfig(domain="movies"))
    teacher: TeacherConfig = Field(default_factory=lambda: TeacherConfig(domain="movies"))
    predict: Exp3rtPredictConfig = Field(default_factory=Exp3rtPredictConfig)
    teacher_split: str = Field("train", description="pairs the teacher explains (SFT data for the student)")
    limit_pairs: int | None = Field(None, ge=1, description="targets=release: only the first N rating pairs")


def _with_split(table: pl.DataFrame, split: str) -> pl.DataFrame:
    return table.select("user_id", "item_id", "rating").with_columns(pl.lit(split).alias("split"))


def run(config: Exp3rtConfig, out_dir: str | Path, llm: LLM | None = None) -> RecipeResult:
    """Compose the EXP3RT stages (see module docstring) and write the run directory."""
    started = time.time()
    out = Path(out_dir)
    llm = llm if llm is not None else LazyLLM(config.llm)
    ds = load_dataset(config.dataset, config.data_dir, config.prepare.load)
    pairs_name = f"rating_pairs_{config.release_variant}"
    mode = config.targets
    if mode == "auto":
        mode = "release" if pairs_name in ds.artefacts else "prepare"
    sources = config.artefacts.model_dump()
    predict_cfg = config.predict.model_copy(update={"dataset": config.dataset, "method": METHOD})

    if mode == "release":
        if sources["pair_context"] not in (GENERATE, RELEASE):
            raise ConfigError("targets=release takes the pair context from the release (artefacts.pair_context)")
        sources.update({"preferences": SKIP, "user_profiles": SKIP, "item_profiles": SKIP, "pair_context": RELEASE})
        if sources["teacher_reasoning"] == GENERATE:
            sources["teacher_reasoning"] = SKIP  # the release has test pairs only: no training pairs to explain
        ctx = RecipeContext(out, llm, ds, sources, ReleaseContext(exp3rt_variant=config.release_variant))
        for name in ("preferences", "user_profiles", "item_profiles"):
            ctx.stage(name, lambda s: pl.DataFrame(), config)  # logged as skipped
        context = ctx.stage("pair_context", lambda s: pl.DataFrame(), config, uses_llm=False)
        assert context is not None
        context = context.with_columns(pl.lit("test").alias("split"))
        context = _limit_pairs(context, config)
        ctx.stage("teacher_reasoning", lambda s: pl.DataFrame(), config.teacher)
        test_context = context
        rows = {"test": test_context.height}
    else:
        prepared = prepare_targets(config, out, ds)
        targets, train_inter = prepared.targets, prepared.train_interactions
        test = targets["test"]
        teach = targets.get(config.teacher_split, test.clear())
        pairs = pl.concat([_with_split(teach, config.teacher_split), _with_split(test, "test")])
        users = pairs["user_id"].unique(maintain_order=True).to_list()
        items = pairs["item_id"].unique(maintain_order=True)
        ctx = RecipeContext(out, llm, ds, sources, ReleaseContext(targets=targets,
                                                                  exp3rt_variant=config.release_variant))
        # Reviews that can reach a profile: the users' own and the target items' raters (TRAIN rows only).
        reviews = train_inter.filter(pl.col("user_id").is_in(pl.Series(users, dtype=pl.String).implode())
                                     | pl.col("item_id").is_in(items.implode()))
        prefs = ctx.stage("preferences", lambda s: extract_preferences(
            reviews, llm, config.extract, items=ds.items, summaries=s), config.extract)  # type: ignore[arg-type]
        if prefs is None:
            raise ConfigError("EXP3RT profiles need the preferences stage (generate, release or a file)")
        uprof = ctx.stage("user_profiles", lambda s: user_profiles(
            prefs, train_inter, llm, config.profiles, users=users, summaries=s), config.profiles)  # type: ignore
        iprof = ctx.stage("item_profiles", lambda s: item_profiles(
            prefs, train_inter, llm, config.profiles, items=ds.items, pairs=pairs, summaries=s),  # type: ignore
            config.profiles)
        empty = pl.DataFrame(schema={"user_id": pl.String, "item_id": pl.String, "text": pl.String})
        context_all = ctx.stage("pair_context", lambda s: pair_context(
            pairs, uprof if uprof is not None else empty.drop("item_id"),
            iprof if iprof is not None else empty.drop("user_id"), ds.items,
            train_inter if predict_cfg.include_bias else None,
        ).with_columns(pairs["split"]), config, uses_llm=False)
        assert context_all is not None
        ctx.stage("teacher_reasoning", lambda s: exp3rt_teacher_reasoning(
            context_all.filter(pl.col("split") == config.teacher_split), llm, config.teacher,  # type: ignore
            summaries=s), config.teacher)
        test_context = context_all.filter(pl.col("split") == "test")
        rows = {name: t.height for name, t in targets.items()}

    predictions = ctx.stage("predictions", lambda s: exp3rt_predict_ratings(test_context, llm, predict_cfg,  # type: ignore
                                                                     summaries=s), predict_cfg)
    if predictions is None:
        raise ConfigError("artefacts for 'predictions' cannot be 'skip': the recipe evaluates them")
    return finish(config, METHOD, out, ctx, predictions, started, extra={"targets": mode, "rows": rows})


def _limit_pairs(context: pl.DataFrame, config: Exp3rtConfig) -> pl.DataFrame:
    if config.user_ids is not None:
        context = context.filter(pl.col("user_id").is_in(pl.Series(config.user_ids, dtype=pl.String).implode()))
    if config.limit_users is not None:
        users = context["user_id"].unique(maintain_order=True).head(config.limit_users)
        context = context.filter(pl.col("user_id").is_in(users.implode()))
    if config.limit_pairs is not None:
        context = context.head(config.limit_pairs)
    return context


RECIPE = Protocol(name="run exp3rt", config=Exp3rtConfig, run=run, default_dataset="exp3rt-imdb", stages=STAGES)

__all__ = ["METHOD", "RECIPE", "STAGES", "Exp3rtArtefacts", "Exp3rtConfig", "run"]
