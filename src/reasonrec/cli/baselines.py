"""`reasonrec baselines ...` commands: fit a classic baseline on prepared splits and write its predictions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, OutOpt, PrintOpt, SetOpt
from reasonrec.errors import DataError

if TYPE_CHECKING:
    import polars as pl

app = typer.Typer(
    help="Classic baselines (naive statistics, MF, BPR, LightGCN, SASRec, Caser).\n\n"
    "Example: reasonrec baselines run bpr --split-dir runs/ml100k --out runs/bpr --set max_iter=200",
    no_args_is_help=True,
)


@app.command("list")
def list_baselines() -> None:
    """List registered baselines and the tasks they serve.

    Example: reasonrec baselines list
    """
    from reasonrec.baselines import BASELINES

    for name, spec in BASELINES.items():
        typer.echo(f"{name:16s} {', '.join(spec.tasks)}")


def _read(path: Path) -> pl.DataFrame:
    import polars as pl

    if not path.exists():
        raise DataError("missing split file (run `reasonrec data prepare` first)", path=path)
    return pl.read_parquet(path)


@app.command("run")
@one_line_errors()
def run(
    name: Annotated[str, typer.Argument(help="Baseline name (see `reasonrec baselines list`).")],
    split_dir: Annotated[Path, typer.Option("--split-dir", help="Output dir of `reasonrec data prepare`.")],
    out: OutOpt,
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    print_config_: PrintOpt = False,
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name written into the predictions.")] = "",
    r_threshold: Annotated[float, typer.Option("--r-threshold", help="Like = rating > r_T.")] = 3.0,
    top_k: Annotated[int, typer.Option("--top-k", help="Candidates per test user for top-k baselines.")] = 20,
) -> None:
    """Fit NAME on splits/train(+train_interactions), predict valid and test, write predictions.parquet.

    Example: reasonrec baselines run user-mean --split-dir runs/ml100k --out runs/user_mean
    """
    import polars as pl

    from reasonrec.baselines import BASELINES, TopKRecommender, TrainData, make_baseline
    from reasonrec.cli.options import print_config, resolve_command_config
    from reasonrec.data.prepared import verify_prepared
    from reasonrec.io import write_parquet
    from reasonrec.runs import write_manifest

    started = time.time()
    spec = BASELINES.get(name)
    if spec is None:
        raise typer.BadParameter(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    cfg = resolve_command_config(spec.config, config=config, overrides=overrides or [])
    print_config(print_config_, config=cfg)
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
