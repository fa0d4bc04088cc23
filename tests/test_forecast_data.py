"""Series to forecast: `TimeSeriesTable`, `as_table`, frequencies read from time stamps, the season
of each frequency and the time stamps after a series; files (CSV, TSV, Parquet, Monash .tsf) read
back what was written; bad input is one line naming the file, line and column; the shared files
and the named datasets (a checked download from a local server on 127.0.0.1); `seqrnn data inspect`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_datasets import Server, closed_port_url

from seqrnn.data import datasets
from seqrnn.data.datasets import FORECAST_DATASETS, locate_forecast
from seqrnn.data.forecast_files import (
    read_forecast_data,
    read_forecast_file,
    write_forecast_file,
)
from seqrnn.data.timeseries import (
    IrregularTimesError,
    TimeSeriesTable,
    as_table,
    future_times,
    infer_freq,
    seasonal_period,
)
from seqrnn.data.tsf_files import write_tsf
from seqrnn.errors import InvalidInputError, SeqrnnError

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
    assert as_table(table).frame.equals(table.frame)


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


# --- files: round trips ---------------------------------------------------------------------------

STARTS = {"YS": pd.Timestamp("1970-01-01"), "QS": pd.Timestamp("1970-04-01"), "MS": pd.Timestamp("1949-01-01"),
          "W-SUN": pd.Timestamp("2020-01-05"), "D": pd.Timestamp("2020-02-27"), "h": pd.Timestamp("2020-03-01 22:00"),
          "": 0}


@st.composite
def tables(draw, covariates: bool = True):
    freq = draw(st.sampled_from(list(STARTS)))
    n_cov = draw(st.integers(0, 2)) if covariates else 0
    names = draw(st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,5}", fullmatch=True), min_size=1, max_size=3,
                          unique=True))
    number = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    frames = []
    for name in names:
        n = draw(st.integers(1, 7))
        shift = draw(st.integers(0, 30))
        if freq == "":
            times = np.arange(n, dtype=np.int64)
        else:
            start = STARTS[freq] + shift * pd.tseries.frequencies.to_offset(freq)
            times = pd.date_range(start, periods=n, freq=freq)
        frame = pd.DataFrame({"series": name, "time": times, "target": draw(st.lists(number, min_size=n, max_size=n))})
        for j in range(n_cov):
            frame[f"c{j}"] = draw(st.lists(number, min_size=n, max_size=n))
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    return as_table(frame, freq=freq, covariates=[f"c{j}" for j in range(n_cov)])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(), suffix=st.sampled_from([".csv", ".tsv", ".parquet"]))
def test_tables_written_as_csv_tsv_parquet_read_back(table, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = write_forecast_file(table, Path(folder) / f"t{suffix}")
        got = read_forecast_file(path, freq=table.freq, covariates=table.covariates or None)
    pd.testing.assert_frame_equal(got.frame, table.frame)
    assert (got.freq, got.covariates, got.series_ids()) == (table.freq, table.covariates, table.series_ids())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(covariates=False), horizon=st.none() | st.integers(1, 48))
def test_tables_written_as_tsf_read_back(table, horizon):
    table.horizon = horizon
    with tempfile.TemporaryDirectory() as folder:
        path = write_tsf(table, Path(folder) / "t.tsf")
        got = read_forecast_file(path)
    pd.testing.assert_frame_equal(got.frame, table.frame)
    assert (got.freq, got.horizon) == (table.freq, horizon)


# --- files: times and frequencies -----------------------------------------------------------------

FORMS = [
    (["1970", "1971", "1972"], "YS", "1970-01-01"),
    (["1970 Q1", "1970 Q2", "1970 Q3"], "QS", "1970-01-01"),
    (["1970Q4", "1971Q1", "1971Q2"], "QS", "1970-10-01"),
    (["Q2 1970", "Q3 1970", "Q4 1970"], "QS", "1970-04-01"),
    (["1949-01", "1949-02", "1949-03"], "MS", "1949-01-01"),
    (["2020-W05", "2020-W06", "2020-W07"], "W-MON", "2020-01-27"),
    (["2020-01-05", "2020-01-12", "2020-01-19"], "W-SUN", "2020-01-05"),
    (["2020-01-30", "2020-01-31", "2020-02-01"], "D", "2020-01-30"),
    (["2020-01-31 23:00", "2020-02-01 00:00", "2020-02-01 01:00"], "h", "2020-01-31 23:00"),
    (["2020-01-31T23:30:00", "2020-02-01T00:00:00", "2020-02-01T00:30:00"], "30min", "2020-01-31 23:30"),
    (["1", "2", "3"], "", 1),
]


@pytest.mark.parametrize("times,freq,first", FORMS, ids=[f[1] or "steps" for f in FORMS])
def test_frequencies_are_read_from_the_times(times, freq, first, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("when,value\n" + "".join(f"{t},{i}.5\n" for i, t in enumerate(times)))
    table = read_forecast_file(path, time_column="when")
    assert table.freq == freq and table.series_ids() == ["value"]
    assert table.frame["time"].iloc[0] == (first if freq == "" else pd.Timestamp(first))
    assert table.frame["target"].tolist() == [0.5, 1.5, 2.5]


def test_four_digit_numbers_are_steps_with_freq_empty(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("time,y\n2000,1\n2001,2\n")
    assert read_forecast_file(path).freq == "YS"
    assert read_forecast_file(path, freq="").frame["time"].tolist() == [2000, 2001]


def test_long_file_with_series_covariates_and_interleaved_rows(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("date,store,sales,price,other\n"
                    "2020-01-01,b,1,9,x\n2020-01-01,a,10,8,x\n2020-01-02,b,2,9,x\n2020-01-02,a,11,8,x\n"
                    "2020-01-03,b,3,7,x\n")
    table = read_forecast_file(path, series_column="store", target="sales", covariates="price")
    assert table.series_ids() == ["b", "a"] and table.lengths() == {"b": 3, "a": 2}
    assert list(table.frame.columns) == ["series", "time", "target", "price"] and table.freq == "D"
    assert table.frame["price"].tolist() == [9.0, 9.0, 7.0, 8.0, 8.0]


# --- files: bad input is one line -----------------------------------------------------------------

BAD_FILES = [
    ("date,value\n1949-01,1\n1949-02,2\n1949-02,3\n", {}, "line 4, column 1 (date): series 'value', time 1949-02-01 repeats"),
    ("date,value\n1949-01,1\n1949-03,2\n1949-02,3\n", {}, "line 4, column 1 (date): series 'value', time 1949-02-01 comes before"),
    ("date,value\n1949-01,1\n1949-02,2\n1949-04,3\n1949-05,3\n", {}, "line 3, column 1 (date): series 'value' has a gap after 1949-02-01"),
    ("date,value\n1949-01,1\n1949-02,\n1949-03,3\n", {}, "line 3, column 2 (value): series 'value' misses a value"),
    ("date,value\n1949-01,1\n1949-02,abc\n", {}, "line 3, column 2 (value): 'abc' is not a number"),
    ("date,value\n1949-01,1\n1949-02,inf\n", {}, "line 3, column 2 (value): an infinite value"),
    ("date,value\n1949-01,1\nsoon,2\n", {}, "line 3, column 1 (date): 'soon' is not a time of the form of the first row"),
    ("date,value\nyesterday,1\n", {}, "line 2, column 1 (date): 'yesterday' is not a time"),
    ("date,value\n1949-13,1\n", {}, "line 2, column 1 (date): '1949-13' has no month 13"),
    ("date,value\n,1\n", {}, "line 2, column 1 (date): no time"),
    ("when,value\n1949-01,1\n", {}, "no time column"),
    ("date,series_id,a,b\n1949-01,x,1,2\n", {}, "several value columns (a, b): name the target"),
    ("date,id,a\n1949-01,x,1\n", {}, "line 2, column 2 (id): 'x' is not a number"),
    ("date,value\n1949-01,1\n", {"target": "nope"}, "no 'nope' column"),
    ("date,id,value\n1949-01-01,x,1\n1949-02-01,x,2\n2000-01-01,y,1\n2000-01-02,y,2\n", {"series_column": "id"},
     "series 'x' is MS (monthly) but series 'y' is D (daily)"),
    ("date,value\n1949-01,1\n1949-02,2\n", {"freq": "D"}, "line 2, column 1 (date): series 'value' has a gap after 1949-01-01: no row for 1949-01-02"),
    ("date,value\n1949-01-15\t,1\n".replace("\t", ""), {"freq": "MS"}, "line 2, column 1 (date): series 'value', time 1949-01-15 is not on a step of MS"),
    ("date,value\n1949-01,1\n", {}, "the frequency cannot be read; give freq"),
    ("date,value\n", {}, "no rows, only a header"),
    ("date,value\n1949-01,1,2\n", {}, "line 2: 3 fields, expected 2"),
]


@pytest.mark.parametrize("text,options,words", BAD_FILES)
def test_bad_files_are_one_line(text, options, words, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SeqrnnError) as info:
        read_forecast_file(path, **options)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message, message


def test_gaps_and_missing_values_are_filled_when_asked(tmp_path):
    path = tmp_path / "gappy.csv"
    path.write_text("date,value,price\n1949-01,?,1\n1949-02,2,\n1949-04,4,4\n1949-05,NaN,5\n")
    table = read_forecast_file(path, covariates=["price"], fill="interpolate")
    assert table.frame["time"].dt.strftime("%Y-%m").tolist() == ["1949-02", "1949-03", "1949-04"]
    assert table.frame["target"].tolist() == [2.0, 3.0, 4.0] and table.frame["price"].tolist() == [2.0, 3.0, 4.0]
    assert table.filled == {"gaps": 1, "target": 1, "cut": 2, "covariates": 2}


def test_parquet_rows_are_named(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"time": pd.date_range("2020", periods=3, freq="D"), "value": ["1", "x", "3"]}).to_parquet(path)
    with pytest.raises(SeqrnnError, match=r"row 2, column 2 \(value\): 'x' is not a number"):
        read_forecast_file(path)
    pd.DataFrame({"time": pd.date_range("2020", periods=3, freq="D"), "value": [1.0, 2, 3]}).to_parquet(path)
    assert read_forecast_file(path).freq == "D"


TSF_HEADER = ("@relation t\n@attribute series_name string\n@attribute start_timestamp date\n@frequency monthly\n"
              "@horizon 6\n@missing true\n@equallength false\n@data\n")
BAD_TSF = [
    (TSF_HEADER + "T1:1979-01-01 00-00-00:1,2,x\n", "line 9, value 3: 'x' is not a number"),
    (TSF_HEADER + "T1:1979-01-01 00-00-00:1,?,3\n", "line 9, value 2: series 'T1' misses a value at 1979-02-01"),
    (TSF_HEADER + "T1:1979-01-01 00-00-00\n", "line 9: 1 attribute values before the series, expected 2"),
    (TSF_HEADER + "T1:1979-01-15 00-00-00:1,2\n", "line 9: the start 1979-01-15 00:00:00 is not on a step of MS"),
    (TSF_HEADER + "T1:someday:1,2\n", "line 9: 'someday' is not a start time"),
    (TSF_HEADER + "T1:1979-01-01 00-00-00:1,2\nT1:1979-01-01 00-00-00:1,2\n", "line 10: the series name 'T1' was used"),
    (TSF_HEADER.replace("monthly", "fortnightly") + "T1:1979-01-01 00-00-00:1,2\n", "unknown @frequency 'fortnightly'"),
    (TSF_HEADER.replace("false\n@data", "true\n@data") + "T1:1979-01-01 00-00-00:1,2\nT2:1979-01-01 00-00-00:1\n",
     "line 10: 1 values where the first series has 2, but @equallength is true"),
    ("@relation t\n@frequency monthly\nT1:1,2\n", "line 3: 'T1:1,2' before @data"),
    (TSF_HEADER.replace("@horizon 6", "@horizon six") + "T1:1979-01-01 00-00-00:1,2\n", "@horizon must be a positive"),
    (TSF_HEADER, "no series after @data"),
]


@pytest.mark.parametrize("text,words", BAD_TSF)
def test_bad_tsf_files_are_one_line(text, words, tmp_path):
    path = tmp_path / "bad.tsf"
    path.write_text(text)
    with pytest.raises(SeqrnnError) as info:
        read_forecast_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message, message


def test_tsf_as_the_archive_writes_it(tmp_path):
    path = tmp_path / "tourism.tsf"
    path.write_text("# Dataset Information\n# comments\n@relation tourism\n@attribute series_name string\n"
                    "@attribute state string\n@attribute start_timestamp date\n@frequency quarterly\n@horizon 8\n"
                    "@missing true\n@equallength false\n\n@data\nT1:NSW:1980-01-01 00-00-00:1.5,2,3,4\n"
                    "T2:VIC:1981-07-01 00-00-00:5,?,7\n")
    table = read_forecast_file(path, fill="interpolate")
    assert (table.freq, table.horizon, table.lengths()) == ("QS", 8, {"T1": 4, "T2": 3})
    assert table.frame["target"].tolist()[-3:] == [5.0, 6.0, 7.0]
    weekly = tmp_path / "w.tsf"
    weekly.write_text("@attribute series_name string\n@attribute start_timestamp date\n@frequency weekly\n@data\n"
                      "a:2020-01-05 00-00-00:1,2\n")
    assert read_forecast_file(weekly).freq == "W-SUN"
    steps = tmp_path / "s.tsf"
    steps.write_text("@attribute series_name string\n@frequency yearly\n@data\na:1,2,3\n")
    assert read_forecast_file(steps).frame["time"].tolist() == [0, 1, 2]


# --- the shared files and the named datasets ------------------------------------------------------

SHAPES = {"airline": (["Passengers"], 144, "MS", "1949-01-01", "1960-12-01"),
          "shampoo": (["Sales"], 36, "MS", "1991-01-01", "1993-12-01"),
          "uschange": (["Consumption", "Income", "Production", "Savings", "Unemployment"], 187, "QS", "1970-01-01",
                       "2016-07-01")}


@pytest.fixture
def shared_series(shared_data) -> Path:
    if not (shared_data / "series" / "Airline.csv").is_file():
        pytest.skip("no forecasting data in the shared data")
    return shared_data


@pytest.mark.parametrize("name", list(SHAPES))
def test_shared_files_have_their_documented_shapes_and_hashes(name, shared_series, monkeypatch):
    monkeypatch.setenv("SEQRNN_DATA", str(shared_series))
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", closed_port_url())  # never downloads
    ids, length, freq, first, last = SHAPES[name]
    path = locate_forecast(name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FORECAST_DATASETS[name].sha256
    table = read_forecast_data(name)
    assert table.series_ids() == ids and set(table.lengths().values()) == {length} and table.freq == freq
    assert table.frame["time"].min() == pd.Timestamp(first) and table.frame["time"].max() == pd.Timestamp(last)
    by_path = read_forecast_file(path)  # the defaults find the same columns
    pd.testing.assert_frame_equal(by_path.frame, table.frame)
    if name == "uschange":
        one = read_forecast_data(name, target="Consumption", covariates="Income")
        assert one.series_ids() == ["Consumption"] and one.covariates == ["Income"]
        assert one.frame["target"].iloc[0] == pytest.approx(0.615986218)


TINY_AIRLINE = b"Date,Passengers\n1949-01,112\n1949-02,118\n1949-03,132\n"


@pytest.fixture
def forecast_env(tmp_path, monkeypatch) -> Path:
    """A private cache (its series folder returned), no SEQRNN_DATA, airline pinned to a tiny file,
    downloads from a local server."""
    monkeypatch.setenv("SEQRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQRNN_DATA", raising=False)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    tiny = dataclasses.replace(FORECAST_DATASETS["airline"], sha256=hashlib.sha256(TINY_AIRLINE).hexdigest())
    monkeypatch.setitem(FORECAST_DATASETS, "airline", tiny)
    return tmp_path / "cache" / "series"


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", srv.url)
    yield srv
    srv.close()


def test_download_is_checked_then_the_cache_is_used(forecast_env, server):
    assert datasets.download_url(FORECAST_DATASETS["airline"]) == server.url + "/Airline.csv"
    server.files["/Airline.csv"] = TINY_AIRLINE
    table = read_forecast_data("airline")
    assert table.frame["target"].tolist() == [112.0, 118.0, 132.0] and table.freq == "MS"
    assert sorted(os.listdir(forecast_env)) == ["Airline.csv"]
    assert read_forecast_data("airline").lengths() == {"Passengers": 3}
    assert server.requests == ["/Airline.csv"]  # the second time from the cache


def test_a_corrupted_download_is_refused_and_nothing_is_left(forecast_env, server):
    server.files["/Airline.csv"] = TINY_AIRLINE + b"1949-04,129\n"
    with pytest.raises(SeqrnnError) as info:
        read_forecast_data("airline")
    message = str(info.value)
    assert "\n" not in message and "SHA-256" in message and "SEQRNN_DATA" in message and "Airline.csv" in message
    assert not forecast_env.exists() or os.listdir(forecast_env) == []


def test_offline_is_one_line(forecast_env, monkeypatch):
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", closed_port_url())
    with pytest.raises(SeqrnnError) as info:
        read_forecast_data("airline")
    assert "\n" not in str(info.value) and "cannot connect" in str(info.value)
    with pytest.raises(SeqrnnError, match="downloading is off"):
        read_forecast_data("airline", download=False)
    with pytest.raises(SeqrnnError, match="no such file or forecasting dataset: nope"):
        read_forecast_data("nope")


# --- seqrnn data inspect --------------------------------------------------------------------------


def last_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_inspect_named_dataset(forecast_env, server, seqrnn_cli):
    server.files["/Airline.csv"] = TINY_AIRLINE
    report = last_json(seqrnn_cli("data", "inspect", "airline", "--json"))
    assert report["kind"] == "forecast" and report["name"] == "airline" and report["series"] == 1
    assert (report["freq"], report["season"], report["start"], report["end"]) == ("MS", 12, "1949-01", "1949-03")
    text = seqrnn_cli("data", "inspect", "airline").stdout
    assert "forecasting dataset 'airline'" in text and "MS (monthly), season 12" in text


def test_inspect_long_csv_and_tsf(tmp_path, seqrnn_cli):
    path = tmp_path / "long.csv"
    path.write_text("ds,unique_id,y,price\n2020-01-01,a,1,1\n2020-01-02,a,,2\n2020-01-03,a,3,3\n"
                    "2020-01-01,b,1,1\n2020-01-03,b,3,3\n")
    report = last_json(seqrnn_cli("data", "inspect", path, "--covariates", "price", "--json"))
    assert report["series"] == 2 and report["lengths"]["total"] == 6 and report["covariates"] == ["price"]
    assert report["missing"]["target"] == 2 and report["missing"]["gaps"] == 1
    assert [s["series"] for s in report["per_series"]] == ["a", "b"]
    plain = seqrnn_cli("data", "inspect", path, "--input", "forecast")
    assert plain.returncode == 0 and "2 target values" in plain.stdout and "note:" in plain.stdout
    tsf = tmp_path / "t.tsf"
    tsf.write_text(TSF_HEADER + "T1:1979-01-01 00-00-00:1,2,3\n")
    report = last_json(seqrnn_cli("data", "inspect", tsf, "--json"))
    assert report["format"] == "tsf" and report["horizon"] == 6 and report["end"] == "1979-03"


@pytest.mark.parametrize("args,expected", [
    (["bad.csv", "--input", "forecast"], "line 3, column 2 (value)"),
    (["t.tsf", "--target", "x"], "--target applies to CSV, TSV and Parquet files"),
    (["nothere.csv", "--target", "x"], "no such file"),
    (["ok.csv", "--input", "forecast", "--value-columns", "a"], "--value-columns does not apply"),
    (["ok.csv", "--freq", "fortnightly"], "unknown frequency 'fortnightly'"),
])
def test_inspect_errors_are_one_line(args, expected, tmp_path, monkeypatch, seqrnn_cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("date,value\n1949-01,1\n1949-02,x\n")
    (tmp_path / "ok.csv").write_text("date,value\n1949-01,1\n1949-02,2\n")
    (tmp_path / "t.tsf").write_text(TSF_HEADER + "T1:1979-01-01 00-00-00:1,2,3\n")
    result = seqrnn_cli("data", "inspect", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqrnn: error:") and expected in lines[0], result.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(), seed=st.integers(0, 2**16), drop=st.integers(0, 3))
def test_rows_in_any_order_and_gaps_filled(table, seed, drop):
    """A long frame's rows in any order give the same table; a gap is an error, or filled."""
    frame = table.frame.sample(frac=1.0, random_state=seed)
    order = list(dict.fromkeys(frame["series"]))
    got = as_table(frame, freq=table.freq, covariates=table.covariates)
    expected = pd.concat([rows for _, rows in sorted(table.groups(), key=lambda g: order.index(g[0]))],
                         ignore_index=True)
    pd.testing.assert_frame_equal(got.frame, expected)
    inside = [i for name, rows in table.groups() for i in rows.index[1:-1]]
    if not inside:
        return
    gappy = table.frame.drop(index=inside[drop % len(inside)])
    with pytest.raises(InvalidInputError, match="has a gap after"):
        as_table(gappy, freq=table.freq, covariates=table.covariates)
    filled = as_table(gappy, freq=table.freq, covariates=table.covariates, fill="interpolate")
    assert filled.lengths() == table.lengths() and filled.filled["gaps"] == 1
    assert (filled.frame["time"].to_numpy() == table.frame["time"].to_numpy()).all()


@pytest.mark.parametrize("word,start,freq,season", [
    ("yearly", "1990-01-01", "YS", 1), ("yearly", "1990-12-31", "YE", 1), ("quarterly", "1990-10-01", "QS", 4),
    ("monthly", "1990-01-31", "ME", 12), ("weekly", "1990-01-03", "W-WED", 52), ("daily", "1990-01-03", "D", 7),
    ("hourly", "1990-01-03 05-00-00", "h", 24), ("half_hourly", "1990-01-03 05-30-00", "30min", 48),
    ("10_minutes", "1990-01-03 05-10-00", "10min", 144), ("4_seconds", "1990-01-03 05-10-04", "4s", 15),
])
def test_tsf_frequencies(word, start, freq, season, tmp_path):
    path = tmp_path / "f.tsf"
    path.write_text(f"@attribute series_name string\n@attribute start_timestamp date\n@frequency {word}\n@data\n"
                    f"a:{start}:1,2,3\n")
    table = read_forecast_file(path)
    assert table.freq == freq and seasonal_period(freq) == season
    stamp = pd.Timestamp(start[:10] + " " + start[11:].replace("-", ":") if len(start) > 10 else start)
    assert table.frame["time"].iloc[0] == stamp
    again = write_tsf(table, tmp_path / "g.tsf")
    pd.testing.assert_frame_equal(read_forecast_file(again).frame, table.frame)


def test_series_at_different_frequencies_and_dict_covariates():
    monthly = pd.Series([1.0, 2, 3], index=pd.period_range("2000-01", periods=3, freq="M"), name="m")
    daily = pd.Series([1.0, 2, 3], index=pd.date_range("2000-01-01", periods=3, freq="D"), name="d")
    with pytest.raises(InvalidInputError, match="series 'm' is MS .monthly. but series 'd' is D .daily."):
        as_table([monthly, daily])
    other = monthly.rename("n")
    cov = {"m": pd.DataFrame({"x": [0.0, 1, 2]}, index=monthly.index), "n": pd.DataFrame({"x": [5.0, 6, 7]},
                                                                                         index=monthly.index)}
    table = as_table([monthly, other], covariates=cov)
    assert table.covariates == ["x"] and table.frame["x"].tolist() == [0.0, 1, 2, 5, 6, 7]
    with pytest.raises(InvalidInputError, match="two series are named 'm'"):
        as_table([monthly, monthly])


def test_parquet_with_a_dates_index(tmp_path):
    path = tmp_path / "i.parquet"
    frame = pd.DataFrame({"a": [1.0, 2, 3], "b": [4.0, 5, 6]}, index=pd.date_range("2020-01-01", periods=3, freq="h"))
    frame.to_parquet(path)
    table = read_forecast_file(path)
    assert table.series_ids() == ["a", "b"] and table.freq == "h"
