"""`reasonrec predict`: P(like) (+ optional generated reasoning) for a split, from any backend + adapter."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def predict_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for predictions.parquet + manifest.")],
    method: Annotated[str, typer.Option("--method", help="reasoningrec | tallrec")] = "reasoningrec",
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name.")] = "reasoningrec-beauty",
    split: Annotated[str, typer.Option("--split", help="train | valid | test (or a split table name).")] = "test",
    adapter: Annotated[Path | None, typer.Option("--adapter", help="PEFT LoRA adapter directory.")] = None,
    model: Annotated[str, typer.Option("--model", help="'embedded' or a local HF model directory.")] = "embedded",
    llm_config: Annotated[Path | None, typer.Option("--llm-config", help="LLMConfig YAML (overrides --model).")]
    = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data root.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N rows.")] = None,
    generate_reasoning: Annotated[int, typer.Option(
        "--generate-reasoning", help="Generate explanations for the first N rows (0 = none).")] = 0,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Also write predictions.jsonl.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="PredictConfig override key=value.")] = None,
) -> None:
    """Score a split with the student (one forward pass per row) and write PREDICTIONS_SCHEMA rows."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.llm.registry import LLMConfig, build_llm
    from reasonrec.predict import PredictConfig, predict_labels, write_predictions

    started = time.time()
    if method not in ("reasoningrec", "tallrec"):
        raise typer.BadParameter("the CLI predicts reasoningrec/tallrec from a dataset; rating methods use "
                                 "reasonrec.predict.predict_ratings with pre-rendered prompts", param_hint="--method")
    llm_cfg = LLMConfig.from_yaml(llm_config) if llm_config else LLMConfig(model=model)
    if adapter is not None:
        llm_cfg = llm_cfg.model_copy(update={"adapter": str(adapter)})
    config = PredictConfig(method=method, dataset=dataset, generate_reasoning=generate_reasoning > 0,
                           reasoning_limit=generate_reasoning or None).with_overrides(set_ or [])
    ds = load_dataset(dataset, data_dir)
    table_name = split if split in ds.splits else f"release_windows_{split}"
    if table_name not in ds.splits:
        raise typer.BadParameter(f"no split table {split!r}; available: {', '.join(sorted(ds.splits))}",
                                 param_hint="--split")
    llm = build_llm(llm_cfg)
    summaries: list = []
    a = ds.artefacts
    table = predict_labels(ds.splits[table_name], ds.items, a.get("item_descriptions"), a.get("user_profiles"),
                           llm, config, teacher_reasoning=a.get("teacher_reasoning"), limit=limit,
                           summaries=summaries)
    path = write_predictions(out, table, config, llm=llm, summaries=summaries, jsonl=jsonl,
                             command=f"predict --method {method} --dataset {dataset} --split {split}",
                             started_at=started)
    typer.echo(f"wrote {path} ({table.height} rows; {sum(s.cache_hits for s in summaries)} cache hits)")
