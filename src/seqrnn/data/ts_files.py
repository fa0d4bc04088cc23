"""The UCR/UEA archive's `.ts` files: `read_ts` reads one into a `SeriesCollection`, `write_ts`
writes one.

A `.ts` file is a header of `@` lines, then `@data`, then one case per line: its channels separated
by `:`, the values of a channel by `,`, the class label last (when `@classLabel true`). `#` starts a
comment line; blank lines are skipped. A missing value is `?` (also `NaN`); cases may have unequal
lengths, but the channels of one case have the same length.

The header is checked against the data, each problem one line naming the file and line (and, for a
value, the column: the character where it starts): a label not declared by `@classLabel`, a number
of channels other than `@dimensions` (one when `@univariate true`), unequal lengths when
`@equalLength true`, a length other than `@seriesLength`, a missing value when `@missing false`, an
unknown header tag, a value that is not a number or is infinite, an empty channel. Timestamped
files (`@timeStamps true`) and regression targets (`@targetLabel true`) are refused.

The file is read line by line, so beyond the series themselves memory does not grow with it.
Labels come back as integers (int64) when every label `@classLabel` declares is an integer, else as
strings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from seqrnn.data.records import file_lines
from seqrnn.data.series import DTYPE, SeriesCollection, series_collection
from seqrnn.errors import SeqrnnError

MISSING = ("?", "nan", "NaN", "NAN")  # how a missing value may be written
_TAGS = ("problemname", "timestamps", "missing", "univariate", "dimensions", "dimension", "equallength",
         "serieslength", "classlabel", "targetlabel", "data")
_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength")
_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT32_LIMIT = float(2**128 - 2**103)  # the smallest magnitude that float32 rounds to infinity


def read_ts(path: str | os.PathLike, *, quiet: bool = True) -> SeriesCollection:
    """The series and labels of a `.ts` file of the UCR/UEA archive (see the module's description
    for the format and the checks); progress over the file's bytes unless `quiet`.

    Raises
    ------
    SeqrnnError
        One line naming the file and line (and column) of the first problem.
    """
    path = Path(path)
    header: dict[str, object] = {}
    values: list[np.ndarray] = []
    labels: list[str] = []
    with file_lines(path, quiet) as (lines, progress):
        in_data = False
        for text in lines:
            line = text.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = _header_line(path, lines.line, line, header)
                continue
            if line.startswith("@"):
                raise SeqrnnError(f"{path}: line {lines.line}: a header line after @data")
            series, label = _case(path, lines.line, text.rstrip("\r\n"), header, values)
            values.append(series)
            if label is not None:
                labels.append(label)
            if lines.line % 256 == 0:
                progress.update_to(lines.bytes)
        if lines.blank:
            raise SeqrnnError(f"{path}: the file is empty")
        if not in_data:
            raise SeqrnnError(f"{path}: no @data line: a .ts file holds its header, then @data, then one case a line")
        if not values:
            raise SeqrnnError(f"{path}: no series after @data")
    return SeriesCollection(values, _label_array(labels, header["classlabel"]) if header["classlabel"] else None)


def _header_line(path: Path, number: int, line: str, header: dict) -> bool:
    """Read one header line into `header`; True when it is `@data`."""
    where = f"{path}: line {number}"
    if not line.startswith("@"):
        raise SeqrnnError(f"{where}: data before @data (a .ts file holds its header, then @data, then the cases)")
    written, *words = line[1:].split() or [""]
    tag, rest = written.lower(), line[1:].strip()[len(written):].strip()
    if tag not in _TAGS:
        raise SeqrnnError(f"{where}: unknown header tag @{written} (known: "
                          "@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, "
                          "@classLabel, @data)")
    if tag == "data":
        if "classlabel" not in header:
            raise SeqrnnError(f"{where}: @data before @classLabel: say `@classLabel true LABEL ...` for labelled "
                              "series or `@classLabel false`")
        if header.get("univariate") and header.get("dimensions", 1) != 1:
            raise SeqrnnError(f"{where}: the header says both @univariate true and @dimensions {header['dimensions']}")
        header.setdefault("missing", True)
        return True
    if tag in _BOOLEAN_TAGS or tag in ("classlabel", "targetlabel"):
        flag = words[0].lower() if words else ""
        if flag not in ("true", "false"):
            raise SeqrnnError(f"{where}: @{tag} must be followed by true or false")
        on = flag == "true"
        if tag == "timestamps" and on:
            raise SeqrnnError(f"{where}: timestamped series (@timeStamps true) are not supported: write the values "
                              "only, or a long CSV with a time column")
        if tag == "targetlabel" and on:
            raise SeqrnnError(f"{where}: regression targets (@targetLabel true) are not supported: series are "
                              "classified by @classLabel")
        if tag == "classlabel":
            if on and not words[1:]:
                raise SeqrnnError(f"{where}: @classLabel true names no labels (`@classLabel true 1 2 3`)")
            header[tag] = tuple(words[1:]) if on else ()
            if not on and words[1:]:
                raise SeqrnnError(f"{where}: @classLabel false is followed by labels")
        else:
            header[tag] = on
    elif tag in ("dimensions", "dimension", "serieslength"):
        if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
            raise SeqrnnError(f"{where}: @{tag} must be followed by a positive whole number")
        header["dimensions" if tag == "dimension" else tag] = int(words[0])
    else:
        header[tag] = rest.strip()
    return False


def _case(path: Path, number: int, text: str, header: dict, previous: list[np.ndarray]):
    """(the series, its label or None) of one data line, checked against the header."""
    where = f"{path}: line {number}"
    label = None
    body = text
    if header["classlabel"]:
        body, colon, label = text.rpartition(":")
        label = label.strip()
        if not colon:
            raise SeqrnnError(f"{where}: no class label (the header says @classLabel true: end each case with "
                              ":LABEL)")
        if label not in header["classlabel"]:
            raise SeqrnnError(f"{where}: label {label!r} is not one @classLabel declares "
                              f"({' '.join(header['classlabel'])})")
    channels, start = [], 0
    for c, part in enumerate(body.split(":")):
        channels.append(_channel(where, part, start, c + 1, header))
        start += len(part) + 1
    if len(channels) > 1 and len({len(ch) for ch in channels}) > 1:
        odd = next(c for c, ch in enumerate(channels) if len(ch) != len(channels[0]))
        raise SeqrnnError(f"{where}: channel {odd + 1} has {len(channels[odd])} values where channel 1 has "
                          f"{len(channels[0])}: the channels of a case must have the same length")
    expected = header.get("dimensions", 1 if header.get("univariate") else None)
    if expected is not None and len(channels) != expected:
        raise SeqrnnError(f"{where}: {len(channels)} channels, but the header says {expected} "
                          f"({'@univariate true' if 'dimensions' not in header else f'@dimensions {expected}'})")
    if previous and len(channels) != previous[0].shape[0]:
        raise SeqrnnError(f"{where}: {len(channels)} channels where the first case has {previous[0].shape[0]}")
    length = len(channels[0])
    if header.get("equallength") and "serieslength" in header and length != header["serieslength"]:
        raise SeqrnnError(f"{where}: {length} values per channel, but the header says @seriesLength "
                          f"{header['serieslength']}")
    if header.get("equallength") and previous and length != previous[0].shape[1]:
        raise SeqrnnError(f"{where}: {length} values per channel where the first case has {previous[0].shape[1]}, "
                          "but the header says @equalLength true")
    return np.stack(channels).astype(DTYPE), label


def _channel(where: str, part: str, start: int, channel: int, header: dict) -> np.ndarray:
    """The values of one channel (float64), NaN for a missing one; `start` is where it begins in the line."""
    if not part.strip():
        raise SeqrnnError(f"{where}: channel {channel} is empty (a series needs at least one value)")
    cells = part.split(",")
    try:
        values = np.array([cell if cell.strip() not in MISSING else "nan" for cell in cells], dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all() and not (np.abs(values) >= _FLOAT32_LIMIT).any():
        return values
    column = start
    for k, cell in enumerate(cells):  # find the first bad value, for its column
        written = cell.strip()
        at = f"{where}, column {column + 1} (channel {channel}, value {k + 1})"
        column += len(cell) + 1
        if written in MISSING:
            if not header.get("missing", True):
                raise SeqrnnError(f"{at}: a missing value {written!r}, but the header says @missing false")
            continue
        try:
            number = float(written)
        except ValueError:
            shown = repr(written) if written else "an empty value"
            raise SeqrnnError(f"{at}: {shown:.60} is not a number (a missing value is written ?)") from None
        if not np.isfinite(number):
            raise SeqrnnError(f"{at}: an infinite value ({written}); only finite numbers and ? (missing) are read")
        if abs(number) >= _FLOAT32_LIMIT:
            raise SeqrnnError(f"{at}: {written} is beyond float32's range")
    return values


def _label_array(labels: list[str], declared: tuple[str, ...]) -> np.ndarray:
    """The labels as int64 when every declared label is an integer, else as strings."""
    if all(_INTEGER.fullmatch(label) for label in declared):
        return np.array([int(label) for label in labels], dtype=np.int64)
    return np.array(labels, dtype=str)


def write_ts(data: SeriesCollection, path: str | os.PathLike, *, problem_name: str | None = None) -> Path:
    """Write `data` (a `SeriesCollection`, or anything `series_collection` takes) as a `.ts` file that
    `read_ts` and the archive's other readers read back: NaN written as `?`, values with 9
    significant digits (exactly the float32 values), the header describing the data.

    Labels must not contain whitespace, `:` or `,` (the format has no quoting); `problem_name`
    defaults to the file's stem.
    """
    path = Path(path)
    data = data if isinstance(data, SeriesCollection) else series_collection(data)
    classes: list[str] = []
    if data.labels is not None:
        classes = [str(c) for c in np.unique(data.labels).tolist()]
        bad = next((c for c in classes if not c or re.search(r"[\s:,]", c)), None)
        if bad is not None:
            raise SeqrnnError(f"cannot write label {bad!r} to a .ts file: labels there cannot be empty or hold "
                              "whitespace, ':' or ','")
    lengths = data.lengths
    equal = data.equal_length
    header = [f"@problemName {problem_name or path.stem}", "@timeStamps false",
              f"@missing {str(any(np.isnan(v).any() for v in data.values)).lower()}",
              f"@univariate {str(data.n_channels == 1).lower()}"]
    if data.n_channels != 1:
        header.append(f"@dimensions {data.n_channels}")
    header.append(f"@equalLength {str(equal).lower()}")
    if equal and len(data):
        header.append(f"@seriesLength {int(lengths[0])}")
    header.append(f"@classLabel true {' '.join(classes)}" if classes else "@classLabel false")
    header.append("@data")
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(header) + "\n")
            for i, series in enumerate(data.values):
                body = ":".join(",".join("?" if v != v else f"{v:.9g}" for v in channel.tolist()) for channel in series)
                f.write(body + (f":{data.labels[i]}" if classes else "") + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SeqrnnError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
