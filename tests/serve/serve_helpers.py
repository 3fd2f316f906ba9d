"""Helpers for the server tests and bench/hostile_server.py: free ports, a `reasonrec llm serve` subprocess, an
in-process uvicorn server, reading /metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Run `app` under a real uvicorn server on a free loopback port in this process; yields the root URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def metric(root: str, name: str, key: str | None = None) -> float:
    """One value from the server's Prometheus /metrics (summed over labels)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    text = httpx.get(root + "/metrics", headers=headers, timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


@contextmanager
def llm_serve_process(
    args: list[str], env: dict[str, str], log_path: Path, timeout_s: float = 300
) -> Iterator[tuple[str, str]]:
    """`reasonrec llm serve --port <free> ARGS` as a subprocess logging to `log_path`; waits for /health and
    yields (root URL, served model name); stopped on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "reasonrec.cli.llm_serve", "--port", str(port), *args]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not become healthy (exit {proc.poll()}):\n{log_path.read_text()}"
                )
            try:
                response = httpx.get(root + "/health", timeout=2)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield root, str(response.json()["model"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
