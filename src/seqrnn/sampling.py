"""Fast text generation from a trained `CharRNN`.

Generating one character at a time is dominated by per-call overhead, not arithmetic: a full
PyTorch forward per character (the book's way) spends most of its time dispatching a dozen small
ops. Here the recurrent step is NumPy in float64 on the model's own weights: the input projection
of every character is a precomputed table row, each layer is one small matrix product plus the
gate arithmetic, and K samples advance together as K rows. float64 and NumPy's PCG64 generator
make a seeded sample identical across processes and machines.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # exact identity, no overflow warnings


class RecurrentStepper:
    """One step of a trained CharRNN for a batch of streams, in NumPy float64."""

    def __init__(self, model: torch.nn.Module):
        sd = {k: v.detach().to("cpu", torch.float64).numpy() for k, v in model.state_dict().items()}
        rnn = model.rnn
        self.cell = model.cell
        self.num_layers = rnn.num_layers
        self.hidden_size = rnn.hidden_size
        self.relu = getattr(rnn, "nonlinearity", "tanh") == "relu"
        # layer 0's input projection for every character, biases folded in: a (vocab, gates) table
        w_ih0 = sd["rnn.weight_ih_l0"]
        inputs = sd["embedding.weight"] if "embedding.weight" in sd else np.eye(model.vocab_size)
        self.input_table = inputs @ w_ih0.T + sd["rnn.bias_ih_l0"]
        self.w_ih = [None] + [sd[f"rnn.weight_ih_l{k}"].T.copy() for k in range(1, self.num_layers)]
        self.b_ih = [None] + [sd[f"rnn.bias_ih_l{k}"] for k in range(1, self.num_layers)]
        self.w_hh = [sd[f"rnn.weight_hh_l{k}"].T.copy() for k in range(self.num_layers)]
        self.b_hh = [sd[f"rnn.bias_hh_l{k}"] for k in range(self.num_layers)]
        self.w_out = sd["head.weight"].T.copy()
        self.b_out = sd["head.bias"]

    def initial_state(self, streams: int) -> list:
        zeros = lambda: np.zeros((streams, self.hidden_size))  # noqa: E731
        if self.cell == "lstm":
            return [(zeros(), zeros()) for _ in range(self.num_layers)]
        return [zeros() for _ in range(self.num_layers)]

    def step(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """Logits for the next character of each stream after reading `ids`, and the new state."""
        H = self.hidden_size
        new_state = []
        x = None
        for k in range(self.num_layers):
            gx = self.input_table[ids] if k == 0 else x @ self.w_ih[k] + self.b_ih[k]
            if self.cell == "lstm":
                h, c = state[k]
                g = gx + h @ self.w_hh[k] + self.b_hh[k]  # PyTorch gate order: i, f, g, o
                i, f, o = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H]), _sigmoid(g[:, 3 * H:])
                c = f * c + i * np.tanh(g[:, 2 * H:3 * H])
                h = o * np.tanh(c)
                new_state.append((h, c))
            elif self.cell == "gru":
                h = state[k]
                gh = h @ self.w_hh[k] + self.b_hh[k]  # PyTorch gate order: r, z, n
                r = _sigmoid(gx[:, :H] + gh[:, :H])
                z = _sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
                n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1.0 - z) * n + z * h
                new_state.append(h)
            else:
                pre = gx + state[k] @ self.w_hh[k] + self.b_hh[k]
                h = np.maximum(pre, 0.0) if self.relu else np.tanh(pre)
                new_state.append(h)
            x = h
        return x @ self.w_out + self.b_out, new_state


def next_char_probabilities(logits: np.ndarray, temperature: float = 1.0, top_n: int | None = None,
                            top_p: float | None = None) -> np.ndarray:
    """Turn logits (streams, vocab) into the distribution to sample from.

    Temperature scales the logits; top-n keeps the n most probable characters (the book's
    `get_top_char`); top-p keeps the smallest most-probable set whose mass reaches p. Temperature 0
    is greedy: all mass on the most probable character.
    """
    if temperature == 0:
        probs = np.zeros_like(logits)
        probs[np.arange(len(logits)), logits.argmax(axis=1)] = 1.0
        return probs
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    vocab = probs.shape[1]
    if top_n is not None and top_n < vocab:
        cutoff = np.partition(probs, vocab - top_n, axis=1)[:, vocab - top_n][:, None]
        probs = np.where(probs >= cutoff, probs, 0.0)
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probs, axis=1, kind="stable")
        sorted_probs = np.take_along_axis(probs, order, axis=1)
        mass_before = np.cumsum(sorted_probs, axis=1) - sorted_probs
        keep_sorted = mass_before < top_p * sorted_probs.sum(axis=1, keepdims=True)
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=1)
        probs = np.where(keep, probs, 0.0)
    return probs / probs.sum(axis=1, keepdims=True)


def generate(model: torch.nn.Module, start_ids: np.ndarray, length: int, *, temperature: float = 1.0,
             top_n: int | None = None, top_p: float | None = None, seed: int | None = None,
             num_samples: int = 1) -> Iterator[np.ndarray]:
    """Yield `length` arrays of `num_samples` sampled character ids, one array per step.

    The start ids (at least one) prime the state; every stream reads the same start.
    """
    if len(start_ids) == 0:
        raise ValueError("generation needs at least one start character")
    stepper = RecurrentStepper(model)
    rng = np.random.default_rng(seed)
    state = stepper.initial_state(num_samples)
    for char_id in start_ids:
        logits, state = stepper.step(np.full(num_samples, char_id), state)
    for _ in range(length):
        probs = next_char_probabilities(logits, temperature, top_n, top_p)
        u = rng.random(num_samples)[:, None]
        ids = (np.cumsum(probs, axis=1) > u).argmax(axis=1)
        yield ids
        logits, state = stepper.step(ids, state)


def book_sample_loop(model: torch.nn.Module, start_ids: np.ndarray, length: int, top_n: int = 5,
                     seed: int = 0, emit: Callable[[int], None] | None = None) -> list[int]:
    """The straightforward sampler, as the book runs it: the full model once per character.

    Kept as the benchmark baseline (benchmarks/charlm.py), not used by the product.
    """
    rng = np.random.default_rng(seed)
    out: list[int] = []
    state = None
    model.eval()
    with torch.no_grad():
        for char_id in start_ids:
            logits, state = model(torch.tensor([[int(char_id)]]), state)
        for _ in range(length):
            p = torch.softmax(logits[0, -1], dim=0).numpy().astype(np.float64)
            p[np.argsort(p)[:-top_n]] = 0.0
            p = p / p.sum()
            char_id = int(rng.choice(len(p), p=p))
            out.append(char_id)
            logits, state = model(torch.tensor([[char_id]]), state)
    return out
