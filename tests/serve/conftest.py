"""Fixtures: a real `reasonrec llm serve` subprocess on a free loopback port, serving the embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serve_helpers import free_port
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
    port = free_port()
    log_path: Path = tmp_path_factory.mktemp("serve") / "server.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", **{SERVER_KEY_ENV: SERVER_KEY})
    cmd = [
        sys.executable,
        "-m",
        "reasonrec.cli.llm_serve",
        "--port",
        str(port),
        "--api-key-env",
        SERVER_KEY_ENV,
        *SERVER_LIMIT_ARGS,
        "--threads",
        "1",
        "--log-level",
        "info",
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        model = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                r = httpx.get(base + "/health", timeout=2)
                if r.status_code == 200:
                    model = r.json()["model"]
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        if model is None:
            pytest.fail(f"server did not become healthy in {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}")
        yield RunningServer(
            base_url=base + "/v1", model=model, api_key=SERVER_KEY, key_env=SERVER_KEY_ENV, log_path=log_path
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def hf_backend():
    """The same embedded model in-process, to check the HTTP path against the direct one."""
    import torch

    from reasonrec.llm.hf import HFBackend

    torch.set_num_threads(1)  # shared cores: more threads spin-wait and collapse under load
    return HFBackend("embedded")

