"""Fixtures: real server subprocesses on free loopback ports with the embedded model — `reasonrec llm serve`, and
`reasonrec serve BUNDLE` on the own-data shop bundle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rec_service import KEY, REC_KEY_ENV, RecService, shop_bundle
from serve_helpers import llm_serve_process, server_process
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


@pytest.fixture(scope="session")
def rec_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecService]:
    root = tmp_path_factory.mktemp("rec_service")
    bundle = shop_bundle(root)
    feedback_db = root / "feedback.sqlite"
    args = [str(bundle), "--set", "port={port}", "--set", f"api_key_env={REC_KEY_ENV}", "--set", "threads=1",
            "--set", f"feedback_db={feedback_db}", "--set", "n_candidates=4", "--set", "explain_top=1",
            "--set", "limits.max_queue=8", "--set", "log_level=info"]
    env = {REC_KEY_ENV: KEY, "HF_HUB_OFFLINE": "1"}
    with server_process("reasonrec.cli.serve", args, env, root / "server.log", 240,
                        health="/health/ready") as (url, _):
        yield RecService(url, feedback_db, bundle)
