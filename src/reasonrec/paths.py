"""Where reasonrec looks for data and keeps caches; every location can be overridden by env var."""

from __future__ import annotations

import os
from pathlib import Path

MIRROR_ENV = "REASONREC_MIRROR"
"""Mirror root that replaces the publishers' base URLs for `reasonrec data download`."""


def data_dir(explicit: str | Path | None = None) -> Path:
    """Root of the datasets: explicit argument > $REASONREC_DATA_DIR > ~/.cache/reasonrec/data."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("REASONREC_DATA_DIR")
    if env:
        return Path(env)
    return cache_root() / "data"


def cache_root() -> Path:
    """Root of caches (converted models, LLM call cache, WordNet copy): $REASONREC_CACHE_DIR or ~/.cache/reasonrec."""
    env = os.environ.get("REASONREC_CACHE_DIR")
    root = Path(env) if env else Path.home() / ".cache" / "reasonrec"
    return root
