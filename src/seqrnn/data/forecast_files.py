"""Files of series to forecast, each read into a `TimeSeriesTable` (`seqrnn.data.timeseries`):
`read_forecast_file` picks the reader from the file's suffix; `read_forecast_data` also takes the
names of the forecasting datasets (`airline`, `shampoo`, `uschange`).

| suffix | layout |
| --- | --- |
| `.csv`, `.tsv`, `.tab` | a header, then one time step a row |
| `.parquet`, `.pq` | the same, with the columns' own types (needs pyarrow) |
| `.tsf` | the Monash forecasting archive's format (`seqrnn.data.tsf_files.read_tsf`) |

A table has a **time column** (`time_column`; default: the first of `time`, `timestamp`, `date`,
`datetime`, `ds`, `period`, `quarter`, `month`, `week`, `day`, `hour`, `year` present, matched
without regard to case; else a Parquet file's one column of dates, its index included), an
optional **series id column** (`series_column`; default: the first of `series_id`, `series`,
`unique_id`, `item_id`, `case_id` present) for many series in one long file,
the **target** (`target`), and **known covariates** (`covariates`: only the columns named; other
columns are not read). A column with an empty name (or `Unnamed: 0`) is a row number that pandas
wrote, and is skipped.

The target, when `target` is not given, is the column named `target`, `y` or `value`; else, in a
file without a series id, **every** other column is a series of its own (a wide file, such as
Uschange: one series per value column, named by its column); else, the one column left. `target`
may name several columns (a list, or names separated by commas) to read a wide file's chosen
columns as series. A file with one target and no series id holds one series, named by its target
column.

Times are read from the time column: years (`1970`), quarters (`1970 Q1`, `1970Q1`, `1970-Q1`,
`Q1 1970`), months (`1949-01`, `1949/01`), ISO weeks (`2020-W05`, their Mondays), dates and date
times (ISO 8601: `2020-01-31`, `2020-01-31 13:00`); other whole numbers are integer steps (and so
are 4-digit numbers with `freq=""`). Periods are stored as their first instant (`1970 Q1` is
1970-01-01, frequency `QS`). The frequency is read from the times unless `freq` is given.

Rules (`seqrnn.data.timeseries`): within a series, a time that repeats or goes back (rows out of
time order) is an error, and so is a gap (a missing time step) or a missing value (an empty cell,
`?`, `NaN`, `NA`, `null`) in the target or a covariate, unless `fill="interpolate"`. Text where a
number belongs and infinities are errors. Each error is one line naming the file, the line (the
row, for Parquet) and the column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqrnn.data.datasets import (
    FORECAST_DATASETS,
    is_forecast_dataset_name,
    locate_forecast,
)
from seqrnn.data.records import pick_column
from seqrnn.data.series_files import blank_cells, numeric_column, read_table
from seqrnn.data.timeseries import (
    FILL_RULES,
    TimeSeriesTable,
    build_table,
    normalize_freq,
)
from seqrnn.errors import InvalidInputError, SeqrnnError

FORECAST_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
                    ".tsf": "tsf"}
TIME_NAMES = ("time", "timestamp", "date", "datetime", "ds", "period", "quarter", "month", "week", "day", "hour",
              "year")
SERIES_NAMES = ("series_id", "series", "unique_id", "item_id", "case_id")
TARGET_NAMES = ("target", "y", "value")

_WHOLE = re.compile(r"^[+-]?\d+$")
_QUARTER = re.compile(r"^(\d{4})\s*[-/ ]?\s*[Qq]([1-4])$")
_QUARTER_FIRST = re.compile(r"^[Qq]([1-4])\s*[-/ ]?\s*(\d{4})$")
_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")
TIME_FORMS = "1970, 1970 Q1, 1949-01, 2020-W05, 2020-01-31 or 2020-01-31 13:00"


def forecast_format(path: str | os.PathLike) -> str | None:
    """'csv', 'tsv', 'parquet' or 'tsf' by the file's suffix; None for any other file."""
    return FORECAST_FORMATS.get(Path(path).suffix.lower())


def read_forecast_file(path: str | os.PathLike, *, time_column: str | None = None,
                       target: str | Sequence[str] | None = None, series_column: str | None = None,
                       covariates: str | Sequence[str] | None = None, freq: str | None = None,
                       fill: str | None = None, future: bool = False) -> TimeSeriesTable:
    """The series of a CSV, TSV, Parquet or Monash `.tsf` file, as a checked `TimeSeriesTable`
    (see the module for the columns, the times and the rules).

    Parameters
    ----------
    time_column, series_column : str, optional
        The time column and the series id column (defaults: see the module).
    target : str or list of str, optional
        The target column; several columns (a list, or names separated by commas): each a series.
    covariates : str or list of str, optional
        Known covariate columns (names separated by commas, or a list); default none.
    freq : str, optional
        The frequency, a pandas offset alias ("MS", "QS", "D", ...) or "" for integer steps;
        default: read from the times (for `.tsf`, from its `@frequency`).
    fill : None or 'interpolate'
        What a gap or a missing value is: an error (None), or filled (see `seqrnn.data.timeseries`).
    future : bool
        Keep the rows after each series' last target (the target blank) apart, as the table's
        `future`: the known covariates of the steps to forecast.

    Raises
    ------
    SeqrnnError
        One line naming the file (and the line and column) of the first problem.
    """
    path = Path(path)
    kind = forecast_format(path)
    if kind is None:
        raise SeqrnnError(f"{path}: not a file of series to forecast: expected .csv, .tsv, .parquet or .tsf")
    if not path.is_file():
        raise SeqrnnError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if fill not in FILL_RULES:
        raise SeqrnnError(f"`fill` must be None or 'interpolate', not {fill!r}")
    if freq is not None:
        try:
            freq = normalize_freq(freq)
        except InvalidInputError as exc:
            raise SeqrnnError(f"{path}: {exc}") from None
    if kind == "tsf":
        given = {"time_column": time_column, "target": target, "series_column": series_column,
                 "covariates": covariates}
        name = next((key for key, value in given.items() if value), None)
        if name is not None:
            raise SeqrnnError(f"{path}: `{name}` applies to CSV, TSV and Parquet files, not to .tsf")
        from seqrnn.data.tsf_files import read_tsf

        return read_tsf(path, freq=freq, fill=fill)
    table, numbers, unit = read_table(path, kind)
    if not isinstance(table.index, pd.RangeIndex):  # pandas wrote its index into the Parquet file
        table = table.reset_index()
    columns = [str(c) for c in table.columns]
    table.columns = columns
    skipped = {c for c in columns if not c.strip() or re.fullmatch(r"Unnamed: \d+", c)}
    named = [c for c in columns if c not in skipped]
    dated = [c for c in named if pd.api.types.is_datetime64_any_dtype(table[c])]
    if time_column is None and _default(named, TIME_NAMES) is None and len(dated) == 1:
        time_column = dated[0]  # the one column of dates (a Parquet file's)
    time_key = pick_column(path, named, time_column, TIME_NAMES, "time", "`time_column` (--time-column)")
    series_key = (pick_column(path, named, series_column, (), "series id", "`series_column`")
                  if series_column is not None else _default(named, SERIES_NAMES))
    cov_keys = [pick_column(path, named, c, (), "covariate", "`covariates`") for c in _listed(covariates)]
    used = [k for k in (time_key, series_key) if k is not None]
    targets = _targets(path, named, target, used, cov_keys, series_key)
    for key in cov_keys:
        if key in used or key in targets:
            raise SeqrnnError(f"{path}: column {key!r} cannot be both a covariate and the time, series or target")
    if len(set(cov_keys)) != len(cov_keys):
        raise SeqrnnError(f"{path}: a covariate is named twice")
    if table.empty:
        raise SeqrnnError(f"{path}: no rows, only a header")

    def at(row: int, column: str) -> str:
        return f"{path}: {unit} {numbers[row]}, column {columns.index(column) + 1} ({column})"

    times = parse_times(table[time_key], lambda row: at(row, time_key), freq)
    covs = {key: numeric_column(table[key], lambda row, key=key: at(row, key)) for key in cov_keys}
    n = len(table)
    frames = []
    for key in targets:
        values = numeric_column(table[key], lambda row, key=key: at(row, key))
        if series_key is not None:
            blank = blank_cells(table[series_key])
            if blank.any():
                raise SeqrnnError(f"{at(int(np.argmax(blank)), series_key)}: no series id")
            ids = table[series_key].astype(str).str.strip().to_numpy(dtype=object)
        else:
            ids = np.full(n, key, dtype=object)
        frames.append(pd.DataFrame({"series": ids, "time": times, "target": values, **covs}))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    shown = {"series": series_key, "time": time_key, **{key: key for key in cov_keys}}

    def where(i: int, column: str) -> str:
        key = targets[i // n] if column == "target" else shown.get(column, column)
        return f"{unit} {numbers[i % n]}, column {columns.index(key) + 1} ({key})"

    try:
        result = build_table(frame, cov_keys, freq, fill, name=str(path), where=where, sort_times=False,
                             future=future)
    except InvalidInputError as exc:
        raise SeqrnnError(str(exc)) from None
    result.source = str(path)
    return result


def _listed(names: str | Sequence[str] | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        return [c.strip() for c in names.split(",") if c.strip()]
    return [str(c) for c in names]


def _default(columns: list[str], names: tuple[str, ...]) -> str | None:
    folded = {c.strip().lower(): c for c in reversed(columns)}
    return next((folded[name] for name in names if name in folded), None)


def _targets(path: Path, columns: list[str], target, used: list[str], cov_keys: list[str],
             series_key: str | None) -> list[str]:
    if target is not None:
        keys = [pick_column(path, columns, c, (), "target", "`target`") for c in _listed(target)]
        if not keys:
            raise SeqrnnError(f"{path}: `target` names no column")
    else:
        found = _default([c for c in columns if c not in used], TARGET_NAMES)
        rest = [c for c in columns if c not in used and c not in cov_keys]
        if found is not None:
            keys = [found]
        elif series_key is None and rest or len(rest) == 1:
            keys = rest
        elif not rest:
            raise SeqrnnError(f"{path}: no target column beside {', '.join(used + cov_keys)}")
        else:
            raise SeqrnnError(f"{path}: several value columns ({', '.join(rest)}): name the target with `target` "
                              "(--target)")
    clash = next((k for k in keys if k in used), None)
    if clash is not None:
        raise SeqrnnError(f"{path}: column {clash!r} cannot be both the target and the time or series id")
    if len(set(keys)) != len(keys):
        raise SeqrnnError(f"{path}: a target column is named twice")
    if len(keys) > 1 and series_key is not None:
        raise SeqrnnError(f"{path}: several targets ({', '.join(keys)}) are read from a file without a series id "
                          f"column; this one has {series_key!r}: name one target")
    return keys


# --- times -------------------------------------------------------------------------------------------


def parse_times(column: pd.Series, at, freq: str | None = None) -> pd.DatetimeIndex | np.ndarray:
    """A time column as a `DatetimeIndex` (ns, no time zone: times with one are taken in UTC) or,
    for integer steps, an int64 array (see the module for the forms read). `at(row)` names a row
    in errors; `freq` "" reads 4-digit numbers as steps, not years."""
    blank = blank_cells(column)
    if blank.any():
        raise SeqrnnError(f"{at(int(np.argmax(blank)))}: no time")
    if pd.api.types.is_bool_dtype(column):
        raise SeqrnnError(f"{at(0)}: true/false values, expected times")
    if pd.api.types.is_datetime64_any_dtype(column):
        index = pd.DatetimeIndex(column)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        return index.astype("datetime64[ns]")
    if isinstance(column.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(column).to_timestamp(how="start").astype("datetime64[ns]")
    if pd.api.types.is_integer_dtype(column):
        return _whole(column.to_numpy(dtype=np.int64), freq, at)
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        odd = ~np.isfinite(values) | (values != np.round(values))
        if odd.any():
            raise SeqrnnError(f"{at(int(np.argmax(odd)))}: {values[int(np.argmax(odd))]!r} is not a time: times are "
                              f"written as {TIME_FORMS}, or as whole numbers for integer steps")
        return _whole(values.astype(np.int64), freq, at)
    text = column.astype(str).str.strip()
    first = text.iloc[0]
    if _WHOLE.match(first):
        return _whole(_all(text, _WHOLE, at, "a whole number (integer steps)")[:, 0].astype(np.int64), freq, at)
    for pattern, build, what in ((_QUARTER, lambda y, q: (y, 3 * q - 2), "a quarter such as 1970 Q1"),
                                 (_QUARTER_FIRST, lambda q, y: (y, 3 * q - 2), "a quarter such as Q1 1970"),
                                 (_MONTH, lambda y, m: (y, m), "a month such as 1949-01")):
        if pattern.match(first):
            parts = _all(text, pattern, at, what).astype(np.int64)
            years, months = build(parts[:, 0], parts[:, 1])
            bad = (months < 1) | (months > 12)
            if bad.any():
                raise SeqrnnError(f"{at(int(np.argmax(bad)))}: {text.iloc[int(np.argmax(bad))]!r} has no month "
                                  f"{int(months[int(np.argmax(bad))])}")
            stamps = pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1}))
            return pd.DatetimeIndex(stamps).astype("datetime64[ns]")
    if _WEEK.match(first):
        parts = _all(text, _WEEK, at, "an ISO week such as 2020-W05").astype(np.int64)
        stamps = []
        for row, (year, week) in enumerate(parts.tolist()):
            try:
                stamps.append(pd.Timestamp.fromisocalendar(year, week, 1))
            except ValueError:
                raise SeqrnnError(f"{at(row)}: {text.iloc[row]!r}: the year {year} has no week {week}") from None
        return pd.DatetimeIndex(stamps).astype("datetime64[ns]")
    return _dates(text, at)


def _all(text: pd.Series, pattern: re.Pattern, at, what: str) -> np.ndarray:
    """The groups of `pattern` in every cell (the whole cell for a pattern without groups), or an
    error at the first cell not of that form."""
    found = text.str.extract(pattern) if pattern.groups else text.where(text.str.match(pattern)).to_frame()
    bad = found.isna().any(axis=1).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise SeqrnnError(f"{at(row)}: {text.iloc[row]!r:.60} is not a time of the form of the first row ({what})")
    return found.to_numpy()


def _whole(values: np.ndarray, freq: str | None, at) -> pd.DatetimeIndex | np.ndarray:
    """Whole numbers: years when all have four digits (1000 to 2999) and `freq` is not "", else
    integer steps."""
    if freq != "" and len(values) and ((values >= 1000) & (values <= 2999)).all():
        return pd.DatetimeIndex(pd.to_datetime(pd.DataFrame({"year": values, "month": 1, "day": 1}))).astype(
            "datetime64[ns]")
    if freq not in (None, ""):
        raise SeqrnnError(f"{at(0)}: the times are integer steps, but freq {freq!r} needs dates")
    return values.astype(np.int64)


def _dates(text: pd.Series, at) -> pd.DatetimeIndex:
    try:
        stamps = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # time zones that differ between rows
        stamps = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    bad = stamps.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise SeqrnnError(f"{at(row)}: {text.iloc[row]!r:.60} is not a time: write times as {TIME_FORMS}, or whole "
                          "numbers for integer steps")
    index = pd.DatetimeIndex(stamps)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.astype("datetime64[ns]")


# --- writing -----------------------------------------------------------------------------------------


def write_forecast_file(table: TimeSeriesTable, path: str | os.PathLike) -> Path:
    """Write `table` as a CSV, TSV or Parquet file (`series`, `time`, `target`, covariates; one
    time step a row) or a `.tsf` file (no covariates), by the suffix, so that
    `read_forecast_file(path, freq=table.freq)` reads it back as it was."""
    path = Path(path)
    kind = forecast_format(path)
    if kind is None:
        raise SeqrnnError(f"{path}: write a .csv, .tsv, .parquet or .tsf file")
    if kind == "tsf":
        from seqrnn.data.tsf_files import write_tsf

        return write_tsf(table, path)
    frame = table.frame.copy()
    if kind == "parquet":
        frame.to_parquet(path, index=False)
        return path
    if table.freq != "":
        times = pd.DatetimeIndex(frame["time"])
        form = "%Y-%m-%d" if (times == times.normalize()).all() else "%Y-%m-%d %H:%M:%S"
        frame["time"] = times.strftime(form)
    frame.to_csv(path, sep="\t" if kind == "tsv" else ",", index=False, lineterminator="\n")
    return path


# --- what a command names ----------------------------------------------------------------------------


def read_forecast_data(target: str | os.PathLike, /, *, download: bool = True, **options) -> TimeSeriesTable:
    """The series a command names: a file (`read_forecast_file`, with `options`), or a forecasting
    dataset's name (`airline`, `shampoo`, `uschange`), read with its known columns and frequency;
    `options` given for a dataset replace those (`target="Consumption"` reads one series of
    uschange). An existing path wins over a name."""
    path = Path(target)
    if path.exists() or not is_forecast_dataset_name(str(target)):
        if not path.exists() and forecast_format(path) is None:
            raise SeqrnnError(f"no such file or forecasting dataset: {target} (datasets: "
                              f"{', '.join(FORECAST_DATASETS)})")
        return read_forecast_file(path, **options)
    dataset = FORECAST_DATASETS[str(target)]
    settings = {"time_column": dataset.time_column, "target": list(dataset.targets), "freq": dataset.freq}
    settings.update({key: value for key, value in options.items() if value is not None})
    table = read_forecast_file(locate_forecast(dataset.name, download=download), **settings)
    return table
