"""`reasonrec exp3rt ...`: run one EXP3RT LLM stage and write its artefact (Parquet + config + manifest).

Each command is a thin call into `reasonrec.stages.*`: extract (reviews → preferences), profiles (preferences →
user / item profiles from TRAINING interactions of an 8:1:1 temporal split), reason (teacher reasoning on a pair
context), predict (E[rating] with rating bias, with/without reasoning). `reason` and `predict` read a pair
context Parquet (exp3rt_profiles.CONTEXT_SCHEMA) or, by default, the released exp3rt-imdb test pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.stage_run import StageRun

app = typer.Typer(help="EXP3RT stages: extract preferences, build profiles, teacher reasoning, predict ratings.",
                  no_args_is_help=True)

Out = Annotated[Path, typer.Option("--out", help="Stage directory (Parquet + config.yaml + manifest.json).")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Stage config override key=value (repeatable).")]
Limit = Annotated[int | None, typer.Option("--limit", help="Only the first N rows (smoke runs).")]
DataRoot = Annotated[Path | None, typer.Option("--data-root", help="Data root (default: reasonrec data dir).")]
Model = Annotated[str, typer.Option("--model", help="'embedded' or a local model directory.")]
Adapter = Annotated[str | None, typer.Option("--adapter", help="PEFT adapter directory.")]
CachePath = Annotated[str | None, typer.Option("--cache-path", help="SQLite LLM cache file.")]


def _context(context: Path | None, data_root: Path | None, variant: str) -> pl.DataFrame:
    if context is not None:
        return pl.read_parquet(context)
    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    return imdb_release_context(load_dataset("exp3rt-imdb", data_root=data_root), variant)  # type: ignore[arg-type]


@app.command()
@one_line_errors()
def extract(
    out: Out,
    dataset: Annotated[str, typer.Option("--dataset", help="Loader name of a dataset with reviews.")] =
    "amazon-beauty-raw",
    data_root: DataRoot = None,
    limit: Limit = None,
    overrides: Sets = None,
    model: Model = "embedded",
    adapter: Adapter = None,
    cache_path: CachePath = None,
) -> None:
    """Per review: [Like]/[Dislike] preference bullets (EXP3RT §3.2)."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.extract import ExtractConfig, extract_preferences

    run = StageRun(f"exp3rt extract --dataset {dataset}", model=model, adapter=adapter, cache_path=cache_path)
    config = ExtractConfig().with_overrides(overrides or [])
    ds = load_dataset(dataset, data_root=data_root)
    skipped: dict[str, int] = {}
    table = extract_preferences(ds.interactions, run.llm, config, items=ds.items, limit=limit,
                                summaries=run.summaries, skipped=skipped)
    path = run.write(out, "preferences", table, config)
    run.report(path, table, f"; {int(table['parse_ok'].sum())} reviews parsed, "
                             f"{skipped.get('no_review', 0)} without text skipped")


@app.command()
@one_line_errors()
def profiles(
    preferences: Annotated[Path, typer.Option("--preferences", help="preferences.parquet from `extract`.")],
    out: Out,
    kind: Annotated[Literal["user", "item"], typer.Option("--kind", help="user or item profiles.")] = "user",
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset whose interactions are split.")] =
    "amazon-beauty-raw",
    pairs: Annotated[Path | None, typer.Option("--pairs", help="Parquet of (user_id, item_id) pairs to profile "
                                                "items for (needed by item_strategy=neighbour).")] = None,
    data_root: DataRoot = None,
    overrides: Sets = None,
    model: Model = "embedded",
    adapter: Adapter = None,
    cache_path: CachePath = None,
) -> None:
    """User or item profiles from TRAIN preferences of an 8:1:1 temporal split (§3.3, §3.5.2)."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.splits import temporal_ratio
    from reasonrec.stages.exp3rt.profiles import Exp3rtProfileConfig, item_profiles, user_profiles

    run = StageRun(f"exp3rt profiles --kind {kind} --dataset {dataset}", model=model, adapter=adapter,
                   cache_path=cache_path)
    config = Exp3rtProfileConfig().with_overrides(overrides or [])
    ds = load_dataset(dataset, data_root=data_root)
    train = temporal_ratio(ds.interactions).train_interactions
    prefs = pl.read_parquet(preferences)
    if kind == "user":
        table = user_profiles(prefs, train, run.llm, config, summaries=run.summaries)
    else:
        pair_table = pl.read_parquet(pairs) if pairs is not None else None
        table = item_profiles(prefs, train, run.llm, config, items=ds.items, pairs=pair_table,
                              summaries=run.summaries)
    name = f"{kind}_profiles" if kind == "user" else f"item_profiles_{config.item_strategy}"
    path = run.write(out, name, table, config, inputs=[preferences])
    run.report(path, table)


@app.command()
@one_line_errors()
def reason(
    out: Out,
    context: Annotated[Path | None, typer.Option("--context", help="Pair context Parquet (CONTEXT_SCHEMA); "
                                                 "default: the released exp3rt-imdb test pairs.")] = None,
    variant: Annotated[str, typer.Option("--variant", help="helpful or similarity (released pairs).")] = "helpful",
    data_root: DataRoot = None,
    limit: Limit = None,
    overrides: Sets = None,
    model: Model = "embedded",
    adapter: Adapter = None,
    cache_path: CachePath = None,
) -> None:
    """Teacher reasoning conditioned on the true rating, M samples per pair, with post-check flags (§3.4)."""
    from reasonrec.stages.exp3rt.reason import TeacherConfig, exp3rt_teacher_reasoning, post_check_counts

    run = StageRun("exp3rt reason", model=model, adapter=adapter, cache_path=cache_path)
    config = TeacherConfig().with_overrides(overrides or [])
    ctx = _context(context, data_root, variant)
    table = exp3rt_teacher_reasoning(ctx, run.llm, config, limit=limit, summaries=run.summaries)
    path = run.write(out, "teacher_reasoning", table, config)
    run.report(path, table, f"; {post_check_counts(table)}")


@app.command()
@one_line_errors()
def predict(
    out: Out,
    context: Annotated[Path | None, typer.Option("--context", help="Pair context Parquet (CONTEXT_SCHEMA); "
                                                 "default: the released exp3rt-imdb test pairs.")] = None,
    variant: Annotated[str, typer.Option("--variant", help="helpful or similarity (released pairs).")] = "helpful",
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Show average ratings in the prompt.")] = True,
    reasoning: Annotated[bool, typer.Option("--reasoning/--no-reasoning", help="Generate reasoning first.")] = True,
    data_root: DataRoot = None,
    limit: Limit = None,
    overrides: Sets = None,
    model: Model = "embedded",
    adapter: Adapter = None,
    cache_path: CachePath = None,
) -> None:
    """E[rating] from rating-token probabilities, with/without bias and reasoning (§3.5.3); predictions schema."""
    from reasonrec.stages.exp3rt.predict import Exp3rtPredictConfig, exp3rt_predict_ratings

    run = StageRun("exp3rt predict", model=model, adapter=adapter, cache_path=cache_path)
    config = Exp3rtPredictConfig(include_bias=bias, reasoning=reasoning).with_overrides(overrides or [])
    ctx = _context(context, data_root, variant)
    table = exp3rt_predict_ratings(ctx, run.llm, config, limit=limit, summaries=run.summaries)
    path = run.write(out, "predictions", table, config)
    ok = table.filter(pl.col("pred_rating").is_not_null() & pl.col("rating").is_not_null())
    rmse = ((ok["pred_rating"] - ok["rating"]) ** 2).mean() ** 0.5 if ok.height else float("nan")
    run.report(path, table, f"; {int(table['parse_ok'].sum())} parse_ok, RMSE {rmse:.4f}")


__all__ = ["app"]
