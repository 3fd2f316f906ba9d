"""Run directories: every run leaves its resolved config, versions, seeds and artefact hashes behind.

`manifest.json` makes a result auditable: which reasonrec and library versions produced it, from which
input files (sha256), with which seeds, and what it wrote (sha256 of every output file).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from reasonrec import __version__
from reasonrec.config import Config
from reasonrec.io import sha256_file, write_json

TRACKED_PACKAGES = (
    "polars", "pyarrow", "pydantic", "numpy", "scipy", "scikit-learn", "torch", "transformers",
    "peft", "trl", "accelerate", "cornac", "bert-score", "nltk", "rouge-score", "sacrebleu",
)


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def hash_files(paths: Iterable[str | Path], root: Path | None = None) -> dict[str, str]:
    """sha256 per file; keys relative to `root` when given. Directories are expanded recursively.

    Only for a command's own outputs (its run directory); inputs go through `hash_inputs`, which never walks.
    """
    out: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            if f.name == "manifest.json" or not f.exists():
                continue
            key = str(f.relative_to(root)) if root is not None and f.is_relative_to(root) else str(f)
            out[key] = sha256_file(f)
    return out


NOT_HASHED = "not hashed: not a regular file"


def hash_inputs(paths: Iterable[str | Path]) -> dict[str, str]:
    """sha256 of each input file a command was given, and nothing else.

    A directory is recorded by name only and never walked: walking an input folder (or the working directory,
    which is what an empty path means) would list and hash files the command never read, secrets included.
    Empty paths and missing files are left out.
    """
    out: dict[str, str] = {}
    for raw in paths:
        if not str(raw).strip():
            continue
        path = Path(raw)
        if path.is_file():
            out[str(path)] = sha256_file(path)
        elif path.exists():
            out[str(path)] = NOT_HASHED
    return out


def write_manifest(
    out_dir: str | Path,
    *,
    command: str,
    config: Config | None = None,
    seeds: dict[str, int] | None = None,
    inputs: Iterable[str | Path] = (),
    outputs: Iterable[str | Path] | None = None,
    extra: dict[str, Any] | None = None,
    started_at: float | None = None,
) -> Path:
    """Write `config.yaml` (resolved) and `manifest.json` into `out_dir`.

    `outputs=None` hashes every file in `out_dir` (except the manifest itself).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        config.save(out_dir / "config.yaml")
    output_paths = [out_dir] if outputs is None else list(outputs)
    manifest = {
        "reasonrec_version": __version__,
        "command": command,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "seeds": seeds or {},
        "started_at": started_at,
        "finished_at": time.time(),
        "inputs": hash_inputs(inputs),
        "outputs": hash_files(output_paths, root=out_dir),
        "config": config.model_dump(mode="json") if config is not None else None,
        **(extra or {}),
    }
    return write_json(out_dir / "manifest.json", manifest)
