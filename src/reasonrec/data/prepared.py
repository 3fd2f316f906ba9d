"""A prepared directory is committed as a unit, and every reader checks it against its manifest.

`data prepare` writes all tables into a hidden sibling staging directory, writes `manifest.json` last, and only
then renames the staging directory onto OUT (an existing prepared OUT is first renamed aside, then removed). A
kill at any point therefore leaves the previous directory, the new one, or (between the two renames) none at
all — never new tables beside old splits. `verify_prepared` is the reader's half: a directory whose files do not
match the sha256 its manifest records (edited, copied in part, written by an older interrupted run) is refused
with one line naming the first file that differs.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import Any

from reasonrec.errors import ConfigError, DataError
from reasonrec.io import sha256_file

MANIFEST = "manifest.json"
TABLE_FILES = ("interactions.parquet", "items.parquet", "users.parquet")
SPLITS_DIR = "splits"
STAGING_MARK = ".staging-"
REPLACED_MARK = ".replaced-"
RERUN = "run `reasonrec data prepare` again"


def _sibling_prefix(out: Path, mark: str) -> str:
    return f".{out.name}{mark}"


def _is_prepared(path: Path) -> bool:
    return (path / MANIFEST).is_file() or (path / TABLE_FILES[0]).is_file()


def check_replaceable(out: Path) -> None:
    """Refuse an OUT that is a file, or a non-empty directory that `data prepare` did not write."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory; choose a new or empty directory as --out")
    if any(out.iterdir()) and not _is_prepared(out):
        raise ConfigError(
            f"{out}: exists, is not empty and is not a prepared directory; refusing to replace it "
            f"(choose a new or empty directory as --out)"
        )


def remove_stale_siblings(out: Path) -> None:
    """Staging or replaced copies that a killed earlier run left beside OUT."""
    parent = out.parent
    if not parent.is_dir():
        return
    prefixes = (_sibling_prefix(out, STAGING_MARK), _sibling_prefix(out, REPLACED_MARK))
    for entry in parent.iterdir():
        if entry.name.startswith(prefixes) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _fresh_sibling(out: Path, mark: str) -> Path:
    """A new hidden directory beside OUT (same filesystem, so renames are atomic; mode from the umask)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = out.parent / f"{_sibling_prefix(out, mark)}{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def staging_dir(out: Path) -> Path:
    return _fresh_sibling(out, STAGING_MARK)


def commit(staging: Path, out: Path) -> None:
    """Move the finished staging directory onto OUT; an existing prepared OUT is swapped out and removed."""
    check_replaceable(out)
    if not out.exists():
        staging.rename(out)
        return
    aside = _fresh_sibling(out, REPLACED_MARK)
    out.rename(aside / out.name)
    staging.rename(out)
    shutil.rmtree(aside, ignore_errors=True)


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise DataError(f"not a prepared directory ({MANIFEST} missing); {RERUN}", path=root)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"unreadable manifest ({exc}); {RERUN}", path=path) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("outputs"), dict):
        raise DataError(f"manifest has no 'outputs' table; {RERUN}", path=path)
    return manifest


def _table_files(root: Path) -> list[str]:
    names = [name for name in TABLE_FILES if (root / name).exists()]
    splits = root / SPLITS_DIR
    if splits.is_dir():
        names += [f"{SPLITS_DIR}/{p.name}" for p in sorted(splits.iterdir()) if p.suffix == ".parquet"]
    return names


def verify_prepared(prepared_dir: str | Path) -> dict[str, Any]:
    """The manifest of a prepared directory whose files all match it; a DataError naming the first mismatch.

    Checked: the manifest exists; every output it lists exists with the recorded sha256; every table file in
    the directory (top-level tables and `splits/*.parquet`) is one the manifest lists.
    """
    root = Path(prepared_dir)
    if not root.is_dir():
        raise DataError(f"not a directory; {RERUN}", path=root)
    manifest = _read_manifest(root)
    outputs: dict[str, str] = manifest["outputs"]
    for name in _table_files(root):
        if name not in outputs:
            raise DataError(f"{name} is not recorded in {MANIFEST} (a mixed or edited directory); {RERUN}",
                            path=root)
    if TABLE_FILES[0] not in outputs:
        raise DataError(f"{MANIFEST} lists no {TABLE_FILES[0]}: not a prepared directory; {RERUN}", path=root)
    resolved_root = root.resolve()
    for name, digest in outputs.items():
        path = root / name
        if Path(name).is_absolute() or not path.resolve().is_relative_to(resolved_root):
            raise DataError(f"{MANIFEST} lists {name!r}, outside the directory; {RERUN}", path=root)
        if not path.is_file():
            raise DataError(f"{name} is listed in {MANIFEST} but missing; {RERUN}", path=root)
        if sha256_file(path) != digest:
            raise DataError(f"{name} does not match the sha256 in {MANIFEST} (a mixed or edited directory); "
                            f"{RERUN}", path=root)
    return manifest
