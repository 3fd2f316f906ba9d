"""One real embedded-model backend per test session (loading takes seconds; tests stay few and short)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")



@pytest.fixture(scope="session")
def embedded_hf():
    import torch

    from reasonrec.llm.hf import HFBackend

    # The test machine's cores are shared; one thread avoids OpenMP spin-wait collapse under load.
    torch.set_num_threads(1)
    return HFBackend("embedded", batch_size=4)
