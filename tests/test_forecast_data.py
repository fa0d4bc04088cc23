"""Series to forecast: `TimeSeriesTable`, `as_table`, frequencies read from time stamps, the season
of each frequency and the time stamps after a series; bad input is one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqrnn.data.timeseries import (
    IrregularTimesError,
    TimeSeriesTable,
    as_table,
    future_times,
    infer_freq,
    seasonal_period,
)
from seqrnn.errors import InvalidInputError

FREQS = [("YS", 1), ("QS", 4), ("MS", 12), ("ME", 12), ("W-SUN", 52), ("W-WED", 52), ("D", 7), ("h", 24),
         ("30min", 48), ("QE", 4), ("YE", 1)]


@pytest.mark.parametrize("freq,season", FREQS)
def test_infer_freq_and_season(freq, season):
    times = pd.date_range("1970-01-01", periods=9, freq=freq)
    assert infer_freq(times) == freq
    assert seasonal_period(freq) == season
    after = future_times(times[-1], freq, 3)
    assert list(after) == list(pd.date_range(times[-1], periods=4, freq=freq)[1:])


def test_periods_and_integer_steps():
    assert infer_freq(pd.period_range("1970Q1", periods=6, freq="Q")) == "QS"
    assert infer_freq(pd.period_range("1949-01", periods=6, freq="M")) == "MS"
    assert infer_freq(np.arange(4)) == ""
    assert seasonal_period("") == 1
    assert list(future_times(9, "", 3)) == [10, 11, 12]


@pytest.mark.parametrize("times,words", [
    (pd.date_range("1970-01-01", periods=8, freq="MS").delete(4), "time stamp 4 (1970-06-01) is not one step of MS"),
    (pd.DatetimeIndex(["1970-01-01", "1970-02-01", "1970-02-01"]), "time stamp 2 (1970-02-01) repeats"),
    (pd.DatetimeIndex(["1970-01-01", "1970-03-01", "1970-02-01"]), "time stamp 2 (1970-02-01) comes before"),
    (np.array([0, 1, 3]), "time step 2 (3) does not follow 1"),
])
def test_irregular_times_are_named(times, words):
    with pytest.raises(IrregularTimesError, match=r"^" + words.replace("(", r"\(").replace(")", r"\)")) as info:
        infer_freq(times)
    assert "\n" not in str(info.value)


def test_as_table_from_pandas_numpy_and_lists():
    months = pd.period_range("1949-01", periods=5, freq="M")
    a = pd.Series([1.0, 2, 3, 4, 5], index=months, name="a")
    table = as_table(a)
    assert isinstance(table, TimeSeriesTable) and table.freq == "MS" and table.covariates == []
    assert list(table.frame.columns) == ["series", "time", "target"]
    assert table.frame["time"].dtype == np.dtype("datetime64[ns]") and table.frame["target"].dtype == np.float64
    wide = pd.DataFrame({"b": [1.0, 2, 3], "a": [4.0, 5, 6]}, index=pd.date_range("2000", periods=3, freq="D"))
    table = as_table(wide)
    assert table.series_ids() == ["b", "a"] and table.lengths() == {"b": 3, "a": 3} and table.freq == "D"
    assert [name for name, _ in table.groups()] == ["b", "a"]
    steps = as_table(np.arange(12.0).reshape(4, 3))
    assert steps.freq == "" and steps.series_ids() == ["0", "1", "2"] and steps.frame["time"].dtype == np.int64
    both = as_table([np.arange(3.0), np.arange(5.0)])
    assert both.lengths() == {"0": 3, "1": 5}
    assert as_table(table) .frame.equals(table.frame)


def test_covariates_and_fill():
    days = pd.date_range("2000-01-01", periods=6, freq="D")
    y = pd.Series([1.0, np.nan, 3, 4, 5, np.nan], index=days, name="s")
    cov = pd.DataFrame({"price": [1.0, 2, 3, 4, 5, 6], "promo": [0.0, 1, 0, 1, 0, 1]}, index=days)
    with pytest.raises(InvalidInputError, match=r"row 1, column target: series 's' misses a value at 2000-01-02"):
        as_table(y, covariates=cov)
    table = as_table(y, covariates=cov, fill="interpolate")
    assert table.covariates == ["price", "promo"]
    assert table.frame["target"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]  # inside: interpolated; the end: cut off
    assert list(table.frame.columns) == ["series", "time", "target", "price", "promo"]
    gappy = y.drop(days[[1, 5]])
    with pytest.raises(InvalidInputError, match=r"has a gap after 2000-01-01: no row for 2000-01-02"):
        as_table(gappy)
    assert as_table(gappy, fill="interpolate").frame["target"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_bad_inputs_are_one_line():
    days = pd.date_range("2000-01-01", periods=3, freq="D")
    bad = [
        (lambda: as_table("abc"), "y must be a pandas Series"),
        (lambda: as_table(pd.Series(["1", "x", "3"], index=days, name="s")), "series 's': value 1 ('x') is not a number"),
        (lambda: as_table(pd.Series([1.0, np.inf, 3], index=days)), "column target: an infinite value"),
        (lambda: as_table(pd.Series([1.0, 2, 3], index=days), freq="MS"), "not on a step of MS"),
        (lambda: as_table(pd.Series([1.0], index=days[:1])), "give freq"),
        (lambda: as_table(pd.Series([1.0, 2, 3], index=days), freq="bogus"), "unknown frequency 'bogus'"),
        (lambda: future_times(days[-1], "D", 0), "horizon must be a positive integer"),
    ]
    for call, words in bad:
        with pytest.raises(InvalidInputError) as info:
            call()
        assert words in str(info.value) and "\n" not in str(info.value)
