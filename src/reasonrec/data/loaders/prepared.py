"""A directory written by `reasonrec data prepare`, read back as a dataset, so every command that takes a dataset
name also takes such a directory (your own data, prepared once).

The tables are the ones `prepare` kept AS LOADED (before filters), so preparing again from the directory can
re-derive any filter or split; the directory's own split tables come along as `prepared_train`,
`prepared_valid`, `prepared_test` (the `<prefix>_<split>` names recipes read with `release_prefix=prepared`).
The files are checked against the directory's manifest first (`data.prepared.verify_prepared`): a mixed or edited
directory is refused.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.prepared import verify_prepared
from reasonrec.data.schema import Dataset
from reasonrec.errors import DataError

PREPARED_PREFIX = "prepared"
TABLES = ("interactions", "items", "users")
SPLITS = ("train", "valid", "test")


def is_prepared_dir(name: str | Path) -> bool:
    """True for a directory holding a prepared dataset (its manifest and interactions table)."""
    path = Path(name)
    return path.is_dir() and (path / "manifest.json").is_file() and (path / "interactions.parquet").is_file()


def load_prepared(root: Path, options: LoadOptions | None = None) -> Dataset:
    """The prepared directory `root` as a `Dataset` (tables as loaded + its splits)."""
    root = Path(root)
    manifest = verify_prepared(root)
    split_files = {s: f"splits/{s}.parquet" for s in SPLITS if (root / "splits" / f"{s}.parquet").is_file()}
    names = [f"{t}.parquet" for t in TABLES] + list(split_files.values())
    tables = {t: pl.read_parquet(root / f"{t}.parquet") for t in TABLES if (root / f"{t}.parquet").is_file()}
    if "items" not in tables or "users" not in tables:
        raise DataError("not a prepared directory (items.parquet / users.parquet missing)", path=root)
    splits = {f"{PREPARED_PREFIX}_{s}": pl.read_parquet(root / f) for s, f in split_files.items()}
    sources = {n: str(root / n) for n in names}
    return Dataset(
        name=str((manifest.get("config") or {}).get("dataset") or root.name),
        interactions=tables["interactions"],
        items=tables["items"],
        users=tables["users"],
        splits=splits,
        info={"sources": sources, "prepared_dir": str(root)},
    )


__all__ = ["PREPARED_PREFIX", "is_prepared_dir", "load_prepared"]
