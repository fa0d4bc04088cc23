"""What every sequence-level (many-to-one) task shares: padded id batches, the model's outputs for
every sequence, and the training loop's task with the loss and the held-out figures passed in.

A task that reads a sequence and gives one answer (a class, a number, ...) encodes its examples
into `EncodedSequences` (token ids, true lengths, targets), trains through `SequenceTask` with its
own loss (`classifier.classification_loss` for classes, a mean squared error for numbers) and
its own held-out figures (`metrics`), and predicts through `predict_outputs`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from seqrnn.progress import Progress

PREDICT_BATCH = 256  # sequences per batch when validating, evaluating and predicting, unless eval_batch_size says

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs, targets) -> the mean loss
Metrics = Callable[[np.ndarray, np.ndarray], dict]  # (outputs, targets) of the held-out sequences -> figures


class EncodedSequences:
    """Token ids (n, seq_len; the smallest unsigned type of the vocabulary, 2 bytes for up to 65,536
    words; int64 per batch), true lengths and targets (class indices, numbers, or None to
    predict), padded on the side the model expects (`pad`: "left" or "right")."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, targets: np.ndarray | None, pad: str):
        self.ids, self.lengths, self.targets, self.pad = ids, lengths, targets, pad

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray) -> "EncodedSequences":
        return type(self)(self.ids[index], self.lengths[index], None if self.targets is None else self.targets[index],
                          self.pad)

    def rows(self, index: np.ndarray, device: torch.device):
        """A batch: ids trimmed to its longest sequence (right padding), lengths, targets."""
        ids = self.ids[index]
        lengths = np.maximum(self.lengths[index], 1)  # a sequence with no tokens is one padding token
        if self.pad == "right":
            ids = ids[:, : lengths.max()]
            lengths_t = torch.as_tensor(lengths, device=device)
        else:  # the book's form: the whole left-padded row, the last step is the last token
            lengths_t = None
        targets = None if self.targets is None else torch.as_tensor(self.targets[index], device=device)
        return torch.as_tensor(ids.astype(np.int64), device=device), lengths_t, targets


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of `batch_size`, shortest rows first (less padding per batch)."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def predict_outputs(model: torch.nn.Module, data: EncodedSequences, device: torch.device,
                    batch_size: int | None = None, on_batch=None, quiet: bool = True) -> np.ndarray:
    """The model's outputs (`model(ids, lengths)`, float32) for every sequence, none dropped,
    computed in batches of similar length: shape (n,) for one output per sequence, (n, k) for k.
    `on_batch` is called after each batch (it may raise to stop); progress is shown unless `quiet`."""
    out = None
    model.eval()
    batches = length_sorted_batches(data.lengths, batch_size or PREDICT_BATCH)
    with torch.no_grad(), Progress("predict", len(data), "text", quiet=quiet) as progress:
        for index in batches:
            ids, lengths, _ = data.rows(index, device)
            outputs = model(ids, lengths).float().cpu().numpy()
            if out is None:
                out = np.empty((len(data), *outputs.shape[1:]), dtype=np.float32)
            out[index] = outputs
            progress.update(len(index))
            if on_batch is not None:
                on_batch()
    return np.empty(0, dtype=np.float32) if out is None else out


class SequenceTask:
    """Mini-batches of sequences for the shared training loop, bucketed by length when asked.

    `loss(outputs, targets)` is the mean loss of a batch; `metrics(outputs, targets)` gives the
    held-out figures (a "loss" among them), of which `monitor` ((name, "max" or "min")) picks the
    best weights. Validation reads at most `eval_batches` training batches' worth of the held-out
    sequences, the same seeded sample every time, `eval_batch_size` at a time."""

    def __init__(self, train: EncodedSequences, val: EncodedSequences, batch_size: int, bucket: bool, seed: int,
                 device: torch.device, eval_batch_size: int | None = None, eval_batches: int | None = None, *,
                 loss: Loss, metrics: Metrics, monitor: tuple[str, str]):
        self.train, self.batch_size, self.bucket, self.seed, self.device = train, batch_size, bucket, seed, device
        self.eval_batch_size = eval_batch_size or PREDICT_BATCH
        most = (eval_batches or 0) * batch_size
        self.val = val.subset(np.sort(np.random.default_rng([seed, 2]).permutation(len(val))[:most])) \
            if most and len(val) > most else val
        self.criterion, self.metrics, self.monitor = loss, metrics, monitor
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
        return self.criterion(model(ids, lengths), targets), None, len(ids)

    def validate(self, model, on_batch=None) -> dict[str, float]:
        outputs = predict_outputs(model, self.val, self.device, self.eval_batch_size, on_batch=on_batch)
        return self.metrics(outputs, self.val.targets)
