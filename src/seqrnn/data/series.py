"""Numeric series, as aeon's collections hold them: one float array `(n_channels, n_timepoints)` per
series, of equal or unequal lengths, NaN where a value is missing, with a label per series.

`as_series` takes what a Python user brings (aeon's conventions: a 3-D array `(n_cases, n_channels,
n_timepoints)`, a list of 2-D `(n_channels, n_timepoints)` arrays when lengths differ; also a 2-D
array or a list of 1-D arrays, read as univariate series) and checks it; `SeriesCollection` is what
every reader of series files gives (`seqrnn.data.series_files.read_series`: `.ts`, wide and long
CSV/TSV, Parquet, `.npz`; the archive's named sets through `read_named_series`) and every series
task takes.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from seqrnn.errors import InvalidInputError

DTYPE = np.float32


@dataclass
class SeriesCollection:
    """Series with their labels: `values[i]` is a float32 array `(n_channels, n_timepoints)`, NaN
    where a value is missing; `labels` holds one label per series (any kind), or None."""

    values: list[np.ndarray]
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.values):
            raise InvalidInputError(f"{len(self.values)} series but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def n_channels(self) -> int:
        return int(self.values[0].shape[0]) if self.values else 0

    @property
    def lengths(self) -> np.ndarray:
        """The number of time points of each series (int64)."""
        return np.array([v.shape[1] for v in self.values], dtype=np.int64)

    @property
    def equal_length(self) -> bool:
        return len(set(self.lengths.tolist())) <= 1

    def to_numpy(self) -> np.ndarray:
        """The series as one 3-D array `(n_cases, n_channels, n_timepoints)` (equal lengths only)."""
        if not self.equal_length:
            raise InvalidInputError("the series have unequal lengths: they do not make one 3-D array")
        return np.stack(self.values) if self.values else np.zeros((0, 0, 0), dtype=DTYPE)

    def take(self, rows: Sequence[int] | np.ndarray) -> "SeriesCollection":
        """The series at `rows`, in that order, with their labels."""
        rows = np.asarray(rows, dtype=np.int64)
        return SeriesCollection([self.values[i] for i in rows.tolist()],
                                None if self.labels is None else self.labels[rows])


def as_series(X: Any, name: str = "X") -> list[np.ndarray]:
    """`X` as a list of float32 arrays `(n_channels, n_timepoints)`, checked: numbers only, NaN for a
    missing value but no infinities, at least one time point per series, the same number of channels
    throughout. A one-line `InvalidInputError` names the first series that breaks a rule."""
    if isinstance(X, SeriesCollection):
        return X.values
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim == 3:
            parts = list(X)
        elif X.ndim == 2:  # (n_cases, n_timepoints): univariate
            parts = [row[None, :] for row in X]
        else:
            raise InvalidInputError(f"{name} must be a 3-D array (n_cases, n_channels, n_timepoints), a 2-D array "
                                    f"(n_cases, n_timepoints) or a list of series; got a {X.ndim}-D array")
    elif isinstance(X, (str, bytes)) or not isinstance(X, (Sequence, np.ndarray)):
        raise InvalidInputError(f"{name} must be numeric series (a 3-D array or a list of 2-D arrays), "
                                f"not {type(X).__name__}")
    else:
        parts = list(X)
    if not parts:
        raise InvalidInputError(f"{name} holds no series")
    values = [_one_series(part, i, name) for i, part in enumerate(parts)]
    channels = {v.shape[0] for v in values}
    if len(channels) > 1:
        first = values[0].shape[0]
        odd = next(i for i, v in enumerate(values) if v.shape[0] != first)
        raise InvalidInputError(f"{name}[{odd}] has {values[odd].shape[0]} channels where {name}[0] has {first}")
    return values


def _one_series(part: Any, i: int, name: str) -> np.ndarray:
    if isinstance(part, numbers.Number) or part is None:
        raise InvalidInputError(f"{name}[{i}] is a single value, not a series")
    try:
        array = np.asarray(part, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}[{i}] is not numeric (or its channels have different lengths)") from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise InvalidInputError(f"{name}[{i}] must be (n_channels, n_timepoints), got shape {array.shape}")
    if array.shape[1] == 0 or array.shape[0] == 0:
        raise InvalidInputError(f"{name}[{i}] has no time points" if array.shape[0] else f"{name}[{i}] has no channels")
    if np.isinf(array).any():
        raise InvalidInputError(f"{name}[{i}] holds an infinite value")
    too_big = np.abs(array[np.isfinite(array)]) > np.finfo(DTYPE).max
    if too_big.any():
        raise InvalidInputError(f"{name}[{i}] holds a value beyond float32's range")
    return np.ascontiguousarray(array, dtype=DTYPE)


def series_collection(X: Any, y: Any = None, name: str = "X") -> SeriesCollection:
    """`X` (see `as_series`) and its labels `y` (one per series, or None) as a `SeriesCollection`."""
    values = as_series(X, name)
    labels = None if y is None else np.asarray(y)
    if labels is not None and (labels.ndim != 1 or len(labels) != len(values)):
        raise InvalidInputError(f"{len(values)} series in {name} but y has shape {labels.shape}: one label per series")
    return SeriesCollection(values, labels)
