"""One real embedded-model backend per test session (loading takes seconds; tests stay few and short)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# `from datafiles import require_data` resolves to THIS file for tests in this folder: re-export the root helper.
_spec = importlib.util.spec_from_file_location("_reasonrec_root_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
require_data = _root.require_data


@pytest.fixture(scope="session")
def embedded_hf():
    import torch

    from reasonrec.llm.hf import HFBackend

    # The test machine's cores are shared; one thread avoids OpenMP spin-wait collapse under load.
    torch.set_num_threads(1)
    return HFBackend("embedded", batch_size=4)
