"""Files of numeric series, each read into a `SeriesCollection`: `read_series` picks the reader from
the file's suffix.

| suffix | reader | layout |
| --- | --- | --- |
| `.ts` | `seqrnn.data.ts_files.read_ts` | the UCR/UEA archive's format |
| `.csv`, `.tsv`, `.tab` | `read_wide` or `read_long` | wide: one series a row; long: one time step a row |
| `.parquet`, `.pq` | `read_long` | long (needs pyarrow: `pip install 'seqrnn[parquet]'`) |
| `.npz` | `read_npz` | NumPy arrays `X` and `y` |

A CSV or TSV is long when a series column is named (`series_column`) or present under a usual name
(`series_id`, `series`, `case_id`, `unique_id`), or when a time or value column is named; else wide.

Missing values are NaN in the arrays. In a file they are written `?`, `NaN` (any case), `NA` or as
an empty cell, except that empty cells at the end of a wide row end a shorter series. Infinities,
text where a number belongs and series without a value are refused, each with one line naming the
file, the line (or row) and the column. Labels made only of integers are read as integers
(int64), other labels as strings; a file without a label column gives series without labels.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from seqrnn.data.datasets import SERIES_DATASETS, is_series_dataset_name, locate_series
from seqrnn.data.records import data_rows, file_lines, pick_column
from seqrnn.data.series import DTYPE, SeriesCollection, series_collection
from seqrnn.data.ts_files import read_ts
from seqrnn.errors import InvalidInputError, SeqrnnError

SERIES_FORMATS = {".ts": "ts", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
                  ".npz": "npz"}
LABEL_COLUMNS = ("label", "class", "target")  # the default label column: the first present
SERIES_COLUMNS = ("series_id", "series", "case_id", "unique_id")  # what makes a table long, by default
TIME_COLUMNS = ("time", "timestamp", "timepoint", "date", "ds")
MISSING = frozenset({"", "?", "nan", "na", "null"})  # compared without regard to case
_INTEGER = re.compile(r"\s*[+-]?\d{1,18}\s*")
_FLOAT32_LIMIT = float(2**128 - 2**103)  # the smallest magnitude that float32 rounds to infinity


def series_format(path: str | os.PathLike) -> str | None:
    """'ts', 'csv', 'tsv', 'parquet' or 'npz' by the file's suffix; None for any other file."""
    return SERIES_FORMATS.get(Path(path).suffix.lower())


def read_series(path: str | os.PathLike, *, label_column: str | None = None, series_column: str | None = None,
                time_column: str | None = None, value_columns: Sequence[str] | str | None = None,
                layout: str | None = None, allow_pickle: bool = False) -> SeriesCollection:
    """The labelled series of a `.ts`, CSV, TSV, Parquet or `.npz` file, the format by its suffix.

    Parameters
    ----------
    label_column : str, optional
        CSV, TSV and Parquet: the label column (default: the first of `label`, `class`, `target`
        present, matched without regard to case; none present: no labels).
    series_column, time_column, value_columns : optional
        Long tables (`read_long`): the series id, the time to sort each series by, the channels
        (a list, or names separated by commas).
    layout : 'wide' or 'long', optional
        How a CSV or TSV is laid out (default: found from the columns, see the module).
    allow_pickle : bool
        `.npz` only: read an object array of unequal-length series (`read_npz`).

    Raises
    ------
    SeqrnnError
        One line naming the file (and the line and column) of the first problem.
    """
    path = Path(path)
    kind = series_format(path)
    if kind is None:
        raise SeqrnnError(f"{path}: not a series file: expected .ts, .csv, .tsv, .parquet or .npz")
    if not path.is_file():
        raise SeqrnnError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    long_options = {"series_column": series_column, "time_column": time_column, "value_columns": value_columns}
    given = [name for name, value in {**long_options, "label_column": label_column, "layout": layout}.items()
             if value is not None]
    if kind in ("ts", "npz"):
        if given:
            raise SeqrnnError(f"{path}: `{given[0]}` applies to CSV, TSV and Parquet files")
        return read_ts(path) if kind == "ts" else read_npz(path, allow_pickle=allow_pickle)
    if layout not in (None, "wide", "long"):
        raise SeqrnnError(f"`layout` must be 'wide' or 'long', not {layout!r}")
    if kind == "parquet" and layout == "wide":
        raise SeqrnnError(f"{path}: a Parquet file of series is read long (a series id, a time and value columns)")
    if layout == "wide":
        if any(v is not None for v in long_options.values()):
            raise SeqrnnError(f"{path}: `series_column`, `time_column` and `value_columns` apply to long tables")
        return read_wide(path, label_column=label_column)
    if layout is None and kind != "parquet" and all(v is None for v in long_options.values()):
        header = _first_row(path, kind)
        if not any(c.strip().lower() in SERIES_COLUMNS for c in header):
            return read_wide(path, label_column=label_column)
    return read_long(path, label_column=label_column, **long_options)


# --- wide tables ------------------------------------------------------------------------------------


def read_wide(path: str | os.PathLike, *, label_column: str | None = None) -> SeriesCollection:
    """A wide CSV or TSV: a header, then one univariate series a row, a label column (see
    `read_series`) and one column per time step in the order of the header. Empty cells at the end
    of a row end a shorter series; an empty cell before a value, `?` or `NaN` is a missing value.
    Every row has as many fields as the header. Read one row at a time."""
    path = Path(path)
    delimiter = "\t" if series_format(path) == "tsv" else ","
    values: list[np.ndarray] = []
    labels: list[str] = []
    lines_of: list[int] = []
    with file_lines(path, quiet=True) as (lines, _):
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
            if header is None or (not header and lines.blank):
                raise SeqrnnError(f"{path}: the file is empty")
            label_key = _label_column(path, header, label_column)
            label_at = header.index(label_key) if label_key is not None else None
            steps = [i for i in range(len(header)) if i != label_at]
            if not steps:
                raise SeqrnnError(f"{path}: no time-step columns beside the label column {label_key!r}")
            for start, row in data_rows(path, reader, lines, len(header),
                                        " as in the header (leave the cells after a shorter series empty)"):
                if label_at is not None:
                    label = row[label_at].strip()
                    if not label:
                        raise SeqrnnError(f"{path}: line {start}, column {label_at + 1} ({label_key}): no label")
                    labels.append(label)
                values.append(_wide_row(path, start, [row[i] for i in steps], [i + 1 for i in steps], header))
                lines_of.append(start)
        except csv.Error as exc:
            raise SeqrnnError(f"{path}: line {lines.line}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} "
                              f"({exc})") from None
    if not values:
        raise SeqrnnError(f"{path}: no rows, only a header")
    return SeriesCollection(values, _labels(labels) if label_at is not None else None)


def _wide_row(path: Path, line: int, cells: list[str], columns: list[int], header: list[str]) -> np.ndarray:
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    if end == 0:
        raise SeqrnnError(f"{path}: line {line}: a series without values (a series needs at least one)")
    kept = cells[:end]
    try:
        row = np.array([c if c.strip().lower() not in MISSING else "nan" for c in kept], dtype=np.float64)
        if np.isfinite(row[~np.isnan(row)]).all() and not (np.abs(row) >= _FLOAT32_LIMIT).any():
            return row[None, :].astype(DTYPE)
    except ValueError:
        pass
    for cell, column in zip(kept, columns):
        _number(cell, f"{path}: line {line}, column {column} ({header[column - 1]})")
    raise AssertionError("unreachable: a bad cell was not found")  # pragma: no cover


def _number(cell: str, at: str) -> float:
    """One cell as a float (NaN when missing), or a one-line error at `at`."""
    written = cell.strip()
    if written.lower() in MISSING:
        return float("nan")
    try:
        number = float(written)
    except ValueError:
        raise SeqrnnError(f"{at}: {written!r:.60} is not a number (write a missing value as ? or leave the cell "
                          "empty)") from None
    if not np.isfinite(number):
        raise SeqrnnError(f"{at}: an infinite value ({written}); only finite numbers and missing values are read")
    if abs(number) >= _FLOAT32_LIMIT:
        raise SeqrnnError(f"{at}: {written} is beyond float32's range")
    return number


def _first_row(path: Path, kind: str) -> list[str]:
    with file_lines(path, quiet=True) as (lines, _):
        try:
            header = next(csv.reader(lines, delimiter="\t" if kind == "tsv" else ","), None)
        except csv.Error as exc:
            raise SeqrnnError(f"{path}: line 1: malformed {kind.upper()} ({exc})") from None
    if not header:
        raise SeqrnnError(f"{path}: the file is empty")
    return header


def _label_column(path: Path, columns: list[str], given: str | None) -> str | None:
    if given is not None:
        return pick_column(path, columns, given, LABEL_COLUMNS, "label", "`label_column`")
    folded = {c.strip().lower(): c for c in reversed(columns)}
    return next((folded[name] for name in LABEL_COLUMNS if name in folded), None)


def _labels(labels: Sequence) -> np.ndarray:
    """Labels as written: int64 when every one is an integer, else strings."""
    texts = [str(label).strip() for label in labels]
    if all(_INTEGER.fullmatch(text) for text in texts):
        return np.array([int(text) for text in texts], dtype=np.int64)
    return np.array(texts, dtype=str)


# --- long tables ------------------------------------------------------------------------------------


def read_long(path: str | os.PathLike, *, series_column: str | None = None, time_column: str | None = None,
              value_columns: Sequence[str] | str | None = None, label_column: str | None = None) -> SeriesCollection:
    """A long CSV, TSV or Parquet file: one time step a row, with a series id column (default: the
    first of `series_id`, `series`, `case_id`, `unique_id`), an optional time column (default: the
    first of `time`, `timestamp`, `timepoint`, `date`, `ds`; numbers or dates) that orders the rows
    of each series (else they are taken in file order), one value column per channel (default: every
    other column) and an optional label column that must not change within a series.

    Series come in the order they first appear. Two rows of one series at the same time, a series
    whose label changes, an empty series id or time, text in a value column and infinities are
    refused, naming the line (the row, for Parquet) and column.
    """
    import pandas as pd

    path = Path(path)
    kind = series_format(path)
    table, numbers, unit = read_table(path, kind)
    columns = [str(c) for c in table.columns]
    table.columns = columns
    series_key = pick_column(path, columns, series_column, SERIES_COLUMNS, "series id", "`series_column`")
    time_key = _optional_column(path, columns, time_column, TIME_COLUMNS)
    label_key = _label_column(path, columns, label_column)
    used = {series_key, time_key, label_key} - {None}
    if isinstance(value_columns, str):
        value_columns = [c for c in value_columns.split(",") if c.strip()]
    if value_columns is not None:
        value_keys = [pick_column(path, columns, c.strip(), (), "value", "`value_columns`") for c in value_columns]
        clash = next((c for c in value_keys if c in used), None)
        if clash is not None:
            raise SeqrnnError(f"{path}: column {clash!r} cannot be both a value column and the series, time or label")
    else:
        value_keys = [c for c in columns if c not in used]
    if not value_keys:
        raise SeqrnnError(f"{path}: no value columns beside {', '.join(sorted(used))}")
    if table.empty:
        raise SeqrnnError(f"{path}: no rows, only a header")

    def at(row: int, column: str) -> str:
        return f"{path}: {unit} {numbers[row]}, column {columns.index(column) + 1} ({column})"

    ids = table[series_key]
    empty_id = blank_cells(ids)
    if empty_id.any():
        raise SeqrnnError(f"{at(int(np.argmax(empty_id)), series_key)}: no series id")
    codes, uniques = pd.factorize(ids, sort=False)
    names = np.asarray(uniques).tolist()  # the series ids as Python values, for messages
    values = np.empty((len(table), len(value_keys)), dtype=np.float64)
    for j, key in enumerate(value_keys):
        values[:, j] = numeric_column(table[key], lambda row, key=key: at(row, key))
    if time_key is not None:
        times = _time_key(table[time_key], lambda row: at(row, time_key))
        order = np.lexsort((times, codes))
        same = (codes[order][1:] == codes[order][:-1]) & (times[order][1:] == times[order][:-1])
        if same.any():
            row = int(order[1:][np.argmax(same)])
            raise SeqrnnError(f"{at(row, time_key)}: series {names[codes[row]]!r} has two rows at time "
                              f"{table[time_key].iloc[row]!r}")
    else:
        order = np.argsort(codes, kind="stable")
    ends = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, ends)
    series = [np.ascontiguousarray(values[rows].T, dtype=DTYPE) for rows in groups]
    labels = None
    if label_key is not None:
        raw = table[label_key]
        blank = blank_cells(raw)
        if blank.any():
            raise SeqrnnError(f"{at(int(np.argmax(blank)), label_key)}: no label")
        text = raw.astype(str).str.strip().to_numpy()
        ordered = text[order]
        changed = (codes[order][1:] == codes[order][:-1]) & (ordered[1:] != ordered[:-1])
        if changed.any():
            k = int(np.argmax(changed))
            row, before = int(order[k + 1]), int(order[k])
            raise SeqrnnError(f"{at(row, label_key)}: series {names[codes[row]]!r} has label {text[row]!r} here but "
                              f"{text[before]!r} at {unit} {numbers[before]}: a series has one label")
        first = [rows[0] for rows in groups]
        labels = raw.to_numpy()[first] if pd.api.types.is_integer_dtype(raw) else _labels(text[first])
    return SeriesCollection(series, labels)


def read_table(path: Path, kind: str | None):
    """(the table, the line or row number of each of its rows, 'line' or 'row'): a CSV or TSV read
    one row at a time as text (UTF-8 checked, blank lines skipped, every row as many fields as the
    header), a Parquet file with its columns' types."""
    import pandas as pd

    if kind == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SeqrnnError(f"{path}: reading Parquet needs pyarrow: pip install 'seqrnn[parquet]' "
                              "(or pip install pyarrow)") from None
        try:
            table = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise SeqrnnError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
        return table, np.arange(1, len(table) + 1), "row"
    if kind not in ("csv", "tsv"):
        raise SeqrnnError(f"{path}: a long table is a CSV, TSV or Parquet file")
    name = "TSV" if kind == "tsv" else "CSV"
    with file_lines(path, quiet=True) as (lines, _):
        reader = csv.reader(lines, delimiter="\t" if kind == "tsv" else ",", strict=True)
        try:
            header = next(reader, None)
            if header is None or (not header and lines.blank):
                raise SeqrnnError(f"{path}: the file is empty")
            if len(set(header)) != len(header):
                twice = next(c for c in header if header.count(c) > 1)
                raise SeqrnnError(f"{path}: line 1: the column {twice!r} appears twice")
            cells: list[list[str]] = [[] for _ in header]
            numbers: list[int] = []
            for start, row in data_rows(path, reader, lines, len(header), " as in the header"):
                for column, value in zip(cells, row):
                    column.append(value)
                numbers.append(start)
        except csv.Error as exc:
            raise SeqrnnError(f"{path}: line {lines.line}: malformed {name} ({exc})") from None
    table = pd.DataFrame({key: pd.Series(column, dtype=object) for key, column in zip(header, cells)})
    return table, np.array(numbers, dtype=np.int64), "line"


def _optional_column(path: Path, columns: list[str], given: str | None, defaults: tuple[str, ...]) -> str | None:
    if given is not None:
        return pick_column(path, columns, given, defaults, "time", "`time_column`")
    folded = {c.strip().lower(): c for c in reversed(columns)}
    return next((folded[name] for name in defaults if name in folded), None)


def blank_cells(column) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        return (column.isna() | (column.astype(str).str.strip() == "")).to_numpy()
    return column.isna().to_numpy()


def numeric_column(column, at) -> np.ndarray:
    """A value column as float64 (NaN when missing), or a one-line error naming the first bad cell."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        raise SeqrnnError(f"{at(0)}: true/false values, expected numbers")
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.zeros(len(values), dtype=bool)
    else:
        text = column.astype(str).str.strip()
        missing = (column.isna() | text.str.lower().isin(MISSING)).to_numpy()
        values = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(values) & ~missing
        if bad.any():
            row = int(np.argmax(bad))
            _number(str(column.iloc[row]), at(row))
    bad = ~np.isfinite(values) & ~np.isnan(values) | (np.abs(np.nan_to_num(values)) >= _FLOAT32_LIMIT)
    if bad.any():
        row = int(np.argmax(bad))
        _number(str(values[row]), at(row))
    return values


def _time_key(column, at) -> np.ndarray:
    """The time column as numbers that sort as the times do: numbers (float64), or dates as int64
    nanoseconds (UTC for dates with a time zone)."""
    import pandas as pd

    blank = blank_cells(column)
    if blank.any():
        raise SeqrnnError(f"{at(int(np.argmax(blank)))}: no time")
    if pd.api.types.is_datetime64_any_dtype(column):
        return _nanoseconds(column)
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64)
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=np.float64)
    mixed = {"format": "mixed"} if int(pd.__version__.split(".")[0]) >= 2 else {}
    dates = pd.to_datetime(column, errors="coerce", utc=True, **mixed)
    if dates.notna().all():
        return _nanoseconds(dates)
    neither = (numbers.isna() & dates.isna()).to_numpy()
    row = int(np.argmax(neither if neither.any() else dates.isna().to_numpy()))
    problem = "is neither a number nor a date" if neither.any() else "is a number among dates"
    raise SeqrnnError(f"{at(row)}: {str(column.iloc[row])!r:.60} {problem}")


def _nanoseconds(dates) -> np.ndarray:
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return dates.to_numpy().astype("datetime64[ns]").astype(np.int64)


# --- NumPy ------------------------------------------------------------------------------------------


def read_npz(path: str | os.PathLike, *, allow_pickle: bool = False) -> SeriesCollection:
    """A NumPy `.npz` archive (`np.savez`) of the series `X` and, optionally, their labels `y`.

    `X` is a 3-D array `(n_cases, n_channels, n_timepoints)` (or 2-D `(n_cases, n_timepoints)`,
    univariate), NaN where a value is missing. Series of unequal lengths are stored padded to the
    longest, with an integer array `lengths` (one per case) saying how many time points each has:
    what `write_npz` writes, and readable without pickle. An object array of 2-D arrays (aeon's list
    of series saved as it is) needs pickle, which can run code hidden in the file: it is read only
    with `allow_pickle=True`, for files you trust (the command line never does); labels in an
    object array likewise.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=allow_pickle)
    except (OSError, ValueError, EOFError) as exc:
        raise SeqrnnError(f"{path}: not a readable .npz archive ({_first_line(exc)})") from None
    if not hasattr(archive, "files"):
        raise SeqrnnError(f"{path}: a single .npy array, expected an .npz archive holding X (and y)")
    with archive:
        if "X" not in archive.files:
            raise SeqrnnError(f"{path}: no array X (it holds {', '.join(archive.files) or 'nothing'}); expected X "
                              "(n_cases, n_channels, n_timepoints) and y")
        try:
            X = archive["X"]
            y = archive["y"] if "y" in archive.files else None
            lengths = archive["lengths"] if "lengths" in archive.files else None
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise SeqrnnError(f"{path}: X or y is an object array, which only pickle reads and which can run code: "
                                  "store unequal lengths padded with an array `lengths` (write_npz), or read a file "
                                  "you trust with read_npz(path, allow_pickle=True)") from None
            raise SeqrnnError(f"{path}: cannot read its arrays ({_first_line(exc)})") from None
        except (OSError, EOFError) as exc:
            raise SeqrnnError(f"{path}: damaged .npz archive ({_first_line(exc)})") from None
    if X.size == 0 and X.ndim in (2, 3) and X.dtype != object:
        raise SeqrnnError(f"{path}: X holds no series (shape {X.shape})")
    if X.dtype.kind not in "fiub" and X.dtype != object:
        raise SeqrnnError(f"{path}: X holds {X.dtype} values, expected numbers")
    if lengths is not None:
        X = _unpad(path, X, lengths)
    try:
        return series_collection(X, y)
    except InvalidInputError as exc:
        raise SeqrnnError(f"{path}: {exc}") from None


def _unpad(path: Path, X: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    if X.ndim == 2:
        X = X[:, None, :]
    if X.ndim != 3 or lengths.ndim != 1 or len(lengths) != len(X) or lengths.dtype.kind not in "iu":
        raise SeqrnnError(f"{path}: `lengths` must be whole numbers, one per case of a 3-D X; got shape "
                          f"{lengths.shape} for X of shape {X.shape}")
    odd = np.flatnonzero((lengths < 1) | (lengths > X.shape[2]))
    if len(odd):
        raise SeqrnnError(f"{path}: lengths[{odd[0]}] is {lengths[odd[0]]}: each must be from 1 to "
                          f"{X.shape[2]} (the time points X holds)")
    return [X[i, :, : int(n)] for i, n in enumerate(lengths.tolist())]


def write_npz(data: SeriesCollection, path: str | os.PathLike) -> Path:
    """Write `data` (a `SeriesCollection`, or what `series_collection` takes) as an `.npz` archive
    that `read_npz` reads without pickle: `X` float32 `(n_cases, n_channels, n_timepoints)`, `y`
    when there are labels, and for unequal lengths `X` padded with NaN plus `lengths`."""
    path = Path(path)
    data = data if isinstance(data, SeriesCollection) else series_collection(data)
    arrays: dict[str, np.ndarray] = {}
    if data.equal_length:
        arrays["X"] = data.to_numpy()
    else:
        lengths = data.lengths
        X = np.full((len(data), data.n_channels, int(lengths.max())), np.nan, dtype=DTYPE)
        for i, series in enumerate(data.values):
            X[i, :, : series.shape[1]] = series
        arrays["X"], arrays["lengths"] = X, lengths
    if data.labels is not None:
        labels = np.asarray(data.labels)
        if labels.dtype == object:
            labels = labels.astype(str)
        arrays["y"] = labels
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


# --- named series sets, and what a command names ---------------------------------------------------


def read_named_series(name: str, split: str = "train", *, download: bool = True) -> SeriesCollection:
    """Split `split` ('train' or 'test', the archive's official split) of the named series set `name`
    (`gunpoint`, `italypowerdemand`, `basicmotions`, `japanesevowels`): `NAME_TRAIN.ts` or
    `NAME_TEST.ts`, found in `$SEQRNN_DATA/series/` or the cache, else downloaded from the archive
    and checked by SHA-256 (`seqrnn.data.datasets.locate_series`)."""
    return read_ts(locate_series(name, split, download=download))


def read_series_data(target: str | os.PathLike, split: str | None = None, *, default_split: str = "train",
                     **options) -> SeriesCollection:
    """The series a command's `--data` names: a series file (`read_series`, with `options`), used
    whole (a `split` other than 'all' is refused), or a named series set's `split` (None:
    `default_split`; options are refused: the archive's files need none)."""
    path = Path(target)
    if path.exists():
        if split not in (None, "all"):
            raise SeqrnnError(f"{target}: a series file has no {split} split; it is used whole")
        return read_series(path, **options)
    name = str(target)
    if is_series_dataset_name(name):
        given = next((key for key, value in options.items() if value not in (None, False)), None)
        if given is not None:
            raise SeqrnnError(f"{name}: `{given}` applies to series files, not to a named series set")
        return read_named_series(name, split or default_split)
    if series_format(path) is not None:
        raise SeqrnnError(f"{target}: no such file")
    raise SeqrnnError(f"no such file or series set: {target} (series sets: {', '.join(SERIES_DATASETS)})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
