"""Labelling a whole file: `seqrnn classify predict --model DIR --data FILE --out FILE.csv|.jsonl`.

The input is a CSV, TSV or JSONL file with a text column (`--text-column`; the same defaults as
training: `review`, else `text`, ...) and optionally an id column (`--id-column`), or a plain text
file with one text per line. It is read row by row and predicted in chunks, so a file of any size
is labelled in bounded memory, with a progress bar over the file's bytes on a terminal (a plain
line once a minute elsewhere; `seqrnn.progress`).

The output has one row per input row, in the input's order: the row's id (the id column's value,
else its row number, 1 for the first row after the header), the predicted `label`, `probability`
(that label's) and every class's probability (CSV/TSV: one `p_CLASS` column per class; JSONL:
`probabilities`, as `predict --json` prints it). A row whose text is empty, only whitespace or
missing gets an empty prediction (empty cells; JSONL nulls) and is named on stderr, instead of
failing the whole file. The output is written to a temporary file and renamed into place at the
end, so a stopped run leaves no half-written file; an existing file is replaced only with `force`.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from seqrnn.data.records import TABLE_FORMATS, TEXT_COLUMNS, Lines, open_table, pick_column
from seqrnn.errors import SeqrnnError

INPUT_FORMATS = {**TABLE_FORMATS, ".txt": "txt"}
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CHUNK = 2048  # rows read, predicted and written at a time


@dataclass
class Row:
    """One input row: its number (1-based, data rows only), the line it starts on, its id, its text
    (None when it has none to classify) and why not."""

    number: int
    line: int
    id: Any
    text: str | None
    problem: str = ""


@dataclass
class Outcome:
    """What `predict_file` did: rows written, and the rows given an empty prediction."""

    rows: int = 0
    empty: list[Row] = field(default_factory=list)


def output_format(out: Path) -> str:
    """'csv', 'tsv' or 'jsonl' from the output file's suffix; an error naming `out` otherwise."""
    kind = OUTPUT_FORMATS.get(out.suffix.lower())
    if kind is None:
        raise SeqrnnError(f"`out` {out}: name a .csv, .tsv or .jsonl file (its suffix chooses the format)")
    return kind


def check_paths(data: Path, out: Path, force: bool) -> None:
    """Refuse, before any work, an output that exists (without `force`) or is the input itself."""
    output_format(out)
    if not data.exists():
        raise SeqrnnError(f"{data}: no such file")
    if data.is_dir():
        raise SeqrnnError(f"{data}: is a directory; `data` names one file of texts (CSV, TSV, JSONL, or text, one per "
                          "line)")
    if INPUT_FORMATS.get(data.suffix.lower()) is None:
        raise SeqrnnError(f"{data}: not a file of texts: expected a .csv, .tsv, .jsonl or .txt file")
    if out.exists() or out.is_symlink():
        if out.resolve() == data.resolve():
            raise SeqrnnError(f"`out` {out} is the `data` file: write the predictions to another file")
        if not force:
            raise SeqrnnError(f"`out` {out} exists: add `force` to replace it")
        if out.is_dir():
            raise SeqrnnError(f"`out` {out} is a directory")


# --- reading ----------------------------------------------------------------------------------------


def _text_of(value: Any, key: str, where: str) -> tuple[str | None, str]:
    """(the text, or None when there is none to classify; the reason)."""
    if value is None:
        return None, f"no {key!r} value" if key else "no text"
    if not isinstance(value, str):
        raise SeqrnnError(f"{where}: the text is a {type(value).__name__}, not a string: {value!r:.60}")
    if not value.strip():
        return None, "an empty text"
    return value, ""


def open_rows(path: Path, lines: Lines, text_column: str | None,
              id_column: str | None) -> tuple[str | None, Iterator[Row]]:
    """(the id column as the file names it, or None; the rows, in order). The columns are checked
    here, before any row is read."""
    kind = INPUT_FORMATS[path.suffix.lower()]
    if kind == "txt":
        if text_column or id_column:
            raise SeqrnnError(f"{path}: a text file (one text per line) has no columns; drop `text_column` and "
                              "`id_column`, or give a CSV, TSV or JSONL file")
        return None, _text_lines(path, lines)
    columns, records = open_table(path, kind, lines)
    text_key = pick_column(path, columns, text_column, TEXT_COLUMNS, "text", "`text_column`")
    id_key = pick_column(path, columns, id_column, (), "id", "`id_column`") if id_column else None
    return id_key, _table_rows(path, records, text_key, id_key)


def _text_lines(path: Path, lines: Lines) -> Iterator[Row]:
    for number, line in enumerate(lines, 1):
        text, problem = _text_of(line.rstrip("\r\n"), "", f"{path}: line {number}")
        yield Row(number, number, number, text, problem)


def _table_rows(path: Path, records, text_key: str, id_key: str | None) -> Iterator[Row]:
    number = 0
    for number, (line, record) in enumerate(records, 1):
        where = f"{path}: line {line}"
        if id_key is not None and id_key not in record:
            raise SeqrnnError(f"{where}: no {id_key!r} field")
        text, problem = _text_of(record.get(text_key), text_key, where)
        yield Row(number, line, record[id_key] if id_key is not None else number, text, problem)
    if number == 0:
        raise SeqrnnError(f"{path}: no rows, only a header")


# --- writing ----------------------------------------------------------------------------------------


class _Writer:
    """Rows of predictions in CSV, TSV or JSONL."""

    def __init__(self, f, kind: str, id_name: str, classes: list):
        self.f, self.kind, self.id_name, self.classes = f, kind, id_name, classes
        if kind != "jsonl":
            self.csv = csv.writer(f, delimiter="\t" if kind == "tsv" else ",", lineterminator="\n")
            self.csv.writerow([id_name, "label", "probability", *(f"p_{c}" for c in classes)])

    def write(self, row: Row, record: dict | None) -> None:
        if self.kind == "jsonl":
            out = {self.id_name: row.id, "label": None, "probability": None, "probabilities": None}
            if record is not None:
                out.update(record)
            self.f.write(json.dumps(out, ensure_ascii=False) + "\n")
        elif record is None:
            self.csv.writerow([row.id, "", "", *([""] * len(self.classes))])
        else:
            probabilities = record["probabilities"]
            self.csv.writerow([row.id, record["label"], record["probability"],
                               *(probabilities[str(c)] for c in self.classes)])


def predict_file(clf, data: str | os.PathLike, out: str | os.PathLike, *, text_column: str | None = None,
                 id_column: str | None = None, force: bool = False, chunk: int = CHUNK) -> Outcome:
    """Label every row of the file `data` with the trained classifier `clf` into the file `out`
    (see the module docstring for both files' forms). Returns how many rows were written and which
    got an empty prediction; nothing is written to `out` unless the whole file was predicted."""
    from seqrnn.data.checks import json_classes
    from seqrnn.fileio import atomic_file
    from seqrnn.progress import Progress
    from seqrnn.tasks.classifier import prediction_records

    data, out = Path(data), Path(out)
    check_paths(data, out, force)
    kind = output_format(out)
    classes = json_classes(clf.classes_)
    outcome = Outcome()
    with open(data, "rb") as source, atomic_file(out, "w", encoding="utf-8", newline="") as sink:
        lines = Lines(data, source)
        id_key, rows = open_rows(data, lines, text_column, id_column)
        writer = _Writer(sink, kind, id_key or "row", classes)
        with Progress(f"predict {data.name}", os.fstat(source.fileno()).st_size, "B") as progress:
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= chunk:
                    _predict_chunk(clf, batch, writer, outcome, prediction_records, data)
                    progress.update_to(lines.bytes)
                    batch = []
            _predict_chunk(clf, batch, writer, outcome, prediction_records, data)
            progress.update_to(lines.bytes)
        if not outcome.rows:
            raise SeqrnnError(f"{data}: the file is empty")
    return outcome


def _predict_chunk(clf, batch: list[Row], writer: _Writer, outcome: Outcome, prediction_records, data: Path) -> None:
    texts = [row.text for row in batch if row.text is not None]
    records = iter(prediction_records(clf, texts, name=str(data))) if texts else iter(())
    for row in batch:
        if row.text is None:
            outcome.empty.append(row)
            writer.write(row, None)
        else:
            writer.write(row, next(records))
        outcome.rows += 1


def describe_empty(data: Path, empty: list[Row]) -> str:
    """The stderr note for rows given an empty prediction."""
    shown = ", ".join(f"row {r.number} (line {r.line}: {r.problem})" for r in empty[:5])
    more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
    return (f"note: {data}: {len(empty)} row{'s' if len(empty) > 1 else ''} had no text to classify and "
            f"{'were' if len(empty) > 1 else 'was'} written with an empty prediction: {shown}{more}")
