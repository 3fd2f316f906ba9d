"""Locating the real datasets from tests, and building renamed copies of them (importable as `datafiles`; conftest
modules may shadow each other)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("REASONREC_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def missing(msg: str) -> None:
    """Fail under CI (a green CI must mean the real files were read), skip locally."""
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def require_data(root: Path, *parts: str) -> Path:
    """Path under the data root; fail under CI / skip locally when that file is missing."""
    path = root.joinpath(*parts)
    if not path.exists():
        missing(f"missing data file {path}")
    return path


def writable_copy(src: Path, dst: Path, *, ignore: Callable[..., Iterable[str]] | None = None) -> Path:
    """`shutil.copytree` whose result is writable even when the shared data is read-only (as it is here)."""
    shutil.copytree(src, dst, ignore=ignore, copy_function=shutil.copyfile)
    for folder, _, _ in os.walk(dst):
        os.chmod(folder, 0o755)
    return dst


def category_release(shared_data: Path, dst_root: Path, domain: str = "fashion") -> Path:
    """Beauty's ReasoningRec release re-spelt the way the authors named their Fashion category, without raw reviews.

    `dst_root/reasoningrec-<domain>/` gets `user_profile_summary_wo_item_description.json` (and its
    `user_profile_summary_prompt_wo_item_description_dict.json`), `sample<K>_valsample800_lr1e-4_valauc` runs whose
    results.json is keyed by the domain, only the main fine-tuning variant, and no `raw/All_Beauty_5.json`.
    """
    src = require_data(shared_data, "reasoningrec-beauty")
    dst = writable_copy(src, dst_root / f"reasoningrec-{domain}", ignore=shutil.ignore_patterns("All_Beauty_5.json"))
    processed = dst / "processed"
    (processed / "user_profile_summary_wo_description.json").rename(
        processed / "user_profile_summary_wo_item_description.json")
    (processed / "user_profile_summary_wo_description_prompt_dict.json").rename(
        processed / "user_profile_summary_prompt_wo_item_description_dict.json")
    for variant in ("ablation_wo_desc", "ablation_wo_profile"):
        shutil.rmtree(dst / "finetune_data" / variant)
    outputs = dst / "student_reference_outputs"
    for run in sorted(outputs.iterdir()):
        renamed = run.rename(outputs / run.name.replace("valsample600", "valsample800"))
        results = renamed / "results.json"
        (by_seed,) = json.loads(results.read_text(encoding="utf-8"))["beauty"]["beauty"].values()
        results.write_text(json.dumps({domain: {domain: {renamed.name: by_seed}}}), encoding="utf-8")
    return dst
