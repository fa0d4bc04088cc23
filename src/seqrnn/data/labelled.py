"""Your own labelled texts: a CSV, TSV or JSONL file, or a folder with one subfolder per label.

`read_labelled` gives the texts as strings; `read_labelled_tokens` tokenizes each batch of rows as
it is read and keeps flat token ids, never the texts (cached as memory-mapped arrays), so a file of
any size is read in about the same memory; `read_document_tokens` reads the non-empty lines of a
text file as documents the same way. Labels keep their kind: whole numbers are integers, anything
else text. Every problem raises SeqrnnError with one line naming the file and the line.
"""

from __future__ import annotations

import math
import os
import re
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from seqrnn import cache
from seqrnn.data.imdb import is_imdb_dir
from seqrnn.data.records import TABLE_FORMATS, file_lines, labelled_rows
from seqrnn.errors import SeqrnnError
from seqrnn.text.tokens import TOKENIZER_VERSION, TokenizedTexts, tokenize_batches

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
    for line, text, label in labelled_rows(path, kind, text_column, label_column, quiet=True):
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
        tokens, labels, lines = _tokenized(lambda: labelled_rows(path, kind, text_column, label_column, quiet),
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
        with file_lines(path, quiet) as (lines, progress):
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
