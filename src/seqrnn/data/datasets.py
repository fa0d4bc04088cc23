"""Named datasets (imdb, hamlet, tinyshakespeare, enwik8): find them on disk, or download them once.

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

enwik8 is distributed as a zip archive (`enwik8.zip`) whose one member, `enwik8`, is the dataset:
a raw `enwik8` is looked for first, then `enwik8.zip`. A zip found in `$SEQRNN_DATA` or the cache,
or downloaded (and verified) into the cache, is extracted once into the cache, never next to the
zip (`$SEQRNN_DATA` may be read-only): the member is streamed into a temporary file in the cache,
its CRC-32 checked by `zipfile` and its size by `Dataset.size`, and renamed into place only then,
so the cache never holds a partial `enwik8`. `resolve("enwik8")` is the path of that raw file (100
MB of bytes); `named_splits("enwik8")` gives its standard train/val/test byte ranges.

The cache folder also holds prepared data (parsed reviews, tokens, word vectors) under `prepared/`;
see `seqrnn.cache`.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from seqrnn.cache import CACHE_ENV, cache_dir
from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError

DATA_ENV = "SEQRNN_DATA"
DOWNLOAD_URL_ENV = "SEQRNN_DOWNLOAD_URL"


@dataclass(frozen=True)
class Dataset:
    """A named dataset: where to look for it, where to download it from, and its checksum.

    `filenames` are the names to look for in `$SEQRNN_DATA` and the cache, in order; the first
    is the canonical name a download is saved under. `kind` is 'imdb' (reviews), 'text' (UTF-8)
    or 'bytes' (read as bytes, one character per byte). `sha256` is that of the downloaded file.

    A dataset distributed in a zip names the zip in `archive` (one of `filenames`): the zip is
    what is downloaded (under that name), and its member `filenames[0]` is extracted into the
    cache. `size`, if set, is the number of bytes `filenames[0]` must have wherever it is found.
    """

    name: str
    filenames: tuple[str, ...]
    url: str
    sha256: str
    kind: str
    archive: str | None = None
    size: int | None = None


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
        Dataset(
            name="enwik8",
            # The raw member first (the dataset itself), then the zip it comes in.
            filenames=("enwik8", "enwik8.zip"),
            url="http://mattmahoney.net/dc/enwik8.zip",
            # SHA-256 of enwik8.zip (36,445,475 bytes), the value independent loaders and
            # benchmarks pin for this address; not re-verified from this (offline) workplace.
            sha256="547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc",
            kind="bytes",
            archive="enwik8.zip",
            # The member `enwik8` is the first 10^8 bytes of an English Wikipedia dump. Its
            # SHA-256 is published as 2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8
            # but could not be checked here, so it is not enforced: the size is the guard (with
            # the zip's own CRC-32 of the member, which `zipfile` checks while extracting).
            size=100_000_000,
        ),
    )
}

# The standard enwik8 split, in bytes: the first 90 M for training, then 5 M each for
# validation and test, as in the published character-level results (bits per character).
ENWIK8_SPLITS: dict[str, tuple[int, int]] = {
    "train": (0, 90_000_000),
    "val": (90_000_000, 95_000_000),
    "test": (95_000_000, 100_000_000),
}

_SPLITS: dict[str, dict[str, tuple[int, int]]] = {"enwik8": ENWIK8_SPLITS}


def is_dataset_name(s: object) -> bool:
    """True if `s` is the name of a known dataset (exact, lower case)."""
    return isinstance(s, str) and s in DATASETS


def named_splits(name: str) -> dict[str, tuple[int, int]] | None:
    """The fixed splits of a dataset, {split: (start, end)} byte offsets (end excluded), or None
    for a dataset (or anything else) without them. Only enwik8 has them: `ENWIK8_SPLITS`."""
    splits = _SPLITS.get(name) if isinstance(name, str) else None
    return dict(splits) if splits is not None else None


def data_dir() -> Path | None:
    """The directory in `$SEQRNN_DATA` (made absolute), or None when unset or empty."""
    value = os.environ.get(DATA_ENV)
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


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
    """Download `dataset` into the cache under its canonical name (its `archive`'s name for a
    zipped dataset, which is not extracted here: see `extract`), verified by SHA-256.

    `url` overrides the address (default: `download_url(dataset)`); `progressbar` defaults to a
    tqdm bar when stderr is a terminal. Raises SeqrnnError with one line on any network, HTTP or
    checksum failure (nothing is left in the cache), SeqrnnRuntimeError if the cache is unwritable.
    """
    import pooch
    import requests

    url = url or download_url(dataset)
    pooch.get_logger().setLevel("WARNING")  # its "Downloading data from ..." line: the bar (or the error) says it
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    cache = cache_dir()
    fname = dataset.archive or dataset.filenames[0]
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{dataset.sha256}",
            fname=fname,
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
        raise _unwritable(dataset, cache, exc) from exc
    return cache / fname


def extract(dataset: Dataset, archive: Path, *, progressbar: bool | None = None) -> Path:
    """Extract the member `dataset.filenames[0]` of the zip `archive` into the cache; its path.

    The member is streamed into a temporary file in the cache (with a tqdm bar when stderr is a
    terminal, or as `progressbar` says), its CRC-32 checked by `zipfile` and its size against
    `dataset.size`, then renamed into place: on any failure, Ctrl-C included, the temporary file
    is deleted and nothing is left. `archive` itself is never written to. Raises SeqrnnError
    (one line) for a damaged archive, a missing or wrong-size member, SeqrnnRuntimeError when
    the cache is unwritable.
    """
    import zipfile
    import zlib

    member = dataset.filenames[0]
    cache = cache_dir()
    target = cache / member
    if progressbar is None:
        progressbar = sys.stderr.isatty()

    def refuse(reason: str) -> SeqrnnError:
        return SeqrnnError(
            f"cannot extract {member} from {archive}: {reason}, so nothing was extracted; "
            f"replace the archive, or {_how_to_supply(dataset)}"
        )

    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise refuse(f"not a zip archive ({_first_line(exc)})") from exc
    except OSError as exc:
        raise SeqrnnError(f"cannot read {archive}: {_first_line(exc)}") from exc
    with zf:
        try:
            info = zf.getinfo(member)
        except KeyError:
            held = ", ".join(zf.namelist()[:5]) or "nothing"
            raise refuse(f"it has no member named {member} (it holds {held})") from None
        if dataset.size is not None and info.file_size != dataset.size:
            raise refuse(_wrong_size(dataset, "its member", info.file_size))
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{member}.", suffix=".part")
        except OSError as exc:
            raise _unwritable(dataset, cache, exc) from exc
        tmp = Path(tmp_name)
        try:
            written = _copy_member(zf, info, fd, progressbar, cache, dataset)
            if dataset.size is not None and written != dataset.size:
                raise refuse(_wrong_size(dataset, "its member", written))
            os.replace(tmp, target)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            # A bad CRC-32 or a cut-off stream; an encrypted member (RuntimeError) or an
            # unknown compression method (NotImplementedError).
            damaged = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)
            if isinstance(exc, damaged) and not isinstance(exc, SeqrnnError):
                raise refuse(f"the archive is damaged or unreadable ({_first_line(exc)})") from exc
            if isinstance(exc, OSError):  # reading the archive (writes are SeqrnnRuntimeError)
                raise SeqrnnError(f"cannot read {archive}: {_first_line(exc)}") from exc
            raise
    return target


def _copy_member(zf, info, fd: int, progressbar: bool, cache: Path, dataset: Dataset) -> int:
    """Stream one zip member into the open file `fd` (closed here, flushed to disk); bytes written."""
    from tqdm.auto import tqdm

    written = 0
    with os.fdopen(fd, "wb") as out, zf.open(info) as src, tqdm(
        total=info.file_size, unit="B", unit_scale=True, unit_divisor=1024,
        desc=f"extracting {info.filename}", disable=not progressbar, file=sys.stderr, leave=False,
    ) as bar:
        while chunk := src.read(1 << 20):
            try:
                out.write(chunk)
            except OSError as exc:
                raise _unwritable(dataset, cache, exc) from exc
            written += len(chunk)
            bar.update(len(chunk))
        try:
            out.flush()
            os.fsync(out.fileno())
        except OSError as exc:
            raise _unwritable(dataset, cache, exc) from exc
    return written


def _unwritable(dataset: Dataset, cache: Path, exc: OSError) -> SeqrnnRuntimeError:
    return SeqrnnRuntimeError(
        f"cannot save {dataset.name} into the cache {cache}: {_first_line(exc)}; "
        f"set {CACHE_ENV} to a writable directory, or {_how_to_supply(dataset)}"
    )


def _wrong_size(dataset: Dataset, what: str, size: int) -> str:
    return (
        f"{what} has {size:,} bytes, expected {dataset.size:,} "
        f"(truncated, or not {dataset.name})"
    )


def _ready(dataset: Dataset, found: Path) -> Path:
    """The dataset's own file for what was found or downloaded: a zip's member is taken from
    the cache, extracted there first if need be; its size is checked when the dataset has one."""
    if dataset.archive is not None and found.name == dataset.archive:
        extracted = cache_dir() / dataset.filenames[0]
        found = extracted if extracted.exists() else extract(dataset, found)
    if dataset.size is not None:
        size = found.stat().st_size if found.is_file() else None
        if size != dataset.size:
            what = "it is not a file" if size is None else _wrong_size(dataset, "it", size)
            raise SeqrnnError(
                f"dataset '{dataset.name}': {found} cannot be used: {what}; delete or replace "
                f"it, or {_how_to_supply(dataset)}"
            )
    return found


def resolve(name_or_path: str, *, download: bool = True) -> Path:
    """The path of an existing file or directory, or of a named dataset (found or downloaded).

    An existing path wins over a dataset name and is returned as given. With `download=False`,
    a named dataset missing from `$SEQRNN_DATA` and the cache raises SeqrnnError. For enwik8
    this is the raw 100 MB `enwik8` file, extracted into the cache from a zip if need be (no
    download is needed for that), and refused unless it has exactly `Dataset.size` bytes.
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
    if found is None:
        if not download:
            raise SeqrnnError(_not_found(dataset, "downloading is off"))
        found = fetch(dataset)
    return _ready(dataset, found), dataset.name


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
    canonical = dataset.archive or dataset.filenames[0]
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
