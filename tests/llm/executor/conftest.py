"""A local 2-CPU Ray cluster and a real `reasonrec llm serve` (embedded model) on 127.0.0.1, once per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 240


@dataclass(frozen=True)
class Served:
    base_url: str  # ends with /v1
    model: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`python -m reasonrec.cli.llm_serve` on a free loopback port (1 torch thread), stopped after the session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("executor_serve") / "server.log"
    cmd = [sys.executable, "-m", "reasonrec.cli.llm_serve", "--port", str(port), "--threads", "1"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                r = httpx.get(base + "/health", timeout=2)
                if r.status_code == 200:
                    yield Served(base + "/v1", r.json()["model"], log)
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not healthy in {STARTUP_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """`ray.init(num_cpus=2)`: the executor joins this cluster instead of starting its own."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
