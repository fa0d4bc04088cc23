"""IMDb's movie reviews: an aclImdb directory, a .tar.gz or .tar of it, or the book's
review,sentiment CSV (`read_imdb`), as texts with their labels and splits (`Reviews`).

An archive is read in one sequential pass by `tarfile` in streaming mode, never extracted; gzip is
inflated by `gzip.GzipFile`, which checks every gzip member's CRC and length. Members of unwanted
splits are skipped without being decoded. Links are not followed: a link where a review should be
is an error.

The reviews of an archive or CSV go into the prepared-data cache (`seqrnn.cache`; off with
`SEQRNN_NO_CACHE=1`), keyed by the file's content and the splits asked for, so a repeated run reads
them back instead of parsing the archive. A directory is read afresh each time: a key by content
would mean reading every file anyway. Every problem raises SeqrnnError with one line naming the
file (and the line, for text formats).
"""

from __future__ import annotations

import gzip
import os
import re
import tarfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from seqrnn import cache
from seqrnn.data.records import decode_utf8, labelled_rows
from seqrnn.errors import SeqrnnError

SPLITS = ("train", "test", "unsup")
LABELS = {"neg": 0, "pos": 1, "unsup": -1}


# aclImdb/{train,test}/{pos,neg}/ID_RATING.txt and aclImdb/train/unsup/ID_0.txt
_REVIEW_DIRS = (("train", "neg"), ("train", "pos"), ("test", "neg"), ("test", "pos"), ("train", "unsup"))
_REVIEW_NAME = re.compile(r"(\d+)_(\d+)\.txt")
_LAYOUT = "aclImdb/{train,test}/{pos,neg}/ID_RATING.txt or aclImdb/train/unsup/ID_0.txt"
READER_VERSION = "imdb-1"  # part of the cache key: change it when read_imdb reads a file differently


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


def read_imdb(path: str | os.PathLike, splits: Iterable[str] | None = None) -> Reviews:
    """Reviews from an aclImdb directory (or one holding aclImdb/), a .tar.gz or .tar of it, or a CSV
    with columns review,sentiment (all rows split 'train'). `splits` restricts what is loaded."""
    path = Path(path)
    wanted = _check_splits(splits)
    if not path.exists():
        raise SeqrnnError(f"{path}: no such file or directory")
    kind = imdb_format(path)
    if kind is None:
        raise SeqrnnError(f"{path}: not an aclImdb directory, .tar.gz archive or review,sentiment CSV")
    if kind == "dir":
        return _read_imdb_dir(path, wanted)
    reader = _read_csv if kind == "csv" else _read_imdb_tar
    try:
        key = cache.file_key(path, "reviews", READER_VERSION, *wanted)
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return cache.cached("reviews", key, lambda: reader(path, kind, wanted), _reviews_to_arrays, _reviews_from_arrays)


def imdb_format(path: Path) -> str | None:
    """How `read_imdb` reads `path`: 'dir', 'tar.gz', 'tar' or 'csv', from its first bytes and name;
    None for any other file (`data inspect` takes it for a text corpus). A .tar.gz or .tgz that is
    not gzip raises SeqrnnError."""
    if path.is_dir():
        return "dir"
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    name = path.name.lower()
    if head[:2] == b"\x1f\x8b":
        return "tar.gz"
    if name.endswith((".tar.gz", ".tgz")):
        raise SeqrnnError(f"{path}: not a gzip file (corrupt or mislabelled archive)")
    if head[257:262] == b"ustar" or name.endswith(".tar"):
        return "tar"
    return "csv" if name.endswith(".csv") else None


def _check_splits(splits) -> tuple[str, ...]:
    """The splits asked for, in the order of SPLITS."""
    if splits is None:
        return SPLITS
    if isinstance(splits, str):
        splits = (splits,)
    splits = tuple(splits)
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise SeqrnnError(f"unknown split {bad[0] if bad else '(none)'!r}: choose from {', '.join(SPLITS)}")
    return tuple(s for s in SPLITS if s in splits)


def _split_of(top: str, label: str) -> str | None:
    if label == "unsup":
        return "unsup" if top == "train" else None
    return top if label in ("pos", "neg") and top in ("train", "test") else None


Groups = dict[tuple[str, str], list[tuple[int, int, str]]]  # (split, label) -> [(id, rating, text)]


def _assemble(path: Path, groups: Groups, present: set[str], wanted: tuple[str, ...]) -> Reviews:
    """Reviews from the groups read, in the canonical order; an error if there are none."""
    if not present:
        raise SeqrnnError(f"{path}: no IMDb reviews found (expected {_LAYOUT})")
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
    if not texts:
        raise SeqrnnError(f"{path}: no {'/'.join(wanted)} reviews (present: {', '.join(s for s in SPLITS if s in present)})")
    return Reviews(texts, np.concatenate(labels), np.concatenate(splits), np.concatenate(ids), np.concatenate(ratings))


def _reviews_to_arrays(reviews: Reviews) -> dict[str, np.ndarray]:
    texts, offsets = cache.pack_strings(reviews.texts)
    return {"texts": texts, "offsets": offsets, "labels": reviews.labels, "splits": reviews.splits,
            "ids": reviews.ids, "ratings": reviews.ratings}


def _reviews_from_arrays(arrays: dict[str, np.ndarray]) -> Reviews:
    for name, dtype in (("labels", np.int64), ("splits", np.dtype("<U5")), ("ids", np.int64), ("ratings", np.int64)):
        if arrays[name].dtype != dtype or arrays[name].ndim != 1:
            raise ValueError(f"cached reviews: bad {name}")
    return Reviews(cache.unpack_strings(arrays["texts"], arrays["offsets"]), arrays["labels"], arrays["splits"],
                   arrays["ids"], arrays["ratings"])


def _read_imdb_dir(path: Path, wanted: tuple[str, ...]) -> Reviews:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    groups: Groups = {}
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
            rows.append((int(m.group(1)), int(m.group(2)), decode_utf8(data, file, Path(file))))
    return _assemble(path, groups, present, wanted)


class _TarStream:
    """The uncompressed tar stream as `tarfile` reads it, remembering the last few reads.

    tarfile ends its iteration quietly at a truncated or unreadable header past the first one; the
    remembered bytes let the reader check that the block where it stopped is a real end.
    """

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.end = 0  # bytes read so far
        self.recent: list[bytes] = []  # the last (non-empty) reads, ending at `end`
        self.exhausted = False  # a read came back short: the stream is at its end

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if size < 0 or len(data) < size:
            self.exhausted = True
        if data:
            self.end += len(data)
            self.recent = self.recent[-2:] + [data]
        return data

    def block_at(self, offset: int) -> bytes | None:
        """The (up to) 512 bytes at `offset` if they were among the last reads, else None."""
        window = b"".join(self.recent)
        start = self.end - len(window)
        return window[offset - start:offset - start + 512] if offset >= start else None


def _read_imdb_tar(path: Path, kind: str, wanted: tuple[str, ...]) -> Reviews:
    groups: Groups = {}
    present: set[str] = set()
    opened = False
    tar = None
    try:
        with ExitStack() as stack:
            stream = stack.enter_context(open(path, "rb"))
            if kind == "tar.gz":
                stream = stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb"))
            tar = _TarStream(stream)
            archive = stack.enter_context(tarfile.open(fileobj=tar, mode="r|"))
            opened = True
            for member in archive:
                review = _review_member(path, member)
                if review is None:
                    continue
                split, label, rid, rating = review
                present.add(split)
                if split in wanted:
                    data = archive.extractfile(member).read()
                    text = decode_utf8(data, f"{path}: {member.name}")
                    groups.setdefault((split, label), []).append((rid, rating, text))
            _check_end(path, tar, archive.offset)
    except tarfile.ReadError as exc:
        if str(exc).startswith("zlib error"):  # tarfile's name for a zlib.error while reading a header
            raise SeqrnnError(f"{path}: corrupt gzip data ({exc})") from None
        if not opened:
            raise SeqrnnError(f"{path}: not a tar archive ({exc})") from None
        if tar is not None and tar.exhausted:
            raise SeqrnnError(f"{path}: truncated archive (it ends in the middle of a member)") from None
        raise SeqrnnError(f"{path}: corrupt tar archive ({exc})") from None
    except EOFError:
        raise SeqrnnError(f"{path}: truncated archive (it ends in the middle of a member)") from None
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise SeqrnnError(f"{path}: corrupt gzip data ({exc})") from None
    except tarfile.TarError as exc:
        raise SeqrnnError(f"{path}: corrupt tar archive ({exc})") from None
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _assemble(path, groups, present, wanted)


def _review_member(path: Path, member: tarfile.TarInfo) -> tuple[str, str, int, int] | None:
    """(split, label, id, rating) of a review file; None for anything else in the archive. A
    misnamed review or a link in its place is an error."""
    parts = member.name.rsplit("/", 3)
    split = _split_of(parts[-3], parts[-2]) if len(parts) >= 3 else None
    if split is None or member.isdir():
        return None
    m = _REVIEW_NAME.fullmatch(parts[-1])
    if m is None:
        if parts[-1].endswith(".txt") and not parts[-1].startswith("."):
            raise SeqrnnError(f"{path}: unexpected member {member.name} (expected ID_RATING.txt)")
        return None
    if member.islnk() or member.issym():
        raise SeqrnnError(f"{path}: {member.name} is a link (to {member.linkname}); links are not followed, "
                          "store the reviews as regular files")
    if not member.isfile():
        raise SeqrnnError(f"{path}: {member.name} is not a regular file")
    return split, parts[-2], int(m.group(1)), int(m.group(2))


def _check_end(path: Path, tar: _TarStream, offset: int) -> None:
    """After tarfile's last member: accept an end-of-archive block of zeros, or the end of the
    stream right after a member; then read the rest, so that gzip checks its trailer."""
    block = tar.block_at(offset)
    if block is not None and 0 < len(block) < 512:
        raise SeqrnnError(f"{path}: truncated archive (it ends in the middle of a tar header)")
    if block is None or block.count(0) != len(block):
        raise SeqrnnError(f"{path}: not a tar archive, or corrupt (bad tar header at byte {offset})")
    while tar.read(1 << 20):
        pass


def _read_csv(path: Path, kind: str, wanted: tuple[str, ...]) -> Reviews:
    """The book's movie_data.csv form: columns review,sentiment, labels 0/1, every row 'train'."""
    if "train" not in wanted:
        raise SeqrnnError(f"{path}: no {'/'.join(wanted)} reviews (present: train; a CSV holds only the train split)")
    texts, labels = [], []
    for line, text, label in labelled_rows(path, "csv", "review", "sentiment", quiet=True):
        if label.strip() not in ("0", "1"):
            raise SeqrnnError(f"{path}: line {line}: sentiment {label!r}, expected 0 or 1 (for other labels, train "
                              "with it as your own labelled data)")
        texts.append(text)
        labels.append(label.strip() == "1")
    labels_arr = np.array(labels, dtype=np.int64)
    order = np.concatenate([np.flatnonzero(labels_arr == 0), np.flatnonzero(labels_arr == 1)])
    n = len(texts)
    return Reviews([texts[i] for i in order.tolist()], labels_arr[order], np.full(n, "train", dtype="<U5"),
                   order.astype(np.int64), np.full(n, -1, dtype=np.int64))


def is_imdb_dir(path: Path) -> bool:
    """True for a directory laid out as aclImdb/ (or one holding aclImdb/)."""
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    return any((root / top / label).is_dir() for top, label in _REVIEW_DIRS)
