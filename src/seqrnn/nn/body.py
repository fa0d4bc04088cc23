"""The recurrent body: a stack of recurrent layers over the vectors of an input encoder.

The layers are PyTorch's fused `nn.LSTM` / `nn.GRU` / `nn.RNN` kernels, one single-layer module per
layer and direction, run on padded batches (on a CPU the packed-sequence path is several times
slower). Padding is handled exactly instead: sequences are right-padded, and the backward direction
of a bidirectional layer reads each sequence reversed within its own length (`reverse_padded`), so
what the body gives for a sequence does not depend on what else is in its batch. Dropout follows
every layer.

A unidirectional body carries its state from one call to the next (truncated backpropagation
through time: `detach_state` between windows), in PyTorch's stacked form: `(h, c)` of shape
(num_layers, batch, hidden) for an LSTM, `h` for the others.
"""

from __future__ import annotations

import torch
from torch import nn

from seqrnn.config import CELLS as CELL_NAMES
from seqrnn.nn.inputs import InputEncoder

CELLS = dict(zip(CELL_NAMES, (nn.LSTM, nn.GRU, nn.RNN)))


def make_rnn(cell: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    """One fused recurrent layer, batch first."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}: choose from {', '.join(CELLS)}")
    return CELLS[cell](input_size, hidden_size, batch_first=True)


def make_stack(cell: str, input_size: int, hidden_size: int, num_layers: int) -> nn.ModuleList:
    """`num_layers` single-layer recurrent modules, each reading the one below (for `run_layers`)."""
    return nn.ModuleList(make_rnn(cell, input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers))


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each right-padded sequence within its own length; padding stays at the end."""
    batch, steps = x.shape[:2]
    t = torch.arange(steps, device=x.device).expand(batch, steps)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t)
    if x.dim() == 3:
        index = index.unsqueeze(2).expand_as(x)
    return x.gather(1, index)


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


def detach_state(state):
    """Cut the graph between truncated-BPTT windows, keeping the values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class RecurrentBody(nn.Module):
    """An input encoder's vectors -> a stack of recurrent layers, exact under right padding.

    Parameters
    ----------
    inputs : TokenEmbedding, OneHot or NumericProjection
        The input encoder (`seqrnn.nn.inputs`) the body reads through; its `output_size` is the
        first layer's input size. It is held under its `key`, so its weights are named
        `embedding.*` or `projection.*` next to the layers' `forward_layers.{k}.*` and
        `backward_layers.{k}.*`.
    hidden_size : int
        Units per layer and direction.
    num_layers : int
        Recurrent layers, each reading the outputs of the one below.
    cell : str
        "lstm", "gru" or "rnn".
    dropout : float
        Drop probability after every layer.
    bidirectional : bool
        A second stack reads each sequence backward; the outputs of the two are concatenated
        (`output_size` is twice `hidden_size`), and every sequence starts from a zero state.
    input_dropout : float
        Drop probability on the input encoder's vectors.
    """

    def __init__(self, inputs: InputEncoder, hidden_size: int, num_layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, bidirectional: bool = False, input_dropout: float = 0.0):
        super().__init__()
        self.cell, self.bidirectional, self.input_key = cell, bidirectional, inputs.key
        self.add_module(inputs.key, inputs)
        self.input_dropout = nn.Dropout(input_dropout)
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):  # layer by layer, forward then backward: the order of the seeded weights
            size_in = inputs.output_size if layer == 0 else hidden_size * directions
            self.forward_layers.append(make_rnn(cell, size_in, hidden_size))
            if bidirectional:
                self.backward_layers.append(make_rnn(cell, size_in, hidden_size))
        self.dropout = nn.Dropout(dropout)
        self.output_size = hidden_size * directions

    @property
    def inputs(self) -> InputEncoder:
        """The input encoder in front of the layers."""
        return getattr(self, self.input_key)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters by depth, bottom first: the input encoder (if it has weights), then each
        recurrent layer (both directions together). Gradual unfreezing and discriminative learning
        rates act on these."""
        weights = list(self.inputs.parameters())
        groups = [weights] if weights else []
        for k, forward in enumerate(self.forward_layers):
            backward = self.backward_layers[k] if self.bidirectional else None
            groups.append(list(forward.parameters()) + (list(backward.parameters()) if backward else []))
        return groups

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The input encoder's vectors (batch, steps, size) in the layers' floating-point type,
        after input dropout."""
        x = self.inputs(inputs)
        dtype = self.forward_layers[0].weight_ih_l0.dtype
        if x.dtype != dtype:
            x = x.to(dtype)
        return self.input_dropout(x)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None, state=None):
        """Outputs (batch, steps, output_size) and the final state (None when bidirectional).

        `inputs` are what the input encoder reads, right-padded; `lengths` (the true length of
        each sequence) matter only to the backward direction."""
        x = self.embed(inputs)
        if self.bidirectional:
            if state is not None:
                raise ValueError("a bidirectional recurrent body starts every sequence from a zero state")
            if lengths is None:
                lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.long)
            lengths = lengths.to(inputs.device)
            for forward, backward in zip(self.forward_layers, self.backward_layers):
                out, _ = forward(x)
                back, _ = backward(reverse_padded(x, lengths))
                x = self.dropout(torch.cat([out, reverse_padded(back, lengths)], dim=2))
            return x, None
        return run_layers(self.forward_layers, x, state, self.dropout)
