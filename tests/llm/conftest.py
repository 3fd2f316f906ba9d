"""One real embedded-model backend per test session (loading takes seconds; tests stay few and short)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedded_hf():
    from reasonrec.llm.hf import HFBackend

    return HFBackend("embedded", batch_size=4)
