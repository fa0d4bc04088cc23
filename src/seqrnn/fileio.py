"""Atomic file writes and JSON reading, without heavy imports (the data layer uses them too)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError


_USER_FIXES = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}


def check_output_path(path: str | os.PathLike, name: str = "out") -> Path:
    """`path` as a Path if a file can be written there, else a one-line error (`SeqrnnError`, exit 2)
    naming the parameter `name` and the user's path: a directory, a missing directory under a file,
    or a directory that is not writable (permissions, a read-only file system). Missing directories
    are fine when the nearest existing one is writable (the writer creates them). Every command
    checks its output paths with it before doing any work."""
    out = Path(path)
    if out.is_dir():
        raise SeqrnnError(f"`{name}` {out} is a directory, expected a file")
    for existing in Path(os.path.abspath(out)).parents:
        if existing.exists():
            if not existing.is_dir():
                raise SeqrnnError(f"`{name}` {out}: {existing} is a file, not a directory")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise SeqrnnError(f"`{name}` {out}: the directory {existing} is not writable")
            break
    return out


def _write_error(path: Path, exc: OSError) -> SeqrnnError:
    """A failed write as one line naming `path`, the user's file, never a temporary file's name:
    exit 2 when the user can fix the place (permissions, read-only), 1 otherwise (a full disk)."""
    kind = SeqrnnError if exc.errno in _USER_FIXES else SeqrnnRuntimeError
    return kind(f"cannot write {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO]:
    """A file to write that appears at `path` only once the block ends without an error: a
    temporary file in the same directory, fsynced and renamed (an error or a kill leaves `path` as it
    was). It gets the umask's permissions, like any other tool's file (mkstemp alone would make it 0600).
    Failing to create, sync or rename it is a one-line `SeqrnnError` naming `path` (`_write_error`)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_args) as f:
            yield f
            try:
                f.flush()
                os.fsync(f.fileno())
            except OSError as exc:
                raise _write_error(path, exc) from None
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (`atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqrnnError(f"{path}: missing") from None
    except IsADirectoryError:
        raise SeqrnnError(f"{path}: is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SeqrnnError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:  # Python's parser recurses once per level
        raise SeqrnnError(f"{path}: JSON nested too deeply to read") from None
