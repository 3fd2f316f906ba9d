"""Downloads against a REAL HTTP server on 127.0.0.1 serving files built from the shared data.

The server (stdlib `http.server` in a thread) supports Range and can misbehave on purpose: cut the connection
after N bytes, ignore Range, answer 503, serve different bytes. Registries are built per test and passed in.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shlex
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import httpx
import polars as pl
import pytest
import typer
import yaml
from datafiles import require_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reasonrec.cli import app as reasonrec_app
from reasonrec.cli.data_download import make_download_command
from reasonrec.data.download import (
    CHECKSUMS_FILE,
    ML_100K_U_DATA_SHA256,
    PAPERS_K_CORE,
    ChecksumError,
    DownloadableDataset,
    DownloadError,
    RemoteFile,
    RetryPolicy,
    build_registry,
    download_dataset,
    fetch_file,
    load_checksums,
    movielens_100k,
    resolve_dataset,
)
from reasonrec.errors import DataError
from reasonrec.methods.exp3rt.recipe import Exp3rtConfig
from reasonrec.methods.recsaver.recipe import RecSaverConfig

NO_WAIT = RetryPolicy(attempts=4, backoff_seconds=0.0)


# ------------------------------------------------------------------------------------------- test server


@dataclass
class ServerState:
    """What the server serves and how it misbehaves; requests are logged as (path, Range header, status)."""

    files: dict[str, bytes] = field(default_factory=dict)
    # path -> bytes sent before closing the connection (first GET only)
    cut_after: dict[str, int] = field(default_factory=dict)
    ignore_range: set[str] = field(default_factory=set)
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> number of 503 answers before serving
    log: list[tuple[str, str | None, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler_for(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            path = self.path
            range_header = self.headers.get("Range")
            with state.lock:
                if state.fail_first.get(path, 0) > 0:
                    state.fail_first[path] -= 1
                    state.log.append((path, range_header, 503))
                    self._reply(503, b"busy")
                    return
                body = state.files.get(path)
                cut = state.cut_after.pop(path, None)
            if body is None:
                state.log.append((path, range_header, 404))
                self._reply(404, b"not found")
                return
            start = 0
            if range_header and path not in state.ignore_range:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    state.log.append((path, range_header, 416))
                    self._reply(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                    return
            status = 206 if start else 200
            state.log.append((path, range_header, status))
            payload = body[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if cut is not None:
                self.wfile.write(payload[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class LocalServer:
    def __init__(self) -> None:
        self.state = ServerState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def ml100k_zip(shared_data: Path) -> bytes:
    """The shared MovieLens-100K files zipped in GroupLens' layout (`ml-100k/u.data`, ...)."""
    folder = require_data(shared_data, "movielens-100k", "u.data").parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/", "")
        for path in sorted(folder.iterdir()):
            zf.write(path, f"ml-100k/{path.name}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def beauty_gz(shared_data: Path) -> bytes:
    raw = require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json").read_bytes()
    return gzip.compress(raw, mtime=0)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ml100k_spec(base: str, zip_sha256: str | None = None) -> DownloadableDataset:
    """The real ML-100K entry re-pointed at the local server; its zip MD5 is GroupLens', so drop it."""
    real = movielens_100k(base)
    (remote,) = real.files
    local = RemoteFile(
        base_url=base,
        path=remote.path,
        sha256=zip_sha256,
        extract=True,
        strip_prefix=remote.strip_prefix,
        members_sha256=remote.members_sha256,
    )
    return DownloadableDataset(real.name, real.folder, (local,), real.homepage, real.description)


def _single_file_spec(base: str, path: str, sha256: str | None) -> DownloadableDataset:
    return DownloadableDataset(
        "test-file", "test-file", (RemoteFile(base_url=base, path=path, sha256=sha256),), "-", "test"
    )


# ----------------------------------------------------------------------------------------------- tests


def test_clean_download_verifies_extracts_and_loads(
    server: LocalServer, ml100k_zip: bytes, tmp_path: Path
) -> None:
    server.state.files["/movielens/ml-100k.zip"] = ml100k_zip
    spec = _ml100k_spec(server.base, zip_sha256=_sha(ml100k_zip))

    report = download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)

    u_data = tmp_path / "movielens-100k" / "u.data"
    ratings = pl.read_csv(
        u_data, separator="\t", has_header=False, new_columns=["user", "item", "rating", "ts"]
    )
    assert ratings.height == 100_000
    assert ratings["user"].n_unique() == 943
    statuses = {o.path.name: o.status for o in report.files}
    assert statuses["ml-100k.zip"] == "downloaded"
    assert statuses["u.item"] == "extracted"
    assert not (tmp_path / "movielens-100k" / "ml-100k").exists()  # top folder stripped
    records = load_checksums(tmp_path / "movielens-100k")
    assert records["u.data"]["sha256"] == ML_100K_U_DATA_SHA256
    assert records["ml-100k.zip"]["sha256"] == _sha(ml100k_zip)
    assert not list((tmp_path / "movielens-100k").glob("*.part"))

    # a second run verifies instead of downloading
    again = download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)
    assert {o.status for o in again.files} == {"verified"}
    assert len(server.state.log) == 1


def test_deleted_archive_then_members_are_verified(
    server: LocalServer, ml100k_zip: bytes, tmp_path: Path
) -> None:
    server.state.files["/movielens/ml-100k.zip"] = ml100k_zip
    spec = _ml100k_spec(server.base)
    download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False, keep_archives=False)
    assert not (tmp_path / "movielens-100k" / "ml-100k.zip").exists()
    (tmp_path / "movielens-100k" / "u.item").write_text("tampered")
    with pytest.raises(ChecksumError, match="u.item"):
        download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)
    assert len(server.state.log) == 1


def test_hash_mismatch_is_an_error_and_leaves_no_final_file(
    server: LocalServer, ml100k_zip: bytes, tmp_path: Path
) -> None:
    wrong = bytearray(ml100k_zip)
    wrong[len(wrong) // 2] ^= 0xFF
    server.state.files["/movielens/ml-100k.zip"] = bytes(wrong)
    spec = _ml100k_spec(server.base, zip_sha256=_sha(ml100k_zip))

    with pytest.raises(ChecksumError, match="checksum mismatch") as info:
        download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)

    folder = tmp_path / "movielens-100k"
    assert not (folder / "ml-100k.zip").exists()
    assert not (folder / "ml-100k.zip.part").exists()
    assert not (folder / "u.data").exists()
    assert (folder / "ml-100k.zip.corrupt").read_bytes() == bytes(wrong)
    assert info.value.path == str(folder / "ml-100k.zip.corrupt")


def test_corrupted_member_with_known_hash_is_not_extracted(server: LocalServer, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t0\n")
    server.state.files["/movielens/ml-100k.zip"] = buffer.getvalue()
    with pytest.raises(ChecksumError, match="u.data"):
        download_dataset(_ml100k_spec(server.base), tmp_path, retry=NO_WAIT, show_progress=False)
    folder = tmp_path / "movielens-100k"
    assert not (folder / "u.data").exists()
    assert not list(folder.glob(".u.data.*"))
    # the zip was only trusted on first use: it is moved aside and forgotten, not kept as good
    assert not (folder / "ml-100k.zip").exists()
    assert (folder / "ml-100k.zip.corrupt").exists()
    assert "ml-100k.zip" not in load_checksums(folder)


def test_connection_cut_resumes_with_range(server: LocalServer, ml100k_zip: bytes, tmp_path: Path) -> None:
    cut = len(ml100k_zip) // 3
    server.state.files["/movielens/ml-100k.zip"] = ml100k_zip
    server.state.cut_after["/movielens/ml-100k.zip"] = cut
    spec = _ml100k_spec(server.base, zip_sha256=_sha(ml100k_zip))

    report = download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)

    assert (tmp_path / "movielens-100k" / "ml-100k.zip").read_bytes() == ml100k_zip
    assert report.files[0].status == "resumed"
    assert server.state.log == [
        ("/movielens/ml-100k.zip", None, 200),
        ("/movielens/ml-100k.zip", f"bytes={cut}-", 206),
    ]
    assert (tmp_path / "movielens-100k" / "u.data").exists()


def test_server_ignoring_range_restarts_cleanly(
    server: LocalServer, beauty_gz: bytes, tmp_path: Path
) -> None:
    path = "/amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz"
    server.state.files[path] = beauty_gz
    server.state.ignore_range.add(path)
    server.state.cut_after[path] = 100_000
    spec = _single_file_spec(server.base, path.lstrip("/"), _sha(beauty_gz))

    download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)

    assert (tmp_path / "test-file" / "All_Beauty_5.json.gz").read_bytes() == beauty_gz
    assert server.state.log == [(path, None, 200), (path, "bytes=100000-", 200)]


def test_stale_partial_file_is_overwritten_when_range_is_ignored(server: LocalServer, tmp_path: Path) -> None:
    body = b"the real content " * 100
    server.state.files["/f.bin"] = body
    server.state.ignore_range.add("/f.bin")
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(b"JUNK" * 50)
    with httpx.Client() as client:
        result = fetch_file(
            server.base + "f.bin", dest, expected_sha256=_sha(body), client=client, retry=NO_WAIT
        )
    assert dest.read_bytes() == body
    assert not result.resumed


def test_503_is_retried_and_404_is_not(server: LocalServer, tmp_path: Path) -> None:
    server.state.files["/f.bin"] = b"payload"
    server.state.fail_first["/f.bin"] = 2
    waits: list[float] = []
    with httpx.Client() as client:
        fetch_file(
            server.base + "f.bin",
            tmp_path / "f.bin",
            expected_sha256=_sha(b"payload"),
            client=client,
            retry=RetryPolicy(attempts=4, backoff_seconds=0.5),
            sleep=waits.append,
        )
        assert (tmp_path / "f.bin").read_bytes() == b"payload"
        assert waits == [0.5, 1.0]  # exponential backoff
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch_file(
                server.base + "missing", tmp_path / "m", expected_sha256=None, client=client, retry=NO_WAIT
            )
    assert [s for _, _, s in server.state.log] == [503, 503, 200, 404]


def test_mirror_from_env_var_through_cli(server: LocalServer, beauty_gz: bytes, tmp_path: Path) -> None:
    """The real registry, with $REASONREC_MIRROR pointing at the local server (a sub-path, like a real mirror)."""
    meta = gzip.compress(b'{"asin": "B0001", "title": "x"}\n', mtime=0)
    server.state.files["/mirror/amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz"] = beauty_gz
    server.state.files["/mirror/amazon_v2/metaFiles2/meta_All_Beauty.json.gz"] = meta
    app = typer.Typer()
    app.command("download")(make_download_command(build_registry()))
    app.command("noop")(lambda: None)  # a second command keeps `download` a subcommand

    result = CliRunner().invoke(
        app,
        ["download", "amazon-2018", "--category", "All_Beauty", "--data-dir", str(tmp_path), "--no-progress"],
        env={"REASONREC_MIRROR": server.base + "mirror"},
    )

    assert result.exit_code == 0, result.output
    folder = tmp_path / "amazon-2018"
    assert (folder / "All_Beauty_5.json.gz").read_bytes() == beauty_gz
    assert gzip.decompress((folder / "meta_All_Beauty.json.gz").read_bytes()).startswith(b'{"asin"')
    assert [p for p, _, _ in server.state.log] == [
        "/mirror/amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz",
        "/mirror/amazon_v2/metaFiles2/meta_All_Beauty.json.gz",
    ]
    records = json.loads((folder / CHECKSUMS_FILE).read_text())["files"]
    assert records["All_Beauty_5.json.gz"]["sha256"] == _sha(beauty_gz)
    assert records["All_Beauty_5.json.gz"]["url"].startswith(server.base + "mirror/amazon_v2/")
    # the file really is the Beauty 5-core: 5,269 reviews, one JSON object per line
    assert (
        len(gzip.decompress(beauty_gz).splitlines())
        == pl.read_ndjson(io.BytesIO(gzip.decompress(beauty_gz))).height
    )


def test_cli_reports_checksum_errors_with_exit_code(server: LocalServer, tmp_path: Path) -> None:
    server.state.files["/f.bin"] = b"bad"
    registry = {"test-file": _single_file_spec(server.base, "f.bin", _sha(b"good"))}
    app = typer.Typer()
    app.command("download")(make_download_command(registry))
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(
        app, ["download", "test-file", "--data-dir", str(tmp_path), "--no-progress", "--retries", "1"]
    )
    assert result.exit_code == 1
    assert "checksum mismatch" in result.output
    assert not (tmp_path / "test-file" / "f.bin").exists()


def test_trust_on_first_use_records_then_detects_changes(server: LocalServer, tmp_path: Path) -> None:
    server.state.files["/data/v.jsonl.gz"] = b"version one"
    spec = _single_file_spec(server.base, "data/v.jsonl.gz", sha256=None)
    folder = tmp_path / "test-file"

    first = download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)
    assert first.files[0].status == "downloaded"
    assert load_checksums(folder)["v.jsonl.gz"]["sha256"] == _sha(b"version one")

    # the publisher's file changes: a forced re-download is caught, the good local file is kept
    server.state.files["/data/v.jsonl.gz"] = b"version two"
    with pytest.raises(ChecksumError, match="--retrust"):
        download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False, force=True)
    assert (folder / "v.jsonl.gz").read_bytes() == b"version one"
    assert (folder / "v.jsonl.gz.corrupt").read_bytes() == b"version two"

    # the local file changes: the next run says so instead of trusting it
    (folder / "v.jsonl.gz").write_bytes(b"edited")
    with pytest.raises(ChecksumError, match="changed or corrupted"):
        download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False)

    # --retrust accepts the publisher's new version
    download_dataset(spec, tmp_path, retry=NO_WAIT, show_progress=False, force=True, retrust=True)
    assert (folder / "v.jsonl.gz").read_bytes() == b"version two"
    assert load_checksums(folder)["v.jsonl.gz"]["sha256"] == _sha(b"version two")


def test_registry_urls_and_mirror_rule() -> None:
    registry = build_registry()
    ml = registry["movielens-100k"].files[0]
    assert ml.url() == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert (
        registry["movielens-1m"].files[0].url() == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    )
    review, meta = resolve_dataset("amazon-2018", "All_Beauty", registry).files
    assert review.url() == (
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz"
    )
    assert (
        meta.url("https://m.example/ds/")
        == "https://m.example/ds/amazon_v2/metaFiles2/meta_All_Beauty.json.gz"
    )
    review23, meta23 = resolve_dataset("amazon-2023:All_Beauty", None, registry).files
    assert review23.url("http://m") == "http://m/amazon_2023/raw/review_categories/All_Beauty.jsonl.gz"
    assert meta23.url() == (
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw/meta_categories/meta_All_Beauty.jsonl.gz"
    )
    assert ml.sha256 is None and ml.members_sha256["u.data"] == ML_100K_U_DATA_SHA256
    with pytest.raises(DownloadError, match="known categories"):
        resolve_dataset("amazon-2018", "Not_A_Category", registry)


def test_zip_with_escaping_member_is_rejected(server: LocalServer, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ml-100k/../../evil.txt", "x")
    server.state.files["/movielens/ml-100k.zip"] = buffer.getvalue()
    with pytest.raises(DataError, match="unsafe path"):
        download_dataset(_ml100k_spec(server.base), tmp_path, retry=NO_WAIT, show_progress=False)
    assert not (tmp_path / "evil.txt").exists()


@pytest.fixture(scope="module")
def module_server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def plain_client() -> Iterator[httpx.Client]:
    """One client for many examples: building its TLS context costs ~0.2 s each time."""
    with httpx.Client() as client:
        yield client


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(min_size=2, max_size=5000), data=st.data())
def test_resume_from_any_cut_point_gives_the_exact_bytes(
    module_server: LocalServer,
    plain_client: httpx.Client,
    tmp_path_factory: pytest.TempPathFactory,
    body: bytes,
    data: st.DataObject,
) -> None:
    cut = data.draw(st.integers(min_value=1, max_value=len(body) - 1))
    tmp = tmp_path_factory.mktemp("resume")
    path = f"/b/{tmp.name}"
    module_server.state.files[path] = body
    module_server.state.cut_after[path] = cut
    result = fetch_file(
        module_server.base + path[1:],
        tmp / "b",
        expected_sha256=_sha(body),
        client=plain_client,
        retry=NO_WAIT,
    )
    assert (tmp / "b").read_bytes() == body
    assert result.resumed
    assert [entry for entry in module_server.state.log if entry[0] == path] == [
        (path, None, 200),
        (path, f"bytes={cut}-", 206),
    ]


# ------------------------------------------------------- Amazon categories: download → prepare, end to end

CATEGORIES = ("Toys_and_Games", "Video_Games")
N_USERS, N_ITEMS = 40, 30


def _reviews(category: str, seed: int) -> list[tuple[str, str, float, int]]:
    """(user, item, rating, unix time) rows of a small category: most users dense, a few sparse users and rarely
    reviewed items that a 5-core drops. Each user reviews distinct items on distinct days spread over 4 years."""
    rng = random.Random(seed)
    users = [f"A{category[:3].upper()}{i:03d}" for i in range(N_USERS)]
    items = [f"B{category[:3].upper()}{i:05d}" for i in range(N_ITEMS)]
    rows = []
    for number, user in enumerate(users):
        picked = rng.sample(items[:24], rng.randint(6, 12)) if number < N_USERS - 4 else rng.sample(items[:24], 2)
        if number % 5 == 0:
            picked.append(items[24 + number % 6])  # a rarely reviewed item
        days = sorted(rng.sample(range(1500), len(picked)))
        rows += [(user, item, float(rng.randint(1, 5)), 1_400_000_000 + day * 86_400 + number)
                 for day, item in zip(days, picked)]
    return rows


def _five_core(rows: list[tuple[str, str, float, int]], k: int = 5) -> list[tuple[str, str, float, int]]:
    """An independent k-core: drop users and items with fewer than k rows until nothing changes."""
    while True:
        users = Counter(r[0] for r in rows)
        items = Counter(r[1] for r in rows)
        kept = [r for r in rows if users[r[0]] >= k and items[r[1]] >= k]
        if len(kept) == len(rows):
            return kept
        rows = kept


def _amazon_files(version: str, rows: list[tuple[str, str, float, int]]) -> tuple[bytes, bytes]:
    """(reviews, meta) gzip bytes in the publisher's JSON-lines format of `version` (2018 or 2023)."""
    if version == "2018":
        reviews = [{"overall": r, "verified": True, "reviewerID": u, "asin": i, "reviewText": "Works.",
                    "summary": "Fine", "unixReviewTime": t, "vote": "2"} for u, i, r, t in rows]
        meta = [{"asin": i, "title": f"Item {i}", "brand": "Co", "price": "$12.99", "category": ["Toys"]}
                for i in sorted({row[1] for row in rows})]
    else:
        reviews = [{"rating": r, "title": "Fine", "text": "Works.", "images": [], "asin": f"{i}V",
                    "parent_asin": i, "user_id": u, "timestamp": t * 1000, "helpful_vote": 2,
                    "verified_purchase": True} for u, i, r, t in rows]
        meta = [{"parent_asin": i, "title": f"Item {i}", "store": "Co", "price": 12.99, "categories": ["Toys"],
                 "main_category": "Toys", "details": {"Weight": "1 lb"}} for i in sorted({row[1] for row in rows})]
    return tuple(gzip.compress("".join(json.dumps(x) + "\n" for x in records).encode(), mtime=0)
                 for records in (reviews, meta))  # type: ignore[return-value]


def _serve_category(server: LocalServer, version: str, category: str, seed: int) -> list[tuple]:
    """Put one category on the mirror at the registry's own paths; returns the rows a 5-core keeps.

    2018 files are published as 5-cores already, 2023 files hold every review (the papers' k-core is ours to do)."""
    rows = _reviews(category, seed)
    if version == "2018":
        rows = _five_core(rows)
    reviews, meta = _amazon_files(version, rows)
    review_file, meta_file = resolve_dataset(f"amazon-{version}", category).files
    server.state.files[f"/mirror/{review_file.path}"] = reviews
    server.state.files[f"/mirror/{meta_file.path}"] = meta
    return _five_core(rows)


def _invoke(args: list[str], server: LocalServer):
    return CliRunner().invoke(reasonrec_app, args, env={"REASONREC_MIRROR": server.base + "mirror"})


@pytest.mark.parametrize("version", ["2018", "2023"])
def test_amazon_category_download_then_prepare(server: LocalServer, tmp_path: Path, version: str) -> None:
    """`data download` two categories from a mirror, then run the printed `data prepare` line for one of them."""
    kept = {c: _serve_category(server, version, c, seed) for seed, c in enumerate(CATEGORIES)}
    root = tmp_path / "data"
    printed = {}
    for category in CATEGORIES:
        result = _invoke(["data", "download", f"amazon-{version}", "--category", category, "--data-dir", str(root),
                          "--no-progress"], server)
        assert result.exit_code == 0, result.output
        printed[category] = next(line for line in result.output.splitlines() if line.startswith("next: "))
    folder = root / f"amazon-{version}"
    records = load_checksums(folder)
    assert len(records) == 4 and all(len(r["sha256"]) == 64 for r in records.values())
    again = _invoke(["data", "download", f"amazon-{version}", "--category", CATEGORIES[0], "--data-dir", str(root),
                     "--no-progress"], server)
    assert again.exit_code == 0 and again.output.count("verified") == 2 and len(server.state.log) == 4

    category = CATEGORIES[0]
    args = shlex.split(printed[category].removeprefix("next: reasonrec "))
    assert ("filters.k_core=5" in args) == (version == "2023") and f"load.category={category}" in args
    out = tmp_path / "prepared"
    result = _invoke([*args[: args.index("--out")], "--out", str(out)], server)
    assert result.exit_code == 0, result.output

    filtered = pl.read_parquet(out / "splits" / "train_interactions.parquet")
    expected = {(u, i) for u, i, _, _ in kept[category]}
    assert {(u, i) for u, i in filtered.select("user_id", "item_id").iter_rows()} <= expected
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["load"]["category"] == category
    assert sorted(Path(p).name for p in manifest["inputs"]) == sorted(f.filename for f in resolve_dataset(
        f"amazon-{version}", category).files)  # the two files read, not the folder nor checksums.json
    counts = manifest["filters"]
    assert counts.get("after_k_core", counts["loaded"]) == len(kept[category])
    test = pl.read_parquet(out / "splits" / "test.parquet")  # ReasoningRec: each user's last interaction
    last = {}
    for user, item, _, t in kept[category]:
        if user not in last or t > last[user][1]:
            last[user] = (item, t)
    assert dict(test.select("user_id", "item_id").iter_rows()) == {u: i for u, (i, _) in last.items()}
    assert (test["history_item_ids"].list.len() <= 5).all()

    ambiguous = _invoke(["data", "prepare", f"amazon-{version}", "--data-dir", str(root), "--out",
                         str(tmp_path / "x")], server)
    assert ambiguous.exit_code == 2 and "load.category" in ambiguous.output
    assert "Traceback" not in ambiguous.output


@pytest.mark.parametrize("recipe", ["exp3rt", "recsaver"])
def test_papers_protocols_prepare_a_downloaded_category(server: LocalServer, tmp_path: Path, recipe: str) -> None:
    """EXP3RT (5-core, global 8:1:1 by time) and Rec-SAVER (4 <= |H| <= 10, user-disjoint, class-balanced) as
    their recipes define them, applied to an Amazon 2023 category fetched through the mirror. Rec-SAVER's
    800/100 examples per class are scaled to 20/3 for a 40-user category."""
    kept = _serve_category(server, "2023", CATEGORIES[0], seed=7)
    root = tmp_path / "data"
    fetched = _invoke(["data", "download", "amazon-2023", "--category", CATEGORIES[0], "--data-dir", str(root),
                       "--no-progress"], server)
    assert fetched.exit_code == 0, fetched.output
    config_cls = Exp3rtConfig if recipe == "exp3rt" else RecSaverConfig
    protocol = config_cls().prepare.model_dump(mode="json")
    protocol.update(dataset="amazon-2023", load={**protocol["load"], "category": CATEGORIES[0]})
    protocol["filters"]["k_core"] = PAPERS_K_CORE
    if recipe == "recsaver":
        protocol["split"].update(per_class_train=20, per_class_test=3)
    config = tmp_path / "protocol.yaml"
    config.write_text(yaml.safe_dump(protocol))
    out = tmp_path / recipe
    result = _invoke(["data", "prepare", str(config), "--data-dir", str(root), "--out", str(out)], server)
    assert result.exit_code == 0, result.output
    splits = {name: pl.read_parquet(out / "splits" / f"{name}.parquet") for name in ("train", "valid", "test")}
    if recipe == "exp3rt":
        sizes = [splits[n].height for n in ("train", "valid", "test")]
        assert sum(sizes) == len(kept) and sizes == [round(len(kept) * 0.8), round(len(kept) * 0.9) - round(
            len(kept) * 0.8), len(kept) - round(len(kept) * 0.9)]
        assert splits["train"]["timestamp"].max() <= splits["valid"]["timestamp"].min()
        assert splits["valid"]["timestamp"].max() <= splits["test"]["timestamp"].min()
        assert splits["test"]["history_item_ids"].list.len().max() > 0  # histories come from the train part
    else:
        assert splits["train"].height and splits["test"].height
        assert not set(splits["train"]["user_id"]) & set(splits["test"]["user_id"])
        lengths = pl.concat([splits["train"], splits["test"]])["history_item_ids"].list.len()
        assert lengths.min() >= 4 and lengths.max() <= 10
        assert splits["test"].group_by("rating").len()["len"].to_list() == [3] * 5
