"""`data prepare` / `data describe`: load -> filter -> split -> write, then summarise what was written.

A prepared directory is the hand-off to every later stage:

    OUT/interactions.parquet, items.parquet, users.parquet   the tables AS LOADED (before any filter)
    OUT/splits/{train,valid,test}.parquet                     target tables (TARGET_SCHEMA)
    OUT/splits/train_interactions.parquet                     CF training rows, leak-free for the strategy
    OUT/config.yaml, OUT/manifest.json                        resolved config; input/output hashes, seed

Keeping the unfiltered tables means a different filter/split can be re-derived without the raw files, and the
manifest records everything needed to redo this exact preparation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.filters import history_length_bounds, k_core
from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.schema import Dataset
from reasonrec.data.segments import segment_counts, segment_targets
from reasonrec.data.splits import (
    SPLIT_NAMES,
    SplitResult,
    assert_leak_free,
    leave_last_out,
    temporal_ratio,
    user_disjoint_balanced,
)
from reasonrec.errors import DataError
from reasonrec.io import write_json, write_parquet
from reasonrec.runs import write_manifest

SplitStrategy = Literal["leave_last_out", "temporal_ratio", "user_disjoint_balanced"]


class FilterConfig(Config):
    """Filters applied (in this order) before splitting. All off by default: the releases are already cored."""

    k_core: int | None = Field(None, ge=1, description="Iterative k-core on users AND items (EXP3RT: 5).")
    min_history: int | None = Field(None, ge=0, description="Drop users with fewer interactions.")
    max_history: int | None = Field(None, ge=0, description="Drop users with more interactions.")


class SplitConfig(Config):
    """One flat section for all strategies so `--set split.strategy=...` needs no other change.

    Defaults reproduce the papers: ReasoningRec leave-last-out with k = 5 history items (the released Beauty
    windows), EXP3RT 8:1:1 temporal, Rec-SAVER 4 <= |H| <= 10 with 800/100 examples per rating class.
    `k_history` applies to leave_last_out and temporal_ratio (null = the whole history).
    """

    strategy: SplitStrategy = "leave_last_out"
    k_history: int | None = Field(5, ge=0)
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    min_history: int = Field(4, ge=0)
    max_history: int = Field(10, ge=0)
    per_class_train: int = Field(800, ge=0)
    per_class_valid: int = Field(0, ge=0)
    per_class_test: int = Field(100, ge=0)


class PrepareConfig(Config):
    """Everything `reasonrec data prepare` needs; saved resolved as OUT/config.yaml."""

    dataset: str = "movielens-100k"
    data_dir: Path | None = None
    load: LoadOptions = Field(default_factory=LoadOptions)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    r_threshold: float | None = 3.0
    split: SplitConfig = Field(default_factory=SplitConfig)
    seed: int = 42


def _split_leave_last_out(df: pl.DataFrame, cfg: PrepareConfig) -> SplitResult:
    return leave_last_out(df, k_history=cfg.split.k_history, r_threshold=cfg.r_threshold)


def _split_temporal_ratio(df: pl.DataFrame, cfg: PrepareConfig) -> SplitResult:
    return temporal_ratio(df, ratios=cfg.split.ratios, k_history=cfg.split.k_history, r_threshold=cfg.r_threshold)


def _split_user_disjoint_balanced(df: pl.DataFrame, cfg: PrepareConfig) -> SplitResult:
    s = cfg.split
    return user_disjoint_balanced(
        df, min_history=s.min_history, max_history=s.max_history, per_class_train=s.per_class_train,
        per_class_valid=s.per_class_valid, per_class_test=s.per_class_test, seed=cfg.seed,
        r_threshold=cfg.r_threshold,
    )


SPLITTERS: dict[str, Callable[[pl.DataFrame, PrepareConfig], SplitResult]] = {
    "leave_last_out": _split_leave_last_out,
    "temporal_ratio": _split_temporal_ratio,
    "user_disjoint_balanced": _split_user_disjoint_balanced,
}


def apply_filters(interactions: pl.DataFrame, filters: FilterConfig) -> tuple[pl.DataFrame, dict[str, int]]:
    """Run the configured filters; return the table and the row count after each step."""
    counts = {"loaded": interactions.height}
    out = interactions
    if filters.k_core is not None:
        out = k_core(out, filters.k_core)
        counts["after_k_core"] = out.height
    if filters.min_history is not None or filters.max_history is not None:
        out = history_length_bounds(out, filters.min_history, filters.max_history)
        counts["after_history_bounds"] = out.height
    return out, counts


@dataclass
class Prepared:
    out: Path
    dataset: Dataset
    filtered: pl.DataFrame
    split: SplitResult


def source_files(dataset: Dataset, data_root: Path | None, config: PrepareConfig) -> list[Path]:
    """The files the loader read (from `Dataset.info["sources"]`), else the dataset's folder, for hashing."""
    sources = dataset.info.get("sources") if isinstance(dataset.info, dict) else None
    paths: list[Path] = []
    if isinstance(sources, dict):
        paths = [Path(str(p)) for p in sources.values()]
    elif isinstance(sources, list | tuple):
        paths = [Path(str(p)) for p in sources]
    paths = [p for p in paths if p.exists()]
    if paths:
        return paths
    if config.load.path is not None and Path(config.load.path).exists():
        return [Path(config.load.path)]
    from reasonrec.data.loaders import DATASET_FOLDERS

    folder = DATASET_FOLDERS.get(config.dataset)
    if data_root is not None and folder and (Path(data_root) / folder).exists():
        return [Path(data_root) / folder]
    return []


def prepare(config: PrepareConfig, out: str | Path, *, command: str = "reasonrec data prepare") -> Prepared:
    """Load, filter, split and write a prepared directory (see module docstring)."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.paths import data_dir

    started = time.time()
    out = Path(out)
    root = data_dir(config.data_dir)
    dataset = load_dataset(config.dataset, root, config.load)
    filtered, filter_counts = apply_filters(dataset.interactions, config.filters)
    if filtered.height == 0:
        raise DataError(f"no interactions left after filters {filter_counts}", field="filters")
    result = SPLITTERS[config.split.strategy](filtered, config)
    assert_leak_free(filtered, result)

    written = [
        write_parquet(out / "interactions.parquet", dataset.interactions),
        write_parquet(out / "items.parquet", dataset.items),
        write_parquet(out / "users.parquet", dataset.users),
        *[write_parquet(out / "splits" / f"{name}.parquet", table) for name, table in result.targets().items()],
        write_parquet(out / "splits" / "train_interactions.parquet", result.train_interactions),
    ]
    write_manifest(  # hashes only this run's files, not leftovers (e.g. an older describe.png) in `out`
        out,
        command=command,
        config=config,
        seeds={"split": config.seed},
        inputs=source_files(dataset, root, config),
        outputs=[*written, out / "config.yaml"],
        extra={"filters": filter_counts, "split_stats": result.stats, "loader_info": dataset.info},
        started_at=started,
    )
    return Prepared(out=out, dataset=dataset, filtered=filtered, split=result)


# --------------------------------------------------------------------------------------------- describe

DESCRIBE_QUANTILES = (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))


def _label_balance(table: pl.DataFrame) -> dict[str, int]:
    labels = table["label"]
    return {
        "positive": int((labels == 1).sum()),
        "negative": int((labels == 0).sum()),
        "unlabelled": int(labels.null_count()),
    }


def describe(prepared_dir: str | Path) -> dict[str, Any]:
    """Summary statistics of a prepared directory (reads only its Parquet files and manifest)."""
    root = Path(prepared_dir)
    path = root / "interactions.parquet"
    if not path.exists():
        raise DataError("not a prepared directory (interactions.parquet missing); run `reasonrec data prepare`",
                        path=root)
    interactions = pl.read_parquet(path)
    n_users = int(interactions["user_id"].n_unique())
    n_items = int(interactions["item_id"].n_unique())
    n = interactions.height
    per_user = interactions.group_by("user_id").len()["len"].cast(pl.Float64)
    ratings = interactions.group_by("rating").len().sort("rating")
    summary: dict[str, Any] = {
        "dir": str(root),
        "users": n_users,
        "items": n_items,
        "items_in_catalogue": pl.read_parquet(root / "items.parquet").height
        if (root / "items.parquet").exists() else None,
        "users_in_table": pl.read_parquet(root / "users.parquet").height
        if (root / "users.parquet").exists() else None,
        "interactions": n,
        "density": n / (n_users * n_items) if n_users and n_items else 0.0,
        "rating_histogram": {str(r): int(c) for r, c in ratings.rows()},
        "history_length": {
            **{name: float(per_user.quantile(q, interpolation="nearest") or 0) for name, q in DESCRIBE_QUANTILES},
            "max": float(per_user.max() or 0),
            "mean": float(per_user.mean() or 0),
        },
        "per_user_lengths": per_user.to_list(),
        "splits": {},
    }
    splits_dir = root / "splits"
    train_rows = None
    if (splits_dir / "train_interactions.parquet").exists():
        train_rows = pl.read_parquet(splits_dir / "train_interactions.parquet")
        summary["train_interactions"] = train_rows.height
    for name in SPLIT_NAMES:
        p = splits_dir / f"{name}.parquet"
        if not p.exists():
            continue
        table = pl.read_parquet(p)
        entry: dict[str, Any] = {
            "targets": table.height,
            "users": int(table["user_id"].n_unique()),
            "labels": _label_balance(table),
            "mean_history_length": float(table["history_item_ids"].list.len().mean() or 0),
        }
        if train_rows is not None and name != "train":
            segmented = segment_targets(table, train_rows)
            entry["segments"] = segment_counts(segmented, "segment")
            entry["item_segments"] = segment_counts(segmented, "item_segment")
        summary["splits"][name] = entry
    manifest = root / "manifest.json"
    if manifest.exists():
        import json

        data = json.loads(manifest.read_text(encoding="utf-8"))
        summary["dataset"] = (data.get("config") or {}).get("dataset")
        summary["filters"] = data.get("filters")
        summary["split_strategy"] = (data.get("split_stats") or {}).get("strategy")
    return summary


def write_describe(prepared_dir: str | Path, summary: dict[str, Any]) -> tuple[Path, Path]:
    """Write DIR/describe.json (summary without the raw per-user lengths) and DIR/describe.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(prepared_dir)
    lengths = summary["per_user_lengths"]
    fig, (ax_r, ax_h) = plt.subplots(1, 2, figsize=(10, 4))
    hist = summary["rating_histogram"]
    ax_r.bar(list(hist.keys()), list(hist.values()), color="#4C72B0")
    ax_r.set(title="Rating histogram", xlabel="rating", ylabel="interactions")
    ax_h.hist(lengths, bins=min(50, max(5, len(set(lengths)))), color="#55A868")
    ax_h.set(title="Interactions per user", xlabel="history length", ylabel="users")
    if lengths and max(lengths) > 20 * max(1.0, summary["history_length"]["p50"]):
        ax_h.set_yscale("log")
    fig.suptitle(f"{summary.get('dataset') or root.name}: {summary['interactions']:,} interactions")
    fig.tight_layout()
    from reasonrec.io import atomic_path

    png = root / "describe.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    public = {k: v for k, v in summary.items() if k != "per_user_lengths"}
    js = write_json(root / "describe.json", public)
    return js, png
