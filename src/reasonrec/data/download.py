"""Checksummed, resumable downloads of the public datasets reasonrec can load.

Why this exists: the raw datasets are large (Amazon 2023 categories reach several GB), hosted on academic servers
that drop connections, and sometimes reachable only through a mirror. A download must therefore resume where it
stopped, never leave a half-written or corrupted file under its final name, and prove that the bytes are the ones
the loaders were written against.

Mechanics (one file):
  1. bytes stream into `<file>.part`; an existing `.part` is resumed with an HTTP `Range: bytes=N-` request.
     A server that ignores Range (answers 200) restarts the file from byte 0; a 206 whose start differs from N is
     treated the same way. Connection errors, cuts mid-body, 429 and 5xx are retried with exponential backoff,
     each retry resuming from what is already on disk. Other 4xx fail at once.
  2. the finished `.part` is hashed (sha256). The expected hash is the one in the registry when it is known;
     otherwise the one recorded in `checksums.json` beside the files by the first complete download
     (trust on first use). A mismatch moves the bytes aside to `<file>.corrupt` and raises `ChecksumError`;
     nothing is ever renamed to the final name unverified.
  3. the verified `.part` is renamed atomically onto the final name and its hash recorded.

Archives: MovieLens zips are extracted into the dataset folder with the archive's top-level folder stripped
(`ml-100k/u.data` -> `<data_root>/movielens-100k/u.data`, the layout the loaders read). Every extracted member is
hashed; members with a known hash (ML-100K `u.data`) are verified, the others recorded (trust on first use).
Amazon `.json.gz` / `.jsonl.gz` files are kept compressed, exactly as downloaded: the loaders read them through
gzip, and the stored bytes stay comparable with the publisher's.

Mirror rule: every file URL is `<base_url><path>` where `base_url` is the publisher's root
(`https://files.grouplens.org/datasets/` or `https://datarepo.eng.ucsd.edu/mcauley_group/data/`) and `path` the
dataset path below it (`movielens/ml-100k.zip`, `amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz`,
`amazon_2023/raw/review_categories/All_Beauty.jsonl.gz`, ...). With a mirror `M` (`--mirror` or
`$REASONREC_MIRROR`) the URL becomes `M.rstrip('/') + '/' + path`: a mirror reproduces the publishers' paths under
one root.
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
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from reasonrec.errors import DataError, ReasonrecError
from reasonrec.io import atomic_path, sha256_file, write_json

MIRROR_ENV = "REASONREC_MIRROR"
CHECKSUMS_FILE = "checksums.json"
PAPERS_K_CORE = 5  # the papers' Amazon data: the published 5-core files (ReasoningRec, Rec-SAVER), k_core=5 (EXP3RT)
GROUPLENS_BASE = "https://files.grouplens.org/datasets/"
UCSD_MCAULEY_BASE = "https://datarepo.eng.ucsd.edu/mcauley_group/data/"


# --------------------------------------------------------------------------------------------------- errors


class DownloadError(ReasonrecError):
    """The file could not be fetched (HTTP error, or network failures outlasting the retries)."""


class ChecksumError(DataError):
    """Bytes on disk or on the wire are not the expected ones; `path` names where the bad bytes now are."""


# ------------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset, as published.

    `sha256=None` means the hash is not known offline: the first complete download is trusted and recorded.
    `md5` is the publisher's own checksum where one is published (GroupLens ships `<zip>.md5`).
    `extract=True` marks a zip archive whose members are unpacked into the dataset folder after dropping
    `strip_prefix` (the archive's top-level folder); `members_sha256` holds known hashes of unpacked members.
    """

    base_url: str
    path: str
    sha256: str | None
    md5: str | None = None
    extract: bool = False
    strip_prefix: str = ""
    members_sha256: Mapping[str, str] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return PurePosixPath(self.path).name

    def url(self, mirror: str | None = None) -> str:
        """The publisher URL, or the same `path` under `mirror` (see the module docstring for the rule)."""
        base = mirror.rstrip("/") + "/" if mirror else self.base_url
        return base + self.path


@dataclass(frozen=True)
class DownloadableDataset:
    """A named download: the files and the folder under the data root they land in (the loaders' layout).

    `loader` is the dataset name `data prepare` reads the files with, `category` its `load.category`, and `k_core`
    the k-core filter the papers apply that the published files do not already satisfy (Amazon 2023 reviews: 5;
    the 2018 `*_5` files already are 5-cores)."""

    name: str
    folder: str
    files: tuple[RemoteFile, ...]
    homepage: str
    description: str
    loader: str | None = None
    category: str | None = None
    k_core: int | None = None

    def prepare_command(self, data_root: Path) -> str | None:
        """The `reasonrec data prepare` line for these files, with the papers' k-core where the files lack it."""
        if self.loader is None:
            return None
        parts = ["reasonrec data prepare", self.loader, "--data-dir", str(data_root)]
        if self.category is not None:
            parts += ["--set", f"load.category={self.category}"]
        if self.k_core is not None:
            parts += ["--set", f"filters.k_core={self.k_core}"]
        folder = self.name.replace(":", "-")
        return " ".join([*parts, "--out", f"prepared/{folder}"])


ML_100K_U_DATA_SHA256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"

# Category names as the publishers spell them in their file names.
AMAZON_2018_CATEGORIES: tuple[str, ...] = (
    "All_Beauty", "AMAZON_FASHION", "Appliances", "Arts_Crafts_and_Sewing", "Automotive", "Books",
    "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics",
    "Gift_Cards", "Grocery_and_Gourmet_Food", "Home_and_Kitchen", "Industrial_and_Scientific", "Kindle_Store",
    "Luxury_Beauty", "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Prime_Pantry", "Software", "Sports_and_Outdoors",
    "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games",
)  # fmt: skip
AMAZON_2023_CATEGORIES: tuple[str, ...] = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive", "Baby_Products",
    "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl", "Cell_Phones_and_Accessories",
    "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics", "Gift_Cards", "Grocery_and_Gourmet_Food",
    "Handmade_Products", "Health_and_Household", "Health_and_Personal_Care", "Home_and_Kitchen",
    "Industrial_and_Scientific", "Kindle_Store", "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments",
    "Office_Products", "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors",
    "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games", "Unknown",
)  # fmt: skip


def movielens_100k(base_url: str = GROUPLENS_BASE) -> DownloadableDataset:
    return DownloadableDataset(
        name="movielens-100k",
        folder="movielens-100k",
        files=(
            RemoteFile(
                base_url=base_url,
                path="movielens/ml-100k.zip",
                sha256=None,  # GroupLens publishes only an MD5 of the zip
                md5="0e33842e24a9c977be4e0107933c0723",
                extract=True,
                strip_prefix="ml-100k/",
                members_sha256={"u.data": ML_100K_U_DATA_SHA256},
            ),
        ),
        homepage="https://grouplens.org/datasets/movielens/100k/",
        description="MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (GroupLens).",
        loader="movielens-100k",
    )


def movielens_1m(base_url: str = GROUPLENS_BASE) -> DownloadableDataset:
    return DownloadableDataset(
        name="movielens-1m",
        folder="movielens-1m",
        files=(
            RemoteFile(
                base_url=base_url,
                path="movielens/ml-1m.zip",
                sha256=None,
                md5="c4d9eecfca2ab87c1945afe126590906",
                extract=True,
                strip_prefix="ml-1m/",
            ),
        ),
        homepage="https://grouplens.org/datasets/movielens/1m/",
        description="MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 movies (GroupLens).",
        loader="movielens-1m",
    )


def amazon_2018(category: str, base_url: str = UCSD_MCAULEY_BASE) -> DownloadableDataset:
    """Amazon Review Data (2018), 5-core reviews + item metadata of one category (hashes unknown offline)."""
    return DownloadableDataset(
        name=f"amazon-2018:{category}",
        folder="amazon-2018",
        files=(
            RemoteFile(
                base_url=base_url, path=f"amazon_v2/categoryFilesSmall/{category}_5.json.gz", sha256=None
            ),
            RemoteFile(base_url=base_url, path=f"amazon_v2/metaFiles2/meta_{category}.json.gz", sha256=None),
        ),
        homepage="https://nijianmo.github.io/amazon/",
        description=f"Amazon Review Data 2018, {category}: 5-core reviews and item metadata (Ni, Li, McAuley).",
        loader="amazon-2018",
        category=category,
    )


def amazon_2023(category: str, base_url: str = UCSD_MCAULEY_BASE) -> DownloadableDataset:
    """Amazon Reviews 2023, all reviews + item metadata of one category (hashes unknown offline)."""
    return DownloadableDataset(
        name=f"amazon-2023:{category}",
        folder="amazon-2023",
        files=(
            RemoteFile(
                base_url=base_url, path=f"amazon_2023/raw/review_categories/{category}.jsonl.gz", sha256=None
            ),
            RemoteFile(
                base_url=base_url,
                path=f"amazon_2023/raw/meta_categories/meta_{category}.jsonl.gz",
                sha256=None,
            ),
        ),
        homepage="https://amazon-reviews-2023.github.io/",
        description=f"Amazon Reviews 2023, {category}: reviews and item metadata (Hou et al.).",
        loader="amazon-2023",
        category=category,
        k_core=PAPERS_K_CORE,
    )


def build_registry(
    grouplens_base: str = GROUPLENS_BASE, ucsd_base: str = UCSD_MCAULEY_BASE
) -> dict[str, DownloadableDataset]:
    """The registry as a fresh dict; tests build one pointing at a local server instead of mutating a global."""
    registry = {
        "movielens-100k": movielens_100k(grouplens_base),
        "movielens-1m": movielens_1m(grouplens_base),
    }
    for category in AMAZON_2018_CATEGORIES:
        spec = amazon_2018(category, ucsd_base)
        registry[spec.name] = spec
    for category in AMAZON_2023_CATEGORIES:
        spec = amazon_2023(category, ucsd_base)
        registry[spec.name] = spec
    return registry


DOWNLOADS: Mapping[str, DownloadableDataset] = build_registry()
DEFAULT_AMAZON_CATEGORY = "All_Beauty"


def resolve_dataset(
    name: str, category: str | None = None, registry: Mapping[str, DownloadableDataset] = DOWNLOADS
) -> DownloadableDataset:
    """Look up `name` (`movielens-100k`, `amazon-2018` + category, or the full key `amazon-2018:All_Beauty`)."""
    key = name
    if ":" not in name and name.startswith("amazon-"):
        key = f"{name}:{category or DEFAULT_AMAZON_CATEGORY}"
    elif category is not None and ":" not in name:
        raise DownloadError(f"dataset {name!r} has no categories; drop --category")
    if key not in registry:
        families = sorted({k.split(":")[0] for k in registry})
        cats = sorted(k.split(":", 1)[1] for k in registry if k.startswith(key.split(":")[0] + ":"))
        hint = f" known categories: {', '.join(cats)}" if cats else f" known datasets: {', '.join(families)}"
        raise DownloadError(f"unknown download {key!r};{hint}")
    return registry[key]


def mirror_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """The mirror root from $REASONREC_MIRROR (empty means none)."""
    return environ.get(MIRROR_ENV) or None


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


def _record(url: str | None, sha256: str, size: int, **extra: Any) -> dict[str, Any]:
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


def _move_aside(path: Path) -> Path:
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
        corrupt = _move_aside(part)
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


# ------------------------------------------------------------------------------------------ dataset driver


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: `downloaded`, `resumed`, `verified` (already present and correct),
    `extracted` (archive member), `recorded` (present, no hash known before: trusted now)."""

    path: Path
    status: str
    sha256: str
    url: str | None = None


@dataclass(frozen=True)
class DownloadReport:
    dataset: str
    folder: Path
    files: tuple[FileOutcome, ...]


def _verify_existing(path: Path, expected: str | None, what: str) -> str:
    actual = sha256_file(path)
    if expected is not None and actual != expected.lower():
        raise ChecksumError(
            f"{what} on disk has sha256 {actual} but {expected} is expected; it was changed or corrupted after "
            "download. Delete it (or pass --force) to download it again.",
            path=path,
        )
    return actual


def _members_intact(
    folder: Path, remote: RemoteFile, records: Mapping[str, Mapping[str, Any]]
) -> list[FileOutcome] | None:
    """When every member of an (absent) archive is on disk and verified, their outcomes; None if any is missing."""
    names = {rel for rel, rec in records.items() if rec.get("archive") == remote.filename} | set(
        remote.members_sha256
    )
    if not names or any(not (folder / rel).exists() for rel in names):
        return None
    outcomes = []
    for rel in sorted(names):
        expected = remote.members_sha256.get(rel) or records.get(rel, {}).get("sha256")
        outcomes.append(FileOutcome(folder / rel, "verified", _verify_existing(folder / rel, expected, rel)))
    return outcomes


def download_dataset(
    spec: DownloadableDataset,
    data_root: Path,
    *,
    mirror: str | None = None,
    client: httpx.Client | None = None,
    retry: RetryPolicy = RetryPolicy(),
    force: bool = False,
    retrust: bool = False,
    keep_archives: bool = True,
    show_progress: bool = True,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadReport:
    """Fetch, verify and unpack every file of `spec` into `data_root / spec.folder`.

    Files already present are re-hashed and checked (against the registry hash or the recorded one) instead of
    downloaded again; `force` downloads anyway (still verified against what is known), `retrust` forgets the
    recorded hashes of this dataset's files first (accept a publisher's new version). `keep_archives=False`
    deletes a zip after a verified extraction; later runs then verify the extracted members instead.
    """
    folder = Path(data_root) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    records = load_checksums(folder)
    if retrust:
        owned = {f.filename for f in spec.files}
        records = {k: v for k, v in records.items() if k not in owned and v.get("archive") not in owned}
        save_checksums(folder, records)
    own_client = client is None
    if client is None:
        client = httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=120.0))
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show_progress,
        transient=True,
    )
    outcomes: list[FileOutcome] = []
    try:
        with progress:
            for remote in spec.files:
                outcomes.extend(
                    _download_one(
                        remote, folder, records, mirror, client, retry, force, keep_archives, progress, sleep
                    )
                )
    finally:
        if own_client:
            client.close()
    return DownloadReport(dataset=spec.name, folder=folder, files=tuple(outcomes))


def _download_one(
    remote: RemoteFile,
    folder: Path,
    records: dict[str, dict[str, Any]],
    mirror: str | None,
    client: httpx.Client,
    retry: RetryPolicy,
    force: bool,
    keep_archives: bool,
    progress: Progress,
    sleep: Callable[[float], None],
) -> list[FileOutcome]:
    dest = folder / remote.filename
    url = remote.url(mirror)
    expected = remote.sha256 or records.get(remote.filename, {}).get("sha256")
    outcomes: list[FileOutcome] = []

    if not force and not dest.exists() and remote.extract:
        intact = _members_intact(folder, remote, records)
        if intact is not None:
            return intact

    if dest.exists() and not force:
        sha = _verify_existing(dest, expected, dest.name)
        status = "verified" if expected else "recorded"
        if expected is None:
            records[remote.filename] = _record(None, sha, dest.stat().st_size)
            save_checksums(folder, records)
        outcomes.append(FileOutcome(dest, status, sha, url))
        if remote.extract:
            intact = _members_intact(folder, remote, records)
            if intact is not None:
                return outcomes + intact
    else:
        result = fetch_file(
            url,
            dest,
            expected_sha256=expected,
            expected_md5=remote.md5,
            client=client,
            retry=retry,
            progress=progress,
            sleep=sleep,
        )
        records[remote.filename] = _record(url, result.sha256, result.size)
        save_checksums(folder, records)
        outcomes.append(FileOutcome(dest, "resumed" if result.resumed else "downloaded", result.sha256, url))

    if remote.extract:
        known = dict(remote.members_sha256)
        for rel, rec in records.items():
            if rec.get("archive") == remote.filename and rel not in known:
                known[rel] = rec["sha256"]
        try:
            members = extract_zip(dest, folder, strip_prefix=remote.strip_prefix, expected=known)
        except DataError as exc:
            if (
                remote.sha256
            ):  # provably the publisher's bytes: keep the archive, the error says what is wrong
                raise
            # an archive trusted only on first use proved bad: neither it nor its record may pass as good
            corrupt = _move_aside(dest)
            records.pop(remote.filename, None)
            save_checksums(folder, records)
            raise ChecksumError(
                f"{exc.message}; the archive was moved aside to {corrupt.name}", path=corrupt, field=exc.field
            ) from exc
        for rel, (sha, size) in members.items():
            records[rel] = _record(None, sha, size, archive=remote.filename)
            outcomes.append(FileOutcome(folder / rel, "extracted", sha))
        save_checksums(folder, records)
        if not keep_archives:
            dest.unlink()
    return outcomes
