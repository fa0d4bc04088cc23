"""Files of numeric series: .ts, wide and long CSV/TSV, Parquet and .npz read back what was written;
bad input is one line naming the file, line and column; the archive's named sets (the shared copies,
and a download from a local server on 127.0.0.1); `seqrnn data inspect` of series."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_datasets import Server, closed_port_url

from seqrnn.data import datasets
from seqrnn.data.datasets import SERIES_DATASETS, locate_series
from seqrnn.data.series import SeriesCollection
from seqrnn.data.series_files import (
    read_long,
    read_named_series,
    read_npz,
    read_series,
    read_series_data,
    write_npz,
)
from seqrnn.data.ts_files import read_ts, write_ts
from seqrnn.errors import SeqrnnError

# --- writers for the tables (the package writes .ts and .npz itself) ------------------------------


def cell(value: float, missing: str = "?") -> str:
    return missing if np.isnan(value) else f"{value:.9g}"


def write_wide(data: SeriesCollection, path: Path) -> Path:
    """Univariate series one a row: the label first, empty cells after a shorter series."""
    sep = "\t" if path.suffix == ".tsv" else ","
    width = int(data.lengths.max())
    header = (["label"] if data.labels is not None else []) + [f"t{j}" for j in range(width)]
    lines = [sep.join(header)]
    for i, series in enumerate(data.values):
        cells = [cell(v) for v in series[0].tolist()] + [""] * (width - series.shape[1])
        lines.append(sep.join(([str(data.labels[i])] if data.labels is not None else []) + cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def long_frame(data: SeriesCollection) -> pd.DataFrame:
    """One row per time step, each series' rows in reverse time order (the reader sorts them)."""
    rows = []
    for i, series in enumerate(data.values):
        for t in reversed(range(series.shape[1])):
            row = {"series_id": f"s{i}", "time": t}
            row.update({f"c{c}": float(series[c, t]) for c in range(series.shape[0])})
            if data.labels is not None:
                row["label"] = data.labels[i].item()
            rows.append(row)
    return pd.DataFrame(rows)


def write_long(data: SeriesCollection, path: Path) -> Path:
    frame = long_frame(data)
    if path.suffix == ".parquet":
        frame.to_parquet(path)
        return path
    sep = "\t" if path.suffix == ".tsv" else ","
    lines = [sep.join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(sep.join(cell(v, "") if isinstance(v, float) else str(v) for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_same(got: SeriesCollection, expected: SeriesCollection) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got.values, expected.values):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    if expected.labels is None:
        assert got.labels is None
    else:
        assert got.labels.dtype.kind == expected.labels.dtype.kind
        assert got.labels.tolist() == expected.labels.tolist()


# --- round trips ---------------------------------------------------------------------------------------

values = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def collections(draw, univariate: bool = False, labelled: bool | None = None) -> SeriesCollection:
    n = draw(st.integers(1, 5))
    channels = 1 if univariate else draw(st.integers(1, 3))
    equal = draw(st.booleans())
    lengths = [draw(st.integers(1, 6))] * n if equal else [draw(st.integers(1, 6)) for _ in range(n)]
    series = []
    for length in lengths:
        array = np.array(draw(st.lists(values, min_size=channels * length, max_size=channels * length)),
                         dtype=np.float32).reshape(channels, length)
        holes = draw(st.lists(st.booleans(), min_size=array.size, max_size=array.size))
        array[np.array(holes).reshape(array.shape)] = np.nan
        series.append(array)
    kind = draw(st.sampled_from(["int", "str", None] if labelled is None else (["int", "str"] if labelled else [None])))
    labels = None
    if kind == "int":
        labels = np.array(draw(st.lists(st.integers(-3, 9), min_size=n, max_size=n)), dtype=np.int64)
    elif kind == "str":
        words = st.text(alphabet="abcdefgXYZ_", min_size=1, max_size=5)
        labels = np.array(draw(st.lists(words, min_size=n, max_size=n)), dtype=str)
    return SeriesCollection(series, labels)


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(data=collections())
def test_ts_round_trip(data, tmp_path):
    assert_same(read_series(write_ts(data, tmp_path / "a.ts")), data)


@SETTINGS
@given(data=collections())
def test_npz_round_trip_without_pickle(data, tmp_path):
    path = write_npz(data, tmp_path / "a.npz")
    with np.load(path, allow_pickle=False) as archive:  # readable without pickle
        assert archive["X"].dtype == np.float32 and ("lengths" in archive.files) != data.equal_length
    assert_same(read_series(path), data)


@SETTINGS
@given(data=collections(univariate=True), suffix=st.sampled_from([".csv", ".tsv"]))
def test_wide_round_trip(data, suffix, tmp_path):
    assert_same(read_series(write_wide(data, tmp_path / f"wide{suffix}")), data)


@SETTINGS
@given(data=collections(), suffix=st.sampled_from([".csv", ".tsv", ".parquet"]))
def test_long_round_trip(data, suffix, tmp_path):
    assert_same(read_series(write_long(data, tmp_path / f"long{suffix}")), data)


def test_npz_object_array_needs_allow_pickle(tmp_path):
    series = [np.zeros((2, 3)), np.ones((2, 5))]
    X = np.empty(2, dtype=object)
    X[:] = series
    path = tmp_path / "ragged.npz"
    np.savez(path, X=X, y=np.array(["a", "b"]))
    with pytest.raises(SeqrnnError, match="pickle") as info:
        read_series(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    data = read_npz(path, allow_pickle=True)
    assert data.lengths.tolist() == [3, 5] and data.labels.tolist() == ["a", "b"]


def test_npz_two_dimensional_is_univariate_and_y_is_optional(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.arange(6.0).reshape(2, 3))
    data = read_series(tmp_path / "a.npz")
    assert data.n_channels == 1 and data.lengths.tolist() == [3, 3] and data.labels is None


def test_wide_label_column_anywhere_and_missing_cells(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("t0,t1,t2,Class\n1,,3,x\n4,NaN,,y\n?,5,,x\n")
    data = read_series(path)
    assert data.labels.tolist() == ["x", "y", "x"]
    np.testing.assert_array_equal(data.values[0], [[1, np.nan, 3]])  # empty in the middle: missing
    np.testing.assert_array_equal(data.values[1], [[4, np.nan]])  # empty at the end: shorter
    np.testing.assert_array_equal(data.values[2], [[np.nan, 5]])


def test_wide_without_label_column_has_no_labels(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("a,b\n1,2\n3,\n")
    data = read_series(path)
    assert data.labels is None and data.lengths.tolist() == [2, 1]


def test_long_columns_named_and_dates_sorted(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("who,when,x,y,z,kind\n"
                    "b,2024-01-02,1,10,0,dog\n"
                    "a,2024-01-03,2,20,0,cat\n"
                    "b,2024-01-01,3,30,0,dog\n"
                    "a,2024-01-01,4,?,0,cat\n")
    data = read_long(path, series_column="who", time_column="when", value_columns="x,y", label_column="kind")
    assert data.labels.tolist() == ["dog", "cat"]  # in order of first appearance
    np.testing.assert_array_equal(data.values[0], [[3, 1], [30, 10]])
    np.testing.assert_array_equal(data.values[1], [[4, 2], [np.nan, 20]])
    same = read_series(path, series_column="who", time_column="when", value_columns=["x", "y"], label_column="kind")
    assert_same(same, data)


def test_long_without_time_column_keeps_file_order(tmp_path):
    path = tmp_path / "l.tsv"
    path.write_text("series\tv\n1\t5\n2\t6\n1\t7\n")
    data = read_series(path)
    assert data.labels is None
    np.testing.assert_array_equal(data.values[0], [[5, 7]])


def test_parquet_with_dates_and_integer_ids(tmp_path):
    frame = pd.DataFrame({"unit": [7, 7, 3, 3], "at": pd.to_datetime(
        ["2024-01-01 00:00:00.000000002", "2024-01-01 00:00:00.000000001", "2024-01-02", "2024-01-01"],
        utc=True, format="mixed"),
        "x": [1.0, 2.0, 3.0, np.nan], "label": [5, 5, 6, 6]})
    frame.to_parquet(tmp_path / "l.parquet")
    data = read_series(tmp_path / "l.parquet", series_column="unit", time_column="at")
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [5, 6]
    np.testing.assert_array_equal(data.values[0], [[2, 1]])  # a nanosecond apart, in time order
    np.testing.assert_array_equal(data.values[1], [[np.nan, 3]])
    frame.loc[3, "label"] = 9
    frame.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(SeqrnnError, match=r"bad.parquet: row \d, column 4 \(label\): series 3 has label"):
        read_series(tmp_path / "bad.parquet", series_column="unit", time_column="at")


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    path = write_long(SeriesCollection([np.ones((1, 2), np.float32)], np.array([1])), tmp_path / "l.parquet")
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(SeqrnnError, match=r"pip install 'seqrnn\[parquet\]'"):
        read_series(path)


# --- bad input: one line each ----------------------------------------------------------------------

TS_HEAD = "@problemName t\n@timeStamps false\n@missing false\n@univariate true\n@equalLength true\n" \
          "@seriesLength 3\n@classLabel true a b\n@data\n"
MULTI_HEAD = "@problemName t\n@missing true\n@univariate false\n@dimensions 2\n@equalLength false\n" \
             "@classLabel true 1 2\n@data\n"

BAD = [
    ("empty.ts", "", ["the file is empty"]),
    ("blank.ts", "\n\n", ["the file is empty"]),
    ("nodata.ts", "@problemName t\n@classLabel false\n", ["no @data"]),
    ("nocases.ts", TS_HEAD, ["no series after @data"]),
    ("label.ts", TS_HEAD + "1,2,3:a\n1,2,3:c\n", ["line 10", "'c'", "@classLabel"]),
    ("dims.ts", MULTI_HEAD + "1,2:3,4:1\n1,2:3,4:5,6:2\n", ["line 9", "3 channels", "@dimensions 2"]),
    ("univariate.ts", TS_HEAD + "1,2,3:4,5,6:a\n", ["line 9", "2 channels", "@univariate true"]),
    ("equal.ts", TS_HEAD.replace("@seriesLength 3\n", "") + "1,2,3:a\n1,2:b\n", ["line 9", "@equalLength true"]),
    ("length.ts", TS_HEAD + "1,2,3,4:a\n", ["line 9", "@seriesLength 3"]),
    ("number.ts", TS_HEAD + "1,2,3:a\n1,x2,3:b\n", ["line 10", "column 3", "'x2'", "not a number"]),
    ("inf.ts", TS_HEAD + "1,inf,3:a\n", ["line 9", "column 3", "infinite"]),
    ("missing.ts", TS_HEAD + "1,?,3:a\n", ["line 9", "column 3", "@missing false"]),
    ("emptychannel.ts", MULTI_HEAD + "1,2::1\n", ["line 8", "channel 2 is empty"]),
    ("ragged.ts", MULTI_HEAD + "1,2:3:1\n", ["line 8", "channel 2 has 1 values"]),
    ("nolabel.ts", TS_HEAD + "1,2,3\n", ["line 9"]),
    ("stamps.ts", "@timeStamps true\n@classLabel false\n@data\n(1,2)\n", ["line 1", "@timeStamps true"]),
    ("tag.ts", "@problemName t\n@colour blue\n@data\n", ["line 2", "@colour"]),
    ("late.ts", TS_HEAD + "1,2,3:a\n@missing true\n", ["line 10", "after @data"]),
    ("wide_empty.csv", "", ["the file is empty"]),
    ("wide_header.csv", "label,t0\n", ["no rows"]),
    ("wide_ragged.csv", "label,t0,t1\na,1,2\nb,1,2,3\n", ["line 3", "4 fields, expected 3"]),
    ("wide_number.csv", "label,t0,t1\na,1,2\nb,1,two\n", ["line 3", "column 3 (t1)", "'two'"]),
    ("wide_inf.csv", "label,t0,t1\na,-inf,2\n", ["line 2", "column 2 (t0)", "infinite"]),
    ("wide_zero.csv", "label,t0,t1\na,1,2\nb,,\n", ["line 3", "without values"]),
    ("wide_nolabel.csv", "label,t0\na,1\n,2\n", ["line 3", "no label"]),
    ("long_label.csv", "series_id,time,v,label\na,1,1,x\nb,1,1,y\na,2,1,z\n", ["line 4", "series 'a'", "'z'"]),
    ("long_number.csv", "series_id,time,v\na,1,1\na,2,1e\n", ["line 3", "column 3 (v)", "'1e'"]),
    ("long_inf.tsv", "series_id\ttime\tv\na\t1\tInfinity\n", ["line 2", "column 3 (v)", "infinite"]),
    ("long_time.csv", "series_id,time,v\na,1,1\na,1,2\n", ["line 3", "two rows at time"]),
    ("long_badtime.csv", "series_id,time,v\na,1,1\na,soon,2\n", ["line 3", "'soon'", "neither a number nor a date"]),
    ("long_noid.csv", "series_id,time,v\na,1,1\n,2,2\n", ["line 3", "no series id"]),
    ("long_header.csv", "series_id,time,v\n", ["no rows"]),
    ("long_ragged.csv", "series_id,time,v\na,1,1,4\n", ["line 2", "4 fields, expected 3"]),
    ("long_short.csv", "series_id,time,v\na,1,1\n\nb,1\n", ["line 4", "2 fields, expected 3"]),
    ("long_utf8.csv", b"series_id,time,v\na,1,\xff\n", ["line 2", "not valid UTF-8"]),
    ("long_mixed.csv", "series_id,time,v\na,1,1\na,2024-01-01,2\n", ["line 2", "a number among dates"]),
    ("data.txt", "1,2,3\n", ["not a series file"]),
]


@pytest.mark.parametrize("name,content,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line(name, content, expected, tmp_path):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(SeqrnnError) as info:
        read_series(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for part in expected:
        assert part in message, message


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


BAD_NPZ = [
    ("nox", {"y": np.arange(2)}, "no array X"),
    ("inf", {"X": np.array([[[1.0, np.inf]]])}, "X[0] holds an infinite value"),
    ("zero", {"X": np.zeros((2, 1, 0))}, "holds no series"),
    ("labels", {"X": np.zeros((2, 1, 3)), "y": np.arange(3)}, "one label per series"),
    ("lengths", {"X": np.zeros((2, 1, 3)), "lengths": np.array([1, 4])}, "lengths[1] is 4"),
    ("text", {"X": np.array([["a", "b"]])}, "expected numbers"),
]


@pytest.mark.parametrize("name,arrays,expected", BAD_NPZ, ids=[b[0] for b in BAD_NPZ])
def test_bad_npz_is_one_line(name, arrays, expected, tmp_path):
    path = tmp_path / f"{name}.npz"
    path.write_bytes(npz_bytes(**arrays))
    with pytest.raises(SeqrnnError) as info:
        read_series(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and expected in message, message


def test_not_an_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(SeqrnnError, match="not a readable .npz"):
        read_series(path)


def test_options_for_another_format_are_refused(tmp_path):
    path = write_ts(SeriesCollection([np.ones((1, 2), np.float32)]), tmp_path / "a.ts")
    with pytest.raises(SeqrnnError, match="`series_column` applies to CSV"):
        read_series(path, series_column="id")


def test_write_ts_refuses_a_label_it_cannot_write(tmp_path):
    with pytest.raises(SeqrnnError, match="cannot write label 'a b'"):
        write_ts(SeriesCollection([np.ones((1, 2), np.float32)], np.array(["a b"])), tmp_path / "a.ts")


def test_ts_comments_crlf_nan_and_case_of_tags(tmp_path):
    path = tmp_path / "a.ts"
    path.write_bytes(b"# a comment\r\n@PROBLEMNAME t\r\n@missing true\r\n@classlabel true up down\r\n@data\r\n"
                     b"1,NaN,3:up\r\n\r\n# between cases\r\n4,?:down\r\n")
    data = read_ts(path)
    assert data.labels.tolist() == ["up", "down"]
    np.testing.assert_array_equal(data.values[0], [[1, np.nan, 3]])
    np.testing.assert_array_equal(data.values[1], [[4, np.nan]])


# --- the archive's sets in the shared data ------------------------------------------------------------

SHAPES = {  # name: (train cases, test cases, channels, (shortest, longest))
    "gunpoint": (50, 150, 1, (150, 150)),
    "italypowerdemand": (67, 1029, 1, (24, 24)),
    "basicmotions": (40, 40, 6, (100, 100)),
    "japanesevowels": (270, 370, 12, (7, 29)),
}


@pytest.fixture
def shared_series(shared_data) -> Path:
    if not (shared_data / "series").is_dir():
        pytest.skip("no series in the shared data")
    return shared_data


@pytest.mark.parametrize("name", list(SHAPES))
def test_shared_series_sets_have_their_documented_shapes(name, shared_series, monkeypatch):
    monkeypatch.setenv("SEQRNN_DATA", str(shared_series))
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", closed_port_url())  # never downloads
    train_cases, test_cases, channels, (shortest, longest) = SHAPES[name]
    train, test = read_named_series(name, "train"), read_named_series(name, "test")
    assert (len(train), len(test)) == (train_cases, test_cases)
    assert train.n_channels == test.n_channels == channels
    lengths = np.concatenate([train.lengths, test.lengths])
    assert (lengths.min(), lengths.max()) == (shortest, longest)
    assert train.labels is not None and set(test.labels.tolist()) <= set(train.labels.tolist())
    assert all(np.isfinite(v).all() for v in train.values)
    if shortest == longest:
        assert train.to_numpy().shape == (train_cases, channels, shortest)


@pytest.mark.parametrize("name", list(SERIES_DATASETS))
def test_registry_hashes_match_the_shared_files(name, shared_series):
    dataset = SERIES_DATASETS[name]
    for split in ("train", "test"):
        data = (shared_series / "series" / dataset.filename(split)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == dataset.sha256(split)


# --- named sets: found, or downloaded from a local server -----------------------------------------------

TINY_TRAIN = b"@problemName GunPoint\n@univariate true\n@equalLength true\n@seriesLength 3\n" \
             b"@classLabel true 1 2\n@data\n1,2,3:1\n4,5,6:2\n"
TINY_TEST = TINY_TRAIN.replace(b"4,5,6:2", b"7,8,9:2\n0,0,0:1")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def series_env(tmp_path, monkeypatch) -> Path:
    """A private cache (its series folder returned), no SEQRNN_DATA, gunpoint pinned to the tiny files."""
    monkeypatch.setenv("SEQRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQRNN_DATA", raising=False)
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", closed_port_url())
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    tiny = dataclasses.replace(SERIES_DATASETS["gunpoint"], train_sha256=sha256(TINY_TRAIN),
                               test_sha256=sha256(TINY_TEST))
    monkeypatch.setitem(SERIES_DATASETS, "gunpoint", tiny)
    return tmp_path / "cache" / "series"


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setenv("SEQRNN_DOWNLOAD_URL", srv.url)
    yield srv
    srv.close()


def contents(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_download_extracts_checked_members_then_the_cache_is_used(series_env, server):
    server.files["/GunPoint.zip"] = zip_of({"GunPoint/GunPoint_TRAIN.ts": TINY_TRAIN,
                                           "GunPoint/GunPoint_TEST.ts": TINY_TEST, "README.txt": b"hi"})
    train = read_named_series("gunpoint", "train")
    assert len(train) == 2 and train.labels.tolist() == [1, 2]
    assert contents(series_env) == ["GunPoint_TEST.ts", "GunPoint_TRAIN.ts"]  # no zip, no temporary file
    assert (series_env / "GunPoint_TEST.ts").read_bytes() == TINY_TEST
    assert server.requests == ["/GunPoint.zip"]
    assert len(read_named_series("gunpoint", "test")) == 3
    assert server.requests == ["/GunPoint.zip"]  # from the cache


@pytest.mark.parametrize("members,reason", [
    ({"GunPoint_TRAIN.ts": TINY_TRAIN, "GunPoint_TEST.ts": TINY_TEST + b"1,1,1:1\n"}, "SHA-256"),
    ({"GunPoint_TRAIN.ts": TINY_TRAIN}, "has no member GunPoint_TEST.ts"),
], ids=["corrupted", "missing"])
def test_a_bad_member_is_refused_and_nothing_is_left(series_env, server, members, reason):
    server.files["/GunPoint.zip"] = zip_of(members)
    with pytest.raises(SeqrnnError) as info:
        read_named_series("gunpoint", "train")
    message = str(info.value)
    assert "\n" not in message and reason in message and "nothing was saved" in message
    assert "GunPoint.zip" in message and "SEQRNN_DATA" in message
    assert contents(series_env) == []


def test_a_damaged_zip_is_refused_and_nothing_is_left(series_env, server):
    server.files["/GunPoint.zip"] = b"PK\x03\x04 not really a zip"
    with pytest.raises(SeqrnnError, match="not a zip archive"):
        read_named_series("gunpoint", "test")
    assert contents(series_env) == []


def test_http_error_and_offline_say_where_they_looked(series_env, server):
    with pytest.raises(SeqrnnError) as info:
        read_named_series("gunpoint", "train")
    assert "HTTP 404" in str(info.value) and "series set 'gunpoint' not found" in str(info.value)
    assert contents(series_env) == []


def test_offline_error(series_env):
    with pytest.raises(SeqrnnError) as info:
        locate_series("gunpoint", "test")
    message = str(info.value)
    assert "\n" not in message and "cannot connect to 127.0.0.1" in message
    assert "GunPoint_TRAIN.ts and GunPoint_TEST.ts" in message and "https://www.timeseriesclassification.com" in message
    with pytest.raises(SeqrnnError, match="downloading is off"):
        locate_series("gunpoint", "test", download=False)


def test_data_dir_is_used_first(series_env, tmp_path, monkeypatch, server):
    (tmp_path / "data" / "series").mkdir(parents=True)
    (tmp_path / "data" / "series" / "GunPoint_TEST.ts").write_bytes(TINY_TEST)
    monkeypatch.setenv("SEQRNN_DATA", str(tmp_path / "data"))
    assert locate_series("gunpoint", "test") == tmp_path / "data" / "series" / "GunPoint_TEST.ts"
    assert server.requests == []


def test_unknown_names_and_splits(series_env):
    with pytest.raises(SeqrnnError, match="no such series set: 'coffee'"):
        read_named_series("coffee")
    with pytest.raises(SeqrnnError, match="not 'val'"):
        read_named_series("gunpoint", "val")


def test_unwritable_cache_is_a_runtime_error(series_env, server, tmp_path, monkeypatch):
    from seqrnn.errors import SeqrnnRuntimeError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SEQRNN_CACHE", str(blocker))
    server.files["/GunPoint.zip"] = zip_of({"GunPoint_TRAIN.ts": TINY_TRAIN, "GunPoint_TEST.ts": TINY_TEST})
    with pytest.raises(SeqrnnRuntimeError, match="SEQRNN_CACHE"):
        read_named_series("gunpoint")


def test_read_series_data(series_env, tmp_path, monkeypatch):
    (tmp_path / "data" / "series").mkdir(parents=True)
    (tmp_path / "data" / "series" / "GunPoint_TRAIN.ts").write_bytes(TINY_TRAIN)
    (tmp_path / "data" / "series" / "GunPoint_TEST.ts").write_bytes(TINY_TEST)
    monkeypatch.setenv("SEQRNN_DATA", str(tmp_path / "data"))
    assert len(read_series_data("gunpoint")) == 2  # train by default
    assert len(read_series_data("gunpoint", "test")) == 3
    assert len(read_series_data("gunpoint", default_split="test")) == 3
    path = tmp_path / "data" / "series" / "GunPoint_TEST.ts"
    assert len(read_series_data(str(path))) == 3
    with pytest.raises(SeqrnnError, match="no test split"):
        read_series_data(str(path), "test")
    with pytest.raises(SeqrnnError, match="`label_column` applies to series files"):
        read_series_data("gunpoint", label_column="y")
    with pytest.raises(SeqrnnError, match="no such file or series set"):
        read_series_data("nothing-here")
    with pytest.raises(SeqrnnError, match="no such file"):
        read_series_data(str(tmp_path / "missing.ts"))


def test_registry():
    assert list(SERIES_DATASETS) == ["gunpoint", "italypowerdemand", "basicmotions", "japanesevowels"]
    for name, dataset in SERIES_DATASETS.items():
        assert dataset.url == f"https://www.timeseriesclassification.com/aeon-toolkit/{dataset.stem}.zip"
        assert dataset.stem.lower() == name and len(dataset.train_sha256) == len(dataset.test_sha256) == 64
        assert datasets.download_url(dataset) == dataset.url or os.environ.get("SEQRNN_DOWNLOAD_URL")


# --- seqrnn data inspect ---------------------------------------------------------------------------------


def last_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_inspect_ts_file(tmp_path, seqrnn_cli):
    data = SeriesCollection([np.array([[1, np.nan, 3], [4, 5, 6]], np.float32),
                             np.array([[1, 2], [3, 4]], np.float32),
                             np.array([[1, 2, 3, 4], [3, 4, 5, 6]], np.float32)], np.array(["b", "a", "b"]))
    path = write_ts(data, tmp_path / "x.ts")
    report = last_json(seqrnn_cli("data", "inspect", path, "--json"))
    assert report["kind"] == "series" and report["format"] == "ts" and report["name"] is None
    assert (report["cases"], report["channels"]) == (3, 2)
    assert report["lengths"] == {"min": 2, "median": 3.0, "max": 4, "equal": False}
    assert report["classes"] == [{"label": "a", "cases": 1, "share": 0.3333}, {"label": "b", "cases": 2, "share": 0.6667}]
    assert report["missing"] == {"count": 1, "share": round(1 / 18, 6)}
    text = seqrnn_cli("data", "inspect", path)
    assert text.returncode == 0
    assert "2 to 4 time points" in text.stdout and "2 classes" in text.stdout and "1 values (5.56%)" in text.stdout


def test_inspect_long_csv_with_flags(tmp_path, seqrnn_cli):
    path = tmp_path / "l.csv"
    path.write_text("id,step,a,b,y\n1,2,1,2,u\n1,1,1,2,u\n2,1,1,,v\n")
    report = last_json(seqrnn_cli("data", "inspect", path, "--series-column", "id", "--time-column", "step",
                                  "--value-columns", "a,b", "--label-column", "y", "--json"))
    assert (report["cases"], report["channels"], report["format"]) == (2, 2, "csv")
    assert report["missing"]["count"] == 1 and [c["label"] for c in report["classes"]] == ["u", "v"]


def test_inspect_wide_csv_with_input_series(tmp_path, seqrnn_cli):
    path = write_wide(SeriesCollection([np.ones((1, 3), np.float32), np.ones((1, 2), np.float32)],
                                       np.array([0, 1])), tmp_path / "w.csv")
    report = last_json(seqrnn_cli("data", "inspect", path, "--input", "series", "--json"))
    assert report["lengths"]["max"] == 3 and report["channels"] == 1


def test_inspect_named_series_set(series_env, tmp_path, monkeypatch, seqrnn_cli):
    (tmp_path / "data" / "series").mkdir(parents=True)
    (tmp_path / "data" / "series" / "GunPoint_TRAIN.ts").write_bytes(TINY_TRAIN)
    (tmp_path / "data" / "series" / "GunPoint_TEST.ts").write_bytes(TINY_TEST)
    monkeypatch.setenv("SEQRNN_DATA", str(tmp_path / "data"))
    report = last_json(seqrnn_cli("data", "inspect", "gunpoint", "--json"))
    assert report["name"] == "gunpoint" and list(report["splits"]) == ["train", "test"]
    assert report["splits"]["test"]["cases"] == 3
    text = seqrnn_cli("data", "inspect", "gunpoint")
    assert "series set 'gunpoint'" in text.stdout and "test:" in text.stdout


@pytest.mark.parametrize("args,expected", [
    (["bad.ts"], "line 3"),
    (["missing.ts"], "no such file"),
    (["gunpoint", "--series-column", "id"], "applies to series files"),
    (["bad.ts", "--text-column", "t"], "text-column applies to texts"),
])
def test_inspect_errors_are_one_line(args, expected, tmp_path, monkeypatch, seqrnn_cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.ts").write_text("@classLabel false\n@data\n1,x\n")
    result = seqrnn_cli("data", "inspect", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqrnn: error:") and expected in lines[0], result.stderr
