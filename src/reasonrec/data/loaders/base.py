"""What every loader takes: a data root plus options. Loaders return a `Dataset` of canonical tables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.schema import Dataset


class LoadOptions(Config):
    """Options shared by all loaders.

    `path` overrides the dataset folder (or file) found under the data root; `on_error="skip"` turns
    malformed rows into a counted skip (reported in `Dataset.info["skipped"]`) instead of an error;
    `column_map` maps canonical column names to source column names for the generic CSV/Parquet loader.
    `category` picks one Amazon category's files (`Books`) where a folder holds several; `domain` picks a
    ReasoningRec release (`fashion` → `<data root>/reasoningrec-fashion`) for `reasoningrec-release`.
    """

    path: Path | None = None
    on_error: Literal["raise", "skip"] = "raise"
    encoding: str | None = None
    column_map: dict[str, str] = Field(default_factory=dict)
    dedupe: Literal["error", "keep_last", "keep_first"] = "error"
    category: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    domain: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class Loader(Protocol):
    def __call__(self, data_root: Path, options: LoadOptions) -> Dataset: ...
