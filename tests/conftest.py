"""Shared fixtures. Data-backed tests read ../shared/data (or $REASONREC_DATA_DIR).

Where $CI is set and the data is missing, tests fail instead of skipping: a green CI must mean the
loaders really ran on the real files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("REASONREC_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real datasets; fails under CI when absent, skips locally."""
    root = _shared_data_dir()
    if not root.is_dir():
        msg = f"real data not found at {root} (set REASONREC_DATA_DIR)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return root


def require_data(root: Path, *parts: str) -> Path:
    """Path under the data root; fail under CI / skip locally when that file is missing."""
    path = root.joinpath(*parts)
    if not path.exists():
        msg = f"missing data file {path}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path
