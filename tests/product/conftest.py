"""Own-data fixtures for the product tests: a prepared shop, a BPR run on it, and a bundle (CF-only and student)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from own_data import COLUMN_MAP, write_shop
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """CSV files → `data prepare` (tabular, column map, items file) → `baselines run bpr`, through the real CLI."""
    from reasonrec.cli import app

    root = tmp_path_factory.mktemp("shop")
    files = write_shop(root)
    from reasonrec.data.loaders.tabular import TabularOptions
    from reasonrec.data.prepare import PrepareConfig, prepare

    runner = CliRunner()
    options = TabularOptions(path=files["ratings"], items_path=files["items"], column_map=COLUMN_MAP)
    prepare(PrepareConfig(dataset="tabular", load=options), root / "prepared")
    cf = runner.invoke(app, ["baselines", "run", "bpr", "--split-dir", str(root / "prepared"), "--out",
                             str(root / "bpr"), "--set", "max_iter=60", "--set", "min_rating=4"])
    assert cf.exit_code == 0, cf.output
    return {**files, "root": root, "prepared": root / "prepared", "cf": root / "bpr"}
