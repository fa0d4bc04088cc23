"""ONNX export: the graphs run in onnxruntime and give what seqrnn gives, and the refusals."""

from __future__ import annotations

import json
import string

import numpy as np
import onnx  # the test extra installs the export extra's packages
import onnxruntime as ort
import pytest
import torch
from conftest import write_model_dir

from seqrnn.errors import SeqrnnError
from seqrnn.serve.export import export_charlm_step, export_classifier, export_model
from seqrnn.tasks.charlm import CharLanguageModel
from seqrnn.tasks.classifier import SentimentClassifier, length_sorted_batches
from seqrnn.tasks.classifier import probabilities as probabilities_of
from seqrnn.text.vocabulary import encode_texts

CUES = {"pos": ["great", "wonderful", "loved"], "neg": ["awful", "boring", "hated"], "mid": ["okay", "fine", "average"]}
FILLER = ["the", "movie", "film", "plot", "actor", "was", "and", "a", "it", "story", "of", "scene", ".", ","]
TINY = dict(embed_size=8, hidden_size=8, seq_len=30, batch_size=16, epochs=1, lr=1e-2, threads=1,
            embed_init="random", quiet=True)


def make_texts(n: int, classes: list[str], seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts of 3 to 50 words (some longer than seq_len) with cue words of their class."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(classes, n)
    texts = []
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(1, 48))) + list(rng.choice(CUES[label], 2))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
    return texts, labels


def session(path) -> "ort.InferenceSession":
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def metadata(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module", params=["book", "default", "default-3-classes"])
def classifier(request, tmp_path_factory):
    """A tiny trained classifier of each kind, its model directory and its exported graph."""
    preset = request.param.split("-")[0]
    classes = ["neg", "pos", "mid"] if request.param.endswith("classes") else ["neg", "pos"]
    texts, labels = make_texts(200, classes)
    out = tmp_path_factory.mktemp("classifier") / "model"
    clf = SentimentClassifier(preset, **TINY).fit(texts, labels, out_dir=out)
    return clf, out, export_classifier(clf, out / "model.onnx")


def test_the_graph_gives_predict_proba(classifier):
    clf, _, path = classifier
    texts, _ = make_texts(45, ["neg", "pos"], seed=3)
    expected = clf.predict_proba(texts)
    data = clf.config_.data
    ids, lengths = encode_texts(texts, clf.vocab_, data.seq_len, pad=data.pad)
    sess = session(path)
    # the whole matrix in one call, seq_len wide
    got = sess.run(None, {"ids": ids, "lengths": lengths})[0]
    assert got.shape == (45, len(clf.classes_)) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    if data.pad == "right":  # batches of similar length, each as wide as its longest text (seqrnn's way)
        got = np.empty_like(got)
        for index in length_sorted_batches(lengths, 8):
            width = lengths[index].max()
            got[index] = sess.run(None, {"ids": ids[index, :width], "lengths": lengths[index]})[0]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    one = sess.run(None, {"ids": ids[:1], "lengths": lengths[:1]})[0]  # a batch of one
    np.testing.assert_allclose(one, expected[:1], atol=1e-5, rtol=0)
    # the default's graph holds its n-gram model: the network alone gives other probabilities
    assert (clf.ngrams_ is not None) == (clf.config_.model.ngram != "none") == ("ngram" in metadata(path))
    if clf.ngrams_ is not None and 0 < clf.ngram_["weight"]:
        alone = probabilities_of(clf._logits(texts, part="network"))
        assert np.abs(alone - got).max() > 1e-4


def test_the_metadata_is_enough_to_prepare_the_ids(classifier):
    """The module docstring's recipe, from the metadata alone, gives the graph what seqrnn gives."""
    clf, _, path = classifier
    meta = metadata(path)
    assert json.loads(meta["classes"]) == clf.classes_.tolist()
    assert meta["pad"] == clf.config_.data.pad and int(meta["seq_len"]) == clf.config_.data.seq_len
    assert meta["seqrnn.task"] == "sentiment" and meta["truncate"] == "left"
    words = {w: i for i, w in enumerate(json.loads(meta["words"]), 2)}
    seq_len, unk = int(meta["seq_len"]), int(meta["unk_id"])
    texts, _ = make_texts(12, ["neg", "pos"], seed=8)
    texts[0] = "Great, isn't it? An ÉPIC (unknown-word) film..."
    rows, lengths = [], []
    for text in texts:
        for c in string.punctuation:
            text = text.replace(c, f" {c} ")
        kept = [words.get(token, unk) for token in text.lower().split()][-seq_len:]
        padding = [int(meta["pad_id"])] * (seq_len - len(kept))
        rows.append(padding + kept if meta["pad"] == "left" else kept + padding)
        lengths.append(len(kept))
    got = session(path).run(None, {"ids": np.array(rows, dtype=np.int64), "lengths": np.array(lengths)})[0]
    np.testing.assert_allclose(got, clf.predict_proba(texts), atol=1e-5, rtol=0)


def test_export_model_reads_the_directory(classifier, tmp_path):
    clf, out, _ = classifier
    result = export_model(out, "onnx", tmp_path / "m.onnx")
    assert result["task"] == "sentiment" and result["inputs"] == ["ids", "lengths"]
    assert result["outputs"] == ["probabilities"] and result["bytes"] == (tmp_path / "m.onnx").stat().st_size
    texts, _ = make_texts(5, ["neg", "pos"], seed=1)
    data = clf.config_.data
    ids, lengths = encode_texts(texts, clf.vocab_, data.seq_len, pad=data.pad)
    got = session(tmp_path / "m.onnx").run(None, {"ids": ids, "lengths": lengths})[0]
    np.testing.assert_allclose(got, clf.predict_proba(texts), atol=1e-5, rtol=0)


TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n") * 6
CHAR_TINY = dict(hidden_size=16, batch_size=4, num_steps=20, epochs=1, dropout=0.0, threads=1, quiet=True)


@pytest.fixture(scope="module", params=["book-lstm", "embedding-gru-2-layers"])
def charlm(request, tmp_path_factory):
    if request.param == "book-lstm":  # one-hot input, an LSTM (states h and c)
        settings = dict(preset="book")
    else:
        settings = dict(preset="default", embed_size=8, cell="gru", num_layers=2)
    out = tmp_path_factory.mktemp("charlm") / "model"
    lm = CharLanguageModel(**settings, **CHAR_TINY).fit(TEXT, out_dir=out)
    return lm, out, export_charlm_step(lm, out / "step.onnx")


def test_the_step_graph_follows_the_model_step_by_step(charlm):
    lm, _, path = charlm
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    lstm = lm.config_.model.cell == "lstm"
    assert names == (["ids", "h", "c"] if lstm else ["ids", "h"])
    starts = ["The sl", "Whethe"]  # two sequences side by side: a batch of 2
    ids = np.stack([lm.vocab_.encode(s) for s in starts]).astype(np.int64)
    with torch.no_grad():
        expected, final = lm.model_(torch.as_tensor(ids))  # logits (2, steps, vocab)
    layers, hidden = lm.config_.model.num_layers, lm.config_.model.hidden_size
    state = {name: np.zeros((layers, 2, hidden), dtype=np.float32) for name in names[1:]}
    for step in range(ids.shape[1]):
        logits, *new = sess.run(None, {"ids": ids[:, step : step + 1], **state})
        assert logits.shape == (2, len(lm.vocab_))
        np.testing.assert_allclose(logits, expected[:, step].numpy(), atol=1e-5, rtol=0)
        state = dict(zip(names[1:], new))
    final = final if isinstance(final, tuple) else (final,)
    for name, value in zip(names[1:], final):
        np.testing.assert_allclose(state[name], value.numpy(), atol=1e-5, rtol=0)
    # the whole start text in one call gives the last step's logits and the same state
    zeros = {name: np.zeros((layers, 2, hidden), dtype=np.float32) for name in names[1:]}
    logits, *new = sess.run(None, {"ids": ids, **zeros})
    np.testing.assert_allclose(logits, expected[:, -1].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(new[0], state["h"], atol=1e-5, rtol=0)


def test_the_step_graph_carries_the_characters(charlm, tmp_path):
    lm, out, path = charlm
    meta = metadata(path)
    assert json.loads(meta["chars"]) == lm.vocab_.chars and meta["seqrnn.task"] == "charlm"
    assert meta["cell"] == lm.config_.model.cell and int(meta["num_layers"]) == lm.config_.model.num_layers
    result = export_model(out, "onnx", tmp_path / "lm.onnx")
    assert result["task"] == "charlm" and result["inputs"][0] == "ids" and result["outputs"][0] == "logits"


# --- refusals -----------------------------------------------------------------------------------------


def test_an_existing_output_is_kept_unless_forced(classifier, tmp_path):
    _, out, _ = classifier
    target = tmp_path / "model.onnx"
    target.write_bytes(b"mine")
    with pytest.raises(SeqrnnError, match="already exists; use `force`"):
        export_model(out, "onnx", target)
    assert target.read_bytes() == b"mine"
    export_model(out, "onnx", target, force=True)
    assert onnx.load(str(target)).graph.output[0].name == "probabilities"
    with pytest.raises(SeqrnnError, match="is a directory"):
        export_model(out, "onnx", tmp_path, force=True)


def test_other_formats_models_and_missing_packages_are_refused(tmp_path, monkeypatch):
    with pytest.raises(SeqrnnError, match="unknown export format 'torchscript': the format is onnx"):
        export_model(tmp_path, "torchscript", tmp_path / "m.pt")
    with pytest.raises(SeqrnnError, match="no such model directory"):
        export_model(tmp_path / "missing", "onnx", tmp_path / "m.onnx")
    write_model_dir(tmp_path / "lm", "lm")
    with pytest.raises(SeqrnnError, match="holds a lm model; export takes sentiment, charlm, series and forecast models"):
        export_model(tmp_path / "lm", "onnx", tmp_path / "m.onnx")
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)  # as if it were not installed
    with pytest.raises(SeqrnnError, match=r"needs the onnx package: pip install 'seqrnn\[export\]'"):
        export_model(tmp_path / "lm", "onnx", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_an_untrained_estimator_is_refused(tmp_path):
    with pytest.raises(TypeError, match="takes a trained TextClassifier"):
        export_classifier(SentimentClassifier(), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="takes a trained CharLanguageModel"):
        export_charlm_step(CharLanguageModel(), tmp_path / "m.onnx")


def test_the_command_prints_one_line(charlm, tmp_path, seqrnn_cli):
    _, out, _ = charlm
    result = seqrnn_cli("export", "--model", out, "--format", "onnx", "--out", tmp_path / "lm.onnx")
    line = result.stdout.strip()
    assert result.returncode == 0 and line.startswith(f"exported the charlm model to {tmp_path / 'lm.onnx'} (onnx, ")
    assert "\n" not in line and "inputs ids, h" in line and "outputs logits, h_out" in line
    again = seqrnn_cli("export", "--model", out, "--out", tmp_path / "lm.onnx")
    assert again.returncode == 2 and again.stderr.strip().endswith("already exists; use --force to replace it")


# --- series classifiers -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["channel", "series"])
def series_classifier(request, tmp_path_factory):
    """A tiny trained series classifier (two channels, unequal lengths, a missing value), exported."""
    from seqrnn.tasks.series import SeriesClassifier

    rng = np.random.default_rng(0)
    labels = rng.choice(["down", "up", "flat"], 36)
    X = []
    for label in labels:
        steps = int(rng.integers(8, 20))
        slope = {"down": -1.0, "up": 1.0, "flat": 0.0}[label]
        series = np.stack([slope * np.linspace(0, 1, steps), rng.normal(size=steps)]) + rng.normal(0, 0.1, (2, steps))
        X.append(series.astype(np.float32))
    X[0][1, 2] = np.nan
    out = tmp_path_factory.mktemp("series") / "model"
    clf = SeriesClassifier(epochs=3, hidden_size=8, projection_size=4, bidirectional=True, pooling="maxmean",
                           normalise=request.param, threads=1, quiet=True).fit(X, labels, out_dir=out)
    return clf, X, export_model(out, "onnx", out / "model.onnx")


def test_the_series_graph_gives_predict_proba(series_classifier):
    clf, X, exported = series_classifier
    path = exported["out"] if isinstance(exported, dict) else exported
    values = clf.vocab_.transform(X)  # what the metadata describes: each series (steps, channels)
    lengths = np.array([len(v) for v in values])
    batch = np.zeros((len(values), lengths.max(), values[0].shape[1]), dtype=np.float32)
    for i, v in enumerate(values):
        batch[i, :len(v)] = v
    (probabilities,) = session(path).run(None, {"values": batch, "lengths": lengths.astype(np.int64)})
    np.testing.assert_allclose(probabilities, clf.predict_proba(X), atol=1e-5)
    meta = metadata(path)
    assert json.loads(meta["classes"]) == list(clf.classes_) and meta["normalise"] == clf.vocab_.normalise
    assert np.allclose(json.loads(meta["mean"]), clf.vocab_.mean) and int(meta["channels"]) == 2


# --- forecasters --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["lstm-student_t", "gru-gaussian-2-layers"])
def forecaster(request, tmp_path_factory):
    """A tiny trained forecaster (monthly, a season of 12), its directory and its exported step graph."""
    from test_forecast import TINY, seasonal

    from seqrnn.tasks.forecast import Forecaster

    settings = {"cell": "gru", "distribution": "gaussian", "num_layers": 2} if "gru" in request.param else {}
    y = [seasonal(60, seed=k, level=10.0**k) for k in range(2)]
    out = tmp_path_factory.mktemp("forecast") / "model"
    model = Forecaster(horizon=4, seed=3, **{**TINY, "epochs": 2, **settings}).fit(y, out_dir=out)
    return model, out, export_model(out, "onnx", out / "step.onnx")


class OnnxStep:
    """The exported step in the place of the network in `forecast_paths`: the same calls (a step, the
    distribution of its outputs), answered by onnxruntime."""

    training = False

    def __init__(self, path):
        self.session, meta = session(path), metadata(path)
        self.distribution, self.state = meta["distribution"], json.loads(meta["state"])
        self.layers, self.hidden = int(meta["num_layers"]), int(meta["hidden_size"])

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def __call__(self, features: torch.Tensor, state=None):
        if state is None:
            state = tuple(torch.zeros(self.layers, features.shape[0], self.hidden) for _ in self.state)
        state = state if isinstance(state, tuple) else (state,)
        outputs = self.session.run(None, {"features": features.numpy().astype(np.float32),
                                          **{name: s.numpy() for name, s in zip(self.state, state)}})
        params, new = outputs[:-len(self.state)], tuple(torch.from_numpy(s) for s in outputs[-len(self.state):])
        return torch.from_numpy(np.stack(params, axis=-1))[:, None, :], new if len(new) > 1 else new[0]

    def predictive(self, params: torch.Tensor):
        if self.distribution == "gaussian":
            return torch.distributions.Normal(params[..., 0], params[..., 1])
        return torch.distributions.StudentT(params[..., 2], params[..., 0], params[..., 1])


def test_the_forecast_step_gives_the_networks_distribution_and_state(forecaster):
    """On random features and states: the graph's parameters and state are the network's (1e-5), for a
    step and for several steps in one call."""
    model, _, exported = forecaster
    net, sess = model.model_.eval(), session(exported["out"])
    lstm = model.config_.model.cell == "lstm"
    names = ["h", "c"] if lstm else ["h"]
    params = ["loc", "scale", "df"] if net.distribution == "student_t" else ["loc", "scale"]
    assert exported["inputs"] == ["features", *names] and exported["outputs"] == [*params, *(n + "_out" for n in names)]
    channels = net.encoder.inputs.channels
    rng = np.random.default_rng(0)
    layers, hidden = model.config_.model.num_layers, model.config_.model.hidden_size
    for steps in (1, 5):
        x = rng.normal(size=(3, steps, channels)).astype(np.float32)
        state = [rng.normal(size=(layers, 3, hidden)).astype(np.float32) for _ in names]
        got = sess.run(None, {"features": x, **dict(zip(names, state))})
        with torch.no_grad():
            out, new = net(torch.from_numpy(x), tuple(map(torch.from_numpy, state)) if lstm else torch.from_numpy(state[0]))
            dist = net.predictive(out[:, -1])
        expected = [dist.loc, dist.scale] + ([dist.df] if len(params) == 3 else []) + list(new if lstm else (new,))
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e.numpy(), atol=1e-5, rtol=0)


def test_sampling_with_the_onnx_step_gives_the_same_forecast(forecaster):
    """`forecast_paths`, drawing with the exported step in place of the network, gives the forecaster's
    median and intervals for the series it was trained on."""
    from seqrnn.tasks import backtest
    from seqrnn.tasks.forecast import forecast_paths

    model, _, exported = forecaster
    c = model.config_
    histories = [np.asarray(v) for _, v, _ in model.vocab_.series.values()]
    phase = np.array([0, 5])  # each history's first phase in the season (any: both runs read the same)
    lags = c.data.seasonal_period if c.data.seasonal_inputs != "off" else 1
    run = dict(horizon=4, context=c.data.context_length, period=lags, samples=50, seed=7,
               device=torch.device("cpu"), scaled=c.data.scaling == "mean_abs")
    expected = backtest.Forecast.from_samples(forecast_paths(model.model_, histories, phase, **run))
    got = backtest.Forecast.from_samples(forecast_paths(OnnxStep(exported["out"]), histories, phase, **run))
    for column in backtest.COLUMNS:
        np.testing.assert_allclose(getattr(got, column), getattr(expected, column), rtol=1e-4, atol=1e-4)


def test_the_forecast_steps_metadata_says_how_to_make_the_features(forecaster):
    from seqrnn.tasks.forecast import Series, gather_windows, step_feature_names, step_features

    model, _, exported = forecaster
    meta = metadata(exported["out"])
    channels = model.model_.encoder.inputs.channels
    assert meta["seqrnn.task"] == "forecast" and int(meta["channels"]) == channels
    assert json.loads(meta["features"]) == ["lag_1", "lag_season", "phase_sin", "phase_cos"][:channels]
    assert meta["distribution"] == model.config_.model.distribution and meta["freq"] == "MS"
    assert int(meta["seasonal_period"]) == 12 and meta["phase"].startswith("the month")
    assert int(meta["context_length"]) == model.config_.data.context_length and int(meta["horizon"]) == 4
    assert meta["scaling"] == "mean_abs" and json.loads(meta["calendar"]) is True
    # the names follow the features the forecaster makes, whatever their number
    for period in (1, 12):
        width = step_features(*(np.ones((2, 3)),) * 3, np.zeros((2, 3)), np.ones((2, 3), bool), np.ones((2, 1)),
                              period).shape[-1]
        assert len(step_feature_names(period)) == width
    x, *_ = gather_windows(Series(["a"], [np.arange(1.0, 30.0)], [0], [None]), np.array([0]), np.array([29]), 5, 3, 12)
    assert x.shape[-1] == channels


def test_an_untrained_forecaster_is_refused(tmp_path):
    from seqrnn.serve.export import export_forecast_step
    from seqrnn.tasks.forecast import Forecaster

    with pytest.raises(TypeError, match="takes a trained Forecaster"):
        export_forecast_step(Forecaster(), tmp_path / "m.onnx")


def _point_forecast_from_the_metadata(path, values: np.ndarray, first_phase: int, horizon: int) -> np.ndarray:
    """The module docstring's loop, from the .onnx file alone, each step's location fed back."""
    meta, sess = metadata(path), session(path)
    context, period = int(meta["context_length"]), int(meta["seasonal_period"])
    features, names = json.loads(meta["features"]), json.loads(meta["state"])
    n = len(values)
    scale = float(np.mean(np.abs(values[-context:]))) or 1.0
    y = np.concatenate([values / scale, np.zeros(horizon)])

    def step(t):
        if t < 0:
            return [0.0] * len(features)
        angle = 2 * np.pi * ((first_phase + t) % period) / period
        named = {"lag_1": y[t - 1] if t >= 1 else 0.0, "lag_season": y[t - period] if t >= period else 0.0,
                 "phase_sin": np.sin(angle), "phase_cos": np.cos(angle)}
        return [named[name] for name in features]

    state = {name: np.zeros((int(meta["num_layers"]), 1, int(meta["hidden_size"])), np.float32) for name in names}
    x = np.array([[step(t) for t in range(n - context, n + 1)]], np.float32)
    for k in range(horizon):
        out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"features": x, **state})))
        state = {name: out[name + "_out"] for name in names}
        y[n + k] = out["loc"][0]
        x = np.array([[step(n + k + 1)]], np.float32)
    return y[n:] * scale


def test_the_metadata_is_enough_to_forecast(forecaster):
    """The recipe of the module docstring, on the metadata and the graph alone, gives the forecaster's
    point path (each step's location fed back), for histories shorter than the season and the
    context and longer ones."""
    from seqrnn.tasks.forecast import forecast_paths

    model, _, exported = forecaster
    c = model.config_.data
    rng = np.random.default_rng(1)
    for n in (5, 30, 70):
        values = 50 + 10 * rng.normal(size=n)
        got = _point_forecast_from_the_metadata(exported["out"], values, 7, 4)
        expected = forecast_paths(model.model_, [values], np.array([7]), 4, c.context_length, c.seasonal_period,
                                  samples=1, seed=0, device=torch.device("cpu"), point=True)[0, 0]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
