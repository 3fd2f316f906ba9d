"""The shared stage-command plumbing: lazy LLM, artefact + manifest, one report line; stage CLIs fail fast."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from reasonrec.cli import app
from reasonrec.cli.stage_run import StageRun
from reasonrec.config import Config
from reasonrec.llm.runner import RunSummary
from reasonrec.llm.testing import ScriptedLLM


class _Cfg(Config):
    seed: int = 7


def test_write_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = StageRun("stage test")
    run.__dict__["llm"] = ScriptedLLM()  # the cached property's slot: no model is built
    run.summaries.append(RunSummary(desc="x", prompts=3, cache_hits=2, failures=1))
    table = pl.DataFrame({"a": [1, 2]})
    path = run.write(tmp_path / "s", "things", table, _Cfg(), inputs=[])
    run.report(path, table, "; extra")
    assert pl.read_parquet(path).equals(table)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["command"] == "stage test" and manifest["llm"]["backend"] == "scripted"
    assert manifest["seeds"] == {"seed": 7}
    out = capsys.readouterr()
    assert out.out.strip() == f"wrote {path} (2 rows; 2 cache hits; 1 failures); extra"


@pytest.mark.parametrize("args", [
    ["reasoningrec", "describe", "--dataset", "no-such-data", "--out"],
    ["recsaver", "explain", "--dataset", "no-such-data", "--out"],
    ["exp3rt", "extract", "--dataset", "no-such-data", "--out"],
])
def test_stage_commands_fail_on_a_bad_dataset_before_loading_a_model(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [*args, str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().startswith("error: ") and "no-such-data" in result.stderr
    assert not (tmp_path / "o").exists()
