"""`reasonrec exp3rt extract|profiles|reason|predict`: run one EXP3RT LLM stage into a stage directory.

Each command is a thin call into `reasonrec.stages.exp3rt`: extract (reviews → preferences), profiles (preferences →
user / item profiles from TRAINING interactions of an 8:1:1 temporal split), reason (teacher reasoning on a pair
context), predict (E[rating] with rating bias, with/without reasoning: `--set include_bias=false`,
`--set reasoning=false`). `reason` and `predict` read a pair context Parquet (profiles.CONTEXT_SCHEMA) or, by
default, the released exp3rt-imdb test pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, DataDirOpt, LimitOpt, LLMOpt, OutOpt, PrintOpt, SetOpt
from reasonrec.cli.stage_run import stage_command

if TYPE_CHECKING:
    import polars as pl

app = typer.Typer(
    help="EXP3RT stages: extract preferences, build profiles, teacher reasoning, predict ratings.\n\n"
    "Example: reasonrec exp3rt predict --out runs/exp3rt_pred --limit 10 --set reasoning=false",
    no_args_is_help=True,
)

ContextOpt = Annotated[Path | None, typer.Option(
    "--context", help="Pair context Parquet (CONTEXT_SCHEMA); default: the released exp3rt-imdb test pairs.")]
VariantOpt = Annotated[str, typer.Option("--variant", help="helpful or similarity (released pairs).")]
ReviewsOpt = Annotated[str, typer.Option("--dataset", help="Loader name of a dataset with reviews.")]


def _context(context: Path | None, data_dir: Path | None, variant: str) -> pl.DataFrame:
    import polars as pl

    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.profiles import imdb_release_context

    if context is not None:
        return pl.read_parquet(context)
    return imdb_release_context(load_dataset("exp3rt-imdb", data_dir), variant)  # type: ignore[arg-type]


@app.command()
@one_line_errors()
def extract(out: OutOpt, dataset: ReviewsOpt = "amazon-beauty-raw", data_dir: DataDirOpt = None,
            llm_config: LLMOpt = None, config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
            limit: LimitOpt = None) -> None:
    """Per review: [Like]/[Dislike] preference bullets (EXP3RT §3.2).

    Example: reasonrec exp3rt extract --dataset amazon-beauty-raw --out runs/prefs --limit 20
    """
    from reasonrec.data.loaders import load_dataset
    from reasonrec.stages.exp3rt.extract import ExtractConfig, extract_preferences

    cfg, run = stage_command(ExtractConfig, f"exp3rt extract --dataset {dataset}", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config)
    ds = load_dataset(dataset, data_dir)
    skipped: dict[str, int] = {}
    table = extract_preferences(ds.interactions, run.llm, cfg, items=ds.items, limit=limit,
                                summaries=run.summaries, skipped=skipped)
    path = run.write(out, "preferences", table, cfg)
    run.report(path, table, f"; {int(table['parse_ok'].sum())} reviews parsed, "
                            f"{skipped.get('no_review', 0)} without text skipped")


@app.command()
@one_line_errors()
def profiles(
    preferences: Annotated[Path, typer.Option("--preferences", help="preferences.parquet from `extract`.")],
    out: OutOpt,
    kind: Annotated[Literal["user", "item"], typer.Option("--kind", help="user or item profiles.")] = "user",
    dataset: ReviewsOpt = "amazon-beauty-raw",
    pairs: Annotated[Path | None, typer.Option("--pairs", help="Parquet of (user_id, item_id) pairs to profile "
                                                "items for (needed by item_strategy=neighbour).")] = None,
    data_dir: DataDirOpt = None, llm_config: LLMOpt = None, config: ConfigOpt = None, set_: SetOpt = None,
    print_config: PrintOpt = False,
) -> None:
    """User or item profiles from TRAIN preferences of an 8:1:1 temporal split (§3.3, §3.5.2).

    Example: reasonrec exp3rt profiles --preferences runs/prefs/preferences.parquet --kind item --out runs/iprof
    --set item_strategy=helpful
    """
    import polars as pl

    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.splits import temporal_ratio
    from reasonrec.stages.exp3rt.profiles import Exp3rtProfileConfig, item_profiles, user_profiles

    cfg, run = stage_command(Exp3rtProfileConfig, f"exp3rt profiles --kind {kind} --dataset {dataset}",
                             config=config, overrides=set_, llm_config=llm_config, print_only=print_config)
    ds = load_dataset(dataset, data_dir)
    train = temporal_ratio(ds.interactions).train_interactions
    prefs = pl.read_parquet(preferences)
    if kind == "user":
        table = user_profiles(prefs, train, run.llm, cfg, summaries=run.summaries)
    else:
        pair_table = pl.read_parquet(pairs) if pairs is not None else None
        table = item_profiles(prefs, train, run.llm, cfg, items=ds.items, pairs=pair_table, summaries=run.summaries)
    name = f"{kind}_profiles" if kind == "user" else f"item_profiles_{cfg.item_strategy}"
    run.report(run.write(out, name, table, cfg, inputs=[preferences]), table)


@app.command()
@one_line_errors()
def reason(out: OutOpt, context: ContextOpt = None, variant: VariantOpt = "helpful", data_dir: DataDirOpt = None,
           llm_config: LLMOpt = None, config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
           limit: LimitOpt = None) -> None:
    """Teacher reasoning conditioned on the true rating, M samples per pair, with post-check flags (§3.4).

    Example: reasonrec exp3rt reason --out runs/exp3rt_teacher --limit 4 --set n_samples=2 --set temperature=0.7
    """
    from reasonrec.stages.exp3rt.reason import TeacherConfig, exp3rt_teacher_reasoning, post_check_counts

    cfg, run = stage_command(TeacherConfig, "exp3rt reason", config=config, overrides=set_, llm_config=llm_config,
                             print_only=print_config)
    table = exp3rt_teacher_reasoning(_context(context, data_dir, variant), run.llm, cfg, limit=limit,
                                     summaries=run.summaries)
    run.report(run.write(out, "teacher_reasoning", table, cfg), table, f"; {post_check_counts(table)}")


@app.command()
@one_line_errors()
def predict(out: OutOpt, context: ContextOpt = None, variant: VariantOpt = "helpful", data_dir: DataDirOpt = None,
            llm_config: LLMOpt = None, config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
            limit: LimitOpt = None) -> None:
    """E[rating] from rating-token probabilities, with/without bias and reasoning (§3.5.3); predictions schema.

    Example: reasonrec exp3rt predict --out runs/exp3rt_pred --limit 10 --set include_bias=false
    --set reasoning=false
    """
    import polars as pl

    from reasonrec.stages.exp3rt.predict import Exp3rtPredictConfig, exp3rt_predict_ratings

    cfg, run = stage_command(Exp3rtPredictConfig, "exp3rt predict", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config)
    table = exp3rt_predict_ratings(_context(context, data_dir, variant), run.llm, cfg, limit=limit,
                                   summaries=run.summaries)
    path = run.write(out, "predictions", table, cfg)
    ok = table.filter(pl.col("pred_rating").is_not_null() & pl.col("rating").is_not_null())
    rmse = ((ok["pred_rating"] - ok["rating"]) ** 2).mean() ** 0.5 if ok.height else float("nan")
    run.report(path, table, f"; {int(table['parse_ok'].sum())} parse_ok, RMSE {rmse:.4f}")


__all__ = ["app"]
