"""The recurrent networks: one encoder, and two heads on it (many-to-one reviews, many-to-many text).

Both run PyTorch's fused `nn.LSTM` / `nn.GRU` / `nn.RNN` kernels on padded batches (on a CPU the
packed-sequence path is several times slower). Padding is handled exactly instead: sequences are
right-padded, the backward direction of a bidirectional layer reads each sequence reversed within
its own length, and pooling ignores padded steps, so a review's prediction does not depend on what
else is in its batch.
"""

from __future__ import annotations

import torch
from torch import nn

from seqrnn.config import CELLS as CELL_NAMES, DIRECTIONS, POOLINGS, SOFTMAXES

CELLS = dict(zip(CELL_NAMES, (nn.LSTM, nn.GRU, nn.RNN)))


def make_rnn(cell: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    """One fused recurrent layer, batch first."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}: choose from {', '.join(CELLS)}")
    return CELLS[cell](input_size, hidden_size, batch_first=True)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each right-padded sequence within its own length; padding stays at the end."""
    batch, steps = x.shape[:2]
    t = torch.arange(steps, device=x.device).expand(batch, steps)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t)
    if x.dim() == 3:
        index = index.unsqueeze(2).expand_as(x)
    return x.gather(1, index)


class RecurrentEncoder(nn.Module):
    """Tokens -> embedding (or one-hot) -> a stack of recurrent layers, exact under right padding.

    Both models are an encoder plus a head, so their recurrent weights have the same names
    (`encoder.embedding.weight`, `encoder.forward_layers.{k}.weight_ih_l0`, ...) and one can start
    the other. Each layer is its own single-layer fused module, so a bidirectional layer can read
    each sequence reversed within its own length; dropout follows every layer.

    `state` (unidirectional only) is carried in PyTorch's stacked form: `(h, c)` of shape
    (num_layers, batch, hidden) for an LSTM, `h` for the others.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, embed_dropout: float = 0.0, bidirectional: bool = False,
                 padding_idx: int | None = None):
        super().__init__()
        self.vocab_size, self.cell, self.bidirectional = vocab_size, cell, bidirectional
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=padding_idx) if embed_size > 0 else None
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            size_in = (embed_size or vocab_size) if layer == 0 else hidden_size * directions
            self.forward_layers.append(make_rnn(cell, size_in, hidden_size))
            if bidirectional:
                self.backward_layers.append(make_rnn(cell, size_in, hidden_size))
        self.dropout = nn.Dropout(dropout)
        self.output_size = hidden_size * directions

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters by depth, bottom first: the embedding, then each recurrent layer (both
        directions together). Gradual unfreezing and discriminative learning rates act on these."""
        groups = [list(self.embedding.parameters())] if self.embedding is not None else []
        for k, forward in enumerate(self.forward_layers):
            backward = self.backward_layers[k] if self.bidirectional else None
            groups.append(list(forward.parameters()) + (list(backward.parameters()) if backward else []))
        return groups

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            return self.embed_dropout(self.embedding(tokens))
        weight = self.forward_layers[0].weight_ih_l0
        return self.embed_dropout(nn.functional.one_hot(tokens, self.vocab_size).to(weight.dtype))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None, state=None):
        """Outputs (batch, steps, output_size) and the final state (None when bidirectional).

        `lengths` (right padding) matters only to the backward direction."""
        x = self.embed(tokens)
        if self.bidirectional:
            if state is not None:
                raise ValueError("a bidirectional encoder starts every sequence from a zero state")
            if lengths is None:
                lengths = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long)
            lengths = lengths.to(tokens.device)
            for forward, backward in zip(self.forward_layers, self.backward_layers):
                out, _ = forward(x)
                back, _ = backward(reverse_padded(x, lengths))
                x = self.dropout(torch.cat([out, reverse_padded(back, lengths)], dim=2))
            return x, None
        return run_layers(self.forward_layers, x, state, self.dropout)


def run_layers(layers: nn.ModuleList, x: torch.Tensor, state, dropout: nn.Module):
    """A stack of single-layer recurrent modules, dropout after each: outputs and the final state
    in PyTorch's stacked form (`state` given in the same form, or None for zeros)."""
    finals = []
    for k, layer in enumerate(layers):
        out, final = layer(x, None if state is None else _layer_state(state, k))
        finals.append(final)
        x = dropout(out)
    return x, _stack_states(finals)


def _layer_state(state, k: int):
    if isinstance(state, tuple):
        return tuple(s[k : k + 1] for s in state)
    return state[k : k + 1]


def _stack_states(finals: list):
    if len(finals) == 1:
        return finals[0]
    if isinstance(finals[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*finals))
    return torch.cat(finals)


class SentimentRNN(nn.Module):
    """Encoder -> summary of the sequence -> dense -> logits: the many-to-one text classifier.

    `pooling="last"` with left-padded input and no lengths is the book's model; the other poolings
    (max, mean, maxmean) take right-padded input and the true `lengths`. Two classes (the book's
    sentiment) have one output, the logit of the second class (a sigmoid head); more classes have
    one logit each (a softmax head). The weights are named `encoder.*` and `head.*` either way.
    """

    def __init__(self, vocab_size: int, embed_size: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5, embed_dropout: float = 0.0,
                 bidirectional: bool = False, pooling: str = "last", num_classes: int = 2):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: choose from {', '.join(POOLINGS)}")
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.pooling, self.num_classes = pooling, num_classes
        self.encoder = RecurrentEncoder(vocab_size, embed_size, hidden_size, num_layers, cell, dropout,
                                        embed_dropout, bidirectional, padding_idx=0)
        self.head = nn.Linear(self.encoder.output_size * (2 if pooling == "maxmean" else 1),
                              1 if num_classes == 2 else num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits: shape (batch,) for two classes (of the second one), (batch, num_classes) for more.
        Every sequence starts from a zero state."""
        if lengths is None:  # no padding information: the whole row is the sequence (the book's form)
            lengths = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long)
        lengths = lengths.to(tokens.device)
        outputs, _ = self.encoder(tokens, lengths)
        logits = self.head(self._pool(outputs, lengths))
        return logits.squeeze(1) if self.num_classes == 2 else logits

    def _pool(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, steps, width = outputs.shape
        if self.pooling == "last":
            last = outputs[torch.arange(batch, device=outputs.device), lengths - 1]
            if not self.encoder.bidirectional:
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
    """Encoder over characters (one-hot, or an embedding) -> dense over the alphabet at every step.

    `forward` takes and returns the recurrent state, so truncated BPTT can carry it from one window
    of a stream to the next.
    """

    def __init__(self, vocab_size: int, embed_size: int = 0, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5):
        super().__init__()
        self.encoder = RecurrentEncoder(vocab_size, embed_size, hidden_size, num_layers, cell, dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor, state=None, targets: torch.Tensor | None = None,
                direction: str = "forward"):
        """Logits of shape (batch, steps, vocab) and the state after the last step; given `targets`
        (batch, steps), the mean loss (nats per character) in place of the logits, as the word
        model's `forward` gives it (`seqrnn.tasks.streams`). A character model reads forward only."""
        if direction != "forward":
            raise ValueError(f"a character model reads forward only, not {direction!r}")
        out, state = self.encoder(tokens, state=state)
        logits = self.head(out)
        if targets is None:
            return logits, state
        return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()), state


def detach_state(state):
    """Cut the graph between truncated-BPTT windows, keeping the values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


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


class WordLM(nn.Module):
    """Word-level language models on one shared embedding: a forward stack (predicts the next
    word), a backward stack (predicts the previous word, reading the stream reversed), or both,
    each with its own softmax.

    The layers are shaped like a `RecurrentEncoder`'s first layer in that direction, so a
    classifier can start from them (`lm.pretrained_encoder_weights`). Dropout as in AWD-LSTM's
    simplest parts: on the embedded words and after every layer.
    """

    def __init__(self, vocab_size: int, embed_size: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.1, embed_dropout: float = 0.1, direction: str = "both",
                 softmax: str = "adaptive"):
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}: choose from {', '.join(DIRECTIONS)}")
        self.directions = self.directions_of(direction)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.dropout = nn.Dropout(dropout)
        for d in ("forward", "backward"):  # the names of a RecurrentEncoder's stacks
            used = d in self.directions
            setattr(self, f"{d}_layers", nn.ModuleList(
                make_rnn(cell, embed_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers * used)))
            setattr(self, f"{d}_softmax", WordSoftmax(hidden_size, vocab_size, softmax) if used else None)

    @staticmethod
    def directions_of(direction: str) -> tuple[str, ...]:
        """The directions a `direction` setting trains: "both" is forward and backward."""
        return ("forward", "backward") if direction == "both" else (direction,)

    def layers(self, direction: str) -> nn.ModuleList:
        return getattr(self, f"{direction}_layers")

    def softmax(self, direction: str) -> WordSoftmax:
        return getattr(self, f"{direction}_softmax")

    def hidden(self, tokens: torch.Tensor, direction: str, state=None):
        """The top layer's outputs (batch, steps, hidden) and the final state of `direction`'s stack."""
        x = self.embed_dropout(self.embedding(tokens))
        return run_layers(self.layers(direction), x, state, self.dropout)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor, direction: str = "forward", state=None):
        """Mean loss (nats per word) of `targets` given `tokens` (both (batch, steps)), and the state."""
        out, state = self.hidden(tokens, direction, state)
        return self.softmax(direction)(out.flatten(0, 1), targets.flatten()), state
