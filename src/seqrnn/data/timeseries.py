"""Series to forecast, as one long table: `TimeSeriesTable` holds many series, each regular at one
frequency, with a target and optional known covariates; `as_table` makes one from what a Python
user brings (pandas Series and DataFrames, NumPy arrays, lists of these) and checks it.

Rules every table obeys (`as_table` and the readers enforce them through `build_table`, each
breach one line naming the series and the row):

- the frame's columns are `series` (str), `time` (datetime64[ns], or int64 steps when `freq` is
  ""), `target` (float64), then the covariates (float64), in that order;
- each series is one contiguous block of rows, the series in the order they first appeared in the
  input (`series_ids()`), each block sorted by time;
- times are unique within a series and regular: each one step of `freq` after the one before; a
  time stamp missing inside a series (a gap) is an error, and so is a missing (NaN) target or
  covariate, unless `fill="interpolate"`: then the gaps get rows, missing values inside a series
  are interpolated linearly, and missing targets at a series' start or end are cut off (missing
  covariates at the ends take the nearest value);
- values are finite; every series has at least one observed value.

Frequencies are pandas offset aliases: "YS" (yearly, January), "QS" (quarters starting in January,
April, July and October), "MS", "ME", "W-SUN" (weekly, the day of the week named), "D", "h",
"min", "s", multiples such as "2h" or "15min", or "" for integer steps 0, 1, 2, ...
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seqrnn.data.frequencies import (
    IrregularTimesError,
    _as_times,
    _order_problem,
    _show,
    _step_alias,
    _steps_ok,
    check_times,
    describe_freq,
    freq_offset,
    future_times,
    infer_freq,
    normalize_freq,
    seasonal_period,
)
from seqrnn.errors import InvalidInputError

__all__ = [
    "FILL_RULES",
    "IrregularTimesError",
    "TimeSeriesTable",
    "as_table",
    "build_table",
    "check_times",
    "describe_freq",
    "freq_offset",
    "future_times",
    "infer_freq",
    "normalize_freq",
    "seasonal_period",
]

FILL_RULES = (None, "interpolate")


@dataclass
class TimeSeriesTable:
    """Many series in one long table, each regular at `freq`.

    `frame` has the columns `series` (str), `time` (datetime64[ns]; int64 steps when `freq` is
    ""), `target` (float64), then the covariate columns (float64); each series' rows are one block,
    the blocks in the order the series first appeared, each sorted by time. `covariates` names the
    known covariate columns (may be empty). `horizon` is the horizon the source names (a Monash
    `.tsf` file's `@horizon`), or None; `source` says where the table was read from (for messages).
    `filled` counts what `fill="interpolate"` did: `gaps` (time steps without a row), `target` and
    `covariates` (values interpolated, gaps included), `cut` (missing targets cut off the ends).
    `future`: read with `future=True`, the rows after each series' last target (`series`, `time`,
    the covariates: known values of the steps to forecast), else None.
    """

    frame: pd.DataFrame
    freq: str
    covariates: list[str] = field(default_factory=list)
    horizon: int | None = None
    source: str | None = None
    filled: dict[str, int] = field(default_factory=dict)
    future: pd.DataFrame | None = None

    def series_ids(self) -> list[str]:
        """The series' names, in order of first appearance."""
        return [str(s) for s in pd.unique(self.frame["series"])]

    def lengths(self) -> dict[str, int]:
        """The number of time steps of each series."""
        counts = self.frame.groupby("series", sort=False).size()
        return {str(k): int(v) for k, v in counts.items()}

    def groups(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Each series' name and rows (`time`, `target`, covariates), in order of first appearance."""
        for key, rows in self.frame.groupby("series", sort=False):
            yield str(key), rows

    def __len__(self) -> int:
        return int(self.frame["series"].nunique())

    @property
    def n_series(self) -> int:
        return len(self)

    def series(self, series_id: str) -> pd.DataFrame:
        """The rows of one series (`KeyError` if there is none of that name)."""
        rows = self.frame[self.frame["series"] == series_id]
        if rows.empty:
            raise KeyError(series_id)
        return rows

    def values(self) -> list[np.ndarray]:
        """Each series' target as a float64 array, in order of first appearance."""
        return [rows["target"].to_numpy(dtype=np.float64) for _, rows in self.groups()]

    def starts(self) -> dict[str, Any]:
        return {k: rows["time"].iloc[0] for k, rows in self.groups()}

    def ends(self) -> dict[str, Any]:
        return {k: rows["time"].iloc[-1] for k, rows in self.groups()}


# --- making tables -----------------------------------------------------------------------------


def as_table(y: Any, *, freq: str | None = None, covariates: Any = None, fill: str | None = None) -> TimeSeriesTable:
    """`y` as a checked `TimeSeriesTable`.

    Parameters
    ----------
    y
        A pandas Series (one series) or DataFrame (one series a column) with a `DatetimeIndex` or
        `PeriodIndex` (an integer index: integer steps); a long DataFrame with the columns `series`,
        `time` and `target` (and an ordinary index); a NumPy 1-D array (one series) or 2-D array
        (one series a column), on integer steps 0, 1, ...; a list of any of these; or a
        `TimeSeriesTable` (returned checked). Series are named by their pandas name or column, else
        by their position ("0", "1", ...).
    freq : str, optional
        The frequency (a pandas offset alias, or "" for integer steps); default: read from the
        time stamps.
    covariates
        Known covariates: a DataFrame indexed by time whose columns apply to every series (it must
        cover each series' times); a dict of such DataFrames by series name; a list of them, one
        per series; for a long DataFrame or a `TimeSeriesTable`, the names of its covariate columns.
    fill : None or 'interpolate'
        None: a gap or a missing value is an error. 'interpolate': see the module.
    """
    if fill not in FILL_RULES:
        raise InvalidInputError(f"fill must be None or 'interpolate', not {fill!r}")
    if isinstance(y, TimeSeriesTable):
        names = list(y.covariates) if covariates is None else _names(covariates)
        table = _from_long(y.frame, names, freq if freq is not None else (y.freq or ""), fill, "y")
        table.horizon, table.source = y.horizon, y.source
        return table
    if isinstance(y, pd.DataFrame) and _is_long(y):
        return _from_long(y, [] if covariates is None else _names(covariates), freq, fill, "y")
    pieces = _pieces(y)
    if not pieces:
        raise InvalidInputError("y holds no series")
    names = [p[0] for p in pieces]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise InvalidInputError(f"y: two series are named {name!r}: series names must be unique")
        seen.add(name)
    covs = _covariates_for(covariates, names)
    frames = []
    for (name, index, values), cov in zip(pieces, covs):
        frame = pd.DataFrame({"series": name, "time": _as_times(index), "target": values})
        if cov is not None:
            frame = _join_covariates(frame, cov, name)
        frames.append(frame)
    cov_names = [c for c in frames[0].columns if c not in ("series", "time", "target")]
    for name, frame in zip(names, frames):
        got = [c for c in frame.columns if c not in ("series", "time", "target")]
        if got != cov_names:
            raise InvalidInputError(f"series {name!r} has the covariates {got} where the first has {cov_names}")
    return _from_long(pd.concat(frames, ignore_index=True), cov_names, freq, fill, "y")


def _names(covariates: Any) -> list[str]:
    if isinstance(covariates, str):
        return [covariates]
    if isinstance(covariates, Sequence) and all(isinstance(c, str) for c in covariates):
        return list(covariates)
    raise InvalidInputError("covariates of a long table must be column names")


def _is_long(frame: pd.DataFrame) -> bool:
    return (not isinstance(frame.index, (pd.DatetimeIndex, pd.PeriodIndex))
            and {"series", "time", "target"} <= {str(c) for c in frame.columns})


def _pieces(y: Any, position: int | None = None) -> list[tuple[str, Any, np.ndarray]]:
    """(name, times, values) for each series in `y`."""
    default = "0" if position is None else str(position)
    if isinstance(y, pd.Series):
        name = default if y.name is None else str(y.name)
        return [(name, _index_times(y.index, name), _numbers(y.to_numpy(), name))]
    if isinstance(y, pd.DataFrame):
        if isinstance(y.index, pd.MultiIndex):
            raise InvalidInputError("y: a DataFrame with a MultiIndex is not read; give a long table with the "
                                    "columns series, time and target")
        out = []
        for j, column in enumerate(y.columns):
            name = str(column)
            out.append((name, _index_times(y.index, name), _numbers(y.iloc[:, j].to_numpy(), name)))
        return out
    if isinstance(y, np.ndarray) and y.dtype != object:
        if y.ndim == 1:
            return [(default, np.arange(len(y), dtype=np.int64), _numbers(y, default))]
        if y.ndim == 2:
            return [(str(j) if position is None else f"{position}.{j}", np.arange(y.shape[0], dtype=np.int64),
                     _numbers(y[:, j], str(j))) for j in range(y.shape[1])]
        raise InvalidInputError(f"y must be a 1-D or 2-D array (time steps × series), got a {y.ndim}-D array")
    if isinstance(y, (list, tuple)):
        if y and all(isinstance(v, numbers.Number) or v is None for v in y):
            return _pieces(np.asarray([np.nan if v is None else v for v in y], dtype=np.float64), position)
        if position is not None:
            raise InvalidInputError(f"y[{position}] is a nested list: give a Series, DataFrame or array per item")
        out = []
        for i, item in enumerate(y):
            out.extend(_pieces(item, i))
        return out
    raise InvalidInputError("y must be a pandas Series or DataFrame, a NumPy array, a list of these or a "
                            f"TimeSeriesTable, not {type(y).__name__}")


def _index_times(index: pd.Index, name: str) -> Any:
    if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        return index
    if pd.api.types.is_integer_dtype(index.dtype):
        return index.to_numpy(dtype=np.int64)
    raise InvalidInputError(f"series {name!r}: the index must be a DatetimeIndex, a PeriodIndex or integer steps, "
                            f"not {type(index).__name__} of {index.dtype}")


def _numbers(values: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(pd.to_numeric(pd.Series(values), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError):
        for i, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise InvalidInputError(f"series {name!r}: value {i} ({v!r}) is not a number") from None
        raise InvalidInputError(f"series {name!r}: the values are not numbers") from None


def _covariates_for(covariates: Any, names: list[str]) -> list[pd.DataFrame | None]:
    if covariates is None:
        return [None] * len(names)
    if isinstance(covariates, pd.DataFrame):
        return [covariates] * len(names)
    if isinstance(covariates, Mapping):
        missing = [n for n in names if n not in covariates]
        if missing:
            raise InvalidInputError(f"covariates: none given for series {missing[0]!r}")
        return [_cov_frame(covariates[n], n) for n in names]
    if isinstance(covariates, (list, tuple)) and not all(isinstance(c, str) for c in covariates):
        if len(covariates) != len(names):
            raise InvalidInputError(f"covariates: {len(covariates)} given for {len(names)} series")
        return [_cov_frame(c, n) for c, n in zip(covariates, names)]
    raise InvalidInputError("covariates must be a DataFrame indexed by time, a dict of them by series name or a "
                            "list of them, one per series")


def _cov_frame(value: Any, name: str) -> pd.DataFrame:
    if isinstance(value, pd.Series):
        return value.to_frame()
    if isinstance(value, pd.DataFrame):
        return value
    raise InvalidInputError(f"covariates of series {name!r} must be a DataFrame indexed by time")


def _join_covariates(frame: pd.DataFrame, cov: pd.DataFrame, name: str) -> pd.DataFrame:
    clash = [c for c in cov.columns if str(c) in ("series", "time", "target")]
    if clash:
        raise InvalidInputError(f"covariates: a column may not be named {clash[0]!r}")
    index = _as_times(_index_times(cov.index, f"covariates of {name}"))
    values = pd.DataFrame({str(c): _numbers(cov.iloc[:, j].to_numpy(), f"covariate {c}")
                           for j, c in enumerate(cov.columns)})
    values.index = index
    if values.index.has_duplicates:
        raise InvalidInputError(f"covariates of series {name!r}: a time stamp repeats")
    missing = ~pd.Index(frame["time"]).isin(values.index)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InvalidInputError(f"covariates of series {name!r} have no row for time stamp "
                                f"{_show(frame['time'].iloc[i])}")
    joined = values.reindex(pd.Index(frame["time"]))
    for column in joined.columns:
        frame[column] = joined[column].to_numpy(dtype=np.float64)
    return frame


def _from_long(frame: pd.DataFrame, covariates: list[str], freq: str | None, fill: str | None,
               name: str) -> TimeSeriesTable:
    missing = [c for c in ["series", "time", "target", *covariates] if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{name}: no column {missing[0]!r}")
    if len(set(covariates)) != len(covariates) or set(covariates) & {"series", "time", "target"}:
        raise InvalidInputError(f"{name}: covariate names must be unique and not series, time or target")
    out = pd.DataFrame({"series": frame["series"].astype(str).to_numpy(dtype=object)})
    out["time"] = _as_times(frame["time"].to_numpy() if not isinstance(frame["time"].dtype, pd.PeriodDtype)
                            else pd.PeriodIndex(frame["time"]))
    out["target"] = _numbers(frame["target"].to_numpy(), "target")
    for c in covariates:
        out[c] = _numbers(frame[c].to_numpy(), c)
    return build_table(out, covariates, freq, fill, name=name)


def split_future(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rows of a long frame up to each series' last target, the rows after it): the rows whose
    target is blank and whose time is after the series' last target value, the known future of the
    covariates. A series without any target keeps its rows (to be refused by name)."""
    blank = pd.isna(frame["target"]).to_numpy()
    if not blank.any():
        return frame, frame.iloc[:0][[c for c in frame.columns if c != "target"]]
    last = frame.loc[~blank].groupby("series", sort=False)["time"].max()
    ends = frame["series"].map(last)
    ahead = blank & (ends.notna() & (frame["time"] > ends)).to_numpy()
    return frame.loc[~ahead], frame.loc[ahead, [c for c in frame.columns if c != "target"]].reset_index(drop=True)


def build_table(frame: pd.DataFrame, covariates: list[str], freq: str | None, fill: str | None, *,
                name: str = "y", where=None, sort_times: bool = True, future: bool = False) -> TimeSeriesTable:
    """The checked table of a long frame (`series`, `time`, `target`, covariates): each series'
    rows are gathered in the order its first row appears. `sort_times`: sort each series' rows by
    time (else a time that goes back is an error). `where(i, column)` names the frame's row `i` and
    a column in messages (default: "row i, column c"). `future`: the rows after each series' last
    target (`split_future`) become the table's `future`. Readers use this directly."""
    where = where or (lambda i, column: f"row {i}, column {column}")
    frame = frame.reset_index(drop=True)
    if not future:
        return _build_table(frame, covariates, freq, fill, name, where, sort_times)
    past, ahead = split_future(frame)
    rows = past.index.to_numpy()
    table = _build_table(past.reset_index(drop=True), covariates, freq, fill, name,
                         lambda i, column: where(int(rows[i]), column), sort_times)
    ahead["series"] = ahead["series"].astype(str)
    table.future = ahead
    return table


def _build_table(frame: pd.DataFrame, covariates: list[str], freq: str | None, fill: str | None, name: str, where,
                 sort_times: bool) -> TimeSeriesTable:
    for column in ["target", *covariates]:
        values = frame[column].to_numpy(dtype=np.float64)
        bad = np.isinf(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"{name}: {where(i, column)}: an infinite value")
    order = pd.unique(frame["series"])
    rank = pd.Series(np.arange(len(order)), index=order)
    frame["_row"] = np.arange(len(frame))
    frame["_rank"] = rank.reindex(frame["series"]).to_numpy()
    frame = frame.sort_values(["_rank", "time"] if sort_times else ["_rank"], kind="stable")
    times_all = frame["time"]
    if not (pd.api.types.is_datetime64_any_dtype(times_all) or pd.api.types.is_integer_dtype(times_all)):
        raise InvalidInputError(f"{name}: times must be dates or integer steps")
    is_steps = pd.api.types.is_integer_dtype(times_all)
    if freq is not None:
        freq = normalize_freq(freq)
        if freq == "" and not is_steps:
            raise InvalidInputError(f"{name}: freq '' means integer steps, but the times are dates")
        if freq != "" and is_steps:
            raise InvalidInputError(f"{name}: the times are integer steps, but freq {freq!r} needs dates")
    fast = _regular_at_once(frame, covariates, freq, is_steps)
    if fast is not None:
        out, freq = fast
        return TimeSeriesTable(out, freq, list(covariates), filled={"gaps": 0, "target": 0, "cut": 0, "covariates": 0})
    pieces = []
    found: dict[str, str] = {}
    for key, rows in frame.groupby("_rank", sort=True):
        series = str(rows["series"].iloc[0])
        times = pd.DatetimeIndex(rows["time"]).astype("datetime64[ns]") if not is_steps \
            else rows["time"].to_numpy(dtype=np.int64)
        problem = _order_problem(times)
        if problem is not None:
            i, what = problem
            raise InvalidInputError(f"{name}: {where(int(rows['_row'].iloc[i]), 'time')}: series {series!r}, time "
                                    f"{_show(times[i])} {_repeat_words(what)}")
        if freq is None and len(rows) > 1:
            series_freq = _infer_with_gaps(times, fill)
            if series_freq is None:
                raise IrregularTimesError(f"{name}: series {series!r}: its time stamps follow no frequency; give freq",
                                          0)
            found[series] = series_freq
        pieces.append((series, rows, times))
    if freq is None:
        kinds = dict.fromkeys(found.values())
        if not found:
            if is_steps:
                freq = ""
            else:
                raise InvalidInputError(f"{name}: every series has one time stamp: the frequency cannot be read; "
                                        "give freq")
        elif len(kinds) > 1:
            freq = _common_freq(list(kinds), [times for _, _, times in pieces])
        if freq is None and len(kinds) > 1:
            first, other = list(kinds)[:2]
            a = next(s for s, f in found.items() if f == first)
            b = next(s for s, f in found.items() if f == other)
            raise InvalidInputError(f"{name}: series {a!r} is {first} ({describe_freq(first)}) but series {b!r} is "
                                    f"{other} ({describe_freq(other)}): one frequency for all, or give freq")
        elif freq is None:
            freq = next(iter(kinds))
    counts = {"gaps": 0, "target": 0, "cut": 0, "covariates": 0}
    blocks = [_regular(series, rows, times, freq, covariates, fill, name, where, counts)
              for series, rows, times in pieces]
    out = pd.concat(blocks, ignore_index=True) if blocks else frame.iloc[:0]
    out = out[["series", "time", "target", *covariates]].reset_index(drop=True)
    out["series"] = out["series"].astype(str)
    if is_steps:
        out["time"] = out["time"].astype(np.int64)
    else:
        out["time"] = out["time"].astype("datetime64[ns]")
    for column in ["target", *covariates]:
        out[column] = out[column].astype(np.float64)
    if out.empty:
        raise InvalidInputError(f"{name}: no series with an observed value")
    return TimeSeriesTable(out, freq, list(covariates), filled=counts)


def _regular_at_once(frame: pd.DataFrame, covariates: list[str], freq: str | None, is_steps: bool):
    """(the table's frame, the frequency) when every series is already regular and complete, checked
    for all series at once; None when any is not (or the frequency cannot be guessed from the first
    series), for the series-by-series path to name the problem or fill it."""
    codes = frame["_rank"].to_numpy()
    if is_steps:
        times = frame["time"].to_numpy(dtype=np.int64)
    else:
        times = pd.DatetimeIndex(frame["time"]).astype("datetime64[ns]")
    if any(np.isnan(frame[c].to_numpy(dtype=np.float64)).any() for c in ["target", *covariates]):
        return None
    same = codes[1:] == codes[:-1]
    if freq is None:
        if is_steps:
            freq = ""
        else:
            ends = np.flatnonzero(~same)
            first_end = int(ends[0]) + 1 if len(ends) else len(times)
            if first_end < 2:
                return None
            try:
                freq = infer_freq(times[:first_end])
            except InvalidInputError:
                return None
    if freq == "":
        if not is_steps:
            return None
        ok = np.diff(times) == 1
    else:
        if is_steps:
            return None
        offset = freq_offset(freq)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ok = np.asarray(times[:-1] + offset == times[1:])
        starts = times[np.r_[True, ~same]]
        if not all(offset.is_on_offset(t) for t in starts):
            return None
    if not ok[same].all():
        return None
    out = pd.DataFrame({"series": frame["series"].astype(str).to_numpy(dtype=object), "time": times,
                        "target": frame["target"].to_numpy(dtype=np.float64)})
    for c in covariates:
        out[c] = frame[c].to_numpy(dtype=np.float64)
    out["series"] = out["series"].astype(str)
    if out.empty:
        return None
    return out.reset_index(drop=True), freq


def _repeat_words(what: str) -> str:
    return "repeats" if what.startswith("repeats") else "comes before the time above it (rows must be in time order)"


def _common_freq(kinds: list[str], all_times: list) -> str | None:
    """Of the frequencies series were read at, the shortest whose grid holds every series' times
    (series with gaps look coarser than they are: "2D" beside "D"), or None. Only multiples of one
    unit are merged: a monthly series is not read as a daily one with gaps."""
    def span(c: str):
        return (pd.Timestamp("2000-01-01") + freq_offset(c)) - pd.Timestamp("2000-01-01")

    if len({re.sub(r"^\d+", "", c) for c in kinds}) > 1:
        return None
    for c in sorted(kinds, key=span):
        offset = freq_offset(c)
        if all(offset.is_on_offset(t[0]) and pd.Index(t).isin(pd.date_range(t[0], t[-1], freq=c)).all()
               for t in all_times):
            return c
    return None


def _infer_with_gaps(times, fill):
    """The frequency of one series' times, allowing gaps: of the step shapes seen, the one that puts
    every stamp on its grid, then that most steps follow, then the shortest. The gaps themselves are
    named (or filled) by `_regular`."""
    if isinstance(times, np.ndarray):
        return ""
    try:
        return infer_freq(times)
    except IrregularTimesError:
        pass
    n = len(times) - 1
    probes = sorted(set(range(min(n, 64))) | {n // 2, n - 1})
    best, best_score = None, None
    for c in dict.fromkeys(_step_alias(times[i], times[i + 1]) for i in probes):
        if c is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid = pd.date_range(times[0], times[-1], freq=c)
            span = (times[0] + freq_offset(c)) - times[0]
        score = (bool(pd.Index(times).isin(grid).all()), int(_steps_ok(times, c).sum()), -span)
        if best_score is None or score > best_score:
            best, best_score = c, score
    return best


def _regular(series, rows, times, freq, covariates, fill, name, where, counts) -> pd.DataFrame:
    """One series' rows, checked regular at `freq` and complete (or filled)."""
    rows = rows.copy()
    if freq == "":
        full = np.arange(times[0], times[-1] + 1, dtype=np.int64)
        if not isinstance(times, np.ndarray):
            raise InvalidInputError(f"{name}: series {series!r}: freq '' means integer steps, but the times are dates")
    else:
        offset = freq_offset(freq)
        if not offset.is_on_offset(times[0]):
            raise InvalidInputError(f"{name}: {where(int(rows['_row'].iloc[0]), 'time')}: series {series!r}, time "
                                    f"{_show(times[0])} is not on a step of {freq} ({describe_freq(freq)})")
        full = pd.date_range(times[0], times[-1], freq=freq).astype("datetime64[ns]")
    inside = pd.Index(times).isin(full)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise InvalidInputError(f"{name}: {where(int(rows['_row'].iloc[i]), 'time')}: series {series!r}, time "
                                f"{_show(times[i])} is not on a step of {freq or 'integer steps'} "
                                f"({describe_freq(freq)}) from {_show(times[0])}")
    if len(full) != len(times):
        if fill != "interpolate":
            there = pd.Index(full).isin(times)
            gap = int(np.flatnonzero(~there)[0])
            after = int(rows["_row"].iloc[gap - 1])
            raise InvalidInputError(f"{name}: {where(after, 'time')}: series {series!r} has a gap after "
                                    f"{_show(full[gap - 1])}: no row for {_show(full[gap])} (give fill='interpolate' "
                                    "to fill gaps)")
        counts["gaps"] += int(len(full) - len(times))
        rows = rows.set_index(pd.Index(times)).reindex(pd.Index(full))
        rows["series"] = series
        rows["_row"] = rows["_row"].ffill().astype(np.int64)
        rows = rows.rename_axis("time_").reset_index()
        rows["time"] = rows["time_"]
        rows = rows.drop(columns="time_")
    missing_covariates, keep = [], slice(None)
    for column in [*covariates, "target"]:
        values = rows[column].to_numpy(dtype=np.float64)
        bad = np.isnan(values)
        if not bad.any():
            continue
        if fill != "interpolate":
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"{name}: {where(int(rows['_row'].iloc[i]), column)}: series "
                                    f"{series!r} misses a value at {_show(rows['time'].iloc[i])} (give "
                                    "fill='interpolate' to fill missing values)")
        if bad.all():
            if column == "target":
                raise InvalidInputError(f"{name}: series {series!r} has no observed value")
            raise InvalidInputError(f"{name}: series {series!r}: covariate {column} has no value")
        if column == "target":
            observed = np.flatnonzero(~bad)
            keep = slice(observed[0], observed[-1] + 1)
            counts["cut"] += int(len(rows) - (observed[-1] + 1 - observed[0]))
            counts["target"] += int(bad[keep].sum())
            rows = rows.iloc[keep].copy()
            values = rows[column].to_numpy(dtype=np.float64)
        else:
            missing_covariates.append(bad)
        rows[column] = pd.Series(values).interpolate(limit_direction="both").to_numpy()
    counts["covariates"] += sum(int(missing[keep].sum()) for missing in missing_covariates)
    return rows
