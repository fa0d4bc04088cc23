"""Named dataset resolution: $SEQRNN_DATA, then the cache, then a checksummed download.

Downloads come from a local HTTP server on 127.0.0.1; every test points SEQRNN_CACHE at tmp_path
and SEQRNN_DOWNLOAD_URL at a local address, so nothing touches ~/.cache or the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from seqrnn.data import datasets
from seqrnn.data.datasets import (
    DATASETS,
    ENWIK8_SPLITS,
    Dataset,
    is_dataset_name,
    named_splits,
    resolve,
)
from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError

HAMLET_TEXT = b"The Tragedie of Hamlet\n\nActus Primus. Scoena Prima.\n" * 50


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def closed_port_url() -> str:
    """A base URL on a port nothing listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Server:
    """A local file server: `files` maps URL paths to bytes; `requests` records each GET."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.on_request = None  # optional callback run before each response
        self.truncate = False  # announce the full length, send half, close
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                if server.on_request is not None:
                    server.on_request(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if server.truncate else body)
                if server.truncate:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private cache, no SEQRNN_DATA, downloads aimed at a closed local port (unless changed)."""
    monkeypatch.setenv("SEQRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQRNN_DATA", raising=False)
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", closed_port_url())
    for var in ("NO_PROXY", "no_proxy"):  # never send 127.0.0.1 through a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", srv.url)
    yield srv
    srv.close()


@pytest.fixture
def hamlet(monkeypatch) -> Dataset:
    """The registry's hamlet entry, pinned to the hash of HAMLET_TEXT."""
    ds = dataclasses.replace(DATASETS["hamlet"], sha256=sha256(HAMLET_TEXT))
    monkeypatch.setitem(DATASETS, "hamlet", ds)
    return ds


def cache_contents(cache: Path) -> list[str]:
    return sorted(os.listdir(cache)) if cache.exists() else []


# --- registry ---------------------------------------------------------------------------------


def test_registry():
    assert list(DATASETS) == ["imdb", "hamlet", "tinyshakespeare", "enwik8"]
    for name, ds in DATASETS.items():
        assert ds.name == name
        assert ds.kind in ("imdb", "text", "bytes")
        assert len(ds.sha256) == 64 and int(ds.sha256, 16) >= 0
        # enwik8's original address is plain HTTP; the pinned SHA-256 is what protects it.
        assert ds.url.startswith("http://" if name == "enwik8" else "https://")
        assert ds.archive is None or ds.archive in ds.filenames
    assert DATASETS["imdb"].kind == "imdb"
    assert DATASETS["imdb"].filenames[0] == "aclImdb_v1.tar.gz"  # what the URL serves
    assert DATASETS["hamlet"].filenames[0] == "hamlet_pg2265.txt"
    assert DATASETS["tinyshakespeare"].filenames == ("tinyshakespeare.txt",)
    enwik8 = DATASETS["enwik8"]
    assert enwik8.filenames == ("enwik8", "enwik8.zip")  # the raw file first
    assert enwik8.archive == "enwik8.zip" and enwik8.url.endswith("/enwik8.zip")
    assert enwik8.sha256 == "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"
    assert enwik8.size == 100_000_000 and enwik8.kind == "bytes"
    assert all(DATASETS[n].size is None and DATASETS[n].archive is None for n in ("imdb", "hamlet"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS["imdb"].sha256 = "0"  # type: ignore[misc]


def test_is_dataset_name():
    assert all(is_dataset_name(n) for n in ("imdb", "hamlet", "tinyshakespeare", "enwik8"))
    assert not any(is_dataset_name(n) for n in ("IMDB", "hamlet.txt", "", None, 3, "enwik8.zip"))


def test_named_splits():
    assert ENWIK8_SPLITS == {
        "train": (0, 90_000_000),
        "val": (90_000_000, 95_000_000),
        "test": (95_000_000, 100_000_000),
    }
    splits = named_splits("enwik8")
    assert splits == ENWIK8_SPLITS
    splits["train"] = (0, 1)  # a copy: the constant is untouched
    assert ENWIK8_SPLITS["train"] == (0, 90_000_000)
    bounds = [b for r in ENWIK8_SPLITS.values() for b in r]
    assert bounds == sorted(bounds) and bounds[-1] == DATASETS["enwik8"].size
    for name in ("imdb", "hamlet", "tinyshakespeare", "enwik8.zip", "", None):
        assert named_splits(name) is None


@pytest.mark.parametrize("name", ["hamlet", "tinyshakespeare"])
def test_registry_hash_matches_shared_copy(name):
    """The pinned hashes are those of the workplace copies (skipped where there are none)."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / DATASETS[name].filenames[0]
    if not shared.is_file():
        pytest.skip(f"no {shared}")
    assert sha256(shared.read_bytes()) == DATASETS[name].sha256


def test_default_cache_dir_is_platformdirs(monkeypatch):
    import platformdirs

    monkeypatch.delenv("SEQRNN_CACHE")
    assert datasets.cache_dir() == Path(platformdirs.user_cache_dir("seqrnn"))


# --- local lookup -----------------------------------------------------------------------------


def test_existing_path_is_returned_as_is(tmp_path, server):
    f = tmp_path / "my corpus.txt"
    f.write_text("hello")
    assert resolve(str(f)) == f
    d = tmp_path / "aclImdb"
    d.mkdir()
    assert resolve(str(d)) == d
    assert server.requests == []


def test_existing_path_wins_over_dataset_name(tmp_path, monkeypatch, server):
    monkeypatch.chdir(tmp_path)
    Path("hamlet").write_text("my own hamlet")
    assert resolve("hamlet") == Path("hamlet")
    assert server.requests == []


def test_locate_says_which_name_was_used(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hamlet_pg2265.txt").write_bytes(HAMLET_TEXT)
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    monkeypatch.chdir(tmp_path)
    assert datasets.locate("hamlet", download=False) == (data / "hamlet_pg2265.txt", "hamlet")
    assert datasets.locate(str(data / "hamlet_pg2265.txt")) == (data / "hamlet_pg2265.txt", None)
    (tmp_path / "hamlet").write_text("a local file")  # an existing path wins and is no dataset
    assert datasets.locate("hamlet") == (Path("hamlet"), None)


def test_unknown_name():
    with pytest.raises(SeqrnnError) as info:
        resolve("no/such/file.txt")
    assert str(info.value) == (
        "no such file or dataset: no/such/file.txt "
        "(known datasets: imdb, hamlet, tinyshakespeare, enwik8)"
    )


def test_data_dir_takes_precedence_over_cache(tmp_path, monkeypatch, cache, server, hamlet):
    data = tmp_path / "data"
    data.mkdir()
    cache.mkdir()
    (data / "hamlet_pg2265.txt").write_bytes(b"from data")
    (cache / "hamlet_pg2265.txt").write_bytes(b"from cache")
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    assert resolve("hamlet") == data / "hamlet_pg2265.txt"
    monkeypatch.delenv("SEQRNN_DATA")
    assert resolve("hamlet") == cache / "hamlet_pg2265.txt"
    assert server.requests == []


def test_relative_data_dir(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tinyshakespeare.txt").write_text("First Citizen:\n")
    monkeypatch.chdir(tmp_path / "data")
    monkeypatch.setenv("SEQRNN_DATA", "../data")
    assert resolve("tinyshakespeare", download=False) == tmp_path / "data" / "tinyshakespeare.txt"


@pytest.mark.parametrize(
    "name, entry",
    [
        ("imdb", "aclImdb_v1.tar.gz"),
        ("imdb", "aclImdb_train.tar.gz"),
        ("imdb", "aclImdb/"),
        ("hamlet", "hamlet_pg2265.txt"),
        ("hamlet", "pg2265.txt"),
        ("tinyshakespeare", "tinyshakespeare.txt"),
    ],
)
def test_accepted_file_names_in_data_dir(tmp_path, monkeypatch, name, entry):
    data = tmp_path / "data"
    data.mkdir()
    if entry.endswith("/"):
        (data / entry).mkdir()
    else:
        (data / entry).write_bytes(b"x")
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    assert resolve(name, download=False) == data / entry.rstrip("/")


def test_input_txt_is_not_taken_for_tinyshakespeare(tmp_path, monkeypatch):
    (tmp_path / "input.txt").write_text("something else")
    monkeypatch.setenv("SEQRNN_DATA", str(tmp_path))
    with pytest.raises(SeqrnnError):
        resolve("tinyshakespeare", download=False)


def test_offline_error_names_where_it_looked_and_what_to_do(tmp_path, monkeypatch, cache):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    with pytest.raises(SeqrnnError) as info:
        resolve("hamlet", download=False)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"$SEQRNN_DATA ({data})" in msg
    assert str(cache) in msg
    assert "hamlet_pg2265.txt" in msg and "pg2265.txt" in msg
    assert "set SEQRNN_DATA" in msg and "pass the file's path" in msg
    assert DATASETS["hamlet"].url in msg
    assert cache_contents(cache) == []


def test_offline_error_when_data_dir_unset(cache):
    with pytest.raises(SeqrnnError) as info:
        resolve("imdb", download=False)
    assert "$SEQRNN_DATA (not set)" in str(info.value)
    assert str(cache) in str(info.value)


# --- downloads --------------------------------------------------------------------------------


def test_download_lands_in_cache_then_cache_is_used(cache, server, hamlet):
    server.files["/pg2265.txt"] = HAMLET_TEXT
    path = resolve("hamlet")
    assert path == cache / "hamlet_pg2265.txt"  # the canonical name
    assert path.read_bytes() == HAMLET_TEXT
    assert server.requests == ["/pg2265.txt"]
    assert cache_contents(cache) == ["hamlet_pg2265.txt"]
    assert resolve("hamlet") == cache / "hamlet_pg2265.txt"
    assert resolve("hamlet", download=False) == cache / "hamlet_pg2265.txt"
    assert server.requests == ["/pg2265.txt"]  # no second request


def test_download_of_archive(cache, server, monkeypatch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        review = b"A wonderful film.\n"
        info = tarfile.TarInfo("aclImdb/train/pos/0_9.txt")
        info.size = len(review)
        tar.addfile(info, io.BytesIO(review))
    archive = buf.getvalue()
    imdb = dataclasses.replace(DATASETS["imdb"], sha256=sha256(archive))
    monkeypatch.setitem(DATASETS, "imdb", imdb)
    server.files["/aclImdb_v1.tar.gz"] = archive
    path = resolve("imdb")
    assert path.name == "aclImdb_v1.tar.gz" and path.parent == cache
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["aclImdb/train/pos/0_9.txt"]


def test_download_goes_through_a_temp_file_in_the_cache(cache, server, hamlet):
    """pooch writes to a temporary file beside the target and renames it only once verified."""
    seen: list[list[str]] = []
    server.on_request = lambda _path: seen.append(cache_contents(cache))
    server.files["/pg2265.txt"] = HAMLET_TEXT
    resolve("hamlet")
    [during] = seen
    assert len(during) == 1 and during[0] != "hamlet_pg2265.txt"
    assert cache_contents(cache) == ["hamlet_pg2265.txt"]


def test_fetch_url_parameter(server, hamlet):
    server.files["/elsewhere/hamlet.txt"] = HAMLET_TEXT
    path = datasets.fetch(hamlet, url=server.url + "/elsewhere/hamlet.txt", progressbar=False)
    assert path.read_bytes() == HAMLET_TEXT and path.name == "hamlet_pg2265.txt"


def test_hash_mismatch_raises_and_leaves_nothing(cache, server, hamlet):
    server.files["/pg2265.txt"] = HAMLET_TEXT + b"re-released\n"
    with pytest.raises(SeqrnnError) as info:
        resolve("hamlet")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"has SHA-256 {sha256(HAMLET_TEXT + b're-released' + bytes([10]))}" in msg
    assert f"expected {hamlet.sha256}" in msg
    assert "SEQRNN_DATA" in msg and "pass the file's path" in msg
    assert cache_contents(cache) == []  # not even a temporary file
    assert server.requests == ["/pg2265.txt"]


def test_http_404_raises_and_leaves_nothing(cache, server, hamlet):
    with pytest.raises(SeqrnnError) as info:
        resolve("hamlet")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"the download from {server.url}/pg2265.txt failed: HTTP 404 Not Found" in msg
    assert "SEQRNN_DATA" in msg
    assert cache_contents(cache) == []


def test_connection_refused_raises_and_leaves_nothing(cache, hamlet):
    with pytest.raises(SeqrnnError) as info:
        resolve("hamlet")  # SEQRNN_DOWNLOAD_URL points at a closed port
    msg = str(info.value)
    assert "\n" not in msg
    assert "cannot connect to 127.0.0.1:" in msg and "refused" in msg.lower()
    assert "SEQRNN_DATA" in msg and str(cache) in msg
    assert cache_contents(cache) == []


def test_truncated_download_raises_and_leaves_nothing(cache, server, hamlet):
    server.files["/pg2265.txt"] = HAMLET_TEXT
    server.truncate = True
    with pytest.raises(SeqrnnError) as info:
        resolve("hamlet")
    assert "connection broke off" in str(info.value)
    assert cache_contents(cache) == []


def test_unwritable_cache_is_a_runtime_error(tmp_path, monkeypatch, server, hamlet):
    from seqrnn.errors import SeqrnnRuntimeError

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("SEQRNN_CACHE", str(blocker / "cache"))
    server.files["/pg2265.txt"] = HAMLET_TEXT
    with pytest.raises(SeqrnnRuntimeError) as info:
        resolve("hamlet")
    assert "SEQRNN_CACHE" in str(info.value) and "\n" not in str(info.value)


# --- enwik8: a zip whose one member is the dataset --------------------------------------------

# Every byte value (enwik8 is read as bytes), 4,096 bytes in all: a stand-in for the 100 MB file.
ENWIK8_BYTES = bytes(range(256)) * 16


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


ENWIK8_ZIP = make_zip({"enwik8": ENWIK8_BYTES})


@pytest.fixture
def enwik8(monkeypatch) -> Dataset:
    """The registry's enwik8 entry, pinned to ENWIK8_ZIP's hash and ENWIK8_BYTES' size."""
    ds = dataclasses.replace(DATASETS["enwik8"], sha256=sha256(ENWIK8_ZIP), size=len(ENWIK8_BYTES))
    monkeypatch.setitem(DATASETS, "enwik8", ds)
    return ds


def test_enwik8_download_is_extracted_then_cache_is_used(cache, server, enwik8, monkeypatch):
    server.files["/enwik8.zip"] = ENWIK8_ZIP
    path, name = datasets.locate("enwik8")
    assert (path, name) == (cache / "enwik8", "enwik8")
    assert path.read_bytes() == ENWIK8_BYTES
    assert server.requests == ["/enwik8.zip"]
    assert cache_contents(cache) == ["enwik8", "enwik8.zip"]  # the verified download is kept
    server.close()
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", closed_port_url())
    assert resolve("enwik8") == cache / "enwik8"
    assert resolve("enwik8", download=False) == cache / "enwik8"
    assert server.requests == ["/enwik8.zip"]


def test_enwik8_cached_zip_is_extracted_again_when_the_member_is_gone(cache, server, enwik8):
    server.files["/enwik8.zip"] = ENWIK8_ZIP
    resolve("enwik8")
    (cache / "enwik8").unlink()
    assert resolve("enwik8", download=False).read_bytes() == ENWIK8_BYTES
    assert server.requests == ["/enwik8.zip"]


def test_enwik8_extraction_goes_through_a_temp_file_in_the_cache(cache, server, enwik8, monkeypatch):
    renames: list[tuple[Path, Path, bool]] = []
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        renames.append((Path(src), Path(dst), Path(dst).exists()))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    server.files["/enwik8.zip"] = ENWIK8_ZIP
    resolve("enwik8")
    [(src, _, existed)] = [r for r in renames if r[1] == cache / "enwik8"]
    assert src.parent == cache and src.name.startswith(".enwik8.") and src.name.endswith(".part")
    assert not existed and not src.exists()


def test_enwik8_hash_mismatch_raises_and_leaves_nothing(cache, server, enwik8):
    other = make_zip({"enwik8": ENWIK8_BYTES[::-1]})
    server.files["/enwik8.zip"] = other
    with pytest.raises(SeqrnnError) as info:
        resolve("enwik8")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"has SHA-256 {sha256(other)}, expected {enwik8.sha256}" in msg
    assert f"download {enwik8.url} into a directory and set SEQRNN_DATA" in msg  # no "as ..."
    assert cache_contents(cache) == []


def test_enwik8_wrong_size_member_is_refused(cache, server, monkeypatch):
    short = ENWIK8_BYTES[:1000]
    archive = make_zip({"enwik8": short})
    ds = dataclasses.replace(DATASETS["enwik8"], sha256=sha256(archive), size=len(ENWIK8_BYTES))
    monkeypatch.setitem(DATASETS, "enwik8", ds)
    server.files["/enwik8.zip"] = archive
    with pytest.raises(SeqrnnError) as info:
        resolve("enwik8")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"cannot extract enwik8 from {cache / 'enwik8.zip'}" in msg
    assert "has 1,000 bytes, expected 4,096" in msg and "nothing was extracted" in msg
    assert cache_contents(cache) == ["enwik8.zip"]  # no member, no temporary file


def test_enwik8_member_whose_header_lies_about_its_size_is_refused(tmp_path, monkeypatch, cache, enwik8):
    """A member announced at the right size that delivers fewer bytes leaves nothing behind."""
    data = tmp_path / "data"
    data.mkdir()
    archive = bytearray(make_zip({"enwik8": ENWIK8_BYTES}, zipfile.ZIP_STORED))
    start = bytes(archive).index(ENWIK8_BYTES)
    archive[start + 100] ^= 0xFF  # the stored bytes no longer match the CRC-32
    (data / "enwik8.zip").write_bytes(bytes(archive))
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    with pytest.raises(SeqrnnError) as info:
        resolve("enwik8", download=False)
    msg = str(info.value)
    assert "\n" not in msg and "damaged" in msg and "CRC" in msg
    assert cache_contents(cache) == []


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"not a zip at all", "not a zip archive"),
        (make_zip({"enwik9": ENWIK8_BYTES}), "it has no member named enwik8 (it holds enwik9)"),
    ],
)
def test_enwik8_unusable_zip_in_data_dir(tmp_path, monkeypatch, cache, enwik8, content, reason):
    data = tmp_path / "data"
    data.mkdir()
    (data / "enwik8.zip").write_bytes(content)
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    with pytest.raises(SeqrnnError) as info:
        resolve("enwik8", download=False)
    assert reason in str(info.value) and "\n" not in str(info.value)
    assert cache_contents(cache) == []


def test_enwik8_raw_file_in_data_dir_wins(tmp_path, monkeypatch, cache, server, enwik8):
    data = tmp_path / "data"
    data.mkdir()
    (data / "enwik8").write_bytes(ENWIK8_BYTES)
    (data / "enwik8.zip").write_bytes(ENWIK8_ZIP)
    server.files["/enwik8.zip"] = ENWIK8_ZIP
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    assert datasets.locate("enwik8") == (data / "enwik8", "enwik8")
    assert server.requests == [] and cache_contents(cache) == []


def test_enwik8_raw_file_of_the_wrong_size_is_refused(tmp_path, monkeypatch, cache, enwik8):
    data = tmp_path / "data"
    data.mkdir()
    (data / "enwik8").write_bytes(ENWIK8_BYTES[:-1])
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    with pytest.raises(SeqrnnError) as info:
        resolve("enwik8")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"{data / 'enwik8'} cannot be used: it has 4,095 bytes, expected 4,096" in msg
    assert cache_contents(cache) == []


def test_enwik8_zip_in_data_dir_is_extracted_into_the_cache(tmp_path, monkeypatch, cache, server, enwik8):
    data = tmp_path / "data"
    data.mkdir()
    (data / "enwik8.zip").write_bytes(ENWIK8_ZIP)
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    path = resolve("enwik8", download=False)
    assert path == cache / "enwik8" and path.read_bytes() == ENWIK8_BYTES
    assert sorted(os.listdir(data)) == ["enwik8.zip"]  # $SEQRNN_DATA is never written to
    assert cache_contents(cache) == ["enwik8"]  # the zip is not copied
    assert (data / "enwik8.zip").read_bytes() == ENWIK8_ZIP

    def no_second_extraction(*args, **kwargs):
        raise AssertionError("extracted twice")

    monkeypatch.setattr(datasets, "extract", no_second_extraction)
    assert resolve("enwik8") == cache / "enwik8"
    assert server.requests == []


def test_enwik8_interrupted_extraction_leaves_nothing(tmp_path, monkeypatch, cache, enwik8):
    data = tmp_path / "data"
    data.mkdir()
    (data / "enwik8.zip").write_bytes(ENWIK8_ZIP)
    monkeypatch.setenv("SEQRNN_DATA", str(data))

    def interrupt(fd):
        assert len([n for n in os.listdir(cache) if n.endswith(".part")]) == 1
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        resolve("enwik8")
    assert cache_contents(cache) == []


def test_enwik8_extraction_into_an_unwritable_cache(tmp_path, monkeypatch, enwik8):
    data = tmp_path / "data"
    data.mkdir()
    (data / "enwik8.zip").write_bytes(ENWIK8_ZIP)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    monkeypatch.setenv("SEQRNN_CACHE", str(blocker / "cache"))
    with pytest.raises(SeqrnnRuntimeError) as info:
        resolve("enwik8")
    assert "SEQRNN_CACHE" in str(info.value) and "\n" not in str(info.value)


def test_enwik8_extraction_progress(tmp_path, cache, enwik8, capsys):
    archive = tmp_path / "enwik8.zip"
    archive.write_bytes(ENWIK8_ZIP)
    assert datasets.extract(enwik8, archive, progressbar=True) == cache / "enwik8"
    assert "extracting enwik8" in capsys.readouterr().err
    (cache / "enwik8").unlink()
    datasets.extract(enwik8, archive, progressbar=False)
    assert capsys.readouterr().err == ""


def test_enwik8_offline_error_says_what_to_download(cache):
    with pytest.raises(SeqrnnError) as info:
        resolve("enwik8", download=False)
    msg = str(info.value)
    assert "looked for enwik8, enwik8.zip" in msg
    assert "download http://mattmahoney.net/dc/enwik8.zip into a directory" in msg
