"""Every hostile ingestion/eval input of `hostile_cases.CASES`, through the CLI in-process: each must be judged ok.

`bench/hostile.py` runs the same table through the real `reasonrec` executable in subprocesses.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from hostile_cases import CASES
from hostile_inputs import Run, judge, setup_workdir
from typer.testing import CliRunner

from reasonrec.cli import app


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 100
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = setup_workdir(case, workdir)
    monkeypatch.chdir(workdir)
    result = CliRunner().invoke(app, list(case.argv))
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = "".join(traceback.format_exception(result.exception))
    run = Run(result.exit_code, result.stdout, result.stderr, crash)
    verdict, detail = judge(case, run, workdir, before)
    assert verdict == "ok", f"{verdict}: {detail}"
