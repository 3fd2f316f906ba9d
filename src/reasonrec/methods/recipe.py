"""What every recipe shares: data preparation, stage sourcing (generate / release / file / skip), artefact writing,
the optional student step and evaluation. Recipes only say WHICH stages run in WHICH order.

Run directory written by every recipe (the run itself through `methods.base.write_run`):

    OUT/data/…                               the prepared split (`reasonrec.data.prepare`), when prepared
    OUT/stages/<name>/<name>.parquet          each stage's output (+ config.yaml, manifest.json)
    OUT/predictions.parquet                   PREDICTIONS_SCHEMA
    OUT/metrics.json                          `reasonrec.eval.evaluate.evaluate_predictions`
    OUT/config.yaml, OUT/manifest.json        the resolved recipe config; stage order, sources, counts, seeds

Stage sources (`artefacts: {<stage>: <source>}` in a recipe config):
  generate   run the stage with the recipe's LLM (cached, so a rerun resumes);
  release    the dataset's released table mapped by `methods.artefacts` (no LLM call);
  skip       no output (later stages see None, e.g. no profiles in the prompt);
  <path>     a Parquet file with the stage's output schema (e.g. a previous run's stage table).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from reasonrec.config import Config
from reasonrec.data.prepare import PrepareConfig, prepare
from reasonrec.data.schema import Dataset
from reasonrec.errors import ConfigError
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.methods.artefacts import ReleaseContext, release_table
from reasonrec.methods.base import RunConfig, write_run
from reasonrec.stages.common.base import write_stage_output
from reasonrec.train.student import TrainRunConfig, run_training

GENERATE, RELEASE, SKIP = "generate", "release", "skip"


class StudentStep(Config):
    """Optional LoRA student (ReasoningRec §3.5 / Rec-SAVER / EXP3RT distillation) trained after the stages through
    the one student path (`train.student.run_training`); off by default. `train` holds `TrainRunConfig`
    overrides (dataset / data_dir come from the recipe)."""

    enabled: bool = Field(False, description="train a LoRA student on the teacher outputs after the stages")
    train: dict[str, Any] = Field(default_factory=dict, description="overrides of reasonrec.train TrainRunConfig")


class RecipeConfig(RunConfig):
    """Fields every recipe config has; each recipe adds its stage configs and `artefacts` sources."""

    dataset: str = "reasoningrec-beauty"
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    limit_users: int | None = Field(None, ge=1, description="keep only the first N test users (quick runs)")
    user_ids: list[str] | None = Field(None, description="keep only these users (before limit_users)")
    limit_items: int | None = Field(None, ge=1, description="describe/profile at most N items (quick runs)")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    student: StudentStep = Field(default_factory=StudentStep)

    @field_validator("user_ids", mode="before")
    @classmethod
    def _ids_are_strings(cls, value: Any) -> Any:
        """`--set user_ids=[0,1]` parses as ints; ids are strings everywhere."""
        return [str(v) for v in value] if isinstance(value, list) else value


@dataclass
class StageRecord:
    name: str
    source: str
    rows: int | None
    path: str | None
    seconds: float
    cache_hits: int = 0
    llm_calls: int = 0


@dataclass
class RecipeResult:
    out_dir: Path
    predictions: pl.DataFrame
    metrics: dict[str, Any]
    stages: list[StageRecord] = field(default_factory=list)
    tables: dict[str, pl.DataFrame | None] = field(default_factory=dict)


@dataclass
class RecipeContext:
    """One recipe run: where outputs go, which LLM answers, and the log of stages in the order they ran."""

    out_dir: Path
    llm: LLM | None
    dataset: Dataset
    sources: dict[str, str]
    release: ReleaseContext
    stages: list[StageRecord] = field(default_factory=list)
    tables: dict[str, pl.DataFrame | None] = field(default_factory=dict)

    def source(self, name: str) -> str:
        return self.sources.get(name, GENERATE)

    def stage(
        self,
        name: str,
        generate: Callable[[list[RunSummary]], pl.DataFrame],
        config: Config,
        *,
        uses_llm: bool = True,
    ) -> pl.DataFrame | None:
        """Produce stage `name` from its configured source, write it under OUT/stages/<name>/, log it."""
        started = time.time()
        source = self.source(name)
        summaries: list[RunSummary] = []
        table: pl.DataFrame | None
        if source == SKIP:
            table = None
        elif source == GENERATE:
            if uses_llm and self.llm is None:
                raise ConfigError(f"stage {name!r} is set to 'generate' but the recipe was given no LLM")
            table = generate(summaries)
        elif source == RELEASE:
            table = release_table(name, self.dataset, self.release)
        else:
            path = Path(source)
            if not path.exists():
                raise ConfigError(f"artefacts.{name}={source!r}: not generate/release/skip and no such file")
            table = pl.read_parquet(path)
        path_out = None
        if table is not None:
            path_out = write_stage_output(
                self.out_dir / "stages" / name, name, table, config,
                llm=self.llm if (source == GENERATE and uses_llm) else None, summaries=summaries,
                command=f"recipe stage {name} ({source})", started_at=started,
            )
        self.stages.append(StageRecord(
            name=name, source=source, rows=None if table is None else table.height,
            path=None if path_out is None else str(path_out), seconds=round(time.time() - started, 3),
            cache_hits=sum(s.cache_hits for s in summaries), llm_calls=sum(s.prompts for s in summaries),
        ))
        self.tables[name] = table
        return table


# ------------------------------------------------------------------------------------------------ data


@dataclass
class PreparedTargets:
    """Target tables per split + CF training interactions, after `limit_users`."""

    targets: dict[str, pl.DataFrame]
    train_interactions: pl.DataFrame
    source: str


def prepare_targets(config: RecipeConfig, out_dir: Path, dataset: Dataset) -> PreparedTargets:
    """Prepare the split into OUT/data (the recipe's `prepare` section; dataset/data_dir from the recipe)."""
    prep_cfg = config.prepare.model_copy(update={"dataset": config.dataset, "data_dir": config.data_dir})
    prepared = prepare(prep_cfg, out_dir / "data", command=f"recipe prepare {config.dataset}")
    targets = dict(prepared.split.targets())
    return PreparedTargets(limit_targets(targets, config.limit_users, config.user_ids),
                           prepared.split.train_interactions, "prepare")


def limit_targets(targets: dict[str, pl.DataFrame], limit_users: int | None, user_ids: list[str] | None = None
                  ) -> dict[str, pl.DataFrame]:
    """Keep `user_ids` (if given), then the first `limit_users` users of the TEST table (table order) in every
    split. A split that shares none of those users (user-disjoint strategies) keeps its own first N users."""
    if user_ids is not None:
        wanted = pl.Series([str(u) for u in user_ids], dtype=pl.String)
        targets = {name: t.filter(pl.col("user_id").is_in(wanted.implode())) for name, t in targets.items()}
    if limit_users is None:
        return targets
    test = targets.get("test")
    base = test if test is not None and test.height else next(iter(targets.values()))
    users = base["user_id"].unique(maintain_order=True).head(limit_users)
    out = {}
    for name, t in targets.items():
        kept = t.filter(pl.col("user_id").is_in(users.implode()))
        if kept.height == 0 and t.height:
            own = t["user_id"].unique(maintain_order=True).head(limit_users)
            kept = t.filter(pl.col("user_id").is_in(own.implode()))
        out[name] = kept
    return out


def window_items(targets: dict[str, pl.DataFrame], limit: int | None = None) -> list[str]:
    """Every item a prompt will show (history windows + targets), first-seen order, at most `limit`."""
    seen: dict[str, None] = {}
    for table in targets.values():
        for hist, item in table.select("history_item_ids", "item_id").iter_rows():
            for i in [*(hist or []), item]:
                seen.setdefault(str(i), None)
    ids = list(seen)
    return ids if limit is None else ids[:limit]


# ------------------------------------------------------------------------------------------------ student + finish


def run_student_step(config: RecipeConfig, out_dir: Path, ctx: RecipeContext) -> dict[str, Any]:
    """Train the student when enabled (see `StudentStep`); returns what to record in the manifest."""
    if not config.student.enabled:
        return {"enabled": False}
    data_dir = None if config.data_dir is None else str(config.data_dir)
    train_cfg = TrainRunConfig.from_dict({"dataset": config.dataset, "data_dir": data_dir, **config.student.train},
                                         source="student.train")
    started = time.time()
    result = run_training(train_cfg, out_dir / "student", command=f"recipe student {config.dataset}")
    ctx.stages.append(StageRecord("student", GENERATE, result.train_examples, str(result.adapter_dir),
                                  round(time.time() - started, 3)))
    return {"enabled": True, "adapter_dir": str(result.adapter_dir), "best_metric": result.best_metric}


def finish(
    config: RecipeConfig, method: str, out_dir: Path, ctx: RecipeContext, predictions: pl.DataFrame,
    started: float, extra: dict[str, Any] | None = None,
) -> RecipeResult:
    """Evaluate, write the run directory (`write_run`); return the result."""
    student = run_student_step(config, out_dir, ctx)
    metrics = evaluate_predictions(predictions, config.eval)
    metrics["method"] = method
    metrics["dataset"] = config.dataset
    write_run(out_dir, config=config, command=f"run {method}", metrics=metrics, started_at=started,
              predictions=predictions, seeds={"prepare": config.prepare.seed, "eval": config.eval.seed},
              manifest_extra={"method": method, "stages": [vars(s) for s in ctx.stages],
                              "release_notes": ctx.release.notes, "student": student, **(extra or {})})
    return RecipeResult(out_dir=out_dir, predictions=predictions, metrics=metrics, stages=ctx.stages,
                        tables=ctx.tables)


__all__ = [
    "GENERATE", "RELEASE", "SKIP", "PreparedTargets", "RecipeConfig", "RecipeContext", "RecipeResult",
    "StageRecord", "StudentStep", "finish", "limit_targets", "prepare_targets", "run_student_step", "window_items",
]
