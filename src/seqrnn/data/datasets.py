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

Numeric series sets of the UCR/UEA archive (`gunpoint`, `italypowerdemand`, `basicmotions`,
`japanesevowels`: `SERIES_DATASETS`) come as two `.ts` files each, `STEM_TRAIN.ts` and
`STEM_TEST.ts`, looked up by `locate_series(name, split)` in `$SEQRNN_DATA/series/`, then the
cache's `series/` folder, then downloaded as the archive's zip. The archive publishes no hash of its
zips, so the members are what is verified: each is extracted into a temporary file in the cache and
its SHA-256 compared with the pinned one before both are renamed into place; the zip is deleted,
and on any failure nothing is left.

Forecasting datasets (`airline`, `shampoo`, `uschange`: `FORECAST_DATASETS`) are one CSV each, looked
up by `locate_forecast(name)` in `$SEQRNN_DATA/series/`, then the cache's `series/` folder, then
downloaded from the sktime repository (a release tag) and checked by SHA-256 as above.

The cache folder also holds prepared data (parsed reviews, tokens, word vectors) under `prepared/`;
see `seqrnn.cache`.
"""

from __future__ import annotations

import contextlib
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


def download_url(dataset: Dataset | SeriesDataset | ForecastDataset) -> str:
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


# --- named series sets (the UCR/UEA time-series classification archive) ---------------------------

SERIES_SUBDIR = "series"  # named series sets live in `$SEQRNN_DATA/series/` and the cache's `series/`
SERIES_SPLITS = ("train", "test")


@dataclass(frozen=True)
class SeriesDataset:
    """A named set of labelled series from the UCR/UEA archive, in the archive's official split:
    `STEM_TRAIN.ts` and `STEM_TEST.ts`. `url` is the archive's zip holding both; `train_sha256` and
    `test_sha256` are the SHA-256 of the two `.ts` files (the zip's own hash is not published, so
    the members are what is checked)."""

    name: str
    stem: str
    url: str
    train_sha256: str
    test_sha256: str

    def filename(self, split: str) -> str:
        """`STEM_TRAIN.ts` or `STEM_TEST.ts`."""
        return f"{self.stem}_{split.upper()}.ts"

    def sha256(self, split: str) -> str:
        return self.train_sha256 if split == "train" else self.test_sha256


_ARCHIVE = "https://www.timeseriesclassification.com/aeon-toolkit"

# The hashes are those of the archive's files as kept in the shared data folder of the workplace
# these sets were checked in (GunPoint 50/150 cases of 150 steps; ItalyPowerDemand 67/1029 of 24;
# BasicMotions 40/40 of 6 channels x 100; JapaneseVowels 270/370 of 12 channels x 7 to 29). Should
# the archive re-release a file, the download is refused and the error says how to supply it.
SERIES_DATASETS: dict[str, SeriesDataset] = {
    d.name: d
    for d in (
        SeriesDataset("gunpoint", "GunPoint", f"{_ARCHIVE}/GunPoint.zip",
                      "f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5",
                      "79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e"),
        SeriesDataset("italypowerdemand", "ItalyPowerDemand", f"{_ARCHIVE}/ItalyPowerDemand.zip",
                      "341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",
                      "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144"),
        SeriesDataset("basicmotions", "BasicMotions", f"{_ARCHIVE}/BasicMotions.zip",
                      "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
                      "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc"),
        SeriesDataset("japanesevowels", "JapaneseVowels", f"{_ARCHIVE}/JapaneseVowels.zip",
                      "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
                      "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"),
    )
}


def is_series_dataset_name(s: object) -> bool:
    """True if `s` names a known series set (exact, lower case)."""
    return isinstance(s, str) and s in SERIES_DATASETS


def locate_series(name: str, split: str, *, download: bool = True) -> Path:
    """The path of the `.ts` file of series set `name`'s `split` ('train' or 'test').

    Looked for as `$SEQRNN_DATA/series/STEM_SPLIT.ts`, then in the cache's `series/` folder, then
    downloaded: the archive's zip is fetched into the cache, both its `.ts` members are streamed into
    temporary files there and checked by SHA-256 (`SeriesDataset.sha256`), then renamed into place
    together, and the zip is deleted. On any failure (network, HTTP, a damaged zip, a missing member,
    a hash mismatch, Ctrl-C) nothing is left in the cache, and one line says where it looked and how
    to supply the files. A file found on disk is used as it is.
    """
    if not is_series_dataset_name(name):
        raise SeqrnnError(f"no such series set: {name!r} (known: {', '.join(SERIES_DATASETS)})")
    if split not in SERIES_SPLITS:
        raise SeqrnnError(f"series set {name!r} has the splits train and test, not {split!r}")
    dataset = SERIES_DATASETS[name]
    data = data_dir()
    for directory in (data, cache_dir()):
        if directory is not None and (directory / SERIES_SUBDIR / dataset.filename(split)).is_file():
            return directory / SERIES_SUBDIR / dataset.filename(split)
    if not download:
        raise SeqrnnError(_series_not_found(dataset, split, "downloading is off"))
    fetch_series(dataset)
    return cache_dir() / SERIES_SUBDIR / dataset.filename(split)


def fetch_series(dataset: SeriesDataset, *, url: str | None = None, progressbar: bool | None = None) -> Path:
    """Download `dataset`'s zip (`url`, default `download_url(dataset)`) and extract its two `.ts`
    files into the cache's `series/` folder, each checked by SHA-256; the folder. See `locate_series`."""
    import logging

    import pooch
    import requests

    url = url or download_url(dataset)
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    folder = cache_dir() / SERIES_SUBDIR
    archive = folder / f".{dataset.stem}.zip.download"

    def hide_hash_advice(record: logging.LogRecord) -> bool:  # pooch's advice to pin the zip's hash
        return not str(record.msg).startswith("SHA256 hash of downloaded file")

    logger = pooch.get_logger()
    logger.addFilter(hide_hash_advice)
    try:
        pooch.retrieve(url, known_hash=None, fname=archive.name, path=folder, progressbar=progressbar)
        _extract_series(dataset, archive, folder)
    except requests.exceptions.RequestException as exc:
        raise SeqrnnError(_series_not_found(dataset, None, f"the download from {url} failed: "
                                            f"{_describe(exc)}")) from exc
    except ValueError as exc:  # an unusable URL
        raise SeqrnnError(_series_not_found(dataset, None, f"cannot download from {url}: "
                                            f"{_first_line(exc)}")) from exc
    except OSError as exc:
        raise SeqrnnRuntimeError(
            f"cannot save series set {dataset.name} into the cache {folder}: {_first_line(exc)}; set "
            f"{CACHE_ENV} to a writable directory, or {_how_to_supply_series(dataset)}") from exc
    finally:
        logger.removeFilter(hide_hash_advice)
        with contextlib.suppress(OSError):  # an unwritable cache has been reported already
            archive.unlink(missing_ok=True)
    return folder


def _extract_series(dataset: SeriesDataset, archive: Path, folder: Path) -> None:
    """Extract both `.ts` members of `archive` (found by name in any folder of the zip) into `folder`,
    each through a temporary file checked by SHA-256; both renamed into place only when both pass."""
    import hashlib
    import zipfile
    import zlib

    def refuse(reason: str) -> SeqrnnError:
        return SeqrnnError(f"series set {dataset.name}: the archive downloaded from {download_url(dataset)} "
                           f"{reason}, so nothing was saved; {_how_to_supply_series(dataset)}")

    temporaries: list[Path] = []
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except zipfile.BadZipFile as exc:
            raise refuse(f"is not a zip archive ({_first_line(exc)})") from exc
        with zf:
            members = {Path(info.filename).name.lower(): info for info in zf.infolist() if not info.is_dir()}
            for split in SERIES_SPLITS:
                wanted = dataset.filename(split)
                info = members.get(wanted.lower())
                if info is None:
                    held = ", ".join(zf.namelist()[:5]) or "nothing"
                    raise refuse(f"has no member {wanted} (it holds {held})")
                fd, name = tempfile.mkstemp(dir=folder, prefix=f".{wanted}.", suffix=".part")
                temporaries.append(Path(name))
                digest = hashlib.sha256()
                try:
                    with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                        while chunk := src.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                        out.flush()
                        os.fsync(out.fileno())
                except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
                    raise refuse(f"is damaged ({_first_line(exc)})") from exc
                if digest.hexdigest() != dataset.sha256(split):
                    raise refuse(f"holds a {wanted} with SHA-256 {digest.hexdigest()}, expected "
                                 f"{dataset.sha256(split)} (corrupted, or changed upstream)")
        for split, tmp in zip(SERIES_SPLITS, temporaries):
            os.replace(tmp, folder / dataset.filename(split))
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)


def _series_not_found(dataset: SeriesDataset, split: str | None, reason: str) -> str:
    data = data_dir()
    names = dataset.filename(split) if split else f"{dataset.filename('train')} and {dataset.filename('test')}"
    where = f"${DATA_ENV}/{SERIES_SUBDIR} ({data / SERIES_SUBDIR})" if data is not None else f"${DATA_ENV} (not set)"
    return (f"series set '{dataset.name}' not found: looked for {names} in {where} and the "
            f"cache ({cache_dir() / SERIES_SUBDIR}), and {reason}; {_how_to_supply_series(dataset)}")


def _how_to_supply_series(dataset: SeriesDataset) -> str:
    return (f"download {dataset.url}, put {dataset.filename('train')} and {dataset.filename('test')} into "
            f"DIR/{SERIES_SUBDIR}/ and set {DATA_ENV} to DIR, or pass a .ts file's path instead of "
            f"'{dataset.name}'")


# --- forecasting datasets (one CSV each) -----------------------------------------------------------

_SKTIME = "https://raw.githubusercontent.com/sktime/sktime/v0.40.1/sktime/datasets/data"


@dataclass(frozen=True)
class ForecastDataset:
    """A named forecasting dataset: one CSV looked up as `$SEQRNN_DATA/series/FILENAME`, then in the
    cache's `series/` folder, else downloaded from `url` (the file as the sktime repository keeps it,
    at a release tag) and checked by `sha256`; read with `time_column`, `targets` and `freq`."""

    name: str
    filename: str
    url: str
    sha256: str
    time_column: str
    targets: tuple[str, ...]
    freq: str


# The hashes are those of the shared copies (Airline 144 months from 1949-01; ShampooSales 36 months
# from 1991-01; Uschange 187 quarters from 1970 Q1 of five series), the same bytes as sktime keeps.
FORECAST_DATASETS: dict[str, ForecastDataset] = {
    d.name: d
    for d in (
        ForecastDataset("airline", "Airline.csv", f"{_SKTIME}/Airline/Airline.csv",
                        "28af0eb869db6d9fbd31d5af03993a0cbf36c0857c3eb046a068c094b60da851", "Date", ("Passengers",),
                        "MS"),
        ForecastDataset("shampoo", "ShampooSales.csv", f"{_SKTIME}/ShampooSales/ShampooSales.csv",
                        "dbf2adba68e2f6bae7956ca65771d7dee20cb58b6eb8261c2513d536ac690774", "Time", ("Sales",), "MS"),
        ForecastDataset("uschange", "Uschange.csv", f"{_SKTIME}/Uschange/Uschange.csv",
                        "ab70b9bf82f99c962041bfd38dc9644f7a17930df71f24345bb71180f68809fe", "Quarter",
                        ("Consumption", "Income", "Production", "Savings", "Unemployment"), "QS"),
    )
}


def is_forecast_dataset_name(s: object) -> bool:
    """True if `s` names a forecasting dataset (exact, lower case)."""
    return isinstance(s, str) and s in FORECAST_DATASETS


def locate_forecast(name: str, *, download: bool = True) -> Path:
    """The path of forecasting dataset `name`'s CSV: found on disk (used as it is), or downloaded
    into the cache's `series/` folder by pooch, which keeps it only if its SHA-256 matches."""
    import pooch
    import requests

    if not is_forecast_dataset_name(name):
        raise SeqrnnError(f"no such forecasting dataset: {name!r} (known: {', '.join(FORECAST_DATASETS)})")
    dataset = FORECAST_DATASETS[name]
    for directory in (data_dir(), cache_dir()):
        if directory is not None and (directory / SERIES_SUBDIR / dataset.filename).is_file():
            return directory / SERIES_SUBDIR / dataset.filename
    folder, url = cache_dir() / SERIES_SUBDIR, download_url(dataset)
    if not download:
        raise SeqrnnError(_forecast_not_found(dataset, "downloading is off"))
    try:
        pooch.retrieve(url, known_hash=f"sha256:{dataset.sha256}", fname=dataset.filename, path=folder,
                       progressbar=sys.stderr.isatty())
    except requests.exceptions.RequestException as exc:
        raise SeqrnnError(_forecast_not_found(dataset, f"the download from {url} failed: {_describe(exc)}")) from exc
    except ValueError as exc:  # pooch's hash mismatch (or an unusable URL)
        got = re.search(r"but got ([0-9a-fA-F]+)", str(exc))
        reason = (f"the file downloaded from {url} has SHA-256 {got.group(1)}, expected {dataset.sha256} (corrupted, "
                  "or changed upstream), so it was not saved" if got else f"cannot download from {url}: "
                  f"{_first_line(exc)}")
        raise SeqrnnError(_forecast_not_found(dataset, reason)) from exc
    except OSError as exc:
        raise SeqrnnRuntimeError(f"cannot save dataset {dataset.name} into the cache {folder}: {_first_line(exc)}; "
                                 f"set {CACHE_ENV} to a writable directory") from exc
    return folder / dataset.filename


def _forecast_not_found(dataset: ForecastDataset, reason: str) -> str:
    data = data_dir()
    where = f"${DATA_ENV}/{SERIES_SUBDIR} ({data / SERIES_SUBDIR})" if data is not None else f"${DATA_ENV} (not set)"
    return (f"dataset '{dataset.name}' not found: looked for {dataset.filename} in {where} and the cache "
            f"({cache_dir() / SERIES_SUBDIR}), and {reason}; download {dataset.url} into DIR/{SERIES_SUBDIR}/ and set "
            f"{DATA_ENV} to DIR, or pass the file's path instead of '{dataset.name}'")
