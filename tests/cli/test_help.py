"""Every command explains itself with a usage example, and `--help` loads none of the heavy stacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import typer
from typer.testing import CliRunner

from reasonrec.cli import app

HEAVY = ("torch", "transformers", "polars", "sklearn", "matplotlib", "scipy", "peft", "trl", "httpx")


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            out += _commands(command, (*path, name))
        else:
            out.append((*path, name))
    return out


def test_every_help_shows_a_usage_example() -> None:
    paths = _commands(typer.main.get_command(app))
    assert ("reasoningrec", "describe") in paths and ("stage",) not in paths
    runner = CliRunner()
    missing = []
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        if "Example" not in result.output:
            missing.append(" ".join(path) or "reasonrec")
    assert not missing, f"--help without a usage example: {missing}"


def test_help_imports_no_heavy_stack() -> None:
    """`reasonrec --help` and a command's --help in a fresh interpreter: the heavy stacks stay unloaded."""
    probe = ("import json, sys\nfrom reasonrec.cli import app\nsys.argv = ['reasonrec', *sys.argv[1:]]\n"
             "try:\n    app()\nexcept SystemExit:\n    pass\n"
             f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)), file=sys.stderr)\n")
    for args in (["--help"], ["reproduce", "reasoningrec", "--help"], ["eval", "predictions", "--help"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ}, check=False)
        assert done.returncode == 0, done.stderr
        assert "Usage" in done.stdout
        assert json.loads(done.stderr.strip().splitlines()[-1]) == [], args
