"""Reading the data: IMDb reviews (aclImdb directory, its .tar.gz, or a review/sentiment CSV) and
UTF-8 text corpora (optionally without their Project Gutenberg licence header and footer).

The .tar.gz is read straight from the archive in one sequential pass, never extracted: zlib
inflates it in large chunks and the 512-byte tar headers are parsed here (ustar, GNU long names,
pax path/size records). Python's `tarfile` in streaming mode spends most of its time on per-member
bookkeeping (3.6 s for the 75,005 members of aclImdb_train.tar.gz against 0.9 s here; with a large
`bufsize` its buffer handling turns quadratic, 19 s). Members of unwanted splits are skipped
without being decoded.

Every problem with the input raises SeqrnnError with one line naming the file; nothing is written.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from seqrnn.errors import SeqrnnError

SPLITS = ("train", "test", "unsup")
LABELS = {"neg": 0, "pos": 1, "unsup": -1}
HAMLET_OFFSET = 15858  # the book's cut of pg2265.txt: the play starts here

# aclImdb/{train,test}/{pos,neg}/ID_RATING.txt and aclImdb/train/unsup/ID_0.txt
_REVIEW_DIRS = (("train", "neg"), ("train", "pos"), ("test", "neg"), ("test", "pos"), ("train", "unsup"))
_REVIEW_NAME = re.compile(r"(\d+)_(\d+)\.txt")
_LAYOUT = "aclImdb/{train,test}/{pos,neg}/ID_RATING.txt or aclImdb/train/unsup/ID_0.txt"


@dataclass
class Reviews:
    """Movie reviews in a fixed order: by split (train, test, unsup), label (neg, pos), then id.

    labels: 1 positive, 0 negative, -1 unlabelled; splits: 'train' / 'test' / 'unsup';
    ids: the number in the file name (the row index for a CSV); ratings: the star rating 1-10
    from the file name, -1 when there is none (unsup reviews, CSV rows).
    """

    texts: list[str]
    labels: np.ndarray
    splits: np.ndarray
    ids: np.ndarray
    ratings: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.texts)
        for name in ("labels", "splits", "ids", "ratings"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Reviews: {name} has {len(getattr(self, name))} entries for {n} texts")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def splits_present(self) -> list[str]:
        """The splits that have at least one review, in the order train, test, unsup."""
        present = set(np.unique(self.splits).tolist())
        return [s for s in SPLITS if s in present]

    def subset(self, mask_or_indices) -> "Reviews":
        """The reviews selected by a boolean mask or by integer indices (in that order)."""
        index = np.asarray(mask_or_indices)
        if index.dtype == bool:
            if len(index) != len(self):
                raise ValueError(f"mask has {len(index)} entries for {len(self)} reviews")
            index = np.flatnonzero(index)
        elif index.size == 0:
            index = index.astype(np.int64)
        texts = self.texts
        return Reviews([texts[i] for i in index.tolist()], self.labels[index], self.splits[index],
                       self.ids[index], self.ratings[index])


# --- IMDb ---------------------------------------------------------------------------------------


def read_imdb(path: str | os.PathLike, splits: Iterable[str] | None = None) -> Reviews:
    """Reviews from an aclImdb directory (or one holding aclImdb/), a .tar.gz of it, or a CSV with
    columns review,sentiment (all rows split 'train'). `splits` restricts what is loaded."""
    path = Path(path)
    wanted = _check_splits(splits)
    if not path.exists():
        raise SeqrnnError(f"{path}: no such file or directory")
    if path.is_dir():
        groups, present = _read_imdb_dir(path, wanted)
    else:
        kind = _sniff(path)
        if kind == "csv":
            return _read_csv(path, wanted)
        if kind is None:
            raise SeqrnnError(f"{path}: not an aclImdb directory, .tar.gz archive or review,sentiment CSV")
        groups, present = _read_imdb_tar(path, wanted, gzipped=kind == "gz")
    if not present:
        raise SeqrnnError(f"{path}: no IMDb reviews found (expected {_LAYOUT})")
    reviews = _assemble(groups)
    if not len(reviews):
        raise SeqrnnError(f"{path}: no {'/'.join(wanted)} reviews (present: {', '.join(s for s in SPLITS if s in present)})")
    return reviews


def _check_splits(splits) -> tuple[str, ...]:
    if splits is None:
        return SPLITS
    if isinstance(splits, str):
        splits = (splits,)
    splits = tuple(splits)
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise SeqrnnError(f"unknown split {bad[0] if bad else '(none)'!r}: choose from {', '.join(SPLITS)}")
    return splits


def _sniff(path: Path) -> str | None:
    """'gz', 'tar', 'csv' or None, from the file's first bytes (and name, for a CSV)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head[:2] == b"\x1f\x8b":
        return "gz"
    if len(head) == 512 and head[257:262] == b"ustar":
        return "tar"
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.name.lower().endswith((".tar.gz", ".tgz")):
        raise SeqrnnError(f"{path}: not a gzip file (corrupt or mislabelled archive)")
    return None


def _split_of(top: str, label: str) -> str | None:
    if label == "unsup":
        return "unsup" if top == "train" else None
    return top if label in ("pos", "neg") and top in ("train", "test") else None


def _assemble(groups: dict[tuple[str, str], list[tuple[int, int, str]]]) -> Reviews:
    """Reviews from {(split, label): [(id, rating, text)]} in the canonical order."""
    texts, labels, splits, ids, ratings = [], [], [], [], []
    for split, label in (("train", "neg"), ("train", "pos"), ("test", "neg"), ("test", "pos"), ("unsup", "unsup")):
        rows = sorted(groups.get((split, label), ()), key=lambda r: r[0])
        if not rows:
            continue
        texts += [r[2] for r in rows]
        ids.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        ratings.append(np.fromiter((r[1] if label != "unsup" else -1 for r in rows), np.int64, len(rows)))
        labels.append(np.full(len(rows), LABELS[label], dtype=np.int64))
        splits.append(np.full(len(rows), split, dtype="<U5"))

    def cat(parts, dtype):
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return Reviews(texts, cat(labels, np.int64), cat(splits, "<U5"), cat(ids, np.int64), cat(ratings, np.int64))


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SeqrnnError(f"{where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _read_imdb_dir(path: Path, wanted: tuple[str, ...]):
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    groups: dict[tuple[str, str], list] = {}
    present: set[str] = set()
    for top, label in _REVIEW_DIRS:
        directory = root / top / label
        if not directory.is_dir():
            continue
        split = _split_of(top, label)
        matches = []
        for entry in os.scandir(directory):
            m = _REVIEW_NAME.fullmatch(entry.name)
            if m is not None and entry.is_file():
                matches.append((entry.path, m))
            elif entry.name.endswith(".txt") and not entry.name.startswith("."):
                raise SeqrnnError(f"{entry.path}: unexpected file name (expected ID_RATING.txt)")
        if not matches:
            continue
        present.add(split)
        if split not in wanted:
            continue
        rows = groups.setdefault((split, label), [])
        for file, m in matches:
            try:
                with open(file, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise SeqrnnError(f"{file}: cannot read ({exc.strerror or exc})") from None
            rows.append((int(m.group(1)), int(m.group(2)), _decode(data, file)))
    return groups, present


# ----- the tar reader

class _Truncated(Exception):
    pass


_CHUNK = 1 << 20  # compressed bytes per read; each inflates to at most 8 times that


def _chunks(path: Path, gzipped: bool) -> Iterator[bytes]:
    """The tar stream of the file, in chunks of a few MB: inflated (gzip, all members) or raw."""
    chunk = _CHUNK
    with open(path, "rb") as f:
        if not gzipped:
            while data := f.read(4 * chunk):
                yield data
            return
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            data = f.read(chunk)
            if not data:
                break
            while data:
                out = inflater.decompress(data, 8 * chunk)  # bounded output: no zip-bomb blow-up
                if out:
                    yield out
                data = inflater.unconsumed_tail
                if inflater.eof:
                    rest = inflater.unused_data + data
                    if rest.startswith(b"\x1f\x8b"):  # another gzip member follows
                        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        data = rest
                    elif rest.strip(b"\0"):
                        raise SeqrnnError(f"{path}: unexpected data after the end of the gzip stream")
                    else:
                        data = b""
        if not inflater.eof:
            raise _Truncated


class _Stream:
    """Exact-size reads over the chunk iterator."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.buf = b""
        self.pos = 0  # offset in buf
        self.offset = 0  # offset in the whole stream of buf[0]

    def read(self, n: int) -> bytes | None:
        """n bytes, or None at the very end of the stream; _Truncated if it ends inside them."""
        end = self.pos + n
        if end > len(self.buf):
            parts = [self.buf[self.pos:]]
            have = len(parts[0])
            self.offset += self.pos
            while have < n:
                data = next(self.chunks, None)
                if data is None:
                    if have == 0:
                        self.buf, self.pos = b"", 0
                        return None
                    raise _Truncated
                parts.append(data)
                have += len(data)
            self.buf, self.pos, end = b"".join(parts), 0, n
        out = self.buf[self.pos:end]
        self.pos = end
        return out

    def skip(self, n: int) -> None:
        while n > 0:
            step = min(n, 1 << 24)
            if self.read(step) is None:
                raise _Truncated
            n -= step

    def tell(self) -> int:
        return self.offset + self.pos


def _header_ok(h: bytes) -> bool:
    """Check the tar header checksum: the sum of its bytes, the checksum field read as 8 spaces."""
    try:
        stored = int(h[148:156].strip(b" \0"), 8)
    except ValueError:
        return False
    # zlib.adler32's low 16 bits are (1 + byte sum) mod 65521: a C-speed test of the byte sum
    if ((zlib.adler32(h) & 0xFFFF) - 1 - sum(h[148:156]) + 256 - stored) % 65521 == 0:
        return True
    return sum(b - 256 if b > 127 else b for b in h[:148] + h[156:]) + 256 == stored  # signed: old tars


def _octal(field: bytes) -> int:
    if field[:1] == b"\x80":  # GNU base-256 for large sizes
        return int.from_bytes(field[1:], "big")
    return int(field.strip(b" \0") or b"0", 8)


def _pax_records(data: bytes) -> dict[str, str]:
    out, pos = {}, 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _iter_tar(path: Path, gzipped: bool) -> Iterator[tuple[str, int, _Stream]]:
    """(name, size, stream) for each regular file; the caller reads or skips its padded data."""
    stream = _Stream(_chunks(path, gzipped))
    long_name = None
    pax: dict[str, str] = {}
    while True:
        at = stream.tell()
        try:
            h = stream.read(512)
        except _Truncated:
            if at == 0:
                raise SeqrnnError(f"{path}: not a tar archive (shorter than one tar header)") from None
            raise
        if h is None:
            return  # ended at a member boundary without the end-of-archive blocks: accepted
        if h.count(0) == 512:  # end of archive: read the rest, so that gzip checks its trailer
            for _ in stream.chunks:
                pass
            return
        if not _header_ok(h):
            raise SeqrnnError(f"{path}: not a tar archive, or corrupt (bad tar header at byte {at})")
        try:
            size = _octal(h[124:136])
        except ValueError:
            raise SeqrnnError(f"{path}: corrupt tar header at byte {at}") from None
        kind = h[156:157]
        if kind in (b"L", b"x", b"g"):
            data = stream.read(size + (-size % 512))
            if data is None:
                raise _Truncated
            data = data[:size]
            if kind == b"L":
                long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            elif kind == b"x":
                try:
                    pax = _pax_records(data)
                except ValueError:
                    raise SeqrnnError(f"{path}: corrupt pax header at byte {at}") from None
            continue
        name = h[:100].split(b"\0", 1)[0]
        if h[257:263] == b"ustar\x00" and h[345]:
            name = h[345:500].split(b"\0", 1)[0] + b"/" + name
        name = long_name or pax.get("path") or name.decode("utf-8", "surrogateescape")
        if "size" in pax:
            size = int(pax["size"])
        long_name, pax = None, {}
        if kind in (b"0", b"\0", b"7") and not name.endswith("/"):
            yield name, size, stream
        else:
            stream.skip(size + (-size % 512))


def _read_imdb_tar(path: Path, wanted: tuple[str, ...], gzipped: bool):
    groups: dict[tuple[str, str], list] = {}
    present: set[str] = set()
    try:
        for name, size, stream in _iter_tar(path, gzipped):
            padded = size + (-size % 512)
            parts = name.rsplit("/", 3)
            split = _split_of(parts[-3], parts[-2]) if len(parts) >= 3 else None
            m = _REVIEW_NAME.fullmatch(parts[-1]) if split else None
            if m is None:
                if split and parts[-1].endswith(".txt") and not parts[-1].startswith("."):
                    raise SeqrnnError(f"{path}: unexpected member {name} (expected ID_RATING.txt)")
                stream.skip(padded)
                continue
            present.add(split)
            if split not in wanted:
                stream.skip(padded)
                continue
            data = stream.read(padded)
            if data is None:
                raise _Truncated
            text = _decode(data[:size], f"{path}: {name}")
            groups.setdefault((split, parts[-2]), []).append((int(m.group(1)), int(m.group(2)), text))
    except _Truncated:
        raise SeqrnnError(f"{path}: truncated archive (it ends in the middle of a member)") from None
    except zlib.error as exc:
        raise SeqrnnError(f"{path}: corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return groups, present


# ----- CSV

def _read_csv(path: Path, wanted: tuple[str, ...]) -> Reviews:
    text = _read_utf8(path)
    if "train" not in wanted:
        raise SeqrnnError(f"{path}: no {'/'.join(wanted)} reviews (present: train; a CSV holds only the train split)")
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise SeqrnnError(f"{path}: empty CSV (expected columns review,sentiment)")
        columns = [c.strip().lower() for c in header]
        missing = [c for c in ("review", "sentiment") if c not in columns]
        if missing:
            raise SeqrnnError(f"{path}: CSV has no {' or '.join(repr(c) for c in missing)} column "
                              f"(columns: {', '.join(header) or 'none'}; expected review,sentiment)")
        ri, si = columns.index("review"), columns.index("sentiment")
        texts, labels = [], []
        for row in reader:
            if not row:
                continue
            if len(row) <= max(ri, si):
                raise SeqrnnError(f"{path}: line {reader.line_num}: {len(row)} fields, expected {len(header)}")
            label = row[si].strip()
            if label not in ("0", "1"):
                raise SeqrnnError(f"{path}: line {reader.line_num}: sentiment {row[si]!r}, expected 0 or 1")
            texts.append(row[ri])
            labels.append(label == "1")
    except csv.Error as exc:
        raise SeqrnnError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
    if not texts:
        raise SeqrnnError(f"{path}: CSV has a header but no reviews")
    labels_arr = np.array(labels, dtype=np.int64)
    order = np.concatenate([np.flatnonzero(labels_arr == 0), np.flatnonzero(labels_arr == 1)])
    n = len(texts)
    return Reviews([texts[i] for i in order.tolist()], labels_arr[order], np.full(n, "train", dtype="<U5"),
                   order.astype(np.int64), np.full(n, -1, dtype=np.int64))


# --- text corpora ---------------------------------------------------------------------------------


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
    nul = data.find(b"\0")
    if nul >= 0:
        raise SeqrnnError(f"{path}: looks like a binary file (NUL byte at offset {nul}), expected UTF-8 text")
    text = _decode(data, str(path))
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
                          f"or '*END*THE SMALL PRINT!'); drop --strip-gutenberg")
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


def load_text(target: str, strip_gutenberg: bool = False) -> str:
    """A text file, or a named corpus: `hamlet` is pg2265 cut the book's way (text[15858:]),
    unless `strip_gutenberg` asks for the Gutenberg markers to be used instead."""
    from seqrnn.datasets import is_dataset_name, resolve

    named = is_dataset_name(target) and not Path(target).exists()
    text = read_text(resolve(target), strip_gutenberg=strip_gutenberg)
    return hamlet_cut(text) if named and target == "hamlet" and not strip_gutenberg else text

