"""Language modelling over one token stream: the truncated-BPTT training task and the held-out loss
that the character model and the word models share.

A stream (characters, or words with a separator before each document) is cut into `batch_size`
rows read in parallel, each continuing where the row above stopped (`reshape_stream`, the book's
`reshape_data`), and read in windows of `num_steps` tokens. The hidden state is carried from one
window to the next, detached between windows (truncated BPTT), and starts from zero at every
epoch. A model with a backward direction reads the same stream reversed.

`StreamEstimator` is the base of both language models' estimators: it gives their `StreamTask` its
run options and decides, by one rule, how many rows of a stream are evaluated at once.

Both language models take `model(tokens, targets=..., direction=..., state=...)` and return the
mean loss (nats per token) with the state after the window: the one call the task and the loss
make, so DistributedDataParallel sees every training step through `forward`.

The stream may be a memory map: windows are read from it as they are needed, so the corpus is
never held in memory as a whole.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from seqrnn.errors import SeqrnnError
from seqrnn.nn.body import detach_state
from seqrnn.progress import Progress
from seqrnn.tasks.base import RecurrentEstimator

Metrics = Callable[[dict[str, float]], dict[str, float]]


def reshape_stream(ids: np.ndarray, batch_size: int, num_steps: int, unit: str = "tokens"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The book's `reshape_data`: inputs x and targets y (x shifted by one), each cut into
    `batch_size` rows of equal length, a multiple of `num_steps` (views of `ids`, no copy).

    Row r continues where row r - 1 stopped, so hidden state can be carried across consecutive
    windows of a row. The stream needs `B*S*W + 1` ids for W windows of B rows by S steps; W is as
    large as possible, `(len(ids) - 1) // (B*S)` (the book's count too), and the last
    `(len(ids) - 1) % (B*S)` ids (fewer than one window's worth) are dropped. `unit` names the
    tokens in the error a too-short stream gets ("characters", "words").
    """
    if batch_size < 1:
        raise SeqrnnError(f"`batch_size` must be at least 1, got {batch_size}")
    if num_steps < 1:
        raise SeqrnnError(f"`num_steps` must be at least 1, got {num_steps}")
    per_window = batch_size * num_steps
    windows = (len(ids) - 1) // per_window if len(ids) else 0
    if windows < 1:
        raise SeqrnnError(f"a text of {len(ids)} {unit} is too short for `batch_size` {batch_size} x `num_steps` "
                          f"{num_steps} (one window needs {per_window + 1}); lower `batch_size` or `num_steps`")
    used = windows * per_window
    return ids[:used].reshape(batch_size, -1), ids[1 : used + 1].reshape(batch_size, -1)


def _directed(ids: np.ndarray, direction: str) -> np.ndarray:
    """The stream as `direction` reads it (a reversed view for backward)."""
    return ids if direction == "forward" else ids[::-1]


def _tensor(part: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(part, dtype=np.int64), device=device)


def stream_loss(model: torch.nn.Module, ids: np.ndarray, device: torch.device, direction: str = "forward",
                rows: int | None = None, window: int = 256, max_tokens: int | None = None,
                on_batch: Callable[[], None] | None = None, quiet: bool = True) -> tuple[float, int]:
    """Mean cross-entropy (nats per token) of predicting each token of the stream from the ones
    before it (backward: after it), and how many were predicted.

    The stream is cut into `rows` contiguous rows run in parallel, each from a zero state, in windows
    of `window` tokens with the state carried; the tokens left over at the end continue from the last
    row's final state, so every token after the first is predicted exactly once. With `max_tokens`,
    a longer stream is estimated instead on about that many tokens: `rows` segments spread evenly
    over it (the same ones every time). `on_batch` is called after each window (it may raise to
    stop); progress is shown unless `quiet`.
    """
    stream = _directed(ids, direction)
    n = len(stream) - 1
    if n < 1:
        return float("nan"), 0
    rows = max(1, min(rows or min(64, n // 2000), n))
    if max_tokens and n > max_tokens:
        length = max(1, max_tokens // rows)
        starts = np.linspace(0, n - length, rows).astype(np.int64)
        x = np.stack([stream[s : s + length] for s in starts])
        y = np.stack([stream[s + 1 : s + length + 1] for s in starts])
        n, tail = rows * length, 0
    else:
        length = n // rows
        x, y = stream[: rows * length].reshape(rows, length), stream[1 : rows * length + 1].reshape(rows, length)
        tail = n - rows * length
    total, state = 0.0, None
    with Progress(f"{direction} loss" if direction != "forward" else "loss", -(-length // window), "batch",
                  quiet=quiet) as progress:
        for start in range(0, length, window):
            targets = _tensor(y[:, start : start + window], device)
            loss, state = model(_tensor(x[:, start : start + window], device), targets=targets, direction=direction,
                                state=state)
            total += float(loss) * targets.numel()
            progress.update()
            if on_batch is not None:
                on_batch()
    if tail:
        last = tuple(s[:, -1:].contiguous() for s in state) if isinstance(state, tuple) else state[:, -1:].contiguous()
        loss, _ = model(_tensor(stream[rows * length : len(stream) - 1][None], device),
                        targets=_tensor(stream[rows * length + 1 :][None], device), direction=direction, state=last)
        total += float(loss) * tail
    return total / n, n


class StreamTask:
    """Truncated BPTT over `batch_size` parallel rows of a token stream, in each of `directions`,
    for the shared training loop; the loss is the mean over the directions.

    `metrics` turns the held-out loss of each direction ({"forward": nats, ...}) into the
    validation's figures (the character model adds bits per character, the word model perplexity);
    `eval_rows` rows of the held-out stream are evaluated at once (None: `stream_loss`'s choice),
    on at most `eval_batches` training batches' worth of it (`batch_size` x `num_steps` tokens
    each; 0 or None: the whole held-out stream).
    """

    monitor = ("loss", "min")

    def __init__(self, train_ids: np.ndarray, val_ids: np.ndarray, batch_size: int, num_steps: int,
                 device: torch.device, *, directions: Sequence[str] = ("forward",), metrics: Metrics,
                 eval_rows: int | None = None, eval_batches: int | None = None, unit: str = "tokens"):
        self.directions, self.num_steps, self.device = tuple(directions), num_steps, device
        self.val_ids, self.metrics, self.eval_rows = val_ids, metrics, eval_rows
        self.eval_tokens = (eval_batches or 0) * batch_size * num_steps
        self.rows = [reshape_stream(_directed(train_ids, d), batch_size, num_steps, unit) for d in self.directions]

    def batches_per_epoch(self) -> int:
        return self.rows[0][0].shape[1] // self.num_steps

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, ...]:
        """(x, y) of window `index` for each direction in turn: (batch_size, num_steps) each."""
        window = slice(index * self.num_steps, (index + 1) * self.num_steps)
        return tuple(_tensor(part[:, window], self.device) for pair in self.rows for part in pair)

    def loss(self, model, batch, carry):
        """The carry is the state of the one direction, or a tuple of one state per direction."""
        single = len(self.directions) == 1
        if single and isinstance(carry, tuple) and len(carry) == 1:  # a one-direction word model's checkpoint
            carry = carry[0]
        carry = (carry,) if single else carry or (None,) * len(self.directions)
        total, states = 0.0, []
        for k, direction in enumerate(self.directions):
            loss, state = model(batch[2 * k], targets=batch[2 * k + 1], direction=direction, state=carry[k])
            total = total + loss
            states.append(detach_state(state))
        return total / len(self.directions), states[0] if single else tuple(states), batch[0].numel()

    def validate(self, model, on_batch: Callable[[], None] | None = None) -> dict[str, float]:
        return self.metrics({d: stream_loss(model, self.val_ids, self.device, d, self.eval_rows,
                                            max_tokens=self.eval_tokens, on_batch=on_batch)[0]
                             for d in self.directions})


class StreamEstimator(RecurrentEstimator):
    """An estimator whose task is a language model over one token stream (its `data` settings
    have `num_steps`); `unit` names its tokens in messages."""

    unit = "tokens"
    default_eval_rows: int | None = None  # rows of a stream evaluated at once without `eval_batch_size`

    def _eval_rows(self) -> int | None:
        """Rows of a stream evaluated at once, in validation and in `evaluate` alike: the
        `eval_batch_size` run option, else the model's `default_eval_rows` (None: `stream_loss`'s
        choice)."""
        return self.run_options().eval_batch_size or self.default_eval_rows

    def _stream_options(self) -> dict:
        """The `StreamTask` keywords that come from the run options and the model: `eval_rows`,
        `eval_batches` and `unit`."""
        return {"eval_rows": self._eval_rows(), "eval_batches": self.run_options().eval_batches, "unit": self.unit}
