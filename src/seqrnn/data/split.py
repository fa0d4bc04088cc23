"""The held-out split: which labelled documents train and which select the model."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def heldout_split(n: int, seed: int, val_fraction: float, limit: int | None = None,
                  labels: Sequence | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices) of `n` labelled documents: a seeded shuffle, the first
    `limit` kept, `val_fraction` of those held out.

    With `labels` (one per document, any kind) the held-out share is stratified: each class gives
    its share in proportion (the largest remainders rounded up), at least one document when it has
    3 or more, and never so many that fewer than 2 stay to train on; so every class is validated
    on when it can be, and a rare class is not lost to training. Within a class the held-out
    documents are the first in the shuffle. The classifier and the word language model both split
    this way, with the same labels, so the same seed holds out the same reviews."""
    order = np.random.default_rng(seed).permutation(n)[:limit]
    n_val = int(round(len(order) * val_fraction))
    if labels is None or n_val == 0:
        return order[n_val:], order[:n_val]
    labels = np.asarray(labels)
    if len(labels) != n:
        raise ValueError(f"heldout_split: {len(labels)} labels for {n} documents")
    _, classes = np.unique(labels[order], return_inverse=True)
    take = _stratified_counts(np.bincount(classes), n_val)
    held = np.zeros(len(order), dtype=bool)
    for c, k in enumerate(take.tolist()):
        held[np.flatnonzero(classes == c)[:k]] = True
    return order[~held], order[held]


def _stratified_counts(counts: np.ndarray, n_val: int) -> np.ndarray:
    """How many of each class to hold out: about `n_val` in all, in proportion to `counts`, at least
    1 of a class of 3 or more, at most all but 2 of any class."""
    quota = counts * n_val / counts.sum()
    low, high = np.where(counts >= 3, 1, 0), np.maximum(counts - 2, 0)
    take = np.clip(np.floor(quota).astype(np.int64), low, high)
    while take.sum() < n_val and (take < high).any():  # the largest remainders get one more
        take[np.argmax(np.where(take < high, quota - take, -np.inf))] += 1
    while take.sum() > n_val and (take > low).any():  # the minimum of 1 took too many: from the most over
        take[np.argmax(np.where(take > low, take - quota, -np.inf))] -= 1
    return take
