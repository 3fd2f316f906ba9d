"""Headless Debian chromium for the browser tests (Playwright drives it; no browser download is possible here).

Skips locally when chromium or python playwright is missing; fails under $CI, where it must be there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> str:
    """The chromium executable to launch (skip or fail as above)."""
    executable = str(CHROMIUM) if CHROMIUM.is_file() else shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        executable = None
    if not executable:
        message = "chromium or python playwright not available"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return executable
