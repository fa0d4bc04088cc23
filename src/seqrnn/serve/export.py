"""Trained models as ONNX graphs, to run without seqrnn or PyTorch (onnxruntime, or any ONNX runtime).

    seqrnn export --model runs/sentiment --format onnx --out sentiment.onnx
    >>> from seqrnn.serve.export import export_model
    >>> export_model("runs/sentiment", "onnx", "sentiment.onnx")         # doctest: +SKIP

Exporting needs the `onnx` package, running the graph a runtime: ``pip install 'seqrnn[export]'``
installs both (onnx and onnxruntime). The graphs use ONNX opset 17 and run on CPU as they are.

A text classifier (`export_classifier`)
---------------------------------------
Inputs ``ids`` (int64, [batch, seq]) and ``lengths`` (int64, [batch]); output ``probabilities``
(float32, [batch, n_classes]), the columns in the order of the metadata's ``classes`` (the model's
``classes_``; IMDb's are [0, 1], negative then positive). Batch and sequence axes are dynamic.

The graph starts from word ids; turning a text into ids is done beside it, exactly as seqrnn does:

1. Tokenize (the book's tokenizer, `seqrnn.text.tokens.tokenize`): put a space on either side of
   every ASCII punctuation character (Python's ``string.punctuation``), lower-case the text, split it
   on whitespace. In Python: ``for c in string.punctuation: text = text.replace(c, f" {c} ")``,
   then ``text.lower().split()``. ("Great, isn't it?" -> great , isn ' t it ?)
2. Look each token up in the vocabulary: ``vocab.json`` in the model directory holds
   ``{"kind": "words", "pad_id": 0, "unk_id": 1, "words": [...]}``, the word ``words[i]`` having id
   ``i + 2``; 0 is padding and a word not in the list is 1 (unknown). The same list is in the
   graph's metadata (``words``), so the .onnx file alone is enough.
3. Keep the last ``seq_len`` ids of a longer text (metadata ``seq_len``, ``truncate=left``); the
   length of a row is the number of ids kept (at least 1: a text without words is one padding id).
4. Pad with 0 on the side the metadata's ``pad`` names:

   * ``pad=left`` (the `book` preset: one LSTM, the last step, a sigmoid over one logit): every
     row is exactly ``seq_len`` ids, padding first. The network reads the padding too, as it did in
     training, so rows of another width give other probabilities. ``lengths`` is accepted and
     does not change the result.
   * ``pad=right`` (the `default` preset: a bidirectional LSTM, max and mean pooled over the real
     tokens): ids first, padding after; a batch may be as wide as its longest row (seqrnn batches
     texts of similar length: less padding, faster). ``lengths`` must be the true lengths: the
     backward direction and the pooling use them, so the padding does not change the result.

Metadata (``metadata_props``, strings): ``seqrnn.task``, ``seqrnn.version``, ``classes`` (JSON),
``seq_len``, ``pad``, ``truncate``, ``pad_id``, ``unk_id``, ``tokenizer``, ``words`` (JSON),
``inputs`` and ``outputs`` (what they hold).

A character language model (`export_charlm_step`)
--------------------------------------------------
One step of the network, for a sampling loop elsewhere: inputs ``ids`` (int64, [batch, steps]:
1 for one step; a longer start text runs in one call) and the recurrent state ``h`` (float32,
[layers, batch, hidden]) and, for an LSTM, ``c`` (same shape), zeros to start; outputs ``logits``
(float32, [batch, vocab]: the next character after the last step) and the new state ``h_out``
(and ``c_out``), to feed back as ``h`` (and ``c``). The characters are in the metadata
(``chars``, JSON: id i is ``chars[i]``; the model directory's vocab.json holds the same list), with
``cell``, ``num_layers``, ``hidden_size``, ``state`` (the state's input names) and
``inputs``/``outputs``. seqrnn's own sampling (``charlm sample``) divides the logits by the
temperature and keeps the 5 most probable characters (top-n) before drawing.

A series classifier (`export_series_classifier`)
--------------------------------------------------
Inputs ``values`` (float32, [batch, steps, channels]) and ``lengths`` (int64, [batch]); output
``probabilities`` (float32, [batch, n_classes]), the columns in the order of the metadata's
``classes``. Batch and step axes are dynamic. The values are each series as the network reads it,
prepared beside the graph exactly as `SeriesClassifier` prepares them (`SeriesScaling.transform`):

1. Fill missing values (NaN) of each channel by linear interpolation, carrying the first and last
   known values to the edges; a channel with no value at all is 0.
2. A series longer than the metadata's ``max_steps`` is averaged over equal windows down to that
   many steps.
3. Normalise as the metadata's ``normalise`` says: ``channel``, subtract ``mean`` and divide by
   ``std`` (JSON lists, one per channel); ``series``, z-normalise each channel of each series by its
   own mean and standard deviation; ``none``, leave the values as they are.
4. Transpose each series to (steps, channels), pad the batch with zeros after each series' last
   step to its longest, and give the true ``lengths``: the padding does not change the result.

Metadata: ``seqrnn.task``, ``seqrnn.version``, ``classes``, ``channels``, ``normalise``, ``mean``,
``std``, ``max_steps``, ``inputs`` and ``outputs``.

A forecaster (`export_forecast_step`)
-------------------------------------
One step of the network, for a sampling loop elsewhere, as `seqrnn.tasks.forecast.forecast_paths`
runs it: inputs ``features`` (float32, [batch, steps, channels]: 1 step while sampling; the warm-up's
steps run in one call) and the state ``h`` (and ``c`` for an LSTM; float32 [layers, batch, hidden],
zeros to start); outputs the parameters of the next scaled value's distribution after the last step,
``loc`` and ``scale`` (float32, [batch]) and, for a Student-t (metadata ``distribution``), ``df``,
and the new state ``h_out`` (and ``c_out``). The metadata's ``features`` names the ``channels``
columns of a step in order (``seqrnn.tasks.forecast.step_features`` makes them):

- ``lag_1``: the value before step ``t`` (``y[t-1]``), divided by the series' scale;
- ``lag_season``: the value a season before step ``t`` (``y[t-seasonal_period]``), over the scale;
  0 while ``t < seasonal_period``; this and the phase columns are absent when ``seasonal_lag`` is 1
  (a model whose series were too short for seasons: `seasonal_inputs`);
- ``phase_sin``, ``phase_cos``: the sine and cosine of ``2 pi phase / seasonal_period``, the phase
  of step ``t`` being ``(phase of the first value + t) % seasonal_period``, the first value's from
  its time stamp (metadata ``phase``: the month - 1 of monthly data, the quarter - 1 of quarterly,
  the day of the week of daily, the hour of hourly, the step number modulo the season for integer
  steps, else 0); both 0 when ``calendar`` is false;
- then one column per known covariate, named as in the training data: its value at step ``t``
  minus the metadata ``covariates``' ``mean``, over its ``scale``;
- any further column is named ``input_K`` (a feature this exporter does not describe).

A step before a series' first value (``t < 0``) has all its columns 0. The scale (``scaling``
``mean_abs``) is the mean absolute value of the last ``context_length`` values (1 where that is 0;
``none``: 1). A forecast of a series of ``n`` values: (1) run the steps ``t = n - context_length
... n`` in one call from a zero state (the last one's inputs end with the last value); (2) draw the
scaled value of step ``n`` from the distribution (Student-t with ``df``, ``loc`` and ``scale``, or
normal), which times the scale is the forecast; (3) run step ``n + 1``, whose ``lag_1`` is that
draw, with the state, and draw again, ``horizon`` times. ``num_samples`` paths per series (the
batch axis) give the median and the intervals as their quantiles; each path's distance from the
median is then multiplied by the metadata ``rule``'s ``interval_factor`` (the calibration on the
validation points). When ``rule``'s ``method`` is ``naive`` or ``seasonal_naive``, the validation
preferred that baseline and the forecaster forecasts with it, not with this network. The
forecasting page of the documentation has the loop in NumPy.

Metadata: ``seqrnn.task``, ``seqrnn.version``, ``channels``, ``features``, ``distribution``,
``seasonal_period``, ``phase``, ``calendar``, ``scaling``, ``context_length``, ``horizon``, ``freq``,
``num_samples``, ``cell``, ``num_layers``, ``hidden_size``, ``state``, ``seasonal_lag``, ``covariates``
(``names``, ``mean``, ``scale``), ``rule``, ``inputs`` and ``outputs``.

How: the graphs are traced with PyTorch's TorchScript-based ONNX exporter (``dynamo=False``), which
turns the recurrent layers into ONNX's own LSTM / GRU / RNN operators with dynamic batch and
sequence axes; the torch.export-based exporter unrolls the recurrent layers over the example's
steps, fixing the sequence length. PyTorch marks the TorchScript exporter deprecated (a
DeprecationWarning, silenced here); it is the one that exports these models whole.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqrnn import __version__
from seqrnn.errors import InvalidInputTypeError, SeqrnnError, SeqrnnRuntimeError
from seqrnn.fileio import atomic_write_bytes, read_json
from seqrnn.nn.networks import CharRNN, SentimentRNN
from seqrnn.text.tokens import PUNCTUATION
from seqrnn.text.vocabulary import Vocabulary

FORMATS = ("onnx",)
OPSET = 17  # ONNX's opset: onnxruntime 1.14 and later run it
INSTALL_HINT = "pip install 'seqrnn[export]'"
TOKENIZER = ("book: a space on either side of every character of " + json.dumps(PUNCTUATION)
             + ", then lower-case, then split on whitespace")


def _onnx():
    """The `onnx` package, or a one-line error naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise SeqrnnError(f"exporting to ONNX needs the onnx package: {INSTALL_HINT}") from None
    return onnx


# --- the graphs ---------------------------------------------------------------------------------------


class _ClassifierGraph(nn.Module):
    """Ids and lengths -> class probabilities, as `TextClassifier.predict_proba` computes them."""

    def __init__(self, net: SentimentRNN, pad: str):
        super().__init__()
        self.net, self.right = net, pad == "right"

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.right:
            lengths = lengths.clamp(min=1)  # a text without words is one padding token
        else:  # the book's form: the whole left-padded row; `maximum` keeps lengths an input of the graph
            lengths = torch.maximum(lengths, torch.ones_like(ids).sum(dim=1))
        logits = self.net(ids, lengths)
        if logits.dim() == 1:  # two classes: the logit of the second
            p = torch.sigmoid(logits)
            return torch.stack([1 - p, p], dim=1)
        return torch.softmax(logits, dim=1)


class _SeriesGraph(nn.Module):
    """Values and lengths -> class probabilities, as `SeriesClassifier.predict_proba` computes them."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = self.net(values, lengths.clamp(min=1))
        if logits.dim() == 1:  # two classes: the logit of the second
            p = torch.sigmoid(logits)
            return torch.stack([1 - p, p], dim=1)
        return torch.softmax(logits, dim=1)


class _CharStepGraph(nn.Module):
    """Ids and the state -> logits of the next character and the new state."""

    def __init__(self, net: CharRNN):
        super().__init__()
        self.net, self.lstm = net, net.encoder.cell == "lstm"

    def forward(self, ids: torch.Tensor, *state: torch.Tensor):
        logits, new = self.net(ids, tuple(state) if self.lstm else state[0])
        return (logits[:, -1], *(new if self.lstm else (new,)))


def _to_onnx(module: nn.Module, args: tuple, inputs: list[str], outputs: list[str],
             dynamic_axes: dict[str, dict[int, str]], metadata: dict[str, Any], doc: str) -> bytes:
    """The serialized ONNX model of `module` called on `args`, with the metadata (values as strings)."""
    onnx = _onnx()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # the exporter's deprecation notice, its tracer warnings and its note on LSTMs exported
            # without an initial state (the graph builds the zero state from the input's batch size)
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, buffer, dynamo=False, opset_version=OPSET, input_names=inputs,
                              output_names=outputs, dynamic_axes=dynamic_axes)
    except Exception as exc:  # the exporter's errors are long: one line, the first of them
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SeqrnnRuntimeError(f"ONNX export failed: {first}") from exc
    model = onnx.load_from_string(buffer.getvalue())
    model.doc_string = doc
    model.producer_name, model.producer_version = "seqrnn", __version__
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _cpu_copy(net: nn.Module) -> nn.Module:
    """The network on the CPU in eval mode, leaving the estimator's own untouched."""
    return copy.deepcopy(net).to("cpu").eval()


def export_classifier(clf, path: str | Path) -> Path:
    """Write a trained `TextClassifier` as an ONNX graph (ids, lengths -> probabilities).

    Parameters
    ----------
    clf : TextClassifier
        Fitted or loaded; either preset, two classes or more.
    path : str or Path
        The .onnx file to write (replaced if it exists; written whole or not at all).

    Returns
    -------
    Path
        `path`. The module docstring describes the graph, its metadata and how to get the ids.
    """
    if not isinstance(getattr(clf, "model_", None), SentimentRNN):
        raise InvalidInputTypeError(f"export_classifier takes a trained TextClassifier, got {type(clf).__name__}")
    data, classes = clf.config_.data, [c.item() if hasattr(c, "item") else c for c in clf.classes_]
    net = _cpu_copy(clf._network())  # with its n-gram model, when it has one
    seq = min(data.seq_len, 8)
    ids = torch.randint(2, max(3, len(clf.vocab_)), (2, seq))
    lengths = torch.tensor([seq, max(1, seq // 2)])
    if data.pad == "right":
        ids[1, lengths[1]:] = 0
    metadata = {
        "seqrnn.task": clf.task, "seqrnn.version": __version__, "classes": classes, "seq_len": str(data.seq_len),
        "pad": data.pad, "truncate": "left", "pad_id": str(Vocabulary.PAD), "unk_id": str(Vocabulary.UNK),
        "tokenizer": TOKENIZER, "words": clf.vocab_.words,
        "inputs": "ids: int64 [batch, seq], word ids padded with 0 on the `pad` side; lengths: int64 [batch], "
                  "the ids kept per text",
        "outputs": "probabilities: float32 [batch, n_classes], columns in `classes` order",
    }
    if getattr(clf, "ngram_", None):
        metadata["ngram"] = {k: clf.ngram_[k] for k in ("kind", "buckets", "weight")}
    doc = (f"seqrnn text classifier ({len(classes)} classes: {', '.join(map(str, classes))}); "
           f"{data.pad}-padded word ids, at most {data.seq_len} per text (the last ones)")
    blob = _to_onnx(_ClassifierGraph(net, data.pad).eval(), (ids, lengths), ["ids", "lengths"], ["probabilities"],
                    {"ids": {0: "batch", 1: "seq"}, "lengths": {0: "batch"}, "probabilities": {0: "batch"}},
                    metadata, doc)
    atomic_write_bytes(Path(path), blob)
    return Path(path)


def export_charlm_step(lm, path: str | Path) -> Path:
    """Write one step of a trained `CharLanguageModel` as an ONNX graph (ids, state -> logits, state).

    Parameters
    ----------
    lm : CharLanguageModel
        Fitted or loaded; any cell (an LSTM has the states h and c, a GRU or RNN only h).
    path : str or Path
        The .onnx file to write (replaced if it exists; written whole or not at all).

    Returns
    -------
    Path
        `path`. The module docstring describes the graph and its metadata.
    """
    if not isinstance(getattr(lm, "model_", None), CharRNN):
        raise InvalidInputTypeError(f"export_charlm_step takes a trained CharLanguageModel, got {type(lm).__name__}")
    net = _cpu_copy(lm.model_)
    encoder = net.encoder
    layers, hidden = len(encoder.forward_layers), encoder.forward_layers[0].hidden_size
    lstm = encoder.cell == "lstm"
    names = ["h", "c"] if lstm else ["h"]
    ids = torch.zeros((2, 3), dtype=torch.long)
    state = tuple(torch.zeros(layers, 2, hidden) for _ in names)
    axes = {"ids": {0: "batch", 1: "steps"}, "logits": {0: "batch"}}
    for name in names:
        axes[name] = axes[f"{name}_out"] = {1: "batch"}
    shape = f"float32 [{layers}, batch, {hidden}]"
    metadata = {
        "seqrnn.task": lm.task, "seqrnn.version": __version__, "chars": lm.vocab_.chars, "cell": encoder.cell,
        "num_layers": str(layers), "hidden_size": str(hidden), "state": names,
        "inputs": f"ids: int64 [batch, steps], character ids; {' and '.join(names)}: {shape}, the state (zeros "
                  "to start)",
        "outputs": f"logits: float32 [batch, vocab], of the character after the last step; "
                   f"{' and '.join(n + '_out' for n in names)}: the new state, {shape}",
    }
    doc = f"seqrnn character language model, one step ({encoder.cell}, {layers} x {hidden}, {len(lm.vocab_)} chars)"
    outputs = ["logits", *(n + "_out" for n in names)]
    blob = _to_onnx(_CharStepGraph(net).eval(), (ids, *state), ["ids", *names], outputs, axes, metadata, doc)
    atomic_write_bytes(Path(path), blob)
    return Path(path)


def export_series_classifier(clf, path: str | Path) -> Path:
    """Write a trained `SeriesClassifier` as an ONNX graph (values, lengths -> probabilities).

    Parameters
    ----------
    clf : SeriesClassifier
        Fitted or loaded.
    path : str or Path
        The .onnx file to write (replaced if it exists; written whole or not at all).

    Returns
    -------
    Path
        `path`. The module docstring describes the graph, its metadata and how to prepare the values.
    """
    if getattr(clf, "task", None) != "series" or not hasattr(clf, "model_"):
        raise InvalidInputTypeError(f"export_series_classifier takes a trained SeriesClassifier, "
                                    f"got {type(clf).__name__}")
    scaling, classes = clf.vocab_, [c.item() if hasattr(c, "item") else c for c in clf.classes_]
    net = _cpu_copy(clf.model_)
    values = torch.randn(2, 6, scaling.channels)
    lengths = torch.tensor([6, 3])
    values[1, 3:] = 0
    metadata = {
        "seqrnn.task": clf.task, "seqrnn.version": __version__, "classes": classes, "channels": str(scaling.channels),
        "normalise": scaling.normalise, "mean": scaling.mean.tolist(), "std": scaling.std.tolist(),
        "max_steps": str(scaling.max_steps),
        "inputs": "values: float32 [batch, steps, channels], each series prepared as the module docstring says and "
                  "padded with 0 after its end; lengths: int64 [batch], the steps of each series",
        "outputs": "probabilities: float32 [batch, n_classes], columns in `classes` order",
    }
    if getattr(clf, "ngram_", None):
        metadata["ngram"] = {k: clf.ngram_[k] for k in ("kind", "buckets", "weight")}
    doc = (f"seqrnn series classifier ({len(classes)} classes: {', '.join(map(str, classes))}); "
           f"{scaling.channels} channel{'s' if scaling.channels != 1 else ''}, normalised: {scaling.normalise}")
    blob = _to_onnx(_SeriesGraph(net).eval(), (values, lengths), ["values", "lengths"], ["probabilities"],
                    {"values": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}, "probabilities": {0: "batch"}},
                    metadata, doc)
    atomic_write_bytes(Path(path), blob)
    return Path(path)


class _ForecastStepGraph(nn.Module):
    """Step features and the state -> the distribution's parameters after the last step and the new state."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.lstm = net, net.encoder.cell == "lstm"
        self.student = net.distribution != "gaussian"

    def forward(self, features: torch.Tensor, *state: torch.Tensor):
        out, new = self.net(features, tuple(state) if self.lstm else state[0])
        dist = self.net.predictive(out[:, -1])
        params = (dist.loc, dist.scale, dist.df) if self.student else (dist.loc, dist.scale)
        return (*params, *(new if self.lstm else (new,)))


def _phase_rule(freq: str, period: int) -> str:
    """How the phase of a step is found, in words (`seqrnn.tasks.forecast.phases`)."""
    if period <= 1:
        return "none (no season)"
    if not freq:
        return "the first value's step number modulo seasonal_period (integer time)"
    rules = {12: "the month - 1 (0: January)", 4: "the quarter - 1 (0: January to March)",
             7: "the day of the week (0: Monday)", 24: "the hour of the day"}
    if period in rules and not (period == 7 and freq.startswith("W")):
        return rules[period]
    return "0 for the first value (its place in the season is not read from the calendar)"


def export_forecast_step(model, path: str | Path) -> Path:
    """Write one step of a trained `Forecaster` as an ONNX graph (features, state -> distribution, state).

    Parameters
    ----------
    model : Forecaster
        Fitted or loaded; any cell, either distribution.
    path : str or Path
        The .onnx file to write (replaced if it exists; written whole or not at all).

    Returns
    -------
    Path
        `path`. The module docstring describes the graph, its metadata and the features of a step.
    """
    if getattr(model, "task", None) != "forecast" or not hasattr(model, "model_"):
        raise InvalidInputTypeError(f"export_forecast_step takes a trained Forecaster, got {type(model).__name__}")
    from seqrnn.tasks.forecast_steps import step_feature_names

    net = _cpu_copy(model.model_)
    encoder = net.encoder
    channels = encoder.inputs.channels  # the network's width: whatever features its step reads
    layers, hidden = len(encoder.forward_layers), encoder.forward_layers[0].hidden_size
    lstm, data = encoder.cell == "lstm", model.config_.data
    names = ["h", "c"] if lstm else ["h"]
    params = ["loc", "scale"] + (["df"] if net.distribution != "gaussian" else [])
    lags = data.seasonal_period if data.seasonal_inputs != "off" else 1  # the period the step features use
    known = getattr(model, "_known", None) or {"names": []}
    features = step_feature_names(lags, known["names"])[:channels]
    features += [f"input_{k}" for k in range(len(features), channels)]
    rule = getattr(model, "rule_", None) or {}
    example = (torch.randn(2, 3, channels), *(torch.zeros(layers, 2, hidden) for _ in names))
    axes = {"features": {0: "batch", 1: "steps"}, **{p: {0: "batch"} for p in params}}
    for name in names:
        axes[name] = axes[f"{name}_out"] = {1: "batch"}
    shape = f"float32 [{layers}, batch, {hidden}]"
    metadata = {
        "seqrnn.task": model.task, "seqrnn.version": __version__, "channels": str(channels), "features": features,
        "distribution": net.distribution, "seasonal_period": str(data.seasonal_period),
        "phase": _phase_rule(model.vocab_.freq, data.seasonal_period), "calendar": json.dumps(bool(data.calendar)),
        "scaling": data.scaling, "context_length": str(data.context_length), "horizon": str(data.horizon),
        "freq": model.vocab_.freq, "num_samples": str(data.num_samples), "cell": encoder.cell,
        "num_layers": str(layers), "hidden_size": str(hidden), "state": names,
        "seasonal_lag": str(lags), "covariates": known,
        "rule": {"method": rule.get("method", "model"), "interval_factor": rule.get("interval_factor", 1.0)},
        "inputs": f"features: float32 [batch, steps, {channels}], the columns `features` names; "
                  f"{' and '.join(names)}: {shape}, the state (zeros to start)",
        "outputs": f"{', '.join(params)}: float32 [batch], the {net.distribution} distribution of the next scaled "
                   f"value after the last step; {' and '.join(n + '_out' for n in names)}: the new state, {shape}",
    }
    doc = (f"seqrnn forecaster, one step ({encoder.cell}, {layers} x {hidden}, {channels} features, "
           f"{net.distribution}; horizon {data.horizon})")
    blob = _to_onnx(_ForecastStepGraph(net).eval(), example, ["features", *names],
                    [*params, *(n + "_out" for n in names)], axes, metadata, doc)
    atomic_write_bytes(Path(path), blob)
    return Path(path)


# --- a model directory ------------------------------------------------------------------------------

# the graph each form names (a task's `export` in `seqrnn.tasks.registry`)
GRAPHS = {"classifier": export_classifier, "char_step": export_charlm_step, "series_classifier": export_series_classifier,
          "forecast_step": export_forecast_step}


def export_model(directory: str | Path, fmt: str, out: str | Path, force: bool = False) -> dict[str, Any]:
    """Export the model in a model directory (a task whose registry entry names a graph in `GRAPHS`:
    a text classifier, a character language model, a series classifier or a forecaster).

    Parameters
    ----------
    directory : str or Path
        Written by `train` (config.json says which model it holds).
    fmt : str
        "onnx" (the only format).
    out : str or Path
        The file to write.
    force : bool
        Replace `out` if it exists (otherwise refused).

    Returns
    -------
    dict
        ``{"task", "format", "out", "bytes", "inputs", "outputs"}`` describing what was written.
    """
    from seqrnn.tasks import registry
    from seqrnn.training.rundir import RunDir

    if fmt not in FORMATS:
        raise SeqrnnError(f"unknown export format {fmt!r}: the format is {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        raise SeqrnnError(f"{out}: is a directory; give the path of the .{fmt} file to write")
    if out.exists() and not force:
        raise SeqrnnError(f"{out}: already exists; use `force` to replace it")
    _onnx()
    directory = Path(directory)
    if not directory.is_dir():
        raise SeqrnnError(f"{directory}: no such model directory")
    saved = read_json(directory / RunDir.CONFIG)
    task = saved.get("task") if isinstance(saved, dict) else None
    exportable = {name: entry for name, entry in registry.TASKS.items() if entry.export in GRAPHS}
    if task not in exportable:
        names = list(exportable)
        listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
        raise SeqrnnError(f"{directory}: holds a {task or 'unknown'} model; export takes {listed} models")
    entry = exportable[task]
    GRAPHS[entry.export](entry.load(directory), out)
    model = _onnx().load(str(out), load_external_data=False)
    return {"task": task, "format": fmt, "out": str(out), "bytes": out.stat().st_size,
            "inputs": [i.name for i in model.graph.input], "outputs": [o.name for o in model.graph.output]}
