"""Sentiment analysis of movie reviews: a many-to-one recurrent classifier, its training and CLI.

The `book` preset is the chapter's model (left-padded 200 tokens, embedding 256, LSTM 128, the last
step, dropout 0.5, batch 100, Adam 1e-3, 40 epochs) without its bugs: every review starts from a
zero state, prediction covers every input, and the vocabulary comes from the training split only.
The `default` preset starts its embedding from word vectors counted over the training and unlabelled
reviews (`wordvectors`), reads longer, right-padded reviews in batches of similar length, in both
directions, and summarises them by max and mean pooling over the real tokens.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin

from seqrnn.config import SENTIMENT_PRESETS, SentimentConfig
from seqrnn.errors import SeqrnnError
from seqrnn.estimator import RecurrentEstimator, estimator_params
from seqrnn.lm import heldout_split, pretrained_language_model, start_from_language_model
from seqrnn.models import SentimentRNN
from seqrnn.preprocess import Vocabulary, build_and_encode, encode_texts
from seqrnn.wordvectors import vectors_for_vocabulary

TASK = "sentiment"
PREDICT_BATCH = 256


class EncodedReviews:
    """Token ids (n, seq_len), true lengths and labels, padded on the side the model expects."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray | None, pad: str):
        self.ids, self.lengths, self.labels, self.pad = ids, lengths, labels, pad

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, index: np.ndarray, device: torch.device):
        """A batch: ids trimmed to its longest review (right padding), lengths, labels."""
        ids = self.ids[index]
        lengths = np.maximum(self.lengths[index], 1)  # an empty review is one padding token
        if self.pad == "right":
            ids = ids[:, : lengths.max()]
            lengths_t = torch.as_tensor(lengths, device=device)
        else:  # the book's form: the whole left-padded row, the last step is the last token
            lengths_t = None
        labels = None if self.labels is None else torch.as_tensor(self.labels[index], dtype=torch.float32, device=device)
        return torch.as_tensor(ids, device=device), lengths_t, labels


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def predict_logits(model: SentimentRNN, data: EncodedReviews, device: torch.device) -> np.ndarray:
    """Logits for every review (none dropped), computed in batches of similar length."""
    out = np.empty(len(data), dtype=np.float32)
    model.eval()
    with torch.no_grad():
        for index in length_sorted_batches(data.lengths, PREDICT_BATCH):
            ids, lengths, _ = data.rows(index, device)
            out[index] = model(ids, lengths).float().cpu().numpy()
    return out


def logit_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    loss = F.binary_cross_entropy_with_logits(torch.as_tensor(logits), torch.as_tensor(labels, dtype=torch.float32))
    return {"loss": float(loss), "accuracy": float(((logits > 0) == (labels == 1)).mean())}


class ReviewTask:
    """Mini-batches of reviews for the shared training loop; bucketed by length when asked."""

    monitor = ("accuracy", "max")

    def __init__(self, train: EncodedReviews, val: EncodedReviews, batch_size: int, bucket: bool, seed: int,
                 device: torch.device):
        self.train, self.val = train, val
        self.batch_size, self.bucket, self.seed, self.device = batch_size, bucket, seed, device
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
        ids, lengths, labels = batch
        return F.binary_cross_entropy_with_logits(model(ids, lengths), labels), None, len(ids)

    def validate(self, model) -> dict[str, float]:
        return logit_metrics(predict_logits(model, self.val, self.device), self.val.labels)


class SentimentClassifier(ClassifierMixin, RecurrentEstimator):
    """A recurrent review classifier with scikit-learn estimator conventions (labels 0/1).

    `preset="book"` is the chapter's model (200 tokens left-padded, embedding 256, LSTM 128, the
    last step, dropout 0.5, batch 100, Adam 1e-3, 40 epochs); `"default"` the best measured for a
    2-core CPU (PPMI-started embedding, BiLSTM 128, max+mean pooling, 400 tokens, 6 epochs). Every
    setting of `seqrnn.config.SentimentConfig` is a keyword parameter (None = the preset's value),
    as are `max_minutes`, `threads` and `device`. After `fit`: `model_`, `vocab_`, `config_` (the
    resolved `SentimentConfig`), `classes_`, `summary_`.
    """

    task = TASK
    config_class = SentimentConfig
    presets = SENTIMENT_PRESETS

    def fit(self, X, y, *, unlabelled=(), out_dir: str | Path | None = None, resume: bool = False,
            source: str | None = None) -> "SentimentClassifier":
        """Train on review texts `X` with labels `y` (0/1). With `out_dir`, the run (checkpoints,
        metrics, curves) is kept there and can be resumed; otherwise it lives in a temporary directory.

        With `embed_init="ppmi"` the embedding starts from word vectors counted over the training
        reviews (never the validation ones) and the `unlabelled` review texts.
        """
        started = time.perf_counter()
        texts, labels = list(X), np.asarray(y, dtype=np.int64)
        if len(texts) != len(labels):
            raise SeqrnnError(f"got {len(texts)} reviews but {len(labels)} labels")
        if not np.isin(labels, (0, 1)).all():
            raise SeqrnnError("labels must be 0 (negative) or 1 (positive)")
        with self._run_directory(out_dir, resume) as run:
            config = self._start_config(run, resume)
            device = self._setup(config)
            data, training = config.data, config.training
            kept, held_out = heldout_split(len(texts), training.seed, data.val_fraction, data.limit)
            order = np.concatenate([held_out, kept])  # the seeded shuffle: held-out reviews first
            texts, labels = [texts[i] for i in order], labels[order]
            n_val = len(held_out)
            val_index, train_index = np.arange(n_val), np.arange(n_val, len(order))
            if len(np.unique(labels[train_index])) < 2:
                raise SeqrnnError("the training data holds only one class; both positive and negative reviews "
                                  "are needed")
            if len(train_index) < training.batch_size:
                raise SeqrnnError(f"only {len(train_index)} training reviews, fewer than one batch of "
                                  f"{training.batch_size} (lower batch_size or add data)")
            pretrained = None
            if training.init_from and not resume:
                pretrained = pretrained_language_model(training.init_from, config, texts[:n_val])
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
            train = EncodedReviews(ids[train_index], lengths[train_index], labels[train_index], data.pad)
            # no held-out data: select on the training set itself
            val = EncodedReviews(ids[val_index], lengths[val_index], labels[val_index], data.pad) if n_val else train
            task = ReviewTask(train, val, training.batch_size, data.bucket, training.seed, device)
            model = SentimentRNN(len(vocab), **config.to_dict()["model"])
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
        self.classes_ = np.array([0, 1])
        return self

    # --- using a trained model ------------------------------------------------------------------

    def decision_function(self, X) -> np.ndarray:
        """Logits of the positive class for every review (long reviews keep their last seq_len tokens)."""
        self._check_fitted()
        data = self.config_.data
        ids, lengths = encode_texts(list(X), self.vocab_, data.seq_len, pad=data.pad)
        return predict_logits(self.model_, EncodedReviews(ids, lengths, None, data.pad), torch.device("cpu"))

    def predict_proba(self, X) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X).astype(np.float64)))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int64)

    def evaluate(self, X, y) -> dict:
        """Accuracy, mean log-loss and count on labelled reviews."""
        labels = np.asarray(y, dtype=np.int64)
        return {**logit_metrics(self.decision_function(X), labels), "n": int(len(labels))}

    @classmethod
    def load(cls, directory: str | Path) -> "SentimentClassifier":
        """A trained classifier from its directory."""
        clf = cls._load(directory, SentimentRNN, Vocabulary)
        clf.classes_ = np.array([0, 1])
        return clf


# --- command line ---------------------------------------------------------------------------------


def _reviews(target: str, splits, with_unsup: bool = False):
    """Labelled review texts and their labels from `splits`, and the unlabelled texts (of the unsup
    split too, if `with_unsup`)."""
    from seqrnn.data import read_imdb
    from seqrnn.datasets import resolve

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
    texts, labels, unlabelled = _reviews(args.data, ("train",), with_unsup=True)
    clf = SentimentClassifier(args.preset, **estimator_params(SentimentClassifier, args))
    # --limit N also keeps only the first N unlabelled reviews (small runs stay small)
    clf.fit(texts, labels, unlabelled=unlabelled[: args.limit], out_dir=args.out, resume=args.resume,
            source=args.data)
    if not clf.ranks_.is_main:
        return 0
    best = clf.summary_["best"] or {}
    print(f"trained {clf.summary_['step']} steps in {clf.summary_['elapsed_s']:.0f} s ({clf.summary_['stopped']}); "
          f"best validation accuracy {best.get('accuracy', float('nan')):.4f} -> {args.out}")
    return 0


def evaluate_command(args) -> int:
    clf = SentimentClassifier.load(args.model)
    splits = None if args.split == "all" else (args.split,)
    texts, labels, _ = _reviews(args.data, splits)
    result = clf.evaluate(texts, labels)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f} on {result['n']} reviews")
    return 0


def predict_command(args) -> int:
    """One line per input: `LABEL PROBABILITY`. Undecodable stdin bytes are replaced with U+FFFD."""
    clf = SentimentClassifier.load(args.model)
    if args.texts:
        texts = args.texts
    else:
        stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
        texts = [line.rstrip("\n") for line in stdin]
    if not texts:
        return 0
    probs = clf.predict_proba(texts)[:, 1]
    for text, p in zip(texts, probs):
        label = int(p > 0.5)
        if args.json:
            print(json.dumps({"label": label, "probability": round(float(p), 6)}))
        else:
            print(f"{label} {p:.4f}")
    return 0
