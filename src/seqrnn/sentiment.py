"""Text classification (the book's sentiment analysis of movie reviews): a many-to-one recurrent
classifier for any labels, its training and its commands.

The `book` preset is the chapter's model (left-padded 200 tokens, embedding 256, LSTM 128, the last
step, dropout 0.5, batch 100, Adam 1e-3, 40 epochs) without its bugs: every review starts from a
zero state, prediction covers every input, and the vocabulary comes from the training split only.
The `default` preset starts its embedding from word vectors counted over the training and unlabelled
reviews (`wordvectors`), reads longer, right-padded reviews in batches of similar length, in both
directions, and summarises them by max and mean pooling over the real tokens.

Labels can be anything hashable that JSON can hold (strings, integers, booleans), two classes or
more: two keep the book's sigmoid head (one logit, of the second class), more get a softmax head.
The classes, sorted as scikit-learn sorts them (`classes_`), are stored in config.json; IMDb's are
[0, 1]. A model directory written before classes were stored (its config.json has no
`config_format`: only IMDb classifiers existed then) is read as IMDb's [0, 1]; a config.json of a
later version without `classes` is refused, since its labels cannot be known.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin

from seqrnn.config import SENTIMENT_PRESETS, SentimentConfig
from seqrnn.errors import InvalidInputError, InvalidInputTypeError, SeqrnnError
from seqrnn.estimator import RecurrentEstimator, estimator_params, load_for_inference
from seqrnn.memory import activation_floats, require, require_model
from seqrnn.lm import heldout_split, pretrained_language_model, start_from_language_model
from seqrnn.models import SentimentRNN
from seqrnn.preprocess import Vocabulary, build_and_encode, encode_texts
from seqrnn.wordvectors import vectors_for_vocabulary

TASK = "sentiment"
PREDICT_BATCH = 256  # reviews per batch when validating, evaluating and predicting, unless eval_batch_size says
IMDB_CLASSES = [0, 1]  # negative, positive: the classes of a model directory that names none


# --- checking what the user gives -----------------------------------------------------------------


def check_texts(X: Any, name: str = "X", allow_empty: bool = False) -> list[str]:
    """The texts of `X` as a list of strings, or a ValueError / TypeError naming the problem.

    `X` is a sequence of strings: a list, a tuple, a 1-D array or a pandas Series. Refused: a
    single string (it would be read as one text per character), a DataFrame or any 2-D array (name
    the column), missing values (None, NaN), anything that is not a string, and, unless
    `allow_empty`, texts that are empty or only whitespace (there is nothing to classify).
    """
    if isinstance(X, (str, bytes)):
        raise InvalidInputError(f"{name} is a single {'string' if isinstance(X, str) else 'bytes object'}; "
                                f"pass a list of texts, e.g. [text]")
    if hasattr(X, "columns"):
        columns = ", ".join(map(str, list(X.columns)[:5]))
        raise InvalidInputError(f"{name} is a DataFrame (columns: {columns}); pass its column of texts, "
                                f"e.g. df['review']")
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != 1:
        raise InvalidInputError(f"{name} must be a 1-D sequence of texts, got an array of shape {tuple(shape)}")
    if isinstance(X, dict) or not hasattr(X, "__iter__"):
        raise InvalidInputTypeError(f"{name} must be a sequence of texts, got {type(X).__name__}")
    texts = list(X)
    empty = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            if not allow_empty and not text.strip():
                empty.append(i)
            continue
        if _is_missing(text):
            raise InvalidInputError(f"{name}[{i}] is missing ({text!r}); drop or fill the missing texts first")
        raise InvalidInputTypeError(f"{name}[{i}] is a {type(text).__name__}, not a string: {text!r:.60}")
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        raise InvalidInputError(f"{name} holds {len(empty)} empty text(s) (at {shown}): there is nothing to classify "
                                "in them; drop them")
    return texts


def _is_missing(value: Any) -> bool:
    """None, NaN, pandas' NA and NaT."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def check_labels(y: Any, name: str = "y") -> np.ndarray:
    """`y` as a 1-D array of class labels, or a ValueError naming the problem.

    A column vector (n, 1) is flattened with scikit-learn's DataConversionWarning, as every
    scikit-learn classifier does; other 2-D labels, missing labels, continuous numbers (0.7) and
    labels of mixed kinds are refused.
    """
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise InvalidInputError(f"{name} is None: a classifier requires y to be passed, but the target y is None "
                                "(one label per text)")
    if isinstance(y, (str, bytes)):
        raise InvalidInputError(f"{name} is a single string; pass one label per text")
    try:
        labels = column_or_1d(y, warn=True)
    except ValueError as exc:
        raise InvalidInputError(f"{name}: {exc} (one label per text: a classifier predicts one class)") from None
    if labels.dtype.kind in "Of":
        for i, value in enumerate(labels.tolist()):
            if _is_missing(value):
                raise InvalidInputError(f"{name}[{i}] is missing ({value!r}); every text needs a label")
    try:
        check_classification_targets(labels)
    except ValueError as exc:
        raise InvalidInputError(f"{name}: {exc} Labels are classes: strings or whole numbers.") from None
    return labels


def class_indices(labels: np.ndarray, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """The index in `classes` of each label; labels outside `classes` are refused, named."""
    index = {c: i for i, c in enumerate(classes.tolist())}
    values = labels.tolist()
    unknown = sorted({repr(v) for v in values if v not in index})
    if unknown:
        raise InvalidInputError(f"{name} holds labels the model does not know: {', '.join(unknown[:5])} "
                                f"(its classes: {', '.join(map(repr, classes.tolist()))})")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def json_classes(classes: np.ndarray) -> list:
    """The classes as JSON values (NumPy's integers become ints, its strings strs)."""
    return [c.item() if isinstance(c, np.generic) else c for c in classes]


# --- the model's outputs ----------------------------------------------------------------------------


class EncodedReviews:
    """Token ids (n, seq_len), true lengths and class indices, padded on the side the model expects."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, targets: np.ndarray | None, pad: str):
        self.ids, self.lengths, self.targets, self.pad = ids, lengths, targets, pad

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, index: np.ndarray, device: torch.device):
        """A batch: ids trimmed to its longest review (right padding), lengths, class indices."""
        ids = self.ids[index]
        lengths = np.maximum(self.lengths[index], 1)  # a review with no words is one padding token
        if self.pad == "right":
            ids = ids[:, : lengths.max()]
            lengths_t = torch.as_tensor(lengths, device=device)
        else:  # the book's form: the whole left-padded row, the last step is the last token
            lengths_t = None
        targets = None if self.targets is None else torch.as_tensor(self.targets[index], device=device)
        return torch.as_tensor(ids, device=device), lengths_t, targets


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of `batch_size`, shortest rows first (less padding per batch)."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def predict_logits(model: SentimentRNN, data: EncodedReviews, device: torch.device,
                   batch_size: int | None = None) -> np.ndarray:
    """Logits for every review (none dropped), computed in batches of similar length: shape (n,) for
    two classes, (n, classes) for more."""
    out = np.empty((len(data),) if model.num_classes == 2 else (len(data), model.num_classes), dtype=np.float32)
    model.eval()
    with torch.no_grad():
        for index in length_sorted_batches(data.lengths, batch_size or PREDICT_BATCH):
            ids, lengths, _ = data.rows(index, device)
            out[index] = model(ids, lengths).float().cpu().numpy()
    return out


def classification_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy: binary on the one logit of two classes, softmax over more."""
    if logits.dim() == 1:
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))
    return F.cross_entropy(logits, targets)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities in float64 from `predict_logits`' logits."""
    logits = logits.astype(np.float64)
    if logits.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.stack([1.0 - p, p], axis=1)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def logit_metrics(logits: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Mean log-loss (nats) and accuracy of logits against class indices."""
    loss = classification_loss(torch.as_tensor(logits), torch.as_tensor(targets))
    predicted = (logits > 0).astype(np.int64) if logits.ndim == 1 else logits.argmax(axis=1)
    return {"loss": float(loss), "accuracy": float((predicted == targets).mean()) if len(targets) else float("nan")}


class ReviewTask:
    """Mini-batches of reviews for the shared training loop; bucketed by length when asked."""

    monitor = ("accuracy", "max")

    def __init__(self, train: EncodedReviews, val: EncodedReviews, batch_size: int, bucket: bool, seed: int,
                 device: torch.device, eval_batch_size: int | None = None):
        self.train, self.val = train, val
        self.batch_size, self.bucket, self.seed, self.device = batch_size, bucket, seed, device
        self.eval_batch_size = eval_batch_size
        self._epoch, self._batches = None, []

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.train) / self.batch_size)

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """A seeded shuffle per epoch; with bucketing, batches of similar length in shuffled order."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.train))
        if not self.bucket:
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(self.train.lengths[part], kind="stable")]
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def batch(self, epoch: int, index: int):
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self._epoch_batches(epoch)
        return self.train.rows(self._batches[index], self.device)

    def loss(self, model, batch, carry):
        ids, lengths, targets = batch
        return classification_loss(model(ids, lengths), targets), None, len(ids)

    def validate(self, model) -> dict[str, float]:
        return logit_metrics(predict_logits(model, self.val, self.device, self.eval_batch_size), self.val.targets)


# --- the estimator ------------------------------------------------------------------------------------


def _require_training_memory(config: SentimentConfig, vocab_size: int, num_classes: int, device) -> None:
    """Refuse, naming the option, a configuration whose model and batch need more memory than
    `device` has (`seqrnn.memory`)."""
    m, batch, seq_len = config.model, config.training.batch_size, config.data.seq_len
    directions = 2 if m.bidirectional else 1
    per_token = m.embed_size + activation_floats(m.cell, m.hidden_size, m.num_layers, directions)
    require_model(lambda: SentimentRNN(vocab_size, **config.to_dict()["model"], num_classes=num_classes),
                  {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "embed_size": m.embed_size}, device,
                  [(f"batch_size {batch} x seq_len {seq_len} (one batch's activations)",
                    batch * seq_len * per_token * 4, "lower batch_size or seq_len")])


class SentimentClassifier(ClassifierMixin, RecurrentEstimator):
    """A recurrent text classifier (many-to-one) with scikit-learn's estimator conventions.

    It reads texts (a list of strings, or a pandas Series), learns any labels (strings, integers or
    booleans; two classes or more) and predicts them: `fit`, `predict`, `predict_proba`,
    `decision_function`, `score`, `get_params`, `clone`, pipelines and cross-validation work as for
    any scikit-learn classifier. The book's task is the sentiment of movie reviews (IMDb: 0/1).

    Parameters
    ----------
    preset : {"default", "book"}
        Where every setting not given starts. ``"book"`` is the chapter's model exactly: 200 tokens,
        left-padded, embedding 256, LSTM 128, the last step, dropout 0.5, batch 100, Adam 1e-3, 40
        epochs. ``"default"`` is the best the project measured for a 2-core CPU (91.8% on IMDb after
        6 minutes, README): embedding 128 started from PPMI word vectors of the training and
        unlabelled texts, bidirectional LSTM 128, max+mean pooling, 400 tokens right-padded and
        bucketed by length, batch 64, AdamW 2e-3 with a cosine schedule, 6 epochs.
    **settings
        Every field of `seqrnn.config.SentimentConfig` (model: `cell`, `num_layers`, `hidden_size`,
        `dropout`, `embed_size`, `embed_dropout`, `bidirectional`, `pooling`; data: `seq_len`,
        `pad`, `bucket`, `min_count`, `max_vocab`, `val_fraction`, `limit`; training: `epochs`,
        `batch_size`, `lr`, `weight_decay`, `grad_clip`, `schedule`, `warmup_steps`,
        `final_lr_fraction`, `eval_every`, `seed`, `embed_init`). None (the default) takes the
        preset's value; `help(seqrnn.config.SentimentConfig)` and `seqrnn sentiment train --help`
        describe each, with both presets' values.
    max_minutes, checkpoint_every, skip_nonfinite, threads, device, quiet, eval_batch_size
        How a call runs (`seqrnn.config.RunOptions`), not part of the model: the training budget,
        checkpoints, the NaN guard, torch's CPU threads (set only while a call runs; None: all
        cores for `fit`, torch's setting for prediction), the device to train and predict on
        ("auto" = CUDA when present, "cpu", "cuda:1", "mps", ...), no progress output, and the
        batch size for prediction and validation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in `fit`, sorted; the columns of `predict_proba` are in this order.
    model_ : SentimentRNN
        The network with the best weights by validation accuracy.
    vocab_ : Vocabulary
        The words of the training texts (ids from 2; 0 is padding, 1 unknown).
    config_ : SentimentConfig
        The configuration trained with; a loaded model's `get_params()` returns it too.
    summary_ : dict
        How training ended (after `fit`): steps, seconds, why it stopped, the best validation.

    Examples
    --------
    >>> clf = SentimentClassifier(preset="default", seed=1).fit(texts, labels)     # doctest: +SKIP
    >>> clf.predict(["A wonderful film"]), clf.predict_proba(["A wonderful film"])  # doctest: +SKIP
    >>> clf.save("models/sent"); SentimentClassifier.load("models/sent")            # doctest: +SKIP
    """

    task = TASK
    config_class = SentimentConfig
    presets = SENTIMENT_PRESETS

    def fit(self, X, y, *, X_val=None, y_val=None, unlabelled=(), out_dir: str | Path | None = None,
            resume: bool = False, source: str | None = None) -> "SentimentClassifier":
        """Train on texts `X` with labels `y`.

        Parameters
        ----------
        X : sequence of str
            The training texts (a list, a 1-D array or a pandas Series; not a DataFrame, not one string).
        y : array-like of shape (n_texts,)
            Their labels: strings, integers or booleans, at least two classes.
        X_val, y_val : optional
            Held-out texts and labels to validate on (select the best weights by their accuracy).
            Given, all of `X` trains and `val_fraction` is not used; otherwise the seeded
            `val_fraction` of `X` is held out (0: select on the training texts themselves).
        unlabelled : sequence of str, optional
            Texts without labels; with `embed_init="ppmi"` the embedding starts from word vectors
            counted over the training texts and these (never the validation texts).
        out_dir : str or Path, optional
            Keep the run there (checkpoints, metrics, curves) so it can be resumed; otherwise it
            lives in a temporary directory.
        resume : bool
            Continue the run in `out_dir` from its checkpoint (same data, same classes).
        source : str, optional
            Where the data came from, recorded in config.json.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            Texts or labels that cannot be used, named: a single string, a DataFrame, missing or
            empty texts, non-string texts, 2-D, continuous or missing labels, a single class.
        """
        started = time.perf_counter()
        texts, labels = check_texts(X), check_labels(y)
        if len(texts) != len(labels):
            raise InvalidInputError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        if not texts:
            raise InvalidInputError("X holds no texts: there is nothing to train on")
        classes = _sorted_classes(labels)
        if len(classes) < 2:
            raise InvalidInputError(f"y holds a single class ({json_classes(classes)[0]!r}): a classifier needs at "
                                    "least 2 classes")
        targets = class_indices(labels, classes)
        if (X_val is None) != (y_val is None):
            raise InvalidInputError("give both X_val and y_val, or neither")
        if X_val is not None:
            val_texts, val_labels = check_texts(X_val, "X_val"), check_labels(y_val, "y_val")
            if len(val_texts) != len(val_labels):
                raise InvalidInputError(f"X_val has {len(val_texts)} texts but y_val has {len(val_labels)} labels")
            val_targets = class_indices(val_labels, classes, "y_val")
        with self._run_directory(out_dir, resume) as run:
            config = self._start_config(run, resume)
            if resume:
                saved = saved_classes(run.read_config(self.task))
                if saved != json_classes(classes):
                    raise InvalidInputError(f"cannot resume with the classes {json_classes(classes)}: the run in "
                                            f"{run.path} was started with {saved}")
            device = self._setup(config)
            data, training = config.data, config.training
            # the seeded shuffle, held-out texts first (`lm.heldout_split`: a language model trained with the
            # same seed holds out the same ones); given validation texts take their place
            kept, held_out = heldout_split(len(texts), training.seed, data.val_fraction if X_val is None else 0.0,
                                           data.limit)
            order = np.concatenate([held_out, kept])
            texts, targets, n_val = [texts[i] for i in order], targets[order], len(held_out)
            if X_val is not None:
                texts, targets, n_val = val_texts + texts, np.concatenate([val_targets, targets]), len(val_texts)
            val_index, train_index = np.arange(n_val), np.arange(n_val, len(texts))
            pretrained = None  # checked first: a wrong --init-from is named before any other problem
            if training.init_from and not resume:
                pretrained = pretrained_language_model(training.init_from, config, texts[:n_val])
            if len(np.unique(targets[train_index])) < 2:
                raise InvalidInputError("the training texts hold only one class once the validation texts are held "
                                        "out; at least 2 classes are needed")
            if len(train_index) < training.batch_size:
                raise InvalidInputError(f"only {len(train_index)} training texts, fewer than one batch of "
                                        f"{training.batch_size} (lower batch_size or add data)")
            require([(f"seq_len {data.seq_len} ({len(texts):,} texts x {data.seq_len:,} token ids)",
                      len(texts) * data.seq_len * 12, "lower seq_len")])  # ids, padding mask and index: CPU
            if resume or pretrained:
                vocab = pretrained.vocab_ if pretrained else Vocabulary.from_dict(run.read_vocab())
                ids, lengths = encode_texts(texts, vocab, data.seq_len, pad=data.pad)
            else:
                vocab, ids, lengths = build_and_encode(texts, data.seq_len, vocab_rows=train_index,
                                                       min_count=data.min_count, max_size=data.max_vocab or None,
                                                       pad=data.pad)
            if not resume:
                self.dataset_ = {"source": source, "train_reviews": len(train_index), "val_reviews": n_val,
                                 "unlabelled_reviews": len(unlabelled)}
            train = EncodedReviews(ids[train_index], lengths[train_index], targets[train_index], data.pad)
            # no held-out data: select on the training set itself
            val = EncodedReviews(ids[val_index], lengths[val_index], targets[val_index], data.pad) if n_val else train
            task = ReviewTask(train, val, training.batch_size, data.bucket, training.seed, device,
                              self.run_options().eval_batch_size)
            self.classes_ = classes
            _require_training_memory(config, len(vocab), len(classes), device)
            model = SentimentRNN(len(vocab), **config.to_dict()["model"], **self._model_extras())
            if pretrained:
                start_from_language_model(model, pretrained.model_)
            elif not resume and training.embed_init == "ppmi":
                corpus = [texts[i] for i in train_index] + list(unlabelled)
                vectors = vectors_for_vocabulary(corpus, vocab, config.model.embed_size, seed=training.seed)
                with torch.no_grad():
                    model.encoder.embedding.weight.copy_(torch.from_numpy(vectors))
            self.model_ = self._train(model, task, run, device, config, vocab, resume, started,
                                      plot=out_dir is not None)
        self.vocab_ = vocab
        return self

    # --- what a classifier carries besides its configuration -------------------------------------

    def _model_extras(self) -> dict[str, Any]:
        return {"num_classes": len(self.classes_)}

    def _facts(self) -> dict[str, Any]:
        return {"classes": json_classes(self.classes_)}

    def _restore_facts(self, saved: dict[str, Any]) -> None:
        classes = saved_classes(saved)
        if (not isinstance(classes, list) or len(classes) < 2 or len({type(c) for c in classes}) != 1
                or not isinstance(classes[0], (str, int, float, bool))):
            raise SeqrnnError(f"config.json: 'classes' must be a list of at least 2 labels of one kind, got {classes!r}")
        self.classes_ = np.array(classes)

    # --- using a trained model ------------------------------------------------------------------

    def _logits(self, X) -> np.ndarray:
        """Logits for the texts `X` (checked), on the `device` parameter's device."""
        self._check_fitted()
        texts = check_texts(X)
        data = self.config_.data
        if not texts:
            return np.zeros((0,) if len(self.classes_) == 2 else (0, len(self.classes_)), dtype=np.float32)
        with self._inference() as device:
            ids, lengths = encode_texts(texts, self.vocab_, data.seq_len, pad=data.pad)
            return predict_logits(self.model_, EncodedReviews(ids, lengths, None, data.pad), device,
                                  self.run_options().eval_batch_size)

    def decision_function(self, X) -> np.ndarray:
        """The model's logits for each text.

        Parameters
        ----------
        X : sequence of str
            Texts (not empty); long ones keep their last `seq_len` tokens.

        Returns
        -------
        ndarray of shape (n_texts,) for two classes, (n_texts, n_classes) for more
            Two classes: the logit of `classes_[1]` (positive: it is predicted). More: one logit
            per class, in `classes_` order.
        """
        return self._logits(X)

    def predict_proba(self, X) -> np.ndarray:
        """The probability of each class for each text.

        Parameters
        ----------
        X : sequence of str
            Texts (not empty); long ones keep their last `seq_len` tokens.

        Returns
        -------
        ndarray of shape (n_texts, n_classes)
            Columns in `classes_` order; rows sum to 1 (float64).
        """
        return probabilities(self._logits(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each text.

        Parameters
        ----------
        X : sequence of str
            Texts (not empty); long ones keep their last `seq_len` tokens.

        Returns
        -------
        ndarray of shape (n_texts,)
            Labels from `classes_` (of its dtype: IMDb's 0/1 are integers).
        """
        logits = self._logits(X)
        index = (logits > 0).astype(np.int64) if logits.ndim == 1 else logits.argmax(axis=1)
        return self.classes_[index]

    def evaluate(self, X, y) -> dict:
        """Accuracy, mean log-loss (nats) and count on labelled texts.

        Parameters
        ----------
        X : sequence of str
        y : array-like of labels, each one of `classes_`

        Returns
        -------
        dict
            ``{"accuracy": float, "loss": float, "n": int}``
        """
        self._check_fitted()
        labels = check_labels(y)
        targets = class_indices(labels, self.classes_)
        logits = self._logits(X)
        if len(logits) != len(targets):
            raise InvalidInputError(f"X has {len(logits)} texts but y has {len(targets)} labels")
        return {**logit_metrics(logits, targets), "n": int(len(targets))}

    @classmethod
    def load(cls, directory: str | Path) -> "SentimentClassifier":
        """A trained classifier from its model directory (written by `fit(out_dir=...)`, `save` or
        `seqrnn sentiment train`); its `get_params()` are the settings it was trained with."""
        return cls._load(directory, SentimentRNN, Vocabulary)


def saved_classes(saved: dict[str, Any]) -> Any:
    """The `classes` of a config.json; IMDb's [0, 1] for one written before classes were stored (it
    has no `config_format`), a one-line error for a later one without them."""
    if "classes" in saved:
        return saved["classes"]
    if "config_format" in saved:
        raise SeqrnnError("config.json has no 'classes': the labels this classifier predicts are unknown (was the "
                          "file edited?); restore it, or add the sorted labels it was trained with, e.g. "
                          '"classes": [0, 1]')
    return IMDB_CLASSES


def _sorted_classes(labels: np.ndarray) -> np.ndarray:
    """The distinct labels of an object array, sorted (scikit-learn's `unique_labels`)."""
    from sklearn.utils.multiclass import unique_labels

    try:
        return unique_labels(labels)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"y: {exc}") from None


def prediction_records(clf: SentimentClassifier, texts: list[str], *, all_classes: bool = True) -> list[dict]:
    """One record per text, as `predict --json` prints it and `serve` returns it: `label` (the
    predicted class), `probability` and, with `all_classes`, `probabilities` ({class: p}).

    `probability` is, for two classes, the probability of the second class (IMDb: positive), as the
    book's `1 0.9731` has always meant, so it reads the same whatever the label; for more classes,
    the probability of the predicted label."""
    proba = clf.predict_proba(texts)
    index = proba.argmax(axis=1)
    classes = json_classes(clf.classes_)
    records = []
    for row, k in zip(proba, index):
        p = row[1] if len(classes) == 2 else row[k]
        record = {"label": classes[k], "probability": round(float(p), 6)}
        if all_classes:
            record["probabilities"] = {str(c): round(float(q), 6) for c, q in zip(classes, row)}
        records.append(record)
    return records


# --- command line ---------------------------------------------------------------------------------


def read_labelled_data(target: str, split: str | None = None, text_column: str | None = None,
                       label_column: str | None = None, *, default_split: str = "test", with_unsup: bool = False):
    """(texts, labels, unlabelled texts) from what `--data` names.

    Your own labelled texts (a CSV, TSV or JSONL file, a folder of label subfolders; `data.read_labelled`)
    are read whole: they have no splits, and a `split` other than 'all' is refused. IMDb (the name
    `imdb`, an aclImdb directory or archive) gives its `split` ('train', 'test' or 'all'; None:
    `default_split`), and with `with_unsup` the unlabelled reviews too."""
    from seqrnn.data import labelled_format, read_imdb, read_labelled
    from seqrnn.datasets import resolve

    path = Path(target)
    if path.exists() and labelled_format(path) is not None:
        if split not in (None, "all"):
            raise SeqrnnError(f"{target}: your own labelled data has no {split} split; it is used whole (drop --split, "
                              "or hold out data with --val-data)")
        data = read_labelled(path, text_column, label_column)
        return data.texts, data.labels, []
    if text_column or label_column:
        raise SeqrnnError(f"{target}: --text-column and --label-column apply to CSV, TSV and JSONL files")
    split = split or default_split
    splits = None if split == "all" else (split,)
    reviews = read_imdb(resolve(target), splits=(*splits, "unsup") if with_unsup and splits else splits)
    keep = reviews.labels >= 0
    if not keep.any():
        wanted = "/".join(splits) if splits else "any"
        raise SeqrnnError(f"{target}: no labelled reviews in the {wanted} split (present: "
                          f"{', '.join(reviews.splits_present) or 'none'})")
    labelled = [t for t, k in zip(reviews.texts, keep) if k]
    unlabelled = [t for t, k in zip(reviews.texts, keep) if not k]
    return labelled, reviews.labels[keep], unlabelled


def train_command(args) -> int:
    columns = dict(text_column=args.text_column, label_column=args.label_column)
    texts, labels, unlabelled = read_labelled_data(args.data, default_split="train", with_unsup=True, **columns)
    val = {}
    if args.val_data:
        val_texts, val_labels, _ = read_labelled_data(args.val_data, **columns)
        val = {"X_val": val_texts, "y_val": val_labels}
    clf = SentimentClassifier(args.preset, **estimator_params(SentimentClassifier, args))
    # --limit N also keeps only the first N unlabelled reviews (small runs stay small)
    clf.fit(texts, labels, unlabelled=unlabelled[: args.limit], out_dir=args.out, resume=args.resume,
            source=args.data, **val)
    clf.print_summary(args.out, "accuracy {accuracy:.4f}")
    return 0


def evaluate_command(args) -> int:
    clf = load_for_inference(SentimentClassifier, args)
    texts, labels, _ = read_labelled_data(args.data, args.split, args.text_column, args.label_column)
    result = clf.evaluate(texts, labels)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f} on {result['n']} texts")
    return 0


def predict_command(args) -> int:
    """One line per input: `LABEL PROBABILITY` (see `prediction_records`), or with --json one object
    with every class's probability. Undecodable stdin bytes are replaced with U+FFFD. An empty input
    is refused before anything is printed: there is nothing to classify in it."""
    clf = load_for_inference(SentimentClassifier, args)
    if args.texts:
        texts, where = args.texts, "TEXT argument"
    else:
        stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
        texts, where = [line.rstrip("\r\n") for line in stdin], "stdin line"
    empty = [i for i, text in enumerate(texts, 1) if not text.strip()]
    if empty:
        raise SeqrnnError(f"{where} {empty[0]} is empty: there is nothing to classify in it"
                          + (" (remove blank lines, e.g. grep -v '^[[:space:]]*$')" if where == "stdin line" else ""))
    if not texts:
        return 0
    for record in prediction_records(clf, texts, all_classes=args.json):
        if args.json:
            print(json.dumps(record))
        else:
            print(f"{record['label']} {record['probability']:.4f}")
    return 0
