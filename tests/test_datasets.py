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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from seqrnn import datasets
from seqrnn.datasets import DATASETS, Dataset, is_dataset_name, resolve
from seqrnn.errors import SeqrnnError

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
    assert list(DATASETS) == ["imdb", "hamlet", "tinyshakespeare"]
    for name, ds in DATASETS.items():
        assert ds.name == name
        assert ds.kind in ("imdb", "text")
        assert len(ds.sha256) == 64 and int(ds.sha256, 16) >= 0
        assert ds.url.startswith("https://")
    assert DATASETS["imdb"].kind == "imdb"
    assert DATASETS["imdb"].filenames[0] == "aclImdb_v1.tar.gz"  # what the URL serves
    assert DATASETS["hamlet"].filenames[0] == "hamlet_pg2265.txt"
    assert DATASETS["tinyshakespeare"].filenames == ("tinyshakespeare.txt",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS["imdb"].sha256 = "0"  # type: ignore[misc]


def test_is_dataset_name():
    assert all(is_dataset_name(n) for n in ("imdb", "hamlet", "tinyshakespeare"))
    assert not any(is_dataset_name(n) for n in ("IMDB", "hamlet.txt", "", None, 3))


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
        "no such file or dataset: no/such/file.txt (known datasets: imdb, hamlet, tinyshakespeare)"
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
