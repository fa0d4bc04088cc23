"""Frequencies of regular time stamps: read them from the stamps (`infer_freq`), name them
(`normalize_freq`, `describe_freq`), the season of each (`seasonal_period`) and the stamps after a
series (`future_times`). `seqrnn.data.timeseries` re-exports the public names.

Frequencies are pandas offset aliases: "YS" (yearly, January), "QS" (quarters starting in January,
April, July and October), "MS", "ME", "W-SUN" (weekly, the day of the week named), "D", "h",
"min", "s", multiples such as "2h" or "15min", or "" for integer steps 0, 1, 2, ...
"""

from __future__ import annotations

import numbers
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from seqrnn.errors import InvalidInputError

_DAY = pd.Timedelta(days=1)
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# names users write for a period, read as the period's first instant (how periods are parsed here)
_LEGACY = {"M": "MS", "Q": "QS", "A": "YS", "Y": "YS", "AS": "YS", "H": "h", "T": "min", "S": "s", "W": "W-SUN",
           "MONTHLY": "MS", "QUARTERLY": "QS", "YEARLY": "YS", "WEEKLY": "W-SUN", "DAILY": "D", "HOURLY": "h"}


class IrregularTimesError(InvalidInputError):
    """Time stamps that are not regular: `position` is the index of the first offending stamp (in
    the times given), so a reader can name that stamp's row in its file."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


# --- frequencies -------------------------------------------------------------------------------


def normalize_freq(freq: str) -> str:
    """`freq` as the table's canonical alias ("QS" rather than "QS-JAN", "MS" for "M", ...); a
    one-line error for a name pandas does not know."""
    if not isinstance(freq, str):
        raise InvalidInputError(f"freq must be a pandas offset alias such as 'MS' or 'D', not {type(freq).__name__}")
    text = freq.strip()
    if text == "":
        return ""
    text = _LEGACY.get(text.upper(), text) if text.upper() in _LEGACY else text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            offset = pd.tseries.frequencies.to_offset(text)
    except (ValueError, TypeError):
        raise InvalidInputError(f"unknown frequency {freq!r}: give a pandas offset alias such as 'YS', 'QS', "
                                "'MS', 'W-SUN', 'D' or 'h', or '' for integer steps") from None
    name = offset.freqstr
    for long, short in (("QS-JAN", "QS"), ("YS-JAN", "YS"), ("QE-DEC", "QE"), ("YE-DEC", "YE")):
        if name.endswith(long) and (name[: -len(long)] == "" or name[: -len(long)].isdigit()):
            name = name[: -len(long)] + short
    return name


def freq_offset(freq: str):
    """The pandas offset of an alias (its warnings about deprecated names silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.tseries.frequencies.to_offset(freq)


def seasonal_period(freq: str) -> int:
    """The usual season length at `freq`: 12 monthly, 4 quarterly, 52 weekly, 7 daily, 24 hourly,
    a day of steps for minutes (48 half-hourly, 144 every 10 minutes), 60 for seconds, and 1 for
    yearly data, integer steps and multiples that do not divide their cycle."""
    freq = normalize_freq(freq)
    if freq == "":
        return 1
    offset = freq_offset(freq)
    n = max(int(offset.n), 1)
    base = re.sub(r"^\d+", "", freq).split("-")[0]
    cycle = {"MS": 12, "ME": 12, "BMS": 12, "BME": 12, "SMS": 24, "SME": 24, "QS": 4, "QE": 4, "BQS": 4, "BQE": 4,
             "W": 52, "D": 7, "B": 5, "C": 5, "h": 24, "bh": 8, "min": 1440, "s": 60, "ms": 1000}.get(base, 1)
    if base in ("YS", "YE", "BYS", "BYE"):
        return 1
    return cycle // n if cycle % n == 0 and cycle // n > 1 else 1


def future_times(last: Any, freq: str, horizon: int) -> pd.DatetimeIndex | np.ndarray:
    """The `horizon` time stamps after `last` at `freq` (a `DatetimeIndex`; an int64 array of
    steps when `freq` is "")."""
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise InvalidInputError(f"horizon must be a positive integer, not {horizon!r}")
    freq = normalize_freq(freq)
    if freq == "":
        if isinstance(last, bool) or not isinstance(last, (numbers.Integral, np.integer)):
            raise InvalidInputError(f"with integer steps (freq '') the last time must be an integer, not {last!r}")
        return np.arange(int(last) + 1, int(last) + 1 + int(horizon), dtype=np.int64)
    stamp = pd.Timestamp(last)
    first = stamp + freq_offset(freq)
    return pd.date_range(first, periods=int(horizon), freq=freq).astype("datetime64[ns]")


def _step_alias(a: pd.Timestamp, b: pd.Timestamp) -> str | None:
    """The frequency one step from `a` to `b` looks like, or None."""
    delta = b - a
    if delta <= pd.Timedelta(0):
        return None
    midnight = a == a.normalize() and b == b.normalize()
    months = (b.year - a.year) * 12 + b.month - a.month
    if midnight and months > 0 and a.day == 1 and b.day == 1:
        return _calendar("S", months, a.month)
    if midnight and months > 0 and a.is_month_end and b.is_month_end:
        return _calendar("E", months, a.month)
    if delta % (7 * _DAY) == pd.Timedelta(0) and midnight:
        k = delta // (7 * _DAY)
        return f"{'' if k == 1 else k}W-{_WEEKDAYS[a.weekday()]}"
    for unit, alias in ((_DAY, "D"), (pd.Timedelta(hours=1), "h"), (pd.Timedelta(minutes=1), "min"),
                        (pd.Timedelta(seconds=1), "s")):
        if delta % unit == pd.Timedelta(0):
            k = delta // unit
            return f"{'' if k == 1 else k}{alias}"
    return None


def _calendar(edge: str, months: int, month: int) -> str:
    if months == 12:
        return normalize_freq(f"Y{edge}-{_MONTHS[month - 1]}")
    if months == 3:
        anchor = (month - 1) % 3 if edge == "S" else (month - 1) % 3 + 9
        return normalize_freq(f"Q{edge}-{_MONTHS[anchor]}")
    if months % 12 == 0:
        return normalize_freq(f"{months // 12}Y{edge}-{_MONTHS[month - 1]}")
    return normalize_freq(f"{months}M{edge}")


def _as_times(times: Any) -> pd.DatetimeIndex | np.ndarray:
    """Time stamps as a `DatetimeIndex` (ns), or an int64 array for integer steps."""
    if isinstance(times, (pd.PeriodIndex, pd.Series)) and isinstance(getattr(times, "dtype", None), pd.PeriodDtype):
        return pd.PeriodIndex(times).to_timestamp(how="start").astype("datetime64[ns]")
    if isinstance(times, pd.DatetimeIndex):
        index = times
    else:
        array = np.asarray(times)
        if array.dtype.kind in "iu":
            return array.astype(np.int64)
        if array.dtype.kind == "f" and array.size and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            return array.astype(np.int64)
        try:
            index = pd.DatetimeIndex(times)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"time stamps must be dates, times or integer steps: {_first_line(exc)}") from None
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.astype("datetime64[ns]")


def _order_problem(times: pd.DatetimeIndex | np.ndarray) -> tuple[int, str] | None:
    """The first stamp that repeats or goes back in time, and what it does."""
    values = np.asarray(times).view(np.int64) if isinstance(times, pd.DatetimeIndex) else np.asarray(times)
    if len(values) < 2:
        return None
    step = np.diff(values)
    bad = np.flatnonzero(step <= 0)
    if bad.size == 0:
        return None
    i = int(bad[0]) + 1
    return i, "repeats the time stamp before it" if step[i - 1] == 0 else "comes before the time stamp above it"


def _steps_ok(times: pd.DatetimeIndex | np.ndarray, freq: str) -> np.ndarray:
    """For each stamp after the first, whether it is one step of `freq` after the one before."""
    if freq == "":
        return np.diff(np.asarray(times, dtype=np.int64)) == 1
    offset = freq_offset(freq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        following = times[:-1] + offset
    return np.asarray(following == times[1:])


def _show(stamp: Any, freq: str | None = None) -> str:
    if isinstance(stamp, (int, np.integer)):
        return str(int(stamp))
    stamp = pd.Timestamp(stamp)
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.isoformat(sep=" ")


def infer_freq(times: Any) -> str:
    """The frequency of regular time stamps (see the module for the aliases); "" for integer steps
    0, 1, 2, ... An `IrregularTimesError` (one line) names the first stamp that repeats, goes back,
    or is not one step after the one before (`position` is its index)."""
    times = _as_times(times)
    problem = _order_problem(times)
    if problem is not None:
        i, what = problem
        raise IrregularTimesError(f"time stamp {i} ({_show(times[i])}) {what}", i)
    if isinstance(times, np.ndarray):
        ok = _steps_ok(times, "")
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0]) + 1
            raise IrregularTimesError(f"time step {i} ({times[i]}) does not follow {times[i - 1]} by 1: integer "
                                      "steps must be consecutive", i)
        return ""
    if len(times) < 2:
        raise InvalidInputError("one time stamp alone does not show a frequency: give freq")
    n = len(times) - 1
    probes = sorted({0, min(1, n - 1), n // 2, n - 1})
    candidates = [c for c in dict.fromkeys(_step_alias(times[i], times[i + 1]) for i in probes) if c is not None]
    best, best_ok = None, None
    for candidate in candidates:
        ok = _steps_ok(times, candidate)
        if best_ok is None or ok.sum() > best_ok.sum():
            best, best_ok = candidate, ok
        if ok.all():
            break
    if best is None:
        raise IrregularTimesError(f"time stamps {_show(times[0])}, {_show(times[1])}, ... follow no frequency", 1)
    if not best_ok.all():
        i = int(np.flatnonzero(~best_ok)[0]) + 1
        raise IrregularTimesError(f"time stamp {i} ({_show(times[i])}) is not one step of {best} "
                                  f"({describe_freq(best)}) after {_show(times[i - 1])}", i)
    return best


def describe_freq(freq: str) -> str:
    """`freq` in words: 'monthly', 'quarterly', 'integer steps', ..."""
    freq = normalize_freq(freq)
    if freq == "":
        return "integer steps"
    match = re.match(r"^(\d*)([A-Za-z]+)", freq)
    count, base = (match.group(1), match.group(2)) if match else ("", freq)
    words = {"YS": "yearly", "YE": "yearly", "QS": "quarterly", "QE": "quarterly", "MS": "monthly", "ME": "monthly",
             "W": "weekly", "D": "daily", "B": "business-daily", "h": "hourly", "min": "every minute",
             "s": "every second"}
    unit = {"YS": "years", "YE": "years", "QS": "quarters", "QE": "quarters", "MS": "months", "ME": "months",
            "W": "weeks", "D": "days", "B": "business days", "h": "hours", "min": "minutes", "s": "seconds"}
    if count and int(count) > 1:
        return f"every {count} {unit.get(base, base)}"
    return words.get(base, freq)


def check_times(times: Any, freq: str | None, *, name: str = "y") -> tuple[pd.DatetimeIndex | np.ndarray, str]:
    """`times` converted and checked to be regular at `freq` (inferred when None): the times and the
    frequency. An `IrregularTimesError` names the first stamp out of step."""
    times = _as_times(times)
    if freq is None:
        return times, infer_freq(times)
    freq = normalize_freq(freq)
    problem = _order_problem(times)
    if problem is not None:
        i, what = problem
        raise IrregularTimesError(f"{name}: time stamp {i} ({_show(times[i])}) {what}", i)
    if freq == "" and not isinstance(times, np.ndarray):
        raise InvalidInputError(f"{name}: freq '' means integer steps, but the times are dates")
    if freq != "" and isinstance(times, np.ndarray):
        raise InvalidInputError(f"{name}: the times are integer steps, but freq {freq!r} needs dates")
    if freq != "" and len(times) and not freq_offset(freq).is_on_offset(times[0]):
        raise IrregularTimesError(f"{name}: time stamp 0 ({_show(times[0])}) is not on a step of {freq} "
                                  f"({describe_freq(freq)})", 0)
    ok = _steps_ok(times, freq)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0]) + 1
        raise IrregularTimesError(f"{name}: time stamp {i} ({_show(times[i])}) is not one step of {freq} "
                                  f"({describe_freq(freq)}) after {_show(times[i - 1])}", i)
    return times, freq


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_time(stamp: Any, freq: str) -> str | int:
    """A time stamp as people write it at `freq`: `1970` yearly, `1970 Q1` quarterly, `1949-01`
    monthly (for period starts), a date, or a date and time; an integer step as it is."""
    if freq == "":
        return int(stamp)
    stamp = pd.Timestamp(stamp)
    base = re.sub(r"^\d+", "", freq)
    if base in ("YS", "YS-JAN"):
        return f"{stamp.year}"
    if base == "QS" and stamp.month in (1, 4, 7, 10):
        return f"{stamp.year} Q{(stamp.month - 1) // 3 + 1}"
    if base == "MS":
        return stamp.strftime("%Y-%m")
    return _show(stamp)
