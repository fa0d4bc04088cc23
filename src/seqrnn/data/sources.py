"""Reading the data: IMDb reviews (an aclImdb directory, a .tar.gz or .tar of it, or a
review,sentiment CSV), your own labelled texts (CSV, TSV, JSONL, or a folder with one subfolder per
label) and UTF-8 text corpora (optionally without their Project Gutenberg licence header and footer).

An archive is read in one sequential pass by `tarfile` in streaming mode, never extracted; gzip is
inflated by `gzip.GzipFile`, which checks every gzip member's CRC and length. Members of unwanted
splits are skipped without being decoded. Links are not followed: a link where a review should be
is an error.

The reviews of an archive or CSV go into the prepared-data cache (`seqrnn.cache`; off with
`SEQRNN_NO_CACHE=1`), keyed by the file's content and the splits asked for, so a repeated run reads
them back instead of parsing the archive. A directory is read afresh each time: a key by content
would mean reading every file anyway.

Every problem with the input raises SeqrnnError with one line naming the file (and the line, for
text formats); a file that is not UTF-8 gets the command that converts it.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import tarfile
import zlib
from array import array
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

import numpy as np

from seqrnn import cache
from seqrnn.errors import SeqrnnError
from seqrnn.text.tokens import TOKENIZER_VERSION, TokenizedTexts, tokenize_batches
from seqrnn.progress import Progress
from seqrnn.data.records import LABEL_COLUMNS, TABLE_FORMATS, TEXT_COLUMNS, Lines, convert_hint, open_table, pick_column

SPLITS = ("train", "test", "unsup")
LABELS = {"neg": 0, "pos": 1, "unsup": -1}
HAMLET_OFFSET = 15858  # the book's cut of pg2265.txt: the play starts here

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


# --- IMDb ---------------------------------------------------------------------------------------


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


def _decode(data: bytes, where: str, path: Path | None = None) -> str:
    """`data` as UTF-8, or a one-line error naming where (`where`, the line, the byte and its offset)
    and how to convert the file (`path`: the file to name in the command)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SeqrnnError(f"{where}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); {convert_hint(path)}") from None


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
            rows.append((int(m.group(1)), int(m.group(2)), _decode(data, file, Path(file))))
    return _assemble(path, groups, present, wanted)


# ----- archives

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
                    text = _decode(data, f"{path}: {member.name}")
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


# ----- CSV

def _read_csv(path: Path, kind: str, wanted: tuple[str, ...]) -> Reviews:
    """The book's movie_data.csv form: columns review,sentiment, labels 0/1, every row 'train'."""
    if "train" not in wanted:
        raise SeqrnnError(f"{path}: no {'/'.join(wanted)} reviews (present: train; a CSV holds only the train split)")
    texts, labels = [], []
    for line, text, label in _labelled_rows(path, "csv", "review", "sentiment", quiet=True):
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


# --- your own labelled texts ----------------------------------------------------------------------

LABELLED_VERSION = "labelled-3"  # part of the cache key: change it when read_labelled reads a file differently
TOKENIZE_BATCH_CHARS = 4 << 20  # characters of text read before they are tokenized: bounds what is held
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # 0.7, 1.0, 1e40: a number, not a word
_LABEL_RANGE = (-(2**63), 2**63 - 1)  # integer labels are int64


@dataclass
class LabelledTexts:
    """Texts and their labels, in the order of the file (of the folder: by label, then file name).

    `texts` are strings (`read_labelled`) or, read for training at any size, token indices
    (`read_labelled_tokens`: a `seqrnn.text.tokens.TokenizedTexts`, which every estimator takes in
    place of strings). `labels` holds integers (int64) when every label is one (a CSV's `0`/`1` too),
    else strings (or booleans from JSON); `source` is the file or folder read."""

    texts: "list[str] | TokenizedTexts"
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.texts)


def is_imdb_dir(path: Path) -> bool:
    """True for a directory laid out as aclImdb/ (or one holding aclImdb/)."""
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    return any((root / top / label).is_dir() for top, label in _REVIEW_DIRS)


def labelled_format(path: Path) -> str | None:
    """How `read_labelled` reads `path`: 'csv', 'tsv', 'jsonl' (by the file's suffix) or 'folders'
    (a directory that is not aclImdb); None for anything else (IMDb directories and archives)."""
    path = Path(path)
    if path.is_dir():
        return None if is_imdb_dir(path) else "folders"
    return TABLE_FORMATS.get(path.suffix.lower())


def read_labelled(path: str | os.PathLike, text_column: str | None = None,
                  label_column: str | None = None) -> LabelledTexts:
    """Labelled texts you bring: a CSV, TSV or JSONL file with a text and a label column, or a folder
    with one subfolder per label holding one text per file (the subfolder's name is the label).

    The file is read one row at a time (`seqrnn.data.records`). To train on a large file, read it with
    `read_labelled_tokens`, which keeps token indices instead of strings.

    Parameters
    ----------
    path : str or Path
        The file (its suffix says the format: .csv, .tsv/.tab, .jsonl/.ndjson) or the folder.
    text_column, label_column : str, optional
        The columns (JSON keys) to read. By default the first present of `TEXT_COLUMNS` (the book's
        `review`, then `text`, ...) and of `LABEL_COLUMNS` (`sentiment`, then `label`, ...), matched
        without regard to case.

    Returns
    -------
    LabelledTexts
        Labels are kept as written: integers when every label is an integer, else strings.

    Raises
    ------
    SeqrnnError
        One line naming the file and line: a missing column, an empty text or label, a malformed
        row, a file that is not UTF-8 (with the `iconv` command that converts it).
    """
    path = Path(path)
    kind = _labelled_kind(path, text_column, label_column)
    texts, labels, lines = [], [], []
    for line, text, label in _labelled_rows(path, kind, text_column, label_column, quiet=True):
        texts.append(text)
        labels.append(label)
        lines.append(line)
    return LabelledTexts(texts, _label_array(path, labels, lines), str(path))


def read_labelled_tokens(path: str | os.PathLike, text_column: str | None = None,
                         label_column: str | None = None, *, quiet: bool = False) -> LabelledTexts:
    """`read_labelled`, with the texts tokenized the book's way as they are read
    (`seqrnn.text.tokens.Tokenizer`) and kept as token indices, never as strings: a file of any size
    takes about 4 bytes per token and the distinct words. Shows progress over the file's bytes unless
    `quiet`.

    The result of a file goes into the prepared-data cache (`seqrnn.cache`), keyed by the file's
    content, the columns and the tokenizer, as flat arrays read back through memory maps; a folder is
    read afresh each time (a key by content would mean reading every file anyway)."""
    path = Path(path)
    kind = _labelled_kind(path, text_column, label_column)

    def read(ids_path: Path | None = None) -> LabelledTexts:
        tokens, labels, lines = _tokenized(lambda: _labelled_rows(path, kind, text_column, label_column, quiet),
                                           ids_path=ids_path)
        return LabelledTexts(tokens, _label_array(path, labels, lines), str(path))

    if kind == "folders":
        return read()
    return _cached_tokens(path, ("labelled", LABELLED_VERSION, TOKENIZER_VERSION, kind, text_column or "",
                                 label_column or ""), read)


def read_document_tokens(path: str | os.PathLike, *, quiet: bool = False) -> TokenizedTexts:
    """The non-empty lines of a UTF-8 text file as documents (the lines of `str.splitlines`, as
    `read_text(path).splitlines()` gives them), tokenized as they are read, never held as strings;
    cached as `read_labelled_tokens` caches a file."""
    path = Path(path)

    def rows() -> Iterator[tuple[int, str, None]]:
        with _file_lines(path, quiet) as (lines, progress):
            for line in lines:
                for piece in line.splitlines():
                    if piece.strip():
                        yield lines.line, piece, None
                if lines.line % 1024 == 0:
                    progress.update_to(lines.bytes)
            if lines.blank:
                raise SeqrnnError(f"{path}: the file is empty")

    def read(ids_path: Path | None = None) -> LabelledTexts:
        return LabelledTexts(_tokenized(rows, labelled=False, ids_path=ids_path)[0], None, str(path))

    return _cached_tokens(path, ("documents", TOKENIZER_VERSION), read).texts


def _cached_tokens(path: Path, parts: tuple, read: Callable[..., LabelledTexts]) -> LabelledTexts:
    """`read()`, or what it gave for the same file and `parts`, from the prepared-data cache: flat
    arrays read back through memory maps (a damaged entry is made again). `read(ids_path)` writes
    the token ids straight to that file of the entry as it makes them."""
    try:
        key = cache.file_key(path, *parts)
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if key is None:
        return read()
    return cache.mapped_entry("tokens", key, lambda folder: _write_tokens(read(folder / "ids.bin"), folder),
                              lambda meta, folder: _map_tokens(meta, folder, path))


@contextmanager
def _file_lines(path: Path, quiet: bool) -> Iterator[tuple[Lines, Progress]]:
    """The lines of the file at `path` (`records.Lines`) and a progress bar over its bytes."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with f, Progress(f"read {path.name}", os.fstat(f.fileno()).st_size, "B", quiet=quiet) as progress:
        yield Lines(path, f), progress


def _labelled_kind(path: Path, text_column: str | None, label_column: str | None) -> str:
    if not path.exists():
        raise SeqrnnError(f"{path}: no such file or directory")
    kind = labelled_format(path)
    if kind is None:
        raise SeqrnnError(f"{path}: not a labelled-text file: expected a .csv, .tsv or .jsonl file, or a folder with "
                          "one subfolder per label")
    if kind == "folders" and (text_column or label_column):
        raise SeqrnnError(f"{path}: a folder of label subfolders has no columns; drop `text_column` and "
                          "`label_column`")
    return kind


def _labelled_rows(path: Path, kind: str, text_column: str | None, label_column: str | None,
                   quiet: bool) -> Iterator[tuple[int, str, object]]:
    """(line, text, label as written) of each row of a file, or (0, text, folder name) of each
    file of a folder, read one at a time with progress."""
    if kind == "folders":
        yield from _label_folder_rows(path, quiet)
        return
    with _file_lines(path, quiet) as (lines, progress):
        columns, records = open_table(path, kind, lines)
        text_key = pick_column(path, columns, text_column, TEXT_COLUMNS, "text", "`text_column`")
        label_key = pick_column(path, columns, label_column, LABEL_COLUMNS, "label", "`label_column`")
        n = 0
        for n, (line, row) in enumerate(records, 1):
            if text_key not in row or label_key not in row:
                raise SeqrnnError(f"{path}: line {line}: no {text_key if text_key not in row else label_key!r} field")
            yield line, _row_text(path, line, row[text_key]), row[label_key]
            if n % 1024 == 0:
                progress.update_to(lines.bytes)
        if n == 0:
            raise SeqrnnError(f"{path}: no rows, only a header" if kind != "jsonl" else f"{path}: no records")


def _row_text(path: Path, line: int, value) -> str:
    if not isinstance(value, str):
        problem = "no text (null)" if value is None else f"the text is a {type(value).__name__}, not a string"
        raise SeqrnnError(f"{path}: line {line}: {problem}")
    if not value.strip():
        raise SeqrnnError(f"{path}: line {line}: empty text (there is nothing to learn from or classify; drop the row)")
    return value


def _label_folder_rows(path: Path, quiet: bool) -> Iterator[tuple[int, str, str]]:
    """FOLDER/LABEL/any-file: one text per file, labelled by its subfolder's name."""
    subfolders = sorted((entry for entry in os.scandir(path) if entry.is_dir() and not entry.name.startswith(".")),
                        key=lambda e: e.name)
    n = 0
    with Progress(f"read {path.name}", None, "texts", quiet=quiet) as progress:
        for folder in subfolders:
            files = sorted((e for e in os.scandir(folder.path) if e.is_file() and not e.name.startswith(".")),
                           key=lambda e: e.name)
            for entry in files:
                try:
                    with open(entry.path, "rb") as f:
                        data = f.read()
                except OSError as exc:
                    raise SeqrnnError(f"{entry.path}: cannot read ({exc.strerror or exc})") from None
                text = _decode(data, entry.path, Path(entry.path))
                if not text.strip():
                    raise SeqrnnError(f"{entry.path}: empty text (there is nothing to learn from or classify; remove "
                                      "the file)")
                n += 1
                progress.update(1)
                yield 0, text, folder.name
    if n == 0:
        raise SeqrnnError(f"{path}: no texts found: expected one subfolder per label, each holding one text per "
                          "file (FOLDER/LABEL/NAME.txt)")


def _tokenized(rows: Callable[[], Iterable[tuple[int, str, object]]], labelled: bool = True,
               ids_path: Path | None = None) -> tuple[TokenizedTexts, list, array]:
    """(tokens, labels, lines) of the (line, text, label) rows that `rows()` reads, tokenized a batch
    of about TOKENIZE_BATCH_CHARS characters at a time as they are read (`tokenize_batches`, which
    may read them twice; with `ids_path`, the ids go to that file as they are made); without
    `labelled`, the labels and lines are not kept (both empty)."""
    labels: list = []
    lines = array("q")

    def batches() -> Iterator[list[str]]:
        del labels[:], lines[:]
        batch, size = [], 0
        for line, text, label in rows():
            batch.append(text)
            if labelled:
                labels.append(label)
                lines.append(line)
            size += len(text)
            if size >= TOKENIZE_BATCH_CHARS:
                yield batch
                batch, size = [], 0
        yield batch

    return tokenize_batches(batches, ids_path), labels, lines


def _write_tokens(data: LabelledTexts, folder: Path) -> dict:
    tokens = data.texts
    words, word_offsets = cache.pack_strings(tokens.words)
    arrays = {"ids": tokens.ids, "offsets": tokens.offsets, "words": words, "word_offsets": word_offsets}
    if isinstance(tokens.ids, np.memmap) and Path(tokens.ids.filename) == folder / "ids.bin":
        del arrays["ids"]  # written while tokenizing
    for name, values in arrays.items():
        with open(folder / f"{name}.bin", "wb") as f:
            f.write(memoryview(np.ascontiguousarray(values)).cast("B"))
    if data.labels is not None:
        np.save(folder / "labels.npy", data.labels, allow_pickle=False)
    return {"texts": len(tokens), "tokens": len(tokens.ids), "words": len(tokens.words), "word_bytes": len(words),
            "labelled": data.labels is not None}


def _map_tokens(meta: dict, folder: Path, path: Path) -> LabelledTexts:
    words = cache.unpack_strings(cache.map_array(folder / "words.bin", "uint8", meta["word_bytes"]),
                                 np.array(cache.map_array(folder / "word_offsets.bin", "int64", meta["words"] + 1)))
    ids = cache.map_array(folder / "ids.bin", "int32", meta["tokens"])
    offsets = np.array(cache.map_array(folder / "offsets.bin", "int64", meta["texts"] + 1))
    labels = np.load(folder / "labels.npy", allow_pickle=False) if meta["labelled"] else None
    if offsets[-1] != len(ids) or (labels is not None and (len(labels) != meta["texts"]
                                                           or labels.dtype.kind not in "iUb")):
        raise ValueError("bad labels or offsets")
    return LabelledTexts(TokenizedTexts(words, ids, offsets), labels, str(path))


def _whole_number(path: Path, line: int, label, written) -> int:
    """A numeric label as an int64 class, or a one-line error: fractions (0.7) are continuous values,
    not classes, and whole numbers beyond int64 (1e40) cannot be stored as one."""
    where = f"{path}: line {line}: label {written}" if line else f"{path}: label {written}"
    if isinstance(label, float) and not label.is_integer():
        raise SeqrnnError(f"{where} is not a class: labels are strings or whole numbers (a number with a fraction "
                          "is a continuous value; round it, or write the classes as words)")
    value = int(label)
    if not _LABEL_RANGE[0] <= value <= _LABEL_RANGE[1]:
        raise SeqrnnError(f"{where} is too large for a class: whole-number labels must lie within "
                          f"{_LABEL_RANGE[0]}..{_LABEL_RANGE[1]} (write the classes as words)")
    return value


def _label_array(path: Path, labels: list, lines: Sequence[int]) -> np.ndarray:
    """The labels as one array: int64 when every label is a whole number (or a string of one, 1.0
    included), else strings (booleans stay booleans); mixed kinds, empty labels, fractions (0.7,
    also written as text) and whole numbers beyond int64 are refused."""
    kinds, numbers = [], []
    for label, line in zip(labels, lines):
        number = None
        if isinstance(label, str):
            written = label.strip()
            if not written:
                raise SeqrnnError(f"{path}: line {line}: empty label")
            if _INTEGER.fullmatch(written):
                number = _whole_number(path, line, int(written), repr(written))
            elif _DECIMAL.fullmatch(written):
                number = _whole_number(path, line, float(written), repr(written))
            kinds.append("str" if number is None else "int")
        elif isinstance(label, bool):
            kinds.append("bool")
        elif isinstance(label, int) or (isinstance(label, float) and math.isfinite(label)):
            number = _whole_number(path, line, label, repr(label))
            kinds.append("number")
        elif label is None:
            raise SeqrnnError(f"{path}: line {line}: no label (null)")
        else:
            raise SeqrnnError(f"{path}: line {line}: label {label!r:.60} is not a class: labels are strings or "
                              "whole numbers")
        numbers.append(number)
    found = set(kinds)
    if found <= {"int", "number"}:
        return np.array(numbers, dtype=np.int64)
    if found == {"bool"}:
        return np.array(labels, dtype=bool)
    if found <= {"int", "str"}:  # "1" among words is a word
        return np.array([label.strip() for label in labels])
    first = next(line for kind, line in zip(kinds, lines) if kind != kinds[0])
    raise SeqrnnError(f"{path}: line {first}: labels of different kinds (strings, numbers, booleans); write every "
                      "label the same way")


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
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SeqrnnError(f"{path}: UTF-16 text, expected UTF-8; {convert_hint(path, 'utf-16')}")
    nul = data.find(b"\0")
    if nul >= 0:
        raise SeqrnnError(f"{path}: looks like a binary file (NUL byte at offset {nul}), expected UTF-8 text")
    text = _decode(data, str(path), path)
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
    from seqrnn.data.datasets import locate

    path, name = locate(target)
    return read_corpus(path, name, strip_gutenberg)[0]


# --- what a command names: a dataset or a file, split for training --------------------------------


def read_labelled_data(target: str, split: str | None = None, text_column: str | None = None,
                       label_column: str | None = None, *, default_split: str = "test", with_unsup: bool = False):
    """(texts, labels, unlabelled texts) from what `--data` names.

    Your own labelled texts (a CSV, TSV or JSONL file, a folder of label subfolders) come as token
    indices (`read_labelled_tokens`), read whole: they have no splits, and a `split` other than 'all'
    is refused. IMDb (the name
    `imdb`, an aclImdb directory or archive) gives its `split` ('train', 'test' or 'all'; None:
    `default_split`), and with `with_unsup` the unlabelled reviews too."""
    from seqrnn.data.datasets import resolve

    path = Path(target)
    if path.exists() and labelled_format(path) is not None:
        if split not in (None, "all"):
            raise SeqrnnError(f"{target}: your own labelled data has no {split} split; it is used whole (drop `split`, "
                              "or give validation texts of your own)")
        data = read_labelled_tokens(path, text_column, label_column)
        return data.texts, data.labels, []
    if text_column or label_column:
        raise SeqrnnError(f"{target}: `text_column` and `label_column` apply to CSV, TSV and JSONL files")
    split = split or default_split
    splits = None if split == "all" else (split,)
    reviews = read_imdb(resolve(target), splits=(*splits, "unsup") if with_unsup and splits else splits)
    keep = reviews.labels >= 0
    if not keep.any():
        wanted = "/".join(splits) if splits else "any"
        raise SeqrnnError(f"{target}: no labelled reviews in the {wanted} split (present: "
                          f"{', '.join(reviews.splits_present) or 'none'})")
    labelled = [t for t, k in zip(reviews.texts, keep) if k]
    unlabelled = [t for t, k in zip(reviews.texts, keep) if not k]
    return labelled, reviews.labels[keep], unlabelled


def read_documents(target: str, split: str | None = None) -> tuple:
    """(labelled, unlabelled, labels) documents for a language model: IMDb reviews (`split` None: the
    training split's labelled reviews with their labels, and the unlabelled reviews; else that
    split's, all as 'labelled', without labels), or the non-empty lines of a text file (all
    'labelled', so that a share is held out; no labels), read as tokens (`read_document_tokens`). The labels are the ones a classifier
    trained on the same data reads, so that both hold out the same reviews (`heldout_split`)."""
    from seqrnn.data.datasets import resolve

    path = resolve(target)
    if imdb_format(path) is None:
        return read_document_tokens(path), [], None
    if split is None:
        labelled, labels, unlabelled = read_labelled_data(target, default_split="train", with_unsup=True)
        return labelled, unlabelled, labels
    reviews = read_imdb(path, splits=None if split == "all" else (split,))
    return list(reviews.texts), [], None


def heldout_split(n: int, seed: int, val_fraction: float, limit: int | None = None,
                  labels: Sequence | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices) of `n` labelled documents: a seeded shuffle, the first
    `limit` kept, `val_fraction` of those held out.

    With `labels` (one per document, any kind) the held-out share is stratified: each class gives
    its share in proportion (the largest remainders rounded up), at least one document when it has
    3 or more, and never so many that fewer than 2 stay to train on; so every class is validated
    on when it can be, and a rare class is not lost to training. Within a class the held-out
    documents are the first in the shuffle. The classifier and the word language model both split
    this way, with the same labels, so the same seed holds out the same reviews."""
    order = np.random.default_rng(seed).permutation(n)[:limit]
    n_val = int(round(len(order) * val_fraction))
    if labels is None or n_val == 0:
        return order[n_val:], order[:n_val]
    labels = np.asarray(labels)
    if len(labels) != n:
        raise ValueError(f"heldout_split: {len(labels)} labels for {n} documents")
    _, classes = np.unique(labels[order], return_inverse=True)
    take = _stratified_counts(np.bincount(classes), n_val)
    held = np.zeros(len(order), dtype=bool)
    for c, k in enumerate(take.tolist()):
        held[np.flatnonzero(classes == c)[:k]] = True
    return order[~held], order[held]


def _stratified_counts(counts: np.ndarray, n_val: int) -> np.ndarray:
    """How many of each class to hold out: about `n_val` in all, in proportion to `counts`, at least
    1 of a class of 3 or more, at most all but 2 of any class."""
    quota = counts * n_val / counts.sum()
    low, high = np.where(counts >= 3, 1, 0), np.maximum(counts - 2, 0)
    take = np.clip(np.floor(quota).astype(np.int64), low, high)
    while take.sum() < n_val and (take < high).any():  # the largest remainders get one more
        take[np.argmax(np.where(take < high, quota - take, -np.inf))] += 1
    while take.sum() > n_val and (take > low).any():  # the minimum of 1 took too many: from the most over
        take[np.argmax(np.where(take > low, take - quota, -np.inf))] -= 1
    return take
