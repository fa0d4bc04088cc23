"""The networks, each an input encoder, a recurrent body and a head (`seqrnn.nn.inputs`,
`seqrnn.nn.body`, `seqrnn.nn.heads`).

A network's `encoder` is its `RecurrentBody` with the input encoder in front; its `head` reads the
body's outputs. The kinds of sequence are combinations of the three:

| network | input encoder | body | head |
|---|---|---|---|
| `TextClassifierNetwork` (texts) | token embedding or one-hot | one or both directions | `SequenceHead`: pooled, classes |
| `CharLanguageNetwork` (text) | one-hot or token embedding | forward, state carried | `StepHead`: the next character |
| `WordLanguageNetwork` (text) | token embedding, shared | a forward and a backward stack | a `WordSoftmax` per direction |
| `SeriesClassifierNetwork` (numbers) | numeric projection | one or both directions | `SequenceHead`: pooled, classes |
| `StepNetwork` (e.g. forecasting) | any | forward, state carried | `StepHead`: the next value or token |

The text networks' weights are named `encoder.embedding.weight`, `encoder.forward_layers.{k}.*`,
`encoder.backward_layers.{k}.*`, `head.weight` and `head.bias` (the word model's: `embedding.weight`,
`forward_layers.{k}.*`, `forward_softmax.*`, and the same for `backward`), so one network can start
another's layers, and the NumPy sampler and the ONNX export read them by name.

The text networks and their encoder are also known as `SentimentRNN`, `CharRNN`, `WordLM` and
`RecurrentEncoder`.
"""

from __future__ import annotations

import torch
from torch import nn

from seqrnn.config import DIRECTIONS
from seqrnn.nn.body import RecurrentBody, make_stack, run_layers
from seqrnn.nn.heads import SequenceHead, StepHead, WordSoftmax, check_pooling
from seqrnn.nn.inputs import NumericProjection, TokenEmbedding, token_inputs


class TokenEncoder(RecurrentBody):
    """Token ids -> embedding (or one-hot, when `embed_size` is 0) -> recurrent body: the encoder of
    the text networks.

    The same encoder under the classifier and the character model, so their weights have the same
    names and one can start the other. `embedding` is None for one-hot input.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, embed_dropout: float = 0.0, bidirectional: bool = False,
                 padding_idx: int | None = None):
        super().__init__(token_inputs(vocab_size, embed_size, padding_idx), hidden_size, num_layers, cell, dropout,
                         bidirectional, input_dropout=embed_dropout)
        self.vocab_size = vocab_size
        if self.input_key != TokenEmbedding.key:
            self.embedding = None


def _check_classes(num_classes: int) -> None:
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")


class SequenceClassifierNetwork(nn.Module):
    """An encoder -> a pooled head -> logits: the many-to-one classifier of whatever the encoder reads.

    Two classes have one output, the logit of the second class (a sigmoid head); more classes have
    one logit each (a softmax head). The weights are named `encoder.*` and `head.*` either way.

    Parameters
    ----------
    encoder : RecurrentBody
        The input encoder and recurrent body (a `TokenEncoder`, or a `RecurrentBody` on any input
        encoder).
    pooling : str
        How the head summarizes each sequence: "last", "max", "mean" or "maxmean" (`pool`).
    num_classes : int
        At least 2.
    """

    def __init__(self, encoder: RecurrentBody, pooling: str = "last", num_classes: int = 2):
        super().__init__()
        check_pooling(pooling)
        _check_classes(num_classes)
        self.pooling, self.num_classes = pooling, num_classes
        self.encoder = encoder
        self.head = SequenceHead(encoder.output_size, 1 if num_classes == 2 else num_classes, pooling,
                                 encoder.bidirectional)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits: shape (batch,) for two classes (of the second one), (batch, num_classes) for more.

        `inputs` are right-padded, (batch, steps) token ids or (batch, steps, channels) values,
        with the true `lengths`; without them, the whole row is the sequence. Every sequence starts
        from a zero state."""
        if lengths is None:
            lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.long)
        lengths = lengths.to(inputs.device)
        outputs, _ = self.encoder(inputs, lengths)
        logits = self.head(outputs, lengths)
        return logits.squeeze(1) if self.num_classes == 2 else logits


class TextClassifierNetwork(SequenceClassifierNetwork):
    """Word ids -> embedding (or one-hot) -> recurrent body -> pooled head -> logits: the text
    classifier (reviews, labelled texts).

    `pooling="last"` with left-padded input and no lengths is the book's model; the other poolings
    (max, mean, maxmean) take right-padded input and the true `lengths`. Id 0 is padding: its
    embedding row stays zero.
    """

    def __init__(self, vocab_size: int, embed_size: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5, embed_dropout: float = 0.0,
                 bidirectional: bool = False, pooling: str = "last", num_classes: int = 2):
        check_pooling(pooling)
        _check_classes(num_classes)
        super().__init__(TokenEncoder(vocab_size, embed_size, hidden_size, num_layers, cell, dropout, embed_dropout,
                                      bidirectional, padding_idx=0), pooling, num_classes)


class SeriesClassifierNetwork(SequenceClassifierNetwork):
    """Numeric series -> linear projection per step -> recurrent body -> pooled head -> logits.

    Takes right-padded float values (batch, steps, `channels`) and the true `lengths`; a series'
    prediction does not depend on how its batch is padded.

    Parameters
    ----------
    channels : int
        Features per step.
    projection_size : int
        Width of the projection the body reads.
    hidden_size : int
        Units per layer and direction of the recurrent body.
    num_layers : int
        Recurrent layers.
    cell : str
        "lstm", "gru" or "rnn".
    dropout : float
        Drop probability after every recurrent layer.
    bidirectional : bool
        Whether a second stack reads each series backward.
    pooling : str
        How the head summarizes each series: "last", "max", "mean" or "maxmean".
    num_classes : int
        At least 2.
    """

    def __init__(self, channels: int, projection_size: int = 32, hidden_size: int = 64, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0, bidirectional: bool = False, pooling: str = "last",
                 num_classes: int = 2):
        check_pooling(pooling)
        _check_classes(num_classes)
        super().__init__(RecurrentBody(NumericProjection(channels, projection_size), hidden_size, num_layers, cell,
                                       dropout, bidirectional), pooling, num_classes)


class StepNetwork(nn.Module):
    """An encoder -> a head at every step: one output per step, the state carried from one call to
    the next (truncated backpropagation through time).

    On token ids it predicts the next token (`CharLanguageNetwork`); on a `NumericProjection` with
    `outputs` equal to the channels, the next values of a series.

    Parameters
    ----------
    encoder : RecurrentBody
        A unidirectional one: the state after a window starts the next.
    outputs : int
        Values per step.
    """

    def __init__(self, encoder: RecurrentBody, outputs: int):
        super().__init__()
        if encoder.bidirectional:
            raise ValueError("a network with an output per step reads forward only: a unidirectional body")
        self.encoder = encoder
        self.head = StepHead(encoder.output_size, outputs)

    def forward(self, inputs: torch.Tensor, state=None):
        """Outputs (batch, steps, outputs) and the state after the last step."""
        out, state = self.encoder(inputs, state=state)
        return self.head(out), state


class CharLanguageNetwork(StepNetwork):
    """Characters -> one-hot (or an embedding) -> recurrent body -> logits over the alphabet at
    every step.

    `forward` takes and returns the recurrent state, so truncated BPTT can carry it from one window
    of a stream to the next.
    """

    def __init__(self, vocab_size: int, embed_size: int = 0, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5):
        super().__init__(TokenEncoder(vocab_size, embed_size, hidden_size, num_layers, cell, dropout), vocab_size)

    def forward(self, tokens: torch.Tensor, state=None, targets: torch.Tensor | None = None,
                direction: str = "forward"):
        """Logits of shape (batch, steps, vocab) and the state after the last step; given `targets`
        (batch, steps), the mean loss (nats per character) in place of the logits, as the word
        model's `forward` gives it (`seqrnn.tasks.streams`). A character model reads forward only."""
        if direction != "forward":
            raise ValueError(f"a character model reads forward only, not {direction!r}")
        logits, state = super().forward(tokens, state)
        if targets is None:
            return logits, state
        return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()), state


class WordLanguageNetwork(nn.Module):
    """Word-level language models on one shared token embedding: a forward stack (predicts the next
    word), a backward stack (predicts the previous word, reading the stream reversed), or both,
    each with its own `WordSoftmax` head.

    The layers are shaped like a `TokenEncoder`'s first layer in that direction, so a classifier
    can start from them (`lm.pretrained_encoder_weights`). Dropout as in AWD-LSTM's simplest parts:
    on the embedded words and after every layer.
    """

    def __init__(self, vocab_size: int, embed_size: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.1, embed_dropout: float = 0.1, direction: str = "both",
                 softmax: str = "adaptive"):
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}: choose from {', '.join(DIRECTIONS)}")
        self.directions = self.directions_of(direction)
        self.embedding = TokenEmbedding(vocab_size, embed_size)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.dropout = nn.Dropout(dropout)
        for d in ("forward", "backward"):  # the names of a recurrent body's stacks
            used = d in self.directions
            setattr(self, f"{d}_layers", make_stack(cell, embed_size, hidden_size, num_layers * used))
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


# The names the tasks, the sampler and the export know these networks by.
RecurrentEncoder = TokenEncoder
SentimentRNN = TextClassifierNetwork
CharRNN = CharLanguageNetwork
WordLM = WordLanguageNetwork
