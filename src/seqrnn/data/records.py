"""Rows of CSV, TSV and JSONL files, read one at a time: the one reader behind training on your own
labelled texts (`seqrnn.data.sources.read_labelled`, `read_labelled_tokens`) and labelling a file
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
from pathlib import Path
from typing import BinaryIO, Iterator

from seqrnn.errors import SeqrnnError

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
            while True:
                start = lines.line + 1
                row = next(reader, None)
                if row is None:
                    return
                if not row or not "".join(row).strip():
                    continue
                if len(row) != len(header):
                    raise SeqrnnError(f"{path}: line {start}: {len(row)} fields, expected {len(header)} "
                                      f"({'tab' if delimiter == chr(9) else 'comma'}-separated, with a header)")
                yield start, dict(zip(header, row))
        except csv.Error as exc:
            raise SeqrnnError(f"{path}: line {lines.line}: malformed {name} ({exc})") from None

    return header, records()
