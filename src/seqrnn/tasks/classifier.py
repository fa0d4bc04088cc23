"""Text classification: a many-to-one recurrent classifier for any labels (`TextClassifier`), the
book's sentiment analysis of movie reviews being one use of it (`SentimentClassifier`, the same
class under the book's name).

The `book` preset is the chapter's model (left-padded 200 tokens, embedding 256, LSTM 128, the last
step, dropout 0.5, batch 100, Adam 1e-3, 40 epochs) without its bugs: every review starts from a
zero state, prediction covers every input, and the vocabulary comes from the training split only.
The `default` preset starts its embedding from word vectors counted over the training and unlabelled
reviews (`wordvectors`), reads longer, right-padded reviews in batches of similar length, in both
directions, and summarises them by max and mean pooling over the real tokens. Beside the network
it trains a linear model of the same texts' words and word pairs (`seqrnn.nn.ngrams`; the setting
`ngram`), and predicts by combining the two: (1 - w) x the network's logits + w x the n-gram
model's, w in 0, 0.05, ..., 1 chosen on the held-out texts (`combination_weight`), so that on
them the default is at least as good as the better of the two. When those texts were held out of
the training texts (`val_fraction`; not `X_val`, which stays held out), the n-gram model then
learns from them too: it takes seconds, the network does not. Without held-out texts w is 0.5.
The n-gram model is saved as `ngrams.safetensors` in the model directory, its facts (kind, weight,
the held-out figures of the network, the n-gram model and the combination) in config.json's "ngram".

`class_weight="auto"` (the default preset's) weighs the loss by class, and keeps the weights of the
best held-out macro-F1 instead of accuracy, when the largest class has at least 3 times the
training texts of the smallest (`IMBALANCE_RATIO`); the n-gram model is weighted the same way.

Labels can be anything hashable that JSON can hold (strings, integers, booleans), two classes or
more: two keep the book's sigmoid head (one logit, of the second class), more get a softmax head.
The classes, sorted as scikit-learn sorts them (`classes_`), are stored in config.json; IMDb's are
[0, 1]. A model directory written before classes were stored (its config.json has no
`config_format`: only IMDb classifiers existed then) is read as IMDb's [0, 1]; a config.json of a
later version without `classes` is refused, since its labels cannot be known. The task's
name in config.json stays "sentiment", so model directories read the same under either name.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin

from seqrnn.config import CLASSIFIER_PRESETS, IMBALANCE_RATIO, SMALL_BATCH, ClassifierConfig
from seqrnn.data.checks import check_labels, check_texts, class_indices, json_classes, training_classes
from seqrnn.data.split import heldout_split
from seqrnn.errors import InvalidInputError, SeqrnnError, SeqrnnWarning
from seqrnn.memory import require
from seqrnn.nn.networks import SentimentRNN
from seqrnn.nn.ngrams import NgramScorer, WithNgrams, fit_ngram_scorer
from seqrnn.tasks.base import Prepared, RecurrentEstimator, vector_texts
from seqrnn.tasks.sequence import PREDICT_BATCH, EncodedSequences, SequenceTask, length_sorted_batches, predict_outputs
from seqrnn.tasks.wordlm import pretrained_language_model, start_from_language_model
from seqrnn.text.tokens import TokenizedTexts, as_tokens
from seqrnn.text.vocabulary import Vocabulary, build_vocabulary, encode_texts, smallest_dtype
from seqrnn.text.wordvectors import start_embedding
from seqrnn.training.rundir import load_tensors, save_tensors

TASK = "sentiment"
NGRAM_FILE = "ngrams.safetensors"  # the n-gram model's arrays in a model directory
NGRAM_MAX_TEXTS = 200_000  # the n-gram model learns from at most this many training texts (evenly spaced)
WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)  # the combination weights tried on the held-out texts
IMDB_CLASSES = [0, 1]  # negative, positive: the classes of a model directory that names none

# the sequence pieces under the names a classifier gives them (reviews, logits)
EncodedReviews = EncodedSequences
predict_logits = predict_outputs
__all__ = ["TextClassifier", "SentimentClassifier", "ClassificationTask", "ReviewTask", "EncodedReviews",
           "EncodedSequences", "length_sorted_batches", "predict_logits", "PREDICT_BATCH", "classification_loss",
           "classification_metrics", "probabilities", "predicted_indices", "logit_metrics", "macro_f1",
           "prediction_records", "probability_records", "saved_classes", "SmallDataWarning", "TASK"]


# --- the model's outputs ----------------------------------------------------------------------------


def classification_loss(logits: torch.Tensor, targets: torch.Tensor,
                        class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy: binary on the one logit of two classes, softmax over more. With
    `class_weight` (one weight per class), the mean weighted by each text's class weight (PyTorch's
    `cross_entropy(weight=...)`: sum of w_i * loss_i over sum of w_i), for both heads."""
    if logits.dim() == 1:
        if class_weight is None:
            return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))
        losses = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
        weights = class_weight.to(logits.dtype)[targets]
        return (weights * losses).sum() / weights.sum()
    return F.cross_entropy(logits, targets, weight=None if class_weight is None else class_weight.to(logits.dtype))


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities in float64 from `predict_logits`' logits."""
    logits = logits.astype(np.float64)
    if logits.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.stack([1.0 - p, p], axis=1)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def predicted_indices(logits: np.ndarray) -> np.ndarray:
    """The predicted class index of each row of `predict_logits`' logits."""
    return (logits > 0).astype(np.int64) if logits.ndim == 1 else logits.argmax(axis=1)


def logit_metrics(logits: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Mean log-loss (nats) and accuracy of logits against class indices."""
    loss = classification_loss(torch.as_tensor(logits), torch.as_tensor(targets))
    predicted = predicted_indices(logits)
    return {"loss": float(loss), "accuracy": float((predicted == targets).mean()) if len(targets) else float("nan")}


def macro_f1(logits: np.ndarray, targets: np.ndarray) -> float:
    """The mean over classes of each class's F1 (scikit-learn's macro average; a class never
    predicted scores 0)."""
    from sklearn.metrics import f1_score

    k = 2 if logits.ndim == 1 else logits.shape[1]
    return float(f1_score(targets, predicted_indices(logits), labels=np.arange(k), average="macro", zero_division=0))


def classification_metrics(logits: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """The held-out figures of a classifier: loss, accuracy and macro-F1."""
    return {**logit_metrics(logits, targets), "macro_f1": macro_f1(logits, targets)}


def class_weights(setting: str | None, targets: np.ndarray, k: int) -> np.ndarray | None:
    """One loss weight per class for the setting `class_weight` (None: every text counts the same).
    "balanced" is scikit-learn's n_texts / (k * class count); "auto" is "balanced" when the largest
    class has at least `IMBALANCE_RATIO` times the texts of the smallest, else None."""
    counts = np.bincount(targets, minlength=k)
    if setting == "balanced" or (setting == "auto" and counts.max() >= IMBALANCE_RATIO * max(counts.min(), 1)):
        return len(targets) / (k * np.maximum(counts, 1))
    return None


def training_batch_size(n_texts: int, batch_size: int, min_epoch_batches: int = 0) -> int:
    """The batch size of a run on `n_texts` training texts: `batch_size`, halved (not below
    `SMALL_BATCH`) while an epoch would have fewer than `min_epoch_batches` batches (fewer texts than
    that train as one batch of all of them). The default preset's 50 trains 900 texts in batches of 16,
    2,700 in batches of 32 and 3,200 or more in batches of 64: on 1,000 IMDb reviews, batches of 16
    gave the network 82.9% on 2,000 held-out reviews against 80.2% with 64 (Experiment log)."""
    size = batch_size
    while min_epoch_batches and size > SMALL_BATCH and n_texts < min_epoch_batches * size:
        size = max(size // 2, SMALL_BATCH)
    return size


def combination_weight(network: np.ndarray, ngrams: np.ndarray, targets: np.ndarray,
                       monitor: str) -> tuple[float, dict[str, dict[str, float]]]:
    """The weight w of the n-gram model's logits beside the network's ((1 - w) x network + w x
    n-grams) that scores best on held-out texts: the best `monitor` ("accuracy" or "macro_f1") over
    `WEIGHT_GRID`, the lower log-loss among equals, then the w nearest 0.5. Returns w and the
    held-out figures ({"network", "ngram", "combined"}: loss, accuracy, macro_f1)."""
    def figures(logits):
        return classification_metrics(logits, targets)

    scored = [(w, figures((1 - w) * network + w * ngrams)) for w in WEIGHT_GRID]
    w, best = max(scored, key=lambda item: (item[1][monitor], -item[1]["loss"], -abs(item[0] - 0.5)))
    return float(w), {"network": figures(network), "ngram": figures(ngrams), "combined": best}


class ClassificationTask(SequenceTask):
    """The classifier's `SequenceTask`: the classification loss, weighted by class when
    `class_weight` (one weight per class) is given, and `classification_metrics`.

    The best weights are those of the best accuracy, or, with class weights, of the best macro-F1:
    weighting the classes asks every class to count the same, and accuracy would pick the weights
    that favour the largest class again."""

    def __init__(self, train: EncodedSequences, val: EncodedSequences, batch_size: int, bucket: bool, seed: int,
                 device: torch.device, eval_batch_size: int | None = None, eval_batches: int | None = None,
                 class_weight: np.ndarray | None = None):
        self.class_weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32,
                                                                               device=device)
        super().__init__(train, val, batch_size, bucket, seed, device, eval_batch_size, eval_batches,
                         loss=functools.partial(classification_loss, class_weight=self.class_weight),
                         metrics=classification_metrics,
                         monitor=("accuracy", "max") if class_weight is None else ("macro_f1", "max"))


ReviewTask = ClassificationTask  # the same class under its reviews name


# --- the estimator ------------------------------------------------------------------------------------


@dataclass
class LabelledData:
    """What `fit` checked: texts with class indices, the validation texts given (or None), and
    unlabelled texts."""

    texts: list[str] | TokenizedTexts
    targets: np.ndarray
    val_texts: list[str] | TokenizedTexts | None
    val_targets: np.ndarray | None
    unlabelled: list[str]


class TextClassifier(ClassifierMixin, RecurrentEstimator):
    """A recurrent text classifier (many-to-one) with scikit-learn's estimator conventions.

    It reads texts (a list of strings, or a pandas Series), learns any labels (strings, integers or
    booleans; two classes or more) and predicts them: `fit`, `predict`, `predict_proba`,
    `decision_function`, `score`, `get_params`, `clone`, pipelines and cross-validation work as for
    any scikit-learn classifier. The book's task is the sentiment of movie reviews (IMDb: 0/1);
    `SentimentClassifier` is this class under the book's name.

    Parameters
    ----------
    preset : {"default", "book"}
        Where every setting not given starts. ``"book"`` is the chapter's model exactly: 200 tokens,
        left-padded, embedding 256, LSTM 128, the last step, dropout 0.5, batch 100, Adam 1e-3, 40
        epochs. ``"default"`` is the best measured for a 2-core CPU (92.6% on IMDb's held-out
        reviews in 17 minutes; see the sentiment results page): embedding 128 started from PPMI
        word vectors of the training and unlabelled texts, bidirectional LSTM 128, max+mean
        pooling, 1,000 tokens right-padded and bucketed by length, batch 64 (smaller for small
        data: `min_epoch_batches`), AdamW 2e-3 with a cosine schedule, 6 epochs, and an n-gram
        model combined with the network.
    **settings
        Every field of `seqrnn.config.ClassifierConfig` (model: `cell`, `num_layers`, `hidden_size`,
        `dropout`, `embed_size`, `embed_dropout`, `bidirectional`, `pooling`; data: `seq_len`,
        `pad`, `bucket`, `min_count`, `max_vocab`, `val_fraction`, `limit`; training: `epochs`,
        `batch_size`, `lr`, `weight_decay`, `grad_clip`, `schedule`, `warmup_steps`,
        `final_lr_fraction`, `eval_every`, `seed`, `embed_init`). None (the default) takes the
        preset's value; `help(seqrnn.config.ClassifierConfig)` and `seqrnn classify train --help`
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
    config_ : ClassifierConfig
        The configuration trained with; a loaded model's `get_params()` returns it too.
    summary_ : dict
        How training ended (after `fit`): steps, seconds, why it stopped, the best validation.

    Examples
    --------
    >>> clf = TextClassifier(preset="default", seed=1).fit(texts, labels)          # doctest: +SKIP
    >>> clf.predict(["A wonderful film"]), clf.predict_proba(["A wonderful film"])  # doctest: +SKIP
    >>> clf.save("models/sent"); TextClassifier.load("models/sent")                 # doctest: +SKIP
    """

    task = TASK
    config_class = ClassifierConfig
    model_class = SentimentRNN
    vocab_class = Vocabulary
    presets = CLASSIFIER_PRESETS

    def fit(self, X, y, *, X_val=None, y_val=None, unlabelled=(), out_dir: str | Path | None = None,
            resume: bool = False, source: str | None = None) -> "TextClassifier":
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
        texts, labels = check_texts(X), check_labels(y)
        if len(texts) != len(labels):
            raise InvalidInputError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        if not texts:
            raise InvalidInputError("X holds no texts: there is nothing to train on")
        classes = training_classes(labels)
        targets = class_indices(labels, classes)
        if (X_val is None) != (y_val is None):
            raise InvalidInputError("give both X_val and y_val, or neither")
        val_texts = val_targets = None
        if X_val is not None:
            val_texts, val_labels = check_texts(X_val, "X_val"), check_labels(y_val, "y_val")
            if len(val_texts) != len(val_labels):
                raise InvalidInputError(f"X_val has {len(val_texts)} texts but y_val has {len(val_labels)} labels")
            val_targets = class_indices(val_labels, classes, "y_val")
        self.classes_ = classes
        return self._fit(LabelledData(texts, targets, val_texts, val_targets, list(unlabelled)), out_dir, resume, source)

    def _check_resume(self, saved: dict[str, Any], run) -> None:
        classes = saved_classes(saved)
        if classes != json_classes(self.classes_):
            raise InvalidInputError(f"cannot resume with the classes {json_classes(self.classes_)}: the run in "
                                    f"{run.path} was started with {classes}")

    def _prepare(self, data: LabelledData, config: ClassifierConfig, vocab: Vocabulary | None) -> Prepared:
        settings, training = config.data, config.training
        tokens = as_tokens(data.texts)
        # the seeded shuffle, stratified by class, held-out texts first (`data.heldout_split`: a language
        # model trained with the same seed and labels holds out the same ones); given validation texts
        # take their place
        kept, held_out = heldout_split(len(tokens), training.seed,
                                       settings.val_fraction if data.val_texts is None else 0.0, settings.limit,
                                       data.targets)
        if data.val_texts is None:
            val_tokens, val_rows, val_targets = tokens, held_out, data.targets[held_out]
        else:
            val_tokens = as_tokens(data.val_texts)
            val_rows, val_targets = np.arange(len(val_tokens)), data.val_targets
        pretrained = None  # checked first: a wrong `init_from` is named before any other problem
        if training.init_from and vocab is None:
            pretrained = pretrained_language_model(training.init_from, config, val_tokens.digest(val_rows))
            vocab = pretrained.vocab_
        self._check_class_counts(data.targets[kept], held_out=len(held_out),
                                 limited=settings.limit is not None and settings.limit < len(tokens))
        batch_size = training_batch_size(len(kept), training.batch_size, training.min_epoch_batches)
        if len(kept) < batch_size:
            warnings.warn(f"only {len(kept)} training texts, fewer than one batch of {batch_size}: "
                          f"training on one batch of all {len(kept)}", SmallDataWarning, stacklevel=4)
        n = len(kept) + len(val_rows)
        require([(f"seq_len {settings.seq_len} ({n:,} texts x {settings.seq_len:,} token ids)",
                  n * settings.seq_len * 4, "lower seq_len")])  # the id matrices (filled a slice at a time)
        if vocab is None:  # the words of the training texts only
            vocab = build_vocabulary(tokens, kept, settings.min_count, settings.max_vocab or None)

        def encoded(source: TokenizedTexts, rows: np.ndarray, targets: np.ndarray) -> EncodedSequences:
            ids, lengths = encode_texts(source, vocab, settings.seq_len, pad=settings.pad,
                                        dtype=smallest_dtype(len(vocab)), rows=rows)
            return EncodedSequences(ids, lengths, targets, settings.pad)

        train = encoded(tokens, kept, data.targets[kept])
        val = encoded(val_tokens, val_rows, val_targets) if len(val_rows) else train  # none: select on training
        description = {"train_reviews": len(kept), "val_reviews": len(val_rows),
                       "unlabelled_reviews": len(data.unlabelled)}
        embedding_texts = ()
        if training.embed_init == "ppmi" and pretrained is None:
            embedding_texts = vector_texts(tokens, kept, data.unlabelled)
        return Prepared(vocab, train, val, description, start=pretrained, embedding_texts=embedding_texts,
                        val_from_train=data.val_texts is None)

    def _check_class_counts(self, targets: np.ndarray, held_out: int, limited: bool) -> None:
        """Every class needs at least 2 training texts: name the ones that have fewer."""
        counts = np.bincount(targets, minlength=len(self.classes_))
        rare = np.flatnonzero(counts < 2)
        if not len(rare):
            return
        classes = json_classes(self.classes_)
        if len(rare) == 1:
            c = rare[0]
            what = f"class {classes[c]!r} has {counts[c]} training text{'' if counts[c] == 1 else 's'}"
        else:
            named = ", ".join(f"{classes[c]!r} ({counts[c]})" for c in rare[:5]) + (", ..." if len(rare) > 5 else "")
            what = f"classes {named} have fewer than 2 training texts"
        validation = f"the {held_out} validation text{'s' if held_out > 1 else ''}"
        after = [part for part, yes in (("`limit`", limited), (validation, held_out)) if yes]
        raise InvalidInputError(what + (f" (after {' and '.join(after)})" if after else "")
                                + "; every class needs at least 2 to learn from: add texts of it, or drop it")

    def _start_weights(self, model: SentimentRNN, prepared: Prepared, config: ClassifierConfig) -> None:
        if prepared.start is not None:
            start_from_language_model(model, prepared.start.model_)
        elif config.training.embed_init == "ppmi":
            start_embedding(model.encoder.embedding, prepared.embedding_texts, prepared.vocab, config.training.seed)

    def _task(self, prepared: Prepared, config: ClassifierConfig, device: torch.device) -> ClassificationTask:
        self._require_training_memory(config, len(prepared.vocab), device, "seq_len")
        weights = class_weights(config.training.class_weight, prepared.train.targets, len(self.classes_))
        # small data: smaller batches; fewer texts than a batch: one batch of all of them (`_prepare` warned)
        training = config.training
        batch_size = min(training_batch_size(len(prepared.train), training.batch_size, training.min_epoch_batches),
                         len(prepared.train))
        options = self.run_options()
        return ClassificationTask(prepared.train, prepared.val, batch_size, config.data.bucket, config.training.seed,
                                  device, options.eval_batch_size, options.eval_batches, weights)

    def _new_model(self, vocab_size: int, config: ClassifierConfig) -> SentimentRNN:
        settings = {k: v for k, v in config.to_dict()["model"].items() if k != "ngram"}  # the n-gram model's own
        return self.model_class(vocab_size, **settings, **self._model_extras())

    def _after_training(self, prepared: Prepared, config: ClassifierConfig, run) -> None:
        """Fit the n-gram model on the training texts and choose its weight on the held-out ones
        (the module docstring); write both into the run's directory. Rank 0 only: the other ranks
        of a distributed run keep their last weights, not the best, and write nothing."""
        self.ngrams_ = self.ngram_ = None
        if config.model.ngram == "none" or not self.ranks_.is_main:
            return
        train, val, k = prepared.train, prepared.val, len(self.classes_)
        rows = np.arange(len(train))
        if len(rows) > NGRAM_MAX_TEXTS:
            rows = np.linspace(0, len(train) - 1, NGRAM_MAX_TEXTS).round().astype(np.int64)
        ids, targets = np.asarray(train.ids[rows]), train.targets[rows]
        weights = class_weights(config.training.class_weight, train.targets, k)
        monitor = "accuracy" if weights is None else "macro_f1"
        fit = functools.partial(fit_ngram_scorer, vocab_size=len(prepared.vocab), num_classes=k,
                                class_weight=weights, seed=config.training.seed)
        scorer = fit(ids, targets)
        if val is train:  # no held-out texts: nothing to choose the weight by
            weight, figures = 0.5, {}
        else:
            batch = self.run_options().eval_batch_size or PREDICT_BATCH
            network = predict_outputs(self.model_, val, torch.device("cpu"), batch, quiet=True)
            weight, figures = combination_weight(network, predict_outputs(scorer, val, torch.device("cpu"), batch),
                                                 val.targets, monitor)
            if prepared.val_from_train:  # the weight chosen, it learns from the texts held out of X as well
                ids, targets = np.concatenate([ids, np.asarray(val.ids)]), np.concatenate([targets, val.targets])
                scorer = fit(ids, targets)
        self.ngrams_ = scorer
        self.ngram_ = {"kind": scorer.kind, "C": scorer.C, "buckets": scorer.buckets, "weight": weight,
                       "chosen_by": monitor, "texts": len(ids), "validation": figures}
        self._write_extras(run.path)
        run.write_config(self.task, config.to_dict(), self.dataset_, **self._facts())

    # --- what a classifier carries besides its configuration -------------------------------------

    def _model_extras(self) -> dict[str, Any]:
        return {"num_classes": len(self.classes_)}

    def _facts(self) -> dict[str, Any]:
        facts = {"classes": json_classes(self.classes_)}
        if getattr(self, "ngram_", None):
            facts["ngram"] = self.ngram_
        return facts

    def _write_extras(self, directory: Path) -> None:
        path = directory / NGRAM_FILE
        if getattr(self, "ngrams_", None) is not None:
            save_tensors(path, self.ngrams_.state_dict())
        elif path.exists():
            path.unlink()

    def _read_extras(self, directory: Path, saved: dict[str, Any]) -> None:
        self.ngrams_ = self.ngram_ = None
        if self.config_.model.ngram == "none":
            return
        facts = saved.get("ngram")
        if not isinstance(facts, dict) or not isinstance(facts.get("weight"), (int, float)):
            raise SeqrnnError(f"{directory}: config.json has no n-gram model ('ngram') though its settings ask for "
                              "one; restore it, or train again")
        scorer = NgramScorer(len(self.vocab_), int(facts.get("buckets", 0)), len(self.classes_), facts.get("kind"))
        try:
            scorer.load_state_dict(load_tensors(directory / NGRAM_FILE)[0])
        except (RuntimeError, KeyError) as exc:
            raise SeqrnnError(f"{directory}: {NGRAM_FILE} does not match config.json ({str(exc).splitlines()[0]})") from None
        self.ngrams_, self.ngram_ = scorer.eval(), facts

    def _network(self, part: str = "combined") -> torch.nn.Module:
        """What predicts: the network and the n-gram model combined (when there is one), or either alone."""
        ngrams = getattr(self, "ngrams_", None)
        if ngrams is None or part == "network":
            return self.model_
        return ngrams if part == "ngram" else WithNgrams(self.model_, ngrams, self.ngram_["weight"])

    def _restore_facts(self, saved: dict[str, Any]) -> None:
        classes = saved_classes(saved)
        if (not isinstance(classes, list) or len(classes) < 2 or len({type(c) for c in classes}) != 1
                or not isinstance(classes[0], (str, int, float, bool))):
            raise SeqrnnError(f"config.json: 'classes' must be a list of at least 2 labels of one kind, got {classes!r}")
        self.classes_ = np.array(classes)

    # --- using a trained model ------------------------------------------------------------------

    def _logits(self, X, progress: bool = False, part: str = "combined") -> np.ndarray:
        """Logits for the texts `X` (checked), on the `device` parameter's device; with `progress`,
        shown (unless the `quiet` parameter says not to); `part`: see `_network`."""
        self._check_fitted()
        texts = check_texts(X)
        data = self.config_.data
        if not texts:
            return np.zeros((0,) if len(self.classes_) == 2 else (0, len(self.classes_)), dtype=np.float32)
        with self._inference() as device:
            ids, lengths = encode_texts(texts, self.vocab_, data.seq_len, pad=data.pad,
                                        dtype=smallest_dtype(len(self.vocab_)))
            options = self.run_options()
            return predict_outputs(self._network(part).to(device), EncodedSequences(ids, lengths, None, data.pad),
                                   device, options.eval_batch_size, quiet=not progress or options.quiet)

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
        index = predicted_indices(self._logits(X))  # checks first that the model is fitted
        return self.classes_[index]

    def evaluate(self, X, y) -> dict:
        """What the model gets right and wrong on labelled texts: accuracy and mean log-loss, each
        class's precision, recall, F1 and support, their macro and weighted averages, and the
        confusion matrix (`seqrnn.tasks.report.classification_summary`, scikit-learn's figures).

        Parameters
        ----------
        X : sequence of str
        y : array-like of labels, each one of `classes_`

        Returns
        -------
        dict
            ``accuracy``, ``loss`` (nats), ``n``, then ``classes``, ``per_class`` (one
            ``{"class", "precision", "recall", "f1", "support", "predicted"}`` per class, in
            `classes_` order), ``macro_avg``, ``weighted_avg``, ``confusion_matrix`` (rows: true
            class, columns: predicted) and ``warnings`` (sentences naming a class the model never
            predicted, or the one class it predicted for everything). With an n-gram model
            (setting ``ngram``), also ``parts`` (``{"network": ..., "ngram": ...}``, each alone:
            ``loss``, ``accuracy``, ``macro_f1``) and ``ngram_weight``. All JSON values;
            `seqrnn.tasks.report.format_report` lays them out as a table, `plot_confusion_matrix` draws
            the matrix.
        """
        from seqrnn.tasks.report import classification_summary

        self._check_fitted()
        labels = check_labels(y)
        targets = class_indices(labels, self.classes_)
        parts = {}
        if getattr(self, "ngrams_", None) is not None:  # each part alone, then mixed as `_network` mixes them
            parts = {part: self._logits(X, progress=part == "network", part=part) for part in ("network", "ngram")}
            w = self.ngram_["weight"]
            logits = (1 - w) * parts["network"] + w * parts["ngram"]
        else:
            logits = self._logits(X, progress=True)  # a whole labelled set: worth a progress bar
        if len(logits) != len(targets):
            raise InvalidInputError(f"X has {len(logits)} texts but y has {len(targets)} labels")
        if not len(targets):
            raise InvalidInputError("X holds no texts: there is nothing to evaluate")
        metrics = logit_metrics(logits, targets)
        classes = self.classes_
        summary = classification_summary(classes[targets], classes[predicted_indices(logits)], classes)
        report = {"accuracy": metrics["accuracy"], "loss": metrics["loss"], **summary}
        if parts:
            report["parts"] = {part: classification_metrics(z, targets) for part, z in parts.items()}
            report["ngram_weight"] = self.ngram_["weight"]
        return report


SentimentClassifier = TextClassifier  # the book's name for it


class SmallDataWarning(SeqrnnWarning):
    """Fewer training texts than one batch: `fit` trains on one batch of all of them."""


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


def format_parts(parts: dict[str, dict[str, float]], weight: float) -> str:
    """The line a report prints under the classifier's figures: what the network and the n-gram
    model score alone, and the weight that combines them."""
    def scores(m):
        return f"accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}"

    return (f"network alone: {scores(parts['network'])}; n-gram model alone: {scores(parts['ngram'])}; "
            f"combined with n-gram weight {weight:.2f}")


def prediction_records(clf: TextClassifier, texts: list[str], *, all_classes: bool = True,
                       name: str = "texts") -> list[dict]:
    """One record per text, as `predict --json` prints it and `serve` returns it: `label` (the
    predicted class), `probability` (the probability of that label) and, with `all_classes`,
    `probabilities` ({class: p}, every class).

    The texts are checked under `name` (the request field, the file or argument they came from),
    so that an error names what the user gave."""
    return probability_records(clf.predict_proba(check_texts(texts, name)), clf.classes_, all_classes=all_classes)


def probability_records(proba, classes, *, all_classes: bool = True) -> list[dict]:
    """The records of `prediction_records` from a classifier's `predict_proba` rows and its
    `classes_` (any classifier of seqrnn's: texts, series)."""
    proba = np.asarray(proba)
    index = proba.argmax(axis=1)
    classes = json_classes(classes)
    records = []
    for row, k in zip(proba, index):
        p = row[k]
        record = {"label": classes[k], "probability": round(float(p), 6)}
        if all_classes:
            record["probabilities"] = {str(c): round(float(q), 6) for c, q in zip(classes, row)}
        records.append(record)
    return records
