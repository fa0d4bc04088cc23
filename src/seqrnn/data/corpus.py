"""Text corpora as streams of character ids on disk, encoded once, in chunks, and read through a
memory map, so that memory does not grow with the corpus (nanoGPT's `prepare.py` -> `train.bin`).

A `TextSource` is a corpus to read in chunks: a file (UTF-8 with universal newlines, as
`read_text` reads it; or bytes as Latin-1 characters, as enwik8 is read) or a string already in
memory. `char_streams` reads it twice, chunk by chunk:

1. the characters of the training part (the first `1 - val_fraction` of the corpus, or the named
   split's training range) become the vocabulary, in code-point order, with the first position of
   each character, so the part's end need not be known in advance;
2. every character becomes its id in the smallest unsigned type that holds the vocabulary
   (uint8 for up to 256 characters), written to `train.bin` and `val.bin`; held-out characters the
   vocabulary lacks are skipped, as `CharVocabulary.encode(unknown="skip")` skips them.

The files go into the prepared-data cache (`seqrnn.cache`), keyed by the source's content, the split
and the code's version, so a second run maps them at once. Without a cache (off, unwritable) they go
to a temporary folder removed when the process ends; a source under `cache.MIN_INPUT_BYTES` is
encoded in memory. The ids are the same as `CharVocabulary.build(train).encode(...)` gives for the
whole text in memory; a test checks it across chunk boundaries.

Whole files are read by `read_text` where a cut needs the whole text first: the Project Gutenberg
header and footer (`strip_gutenberg`) and the book's cut of *Hamlet* (`hamlet_cut`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from seqrnn import cache
from seqrnn.data.datasets import locate, named_splits
from seqrnn.data.records import convert_hint, decode_utf8
from seqrnn.errors import SeqrnnError
from seqrnn.progress import Progress
from seqrnn.text.vocabulary import CharVocabulary, smallest_dtype

CHUNK_CHARS = 1 << 23  # characters decoded and encoded at a time: memory per chunk is ~20 bytes each
STREAMS_VERSION = "chars-1"  # part of the cache key: change it when the encoding changes
MAX_CODE_POINT = 0x10FFFF


@dataclass(frozen=True)
class TextSource:
    """A corpus read in chunks: the file at `path`, or `text` in memory.

    `encoding` is "utf-8" (universal newlines, a leading byte-order mark dropped) or "latin-1"
    (every byte one character, nothing translated: enwik8). `splits`, when given, fixes the
    character ranges of the parts ({"train": (start, stop), "val": ..., "test": ...}) in place of
    `val_fraction`.
    """

    path: Path | None = None
    text: str | None = None
    encoding: str = "utf-8"
    splits: dict[str, tuple[int, int]] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.text is None):
            raise ValueError("a TextSource is a path or a text, not both")
        if self.encoding not in ("utf-8", "latin-1"):
            raise ValueError(f"unknown encoding {self.encoding!r}")

    @property
    def size(self) -> int:
        """Bytes of the file, or characters of the text (what progress counts)."""
        return len(self.text) if self.text is not None else self.path.stat().st_size

    def key_parts(self) -> tuple[str, ...]:
        """What identifies the content, for the cache key (a hash of the file's bytes or the text)."""
        digest = hashlib.sha256()
        if self.text is not None:
            digest.update(self.text.encode("utf-8", "surrogatepass"))
        else:
            with open(self.path, "rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
        return (digest.hexdigest(), self.encoding, json.dumps(self.splits, sort_keys=True))

    def chunks(self, size: int | None = None) -> Iterator[tuple[np.ndarray, int]]:
        """(code points of up to `size` characters (default `CHUNK_CHARS`) as uint32, or uint8 for
        Latin-1; the progress so far in bytes of the file or characters of the text)."""
        size = size or CHUNK_CHARS
        if self.text is not None:
            for start in range(0, len(self.text), size):
                part = self.text[start : start + size]
                yield np.frombuffer(part.encode("utf-32-le", "surrogatepass"), dtype="<u4"), start + len(part)
            return
        if self.encoding == "latin-1":
            with open(self.path, "rb") as f:
                while data := f.read(size):
                    yield np.frombuffer(data, dtype=np.uint8), f.tell()
            return
        yield from _utf8_chunks(self.path, size)


def _utf8_chunks(path: Path, size: int) -> Iterator[tuple[np.ndarray, int]]:
    """The file's characters as `read_text` reads them (universal newlines, no byte-order mark),
    one chunk at a time, with one-line errors for what is not UTF-8 text."""
    with open(path, "rb") as raw:
        head = raw.read(4)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SeqrnnError(f"{path}: UTF-16 text, expected UTF-8; {convert_hint(path, 'utf-16')}")
    with open(path, encoding="utf-8-sig", newline=None) as f:
        while True:
            try:
                text = f.read(size)
            except UnicodeDecodeError as exc:
                raise SeqrnnError(f"{path}: not valid UTF-8 (byte {exc.object[exc.start:exc.start + 1]!r} near byte "
                                  f"{f.buffer.tell()}); {convert_hint(path)}") from None
            if not text:
                return
            nul = text.find("\0")
            if nul >= 0:
                raise SeqrnnError(f"{path}: looks like a binary file (a NUL character), expected UTF-8 text")
            yield np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4"), f.buffer.tell()


@dataclass
class CharStreams:
    """A corpus as character ids: `train` and `val` (arrays or read-only memory maps), the
    vocabulary of the training part, and the characters each part had (`val` drops those the
    vocabulary lacks)."""

    vocab: CharVocabulary
    train: np.ndarray
    val: np.ndarray
    train_chars: int
    val_chars: int


def char_streams(source: TextSource, val_fraction: float, limit: int | None = None,
                 vocab: CharVocabulary | None = None, quiet: bool = False) -> CharStreams:
    """The training and held-out streams of `source`: its last `val_fraction` held out (or its named
    splits), the first `limit` characters only when given. `vocab` (a resumed run's) is used as it
    is; otherwise the training part's characters make it. See the module docstring."""
    if source.size < cache.MIN_INPUT_BYTES:  # small: in memory
        writers = {"train": _Writer(None), "val": _Writer(None)}
        meta = _encode(source, val_fraction, limit, vocab, writers, quiet)
        arrays = {name: w.array(np.dtype(meta["dtype"])) for name, w in writers.items()}
    else:
        def build(folder: Path) -> dict:
            writers = {name: _Writer(folder / f"{name}.bin") for name in ("train", "val")}
            return _encode(source, val_fraction, limit, vocab, writers, quiet)

        found = None
        if cache.enabled():  # keyed by the content: hashing it is a pass over the file, worth it only then
            parts = (STREAMS_VERSION, repr(float(val_fraction)), repr(limit), *source.key_parts())
            if vocab is not None:  # the entry of the first run, when it was built with this vocabulary
                found = cache.find_array_folder("stream", cache.key_of(*parts))
                if found is not None and found[0]["chars"] != vocab.chars:
                    found = None
            entry_key = cache.key_of(*parts, *([] if vocab is None else ["vocab", *vocab.chars]))
        else:
            entry_key = None
        def mapped(meta: dict, folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
            return meta, {name: cache.map_array(folder / f"{name}.bin", meta["dtype"], meta[name])
                          for name in ("train", "val")}

        result = None
        if found is not None:
            try:
                result = mapped(*found)
            except (OSError, ValueError, KeyError):  # damaged: made again below
                result = None
        meta, arrays = result or cache.mapped_entry("stream", entry_key, build, mapped)
    if len(arrays["train"]) < 1:
        raise SeqrnnError("the training part of the corpus is empty")
    return CharStreams(vocab or CharVocabulary(meta["chars"]), arrays["train"], arrays["val"], meta["train_chars"],
                       meta["val_chars"])


def encode_chars(source: TextSource, vocab: CharVocabulary, part: str | None = None,
                 quiet: bool = False) -> tuple[np.ndarray, int, int]:
    """The ids of `source`'s characters (of its named split `part` when given) that `vocab` knows,
    the characters read, and how many of them were unknown (skipped): what `evaluate` reads."""
    span = (source.splits or {}).get(part) if part else None
    table = _id_table(vocab)
    dtype = smallest_dtype(len(vocab))
    pieces, read, unknown = [], 0, 0
    with Progress("encode", source.size, unit="B" if source.path else "char", quiet=quiet) as progress:
        position = 0
        for codes, done in source.chunks():
            lo, hi = position, position + len(codes)
            position = hi
            if span is not None:
                codes = codes[max(0, span[0] - lo) : max(0, min(len(codes), span[1] - lo))]
            ids = _lookup(table, codes)
            known = ids >= 0
            pieces.append(ids[known].astype(dtype))
            read, unknown = read + len(codes), unknown + int((~known).sum())
            progress.update_to(done)
            if span is not None and hi >= span[1]:
                break
    return (np.concatenate(pieces) if pieces else np.zeros(0, dtype)), read, unknown


# --- the two passes ---------------------------------------------------------------------------------


def _ranges(source: TextSource, total: int, val_fraction: float, limit: int | None) -> tuple[tuple, tuple]:
    """(train, val) character ranges of a corpus of `total` characters."""
    if source.splits:
        (a, b), val = source.splits["train"], source.splits["val"]
        return (a, min(b, a + limit) if limit else b), val
    n = min(total, limit) if limit else total
    cut = n - int(round(n * val_fraction))
    return (0, cut), (cut, n)


def _first_positions(source: TextSource, quiet: bool) -> tuple[np.ndarray, int]:
    """Pass 1: the first position of every code point (-1: absent) and the number of characters."""
    first = np.full(MAX_CODE_POINT + 1, -1, dtype=np.int64)
    position = 0
    with Progress("read", source.size, unit="B" if source.path else "char", quiet=quiet) as progress:
        for codes, done in source.chunks():
            present = np.flatnonzero(np.bincount(codes))
            new = present[first[present] < 0]
            if len(new):
                where = np.flatnonzero(np.isin(codes, new))
                found, index = np.unique(codes[where], return_index=True)
                first[found] = position + where[index]
            position += len(codes)
            progress.update_to(done)
    return first, position


def _id_table(vocab: CharVocabulary) -> np.ndarray:
    codes = np.array([ord(c) for c in vocab.chars], dtype=np.int64)
    table = np.full(int(codes.max(initial=0)) + 1, -1, dtype=np.int32)
    table[codes] = np.arange(len(codes), dtype=np.int32)
    return table


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Ids of code points (-1 for those the table lacks)."""
    inside = codes < len(table)
    if inside.all():
        return table[codes]
    ids = np.full(len(codes), -1, dtype=np.int32)
    ids[inside] = table[codes[inside]]
    return ids


def _encode(source: TextSource, val_fraction: float, limit: int | None, vocab: CharVocabulary | None,
            writers: dict[str, "_Writer"], quiet: bool) -> dict:
    """Both passes: the vocabulary (unless given) and the ids of each part, written to `writers`."""
    first, total = _first_positions(source, quiet)
    if total == 0:
        raise SeqrnnError(f"{source.path or 'the text'}: the corpus is empty")
    (train_start, train_stop), (val_start, val_stop) = _ranges(source, total, val_fraction, limit)
    if vocab is None:
        if train_start == 0:  # the characters first seen before the training part ends
            in_train = np.flatnonzero((first >= 0) & (first < train_stop))
        else:  # a named split not at the start: first positions do not tell what it holds
            in_train = _codes_in_range(source, train_start, train_stop)
        vocab = CharVocabulary(chr(c) for c in in_train.tolist())
    table, dtype = _id_table(vocab), smallest_dtype(len(vocab))
    train, val = writers["train"], writers["val"]
    position, unknown_in_train = 0, 0
    with Progress("encode", source.size, unit="B" if source.path else "char", quiet=quiet) as progress:
        for codes, done in source.chunks():
            lo = position
            position += len(codes)
            for out, (a, b), is_train in ((train, (train_start, train_stop), True), (val, (val_start, val_stop), False)):
                part = codes[max(0, a - lo) : max(0, min(len(codes), b - lo))]
                if not len(part):
                    continue
                ids = _lookup(table, part)
                known = ids >= 0
                if is_train:
                    unknown_in_train += int((~known).sum())
                out.append(ids[known].astype(dtype))
            progress.update_to(done)
    if unknown_in_train:
        raise SeqrnnError(f"the training text holds {unknown_in_train} character(s) the saved vocabulary lacks: "
                          "a resumed run must train on the same text")
    return {"chars": vocab.chars, "dtype": dtype.str, "train": train.close(), "val": val.close(),
            "train_chars": train_stop - train_start, "val_chars": val_stop - val_start}


def _codes_in_range(source: TextSource, start: int, stop: int) -> np.ndarray:
    """The distinct code points of characters start..stop-1."""
    seen = np.zeros(MAX_CODE_POINT + 1, dtype=bool)
    position = 0
    for codes, _ in source.chunks():
        lo = position
        position += len(codes)
        part = codes[max(0, start - lo) : max(0, min(len(codes), stop - lo))]
        seen[np.unique(part)] = True
        if position >= stop:
            break
    return np.flatnonzero(seen)


class _Writer:
    """Appends arrays to a file (or to memory); `close` gives their count."""

    def __init__(self, path: Path | None):
        self.path, self.count, self.pieces = path, 0, []
        self.file = open(path, "wb") if path is not None else None

    def append(self, array: np.ndarray) -> None:
        self.count += len(array)
        if self.file is not None:
            self.file.write(memoryview(np.ascontiguousarray(array)).cast("B"))
        else:
            self.pieces.append(array)

    def close(self) -> int:
        if self.file is not None:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        return self.count

    def array(self, dtype: np.dtype) -> np.ndarray:
        """What was appended, in memory."""
        return np.concatenate(self.pieces) if self.pieces else np.zeros(0, dtype)


def text_source(target: str, strip_gutenberg: bool = False) -> TextSource:
    """What `--text` names, as a source to read in chunks: a named corpus (`hamlet`, cut the book's
    way, and `tinyshakespeare`, read whole; `enwik8`, its bytes as characters, with its standard
    90/5/5 M split) or a UTF-8 file, streamed (read whole when `strip_gutenberg` asks for the
    Project Gutenberg markers to be found)."""

    path, name = locate(target)
    splits = named_splits(name) if name else None
    if splits:
        return TextSource(path=path, encoding="latin-1", splits=splits)
    if name == "hamlet" or strip_gutenberg:
        return TextSource(text=read_corpus(path, name, strip_gutenberg)[0])
    if path.is_dir():
        raise SeqrnnError(f"{path}: is a directory, expected a text file")
    if not path.is_file():
        raise SeqrnnError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise SeqrnnError(f"{path}: the file is empty")
    return TextSource(path=path)


def as_source(text: "str | os.PathLike | TextSource") -> TextSource:
    """A corpus given to the library: a string (the text itself), a path (a UTF-8 file, streamed) or
    a `TextSource`."""
    if isinstance(text, TextSource):
        return text
    if isinstance(text, str):
        return TextSource(text=text)
    if isinstance(text, os.PathLike):
        return TextSource(path=Path(text))
    raise TypeError(f"expected the text (a str), a path or a TextSource, got {type(text).__name__}")


HAMLET_OFFSET = 15858  # the book's cut of pg2265.txt: the play starts here


def _read_utf8(path: Path) -> str:
    """The file as text (universal newlines, like open(..., encoding='utf-8')), or a one-line error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SeqrnnError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SeqrnnError(f"{path}: is a directory, expected a text file") from None
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise SeqrnnError(f"{path}: the file is empty")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SeqrnnError(f"{path}: UTF-16 text, expected UTF-8; {convert_hint(path, 'utf-16')}")
    nul = data.find(b"\0")
    if nul >= 0:
        raise SeqrnnError(f"{path}: looks like a binary file (NUL byte at offset {nul}), expected UTF-8 text")
    text = decode_utf8(data, str(path), path)
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_text(path: str | os.PathLike, strip_gutenberg: bool = False) -> str:
    """A UTF-8 text file; with `strip_gutenberg`, without the Project Gutenberg header and footer."""
    path = Path(path)
    text = _read_utf8(path)
    return _strip_gutenberg(text, path) if strip_gutenberg else text


# Modern files: "*** START OF THE PROJECT GUTENBERG EBOOK X ***" ... "*** END OF THE PROJECT ...".
# Old files (pg2265, 1990s): a licence ending "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*...*END*",
# and optionally "End of [the] Project Gutenberg Etext ..." after the text.
_START = re.compile(r"^\*{3} ?START OF (THE|THIS) PROJECT GUTENBERG.*$|^\*END\*THE SMALL PRINT!.*$",
                    re.IGNORECASE | re.MULTILINE)


_END = re.compile(r"^\*{3} ?END OF (THE|THIS) PROJECT GUTENBERG.*$|^End of (the )?Project Gutenberg.*$",
                  re.IGNORECASE | re.MULTILINE)


def _strip_gutenberg(text: str, path: Path) -> str:
    start = _START.search(text)
    if start is None:
        raise SeqrnnError(f"{path}: no Project Gutenberg header found ('*** START OF THE PROJECT GUTENBERG ...' "
                          f"or '*END*THE SMALL PRINT!'); drop `strip_gutenberg`")
    body_start = start.end()
    end = _END.search(text, body_start)
    body = text[body_start:end.start() if end else len(text)].strip("\n")
    if not body.strip():
        raise SeqrnnError(f"{path}: nothing left after removing the Project Gutenberg header and footer")
    return body + "\n"


def hamlet_cut(text: str) -> str:
    """The book's cut of pg2265.txt: `text[15858:]`, where the play starts."""
    if len(text) <= HAMLET_OFFSET:
        raise SeqrnnError(f"text of {len(text)} characters is too short for the hamlet cut at {HAMLET_OFFSET}")
    return text[HAMLET_OFFSET:]


def read_corpus(path: Path, name: str | None, strip_gutenberg: bool = False) -> tuple[str, str | None]:
    """The text of the corpus at `path` (`name`: the dataset name it was found by, or None) and the
    cut applied to it: the named `hamlet` is cut the book's way, text[15858:], unless
    `strip_gutenberg` asks for the Gutenberg markers to be used instead."""
    text = read_text(path, strip_gutenberg=strip_gutenberg)
    if name == "hamlet" and not strip_gutenberg:
        return hamlet_cut(text), f"text[{HAMLET_OFFSET}:]"
    return text, None


def load_text(target: str, strip_gutenberg: bool = False) -> str:
    """A text file, or a named corpus (found or downloaded; see `read_corpus` for `hamlet`)."""
    path, name = locate(target)
    return read_corpus(path, name, strip_gutenberg)[0]
