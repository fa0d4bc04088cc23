"""Heads: what a network gives from the recurrent body's outputs.

- `SequenceHead`: one output per sequence (many-to-one). The body's outputs are pooled over each
  sequence's own steps (the last step, the maximum, the mean, or maximum and mean side by side),
  then a linear layer gives k values: the logits of classes, or numbers to predict.
- `StepHead`: one output per step (many-to-many): the logits of the next token, or the next values
  of a series.
- `WordSoftmax`: the distribution over the next word of a large vocabulary (an adaptive softmax).

The first two are linear layers, so a network that holds one as its `head` has the weights
`head.weight` and `head.bias`.
"""

from __future__ import annotations

import torch
from torch import nn

from seqrnn.config import POOLINGS, SOFTMAXES


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}: choose from {', '.join(POOLINGS)}")


def pool(outputs: torch.Tensor, lengths: torch.Tensor, pooling: str, bidirectional: bool = False) -> torch.Tensor:
    """A summary of each right-padded sequence from the body's `outputs` (batch, steps, width):
    (batch, width), or (batch, 2 * width) for "maxmean". Padded steps take no part.

    "last" is the output at each sequence's last step; when `bidirectional`, the backward half is
    taken at step 0, where the backward direction has read the whole sequence."""
    batch, steps, width = outputs.shape
    if pooling == "last":
        last = outputs[torch.arange(batch, device=outputs.device), lengths - 1]
        if not bidirectional:
            return last
        half = width // 2
        return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=1)
    mask = (torch.arange(steps, device=outputs.device).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
    parts = []
    if pooling in ("max", "maxmean"):
        parts.append(outputs.masked_fill(~mask, float("-inf")).amax(dim=1))
    if pooling in ("mean", "maxmean"):
        parts.append((outputs * mask).sum(dim=1) / lengths.clamp(min=1).unsqueeze(1).to(outputs.dtype))
    return torch.cat(parts, dim=1)


class SequenceHead(nn.Linear):
    """Body outputs (batch, steps, `input_size`) and lengths -> (batch, `outputs`): one output per
    sequence, a linear layer over the pooled sequence (`pool`).

    Parameters
    ----------
    input_size : int
        The body's `output_size`.
    outputs : int
        Values per sequence: one logit per class (one in all for two classes, with a sigmoid), or
        the numbers to predict.
    pooling : str
        "last", "max", "mean" or "maxmean".
    bidirectional : bool
        Whether the body reads both ways (its outputs are forward half, backward half).
    """

    def __init__(self, input_size: int, outputs: int, pooling: str = "last", bidirectional: bool = False):
        check_pooling(pooling)
        super().__init__(input_size * (2 if pooling == "maxmean" else 1), outputs)
        self.pooling, self.bidirectional = pooling, bidirectional

    def forward(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return super().forward(pool(outputs, lengths, self.pooling, self.bidirectional))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pooling={self.pooling!r}"


class StepHead(nn.Linear):
    """Body outputs (batch, steps, `input_size`) -> (batch, steps, `outputs`): one output per step,
    the same linear layer at every step (the logits of the next token, or the next values)."""

    def __init__(self, input_size: int, outputs: int):
        super().__init__(input_size, outputs)


class WordSoftmax(nn.Module):
    """The distribution over the next word: an adaptive softmax (Grave et al. 2017: frequent words
    in a small head, rare ones in clusters of reduced width) or a full one. On 30,000 words the
    full softmax costs several times the recurrent layers; the adaptive one a fraction of it."""

    CUTOFFS = (2000, 10000)  # vocabulary ids sort by frequency, so the head holds the common words

    def __init__(self, hidden_size: int, vocab_size: int, kind: str = "adaptive"):
        super().__init__()
        if kind not in SOFTMAXES:
            raise ValueError(f"unknown softmax {kind!r}: choose from {', '.join(SOFTMAXES)}")
        cutoffs = [c for c in self.CUTOFFS if c < vocab_size - 1]
        self.adaptive = kind == "adaptive" and bool(cutoffs)
        if self.adaptive:
            self.out = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, cutoffs, div_value=4.0)
        else:
            self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood (nats) of `targets` (n,) given `hidden` (n, hidden_size)."""
        if self.adaptive:
            return self.out(hidden, targets).loss
        return nn.functional.cross_entropy(self.out(hidden), targets)

    def log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every word, (n, vocab_size)."""
        if self.adaptive:
            return self.out.log_prob(hidden)
        return torch.log_softmax(self.out(hidden), dim=-1)
