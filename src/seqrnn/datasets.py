"""Named datasets (imdb, hamlet, tinyshakespeare): find them on disk, or download them once.

`resolve()` turns what the user typed (`--data imdb`, `--text hamlet`, or a path) into a path;
`locate()` also says which dataset name it was taken for. A name is looked up, in this order, in

1. the directory in `$SEQRNN_DATA`,
2. the user cache: `$SEQRNN_CACHE` if set, else `platformdirs.user_cache_dir("seqrnn")`
   (`~/.cache/seqrnn` on Linux),
3. the original public address, downloaded into the cache with pooch.

A download is checked against the SHA-256 below before it is used. pooch streams it to a temporary
file inside the cache directory and renames it into place only once the hash matches; on any
failure (network, HTTP error, mismatch, Ctrl-C) the temporary file is deleted, so the cache never
holds a partial or unverified file (see pooch.core.stream_download, pooch.utils.temporary_file).

`$SEQRNN_DOWNLOAD_URL`, if set, is a base URL (a mirror, or a local server in the tests) that
replaces everything before the file name in each dataset's address: with
`SEQRNN_DOWNLOAD_URL=http://mirror/seqrnn`, hamlet is fetched from
`http://mirror/seqrnn/pg2265.txt`.
The hash check is the same.

The cache folder also holds prepared data (parsed reviews, tokens, word vectors) under `prepared/`;
see `seqrnn.cache`.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError

DATA_ENV = "SEQRNN_DATA"
CACHE_ENV = "SEQRNN_CACHE"
DOWNLOAD_URL_ENV = "SEQRNN_DOWNLOAD_URL"


@dataclass(frozen=True)
class Dataset:
    """A named dataset: where to look for it, where to download it from, and its checksum.

    `filenames` are the names to look for in `$SEQRNN_DATA` and the cache, in order; the first
    is the canonical name a download is saved under. `kind` is 'imdb' (reviews) or 'text'.
    """

    name: str
    filenames: tuple[str, ...]
    url: str
    sha256: str
    kind: str


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="imdb",
            # The full archive first (it also holds the test split), then the train-only archive
            # some workplaces keep, then an extracted directory.
            filenames=("aclImdb_v1.tar.gz", "aclImdb_train.tar.gz", "aclImdb"),
            url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            # Stanford publishes no checksum. This is the widely published value that independent
            # loaders pin for aclImdb_v1.tar.gz (84,125,825 bytes), e.g. the Julia DataDeps
            # registration of LargeMovieReviewDataset and several Rust/Go/Python dataset loaders;
            # not re-verified from this (offline) workplace.
            sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            kind="imdb",
        ),
        Dataset(
            name="hamlet",
            filenames=("hamlet_pg2265.txt", "pg2265.txt"),
            url="https://www.gutenberg.org/cache/epub/2265/pg2265.txt",
            # SHA-256 of the file the book uses (shared/data/hamlet_pg2265.txt, 178,707 bytes, the
            # old "Etext of Shakespeare's First Folio" edition that `text[15858:]` is cut for).
            # Project Gutenberg re-releases and re-wraps its files; a re-release changes this hash,
            # the download is then refused, and the error tells the user to supply the file.
            sha256="048e9e99c691ebac2756b8442a15291ca13adb7880104a3486cdb2c67e42bdaf",
            kind="text",
        ),
        Dataset(
            name="tinyshakespeare",
            # Not "input.txt", the upstream name: too generic to pick up from a directory.
            filenames=("tinyshakespeare.txt",),
            url=(
                "https://raw.githubusercontent.com/karpathy/char-rnn/master"
                "/data/tinyshakespeare/input.txt"
            ),
            # SHA-256 of shared/data/tinyshakespeare.txt (1,115,394 bytes), the same value other
            # projects publish for karpathy/char-rnn's input.txt.
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            kind="text",
        ),
    )
}


def is_dataset_name(s: object) -> bool:
    """True if `s` is the name of a known dataset (exact, lower case)."""
    return isinstance(s, str) and s in DATASETS


def data_dir() -> Path | None:
    """The directory in `$SEQRNN_DATA` (made absolute), or None when unset or empty."""
    value = os.environ.get(DATA_ENV)
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def cache_dir() -> Path:
    """Where downloads go: `$SEQRNN_CACHE`, else the platform's user cache for seqrnn."""
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(os.path.abspath(os.path.expanduser(value)))
    import platformdirs

    return Path(platformdirs.user_cache_dir("seqrnn"))


def find_local(dataset: Dataset) -> Path | None:
    """The first of the dataset's file names found in `$SEQRNN_DATA`, then the cache; else None."""
    for directory in (data_dir(), cache_dir()):
        if directory is None:
            continue
        for filename in dataset.filenames:
            candidate = directory / filename
            if candidate.exists():
                return candidate
    return None


def download_url(dataset: Dataset) -> str:
    """The dataset's address, or the same file name under `$SEQRNN_DOWNLOAD_URL` if that is set."""
    base = os.environ.get(DOWNLOAD_URL_ENV)
    if not base:
        return dataset.url
    return base.rstrip("/") + "/" + dataset.url.rsplit("/", 1)[-1]


def fetch(dataset: Dataset, *, url: str | None = None, progressbar: bool | None = None) -> Path:
    """Download `dataset` into the cache under its canonical name, verified by SHA-256.

    `url` overrides the address (default: `download_url(dataset)`); `progressbar` defaults to a
    tqdm bar when stderr is a terminal. Raises SeqrnnError with one line on any network, HTTP or
    checksum failure (nothing is left in the cache), SeqrnnRuntimeError if the cache is unwritable.
    """
    import pooch
    import requests

    url = url or download_url(dataset)
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    cache = cache_dir()
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{dataset.sha256}",
            fname=dataset.filenames[0],
            path=cache,
            progressbar=progressbar,
        )
    except requests.exceptions.RequestException as exc:
        reason = f"the download from {url} failed: {_describe(exc)}"
        raise SeqrnnError(_not_found(dataset, reason)) from exc
    except ValueError as exc:  # pooch's hash mismatch (or an unusable URL)
        got = re.search(r"but got ([0-9a-fA-F]+)", str(exc))
        reason = (
            f"the file downloaded from {url} has SHA-256 {got.group(1)}, expected {dataset.sha256} "
            "(corrupted, or changed upstream), so it was not saved"
            if got
            else f"cannot download from {url}: {_first_line(exc)}"
        )
        raise SeqrnnError(_not_found(dataset, reason)) from exc
    except OSError as exc:
        raise SeqrnnRuntimeError(
            f"cannot save {dataset.name} into the cache {cache}: {_first_line(exc)}; "
            f"set {CACHE_ENV} to a writable directory, or {_how_to_supply(dataset)}"
        ) from exc
    return cache / dataset.filenames[0]


def resolve(name_or_path: str, *, download: bool = True) -> Path:
    """The path of an existing file or directory, or of a named dataset (found or downloaded).

    An existing path wins over a dataset name and is returned as given. With `download=False`,
    a named dataset missing from `$SEQRNN_DATA` and the cache raises SeqrnnError.
    """
    return locate(name_or_path, download=download)[0]


def locate(name_or_path: str, *, download: bool = True) -> tuple[Path, str | None]:
    """`resolve`, and the name of the dataset the input was taken for (None for a path): what the
    user typed decides whether, say, `hamlet` gets the book's cut."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path, None
    if not is_dataset_name(name_or_path):
        raise SeqrnnError(
            f"no such file or dataset: {name_or_path} (known datasets: {', '.join(DATASETS)})"
        )
    dataset = DATASETS[name_or_path]
    found = find_local(dataset)
    if found is not None:
        return found, dataset.name
    if not download:
        raise SeqrnnError(_not_found(dataset, "downloading is off"))
    return fetch(dataset), dataset.name


def _not_found(dataset: Dataset, reason: str) -> str:
    """One line: what was looked for, where, why it was not downloaded, and how to supply it."""
    data = data_dir()
    where = f"${DATA_ENV} ({data})" if data is not None else f"${DATA_ENV} (not set)"
    names = ", ".join(dataset.filenames)
    return (
        f"dataset '{dataset.name}' not found: looked for {names} in {where} and the cache "
        f"({cache_dir()}), and {reason}; {_how_to_supply(dataset)}"
    )


def _how_to_supply(dataset: Dataset) -> str:
    canonical = dataset.filenames[0]
    save_as = "" if dataset.url.endswith("/" + canonical) else f" as {canonical}"
    return (
        f"download {dataset.url}{save_as} into a directory and set {DATA_ENV} to it, "
        f"or pass the file's path instead of '{dataset.name}'"
    )


def _describe(exc: Exception) -> str:
    """A short reason for a requests failure: 'HTTP 404 Not Found', 'Connection refused', ..."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}".rstrip()
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off before the whole file arrived"
    if isinstance(exc, requests.exceptions.ConnectionError):
        host = urlsplit(exc.request.url).netloc if exc.request is not None else ""
        errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        detail = errno.group(1).strip() if errno else "no connection"
        return f"cannot connect to {host}: {detail}" if host else f"cannot connect: {detail}"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
