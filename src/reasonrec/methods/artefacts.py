"""Released artefacts standing in for stage outputs: the authors' teacher outputs as our stage tables.

A recipe stage configured with source `release` does not call the LLM: the mapper below turns the dataset's
released artefact table into the table the stage itself would have produced (same key columns, same `text`
column), so every later stage consumes it unchanged. That is how an experiment starts from, e.g., the Mixtral
descriptions, profiles and teacher reasoning shipped in `reasoningrec-beauty`.

Mappers (explicit registry, keyed by stage-output name):
  item_descriptions  (item_id, text, source)                    ← artefact `item_descriptions`
  user_profiles      (user_id, text, profile_item_ids)          ← `user_profiles` (+ `profile_history` if present)
  item_profiles      (item_id, text)                            ← `item_profiles` (EXP3RT IMDB)
  teacher_reasoning  (user_id, item_id, split, sample_index, label, text, pred_label, agrees, parse_ok, source)
                     ← `teacher_reasoning` (user-keyed per split): item_id and the TRUE label come from the
                       recipe's target table of that split; the teacher's own trailing "Prediction:" becomes
                       pred_label. Release users without a target row in the recipe's split are dropped (counted).
  pair_context       stages.exp3rt.profiles.CONTEXT_SCHEMA               ← `rating_pairs_<variant>` (EXP3RT IMDB)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from reasonrec.answers import parse_reasoningrec
from reasonrec.data.schema import Dataset
from reasonrec.errors import ConfigError


@dataclass
class ReleaseContext:
    """What a mapper may need besides the dataset: the recipe's target tables and a place to leave counts."""

    targets: Mapping[str, pl.DataFrame] = field(default_factory=dict)
    exp3rt_variant: str = "helpful"
    notes: dict[str, object] = field(default_factory=dict)


ReleaseMapper = Callable[[Dataset, ReleaseContext], pl.DataFrame]


def _artefact(ds: Dataset, name: str) -> pl.DataFrame:
    table = ds.artefacts.get(name)
    if table is None:
        raise ConfigError(
            f"dataset {ds.name!r} ships no released artefact {name!r} (it has: "
            f"{', '.join(sorted(ds.artefacts)) or 'none'}); set this stage's source to 'generate'"
        )
    return table


def release_item_descriptions(ds: Dataset, ctx: ReleaseContext) -> pl.DataFrame:
    table = _artefact(ds, "item_descriptions")
    source = pl.col("source") if "source" in table.columns else pl.lit(f"release:{ds.name}")
    return table.select(pl.col("item_id").cast(pl.String), pl.col("text").cast(pl.String), source.alias("source"))


def release_user_profiles(ds: Dataset, ctx: ReleaseContext) -> pl.DataFrame:
    table = _artefact(ds, "user_profiles").select(pl.col("user_id").cast(pl.String), pl.col("text").cast(pl.String))
    history = ds.artefacts.get("profile_history")
    if history is not None:
        table = table.join(history.rename({"item_ids": "profile_item_ids"}), on="user_id", how="left",
                           maintain_order="left")
    else:
        table = table.with_columns(pl.lit(None, dtype=pl.List(pl.String())).alias("profile_item_ids"))
    return table.with_columns(pl.lit(f"release:{ds.name}").alias("source"))


def release_item_profiles(ds: Dataset, ctx: ReleaseContext) -> pl.DataFrame:
    table = _artefact(ds, "item_profiles")
    return table.select(pl.col("item_id").cast(pl.String), pl.col("text").cast(pl.String)).with_columns(
        pl.lit(f"release:{ds.name}").alias("source"))


def release_teacher_reasoning(ds: Dataset, ctx: ReleaseContext) -> pl.DataFrame:
    released = _artefact(ds, "teacher_reasoning")
    parts = []
    dropped = 0
    for split, targets in ctx.targets.items():
        rel = released.filter(pl.col("split") == split).drop("label", strict=False)
        if rel.height == 0:
            continue
        keys = targets.select(pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String),
                              pl.col("label").cast(pl.Int64)).unique("user_id", keep="last", maintain_order=True)
        joined = rel.join(keys, on="user_id", how="inner", maintain_order="left")
        dropped += rel.height - joined.height
        parts.append(joined.with_columns(pl.lit(split).alias("split")))
    ctx.notes["teacher_reasoning_release_rows_without_target"] = dropped
    if not parts:
        raise ConfigError(f"released teacher reasoning of {ds.name!r} covers none of the splits "
                          f"{sorted(ctx.targets)}")
    table = pl.concat(parts)
    parsed = [parse_reasoningrec(t) if t is not None else None for t in table["text"].to_list()]
    table = table.with_columns(
        pl.lit(0, dtype=pl.Int64).alias("sample_index"),
        pl.Series("pred_label", [getattr(p, "label", None) for p in parsed], dtype=pl.Int64),
        pl.Series("parse_ok", [bool(p is not None and p.ok) for p in parsed], dtype=pl.Boolean),
        pl.lit(f"release:{ds.name}").alias("source"),
    ).with_columns((pl.col("pred_label") == pl.col("label")).fill_null(False).alias("agrees"))
    return table.select("user_id", "item_id", "split", "sample_index", "label", "text", "pred_label", "agrees",
                        "parse_ok", "source")


def release_pair_context(ds: Dataset, ctx: ReleaseContext) -> pl.DataFrame:
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    if f"rating_pairs_{ctx.exp3rt_variant}" not in ds.artefacts:
        _artefact(ds, f"rating_pairs_{ctx.exp3rt_variant}")
    return imdb_release_context(ds, ctx.exp3rt_variant)  # type: ignore[arg-type]


RELEASE_MAPPERS: dict[str, ReleaseMapper] = {
    "item_descriptions": release_item_descriptions,
    "user_profiles": release_user_profiles,
    "item_profiles": release_item_profiles,
    "teacher_reasoning": release_teacher_reasoning,
    "pair_context": release_pair_context,
}


def release_table(stage: str, ds: Dataset, ctx: ReleaseContext | None = None) -> pl.DataFrame:
    """The released stand-in for stage output `stage`; ConfigError when no mapper or no artefact exists."""
    mapper = RELEASE_MAPPERS.get(stage)
    if mapper is None:
        raise ConfigError(f"stage {stage!r} has no released stand-in; known: {', '.join(sorted(RELEASE_MAPPERS))}")
    return mapper(ds, ctx or ReleaseContext())


__all__ = ["RELEASE_MAPPERS", "ReleaseContext", "ReleaseMapper", "release_table"]
