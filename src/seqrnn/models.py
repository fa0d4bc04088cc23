"""The two recurrent networks: a many-to-one sentiment classifier and a many-to-many char model.

Both run PyTorch's fused `nn.LSTM` / `nn.GRU` / `nn.RNN` kernels on padded batches (on this CPU the
packed-sequence path is several times slower). Padding is handled exactly instead: sequences are
right-padded, the backward direction of a bidirectional layer reads each sequence reversed within
its own length, and pooling ignores padded steps, so a review's prediction does not depend on what
else is in its batch.
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
POOLINGS = ("last", "max", "mean", "maxmean")


def make_rnn(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> nn.RNNBase:
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}: choose from {', '.join(CELLS)}")
    return CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each right-padded sequence within its own length; padding stays at the end."""
    batch, steps = x.shape[:2]
    t = torch.arange(steps, device=x.device).expand(batch, steps)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t)
    if x.dim() == 3:
        index = index.unsqueeze(2).expand_as(x)
    return x.gather(1, index)


class SentimentRNN(nn.Module):
    """Embedding -> recurrent layers -> summary of the sequence -> dense -> one logit.

    `pooling="last"` with left-padded input and no lengths is the book's model; the other poolings
    (max, mean, maxmean) take right-padded input and the true `lengths`.
    """

    def __init__(self, vocab_size: int, embed_size: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5, embed_dropout: float = 0.0,
                 bidirectional: bool = False, pooling: str = "last"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: choose from {', '.join(POOLINGS)}")
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.embed_dropout = nn.Dropout(embed_dropout)
        directions = 2 if bidirectional else 1
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for layer in range(num_layers):
            size_in = embed_size if layer == 0 else hidden_size * directions
            self.forward_layers.append(make_rnn(cell, size_in, hidden_size))
            if bidirectional:
                self.backward_layers.append(make_rnn(cell, size_in, hidden_size))
        self.dropout = nn.Dropout(dropout)
        summary = hidden_size * directions * (2 if pooling == "maxmean" else 1)
        self.head = nn.Linear(summary, 1)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the positive class, shape (batch,). Every sequence starts from a zero state."""
        if lengths is None:  # no padding information: the whole row is the sequence (the book's form)
            lengths = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long)
        lengths = lengths.to(tokens.device)
        x = self.embed_dropout(self.embedding(tokens))
        for i, rnn in enumerate(self.forward_layers):
            out, _ = rnn(x)
            if self.bidirectional:
                back, _ = self.backward_layers[i](reverse_padded(x, lengths))
                out = torch.cat([out, reverse_padded(back, lengths)], dim=2)
            x = self.dropout(out)
        return self.head(self._pool(x, lengths)).squeeze(1)

    def _pool(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, steps, width = outputs.shape
        if self.pooling == "last":
            last = outputs[torch.arange(batch, device=outputs.device), lengths - 1]
            if not self.bidirectional:
                return last
            half = width // 2  # the backward direction has read the whole sequence at step 0
            return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=1)
        mask = (torch.arange(steps, device=outputs.device).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
        parts = []
        if self.pooling in ("max", "maxmean"):
            parts.append(outputs.masked_fill(~mask, float("-inf")).amax(dim=1))
        if self.pooling in ("mean", "maxmean"):
            parts.append((outputs * mask).sum(dim=1) / lengths.clamp(min=1).unsqueeze(1).to(outputs.dtype))
        return torch.cat(parts, dim=1)


class CharRNN(nn.Module):
    """Characters (one-hot, or an embedding) -> recurrent layers -> dense over the alphabet.

    `forward` takes and returns the recurrent state, so truncated BPTT can carry it from one window
    of a stream to the next.
    """

    def __init__(self, vocab_size: int, embed_size: int = 0, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5):
        super().__init__()
        self.vocab_size = vocab_size
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed_size) if embed_size > 0 else None
        self.rnn = make_rnn(cell, embed_size or vocab_size, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            return self.embedding(tokens)
        return nn.functional.one_hot(tokens, self.vocab_size).to(self.head.weight.dtype)

    def forward(self, tokens: torch.Tensor, state=None):
        """Logits of shape (batch, steps, vocab) and the state after the last step."""
        out, state = self.rnn(self.embed(tokens), state)
        return self.head(self.dropout(out)), state


def detach_state(state):
    """Cut the graph between truncated-BPTT windows, keeping the values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
