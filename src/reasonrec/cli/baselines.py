"""`reasonrec baselines ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="baselines commands.", no_args_is_help=True)
