"""The Monash forecasting archive's `.tsf` files, read into a `TimeSeriesTable` and written back.

A file is a header, then one series a line:

    # comments
    @relation tourism
    @attribute series_name string
    @attribute start_timestamp date
    @frequency monthly
    @horizon 24
    @missing false
    @equallength false
    @data
    T1:1979-01-01 00-00-00:1149.87,1053.8,1388.88,...

Each data line holds the values of the `@attribute`s in order, separated by `:`, then the series'
values separated by commas, `?` where a value is missing. The series is named by its
`series_name` attribute (else the first string attribute, else its position); it starts at its
`start_timestamp` (written `YYYY-MM-DD HH-MM-SS`, or as an ISO date); other attributes are read and
not kept. Without a `start_timestamp` a series is on integer steps from 0. `@frequency` (yearly,
quarterly, monthly, weekly, daily, hourly, half_hourly, minutely, `N_minutes`, `N_seconds`, ...) is
anchored on the first start: monthly series that start on the 1st are `MS`, on a month's last day
`ME`; weekly series are `W-` their start's weekday. `freq` given to the reader replaces it.
`@horizon` is kept as the table's `horizon`. Missing values follow the table's rule (an error
unless `fill="interpolate"`; `seqrnn.data.timeseries`), whatever `@missing` says.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from seqrnn.data.timeseries import (
    TimeSeriesTable,
    build_table,
    freq_offset,
    normalize_freq,
)
from seqrnn.errors import InvalidInputError, SeqrnnError

MONASH_FREQUENCIES = {"yearly": "YS", "quarterly": "QS", "monthly": "MS", "weekly": "W", "daily": "D",
                      "hourly": "h", "half_hourly": "30min", "minutely": "min", "secondly": "s"}
_UNITS = {"seconds": "s", "minutes": "min", "hours": "h", "days": "D", "weeks": "W", "months": "MS",
          "quarters": "QS", "years": "YS"}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_MONASH_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2})-(\d{2})-(\d{2})$")


def read_tsf(path: str | os.PathLike, *, freq: str | None = None, fill: str | None = None) -> TimeSeriesTable:
    """The series of a `.tsf` file (see the module), checked; one-line errors name the line."""
    path = Path(path)
    attributes: list[tuple[str, str]] = []
    header: dict[str, str] = {}
    names, starts, lines_of, values = [], [], [], []
    try:
        with open(path, encoding="utf-8-sig") as f:
            in_data = False
            for number, raw in enumerate(f, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if not in_data:
                    if not line.startswith("@"):
                        raise SeqrnnError(f"{path}: line {number}: {line!r:.40} before @data: expected a header line "
                                          "such as @attribute, @frequency or @data")
                    key, _, rest = line[1:].partition(" ")
                    key, rest = key.lower(), rest.strip()
                    if key == "data":
                        in_data = True
                    elif key == "attribute":
                        parts = rest.split()
                        if len(parts) != 2 or parts[1].lower() not in ("string", "numeric", "date"):
                            raise SeqrnnError(f"{path}: line {number}: an @attribute is a name and a type (string, "
                                              f"numeric or date), not {rest!r:.40}")
                        attributes.append((parts[0], parts[1].lower()))
                    elif key in ("relation", "frequency", "horizon", "missing", "equallength"):
                        if not rest:
                            raise SeqrnnError(f"{path}: line {number}: @{key} has no value")
                        header[key] = rest
                    else:
                        raise SeqrnnError(f"{path}: line {number}: unknown header @{key}")
                    continue
                fields = line.split(":")
                if len(fields) != len(attributes) + 1:
                    raise SeqrnnError(f"{path}: line {number}: {len(fields) - 1} attribute values before the series, "
                                      f"expected {len(attributes)} (one per @attribute, separated by ':')")
                name, start = _attributes(path, number, attributes, fields[:-1], len(names))
                names.append(name)
                starts.append(start)
                lines_of.append(number)
                values.append(_values(path, number, fields[-1], len(attributes) + 1))
    except UnicodeDecodeError as exc:
        raise SeqrnnError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SeqrnnError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not attributes and not names:
        raise SeqrnnError(f"{path}: no @data section: not a .tsf file")
    if not names:
        raise SeqrnnError(f"{path}: no series after @data")
    horizon = _horizon(path, header.get("horizon"))
    equal = header.get("equallength", "").lower()
    if equal == "true" and len({len(v) for v in values}) > 1:
        first = len(values[0])
        odd = next(i for i, v in enumerate(values) if len(v) != first)
        raise SeqrnnError(f"{path}: line {lines_of[odd]}: {len(values[odd])} values where the first series has {first}, "
                          "but @equallength is true")
    dated = starts[0] is not None
    if freq is None:
        freq = _frequency(path, header.get("frequency"), starts[0]) if dated else ""
    elif freq != "" and not dated:
        raise SeqrnnError(f"{path}: freq {freq!r} needs a start_timestamp attribute, and the file has none")
    elif freq == "" and dated:
        raise SeqrnnError(f"{path}: freq '' means integer steps, but the series have start timestamps")
    seen: dict[str, int] = {}
    for name, number in zip(names, lines_of):
        if name in seen:
            raise SeqrnnError(f"{path}: line {number}: the series name {name!r} was used on line {seen[name]}")
        seen[name] = number
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    if freq == "":
        times: np.ndarray | pd.DatetimeIndex = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])
    else:
        offset = freq_offset(freq)
        for start, number in zip(starts, lines_of):
            if not offset.is_on_offset(start):
                raise SeqrnnError(f"{path}: line {number}: the start {start} is not on a step of {freq}")
        times = pd.DatetimeIndex(np.concatenate([pd.date_range(s, periods=n, freq=freq).to_numpy().astype(
            "datetime64[ns]") for s, n in zip(starts, lengths)]))
    frame = pd.DataFrame({"series": np.repeat(np.array(names, dtype=object), lengths), "time": times,
                          "target": np.concatenate(values)})
    ends = np.cumsum(lengths)

    def where(i: int, column: str) -> str:
        k = int(np.searchsorted(ends, i, side="right"))
        step = i - (int(ends[k - 1]) if k else 0)
        return f"line {lines_of[k]}, value {step + 1}"

    try:
        table = build_table(frame, [], freq, fill, name=str(path), where=where, sort_times=False)
    except InvalidInputError as exc:
        raise SeqrnnError(str(exc)) from None
    table.horizon, table.source = horizon, str(path)
    return table


def _attributes(path: Path, number: int, attributes, cells, position: int):
    name, start = None, None
    for (key, kind), cell in zip(attributes, cells):
        cell = cell.strip()
        if kind == "date":
            if key == "start_timestamp" or start is None:
                start = _stamp(path, number, cell)
        elif kind == "string" and (key == "series_name" or name is None):
            if not cell:
                raise SeqrnnError(f"{path}: line {number}: the {key} is empty")
            name = cell
        elif kind == "numeric":
            try:
                float(cell)
            except ValueError:
                raise SeqrnnError(f"{path}: line {number}: the numeric attribute {key} is {cell!r:.40}") from None
    return (name if name is not None else str(position)), start


def _stamp(path: Path, number: int, cell: str) -> pd.Timestamp:
    match = _MONASH_STAMP.match(cell)
    text = f"{match.group(1)} {match.group(2)}:{match.group(3)}:{match.group(4)}" if match else cell
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise SeqrnnError(f"{path}: line {number}: {cell!r:.40} is not a start time (written 1979-01-01 00-00-00)")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _values(path: Path, number: int, text: str, column: int) -> np.ndarray:
    cells = text.split(",")
    if not text.strip():
        raise SeqrnnError(f"{path}: line {number}: a series without values")
    try:
        array = np.array([np.nan if c.strip() == "?" else c for c in cells], dtype=np.float64)
    except ValueError:
        array = None
    if array is None or np.isinf(array).any():
        for k, cell in enumerate(cells):
            written = cell.strip()
            if written == "?":
                continue
            try:
                number_ = float(written)
            except ValueError:
                raise SeqrnnError(f"{path}: line {number}, value {k + 1}: {written!r:.40} is not a number (write a "
                                  "missing value as ?)") from None
            if not np.isfinite(number_):
                raise SeqrnnError(f"{path}: line {number}, value {k + 1}: an infinite or NaN value ({written}); a "
                                  "missing value is written ?")
    if np.isnan(array).any():
        # a NaN written as "nan" is refused: the archive writes a missing value as "?"
        k = next((k for k, c in enumerate(cells) if c.strip().lower() == "nan"), None)
        if k is not None:
            raise SeqrnnError(f"{path}: line {number}, value {k + 1}: 'nan'; a missing value is written ?")
    return array


def _horizon(path: Path, text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise SeqrnnError(f"{path}: @horizon must be a positive whole number, not {text!r}")
    return int(text)


def _frequency(path: Path, text: str | None, start: pd.Timestamp) -> str:
    """The offset alias of a `@frequency`, anchored on the first series' start."""
    if text is None:
        raise SeqrnnError(f"{path}: no @frequency line: give freq")
    word = text.strip().lower()
    base = MONASH_FREQUENCIES.get(word)
    count = ""
    match = re.fullmatch(r"(\d+)_(\w+)", word)
    if base is None and match and match.group(2) in _UNITS:
        count, base = match.group(1), _UNITS[match.group(2)]
    if base is None:
        raise SeqrnnError(f"{path}: unknown @frequency {text!r} (known: {', '.join(MONASH_FREQUENCIES)}, N_minutes, "
                          "N_seconds, ...): give freq")
    end = start.is_month_end and start.day != 1
    if base == "YS":
        base = f"YE-{_MONTHS[start.month - 1]}" if end else f"YS-{_MONTHS[start.month - 1]}"
    elif base == "QS":
        base = f"QE-{_MONTHS[(start.month - 1) % 3 + 9]}" if end else f"QS-{_MONTHS[(start.month - 1) % 3]}"
    elif base == "MS":
        base = "ME" if end else "MS"
    elif base == "W":
        base = f"W-{_WEEKDAYS[start.weekday()]}"
    return normalize_freq(f"{count}{base}")


def _monash_frequency(freq: str) -> str:
    """The `@frequency` word of an offset alias (the reverse of `_frequency`)."""
    match = re.fullmatch(r"(\d*)([A-Za-z]+)(-\w+)?", freq)
    if not match:
        raise SeqrnnError(f"the frequency {freq!r} has no .tsf name")
    count, base = int(match.group(1) or 1), match.group(2)
    base = {"YE": "YS", "QE": "QS", "ME": "MS"}.get(base, base)
    if count == 1:
        for word, alias in MONASH_FREQUENCIES.items():
            if alias == base:
                return word
    if base == "min" and count == 30:
        return "half_hourly"
    unit = next((u for u, alias in _UNITS.items() if alias == base), None)
    if unit is None:
        raise SeqrnnError(f"the frequency {freq!r} has no .tsf name")
    return f"{count}_{unit}"


def write_tsf(table: TimeSeriesTable, path: str | os.PathLike, *, relation: str = "seqrnn") -> Path:
    """Write `table` (no covariates; series names without ':') as a `.tsf` file that `read_tsf`
    reads back as it was (its `horizon` as `@horizon`; integer steps as series from step 0)."""
    path = Path(path)
    if table.covariates:
        raise SeqrnnError(f"{path}: a .tsf file holds no covariates; write a CSV or Parquet file")
    dated = table.freq != ""
    word = _monash_frequency(table.freq) if dated else None
    lengths = table.lengths()
    lines = ["# written by seqrnn", f"@relation {relation}", "@attribute series_name string"]
    if dated:
        lines += ["@attribute start_timestamp date", f"@frequency {word}"]
    if table.horizon is not None:
        lines.append(f"@horizon {int(table.horizon)}")
    lines += ["@missing false", f"@equallength {'true' if len(set(lengths.values())) == 1 else 'false'}", "@data"]
    for name, rows in table.groups():
        if ":" in name or not name.strip() or name != name.strip():
            raise SeqrnnError(f"{path}: the series name {name!r} cannot be written in a .tsf file")
        if not dated and int(rows["time"].iloc[0]) != 0:
            raise SeqrnnError(f"{path}: series {name!r} starts at step {int(rows['time'].iloc[0])}; integer-step "
                              "series in a .tsf file start at 0")
        values = ",".join(repr(float(v)) for v in rows["target"].to_numpy())
        start = [pd.Timestamp(rows["time"].iloc[0]).strftime("%Y-%m-%d %H-%M-%S")] if dated else []
        lines.append(":".join([name, *start, values]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
