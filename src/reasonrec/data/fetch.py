"""Fetching one file: resumable, retried, checksummed, never renamed to its final name unverified.

Mechanics:
  1. bytes stream into `<file>.part`; an existing `.part` is resumed with an HTTP `Range: bytes=N-` request.
     A server that ignores Range (answers 200) restarts the file from byte 0; a 206 whose start differs from N is
     treated the same way. Connection errors, cuts mid-body, 429 and 5xx are retried with exponential backoff,
     each retry resuming from what is already on disk. Other 4xx fail at once.
  2. the finished `.part` is hashed (sha256, and md5 where the publisher gives one) and compared with what is
     expected. A mismatch moves the bytes aside to `<file>.corrupt` and raises `ChecksumError`.
  3. the verified `.part` is renamed atomically onto the final name.

`checksums.json` beside the files records each file's hash (trust on first use where no hash is known offline);
zip members are extracted atomically, each hashed, and an archive member escaping its folder is refused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import httpx
from rich.progress import Progress, TaskID

from reasonrec.errors import DataError, ReasonrecError
from reasonrec.io import atomic_path, write_json

CHECKSUMS_FILE = "checksums.json"

# --------------------------------------------------------------------------------------------------- errors


class DownloadError(ReasonrecError):
    """The file could not be fetched (HTTP error, or network failures outlasting the retries)."""


class ChecksumError(DataError):
    """Bytes on disk or on the wire are not the expected ones; `path` names where the bad bytes now are."""


# ------------------------------------------------------------------------------------------- checksum records


def load_checksums(folder: Path) -> dict[str, dict[str, Any]]:
    """Recorded hashes of files in `folder` (relative path -> {sha256, size, url, ...}); empty when none yet."""
    path = folder / CHECKSUMS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"unreadable checksum record ({exc}); fix or delete it", path=path) from exc
    return files


def save_checksums(folder: Path, files: Mapping[str, Mapping[str, Any]]) -> None:
    write_json(folder / CHECKSUMS_FILE, {"version": 1, "files": dict(sorted(files.items()))})


def checksum_record(url: str | None, sha256: str, size: int, **extra: Any) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    entry: dict[str, Any] = {"sha256": sha256, "size": size, "recorded_at": now}
    if url is not None:
        entry["url"] = url
    entry.update(extra)
    return entry


# --------------------------------------------------------------------------------------------------- fetch


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` requests in total, sleeping `backoff_seconds * 2**k` (capped) between them."""

    attempts: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.backoff_seconds * (2 ** (failures - 1)), self.max_backoff_seconds)


class _Retryable(Exception):
    """A transient failure: the next attempt resumes from the bytes on disk."""


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """(start, total) from `bytes start-end/total`; None when absent or malformed."""
    if not value:
        return None
    match = _CONTENT_RANGE.match(value.strip())
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _stream_once(
    client: httpx.Client, url: str, part: Path, progress: Progress, task: TaskID
) -> Literal["fresh", "resumed"]:
    """One GET into `part`, resuming when it already holds bytes. Raises `_Retryable` for transient trouble."""
    offset = part.stat().st_size if part.exists() else 0
    # identity: a transparently gzip-encoded body would break both byte offsets and the stored hash
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with client.stream("GET", url, headers=headers) as response:
        status = response.status_code
        if status == 416 and offset:
            # our partial file is at least as long as the resource: complete if the lengths agree, else stale
            remote_size = (response.headers.get("content-range") or "").rpartition("/")[2]
            if remote_size.isdigit() and int(remote_size) == offset:
                return "resumed"
            part.unlink()
            raise _Retryable(f"partial file longer than the remote one ({offset} bytes); restarting")
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status} from {url}")
        if status >= 400:
            raise DownloadError(f"HTTP {status} for {url}")
        mode = "wb"
        mode_name: Literal["fresh", "resumed"] = "fresh"
        total: int | None = None
        if status == 206 and offset:
            content_range = _parse_content_range(response.headers.get("content-range"))
            if content_range is not None and content_range[0] == offset:
                mode, mode_name = "ab", "resumed"
                total = content_range[1]
            # a 206 starting elsewhere cannot be appended: fall through and rewrite the whole file
            # (only valid when it starts at 0; otherwise drop the partial and retry cleanly)
            elif content_range is None or content_range[0] != 0:
                part.unlink()
                raise _Retryable(f"server answered Range bytes={offset}- with {content_range}; restarting")
        if mode == "wb":
            offset = 0
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
        progress.update(task, total=total, completed=offset)
        with part.open(mode) as fh:
            try:
                # no chunk_size: httpx's rechunking buffer would drop the bytes it holds when the line is cut
                for chunk in response.iter_raw():
                    fh.write(chunk)
                    progress.advance(task, len(chunk))
            except (httpx.TransportError, httpx.StreamError) as exc:
                raise _Retryable(f"connection lost after {fh.tell()} bytes: {exc}") from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise _Retryable(f"got {size} of {total} bytes")
    return mode_name


def _hashes(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def move_aside(path: Path) -> Path:
    corrupt = path.with_name(path.name.removesuffix(".part") + ".corrupt")
    os.replace(path, corrupt)
    return corrupt


@dataclass(frozen=True)
class FetchResult:
    path: Path
    url: str
    sha256: str
    size: int
    resumed: bool
    attempts: int


def fetch_file(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None,
    expected_md5: str | None = None,
    client: httpx.Client,
    retry: RetryPolicy = RetryPolicy(),
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Download `url` to `dest` via `dest.part` (resumable), verify, then rename atomically.

    Verification uses `expected_sha256` (and `expected_md5` when given); with neither, the bytes are accepted
    and the caller records the returned hash (trust on first use). On a mismatch the bytes are moved to
    `<dest>.corrupt` and `ChecksumError` is raised: `dest` is never created from unverified bytes.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    own_progress = progress is None
    progress = progress or Progress(disable=True)
    task = progress.add_task(dest.name, total=None)
    resumed = False
    failures = 0
    attempt = 0
    try:
        while True:
            attempt += 1
            try:
                resumed |= _stream_once(client, url, part, progress, task) == "resumed"
                break
            except (_Retryable, httpx.TransportError) as exc:
                failures += 1
                if failures >= retry.attempts:
                    raise DownloadError(
                        f"giving up on {url} after {failures} failed attempts "
                        f"({part.stat().st_size if part.exists() else 0} bytes kept in {part} for a later resume): "
                        f"{exc}"
                    ) from exc
                sleep(retry.delay(failures))
    finally:
        progress.update(task, visible=False)
        if own_progress:
            progress.stop()

    sha256, md5 = _hashes(part)
    size = part.stat().st_size
    problems = []
    if expected_sha256 is not None and sha256 != expected_sha256.lower():
        problems.append(f"sha256 {sha256} != expected {expected_sha256}")
    if expected_md5 is not None and md5 != expected_md5.lower():
        problems.append(f"md5 {md5} != publisher's {expected_md5}")
    if problems:
        corrupt = move_aside(part)
        raise ChecksumError(
            f"checksum mismatch for {url} ({'; '.join(problems)}); the bytes were moved aside to "
            f"{corrupt.name} and {dest.name} was not written. Retry; if the publisher really changed the file, "
            "re-run with --retrust to accept the new version.",
            path=corrupt,
        )
    os.replace(part, dest)
    return FetchResult(path=dest, url=url, sha256=sha256, size=size, resumed=resumed, attempts=attempt)


# --------------------------------------------------------------------------------------------- extraction


def _member_target(name: str, strip_prefix: str) -> str | None:
    """Relative path of a zip member after stripping the top folder; None for entries to skip; rejects escapes."""
    if name.endswith("/") or name.startswith("__MACOSX/"):
        return None
    if strip_prefix and name.startswith(strip_prefix):
        name = name[len(strip_prefix) :]
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in name:
        raise DataError(f"unsafe path in archive: {name!r}", field="zip member")
    return rel.as_posix()


def extract_zip(
    archive: Path,
    folder: Path,
    *,
    strip_prefix: str,
    expected: Mapping[str, str],
) -> dict[str, tuple[str, int]]:
    """Unpack `archive` into `folder`, each member written atomically and hashed; returns rel path -> (sha, size).

    A member whose hash differs from `expected` raises `ChecksumError` and is not left in `folder`.
    """
    written: dict[str, tuple[str, int]] = {}
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a valid zip archive: {exc}", path=archive) from exc
    with zf:
        for info in zf.infolist():
            rel = _member_target(info.filename, strip_prefix)
            if rel is None:
                continue
            target = folder / rel
            digest = hashlib.sha256()
            with atomic_path(target) as tmp:
                with zf.open(info) as src, tmp.open("wb") as out:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
                sha = digest.hexdigest()
                want = expected.get(rel)
                if want is not None and sha != want.lower():
                    raise ChecksumError(
                        f"member {info.filename} of {archive.name} has sha256 {sha}, expected {want}; not extracted",
                        path=archive,
                        field=rel,
                    )
            written[rel] = (sha, info.file_size)
    return written


__all__ = ["CHECKSUMS_FILE", "ChecksumError", "DownloadError", "FetchResult", "RetryPolicy", "checksum_record",
           "extract_zip", "fetch_file", "load_checksums", "move_aside", "save_checksums"]
