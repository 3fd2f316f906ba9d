"""`reasonrec recsaver ...`: Rec-SAVER's LLM stages from the command line (thin calls into `reasonrec.stages`).

Every command loads a dataset, builds the user-disjoint balanced split (§4.1: 4 ≤ |H| ≤ 10, equal classes,
seeded), runs one stage through the cached LLM and writes `<out>/<name>.parquet` + config.yaml + manifest.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.stage_run import StageRun

app = typer.Typer(
    help="Rec-SAVER stages: post-hoc explanations, leak scrubbing, self-verification, filters, zero-shot ablations.",
    no_args_is_help=True,
)

DatasetOpt = Annotated[str, typer.Option(help="dataset name from the loader registry")]
DataRootOpt = Annotated[Path | None, typer.Option(help="data root (default: reasonrec.paths.data_dir())")]
SplitOpt = Annotated[str, typer.Option(help="which split's targets: train | valid | test")]
PerClassOpt = Annotated[int, typer.Option(help="targets per rating class in the chosen split (paper: 100 test)")]
LimitOpt = Annotated[int | None, typer.Option(help="only the first N target rows")]
OutOpt = Annotated[Path, typer.Option(help="output directory for this stage")]
ModelOpt = Annotated[str, typer.Option(help="'embedded' or a local model directory")]
CacheOpt = Annotated[Path | None, typer.Option(help="SQLite LLM cache (default under the cache root)")]
SeedOpt = Annotated[int, typer.Option(help="split + sampling seed")]
MaxTokOpt = Annotated[int, typer.Option(help="prompt budget in tokens (history trimmed oldest-first)")]


def _pairs(dataset: str, data_root: Path | None, split: str, per_class: int, seed: int):
    from reasonrec.data.loaders import load_dataset
    from reasonrec.data.splits import user_disjoint_balanced

    ds = load_dataset(dataset, data_root=data_root)
    quotas = {"train": 0, "valid": 0, "test": 0}
    quotas[split] = per_class
    if split != "train":
        quotas["train"] = per_class  # one-shot examples come from train
    result = user_disjoint_balanced(
        ds.interactions, per_class_train=quotas["train"], per_class_valid=quotas["valid"],
        per_class_test=quotas["test"], seed=seed,
    )
    return ds, result


@app.command()
@one_line_errors()
def explain(
    out: OutOpt = Path("runs/recsaver/explain"),
    dataset: DatasetOpt = "amazon-beauty-raw",
    data_root: DataRootOpt = None,
    split: SplitOpt = "test",
    per_class: PerClassOpt = 100,
    limit: LimitOpt = None,
    n_samples: Annotated[int, typer.Option(help="N explanations per pair")] = 8,
    temperature: Annotated[float, typer.Option()] = 0.7,
    max_new_tokens: Annotated[int, typer.Option()] = 256,
    max_prompt_tokens: MaxTokOpt = 2048,
    seed: SeedOpt = 42,
    model: ModelOpt = "embedded",
    cache: CacheOpt = None,
) -> None:
    """Post-hoc explanations given the TRUE rating (N samples per pair)."""
    from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations

    run = StageRun("reasonrec recsaver explain", model=model, cache_path=cache)
    ds, result = _pairs(dataset, data_root, split, per_class, seed)
    cfg = ExplainConfig(n_samples=n_samples, temperature=temperature, max_new_tokens=max_new_tokens,
                        max_prompt_tokens=max_prompt_tokens, seed=seed)
    table = post_hoc_explanations(result.targets()[split], ds.items, result.train_interactions, run.llm, cfg,
                                  limit=limit, summaries=run.summaries)
    run.report(run.write(out, "explanations", table, cfg), table)


@app.command()
@one_line_errors()
def verify(
    explanations: Annotated[Path, typer.Argument(help="explanations.parquet from `recsaver explain`")],
    out: OutOpt = Path("runs/recsaver/verify"),
    dataset: DatasetOpt = "amazon-beauty-raw",
    data_root: DataRootOpt = None,
    split: SplitOpt = "test",
    per_class: PerClassOpt = 100,
    rating_from: Annotated[str, typer.Option(help="score | generate")] = "score",
    scrub_rule: Annotated[str, typer.Option(help="ours | paper | none")] = "ours",
    max_prompt_tokens: MaxTokOpt = 2048,
    seed: SeedOpt = 42,
    model: ModelOpt = "embedded",
    cache: CacheOpt = None,
) -> None:
    """Scrub leaks, re-predict without the truth, keep matching explanations (verified reference pools)."""
    import polars as pl

    from reasonrec.stages.recsaver.verify import VerifyConfig, self_verify

    run = StageRun("reasonrec recsaver verify", model=model, cache_path=cache)
    ds, result = _pairs(dataset, data_root, split, per_class, seed)
    cfg = VerifyConfig(rating_from=rating_from, scrub_rule=scrub_rule, max_prompt_tokens=max_prompt_tokens,
                       seed=seed)
    verification = self_verify(pl.read_parquet(explanations), result.targets()[split], ds.items,
                               result.train_interactions, run.llm, cfg, summaries=run.summaries)
    run.write(out, "verification", verification.table, cfg, inputs=[explanations])
    path = run.write(out, "reference_pool", verification.pool, cfg, inputs=[explanations])
    counts = verification.table["status"].value_counts().sort("status").rows()
    run.report(path, verification.pool, f"; statuses: {dict(counts)}; pairs with >=1 reference: "
               f"{int((verification.pool['n_verified'] > 0).sum())}/{verification.pool.height}")


@app.command()
@one_line_errors()
def zeroshot(
    out: OutOpt = Path("runs/recsaver/zeroshot"),
    variant: Annotated[str, typer.Option(help="cot | no_reasoning | no_review | no_review_no_rating | "
                                              "no_description | one_shot")] = "cot",
    dataset: DatasetOpt = "amazon-beauty-raw",
    data_root: DataRootOpt = None,
    split: SplitOpt = "test",
    per_class: PerClassOpt = 100,
    limit: LimitOpt = None,
    rating_from: Annotated[str, typer.Option(help="score | generate")] = "score",
    max_new_tokens: Annotated[int, typer.Option()] = 256,
    max_prompt_tokens: MaxTokOpt = 2048,
    seed: SeedOpt = 42,
    model: ModelOpt = "embedded",
    cache: CacheOpt = None,
) -> None:
    """Zero-shot rating prediction (Table 3 ablations) written as predictions."""
    from reasonrec.stages.recsaver.zeroshot import RecSaverZeroShotConfig, recsaver_zeroshot

    run = StageRun("reasonrec recsaver zeroshot", model=model, cache_path=cache)
    ds, result = _pairs(dataset, data_root, split, per_class, seed)
    cfg = RecSaverZeroShotConfig(variant=variant, rating_from=rating_from, dataset=dataset, seed=seed,
                                 max_new_tokens=max_new_tokens, max_prompt_tokens=max_prompt_tokens)
    preds = recsaver_zeroshot(result.targets()[split], ds.items, result.train_interactions, run.llm, cfg,
                              train_targets=result.train, limit=limit, summaries=run.summaries)
    run.report(run.write(out, "predictions", preds, cfg), preds, f"; {int(preds['parse_ok'].sum())} parsed")


@app.command("teacher-paths")
@one_line_errors()
def teacher_paths(
    out: OutOpt = Path("runs/recsaver/teacher_paths"),
    dataset: DatasetOpt = "amazon-beauty-raw",
    data_root: DataRootOpt = None,
    split: SplitOpt = "train",
    per_class: PerClassOpt = 800,
    limit: LimitOpt = None,
    n_samples: Annotated[int, typer.Option(help="M reasoning paths per pair (paper: 8)")] = 8,
    temperature: Annotated[float, typer.Option()] = 0.7,
    max_new_tokens: Annotated[int, typer.Option()] = 320,
    max_prompt_tokens: MaxTokOpt = 2048,
    seed: SeedOpt = 42,
    model: ModelOpt = "embedded",
    cache: CacheOpt = None,
) -> None:
    """M teacher reasoning paths per pair with the teacher's own ratings, annotated with every §4.3 filter."""
    from reasonrec.stages.recsaver.filters import annotate_filters, filter_counts
    from reasonrec.stages.recsaver.teacher import TeacherPathsConfig, recsaver_teacher_paths

    run = StageRun("reasonrec recsaver teacher-paths", model=model, cache_path=cache)
    ds, result = _pairs(dataset, data_root, split, per_class, seed)
    cfg = TeacherPathsConfig(n_samples=n_samples, temperature=temperature, max_new_tokens=max_new_tokens,
                             max_prompt_tokens=max_prompt_tokens, seed=seed)
    paths = recsaver_teacher_paths(result.targets()[split], ds.items, result.train_interactions, run.llm, cfg,
                                   limit=limit, summaries=run.summaries)
    run.report(run.write(out, "teacher_paths", annotate_filters(paths), cfg), paths)
    typer.echo(json.dumps(filter_counts(paths), indent=2))


@app.command("scrub")
@one_line_errors()
def scrub_command(
    text: Annotated[str, typer.Argument(help="an explanation text ('-' reads stdin)")],
    rating: Annotated[float | None, typer.Option(help="the true rating, if known")] = None,
    rule: Annotated[str, typer.Option(help="ours | paper")] = "ours",
) -> None:
    """Show which sentences the leak scrubber removes from a text."""
    import sys

    from reasonrec.stages.recsaver.leak import leak_reasons, scrub

    if text == "-":
        text = sys.stdin.read()
    clean, removed = scrub(text, rating, rule=rule)
    for sentence in removed:
        typer.echo(f"REMOVED [{', '.join(leak_reasons(sentence, rating)) or 'paper rule'}] {sentence}")
    typer.echo(clean)


__all__ = ["app"]
