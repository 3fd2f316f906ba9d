"""Shared fixtures. Data-backed tests read ../shared/data (or $REASONREC_DATA_DIR).

Where $CI is set and the data is missing, tests fail instead of skipping: a green CI must mean the
loaders really ran on the real files. Helpers live in `datafiles.py` (import them from there: a
sub-folder's conftest.py would shadow this module's name).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from datafiles import REPO_ROOT, missing, require_data, shared_data_dir

__all__ = ["REPO_ROOT", "require_data"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real datasets; fails under CI when absent, skips locally."""
    root = shared_data_dir()
    if not root.is_dir():
        missing(f"real data not found at {root} (set REASONREC_DATA_DIR)")
    return root
