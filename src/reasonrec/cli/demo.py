"""`reasonrec demo`: the main job end-to-end on the embedded defaults (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    data_dir: Path = typer.Option(None, "--data-dir", help="Root of the datasets (default: $REASONREC_DATA_DIR)."),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory to write."),
) -> None:
    """Prepare MovieLens-100K and print its summary and split statistics."""
    from reasonrec.cli.data import prepare_and_describe

    prepare_and_describe("movielens-100k", data_dir=data_dir, out=out)
