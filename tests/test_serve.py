"""`seqrnn serve`: the HTTP API on tiny trained models, its limits and its errors (in process), and a
real server process against slow clients on 127.0.0.1 (raw sockets, bounded in count and time)."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import fnmatch
import importlib.resources
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette's notice about httpx vs httpx2 is not ours to fix
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from seqrnn import __version__
from seqrnn.errors import SeqrnnError
from seqrnn.nn.sampling import DEFAULT_TOP_N, check_sampling_options, effective_top_n
from seqrnn.serve.app import _request_models, create_app
from seqrnn.serve.limits import ConnectionLimits, Limits
from seqrnn.serve.workers import frozen_stepper, sample
from seqrnn.tasks.charlm import CharLanguageModel
from seqrnn.tasks.classifier import SentimentClassifier
from seqrnn.tasks.series import SeriesClassifier

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 6
POSITIVE = ["great", "wonderful", "loved", "superb"]
NEGATIVE = ["awful", "boring", "hated", "dull"]
FILLER = ["the", "movie", "plot", "was", "and", "a", "story"]
LIMITS = Limits(max_body_bytes=20_000, max_texts=8, max_text_chars=500, max_start_chars=50, max_length=300,
                max_num_samples=4, max_series=6, max_series_values=100, max_horizon=8)


def _reviews(n: int):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    texts = [" ".join(list(rng.choice(FILLER, 6)) + [str(rng.choice(POSITIVE if y else NEGATIVE))]) for y in labels]
    return texts, labels


def train_tiny_models(root: Path) -> tuple[Path, Path]:
    """Tiny models trained for real (a second or two) into root/sentiment and root/charlm."""
    texts, labels = _reviews(64)
    SentimentClassifier(preset="default", embed_size=8, hidden_size=8, seq_len=20, batch_size=16, epochs=1,
                        threads=1).fit(texts, labels, out_dir=root / "sentiment")
    CharLanguageModel(preset="default", hidden_size=32, embed_size=8, batch_size=4, num_steps=20, epochs=1,
                      dropout=0.0, threads=1).fit(TEXT, out_dir=root / "charlm")
    return root / "sentiment", root / "charlm"


@contextlib.contextmanager
def running_server(models, *flags: str, startup_s: float = 120):
    """A real `seqrnn serve --port 0` process on 127.0.0.1: yields (port, process); SIGINT at the end."""
    with tempfile.TemporaryDirectory() as logs:
        out_path, err_path = Path(logs) / "stdout", Path(logs) / "stderr"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            process = subprocess.Popen([sys.executable, "-m", "seqrnn", "serve", "--sentiment", str(models[0]),
                                        "--charlm", str(models[1]), "--host", "127.0.0.1", "--port", "0", *flags],
                                       stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=os.environ.copy())
        try:
            deadline, port = time.monotonic() + startup_s, None
            while port is None:
                found = re.search(r"on http://127\.0\.0\.1:(\d+)/", out_path.read_text())
                if found:
                    port = int(found.group(1))
                elif process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"seqrnn serve did not start: {err_path.read_text()[-2000:]}")
                else:
                    time.sleep(0.1)
            while True:  # uvicorn answers once its startup is done
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                        assert r.status == 200
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"seqrnn serve does not answer: {err_path.read_text()[-2000:]}")
                    time.sleep(0.1)
            yield port, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny models trained for real (a second or two) into model directories."""
    return train_tiny_models(tmp_path_factory.mktemp("serve"))


def _series(n: int, channels: int = 2, steps: int = 20, seed: int = 0):
    """n series (channels, steps) whose class is the sign of their mean."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    X = rng.normal(size=(n, channels, steps)) + np.where(labels == 1, 1.0, -1.0)[:, None, None]
    return X, labels


def train_tiny_series_model(directory: Path, channels: int = 2) -> Path:
    """A tiny series classifier trained for real (a second or so): 24 series of 20 steps."""
    X, y = _series(24, channels)
    SeriesClassifier(epochs=3, hidden_size=8, projection_size=4, threads=1, quiet=True).fit(X, y, out_dir=directory)
    return directory


@pytest.fixture(scope="module")
def series_model(tmp_path_factory):
    """A tiny two-channel series classifier in a model directory."""
    return train_tiny_series_model(tmp_path_factory.mktemp("serve-series") / "series")


def train_tiny_forecaster(directory: Path, integer_steps: bool = False) -> Path:
    """A tiny forecaster trained for real (a second or so): two monthly series of 60 points (or, with
    `integer_steps`, three series on integer steps, no season), horizon 4; it forecasts with its
    network (`fallback=False`: a tiny network may lose to naive on validation), so seeds matter."""
    from test_forecast import TINY, seasonal

    from seqrnn.tasks.forecast import Forecaster

    y = [seasonal(60, seed=k, level=10.0**k) for k in range(2)]
    if integer_steps:
        y = [s.to_numpy() for s in y] + [np.linspace(5, 9, 40)]
    Forecaster(horizon=4, seed=2, fallback=False, **{**TINY, "epochs": 2}).fit(y, out_dir=directory)
    return directory


@pytest.fixture(scope="module")
def forecast_model(tmp_path_factory):
    """A tiny monthly forecaster (horizon 4, a season of 12 read from the calendar) in a model directory."""
    return train_tiny_forecaster(tmp_path_factory.mktemp("serve-forecast") / "forecast")


@pytest.fixture(scope="module")
def client(models, series_model, forecast_model):
    with TestClient(create_app(*models, limits=LIMITS, series_dir=series_model, forecast_dir=forecast_model)) as c:
        yield c


def test_healthz_reports_the_loaded_models(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "models": {"sentiment": True, "charlm": True, "series": True,
                                                   "forecast": True}}


def test_sentiment_matches_the_classifier(client, models):
    texts = ["a wonderful and great movie", "boring and dull plot", "meh"]
    r = client.post("/v1/sentiment", json={"texts": texts})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    expected = SentimentClassifier.load(models[0]).predict_proba(texts)
    assert [x["label"] for x in results] == [int(p > 0.5) for p in expected[:, 1]]
    assert [x["probability"] for x in results] == pytest.approx(expected.max(axis=1), abs=1e-6)  # the label's
    np.testing.assert_allclose([list(x["probabilities"].values()) for x in results], expected, atol=1e-6)
    assert all(0.0 <= x["probability"] <= 1.0 for x in results)
    r = client.post("/v1/sentiment", json={"texts": ["fine", " "]})
    assert r.status_code == 400 and "empty text" in r.json()["error"]


def test_generate_matches_the_model_and_streaming_matches_the_batch(client, models):
    lm = CharLanguageModel.load(models[1])
    request = {"start": "To be", "length": 120, "seed": 7, "temperature": 0.8}
    r = client.post("/v1/generate", json=request)
    assert r.status_code == 200, r.text
    (text,) = r.json()["texts"]
    assert text == lm.sample(120, "To be", top_n=5, temperature=0.8, seed=7)
    assert text.startswith("To be") and len(text) == len("To be") + 120

    with client.stream("POST", "/v1/generate", json={**request, "stream": True}) as s:
        assert s.status_code == 200
        assert s.headers["content-type"].startswith("text/plain")
        streamed = "".join(s.iter_text())
    assert streamed == text

    r = client.post("/v1/generate", json={**request, "num_samples": 3, "top_n": None, "top_p": 0.9})
    texts = r.json()["texts"]
    assert len(texts) == 3 and all(t.startswith("To be") and len(t) == 125 for t in texts)
    assert texts == lm.sample(120, "To be", top_n=None, top_p=0.9, temperature=0.8, seed=7, num_samples=3)


def test_generate_defaults_and_the_top_k_alias(client):
    r = client.post("/v1/generate", json={"length": 30, "top_k": 1000, "temperature": 0})
    assert r.status_code == 200, r.text
    greedy = r.json()["texts"][0]
    assert greedy.startswith("The ") and len(greedy) == 34
    assert client.post("/v1/generate", json={"length": 30, "temperature": 0}).json()["texts"][0] == greedy


@pytest.mark.parametrize("sent, top_n", [
    ({}, DEFAULT_TOP_N),
    ({"top_n": None}, DEFAULT_TOP_N),
    ({"top_p": 0.9}, None),
    ({"top_n": None, "top_p": 0.9}, None),
    ({"top_n": 3, "top_p": 0.9}, 3),
    ({"top_k": 2}, 2),
])
def test_the_top_n_default_is_the_shared_rule(client, models, sent, top_n):
    """Omitted (or null) top_n: the book's 5 unless top_p is given, as `effective_top_n` decides."""
    assert effective_top_n(sent.get("top_n", sent.get("top_k")), sent.get("top_p")) == top_n
    lm = CharLanguageModel.load(models[1])
    r = client.post("/v1/generate", json={"start": "To be", "length": 60, "seed": 3, **sent})
    assert r.status_code == 200, r.text
    assert r.json()["texts"] == [lm.sample(60, "To be", top_n=top_n, top_p=sent.get("top_p"), seed=3)]


@pytest.mark.parametrize("path, body, field", [
    ("/v1/sentiment", {}, "texts"),
    ("/v1/sentiment", {"texts": []}, "texts"),
    ("/v1/sentiment", {"texts": "one review"}, "texts"),
    ("/v1/sentiment", {"texts": ["x"] * 9}, "texts"),
    ("/v1/sentiment", {"texts": ["ok", "x" * 501]}, "texts.1"),
    ("/v1/sentiment", {"texts": [1, 2]}, "texts.0"),
    ("/v1/sentiment", {"texts": ["ok"], "extra": 1}, "extra"),
    ("/v1/generate", {"length": 0}, "length"),
    ("/v1/generate", {"length": 301}, "length"),
    ("/v1/generate", {"start": ""}, "start"),
    ("/v1/generate", {"start": "T" * 51}, "start"),
    ("/v1/generate", {"temperature": -0.5}, "temperature"),
    ("/v1/generate", {"top_n": -1}, "top_n"),
    ("/v1/generate", {"top_p": 0}, "top_p"),
    ("/v1/generate", {"top_p": 1.5}, "top_p"),
    ("/v1/generate", {"num_samples": 0}, "num_samples"),
    ("/v1/generate", {"num_samples": 5}, "num_samples"),
    ("/v1/generate", {"seed": -1}, "seed"),
    ("/v1/generate", {"stream": True, "num_samples": 2}, "num_samples 1"),
    ("/v1/generate", {"lenght": 10}, "lenght"),
])
def test_invalid_fields_are_422_with_a_clear_message(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    payload = r.json()
    assert field in payload["error"] and "\n" not in payload["error"]
    assert isinstance(payload["detail"], list) and payload["detail"]
    assert "x" * 501 not in r.text  # the offending input is not echoed back


@pytest.mark.parametrize("field", ["temperature", "top_p"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_422(client, field, value):
    """Python's JSON parser reads NaN and Infinity; the API refuses them as the command line does."""
    r = client.post("/v1/generate", content=f'{{"length": 5, "{field}": {value}}}'.encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


SAMPLING_VALUES = {
    "length": [1, 2, 300, 0, -1],
    "temperature": [0.0, 1e-6, 0.5, 1.0, 7.0, 1e-320, 1e-7, 5e-324, -0.5, -1e-9, math.nan, math.inf, -math.inf],
    "top_n": [None, 1, 5, 1000, 0, -3],
    "top_p": [None, 1e-9, 0.5, 1.0, 0.0, -0.1, 1.0000001, 1.5, math.nan, math.inf],
    "num_samples": [1, 4, 0, -2],
}


@pytest.mark.parametrize("field, value", [(f, v) for f, values in SAMPLING_VALUES.items() for v in values])
def test_the_request_model_agrees_with_check_sampling_options(field, value):
    """What the API's validation accepts is what the shared check accepts (below the server's limits)."""
    from pydantic import ValidationError

    _, GenerateRequest, *_ = _request_models(LIMITS)
    try:
        check_sampling_options(**{field: value})
        shared_ok, message = True, ""
    except SeqrnnError as exc:
        shared_ok, message = False, str(exc)
    try:
        GenerateRequest(**{field: value})
        api_ok = True
    except ValidationError:
        api_ok = False
    assert api_ok == shared_ok, (field, value, message)
    if not shared_ok:
        assert message.startswith(f"{field} must be ") and "\n" not in message


# Every field and limit of every endpoint, and the status the serving page promises for it: 422 for a
# field out of range (LIMITS: 8 texts of 500 characters, 50 start characters, 300 generated, 4 samples),
# 400 for input the model rejects, 404 for a model not loaded or a route that does not exist, 413 for a
# body over 20,000 bytes, and 200 at each bound. 408 and 503 come from slow clients and full queues:
# tested below (a real server, and `test_a_full_queue_is_503`, `test_requests_being_answered_...`).
GOOD_GENERATE = {"start": "To be", "length": 5}
STATUS_TABLE = [
    # (path, JSON body, status, a fragment of the one-line error)
    ("/v1/sentiment", {"texts": ["fine"]}, 200, None),
    ("/v1/sentiment", {"texts": ["x"] * 8}, 200, None),
    ("/v1/sentiment", {"texts": ["x" * 500]}, 200, None),
    ("/v1/sentiment", {}, 422, "texts"),
    ("/v1/sentiment", {"texts": None}, 422, "texts"),
    ("/v1/sentiment", {"texts": []}, 422, "texts"),
    ("/v1/sentiment", {"texts": "one review"}, 422, "texts"),
    ("/v1/sentiment", {"texts": ["x"] * 9}, 422, "texts"),
    ("/v1/sentiment", {"texts": ["x" * 501]}, 422, "texts.0"),
    ("/v1/sentiment", {"texts": ["ok", 3]}, 422, "texts.1"),
    ("/v1/sentiment", {"texts": [["nested"]]}, 422, "texts.0"),
    ("/v1/sentiment", {"texts": ["ok"], "extra": 1}, 422, "extra"),
    ("/v1/sentiment", ["not", "an", "object"], 422, "body"),
    ("/v1/sentiment", {"texts": [""]}, 400, "empty text"),
    ("/v1/sentiment", {"texts": ["fine", " \n"]}, 400, "empty text"),
    ("/v1/generate", {}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "length": 300}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "start": "T" * 50}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": 0}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": 1e-6}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "top_n": 0, "top_p": 1.0}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "top_k": 3}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "seed": 2**64 - 1}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "num_samples": 4}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "stream": True}, 200, None),
    ("/v1/generate", {**GOOD_GENERATE, "start": ""}, 422, "start"),
    ("/v1/generate", {**GOOD_GENERATE, "start": "T" * 51}, 422, "start"),
    ("/v1/generate", {**GOOD_GENERATE, "start": 5}, 422, "start"),
    ("/v1/generate", {**GOOD_GENERATE, "length": 0}, 422, "length"),
    ("/v1/generate", {**GOOD_GENERATE, "length": 301}, 422, "length"),
    ("/v1/generate", {**GOOD_GENERATE, "length": 2.5}, 422, "length"),
    ("/v1/generate", {**GOOD_GENERATE, "length": "ten"}, 422, "length"),
    ("/v1/generate", {**GOOD_GENERATE, "top_n": -1}, 422, "top_n"),
    ("/v1/generate", {**GOOD_GENERATE, "top_k": -1}, 422, "top_k"),  # the name the client sent
    ("/v1/generate", {**GOOD_GENERATE, "top_p": 0}, 422, "top_p"),
    ("/v1/generate", {**GOOD_GENERATE, "top_p": 1.5}, 422, "top_p"),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": -1}, 422, "temperature"),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": 1e-320}, 422, "temperature"),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": 5e-324}, 422, "temperature"),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": 1e-7}, 422, "temperature"),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": 1e400}, 422, "temperature"),
    ("/v1/generate", {**GOOD_GENERATE, "temperature": "hot"}, 422, "temperature"),
    ("/v1/generate", {**GOOD_GENERATE, "seed": -1}, 422, "seed"),
    ("/v1/generate", {**GOOD_GENERATE, "seed": 2**64}, 422, "seed"),
    ("/v1/generate", {**GOOD_GENERATE, "num_samples": 0}, 422, "num_samples"),
    ("/v1/generate", {**GOOD_GENERATE, "num_samples": 5}, 422, "num_samples"),
    ("/v1/generate", {**GOOD_GENERATE, "ignore_unknown": "maybe"}, 422, "ignore_unknown"),
    ("/v1/generate", {**GOOD_GENERATE, "stream": "yes please"}, 422, "stream"),
    ("/v1/generate", {**GOOD_GENERATE, "stream": True, "num_samples": 2}, 422, "num_samples 1"),
    ("/v1/generate", {**GOOD_GENERATE, "lenght": 10}, 422, "lenght"),
    ("/v1/generate", {**GOOD_GENERATE, "start": "Zebra\u20ac"}, 400, "never saw"),
    ("/v1/generate", {**GOOD_GENERATE, "start": "Zebra\u20ac", "stream": True}, 400, "never saw"),
    ("/v1/generate", {**GOOD_GENERATE, "start": "\u20ac\u20ac", "ignore_unknown": True}, 400, "at least one"),
    ("/v1/sentiment", {"texts": ["w" * 499] * 50}, 413, "20000 bytes"),
    ("/v1/classify", {"series": [[[0.5, -1, None], [2, 3, 4]]]}, 200, ""),
    ("/v1/classify", {"series": []}, 422, "series"),
    ("/v1/classify", {"series": [[[1.0] * 3] * 2] * 7}, 422, "series"),  # max_series 6
    ("/v1/classify", {"series": [[[1.0] * 51] * 2]}, 422, "series[0] has 102 values"),  # max_series_values 100
    ("/v1/classify", {"series": [[[1.0] * 3] * 2, [1.0] * 101]}, 422, "series[1] has 101 values"),
    ("/v1/classify", {"series": [[[1, "two"], [3, 4]]]}, 422, "series[0][0][1] is str, not a number or null"),
    ("/v1/classify", {"series": [[[1, 2], [3, 4]], [1, True]]}, 422, "series[1][1] is bool, not a number or null"),
    ("/v1/classify", {"series": [[1, [2, 3]]]}, 422, "series[0] mixes numbers and lists"),
    ("/v1/classify", {"series": [[1, 2], 3]}, 422, "series[1] must be a list of numbers or a list of channels"),
    ("/v1/classify", {"series": "1, 2, 3"}, 422, "series"),
    ("/v1/classify", {"texts": ["fine"]}, 422, "texts"),
    ("/v1/classify", {"series": [[[1, 2]] * 2, [[1, 2]] * 3]}, 400, "series[1] has 3 channels but the model was "
                                                                     "trained on 2"),
    ("/v1/classify", {"series": [[[1, 2]] * 2, [1, 2, 3]]}, 400, "series[1] has 1 channel but"),
    ("/v1/classify", {"series": [[[1, 2], [3, 4]], [[1, 2, 3], [4, 5]]]}, 400,
     "series[1]'s channels have different lengths"),
    ("/v1/classify", {"series": [[[1, 2], [3, 4]], [[], []]]}, 400, "series[1] has no time points"),
    ("/v1/classify", {"series": [[]]}, 400, "series[0] has no time points"),
    ("/v1/classify", {"series": [[[1e39, 2], [3, 4]]]}, 400, "series[0] holds a value beyond float32's range"),
    ("/v1/generate", {"start": "T" * 30_000}, 413, "20000 bytes"),
    ("/no/such/route", {}, 404, "Not Found"),
    # the forecaster: monthly, horizon 4, reads the calendar (so each series needs its start)
    ("/v1/forecast", {"series": [{"values": [1.0] * 100, "start": "2001-03-01"}]}, 200, None),
    ("/v1/forecast", {"series": [{"values": [2], "start": "2001-03-01", "id": 7}], "horizon": 4, "seed": 0}, 200, None),
    ("/v1/forecast", {"series": [{"values": [1.0, 2.0], "start": "2001-03-01T00:00:00"}] * 6}, 200, None),
    ("/v1/forecast", {"series": []}, 422, "series"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}] * 7}, 422, "series"),  # max_series 6
    ("/v1/forecast", {"series": [{"values": [1.0] * 101, "start": "2001-03-01"}]}, 422,
     "series[0] has 101 values, more than the 100 a series may have"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}, {"values": []}]}, 422,
     "series[1] has no values"),
    ("/v1/forecast", {"series": [[1.0, 2.0], [1.0, None]]}, 422, "series[1].values[1] is null"),
    ("/v1/forecast", {"series": [[1.0, "2"]]}, 422, "series[0].values[1] is str, not a number"),
    ("/v1/forecast", {"series": [[1.0, True]]}, 422, "series[0].values[1] is bool, not a number"),
    ("/v1/forecast", {"series": [{"start": "2001-03-01"}]}, 422, "series[0].values must be a list of numbers"),
    ("/v1/forecast", {"series": [3]}, 422, "series[0] must be an object with values"),
    ("/v1/forecast", {"series": [{"values": [1.0], "when": "2001"}]}, 422, "when"),
    ("/v1/forecast", {"series": [[1.0, 2.0]]}, 422, "series[0] needs a start: the model reads the calendar (monthly"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}, [1.0]]}, 422, "series[1] needs a start"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-15"}]}, 422,
     "series[0].start '2001-03-15' is not on the model's frequency (monthly, MS): the nearest after it is 2001-04-01"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "soon"}]}, 422, "series[0].start 'soon' is not a time"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": 2001}]}, 422, "series[0].start must be a time stamp"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01T00:00:00+02:00"}]}, 422, "has a time zone"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2262-03-01"}]}, 422, "past the dates pandas can hold"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01", "id": "a"},
                                 {"values": [1.0], "start": "2001-03-01", "id": "a"}]}, 422,
     "series[1].id 'a' is also series[0]'s: ids must differ"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}], "horizon": 5}, 422,
     "horizon must be from 1 to 4, the horizon the model was trained for, got 5"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}], "horizon": 9}, 422, "horizon"),  # limit 8
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}], "horizon": 0}, 422, "horizon"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}], "horizon": 2.5}, 422, "horizon"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}], "seed": -1}, 422, "seed"),
    ("/v1/forecast", {"series": [{"values": [1.0], "start": "2001-03-01"}], "seed": 2**32}, 422, "seed"),
]


@pytest.mark.parametrize("path, body, status, fragment", STATUS_TABLE,
                         ids=[f"{path}-{status}-{i}" for i, (path, _, status, _) in enumerate(STATUS_TABLE)])
def test_status_codes_match_the_serving_page(client, path, body, status, fragment):
    r = client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text[:300]
    if status != 200:
        assert r.headers["content-type"].startswith("application/json")
        payload = r.json()
        assert fragment in payload["error"] and "\n" not in payload["error"], payload
        assert "detail" in payload


def test_a_model_not_loaded_is_404_on_each_route(models):
    with TestClient(create_app(sentiment_dir=models[0], limits=LIMITS)) as c:
        assert c.post("/v1/generate", json=GOOD_GENERATE).status_code == 404
        assert c.post("/v1/generate", json={"length": 0}).status_code == 422  # the fields first
    with TestClient(create_app(charlm_dir=models[1], limits=LIMITS)) as c:
        assert c.post("/v1/sentiment", json={"texts": ["fine"]}).status_code == 404
        r = c.post("/v1/classify", json={"series": [[1.0, 2.0]]})
        assert r.status_code == 404 and "--series" in r.json()["error"]
        assert c.post("/v1/classify", json={"series": []}).status_code == 422  # the fields first


def test_a_body_that_is_not_json_is_422(client):
    r = client.post("/v1/sentiment", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]


def test_bodies_over_the_limit_are_413_with_or_without_content_length(client):
    big = {"texts": ["w" * 499] * 50}  # over 20 000 bytes: refused before the fields are even validated
    r = client.post("/v1/sentiment", json=big)
    assert r.status_code == 413 and "20000 bytes" in r.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"texts": ["'
        for _ in range(30):
            yield b"a" * 1000
        yield b'"]}'

    r = client.post("/v1/sentiment", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_unknown_start_characters_are_400_unless_ignored(client):
    r = client.post("/v1/generate", json={"start": "Zebra€", "length": 10})
    assert r.status_code == 400
    assert "never saw" in r.json()["error"] and "'€'" in r.json()["error"]
    r = client.post("/v1/generate", json={"start": "Zebra€", "length": 10, "stream": True})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    r = client.post("/v1/generate", json={"start": "Zebra€ to", "length": 10, "ignore_unknown": True})
    assert r.status_code == 200 and r.json()["texts"][0].startswith("ebra to")


def test_a_route_for_a_model_not_loaded_is_404(models):
    with TestClient(create_app(sentiment_dir=models[0])) as only_sentiment:
        assert only_sentiment.get("/healthz").json()["models"] == {"sentiment": True, "charlm": False, "series": False,
                                                                   "forecast": False}
        r = only_sentiment.post("/v1/generate", json={"length": 5})
        assert r.status_code == 404 and "--charlm" in r.json()["error"]
        assert only_sentiment.get("/v1/info").json()["models"] == {"sentiment": True, "charlm": False,
                                                                   "series": False, "forecast": False}
        r = only_sentiment.post("/v1/forecast", json={"series": [[1.0, 2.0]]})
        assert r.status_code == 404 and "--forecast" in r.json()["error"]
    with TestClient(create_app(charlm_dir=models[1])) as only_charlm:
        r = only_charlm.post("/v1/sentiment", json={"texts": ["fine"]})
        assert r.status_code == 404 and "--sentiment" in r.json()["error"]
        assert only_charlm.get("/no/such/page").json()["error"] == "Not Found"


def test_info_reports_the_models_and_the_request_limits(client, models):
    r = client.get("/v1/info")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    info = r.json()
    assert {k: v for k, v in info.items() if k != "about"} == {
        "version": __version__, "models": {"sentiment": True, "charlm": True, "series": True, "forecast": True},
        "limits": {"max_body_bytes": 20_000, "max_texts": 8, "max_text_chars": 500,
                   "max_start_chars": 50, "max_length": 300, "max_num_samples": 4, "max_series": 6,
                   "max_series_values": 100, "max_horizon": 8}}
    sentiment, charlm = info["about"]["sentiment"], info["about"]["charlm"]  # each model's facts, for the page
    assert sentiment["task"] == "sentiment" and sentiment["classes"] == [0, 1] and sentiment["vocab_size"] > 2
    assert charlm["task"] == "charlm" and charlm["classes"] is None and charlm["vocab_size"] > 2
    for facts in (sentiment, charlm):
        assert facts["trained"].endswith("+00:00") and facts["validation"]["epochs"] >= 1
    assert sentiment["validation"]["name"] == "accuracy" and 0 <= sentiment["validation"]["value"] <= 1
    assert charlm["validation"]["name"] == "bits_per_char" and charlm["validation"]["value"] > 0
    schema = client.get("/openapi.json").json()
    assert "/v1/info" in schema["paths"] and "Info" in schema["components"]["schemas"]
    assert client.post("/v1/info", json={}).status_code == 405
    with TestClient(create_app(charlm_dir=models[1])) as only_charlm:
        info = only_charlm.get("/v1/info").json()
        assert info["models"] == {"sentiment": False, "charlm": True, "series": False, "forecast": False}
        assert info["about"]["sentiment"] is None and info["about"]["charlm"]["task"] == "charlm"
        assert info["about"]["series"] is None and info["about"]["forecast"] is None
        assert info["limits"]["max_length"] == Limits().max_length


def _records_match(results, clf, X):
    expected = clf.predict_proba(X)
    classes = [c.item() for c in clf.classes_]
    assert [x["label"] for x in results] == [classes[k] for k in expected.argmax(axis=1)]
    assert [x["probability"] for x in results] == pytest.approx(expected.max(axis=1), abs=1e-6)  # the label's
    assert all(list(x["probabilities"]) == [str(c) for c in classes] for x in results)
    np.testing.assert_allclose([list(x["probabilities"].values()) for x in results], expected, atol=1e-6)


def test_classify_matches_the_series_classifier(client, series_model):
    """/v1/classify answers what `predict_proba` gives for the same series, null being NaN (missing)."""
    X, _ = _series(5, seed=1)
    series = X.tolist()
    series[0][1][3] = series[2][0][0] = None
    X[0, 1, 3] = X[2, 0, 0] = np.nan
    series[4] = [channel[:7] for channel in series[4]]  # lengths may differ between series
    r = client.post("/v1/classify", json={"series": series})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    clf = SeriesClassifier.load(series_model)
    assert len(results) == 5
    _records_match(results[:4], clf, X[:4])
    _records_match(results[4:], clf, [X[4, :, :7]])
    assert all(0.0 <= x["probability"] <= 1.0 for x in results)


def test_classify_reads_a_univariate_series_as_a_list_of_numbers(tmp_path):
    """A flat list of numbers is one channel: what a univariate model reads, as [[...]] does."""
    directory = train_tiny_series_model(tmp_path / "univariate", channels=1)
    X, _ = _series(3, channels=1, seed=2)
    with TestClient(create_app(series_dir=directory, limits=LIMITS)) as c:
        flat = c.post("/v1/classify", json={"series": [x[0].tolist() for x in X]})
        nested = c.post("/v1/classify", json={"series": X.tolist()})
        assert flat.status_code == nested.status_code == 200, flat.text
        assert flat.json() == nested.json()
        _records_match(flat.json()["results"], SeriesClassifier.load(directory), X)
        r = c.post("/v1/classify", json={"series": [[1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]]]})
        assert r.status_code == 400 and r.json()["error"] == "series[1] has 2 channels but the model was trained on 1"
        assert c.get("/healthz").json()["models"] == {"sentiment": False, "charlm": False, "series": True,
                                                      "forecast": False}
        assert c.post("/v1/sentiment", json={"texts": ["fine"]}).status_code == 404


def test_info_reports_the_series_model(client, series_model):
    facts = client.get("/v1/info").json()["about"]["series"]
    assert facts["task"] == "series" and facts["classes"] == [0, 1]
    assert facts["channels"] == facts["vocab_size"] == 2
    assert facts["trained"].endswith("+00:00")
    assert facts["validation"] is None or facts["validation"]["name"] == "accuracy"
    assert client.get("/v1/info").json()["about"]["sentiment"].get("channels") is None
    assert "/v1/classify" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("field", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_series_are_422(client, field):
    """null is the missing value; NaN and infinities are refused."""
    r = client.post("/v1/classify", content=f'{{"series": [[[1, {field}], [2, 3]]]}}'.encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "series[0][0][1] is not finite: null marks a missing value" in r.json()["error"]
    r = client.post("/v1/classify", content=b'{"series": [[[1, 1e400], [2, 3]]]}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "series[0][0][1] is not finite" in r.json()["error"]


def _monthly(values, start: str, name: str):
    import pandas as pd

    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"), name=name)


def _steps_match(result: dict, rows) -> None:
    """One series' answer holds `predict`'s rows (its DataFrame for that series) step by step."""
    assert [step["step"] for step in result["forecast"]] == list(range(1, len(rows) + 1))
    for column in ("mean", "median", "lower_80", "upper_80", "lower_95", "upper_95"):
        np.testing.assert_allclose([step[column] for step in result["forecast"]], rows[column], rtol=1e-12, atol=0)


def test_forecast_is_what_predict_gives(client, forecast_model):
    """/v1/forecast answers `Forecaster.predict` for the same histories, starts, order and seed: each
    step's time stamp, mean, median and the bounds of both intervals."""
    from seqrnn.tasks.forecast import Forecaster

    model = Forecaster.load(forecast_model)
    rng = np.random.default_rng(4)
    histories = [((100 + 10 * rng.normal(size=30)).tolist(), "2003-05-01", "north"),
                 (rng.normal(size=7).tolist(), "1999-11-01", "south")]
    body = {"series": [{"values": v, "start": s, "id": i} for v, s, i in histories], "horizon": 3}
    r = client.post("/v1/forecast", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    expected = model.predict([_monthly(v, s, i) for v, s, i in histories], horizon=3)
    assert answer["horizon"] == 3 and [x["id"] for x in answer["results"]] == ["north", "south"]
    for result, (_, _, name) in zip(answer["results"], histories):
        rows = expected.xs(name, level="series")
        assert [step["time"] for step in result["forecast"]] == [t.date().isoformat() for t in rows.index]
        _steps_match(result, rows)
    assert answer["results"][0]["forecast"][0]["time"] == "2005-11-01"  # the month after the 30th value
    steps = answer["results"][0]["forecast"]
    assert all(s["lower_95"] <= s["lower_80"] <= s["median"] <= s["upper_80"] <= s["upper_95"] for s in steps)
    # the model's horizon by default; a seed of the request's choosing, the model's own by default
    first = [_monthly(*histories[0])]
    default = client.post("/v1/forecast", json={"series": body["series"][:1]}).json()
    assert default["horizon"] == 4
    _steps_match(default["results"][0], model.predict(first).xs("north", level="series"))
    seeded = client.post("/v1/forecast", json={"series": body["series"][:1], "seed": 5}).json()
    _steps_match(seeded["results"][0], model.predict(first, seed=5).xs("north", level="series"))
    assert seeded != default
    own = client.post("/v1/forecast", json={"series": body["series"][:1], "seed": model.config_.training.seed})
    assert own.json() == default


def test_info_reports_the_forecaster_and_an_example_to_try(client, forecast_model):
    """The facts the page shows; the example is the end of the first series trained on, so its
    forecast is the one `predict()` gives that series."""
    from seqrnn.tasks.forecast import Forecaster

    model = Forecaster.load(forecast_model)
    facts = client.get("/v1/info").json()["about"]["forecast"]
    assert facts["task"] == "forecast" and facts["classes"] is None and facts["vocab_size"] == 2  # series trained on
    assert (facts["horizon"], facts["freq"], facts["freq_name"], facts["seasonal_period"]) == (4, "MS", "monthly", 12)
    assert facts["context_length"] == model.config_.data.context_length and facts["needs_start"] is True
    assert facts["num_samples"] == model.config_.data.num_samples and facts["trained"].endswith("+00:00")
    assert facts["validation"]["name"] == "mase" and facts["validation"]["value"] > 0
    example = facts["example"]
    assert example["id"] == "s0" and len(example["values"]) == facts["context_length"] + 12 + 1
    assert example["start"] == "2000-12-01"  # the first of the 49 months kept, of 60 from 2000-01
    r = client.post("/v1/forecast", json={"series": [example]})
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["id"] == "s0" and result["forecast"][0]["time"] == "2005-01-01"
    _steps_match(result, model.predict().xs("s0", level="series"))
    assert "/v1/forecast" in client.get("/openapi.json").json()["paths"]


def test_forecast_on_integer_steps_takes_plain_lists(tmp_path):
    """A model of integer steps: a series may be a plain list of values, start is the step number of
    its first value (0 by default), and the steps forecast carry their numbers."""
    from seqrnn.tasks.forecast import Forecaster

    directory = train_tiny_forecaster(tmp_path / "steps", integer_steps=True)
    model = Forecaster.load(directory)
    series = [[1.0, 2.0, 3.0, 4.0], {"values": [5.0, 6.0], "start": 10}, {"values": [7.0], "start": " 3"}]
    with TestClient(create_app(forecast_dir=directory, limits=LIMITS)) as c:
        facts = c.get("/v1/info").json()["about"]["forecast"]
        assert facts["freq"] == "" and facts["needs_start"] is False and facts["seasonal_period"] == 1
        assert isinstance(facts["example"]["start"], int)
        r = c.post("/v1/forecast", json={"series": series})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["id"] for x in results] == ["0", "1", "2"]
        assert [[s["time"] for s in x["forecast"]] for x in results] == [[4, 5, 6, 7], [12, 13, 14, 15],
                                                                          [4, 5, 6, 7]]
        expected = model.predict([np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 6.0]), np.array([7.0])])
        for result, name in zip(results, "012"):
            _steps_match(result, expected.xs(name, level="series"))
        r = c.post("/v1/forecast", json={"series": [{"values": [1.0], "start": "2001-01-01"}]})
        assert r.status_code == 422 and r.json()["error"].startswith("series[0].start '2001-01-01' is not a whole number")


def test_a_forecaster_without_the_calendar_needs_no_start(tmp_path):
    """A dated model that does not read the calendar forecasts a series without a start; its steps then
    have no time stamps (null), and the numbers are those of the same values at any start."""
    from test_forecast import TINY, seasonal

    from seqrnn.tasks.forecast import Forecaster

    model = Forecaster(horizon=2, seed=1, calendar=False, **{**TINY, "epochs": 1}).fit([seasonal(40)],
                                                                                      out_dir=tmp_path / "m")
    with TestClient(create_app(forecast_dir=tmp_path / "m", limits=LIMITS)) as c:
        assert c.get("/v1/info").json()["about"]["forecast"]["needs_start"] is False
        bare = c.post("/v1/forecast", json={"series": [[3.0, 4.0, 5.0]]})
        dated = c.post("/v1/forecast", json={"series": [{"values": [3.0, 4.0, 5.0], "start": "1990-07-01"}]})
    assert bare.status_code == dated.status_code == 200, bare.text
    assert [s["time"] for s in bare.json()["results"][0]["forecast"]] == [None, None]
    assert [s["time"] for s in dated.json()["results"][0]["forecast"]] == ["1990-10-01", "1990-11-01"]
    expected = model.predict([_monthly([3.0, 4.0, 5.0], "1990-07-01", "0")])
    for answer in (bare, dated):
        _steps_match(answer.json()["results"][0], expected.xs("0", level="series"))


def test_each_thread_has_its_own_copy_of_the_forecaster(forecast_model):
    app = create_app(forecast_dir=forecast_model, limits=Limits(max_concurrency=3, max_queue=8))
    copies = [kit["forecast"] for kit in app.state.workers.kits]
    assert len(copies) == 3 and copies[0] is app.state.forecast
    weights = [{p.data_ptr() for p in model.model_.parameters()} for model in copies]
    assert all(weights[i].isdisjoint(weights[j]) for i in range(3) for j in range(i))  # nothing shared
    bodies = [{"series": [{"values": list(np.arange(1.0, 12.0 + k)), "start": "2001-01-01"}], "horizon": 2}
              for k in range(9)]
    with TestClient(app) as c, concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda body: c.post("/v1/forecast", json=body), bodies))
        alone = [c.post("/v1/forecast", json=body) for body in bodies]
    assert [r.status_code for r in answers] == [200] * 9
    assert [r.json() for r in answers] == [r.json() for r in alone]


def test_serve_passes_forecast_to_the_app(monkeypatch, forecast_model):
    """`seqrnn serve --forecast DIR` loads the forecaster (the app is built, then the test stops)."""
    from seqrnn.cli.main import build_parser
    from seqrnn.serve import server

    built = {}

    def stop(threads, *args, **kwargs):
        built["app"] = create_app(*args, **kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(server, "_worker_app", stop)
    args = build_parser().parse_args(["serve", "--forecast", str(forecast_model), "--port", "0"])
    with pytest.raises(SystemExit):
        server.serve_command(args)
    state = built["app"].state
    assert state.forecast is not None and state.forecast.task == "forecast" and state.series is None


def test_serve_passes_series_to_the_app(monkeypatch, series_model):
    """`seqrnn serve --series DIR` loads the series classifier (the app is built, then the test stops)."""
    from seqrnn.cli.main import build_parser
    from seqrnn.serve import server

    built = {}

    def stop(threads, *args, **kwargs):
        built["app"] = create_app(*args, **kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(server, "_worker_app", stop)
    args = build_parser().parse_args(["serve", "--series", str(series_model), "--port", "0"])
    assert args.series == str(series_model) and args.sentiment is None
    with pytest.raises(SystemExit):
        server.serve_command(args)
    state = built["app"].state
    assert state.series is not None and state.sentiment is None and state.charlm is None


def test_each_thread_has_its_own_copy_of_the_series_classifier(series_model):
    app = create_app(series_dir=series_model, limits=Limits(max_concurrency=3, max_queue=8))
    copies = [kit["series"] for kit in app.state.workers.kits]
    assert len(copies) == 3 and copies[0] is app.state.series
    weights = [{p.data_ptr() for p in clf.model_.parameters()} for clf in copies]
    assert all(weights[i].isdisjoint(weights[j]) for i in range(3) for j in range(i))  # nothing shared
    X, _ = _series(12, seed=3)
    with TestClient(app) as c, concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda x: c.post("/v1/classify", json={"series": [x.tolist()]}), X))
        alone = c.post("/v1/classify", json={"series": X.tolist()})
    assert [r.status_code for r in answers] == [200] * 12
    assert [r.json()["results"][0] for r in answers] == alone.json()["results"]


def test_the_page_is_the_packaged_file_and_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    packaged = importlib.resources.files("seqrnn.serve").joinpath("static").joinpath("index.html")
    assert page == packaged.read_text(encoding="utf-8")
    controls = ('<textarea id="reviews"', 'id="classify"', 'id="start"', 'id="length"', 'id="temperature"',
                'id="seed"', 'id="sample"', '"v1/info"', '"v1/sentiment"', '"v1/generate"')
    for needle in controls:
        assert needle in page
    assert "http://" not in page and "https://" not in page and "src=" not in page and "<link" not in page
    assert "@" not in page.replace("@media", "")  # no placeholders: the page reads v1/info


def test_the_page_is_package_data():
    """pyproject ships static/*.html with the package (wheel and editable installs alike)."""
    tomllib = pytest.importorskip("tomllib")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["seqrnn.serve"]
    assert os.path.isfile(os.path.join(root, "src", "seqrnn", "serve", "static", "index.html"))
    assert any(fnmatch.fnmatch("static/index.html", pattern) for pattern in patterns)


def test_a_full_queue_is_503(models):
    """One model call at a time and none waiting: a second request while the first runs is refused."""
    app = create_app(sentiment_dir=models[0], limits=Limits(max_concurrency=1, max_queue=0))
    real, entered, release = app.state.sentiment.predict_proba, threading.Event(), threading.Event()

    def slow(texts):
        entered.set()
        release.wait(10)
        return real(texts)

    app.state.sentiment.predict_proba = slow
    with TestClient(app) as c:
        first = {}
        worker = threading.Thread(target=lambda: first.update(r=c.post("/v1/sentiment", json={"texts": ["a"]})))
        worker.start()
        try:
            assert entered.wait(10)
            busy = c.post("/v1/sentiment", json={"texts": ["b"]})
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert c.get("/healthz").status_code == 200  # the event loop is not blocked by the model call
        finally:
            release.set()
            worker.join(10)
        assert first["r"].status_code == 200


def test_each_copy_of_the_classifier_runs_in_one_thread(models):
    """PyTorch's recurrent modules rewrite their state on every call: each of the `max_concurrency`
    model threads has its own copy of the classifier, called by that thread only, one call at a time;
    every request succeeds, with the answer it gets alone."""
    app = create_app(sentiment_dir=models[0], limits=Limits(max_concurrency=3, max_queue=64))
    copies = [kit["sentiment"] for kit in app.state.workers.kits]
    assert len(copies) == 3 and copies[0] is app.state.sentiment
    weights = [{p.data_ptr() for p in clf.model_.parameters()} for clf in copies]
    assert all(weights[i].isdisjoint(weights[j]) for i in range(3) for j in range(i))  # nothing shared
    guard, inside, most, threads = threading.Lock(), collections.Counter(), collections.Counter(), {}

    def watched(k, real):
        def predict_proba(texts):
            with guard:
                inside[k] += 1
                most[k] = max(most[k], inside[k])
                threads.setdefault(k, set()).add(threading.get_ident())
            try:
                time.sleep(0.02)  # long enough for the others to try
                return real(texts)
            finally:
                with guard:
                    inside[k] -= 1
        return predict_proba

    for k, clf in enumerate(copies):
        clf.predict_proba = watched(k, clf.predict_proba)
    texts = [[f"a great movie {i}"] for i in range(16)]
    with TestClient(app) as c, concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: c.post("/v1/sentiment", json={"texts": t}), texts))
        alone = [c.post("/v1/sentiment", json={"texts": t}) for t in texts]
    assert [r.status_code for r in answers] == [200] * 16
    assert [r.json() for r in answers] == [r.json() for r in alone]
    assert set(most.values()) == {1}  # never two calls of one copy at once
    assert all(len(ids) == 1 for ids in threads.values())  # each copy, one thread
    assert len(set().union(*threads.values())) == len(threads)  # each thread, one copy


def test_generation_and_classification_run_side_by_side(models):
    """While a classification runs, generation (streamed or not) and another classification run on
    the other thread, the latter on its own copy of the classifier."""
    app = create_app(*models, limits=Limits(max_concurrency=2, max_queue=4))
    entered, release = threading.Semaphore(0), threading.Event()
    copies = [kit["sentiment"] for kit in app.state.workers.kits]
    for clf in copies:
        def slow(texts, real=clf.predict_proba):
            entered.release()
            release.wait(20)
            return real(texts)
        clf.predict_proba = slow
    lm = CharLanguageModel.load(models[1])
    with TestClient(app) as c, concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(c.post, "/v1/sentiment", json={"texts": ["good"]})
        try:
            assert entered.acquire(timeout=10)  # one thread holds a classification
            r = c.post("/v1/generate", json={"length": 40, "seed": 3})
            assert r.status_code == 200 and r.json()["texts"] == [lm.sample(40, "The ", seed=3)]
            r = c.post("/v1/generate", json={"length": 40, "seed": 3, "stream": True})
            assert r.status_code == 200 and r.text == lm.sample(40, "The ", seed=3)
            second = pool.submit(c.post, "/v1/sentiment", json={"texts": ["bad"]})
            assert entered.acquire(timeout=10)  # both classifications at once, on two copies
            assert not first.done() and not second.done()
        finally:
            release.set()
        assert [f.result(20).status_code for f in (first, second)] == [200, 200]


def test_generations_share_one_read_only_stepper_in_many_threads(models):
    """The server builds the NumPy sampler's step once per model; generations in many threads at once
    on it give the texts `sample` gives, and it cannot be written to."""
    lm = CharLanguageModel.load(models[1])
    stepper = frozen_stepper(lm)
    assert all(not a.flags.writeable for a in [*stepper.w_ih, *stepper.w_hh, stepper.w_out, stepper.b_out])
    with pytest.raises(ValueError, match="read-only"):
        stepper.w_out[0, 0] = 1.0
    _, GenerateRequest, *_ = _request_models(LIMITS)
    asks = [GenerateRequest(start="To be", length=80, seed=seed, temperature=0.8, num_samples=1 + seed % 3)
            for seed in range(16)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(lambda ask: sample((lm, stepper), ask), asks))
    for ask, got in zip(asks, texts):
        expected = lm.sample(80, "To be", temperature=0.8, seed=ask.seed, num_samples=ask.num_samples)
        assert got == ([expected] if isinstance(expected, str) else expected)


def test_create_app_needs_a_model_and_valid_limits(tmp_path):
    with pytest.raises(SeqrnnError, match="nothing to serve"):
        create_app()
    with pytest.raises(SeqrnnError):
        create_app(charlm_dir=tmp_path / "missing")
    with pytest.raises(SeqrnnError, match="max_length"):
        Limits(max_length=0)


@pytest.mark.slow
def test_serve_without_a_model_exits_2_with_one_line():
    r = subprocess.run([sys.executable, "-m", "seqrnn", "serve"], check=False, capture_output=True, text=True,
                       env=os.environ.copy(), timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("seqrnn: error:") and r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == ""


# --- a real server process against slow clients: raw sockets on 127.0.0.1, few and short ----------------------

HEADER_S, BODY_S, KEEP_ALIVE_S = 1.0, 1.5, 1.0  # small bounds, so that these tests take seconds
LIMIT_CONCURRENCY, MAX_CONNECTIONS = 30, 40
SLOW_FLAGS = ("--timeout-headers", str(HEADER_S), "--timeout-body", str(BODY_S), "--timeout-keep-alive",
              str(KEEP_ALIVE_S), "--limit-concurrency", str(LIMIT_CONCURRENCY), "--max-connections",
              str(MAX_CONNECTIONS))
GIVE_UP_S = 10.0  # no client below waits longer than this for the server to close its connection


@pytest.fixture(scope="module")
def slow_server(models):
    with running_server(models, *SLOW_FLAGS) as (port, process):
        yield port, process


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _until_closed(sock: socket.socket, drip: bytes = b"", every: float = 0.25) -> tuple[float | None, bytes]:
    """Send `drip` every `every` seconds (if any) and read, until the server closes the connection:
    (seconds until then, or None if it was still open after GIVE_UP_S; what the server sent)."""
    began, received = time.monotonic(), b""
    sock.settimeout(every)
    while time.monotonic() - began < GIVE_UP_S:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if drip:
                try:
                    sock.sendall(drip)
                except OSError:  # reset or broken pipe: closed by the server
                    return time.monotonic() - began, received
            continue
        except OSError:
            return time.monotonic() - began, received
        if not data:
            return time.monotonic() - began, received
        received += data
    return None, received


def _get(port: int, path: str = "/healthz") -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status


@pytest.mark.slow
def test_slow_headers_are_closed_after_the_header_timeout(slow_server):
    """Connections that send nothing, half a request, or a header line every 0.25 s (that never ends):
    all are closed about HEADER_S after they opened; those that sent something get a 408 first."""
    port, _ = slow_server

    def client(kind: str):
        with _connect(port) as sock:
            if kind == "silent":
                return kind, *_until_closed(sock)
            sock.sendall(b"POST /v1/sentiment HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            return kind, *_until_closed(sock, drip=b"X-Slow: 1\r\n" if kind == "drip" else b"")

    kinds = ["silent", "partial", "drip"] * 6  # 18 connections at once
    with concurrent.futures.ThreadPoolExecutor(len(kinds)) as pool:
        results = list(pool.map(client, kinds))
    for kind, seconds, received in results:
        assert seconds is not None, f"a {kind} connection was still open after {GIVE_UP_S} s"
        assert HEADER_S - 0.1 <= seconds <= HEADER_S + 3, (kind, seconds)
        if kind == "silent":
            assert received == b""
        else:
            assert received.startswith(b"HTTP/1.1 408 "), received[:200]
            assert b"connection: close" in received.lower()
            assert b"did not arrive within 1 s" in received
    assert _get(port) == 200  # and the server still answers


@pytest.mark.slow
def test_a_slow_body_gets_408_after_the_body_timeout(slow_server):
    """Headers at once, then a body of 1000 bytes at a byte every 0.25 s: 408 and closed about BODY_S
    after the headers, whatever the route."""
    port, _ = slow_server

    def client(path: str):
        with _connect(port) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: 1000\r\n\r\n{\"texts\": [\"".encode())
            return _until_closed(sock, drip=b"a")

    paths = ["/v1/sentiment", "/v1/generate", "/no/such/route"] * 4  # 12 connections at once
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        results = list(pool.map(client, paths))
    for path, (seconds, received) in zip(paths, results):
        assert seconds is not None, f"a slow body to {path} was still open after {GIVE_UP_S} s"
        assert BODY_S - 0.1 <= seconds <= BODY_S + 3, (path, seconds)
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower(), received[:300]
        assert json.loads(body)["error"] == "the request body did not arrive within 1.5 s"
    assert _get(port) == 200


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response with a Content-Length: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


@pytest.mark.slow
def test_idle_keep_alive_connections_are_closed(slow_server):
    port, _ = slow_server
    with _connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, body = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 ") and json.loads(body)["status"] == "ok"
        seconds, received = _until_closed(sock)
    assert seconds is not None and KEEP_ALIVE_S - 0.1 <= seconds <= KEEP_ALIVE_S + 3 and received == b""


def _is_open(sock: socket.socket) -> bool:
    """True while the server has neither closed the connection nor answered on it."""
    sock.settimeout(0.01)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return False
    except socket.timeout:
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_idle_connections_do_not_count_and_give_way_at_the_cap(models):
    """Open connections that sent nothing never refuse a request: with more of them than
    --limit-concurrency, a request is answered; at --max-connections a new connection takes the place
    of the one idle the longest. Only when every connection is busy (here: half a request each) is a
    new one sent a 503 and closed before it sends anything. (Headers may take 30 s here, so that no
    connection is closed by its timer while the test runs on busy cores.)"""
    flags = ("--timeout-headers", "30", "--timeout-keep-alive", "30", "--limit-concurrency", str(LIMIT_CONCURRENCY),
             "--max-connections", str(MAX_CONNECTIONS))
    with running_server(models, *flags) as (port, _):
        idle = [_connect(port) for _ in range(LIMIT_CONCURRENCY + 5)]
        try:
            assert _get(port) == 200  # more idle connections than --limit-concurrency: not counted
            idle += [_connect(port) for _ in range(MAX_CONNECTIONS - len(idle))]
            time.sleep(0.2)
            assert all(_is_open(sock) for sock in idle)
            assert _get(port) == 200  # one more: the oldest idle one makes room
            time.sleep(0.2)
            assert not _is_open(idle[0]) and all(_is_open(sock) for sock in idle[2:])
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.5)
        busy = [_connect(port) for _ in range(MAX_CONNECTIONS)]
        try:
            for sock in busy:  # half a request each: none is idle
                sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.2)
            with _connect(port) as sock:
                seconds, received = _until_closed(sock)
            assert seconds is not None and seconds < 5, seconds
            head, _, body = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 ") and "too many open connections" in json.loads(body)["error"]
            assert all(_is_open(sock) for sock in busy)  # the busy ones are kept
        finally:
            for sock in busy:
                sock.close()
        time.sleep(0.5)
        assert _get(port) == 200


def test_requests_being_answered_are_bounded_not_connections(models):
    """--limit-concurrency counts requests whose body has arrived: one more is a JSON 503 with
    Retry-After, and the connection stays usable."""
    app = create_app(sentiment_dir=models[0], limits=Limits(max_concurrency=1, max_queue=8),
                     connection_limits=ConnectionLimits(limit_concurrency=1))
    real, entered, release = app.state.sentiment.predict_proba, threading.Event(), threading.Event()

    def slow(texts):
        entered.set()
        release.wait(10)
        return real(texts)

    app.state.sentiment.predict_proba = slow
    with TestClient(app) as c:
        first = {}
        worker = threading.Thread(target=lambda: first.update(r=c.post("/v1/sentiment", json={"texts": ["a"]})))
        worker.start()
        try:
            assert entered.wait(10)
            busy = c.get("/healthz")
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert "answering 1 requests" in busy.json()["error"] and "connection" not in busy.headers
        finally:
            release.set()
            worker.join(10)
        assert first["r"].status_code == 200
        assert c.get("/healthz").status_code == 200


def test_the_connection_budget_follows_the_open_file_limit():
    resource = pytest.importorskip("resource")
    from seqrnn.serve.limits import FD_RESERVE, MAX_OPEN_FILES, connection_budget

    budget = connection_budget()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == min(hard, MAX_OPEN_FILES) or soft >= MAX_OPEN_FILES  # raised as far as allowed and useful
    assert budget == min(soft, MAX_OPEN_FILES) - FD_RESERVE - min(soft, MAX_OPEN_FILES) // 10 >= 16
    assert ConnectionLimits().max_connections is None  # the default: that budget


@pytest.mark.slow
def test_a_client_that_reads_nothing_is_cut_off(slow_server):
    """1000 pipelined requests for the page (5 MB of responses, more than the kernel buffers on both
    sides hold) on a socket with a tiny receive buffer that is never read: once the server's buffers are
    full it waits BODY_S, then drops the connection."""
    port, _ = slow_server
    count = 1000
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * count)
        time.sleep(BODY_S + 5)  # more than enough to fill the buffers and to time out
        _, received = _until_closed(sock)
    finally:
        sock.close()
    assert received.count(b"HTTP/1.1 200 ") < count  # cut off, not served to the end
    assert _get(port) == 200


@pytest.mark.slow
def test_connection_limits_are_checked(tmp_path):
    assert ConnectionLimits().header_timeout == 10 and ConnectionLimits().body_timeout == 30
    for field, value in [("header_timeout", 0), ("body_timeout", -1.0), ("keep_alive_timeout", math.inf),
                         ("limit_concurrency", 0), ("max_connections", 2.5), ("max_connections", 0)]:
        with pytest.raises(SeqrnnError, match=ConnectionLimits.FLAGS[field]):
            ConnectionLimits(**{field: value})
    r = subprocess.run([sys.executable, "-m", "seqrnn", "serve", "--charlm", str(tmp_path), "--timeout-body", "0"],
                       check=False, capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("seqrnn: error: --timeout-body") and r.stderr.count("\n") == 1


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts worker processes in /proc (Linux)")
def test_workers_share_the_port_with_the_same_limits(models):
    """--workers 2: two uvicorn processes, each with the models and the slow-client guard."""
    with running_server(models, "--workers", "2", "--timeout-headers", "1") as (port, process):
        assert len([p for p in _children(process.pid)
                    if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]) == 2
        for _ in range(6):  # new connections, spread by the kernel over the workers
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/sentiment", method="POST",
                                             data=b'{"texts": ["a great movie"]}',
                                             headers={"Content-Type": "application/json", "Connection": "close"})
            with urllib.request.urlopen(request, timeout=30) as r:
                assert r.status == 200 and len(json.loads(r.read())["results"]) == 1
        socks = [_connect(port) for _ in range(4)]
        try:
            for sock in socks:
                seconds, _ = _until_closed(sock)
                assert seconds is not None and seconds <= 1 + 3
        finally:
            for sock in socks:
                sock.close()
    assert process.returncode == 0
