"""`reasonrec baselines ...` commands: fit a classic baseline on prepared splits and write its predictions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.errors import DataError

app = typer.Typer(help="Classic baselines (naive statistics, MF, BPR, LightGCN, SASRec, Caser).",
                  no_args_is_help=True)


@app.command("list")
def list_baselines() -> None:
    """List registered baselines and the tasks they serve."""
    from reasonrec.baselines import BASELINES

    for name, spec in BASELINES.items():
        typer.echo(f"{name:16s} {', '.join(spec.tasks)}")


def _read(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise DataError("missing split file (run `reasonrec data prepare` first)", path=path)
    return pl.read_parquet(path)


@app.command("run")
@one_line_errors()
def run(
    name: Annotated[str, typer.Argument(help="Baseline name (see `reasonrec baselines list`).")],
    split_dir: Annotated[Path, typer.Option("--split-dir", help="Output dir of `reasonrec data prepare`.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for predictions.parquet and the manifest.")],
    config: Annotated[Path | None, typer.Option("--config", help="YAML config for the baseline.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")] = None,
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name written into the predictions.")] = "",
    r_threshold: Annotated[float, typer.Option("--r-threshold", help="Like = rating > r_T.")] = 3.0,
    top_k: Annotated[int, typer.Option("--top-k", help="Candidates per test user for top-k baselines.")] = 20,
) -> None:
    """Fit NAME on splits/train(+train_interactions), predict valid and test, write predictions.parquet."""
    from reasonrec.baselines import BASELINES, TopKRecommender, TrainData, make_baseline
    from reasonrec.data.prepared import verify_prepared
    from reasonrec.io import write_parquet
    from reasonrec.runs import write_manifest

    started = time.time()
    spec = BASELINES.get(name)
    if spec is None:
        raise typer.BadParameter(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    overrides = overrides or []
    cfg = spec.config.from_yaml(config, overrides) if config else spec.config.from_dict({}, overrides)
    if (split_dir / "manifest.json").exists():  # written by `data prepare`: refuse a mixed or edited directory
        verify_prepared(split_dir)
    splits = split_dir / "splits"
    inputs = [splits / f"{s}.parquet" for s in ("train", "valid", "test")] + [splits / "train_interactions.parquet"]
    train, valid, test, interactions = (_read(p) for p in inputs)
    model = make_baseline(name, cfg)
    model.fit(TrainData(interactions, train, valid, r_threshold))
    fit_seconds = time.time() - started
    preds = pl.concat([model.predict(valid, dataset=dataset, split="valid"),
                       model.predict(test, dataset=dataset, split="test")])
    out.mkdir(parents=True, exist_ok=True)
    outputs = [write_parquet(out / "predictions.parquet", preds)]
    if isinstance(model, TopKRecommender) and hasattr(model, "recommend"):
        users = test["user_id"].unique(maintain_order=True).to_list()
        outputs.append(write_parquet(out / "candidates.parquet", model.recommend(users, top_k, exclude_train=True)))
    write_manifest(out, command=f"reasonrec baselines run {name}", config=cfg, seeds={"seed": cfg.seed},
                   inputs=inputs, outputs=outputs, started_at=started,
                   extra={"baseline": name, "fit_seconds": round(fit_seconds, 2)})
    typer.echo(f"{name}: wrote {preds.height} predictions to {out / 'predictions.parquet'} "
               f"(fit {fit_seconds:.1f}s)")
