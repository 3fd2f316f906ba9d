"""SIGKILL a real cached generation run mid-way, resume it, and prove nothing was lost or computed twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reasonrec.llm.base import request_key

WORKER = Path(__file__).with_name("kill_resume_worker.py")
N_PROMPTS = 12
MAX_NEW = 6


def _rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _start(cache: Path, log: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(cache), str(log), str(out), str(N_PROMPTS), str(MAX_NEW)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


@pytest.mark.slow  # ~25 s idle, ~2 min on a loaded 2-core box: three model loads
def test_sigkill_then_resume_loses_nothing_and_recomputes_nothing(tmp_path, embedded_hf) -> None:
    sys.path.insert(0, str(WORKER.parent))
    from kill_resume_worker import make_requests

    cache, log, out = tmp_path / "cache.sqlite", tmp_path / "calls.log", tmp_path / "out.json"
    proc = _start(cache, log, out)
    deadline = time.monotonic() + 240
    while _rows(cache) < 2:  # wait until at least one batch is committed
        if proc.poll() is not None:
            pytest.fail(f"worker ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("worker wrote no cache rows in time")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_rows = _rows(cache)
    assert 2 <= killed_rows < N_PROMPTS, "the kill must land mid-run"
    assert not out.exists()

    resumed = _start(cache, log, out)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()[-2000:]
    results = json.loads(out.read_text())

    requests = make_requests(N_PROMPTS, MAX_NEW)
    keys = [request_key(embedded_hf.identity, "generate", r.payload()) for r in requests]
    computed = log.read_text().split()
    assert sorted(computed) == sorted(keys), "every request computed exactly once across kill + resume"
    conn = sqlite3.connect(cache)
    stored = [k for (k,) in conn.execute("SELECT key FROM results")]
    assert sorted(stored) == sorted(keys)  # no duplicates, nothing missing
    assert sum(r["cached"] for r in results) == killed_rows

    # Equal to a clean, uninterrupted greedy run (same single-request batching as the worker).
    clean = [embedded_hf.generate([r])[0] for r in requests]
    assert [r["text"] for r in results] == [c.text for c in clean]
    assert [r["finish_reason"] for r in results] == [c.finish_reason for c in clean]
