"""Serve configuration: exposure rules for --host, and the precedence of YAML, flags and --set."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from reasonrec.cli.llm_serve import check_exposure, resolve_config, served_backend
from reasonrec.errors import ConfigError
from reasonrec.serve.config import ServeConfig, ServerLimits, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_an_exposed_host_needs_a_key_or_an_explicit_override():
    with pytest.raises(ConfigError, match="--allow-insecure-host"):
        check_exposure(ServeConfig(host="0.0.0.0"), api_key=None)
    check_exposure(ServeConfig(host="0.0.0.0"), api_key="k")
    check_exposure(ServeConfig(host="0.0.0.0", allow_insecure_host=True), api_key=None)
    check_exposure(ServeConfig(host="127.0.0.1"), api_key=None)


def test_the_cli_refuses_an_exposed_host_without_a_key_in_one_line():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-c", "from reasonrec.cli import app; app()", "llm", "serve", "--host", "0.0.0.0"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --host 0.0.0.0 is not a loopback address")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_precedence_yaml_then_flags_then_set(tmp_path):
    yaml_path = tmp_path / "serve.yaml"
    ServeConfig(port=9000, limits=ServerLimits(max_tokens=300, max_n=2)).save(yaml_path)
    cfg = resolve_config(
        yaml_path, {"port": 9100, "max_tokens": 400, "allow_insecure_host": False}, ["limits.max_tokens=500"]
    )
    assert (cfg.port, cfg.limits.max_tokens, cfg.limits.max_n, cfg.allow_insecure_host) == (
        9100,
        500,
        2,
        False,
    )
    with pytest.raises(ConfigError, match="default_chat_max_tokens"):
        resolve_config(None, {"max_tokens": 100}, [])
    with pytest.raises(ConfigError, match="limits.nonsense"):
        resolve_config(None, {}, ["limits.nonsense=1"])


def test_the_served_model_takes_the_configured_kernels_and_thread_policy():
    """`--set dtype=bf16` reaches the served model (the real embedded one), as `llm.dtype` does elsewhere."""
    cfg = resolve_config(None, {}, ["dtype=bf16", "threads=1", "thread_policy=adaptive"])
    before = torch.get_num_threads()
    try:
        backend = served_backend(cfg)
    finally:
        torch.set_num_threads(before)  # the governor sizes the process's pool; later tests keep theirs
    assert backend.kernels.precision == "bf16" and backend.identity.variant == "bf16"
    assert backend.threads is not None and backend.threads.cap == 1
    with pytest.raises(ConfigError):
        resolve_config(None, {}, ["quantize=int4"])
