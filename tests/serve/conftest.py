"""Fixtures: a real `reasonrec llm serve` subprocess on a free loopback port, serving the embedded model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from serve_helpers import llm_serve_process
from server_probes import SERVER_LIMIT_ARGS

SERVER_KEY_ENV = "REASONREC_TEST_SERVER_KEY"
SERVER_KEY = "test-key-not-secret"
STARTUP_TIMEOUT_S = 180


@dataclass(frozen=True)
class RunningServer:
    base_url: str  # ends with /v1
    model: str
    api_key: str
    key_env: str
    log_path: Path

    @property
    def root(self) -> str:
        return self.base_url[: -len("/v1")]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Start the server once per session (the model load dominates), wait for /health, stop it after."""
    log_path: Path = tmp_path_factory.mktemp("serve") / "server.log"
    args = ["--api-key-env", SERVER_KEY_ENV, *SERVER_LIMIT_ARGS, "--threads", "1", "--log-level", "info"]
    env = {"HF_HUB_OFFLINE": "1", SERVER_KEY_ENV: SERVER_KEY}
    with llm_serve_process(args, env, log_path, STARTUP_TIMEOUT_S) as (root, model):
        yield RunningServer(
            base_url=root + "/v1", model=model, api_key=SERVER_KEY, key_env=SERVER_KEY_ENV, log_path=log_path
        )


@pytest.fixture(scope="session")
def hf_backend():
    """The same embedded model in-process, to check the HTTP path against the direct one."""
    import torch

    from reasonrec.llm.hf import HFBackend

    torch.set_num_threads(1)  # shared cores: more threads spin-wait and collapse under load
    return HFBackend("embedded")
