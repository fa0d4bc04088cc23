"""Input encoders: what a network reads, turned into one vector per step for the recurrent body.

Each takes a batch of right-padded sequences and gives vectors of shape (batch, steps, `output_size`):

- `TokenEmbedding`: token ids (batch, steps) through a learned table (words, or characters);
- `OneHot`: token ids as one-hot rows, as wide as the vocabulary (no weights);
- `NumericProjection`: per-step float features (batch, steps, channels) through a linear layer
  (numeric time series).

A network holds its input encoder inside its `encoder` under the encoder's `key`, so the weights
are named `encoder.embedding.weight` (tokens) or `encoder.projection.weight` and
`encoder.projection.bias` (numbers); a one-hot input has no weights.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenEmbedding(nn.Embedding):
    """Token ids (batch, steps) -> learned vectors (batch, steps, `embed_size`).

    An `nn.Embedding`, so word vectors can be copied into its `weight` (row `padding_idx`, if given,
    stays zero and learns nothing).
    """

    key = "embedding"

    def __init__(self, vocab_size: int, embed_size: int, padding_idx: int | None = None):
        super().__init__(vocab_size, embed_size, padding_idx=padding_idx)
        self.vocab_size = vocab_size

    @property
    def output_size(self) -> int:
        return self.embedding_dim


class OneHot(nn.Module):
    """Token ids (batch, steps) -> one-hot rows (batch, steps, `vocab_size`), no weights.

    The rows come as integers; the recurrent body takes them in its own floating-point type.
    """

    key = "one_hot"

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    @property
    def output_size(self) -> int:
        return self.vocab_size

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(tokens, self.vocab_size)

    def extra_repr(self) -> str:
        return f"{self.vocab_size}"


class NumericProjection(nn.Linear):
    """Float features (batch, steps, `channels`) -> vectors (batch, steps, `size`): a linear layer
    applied at every step, the numeric counterpart of a token embedding.

    Values of another floating-point type (float64 arrays, say) are taken in the layer's own type.
    Scale the features (zero mean, unit variance per channel, for instance) before they come here:
    the layer learns the mixing of channels, not their units.
    """

    key = "projection"

    def __init__(self, channels: int, size: int):
        if channels < 1 or size < 1:
            raise ValueError(f"a numeric projection needs at least 1 channel and 1 output, got {channels} and {size}")
        super().__init__(channels, size)
        self.channels = channels

    @property
    def output_size(self) -> int:
        return self.out_features

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if values.dim() != 3 or values.shape[2] != self.channels:
            raise ValueError(f"numeric input must be (batch, steps, {self.channels}), got {tuple(values.shape)}")
        return super().forward(values.to(self.weight.dtype))


InputEncoder = TokenEmbedding | OneHot | NumericProjection  # what a recurrent body reads from


def token_inputs(vocab_size: int, embed_size: int, padding_idx: int | None = None) -> TokenEmbedding | OneHot:
    """The input encoder of token ids: an embedding of `embed_size`, or one-hot rows when it is 0."""
    return TokenEmbedding(vocab_size, embed_size, padding_idx) if embed_size > 0 else OneHot(vocab_size)
