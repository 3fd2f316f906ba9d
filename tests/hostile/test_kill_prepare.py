"""kill -9 during `data prepare` into an already prepared directory: a reader never accepts a mix of the two runs.

Every point is run by `bench/hostile.py` (and here with `-m slow`); the default suite runs one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from datafiles import require_data
from hostile_kill import KILL_POINTS, NEW_RUN, OLD_RUN, kill_prepare_at, subprocess_env

from reasonrec.data.prepare import PrepareConfig, prepare
from reasonrec.io import sha256_file

QUICK_POINT = "first table written"


@pytest.fixture(scope="module")
def runs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clean OLD_RUN and NEW_RUN preparations of ML-100K (in-process: the kills are what need subprocesses)."""
    require_data(shared_data, "movielens-100k", "u.data")
    root = tmp_path_factory.mktemp("reference")
    done = {}
    for name, overrides in (("old", OLD_RUN), ("new", NEW_RUN)):
        config = PrepareConfig(dataset="movielens-100k", data_dir=shared_data).with_overrides(list(overrides))
        done[name] = prepare(config, root / name).out
    return done


@pytest.mark.parametrize("point", [
    pytest.param(p, marks=() if p == QUICK_POINT else pytest.mark.slow) for p in KILL_POINTS
])
def test_kill_during_prepare_never_yields_a_mixed_directory(
    point: str, shared_data: Path, tmp_path: Path, runs: dict[str, Path]
) -> None:
    digests = {name: sha256_file(out / "splits" / "test.parquet") for name, out in runs.items()}
    assert digests["old"] != digests["new"]
    outcome = kill_prepare_at(point, shared_data, tmp_path / "prepared", old=runs["old"], env=subprocess_env(),
                              digests=digests)
    assert outcome.landed, f"the run finished before {point!r}"
    assert outcome.reader == "old"  # every point lies before the commit: the previous directory is intact
    assert outcome.rerun_ok
