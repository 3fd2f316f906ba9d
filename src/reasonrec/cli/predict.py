"""`reasonrec predict`: P(like) (+ optional generated reasoning) for a split, from any backend + adapter.

The model comes from `--llm-config` / `--set llm.KEY=VALUE` (e.g. `--set llm.adapter=runs/k64/adapter`), the
prediction settings from `PredictConfig` (`--config`, `--set`, e.g. `--set generate_reasoning=true
--set reasoning_limit=20`). `--set explain.mode=evidence` writes each explanation from retrieved evidence after the
label and marks its sentences with the grounding checker (`grounding` column).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import (
    ConfigOpt,
    DataDirOpt,
    LimitOpt,
    LLMOpt,
    OutOpt,
    PrintOpt,
    SetOpt,
    print_config,
    resolve_with_llm,
)

if TYPE_CHECKING:
    import polars as pl

    from reasonrec.data.schema import Dataset


def marked(table: pl.DataFrame, dataset: Dataset) -> pl.DataFrame:
    """Predictions with the grounding checker's per-sentence marks (`grounding` column; text unchanged)."""
    from reasonrec.eval.grounding import checker_for
    from reasonrec.eval.grounding.marks import mark_predictions
    from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache

    return mark_predictions(table, dataset, checker_for(dataset, encoder=SentenceEncoder(
        cache_path=default_embedding_cache())))


@one_line_errors()
def predict_command(
    out: OutOpt,
    method: Annotated[str | None, typer.Option("--method", help="reasoningrec (default) | tallrec")] = None,
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name.")] = "reasoningrec-beauty",
    split: Annotated[str, typer.Option("--split", help="train | valid | test (or a split table name).")] = "test",
    data_dir: DataDirOpt = None,
    llm_config: LLMOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
    limit: LimitOpt = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Also write predictions.jsonl.")] = False,
) -> None:
    """Score a split with the student (one forward pass per row) and write PREDICTIONS_SCHEMA rows.

    Example: reasonrec predict --out runs/pred --set llm.adapter=runs/k64/adapter --set generate_reasoning=true
    --set reasoning_limit=5
    """
    from reasonrec.data.loaders import load_dataset
    from reasonrec.llm.registry import build_llm
    from reasonrec.predict import PredictConfig, predict_labels, write_predictions

    started = time.time()
    cfg, llm_cfg = resolve_with_llm(PredictConfig, config=config, llm_config=llm_config, overrides=set_,
                                    defaults={"dataset": dataset}, flags={"method": method})
    print_config(print_config_, config=cfg, llm=llm_cfg)
    if cfg.method not in ("reasoningrec", "tallrec"):
        raise typer.BadParameter("the CLI predicts reasoningrec/tallrec from a dataset; rating methods use "
                                 "reasonrec.predict.predict_ratings with pre-rendered prompts", param_hint="--method")
    ds = load_dataset(dataset, data_dir)
    table_name = split if split in ds.splits else f"release_windows_{split}"
    if table_name not in ds.splits:
        raise typer.BadParameter(f"no split table {split!r}; available: {', '.join(sorted(ds.splits))}",
                                 param_hint="--split")
    llm = build_llm(llm_cfg)
    summaries: list = []
    a = ds.artefacts
    table = predict_labels(ds.splits[table_name], ds.items, a.get("item_descriptions"), a.get("user_profiles"),
                           llm, cfg, teacher_reasoning=a.get("teacher_reasoning"), interactions=ds.interactions,
                           limit=limit, summaries=summaries)
    if cfg.explain.mode == "evidence" and cfg.generate_reasoning:
        table = marked(table, ds)
    path = write_predictions(out, table, cfg, llm=llm, summaries=summaries, jsonl=jsonl,
                             command=f"predict --method {cfg.method} --dataset {dataset} --split {split}",
                             started_at=started)
    typer.echo(f"wrote {path} ({table.height} rows; {sum(s.cache_hits for s in summaries)} cache hits)")
