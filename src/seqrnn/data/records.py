"""Rows of CSV, TSV and JSONL files, read one at a time: the one reader behind training on your own
labelled texts (`seqrnn.data.labelled.read_labelled`, `read_labelled_tokens`) and labelling a file
(`seqrnn.cli.predict_file`).

A file is read line by line from its bytes, so memory does not grow with it, and `Lines.bytes`
says how far the reading has come (for a progress bar). Every problem is a SeqrnnError of one line
naming the file and the line: bytes that are not UTF-8 (with the offset of the bad byte and the
`iconv` command that converts the file), UTF-16, a NUL byte, a malformed CSV row, a JSONL line that
is not one JSON object. Line endings: a CRLF is read as LF, also inside a quoted CSV field.
"""

from __future__ import annotations

import csv
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from seqrnn.errors import SeqrnnError
from seqrnn.progress import Progress

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
TEXT_COLUMNS = ("review", "text", "sentence", "content", "document")  # the default text column: the first present
LABEL_COLUMNS = ("sentiment", "label", "labels", "class", "category", "target")  # and label column

Record = tuple[int, dict]  # (the line the row starts on, {column: value})


def convert_hint(path: Path | None, encoding: str = "cp1252") -> str:
    """How to make a file UTF-8 (cp1252 is what Windows and Excel write most often)."""
    source = str(path) if path is not None else "FILE"
    target = str(path.with_name(f"{path.stem}.utf8{path.suffix}")) if path is not None else "FILE.utf8"
    return (f"save it as UTF-8, e.g. `iconv -f {encoding} -t utf-8 {source} > {target}` "
            "(name the encoding it was written in)")


class Lines:
    """The lines of a binary file decoded as UTF-8 (without a byte-order mark; CRLF read as LF),
    counting the lines (`line`) and bytes (`bytes`) read."""

    def __init__(self, path: Path, f: BinaryIO):
        self.path, self.f, self.bytes, self.line = path, f, 0, 0
        self.blank = True  # every line read so far is blank

    def __iter__(self) -> Iterator[str]:
        for raw in self.f:
            self.line += 1
            if self.line == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise SeqrnnError(f"{self.path}: UTF-16 text, expected UTF-8; {convert_hint(self.path, 'utf-16')}")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SeqrnnError(f"{self.path}: line {self.line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                                  f"offset {self.bytes + exc.start}); {convert_hint(self.path)}") from None
            self.bytes += len(raw)
            if self.line == 1:
                text = text.removeprefix("\ufeff")
            if "\0" in text:
                raise SeqrnnError(f"{self.path}: line {self.line}: a NUL byte: a binary file? expected UTF-8 text")
            if self.blank and text.strip():
                self.blank = False
            if text.endswith("\r\n"):
                text = text[:-2] + "\n"
            yield text


def json_record(path: Path, number: int, line: str) -> dict:
    """Line `number` of a JSONL file as its JSON object, or a one-line error naming the file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SeqrnnError(f"{path}: line {number}: not JSON ({exc.msg}); expected one JSON object per line") from None
    except RecursionError:  # Python's parser recurses once per level
        raise SeqrnnError(f"{path}: line {number}: JSON nested too deeply to read; expected one flat object "
                          '({"text": ...}) per line') from None
    if not isinstance(record, dict):
        raise SeqrnnError(f"{path}: line {number}: a JSON {type(record).__name__}, expected an object "
                          '({"text": ...})')
    return record


def open_table(path: Path, kind: str, lines: Lines) -> tuple[list[str], Iterator[Record]]:
    """(the columns, the records) of a CSV, TSV or JSONL file (`kind`), read from `lines`. A JSONL
    file's columns are the keys of its first record; blank lines and rows are skipped."""
    if kind == "jsonl":
        records = _json_records(path, lines)
        first = next(records, None)
        if first is None:
            raise SeqrnnError(f"{path}: the file is empty" if lines.blank else f"{path}: no records")
        return list(first[1]), _chain(first, records)
    return _delimited_records(path, lines, "\t" if kind == "tsv" else ",")


def pick_column(path: Path, columns: list[str], given: str | None, defaults: tuple[str, ...], what: str,
                flag: str) -> str:
    """The column to read: `given` (exact, else the one equal to it without regard to case), or the
    first of `defaults` present; `flag` names the option that chooses it, in errors."""
    folded = {c.strip().lower(): c for c in reversed(columns)}
    if given is not None:
        if given in columns:
            return given
        if given.strip().lower() in folded:
            return folded[given.strip().lower()]
        raise SeqrnnError(f"{path}: no {given!r} column (columns: {', '.join(columns) or 'none'})")
    for name in defaults:
        if name in folded:
            return folded[name]
    raise SeqrnnError(f"{path}: no {what} column (columns: {', '.join(columns) or 'none'}; looked for "
                      f"{', '.join(defaults)}): name it with {flag}")


def _chain(first, rest):
    yield first
    yield from rest


def _json_records(path: Path, lines: Lines) -> Iterator[Record]:
    for line in lines:
        if line.strip():
            yield lines.line, json_record(path, lines.line, line)


def data_rows(path: Path, reader, lines: Lines, width: int, what: str = "") -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of each row a csv `reader` of `lines` gives after the header, blank rows
    skipped, each checked to have the header's `width` fields (`what`: the end of that error)."""
    while True:
        start = lines.line + 1
        row = next(reader, None)
        if row is None:
            return
        if not row or not "".join(row).strip():
            continue
        if len(row) != width:
            raise SeqrnnError(f"{path}: line {start}: {len(row)} fields, expected {width}{what}")
        yield start, row


def _delimited_records(path: Path, lines: Lines, delimiter: str) -> tuple[list[str], Iterator[Record]]:
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)  # an unclosed quote is an error, not a lost file
    name = "TSV" if delimiter == "\t" else "CSV"
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SeqrnnError(f"{path}: line 1: malformed {name} ({exc})") from None
    if header is None or (not header and lines.blank):
        raise SeqrnnError(f"{path}: the file is empty")
    if not header:
        raise SeqrnnError(f"{path}: the first line has no column names")

    def records() -> Iterator[Record]:
        try:
            what = f" ({'tab' if delimiter == chr(9) else 'comma'}-separated, with a header)"
            for start, row in data_rows(path, reader, lines, len(header), what):
                yield start, dict(zip(header, row))
        except csv.Error as exc:
            raise SeqrnnError(f"{path}: line {lines.line}: malformed {name} ({exc})") from None

    return header, records()


def decode_utf8(data: bytes, where: str, path: Path | None = None) -> str:
    """`data` as UTF-8, or a one-line error naming where (`where`, the line, the byte and its offset)
    and how to convert the file (`path`: the file to name in the command)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SeqrnnError(f"{where}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); {convert_hint(path)}") from None


@contextmanager
def file_lines(path: Path, quiet: bool) -> Iterator[tuple[Lines, Progress]]:
    """The lines of the file at `path` (`records.Lines`) and a progress bar over its bytes."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with f, Progress(f"read {path.name}", os.fstat(f.fileno()).st_size, "B", quiet=quiet) as progress:
        yield Lines(path, f), progress


def labelled_rows(path: Path, kind: str, text_column: str | None, label_column: str | None,
                   quiet: bool) -> Iterator[tuple[int, str, object]]:
    """(line, text, label as written) of each row of a file, or (0, text, folder name) of each
    file of a folder, read one at a time with progress."""
    if kind == "folders":
        yield from label_folder_rows(path, quiet)
        return
    with file_lines(path, quiet) as (lines, progress):
        columns, records = open_table(path, kind, lines)
        text_key = pick_column(path, columns, text_column, TEXT_COLUMNS, "text", "`text_column`")
        label_key = pick_column(path, columns, label_column, LABEL_COLUMNS, "label", "`label_column`")
        n = 0
        for n, (line, row) in enumerate(records, 1):
            if text_key not in row or label_key not in row:
                raise SeqrnnError(f"{path}: line {line}: no {text_key if text_key not in row else label_key!r} field")
            yield line, row_text(path, line, row[text_key]), row[label_key]
            if n % 1024 == 0:
                progress.update_to(lines.bytes)
        if n == 0:
            raise SeqrnnError(f"{path}: no rows, only a header" if kind != "jsonl" else f"{path}: no records")


def row_text(path: Path, line: int, value) -> str:
    if not isinstance(value, str):
        problem = "no text (null)" if value is None else f"the text is a {type(value).__name__}, not a string"
        raise SeqrnnError(f"{path}: line {line}: {problem}")
    if not value.strip():
        raise SeqrnnError(f"{path}: line {line}: empty text (there is nothing to learn from or classify; drop the row)")
    return value


def label_folder_rows(path: Path, quiet: bool) -> Iterator[tuple[int, str, str]]:
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
                text = decode_utf8(data, entry.path, Path(entry.path))
                if not text.strip():
                    raise SeqrnnError(f"{entry.path}: empty text (there is nothing to learn from or classify; remove "
                                      "the file)")
                n += 1
                progress.update(1)
                yield 0, text, folder.name
    if n == 0:
        raise SeqrnnError(f"{path}: no texts found: expected one subfolder per label, each holding one text per "
                          "file (FOLDER/LABEL/NAME.txt)")
