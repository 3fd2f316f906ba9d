"""SIGKILL a real `reasonrec data prepare` at named points, then judge what a reader sees (tests and bench share it).

A point is a condition on the files the run has written so far, polled every millisecond from outside, so the
kill lands in a known phase without any hook inside reasonrec: before anything is written, when the staging
directory appears, after the first table, after the last split file, and while the manifest is being written
(its config.yaml is written first, then every output is hashed). A run that finishes before its point is
reached is reported as such (`landed=False`), never counted as a kill.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Probe = Callable[[Path], bool]


def _staging(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.staging-*"))


def _in_staging(*parts: str) -> Probe:
    return lambda out: any(s.joinpath(*parts).exists() for s in _staging(out))


KILL_POINTS: dict[str, Probe] = {
    "while loading": lambda out: False,  # killed after a fixed delay instead
    "staging directory created": lambda out: bool(_staging(out)),
    "first table written": _in_staging("interactions.parquet"),
    "last split written": _in_staging("splits", "train_interactions.parquet"),
    "manifest being written": _in_staging("config.yaml"),
}
LOADING_DELAY_S = 0.4


@dataclass
class KillOutcome:
    point: str
    landed: bool
    """The process was killed at the point (False: it exited before the point was seen)."""
    reader: str
    """What `verify_prepared` said afterwards: "old", "new", "refused: ..." or "absent"."""
    rerun_ok: bool

    @property
    def mixed_accepted(self) -> bool:
        return self.reader.startswith("mixed")


OLD_RUN: tuple[str, ...] = ()
NEW_RUN = ("split.k_history=3",)
"""Two preparations of the same data whose split files differ, so a reader can tell which one it sees."""


def prepare_command(data_root: Path, out: Path, overrides: tuple[str, ...]) -> list[str]:
    code = "import sys; from reasonrec.cli import app; sys.argv = ['reasonrec'] + sys.argv[1:]; app()"
    sets = [arg for item in overrides for arg in ("--set", item)]
    return [sys.executable, "-c", code, "data", "prepare", "movielens-100k", "--data-dir", str(data_root),
            "--out", str(out), *sets]


def _wait_and_kill(proc: subprocess.Popen, out: Path, point: str, timeout_s: float) -> bool:
    probe = KILL_POINTS[point]
    started = time.monotonic()
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        hit = elapsed >= LOADING_DELAY_S if point == "while loading" else probe(out)
        if hit:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        if elapsed > timeout_s:
            proc.kill()
            proc.wait()
            raise TimeoutError(f"prepare did not reach {point!r} within {timeout_s} s")
        time.sleep(0.001)
    return False


def _reader_view(out: Path, digests: dict[str, str]) -> str:
    from reasonrec.data.prepared import verify_prepared
    from reasonrec.errors import DataError

    if not out.exists():
        return "absent"
    try:
        manifest = verify_prepared(out)
    except DataError as exc:
        return f"refused: {exc.message}"
    digest = manifest["outputs"].get("splits/test.parquet")
    for name, expected in digests.items():
        if digest == expected:
            return name
    return "mixed (accepted a directory matching neither run)"


def kill_prepare_at(point: str, data_root: Path, out: Path, *, old: Path, env: dict[str, str],
                    digests: dict[str, str], attempts: int = 3, timeout_s: float = 300) -> KillOutcome:
    """Copy the OLD_RUN preparation `old` to OUT, re-prepare OUT as NEW_RUN, kill at `point`, judge, rerun.

    `digests` maps "old"/"new" to the sha256 of `splits/test.parquet` of a clean OLD_RUN / NEW_RUN. A run that
    finishes before the point is seen (a busy machine can delay the poller) is tried again, `attempts` times.
    """
    command = prepare_command(data_root, out, NEW_RUN)
    for _ in range(attempts):
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(old, out)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        landed = _wait_and_kill(proc, out, point, timeout_s)
        if landed:
            break
    reader = _reader_view(out, digests)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=timeout_s)
    rerun_ok = rerun.returncode == 0 and _reader_view(out, digests) == "new" and not _staging(out)
    return KillOutcome(point=point, landed=landed, reader=reader, rerun_ok=rerun_ok)


def subprocess_env() -> dict[str, str]:
    """The current environment with this checkout's sources first on the path."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else "")}
