"""A cache of prepared data (parsed reviews, tokenized texts, word vectors), so that a repeated run
skips work it has done before.

Entries live in `cache_dir() / "prepared"` (`$SEQRNN_CACHE`, else the platform's user
cache) as `KIND-KEY.npz`, or, for arrays read through memory maps (token streams), as a folder
`KIND-KEY/` of raw `.bin` files and a `meta.json` (`array_folder`). KEY is a SHA-256 of the input's content (a file's bytes, the texts
themselves, token ids) and of a version string of the code that made the entry, so a changed input
or a changed tokenizer is a different key and never reads stale data. Entries are written atomically
(`fileio.atomic_write_bytes`) and read with `np.load(allow_pickle=False)` plus a JSON header that
names the entry: nothing is ever unpickled. Strings are stored as UTF-8 bytes with offsets.

The cache is best effort. A missing, corrupt or partial entry is a miss: the work is redone and
the entry rewritten. A cache that cannot be written (read-only directory, full disk) is skipped
without a word. Inputs under MIN_INPUT_BYTES are not cached (redoing them is cheaper), and once the
folder holds more than MAX_BYTES the least recently used entries are removed.

Set `SEQRNN_NO_CACHE=1` to neither read nor write the cache.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import platformdirs

try:
    import fcntl
except ImportError:  # not a POSIX system: entries are not locked while built
    fcntl = None  # type: ignore[assignment]

from seqrnn.errors import SeqrnnError
from seqrnn.fileio import atomic_write_bytes

CACHE_ENV = "SEQRNN_CACHE"
NO_CACHE_ENV = "SEQRNN_NO_CACHE"
SUBDIR = "prepared"
FORMAT = 1  # the layout of an entry file; part of every key
MIN_INPUT_BYTES = 1 << 20
MAX_BYTES = 2 << 30

T = TypeVar("T")
Arrays = dict[str, np.ndarray]


def enabled() -> bool:
    """False when `$SEQRNN_NO_CACHE` is set to anything but '' or '0'."""
    return os.environ.get(NO_CACHE_ENV, "") in ("", "0")


def cache_dir() -> Path:
    """Where downloads go: `$SEQRNN_CACHE`, else the platform's user cache for seqrnn."""
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(os.path.abspath(os.path.expanduser(value)))
    return Path(platformdirs.user_cache_dir("seqrnn"))


def directory() -> Path:
    """The folder of the cache entries."""
    return cache_dir() / SUBDIR


# --- keys -------------------------------------------------------------------------------------------


def _hasher(parts: Iterable[object]):
    """SHA-256 over the format and `parts` (str, bytes, int, float or array), each tagged with its
    type and length so that different part lists never hash alike."""
    h = hashlib.sha256(f"seqrnn-cache-{FORMAT}".encode())
    for part in parts:
        if isinstance(part, np.generic):
            part = part.item()
        if isinstance(part, np.ndarray):
            part = np.ascontiguousarray(part)
            h.update(f"\0array {part.dtype.str} {part.shape}\0".encode())
            h.update(memoryview(part).cast("B"))
            continue
        if isinstance(part, (int, float)) and not isinstance(part, bool):
            data = repr(part).encode()
        elif isinstance(part, str):
            data = part.encode("utf-8", "surrogatepass")
        elif isinstance(part, bytes):
            data = part
        else:
            raise TypeError(f"cannot key a cache entry on {type(part).__name__}")
        h.update(f"\0{type(part).__name__} {len(data)}\0".encode())
        h.update(data)
    return h


def key(*parts: object) -> str | None:
    """The key of an entry computed from `parts` (strings, numbers, arrays); None (do not cache) when
    the cache is off or the arrays hold under MIN_INPUT_BYTES."""
    size = sum(p.nbytes for p in parts if isinstance(p, np.ndarray))
    if not enabled() or size < MIN_INPUT_BYTES:
        return None
    return _hasher(parts).hexdigest()


def key_of(*parts: object) -> str:
    """The key of an entry made from `parts`, whatever their size (a part that is itself a key has
    had its size checked)."""
    return _hasher(parts).hexdigest()


def file_key(path: Path, *parts: object) -> str | None:
    """The key of an entry made from the file at `path` (its bytes) and `parts`; None when the cache
    is off or the file is under MIN_INPUT_BYTES."""
    if not enabled() or path.stat().st_size < MIN_INPUT_BYTES:
        return None
    content = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            content.update(chunk)
    return _hasher((content.digest(), *parts)).hexdigest()


def texts_key(texts: Sequence[str], *parts: object) -> str | None:
    """The key of an entry made from `texts` (their characters and boundaries) and `parts`; None when
    the cache is off or the texts hold under MIN_INPUT_BYTES characters."""
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    if not enabled() or int(lengths.sum()) < MIN_INPUT_BYTES:
        return None
    content = hashlib.sha256()
    for text in texts:  # the UTF-8 of the concatenation plus the lengths identify the texts
        content.update(text.encode("utf-8", "surrogatepass"))
    return _hasher((content.digest(), lengths, *parts)).hexdigest()


# --- entries ----------------------------------------------------------------------------------------


def cached(kind: str, entry_key: str | None, compute: Callable[[], T], encode: Callable[[T], Arrays],
           decode: Callable[[Arrays], T]) -> T:
    """`compute()`, or its value from the cache entry `kind`-`entry_key` (`None`: not cached).

    `encode` turns a value into named arrays, `decode` turns them back; an entry that `decode`
    rejects (any exception) is treated as missing and rewritten.
    """
    if entry_key is None or not enabled():
        return compute()
    path = directory() / f"{kind}-{entry_key}.npz"
    arrays = _load(path, kind, entry_key)
    if arrays is not None:
        try:
            return decode(arrays)
        except Exception:  # a damaged entry is a miss
            pass
    value = compute()
    _save(path, kind, entry_key, encode(value))
    return value


def _header(kind: str, entry_key: str) -> dict:
    return {"format": FORMAT, "kind": kind, "key": entry_key}


def _load(path: Path, kind: str, entry_key: str) -> Arrays | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    except Exception:  # missing, truncated, not a zip, not our layout, bad JSON: a miss
        return None
    if header != _header(kind, entry_key):
        return None
    try:
        os.utime(path)  # the last use, for evicting the least recently used entries
    except OSError:
        pass
    return arrays


def _save(path: Path, kind: str, entry_key: str, arrays: Mapping[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    header = np.frombuffer(json.dumps(_header(kind, entry_key)).encode("utf-8"), dtype=np.uint8)
    np.savez(buffer, header=header, **arrays)
    try:
        atomic_write_bytes(path, buffer.getbuffer())
        _evict(path.parent, keep=path)
    except (OSError, SeqrnnError):  # a read-only or full cache must not fail the run (fileio names the path)
        pass


def _evict(folder: Path, keep: Path) -> None:
    """Remove the least recently used entries (files and array folders) while the folder holds more
    than MAX_BYTES."""
    entries = []
    for entry in os.scandir(folder):
        if entry.name.startswith("."):
            continue
        if entry.name.endswith(".npz") and entry.is_file():
            stat = entry.stat()
            entries.append((stat.st_mtime, stat.st_size, entry.path))
        elif entry.is_dir():
            meta = Path(entry.path) / "meta.json"
            if meta.is_file():
                size = sum(f.stat().st_size for f in os.scandir(entry.path) if f.is_file())
                entries.append((meta.stat().st_mtime, size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, file in sorted(entries):
        if total <= MAX_BYTES:
            break
        if file != str(keep):
            if os.path.isdir(file):
                shutil.rmtree(file, ignore_errors=True)
            else:
                Path(file).unlink(missing_ok=True)
            total -= size


# --- arrays read through memory maps ----------------------------------------------------------------


def array_folder(kind: str, entry_key: str | None, build) -> tuple[dict, Path]:
    """(meta, folder) of the entry `kind`-`entry_key`: a folder of raw arrays and its `meta.json`.

    A missing entry is made by `build(folder)`, which writes the arrays into a fresh temporary
    folder and returns their description (JSON); the folder is then renamed into place, so a
    process killed or interrupted while building leaves no entry (its temporary folder is removed).
    With no key, the cache off or a cache that cannot be written, the arrays live in a temporary
    folder removed when the process ends.
    """
    if entry_key is not None and enabled():
        found = find_array_folder(kind, entry_key)
        if found is not None:
            return found
        final = directory() / f"{kind}-{entry_key}"
        try:
            with _building(final):  # one process builds, the others wait, then read its entry
                found = find_array_folder(kind, entry_key)
                if found is not None:
                    return found
                return _build_into(final, kind, entry_key, build)
        except _Unwritable:
            pass
    scratch = Path(tempfile.mkdtemp(prefix=f"seqrnn-{kind}-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    try:
        return build(scratch), scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def mapped_entry(kind: str, entry_key: str | None, build, read: Callable[[dict, Path], T]) -> T:
    """`read(meta, folder)` of the entry `array_folder(kind, entry_key, build)` makes or finds; an
    entry that `read` finds damaged (OSError, ValueError, KeyError) is removed and built again, once."""
    for attempt in range(2):
        meta, folder = array_folder(kind, entry_key, build)
        try:
            return read(meta, folder)
        except (OSError, ValueError, KeyError):
            if attempt or entry_key is None or not enabled():
                raise
            shutil.rmtree(folder, ignore_errors=True)
    raise AssertionError("unreachable")


class _Unwritable(Exception):
    """The cache folder cannot be written: build outside it."""


@contextlib.contextmanager
def _building(final: Path) -> Iterator[None]:
    """An exclusive lock (`fcntl.flock`) on FOLDER.lock beside the entry `final` while it is built:
    torchrun's ranks, or two runs on the same file, make one entry once. Where flock is missing
    (Windows), nothing is locked and the rename in `_build_into` settles a race."""
    lock = final.with_name(f".{final.name}.lock")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a")
    except OSError:
        raise _Unwritable from None
    with f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)  # a process still waiting on it finds the entry made


def _build_into(final: Path, kind: str, entry_key: str, build) -> tuple[dict, Path]:
    """`build` into a fresh temporary folder beside `final`, renamed into place when complete."""
    try:
        scratch = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=final.parent))
    except OSError:
        raise _Unwritable from None
    try:
        meta = build(scratch)
        (scratch / "meta.json").write_text(json.dumps({**_header(kind, entry_key), "meta": meta}))
        try:
            os.rename(scratch, final)
        except OSError:  # another process made it meanwhile (or the rename is refused)
            if _read_meta(final, kind, entry_key) is None:
                raise
            shutil.rmtree(scratch, ignore_errors=True)
        _evict(final.parent, keep=final)
        return meta, final
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def find_array_folder(kind: str, entry_key: str) -> tuple[dict, Path] | None:
    """(meta, folder) of the entry `kind`-`entry_key` when the cache holds it, else None (nothing is made)."""
    if not enabled():
        return None
    folder = directory() / f"{kind}-{entry_key}"
    meta = _read_meta(folder, kind, entry_key)
    return None if meta is None else (meta, folder)


def _read_meta(folder: Path, kind: str, entry_key: str) -> dict | None:
    try:
        saved = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or {k: saved.get(k) for k in _header(kind, entry_key)} != _header(kind, entry_key):
        return None
    try:
        os.utime(folder / "meta.json")  # the last use, for evicting the least recently used entries
    except OSError:
        pass
    return saved.get("meta")


def map_array(path: Path, dtype: str, count: int) -> np.ndarray:
    """The `count` values of `dtype` in the file at `path`, read-only through a memory map (a file of
    another size is refused: a damaged entry)."""
    dtype = np.dtype(dtype)
    if path.stat().st_size != count * dtype.itemsize:
        raise ValueError(f"{path}: {path.stat().st_size} bytes, expected {count * dtype.itemsize}")
    if count == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))


# --- strings as arrays ------------------------------------------------------------------------------


def pack_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The strings as one uint8 array of UTF-8 and n + 1 int64 byte offsets."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def unpack_strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    """The strings of `pack_strings`; ValueError if the offsets do not fit the bytes."""
    if blob.dtype != np.uint8 or offsets.dtype != np.int64 or offsets.ndim != 1 or len(offsets) < 1:
        raise ValueError("not packed strings")
    if offsets[0] != 0 or offsets[-1] != len(blob) or (np.diff(offsets) < 0).any():
        raise ValueError("string offsets do not fit the bytes")
    data = memoryview(np.ascontiguousarray(blob))
    bounds = offsets.tolist()
    return [str(data[a:b], "utf-8", "surrogatepass") for a, b in zip(bounds[:-1], bounds[1:])]
