"""`reasonrec predict`: P(like) (+ optional generated reasoning) for a split, from any backend + adapter.

The model comes from `--llm-config` / `--set llm.KEY=VALUE` (e.g. `--set llm.adapter=runs/k64/adapter`), the
prediction settings from `PredictConfig` (`--config`, `--set`, e.g. `--set generate_reasoning=true
--set reasoning_limit=20`).
"""

from __future__ import annotations

import time
from typing import Annotated

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
    resolve_command_config,
    resolve_llm_config,
    split_llm_overrides,
)


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
    own, llm_overrides = split_llm_overrides(set_)
    cfg = resolve_command_config(PredictConfig, config=config, overrides=own, defaults={"dataset": dataset},
                                 flags={"method": method})
    llm_cfg = resolve_llm_config(llm_config, llm_overrides)
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
                           llm, cfg, teacher_reasoning=a.get("teacher_reasoning"), limit=limit, summaries=summaries)
    path = write_predictions(out, table, cfg, llm=llm, summaries=summaries, jsonl=jsonl,
                             command=f"predict --method {cfg.method} --dataset {dataset} --split {split}",
                             started_at=started)
    typer.echo(f"wrote {path} ({table.height} rows; {sum(s.cache_hits for s in summaries)} cache hits)")
