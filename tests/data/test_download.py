"""Downloads against a REAL HTTP server on 127.0.0.1 serving files built from the shared data.

The server (stdlib `http.server` in a thread) supports Range and can misbehave on purpose: cut the connection
after N bytes, ignore Range, answer 503, serve different bytes. Registries are built per test and passed in.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import httpx
import polars as pl
import pytest
import typer
from datafiles import require_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reasonrec.cli.data_download import make_download_command
from reasonrec.data.download import (
    CHECKSUMS_FILE,
    ML_100K_U_DATA_SHA256,
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
