"""The benchmark scripts import their siblings by module name (they run as `python bench/x.py`): do the same."""

from __future__ import annotations

import sys

from datafiles import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))
