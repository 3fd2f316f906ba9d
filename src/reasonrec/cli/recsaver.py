"""`reasonrec recsaver explain|verify|zeroshot|teacher-paths|scrub`: Rec-SAVER's LLM stages from the command line.

Every command loads a dataset, draws the paper's pairs (§4.1: the user-disjoint balanced split of `SplitConfig`,
4 ≤ |H| ≤ 10, `--per-class` pairs per rating class of the chosen `--split`, seeded by the stage's `seed`), runs one
stage through the cached LLM and writes `<out>/<name>.parquet` + config.yaml + manifest.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, DataDirOpt, LimitOpt, LLMOpt, OutOpt, PrintOpt, SetOpt
from reasonrec.cli.stage_run import stage_command

if TYPE_CHECKING:
    from reasonrec.data.schema import Dataset
    from reasonrec.data.splits import SplitResult

app = typer.Typer(
    help="Rec-SAVER stages: post-hoc explanations, leak scrubbing, self-verification, teacher paths + filters, "
    "zero-shot ablations.\n\nExample: reasonrec recsaver zeroshot --out runs/rs_zs --per-class 2 "
    "--set variant=no_reasoning",
    no_args_is_help=True,
)

DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name from the loader registry.")]
SplitOpt = Annotated[str, typer.Option("--split", help="Which split's pairs: train | valid | test.")]
PerClassOpt = Annotated[int, typer.Option("--per-class", help="Pairs per rating class in that split "
                                          "(the paper: 100 test, 800 train).")]
PAPER_SEED = {"seed": 42}
"""Rec-SAVER's commands draw the pairs and sample with seed 42 unless `--set seed=…` says otherwise."""


def _pairs(dataset: str, data_dir: Path | None, split: str, per_class: int, seed: int
           ) -> tuple[Dataset, SplitResult]:
    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.prepare import SplitConfig
    from reasonrec.data.splits import user_disjoint_balanced

    ds = load_dataset(dataset, data_dir)
    quotas = {"train": 0, "valid": 0, "test": 0, split: per_class}
    if split != "train":
        quotas["train"] = per_class  # one-shot examples come from train
    paper = SplitConfig(strategy="user_disjoint_balanced")
    result = user_disjoint_balanced(
        ds.interactions, min_history=paper.min_history, max_history=paper.max_history,
        per_class_train=quotas["train"], per_class_valid=quotas["valid"], per_class_test=quotas["test"], seed=seed,
    )
    return ds, result


@app.command()
@one_line_errors()
def explain(out: OutOpt, dataset: DatasetOpt = "amazon-beauty-raw", data_dir: DataDirOpt = None,
            split: SplitOpt = "test", per_class: PerClassOpt = 100, llm_config: LLMOpt = None,
            config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
            limit: LimitOpt = None) -> None:
    """Post-hoc explanations given the TRUE rating (n_samples per pair).

    Example: reasonrec recsaver explain --out runs/rs_explain --per-class 2 --set n_samples=4
    """
    from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations

    cfg, run = stage_command(ExplainConfig, "reasonrec recsaver explain", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config, defaults=PAPER_SEED)
    ds, result = _pairs(dataset, data_dir, split, per_class, cfg.seed)
    table = post_hoc_explanations(result.targets()[split], ds.items, result.train_interactions, run.llm, cfg,
                                  limit=limit, summaries=run.summaries)
    run.report(run.write(out, "explanations", table, cfg), table)


@app.command()
@one_line_errors()
def verify(
    explanations: Annotated[Path, typer.Argument(help="explanations.parquet from `recsaver explain`")],
    out: OutOpt, dataset: DatasetOpt = "amazon-beauty-raw", data_dir: DataDirOpt = None, split: SplitOpt = "test",
    per_class: PerClassOpt = 100, llm_config: LLMOpt = None, config: ConfigOpt = None, set_: SetOpt = None,
    print_config: PrintOpt = False,
) -> None:
    """Scrub leaks, re-predict without the truth, keep matching explanations (verified reference pools).

    Example: reasonrec recsaver verify runs/rs_explain/explanations.parquet --out runs/rs_verify --per-class 2
    --set scrub_rule=paper
    """
    import polars as pl

    from reasonrec.stages.recsaver.verify import VerifyConfig, self_verify

    cfg, run = stage_command(VerifyConfig, "reasonrec recsaver verify", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config, defaults=PAPER_SEED)
    ds, result = _pairs(dataset, data_dir, split, per_class, cfg.seed)
    verification = self_verify(pl.read_parquet(explanations), result.targets()[split], ds.items,
                               result.train_interactions, run.llm, cfg, summaries=run.summaries)
    run.write(out, "verification", verification.table, cfg, inputs=[explanations])
    path = run.write(out, "reference_pool", verification.pool, cfg, inputs=[explanations])
    counts = verification.table["status"].value_counts().sort("status").rows()
    run.report(path, verification.pool, f"; statuses: {dict(counts)}; pairs with >=1 reference: "
               f"{int((verification.pool['n_verified'] > 0).sum())}/{verification.pool.height}")


@app.command()
@one_line_errors()
def zeroshot(out: OutOpt, dataset: DatasetOpt = "amazon-beauty-raw", data_dir: DataDirOpt = None,
             split: SplitOpt = "test", per_class: PerClassOpt = 100, llm_config: LLMOpt = None,
             config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
             limit: LimitOpt = None) -> None:
    """Zero-shot rating prediction (Table 3 ablations: variant = cot | no_reasoning | no_review |
    no_review_no_rating | no_description | one_shot) written as predictions.

    Example: reasonrec recsaver zeroshot --out runs/rs_zs --per-class 2 --set variant=no_reasoning
    """
    from reasonrec.stages.recsaver.zeroshot import RecSaverZeroShotConfig, recsaver_zeroshot

    cfg, run = stage_command(RecSaverZeroShotConfig, "reasonrec recsaver zeroshot", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config,
                             defaults={**PAPER_SEED, "dataset": dataset})
    ds, result = _pairs(dataset, data_dir, split, per_class, cfg.seed)
    preds = recsaver_zeroshot(result.targets()[split], ds.items, result.train_interactions, run.llm, cfg,
                              train_targets=result.train, limit=limit, summaries=run.summaries)
    run.report(run.write(out, "predictions", preds, cfg), preds, f"; {int(preds['parse_ok'].sum())} parsed")


@app.command("teacher-paths")
@one_line_errors()
def teacher_paths(out: OutOpt, dataset: DatasetOpt = "amazon-beauty-raw", data_dir: DataDirOpt = None,
                  split: SplitOpt = "train", per_class: PerClassOpt = 800, llm_config: LLMOpt = None,
                  config: ConfigOpt = None, set_: SetOpt = None, print_config: PrintOpt = False,
                  limit: LimitOpt = None) -> None:
    """M teacher reasoning paths per pair with the teacher's own ratings, annotated with every §4.3 filter.

    Example: reasonrec recsaver teacher-paths --out runs/rs_paths --per-class 2 --set n_samples=4
    """
    from reasonrec.stages.recsaver.filters import annotate_filters, filter_counts
    from reasonrec.stages.recsaver.teacher import TeacherPathsConfig, recsaver_teacher_paths

    cfg, run = stage_command(TeacherPathsConfig, "reasonrec recsaver teacher-paths", config=config, overrides=set_,
                             llm_config=llm_config, print_only=print_config, defaults=PAPER_SEED)
    ds, result = _pairs(dataset, data_dir, split, per_class, cfg.seed)
    paths = recsaver_teacher_paths(result.targets()[split], ds.items, result.train_interactions, run.llm, cfg,
                                   limit=limit, summaries=run.summaries)
    run.report(run.write(out, "teacher_paths", annotate_filters(paths), cfg), paths)
    typer.echo(json.dumps(filter_counts(paths), indent=2))


@app.command("scrub")
@one_line_errors()
def scrub_command(
    text: Annotated[str, typer.Argument(help="an explanation text ('-' reads stdin)")],
    rating: Annotated[float | None, typer.Option("--rating", help="the true rating, if known")] = None,
    rule: Annotated[str, typer.Option("--rule", help="ours | paper")] = "ours",
) -> None:
    """Show which sentences the leak scrubber removes from a text.

    Example: reasonrec recsaver scrub "Great scent. I would give it 5 stars." --rating 5
    """
    import sys

    from reasonrec.stages.recsaver.leak import leak_reasons, scrub

    if text == "-":
        text = sys.stdin.read()
    clean, removed = scrub(text, rating, rule=rule)
    for sentence in removed:
        typer.echo(f"REMOVED [{', '.join(leak_reasons(sentence, rating)) or 'paper rule'}] {sentence}")
    typer.echo(clean)


__all__ = ["app"]
