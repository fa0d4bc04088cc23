"""Time-series classification: a many-to-one recurrent classifier of numeric series
(`SeriesClassifier`), with a 1-nearest-neighbour baseline kept beside the model.

A series is a float array `(n_channels, n_timepoints)` (aeon's collection conventions,
`seqrnn.data.series`); lengths may differ and NaN marks a missing value. Each series goes through
the same steps at `fit` and at prediction (`SeriesScaling.transform`):

1. **missing values**: linear interpolation within each channel of the series, the first and last
   observed values carried to the edges; a channel with no value at all becomes 0 after step 3;
2. **long series**: a series longer than `max_steps` is averaged over equal windows down to
   `max_steps` steps (piecewise aggregate approximation), so time and memory per series are bounded;
3. **normalisation** (`normalise`): ``"channel"`` (the default) scales each channel by its mean and
   standard deviation over every training time point (kept in the model), ``"series"``
   z-normalises each channel of each series by its own mean and standard deviation (the archive's
   habit), ``"none"`` leaves the values as they are. A constant channel has standard deviation 1.
   Measured on 3 folds of each training set (model accuracy; GunPoint, ItalyPowerDemand,
   BasicMotions, JapaneseVowels): channel 0.979, 0.955, 0.976, 0.967; series 0.960, 0.955, 0.853,
   0.737; none 0.960, 0.955, 1.000, 0.926. ``"channel"`` loses least: at most 2.4 points to the
   best on any set, where per-series z-normalisation loses 23 points on JapaneseVowels (whose
   channels' levels carry the class) and ``"none"`` 4.1.

Batches hold series of similar length padded to the batch's longest (`EncodedSeries`), and the
network reads only each series' own steps, so a prediction does not depend on its batch.

Small training sets (fewer than `small_set` series, as most of the UCR/UEA archive's) are not
split: the model trains `epochs` epochs on all of them and the last epoch's weights are kept.
Larger sets hold out a stratified `val_fraction` and keep the weights of the best held-out accuracy.
The measurements behind the defaults are on the documentation's "Results: series classification"
page and in the experiment log.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin

from seqrnn.config import NORMALISATIONS, SERIES_PRESETS, SeriesConfig
from seqrnn.data.checks import check_labels, class_indices, json_classes, training_classes
from seqrnn.data.series import SeriesCollection, as_series
from seqrnn.data.series import _one_series as one_series
from seqrnn.data.split import heldout_split
from seqrnn.errors import InvalidInputError, SeqrnnError
from seqrnn.nn.networks import SeriesClassifierNetwork
from seqrnn.tasks.base import Prepared, RecurrentEstimator
from seqrnn.tasks.classifier import (
    ClassificationTask,
    logit_metrics,
    predicted_indices,
    probabilities,
    probability_records,
    saved_classes,
)
from seqrnn.tasks.sequence import predict_outputs
from seqrnn.training.rundir import load_tensors, save_tensors

TASK = "series"
BASELINE_FILE = "baseline.safetensors"
__all__ = ["SeriesClassifier", "SeriesConfig", "SERIES_PRESETS", "SeriesScaling", "EncodedSeries",
           "NearestNeighbour", "interpolate_missing", "shorten", "prediction_records"]


# --- from what a user gives to what the network reads ----------------------------------------------


def interpolate_missing(values: np.ndarray) -> np.ndarray:
    """`values` (channels, steps) with each NaN filled by linear interpolation between the observed
    values of its channel, the first and last observed values carried to the edges; a channel with
    no observed value stays NaN (normalisation makes it 0)."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    out = values.copy()
    steps = np.arange(values.shape[1])
    for c in np.flatnonzero(missing.any(axis=1)):
        seen = ~missing[c]
        if seen.any():
            out[c, ~seen] = np.interp(steps[~seen], steps[seen], values[c, seen])
    return out


def shorten(values: np.ndarray, max_steps: int) -> np.ndarray:
    """`values` (channels, steps) averaged over `max_steps` near-equal windows when longer."""
    steps = values.shape[1]
    if steps <= max_steps:
        return values
    starts = (np.arange(max_steps) * steps) // max_steps
    sums = np.add.reduceat(values.astype(np.float64), starts, axis=1)
    widths = np.diff(np.append(starts, steps))
    return (sums / widths).astype(np.float32)


class SeriesScaling:
    """What the model knows of its input besides the configuration: the channels, the
    normalisation and, for ``"channel"``, each channel's training mean and standard deviation.

    It stands where the text tasks keep their vocabulary (vocab.json; `len` is the number of
    channels, the network's input width)."""

    def __init__(self, channels: int, normalise: str, max_steps: int, mean: np.ndarray | None = None,
                 std: np.ndarray | None = None):
        self.channels, self.normalise, self.max_steps = int(channels), normalise, int(max_steps)
        self.mean = np.zeros(channels, np.float32) if mean is None else np.asarray(mean, np.float32)
        self.std = np.ones(channels, np.float32) if std is None else np.asarray(std, np.float32)

    def __len__(self) -> int:
        return self.channels

    @classmethod
    def fit(cls, values: list[np.ndarray], normalise: str, max_steps: int) -> "SeriesScaling":
        """The scaling of the training series `values` (before `transform`)."""
        scaling = cls(values[0].shape[0], normalise, max_steps)
        if normalise == "channel":
            cleaned = np.concatenate([shorten(interpolate_missing(v), max_steps) for v in values], axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a channel missing everywhere
                mean, std = np.nanmean(cleaned, axis=1), np.nanstd(cleaned, axis=1)
            scaling.mean = np.nan_to_num(mean).astype(np.float32)
            scaling.std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0).astype(np.float32)
        return scaling

    def transform(self, values: list[np.ndarray], name: str = "X") -> list[np.ndarray]:
        """Each series (channels, steps) as the network reads it, (steps, channels) float32 with no
        NaN (the module's steps 1-3); a different number of channels is refused by name."""
        if values and values[0].shape[0] != self.channels:
            raise InvalidInputError(f"{name} has {values[0].shape[0]} channel{'s' if values[0].shape[0] != 1 else ''} "
                                    f"but the model was trained on {self.channels}")
        out = []
        for v in values:
            v = shorten(interpolate_missing(v), self.max_steps)
            if self.normalise == "series":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(v, axis=1, keepdims=True)
                    std = np.nanstd(v, axis=1, keepdims=True)
                v = (v - mean) / np.where(std > 1e-8, std, 1.0)
            elif self.normalise == "channel":
                v = (v - self.mean[:, None]) / self.std[:, None]
            out.append(np.ascontiguousarray(np.nan_to_num(v, nan=0.0).T, dtype=np.float32))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"channels": self.channels, "normalise": self.normalise, "max_steps": self.max_steps,
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeriesScaling":
        try:
            scaling = cls(d["channels"], d["normalise"], d["max_steps"], d["mean"], d["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SeqrnnError(f"vocab.json does not describe a series model's input ({exc})") from None
        if scaling.normalise not in NORMALISATIONS or scaling.mean.shape != (scaling.channels,):
            raise SeqrnnError("vocab.json does not describe a series model's input")
        return scaling


class EncodedSeries:
    """Series as the network reads them, `values[i]` (steps, channels) float32, with their true
    `lengths` and `targets` (class indices, or None to predict). A batch is padded to its own
    longest series only, so memory grows with the batch, not with the longest series of the set."""

    def __init__(self, values: list[np.ndarray], targets: np.ndarray | None):
        self.values, self.targets = values, targets
        self.lengths = np.array([len(v) for v in values], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.values)

    def subset(self, index: np.ndarray) -> "EncodedSeries":
        return EncodedSeries([self.values[i] for i in np.asarray(index).tolist()],
                             None if self.targets is None else self.targets[index])

    def rows(self, index: np.ndarray, device: torch.device):
        """A batch: values (batch, longest, channels) right-padded with zeros, lengths, targets."""
        index = np.asarray(index)
        lengths = self.lengths[index]
        batch = np.zeros((len(index), int(lengths.max()), self.values[0].shape[1]), dtype=np.float32)
        for row, i in enumerate(index.tolist()):
            batch[row, : lengths[row]] = self.values[i]
        targets = None if self.targets is None else torch.as_tensor(self.targets[index], device=device)
        return torch.as_tensor(batch, device=device), torch.as_tensor(lengths, device=device), targets


class SeriesTask(ClassificationTask):
    """The classifier's task on series. With `keep_last` (a small training set, nothing held out)
    each validation reports the training figures and counts as an improvement, so the weights kept
    are the last epoch's."""

    def __init__(self, *args: Any, keep_last: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.keep_last, self.validations = keep_last, 0
        if keep_last:
            self.monitor = ("recency", "max")

    def validate(self, model, on_batch=None) -> dict[str, float]:
        result = super().validate(model, on_batch)
        if self.keep_last:  # grows with every validation, and across a resumed run (the epoch leads)
            self.validations += 1
            result["recency"] = float((self._epoch or 0) * 1_000_000 + self.validations)
        return result


# --- the baseline -----------------------------------------------------------------------------------


class NearestNeighbour:
    """1-nearest-neighbour by Euclidean distance over the training series, normalised as the
    model's input. Series of unequal lengths are first resampled (linear interpolation) to the
    training set's longest length, so every distance compares the same number of points."""

    name = "1-NN Euclidean"

    def __init__(self, X: np.ndarray, targets: np.ndarray, length: int):
        self.X, self.targets, self.length = X.astype(np.float32), targets.astype(np.int64), int(length)

    @staticmethod
    def resample(values: list[np.ndarray], length: int) -> np.ndarray:
        """Series (steps, channels) -> (n, length * channels), each resampled to `length` steps."""
        out = np.empty((len(values), length * (values[0].shape[1] if values else 0)), dtype=np.float32)
        grid = np.linspace(0.0, 1.0, length)
        for i, v in enumerate(values):
            if len(v) != length:
                source = np.linspace(0.0, 1.0, len(v)) if len(v) > 1 else np.zeros(1)
                v = np.stack([np.interp(grid, source, v[:, c]) for c in range(v.shape[1])], axis=1)
            out[i] = v.reshape(-1)
        return out

    @classmethod
    def fit(cls, values: list[np.ndarray], targets: np.ndarray) -> "NearestNeighbour":
        length = max(len(v) for v in values)
        return cls(cls.resample(values, length), targets, length)

    def predict(self, values: list[np.ndarray], chunk: int = 512) -> np.ndarray:
        """The class index of each series' nearest training series."""
        X = self.resample(values, self.length).astype(np.float64)
        train = self.X.astype(np.float64)
        norms = (train**2).sum(axis=1)
        out = np.empty(len(X), dtype=np.int64)
        for start in range(0, len(X), chunk):
            part = X[start : start + chunk]
            distances = norms[None, :] - 2.0 * part @ train.T  # + |x|^2, the same for every training series
            out[start : start + chunk] = self.targets[distances.argmin(axis=1)]
        return out

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"X": torch.from_numpy(self.X), "targets": torch.from_numpy(self.targets),
                "length": torch.tensor([self.length], dtype=torch.int64)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "NearestNeighbour":
        return cls(tensors["X"].numpy(), tensors["targets"].numpy(), int(tensors["length"][0]))


def check_series(X: Any, name: str = "X") -> list[np.ndarray]:
    """`seqrnn.data.series.as_series`, and a sparse matrix refused by name (series are dense)."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise InvalidInputError(f"{name} is a sparse matrix: sparse input is not supported; pass dense series "
                                "(X.toarray())")
    return as_series(X, name)


# --- the estimator ------------------------------------------------------------------------------------


class SeriesClassifier(ClassifierMixin, RecurrentEstimator):
    """A recurrent classifier of numeric series (many-to-one) with scikit-learn's estimator conventions.

    It reads series as aeon holds them: a 3-D array `(n_cases, n_channels, n_timepoints)`, a list of
    2-D `(n_channels, n_timepoints)` arrays (lengths may differ), a 2-D array `(n_cases,
    n_timepoints)` of univariate series, or a `SeriesCollection`; NaN is a missing value (the
    module's rule fills it). Labels are anything a classifier takes (strings, integers, booleans).

    Parameters
    ----------
    preset : {"default"}
        Where every setting not given starts: a bidirectional GRU of 64 units per direction over a
        32-wide projection of the channels, max+mean pooling, per-channel normalisation with the
        training set's statistics, batch 16, AdamW 3e-3 (weight decay 0.01) with a cosine schedule,
        100 epochs; below 500 training series nothing is held out and the last epoch is kept. The
        normalisation, the small-set rule and the epochs were chosen on folds of the training
        splits of four UCR/UEA sets (the module docstring; the documentation's experiment log).
    **settings
        Every field of `SeriesConfig` (model: `cell`, `num_layers`, `hidden_size`, `dropout`,
        `projection_size`, `bidirectional`, `pooling`; data: `normalise`, `max_steps`, `small_set`,
        `val_fraction`, `limit`, `baseline_values`; training: `epochs`, `batch_size`, `lr`,
        `weight_decay`, `grad_clip`, `schedule`, `warmup_steps`, `final_lr_fraction`,
        `eval_every`, `seed`). None takes the preset's value.
    max_minutes, checkpoint_every, skip_nonfinite, threads, device, quiet, eval_batch_size, eval_batches
        How a call runs (`seqrnn.config.RunOptions`), not part of the model.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in `fit`, sorted; the columns of `predict_proba` are in this order.
    model_ : SeriesClassifierNetwork
        The trained network.
    vocab_ : SeriesScaling
        The channels and the normalisation of the input.
    baseline_ : NearestNeighbour or None
        The 1-NN baseline over the training series (None: more than `baseline_values` values).
    config_ : SeriesConfig
        The configuration trained with.

    Examples
    --------
    >>> clf = SeriesClassifier(seed=1).fit(X_train, y_train)       # doctest: +SKIP
    >>> clf.predict(X_test); clf.evaluate(X_test, y_test)["baseline"]  # doctest: +SKIP
    """

    task = TASK
    config_class = SeriesConfig
    model_class = SeriesClassifierNetwork
    vocab_class = SeriesScaling
    presets = SERIES_PRESETS

    def __sklearn_tags__(self):
        """scikit-learn's tags: numeric input (a 2-D array is univariate series), NaN allowed (missing values)."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array, tags.input_tags.string, tags.input_tags.allow_nan = True, False, True
        return tags

    def fit(self, X, y=None, *, out_dir: str | Path | None = None, resume: bool = False,
            source: str | None = None) -> "SeriesClassifier":
        """Train on series `X` with labels `y`.

        Parameters
        ----------
        X : 3-D array, list of 2-D arrays, 2-D array or SeriesCollection
            The training series (see the class docstring).
        y : array-like of shape (n_series,)
            Their labels, at least two classes, each with at least two series. With a
            `SeriesCollection` that carries labels, `y` may be None.
        out_dir : str or Path, optional
            Keep the run there (checkpoints, metrics, curves, the baseline).
        resume : bool
            Continue the run in `out_dir` from its checkpoint.
        source : str, optional
            Where the data came from, recorded in config.json.

        Returns
        -------
        self
        """
        if y is None and isinstance(X, SeriesCollection):
            y = X.labels
        values, labels = check_series(X), check_labels(y)
        if len(values) != len(labels):
            raise InvalidInputError(f"X has {len(values)} series but y has {len(labels)} labels")
        classes = training_classes(labels)
        targets = class_indices(labels, classes)
        counts = np.bincount(targets, minlength=len(classes))
        if (counts < 2).any():
            c = int(np.argmin(counts))
            raise InvalidInputError(f"class {json_classes(classes)[c]!r} has {counts[c]} training series; every "
                                    "class needs at least 2 to learn from")
        self.classes_ = classes
        return self._fit((values, targets), out_dir, resume, source)

    def _check_resume(self, saved: dict[str, Any], run) -> None:
        if saved_classes(saved) != json_classes(self.classes_):
            raise InvalidInputError(f"cannot resume with the classes {json_classes(self.classes_)}: the run in "
                                    f"{run.path} was started with {saved_classes(saved)}")

    def _prepare(self, data, config: SeriesConfig, scaling: SeriesScaling | None) -> Prepared:
        values, targets = data
        settings = config.data
        n = min(len(values), settings.limit or len(values))
        small = n < settings.small_set
        kept, held_out = heldout_split(len(values), config.training.seed, 0.0 if small else settings.val_fraction,
                                       settings.limit, targets)
        train_values = [values[i] for i in kept.tolist()]
        if scaling is None:
            scaling = SeriesScaling.fit(train_values, settings.normalise, settings.max_steps)
        train = EncodedSeries(scaling.transform(train_values), targets[kept])
        val = EncodedSeries(scaling.transform([values[i] for i in held_out.tolist()]), targets[held_out]) \
            if len(held_out) else train
        self.baseline_ = None
        if len(train) * int(train.lengths.max()) * len(scaling) <= settings.baseline_values:
            self.baseline_ = NearestNeighbour.fit(train.values, train.targets)
        description = {"train_series": len(kept), "val_series": len(held_out), "channels": len(scaling),
                       "min_length": int(min(len(v[0]) for v in values)),
                       "max_length": int(max(len(v[0]) for v in values)),
                       "selection": "last epoch (small set)" if small else "best held-out accuracy"}
        return Prepared(scaling, train, val, description)

    def _task(self, prepared: Prepared, config: SeriesConfig, device: torch.device) -> SeriesTask:
        batch_size = min(config.training.batch_size, len(prepared.train))
        options = self.run_options()
        return SeriesTask(prepared.train, prepared.val, batch_size, True, config.training.seed, device,
                          options.eval_batch_size, options.eval_batches, None,
                          keep_last=prepared.val is prepared.train)

    def _train(self, model, task, run, device, config, vocab, resume, started, plot):
        if not resume and self.ranks_.is_main:
            self._write_extras(run.path)
        return super()._train(model, task, run, device, config, vocab, resume, started, plot)

    # --- what a series classifier carries besides its configuration ------------------------------

    def _model_extras(self) -> dict[str, Any]:
        return {"num_classes": len(self.classes_)}

    def _facts(self) -> dict[str, Any]:
        return {"classes": json_classes(self.classes_)}

    def _restore_facts(self, saved: dict[str, Any]) -> None:
        classes = saved.get("classes")
        if not isinstance(classes, list) or len(classes) < 2:
            raise SeqrnnError(f"config.json: 'classes' must be a list of at least 2 labels, got {classes!r}")
        self.classes_ = np.array(classes)

    def _write_extras(self, directory: Path) -> None:
        path = directory / BASELINE_FILE
        if self.baseline_ is not None:
            save_tensors(path, self.baseline_.tensors(), {"name": NearestNeighbour.name})
        elif path.exists():
            path.unlink()

    def _read_extras(self, directory: Path, saved: dict[str, Any]) -> None:
        path = directory / BASELINE_FILE
        self.baseline_ = NearestNeighbour.from_tensors(load_tensors(path)[0]) if path.is_file() else None

    # --- using a trained model ------------------------------------------------------------------

    def _encoded(self, X, name: str = "X") -> list[np.ndarray]:
        self._check_fitted()
        return self.vocab_.transform(check_series(X, name), name)

    def _logits(self, X, progress: bool = False, encoded: list[np.ndarray] | None = None) -> np.ndarray:
        values = self._encoded(X) if encoded is None else encoded
        with self._inference() as device:
            options = self.run_options()
            return predict_outputs(self.model_, EncodedSeries(values, None), device, options.eval_batch_size,
                                   quiet=not progress or options.quiet)

    def decision_function(self, X) -> np.ndarray:
        """The model's logits for each series.

        Parameters
        ----------
        X : series (see the class docstring)

        Returns
        -------
        ndarray of shape (n_series,) for two classes, (n_series, n_classes) for more
            Two classes: the logit of `classes_[1]`. More: one logit per class, in `classes_` order.
        """
        return self._logits(X)

    def predict_proba(self, X) -> np.ndarray:
        """The probability of each class for each series.

        Parameters
        ----------
        X : series (see the class docstring)

        Returns
        -------
        ndarray of shape (n_series, n_classes)
            Columns in `classes_` order; rows sum to 1 (float64).
        """
        return probabilities(self._logits(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each series.

        Parameters
        ----------
        X : series (see the class docstring)

        Returns
        -------
        ndarray of shape (n_series,)
            Labels from `classes_`.
        """
        index = predicted_indices(self._logits(X))  # checks first that the model is fitted
        return self.classes_[index]

    def evaluate(self, X, y=None) -> dict:
        """The text classifier's report (accuracy, log-loss, per-class figures, confusion matrix,
        warnings) on labelled series, with the 1-NN baseline's accuracy beside it.

        Parameters
        ----------
        X : series (see the class docstring); a labelled `SeriesCollection` needs no `y`
        y : array-like of labels, each one of `classes_`

        Returns
        -------
        dict
            ``accuracy``, ``loss``, ``n``, ``classes``, ``per_class``, ``macro_avg``,
            ``weighted_avg``, ``confusion_matrix``, ``warnings`` (as `TextClassifier.evaluate`) and
            ``baseline``: ``{"name": "1-NN Euclidean", "accuracy": ..., "normalise": ...}``, or
            ``{"name": ..., "accuracy": None, "note": why}`` when no baseline was kept.
        """
        from seqrnn.tasks.report import classification_summary

        self._check_fitted()
        if y is None and isinstance(X, SeriesCollection):
            y = X.labels
        targets = class_indices(check_labels(y), self.classes_)
        encoded = self._encoded(X)
        if len(encoded) != len(targets):
            raise InvalidInputError(f"X has {len(encoded)} series but y has {len(targets)} labels")
        logits = self._logits(X, progress=True, encoded=encoded)
        metrics = logit_metrics(logits, targets)
        summary = classification_summary(self.classes_[targets], self.classes_[predicted_indices(logits)],
                                         self.classes_)
        if self.baseline_ is None:
            baseline = {"name": NearestNeighbour.name, "accuracy": None,
                        "note": f"not kept: the training series hold more than baseline_values "
                                f"{self.config_.data.baseline_values:,} values"}
        else:
            baseline = {"name": NearestNeighbour.name, "normalise": self.vocab_.normalise,
                        "accuracy": float((self.baseline_.predict(encoded) == targets).mean())}
        return {"accuracy": metrics["accuracy"], "loss": metrics["loss"], **summary, "baseline": baseline}


def format_baseline(report: dict) -> str:
    """The line a report prints under the model's figures: the baseline's accuracy, or why there is none."""
    b = report.get("baseline") or {}
    if b.get("accuracy") is None:
        return f"baseline {b.get('name', '1-NN')}: {b.get('note', 'none')}"
    return (f"baseline {b['name']} ({b['normalise']} normalisation): accuracy {b['accuracy']:.3f} "
            f"(model {report['accuracy']:.3f})")



def prediction_records(clf: SeriesClassifier, X: Any, *, all_classes: bool = True, name: str = "X") -> list[dict]:
    """One record per series, the shape of `classifier.prediction_records` (`label`, `probability`,
    `probabilities`), what `seqrnn serve` returns for series.

    The series are checked under `name` (the request field) before the model reads them, each
    problem a one-line `InvalidInputError` naming the series' index: channels of different lengths,
    no time points, a number of channels other than the model's."""
    if isinstance(X, (list, tuple)):
        for i, part in enumerate(X):
            if isinstance(part, (list, tuple)) and part and all(isinstance(c, (list, tuple, np.ndarray)) for c in part):
                lengths = sorted({len(c) for c in part})
                if len(lengths) > 1:
                    raise InvalidInputError(f"{name}[{i}]'s channels have different lengths ({lengths[0]} to "
                                            f"{lengths[-1]} time points): every channel needs one value per time point "
                                            "(null for a missing one)")
    clf._check_fitted()
    channels = len(clf.vocab_)
    values = []
    parts = X if isinstance(X, (list, tuple)) else check_series(X, name)
    for i, part in enumerate(parts):
        value = one_series(part, i, name)  # numbers, time points: "name[i] ..."
        if value.shape[0] != channels:
            raise InvalidInputError(f"{name}[{i}] has {value.shape[0]} channel{'s' if value.shape[0] != 1 else ''} but "
                                    f"the model was trained on {channels}")
        values.append(value)
    if not values:
        raise InvalidInputError(f"{name} holds no series")
    return probability_records(clf.predict_proba(values), clf.classes_, all_classes=all_classes)
