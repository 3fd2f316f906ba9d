"""Checksummed, resumable downloads of the public datasets reasonrec can load.

Why this exists: the raw datasets are large (Amazon 2023 categories reach several GB), hosted on academic servers
that drop connections, and sometimes reachable only through a mirror. A download must therefore resume where it
stopped, never leave a half-written or corrupted file under its final name, and prove that the bytes are the ones
the loaders were written against.

Each file is fetched by `reasonrec.data.fetch` (resume with Range, retries, atomic rename after verification).
The expected hash is the one in the registry when it is known; otherwise the one recorded in `checksums.json`
beside the files by the first complete download (trust on first use).

Archives: MovieLens zips are extracted into the dataset folder with the archive's top-level folder stripped
(`ml-100k/u.data` -> `<data_root>/movielens-100k/u.data`, the layout the loaders read). Every extracted member is
hashed; members with a known hash (ML-100K `u.data`) are verified, the others recorded (trust on first use).
Amazon `.json.gz` / `.jsonl.gz` files are kept compressed, exactly as downloaded: the loaders read them through
gzip, and the stored bytes stay comparable with the publisher's. Every category of a release lands in one folder
(`amazon-2018/`, `amazon-2023/`); `data prepare amazon-2023 --set load.category=Books` reads one of them, and
`DownloadableDataset.prepare_command` is that line (with the papers' 5-core where the files are not one yet).

Mirror rule: every file URL is `<base_url><path>` where `base_url` is the publisher's root
(`https://files.grouplens.org/datasets/` or `https://datarepo.eng.ucsd.edu/mcauley_group/data/`) and `path` the
dataset path below it (`movielens/ml-100k.zip`, `amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz`,
`amazon_2023/raw/review_categories/All_Beauty.jsonl.gz`, ...). With a mirror `M` (`--mirror` or
`$REASONREC_MIRROR`) the URL becomes `M.rstrip('/') + '/' + path`: a mirror reproduces the publishers' paths under
one root.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from reasonrec.data.fetch import (
    CHECKSUMS_FILE,
    ChecksumError,
    DownloadError,
    FetchResult,
    RetryPolicy,
    checksum_record,
    extract_zip,
    fetch_file,
    load_checksums,
    move_aside,
    save_checksums,
)
from reasonrec.errors import DataError
from reasonrec.io import sha256_file
from reasonrec.paths import MIRROR_ENV

PAPERS_K_CORE = 5  # the papers' Amazon data: the published 5-core files (ReasoningRec, Rec-SAVER), k_core=5 (EXP3RT)
GROUPLENS_BASE = "https://files.grouplens.org/datasets/"
UCSD_MCAULEY_BASE = "https://datarepo.eng.ucsd.edu/mcauley_group/data/"
DEFAULT_RETRY = RetryPolicy()


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
        parts = ["reasonrec", "data", "prepare", self.loader, "--data-dir", str(data_root)]
        if self.category is not None:
            parts += ["--set", f"load.category={self.category}"]
        if self.k_core is not None:
            parts += ["--set", f"filters.k_core={self.k_core}"]
        folder = self.name.replace(":", "-")
        return shlex.join([*parts, "--out", f"prepared/{folder}"])


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


def _movielens(
    size: str, base_url: str, *, md5: str, description: str, members_sha256: dict[str, str] | None = None
) -> DownloadableDataset:
    """One GroupLens zip, `ml-<size>.zip`, unpacked without its top folder."""
    return DownloadableDataset(
        name=f"movielens-{size}",
        folder=f"movielens-{size}",
        files=(
            RemoteFile(
                base_url=base_url,
                path=f"movielens/ml-{size}.zip",
                sha256=None,  # GroupLens publishes only an MD5 of the zip
                md5=md5,
                extract=True,
                strip_prefix=f"ml-{size}/",
                members_sha256=members_sha256 or {},
            ),
        ),
        homepage=f"https://grouplens.org/datasets/movielens/{size}/",
        description=description,
        loader=f"movielens-{size}",
    )


def movielens_100k(base_url: str = GROUPLENS_BASE) -> DownloadableDataset:
    return _movielens(
        "100k",
        base_url,
        md5="0e33842e24a9c977be4e0107933c0723",
        description="MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (GroupLens).",
        members_sha256={"u.data": ML_100K_U_DATA_SHA256},
    )


def movielens_1m(base_url: str = GROUPLENS_BASE) -> DownloadableDataset:
    return _movielens(
        "1m",
        base_url,
        md5="c4d9eecfca2ab87c1945afe126590906",
        description="MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 movies (GroupLens).",
    )


@dataclass(frozen=True)
class AmazonRelease:
    """Where one Amazon release keeps a category's two files (paths with `{category}`), and what to say of it."""

    reviews: str
    meta: str
    homepage: str
    description: str
    categories: tuple[str, ...]
    k_core: int | None = None


AMAZON_RELEASES: Mapping[str, AmazonRelease] = {
    "2018": AmazonRelease(
        reviews="amazon_v2/categoryFilesSmall/{category}_5.json.gz",
        meta="amazon_v2/metaFiles2/meta_{category}.json.gz",
        homepage="https://nijianmo.github.io/amazon/",
        description="Amazon Review Data 2018, {category}: 5-core reviews and item metadata (Ni, Li, McAuley).",
        categories=AMAZON_2018_CATEGORIES,
    ),
    "2023": AmazonRelease(
        reviews="amazon_2023/raw/review_categories/{category}.jsonl.gz",
        meta="amazon_2023/raw/meta_categories/meta_{category}.jsonl.gz",
        homepage="https://amazon-reviews-2023.github.io/",
        description="Amazon Reviews 2023, {category}: reviews and item metadata (Hou et al.).",
        categories=AMAZON_2023_CATEGORIES,
        k_core=PAPERS_K_CORE,
    ),
}
"""Amazon Review Data 2018 (the 5-core files) and Amazon Reviews 2023 (all reviews), by release year."""


def amazon(release: str, category: str, base_url: str = UCSD_MCAULEY_BASE) -> DownloadableDataset:
    """One Amazon category of `release`: its reviews file and its item-metadata file (hashes unknown offline)."""
    spec = AMAZON_RELEASES[release]
    return DownloadableDataset(
        name=f"amazon-{release}:{category}",
        folder=f"amazon-{release}",
        files=(
            RemoteFile(base_url=base_url, path=spec.reviews.format(category=category), sha256=None),
            RemoteFile(base_url=base_url, path=spec.meta.format(category=category), sha256=None),
        ),
        homepage=spec.homepage,
        description=spec.description.format(category=category),
        loader=f"amazon-{release}",
        category=category,
        k_core=spec.k_core,
    )


def build_registry(
    grouplens_base: str = GROUPLENS_BASE, ucsd_base: str = UCSD_MCAULEY_BASE
) -> dict[str, DownloadableDataset]:
    """The registry as a fresh dict; tests build one pointing at a local server instead of mutating a global."""
    registry = {
        "movielens-100k": movielens_100k(grouplens_base),
        "movielens-1m": movielens_1m(grouplens_base),
    }
    for release, spec in AMAZON_RELEASES.items():
        for category in spec.categories:
            dataset = amazon(release, category, ucsd_base)
            registry[dataset.name] = dataset
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
    retry: RetryPolicy = DEFAULT_RETRY,
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
            records[remote.filename] = checksum_record(None, sha, dest.stat().st_size)
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
        records[remote.filename] = checksum_record(url, result.sha256, result.size)
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
            corrupt = move_aside(dest)
            records.pop(remote.filename, None)
            save_checksums(folder, records)
            raise ChecksumError(
                f"{exc.message}; the archive was moved aside to {corrupt.name}", path=corrupt, field=exc.field
            ) from exc
        for rel, (sha, size) in members.items():
            records[rel] = checksum_record(None, sha, size, archive=remote.filename)
            outcomes.append(FileOutcome(folder / rel, "extracted", sha))
        save_checksums(folder, records)
        if not keep_archives:
            dest.unlink()
    return outcomes


__all__ = ["CHECKSUMS_FILE", "DOWNLOADS", "MIRROR_ENV", "PAPERS_K_CORE", "ChecksumError", "DownloadError",
           "DownloadReport", "DownloadableDataset", "FetchResult", "FileOutcome", "RemoteFile", "RetryPolicy",
           "build_registry", "download_dataset", "extract_zip", "fetch_file", "load_checksums", "mirror_from_env",
           "resolve_dataset", "save_checksums"]
