"""`data prepare` / `data describe`: load -> filter -> split -> write, then summarise what was written.

A prepared directory is the hand-off to every later stage:

    OUT/interactions.parquet, items.parquet, users.parquet   the tables AS LOADED (before any filter)
    OUT/splits/{train,valid,test}.parquet                     target tables (TARGET_SCHEMA)
    OUT/splits/train_interactions.parquet                     CF training rows, leak-free for the strategy
    OUT/config.yaml, OUT/manifest.json                        resolved config; input/output hashes, seed

Keeping the unfiltered tables means a different filter/split can be re-derived without the raw files, and the
manifest records everything needed to redo this exact preparation. The directory is committed as a unit and
readers verify it against the manifest (`data/prepared.py`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, SerializeAsAny, ValidationInfo, field_validator

from reasonrec.config import Config
from reasonrec.data.filters import history_length_bounds, k_core
from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.tabular import TabularOptions
from reasonrec.data.prepared import (
    check_replaceable,
    commit,
    remove_stale_siblings,
    staging_dir,
    verify_prepared,
)
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
    max_per_user: int | None = Field(None, ge=1, description="user_disjoint_balanced: examples one user may give "
                                     "(None = any number, the paper's rule; splits stay user-disjoint either way)")
    allow_empty: bool = Field(False, description="Accept a split left empty by the data (not by the config).")

    def empty_by_design(self) -> set[str]:
        """Splits this config itself leaves empty (a zero ratio or a zero per-class count)."""
        if self.strategy == "temporal_ratio":
            sizes: tuple[float, ...] = self.ratios
        elif self.strategy == "user_disjoint_balanced":
            sizes = (self.per_class_train, self.per_class_valid, self.per_class_test)
        else:
            return set()
        return {name for name, size in zip(SPLIT_NAMES, sizes, strict=True) if size == 0}


LOAD_OPTIONS: dict[str, type[LoadOptions]] = {"tabular": TabularOptions}
"""Loaders with options beyond `LoadOptions`; `PrepareConfig.load` takes the dataset's class, so `--set`
reaches every option (e.g. `load.rating_range`, `load.separator`)."""


class PrepareConfig(Config):
    """Everything `reasonrec data prepare` needs; saved resolved as OUT/config.yaml."""

    dataset: str = "movielens-100k"
    data_dir: Path | None = None
    load: SerializeAsAny[LoadOptions] = Field(default_factory=LoadOptions)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    r_threshold: float | None = 3.0
    split: SplitConfig = Field(default_factory=SplitConfig)
    seed: int = 42

    @field_validator("load", mode="before")
    @classmethod
    def _options_of_the_dataset(cls, value: Any, info: ValidationInfo) -> Any:
        options_type = LOAD_OPTIONS.get(info.data.get("dataset", ""), LoadOptions)
        if isinstance(value, options_type):
            return value
        if isinstance(value, LoadOptions):
            value = value.model_dump(exclude_unset=True)
        return options_type.model_validate(value if value is not None else {})


def _split_leave_last_out(df: pl.DataFrame, cfg: PrepareConfig) -> SplitResult:
    return leave_last_out(df, k_history=cfg.split.k_history, r_threshold=cfg.r_threshold)


def _split_temporal_ratio(df: pl.DataFrame, cfg: PrepareConfig) -> SplitResult:
    return temporal_ratio(df, ratios=cfg.split.ratios, k_history=cfg.split.k_history, r_threshold=cfg.r_threshold)


def _split_user_disjoint_balanced(df: pl.DataFrame, cfg: PrepareConfig) -> SplitResult:
    s = cfg.split
    return user_disjoint_balanced(
        df, min_history=s.min_history, max_history=s.max_history, per_class_train=s.per_class_train,
        per_class_valid=s.per_class_valid, per_class_test=s.per_class_test, seed=cfg.seed,
        r_threshold=cfg.r_threshold, max_per_user=s.max_per_user,
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


def source_files(dataset: Dataset) -> list[Path]:
    """The files the loader says it read (`Dataset.info["sources"]`: a path, or a list/dict of them, nested).

    Nothing else: no folder walk, no fallback to the data root or the working directory.
    """
    found: list[Path] = []

    def collect(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)
        elif isinstance(value, str | Path) and str(value).strip():
            found.append(Path(value))

    collect(dataset.info.get("sources"))
    return [p for p in dict.fromkeys(found) if p.is_file()]


def check_splits(result: SplitResult, split: SplitConfig, source: str) -> None:
    """An empty train/valid/test split is an error unless the config asked for it or `allow_empty` is set."""
    empty = [name for name in SPLIT_NAMES
             if result.stats.get(f"{name}_targets") == 0 and name not in split.empty_by_design()]
    if not empty or split.allow_empty:
        return
    detail = ""
    if "users_too_short" in result.stats:
        detail = f" ({result.stats['users_too_short']} of {result.stats['users']} users have < 3 interactions)"
    raise DataError(
        f"the {'/'.join(empty)} split is empty after {split.strategy}{detail}; set split.allow_empty=true "
        f"to accept it", path=source, field="split",
    )


def check_threshold(r_threshold: float | None, info: dict[str, Any], source: str) -> None:
    """Refuse an r_threshold outside the rating scale the loader found: it would label every target alike
    (binary 0/1 ratings with the default r_threshold=3 are all "disliked")."""
    scale = info.get("rating_range")
    if r_threshold is None or not isinstance(scale, dict):
        return
    low, high = scale["low"], scale["high"]
    if low <= r_threshold < high:
        return
    label = 0 if r_threshold >= high else 1
    raise DataError(
        f"r_threshold={r_threshold:g} lies outside the rating scale [{low:g}, {high:g}], so every label would be "
        f"{label} (like = rating > r_threshold); set r_threshold inside the scale", path=source,
        field="r_threshold",
    )


def _write_tables(root: Path, dataset: Dataset, result: SplitResult) -> list[Path]:
    return [
        write_parquet(root / "interactions.parquet", dataset.interactions),
        write_parquet(root / "items.parquet", dataset.items),
        write_parquet(root / "users.parquet", dataset.users),
        *[write_parquet(root / "splits" / f"{name}.parquet", table) for name, table in result.targets().items()],
        write_parquet(root / "splits" / "train_interactions.parquet", result.train_interactions),
    ]


def prepare(config: PrepareConfig, out: str | Path, *, command: str = "reasonrec data prepare") -> Prepared:
    """Load, filter, split and write a prepared directory (see module docstring), committed as a unit."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.paths import data_dir

    started = time.time()
    out = Path(out)
    target = Path(os.path.abspath(out))  # "." or "a/.." have no usable name to put a sibling beside
    check_replaceable(target)
    root = data_dir(config.data_dir)
    dataset = load_dataset(config.dataset, root, config.load)
    filtered, filter_counts = apply_filters(dataset.interactions, config.filters)
    if filtered.height == 0:
        raise DataError(f"no interactions left after filters {filter_counts}", field="filters")
    result = SPLITTERS[config.split.strategy](filtered, config)
    assert_leak_free(filtered, result)
    inputs = source_files(dataset)
    source = str(inputs[0]) if inputs else f"dataset {config.dataset}"
    check_threshold(config.r_threshold, dataset.info, source)
    check_splits(result, config.split, source)
    extra: dict[str, Any] = {"filters": filter_counts, "split_stats": result.stats, "loader_info": dataset.info}
    if not inputs:
        extra["inputs_note"] = f"the {config.dataset} loader lists no source files; none were hashed"
    remove_stale_siblings(target)
    staging = staging_dir(target)
    try:
        written = _write_tables(staging, dataset, result)
        write_manifest(  # last: a staging directory without a manifest is never committed
            staging, command=command, config=config, seeds={"split": config.seed}, inputs=inputs,
            outputs=[*written, staging / "config.yaml"], extra=extra, started_at=started,
        )
        commit(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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


def describe(directory: str | Path) -> dict[str, Any]:
    """Summary statistics of a prepared directory (reads only its Parquet files and its verified manifest)."""
    root = Path(directory)
    manifest = verify_prepared(root)
    interactions = pl.read_parquet(root / "interactions.parquet")
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
    summary["dataset"] = (manifest.get("config") or {}).get("dataset")
    summary["filters"] = manifest.get("filters")
    summary["split_strategy"] = (manifest.get("split_stats") or {}).get("strategy")
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
