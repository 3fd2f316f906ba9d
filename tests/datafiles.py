"""Locating the real datasets from tests (importable as `datafiles`; conftest modules may shadow each other)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("REASONREC_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def missing(msg: str) -> None:
    """Fail under CI (a green CI must mean the real files were read), skip locally."""
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def require_data(root: Path, *parts: str) -> Path:
    """Path under the data root; fail under CI / skip locally when that file is missing."""
    path = root.joinpath(*parts)
    if not path.exists():
        missing(f"missing data file {path}")
    return path
