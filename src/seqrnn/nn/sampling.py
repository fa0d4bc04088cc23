"""Text generation: the sampling loop both language models share, the fast NumPy step of a trained
`CharLanguageNetwork`, and the sampling options every front end shares.

Generating one character at a time is dominated by per-call overhead, not arithmetic: a full
PyTorch forward per character (the book's way) spends most of its time dispatching a dozen small
ops. Here the recurrent step is NumPy on the model's own weights: the input projection of every
character is a precomputed table row, each layer is one small matrix product plus the gate
arithmetic, and K samples advance together as K rows. With NumPy's PCG64 generator a seeded sample
is identical across processes. The step runs in float32, the precision the model was trained in
(float64 doubles the memory each step reads, and is slower for it); on a CPU whose vector kernels
round differently, a last-bit difference can in rare cases change a character, which
`precision="float64"` makes vanishingly unlikely.

`effective_top_n` and `check_sampling_options` are the one place the command line, the library and
the server take their sampling defaults and limits from.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
from typing import Callable, Iterator

import numpy as np
import torch

from seqrnn.errors import SeqrnnError

DEFAULT_TOP_N = 5  # the book's top-n: sample among the 5 most probable characters
DEFAULT_SEED = 123  # char-rnn's default seed: the same command gives the same text (None: fresh randomness)
MIN_TEMPERATURE = 1e-6  # below it (but above 0) the scaled logits overflow; such a temperature is greedy in effect
MAX_HELD_CHARS = 10**8  # characters held in memory until printed (all samples together); streaming has no limit


def effective_top_n(top_n: int | None, top_p: float | None) -> int | None:
    """The top-n to sample with (None: no cut): `top_n` when given, 0 meaning no cut; else none when
    `top_p` is given (nucleus sampling alone), else the book's `DEFAULT_TOP_N`."""
    if top_n is not None:
        return top_n or None
    return None if top_p is not None else DEFAULT_TOP_N


def check_sampling_options(*, length: int = 1, temperature: float = 1.0, top_n: int | None = None,
                           top_p: float | None = None, num_samples: int = 1, held: bool = False,
                           stream_bytes: int | None = None) -> None:
    """Refuse options the sampler cannot honour with a one-line `SeqrnnError` naming the parameter.

    length and num_samples are integers >= 1; top_n is None (the default rule) or an integer >= 0
    (0: no cut); temperature is 0 (greedy) or a finite number >= `MIN_TEMPERATURE`; top_p is None
    or a number in (0, 1]. NaN and infinity are refused. With `held` (the samples are kept until the end, not
    streamed), length x num_samples is at most `MAX_HELD_CHARS`: more would run silently for long
    and may not fit in memory, while a stream has no limit. With `stream_bytes` (the sampler's
    memory per sample, `sampler_bytes_per_stream`), num_samples must fit in the memory available.
    """
    counts = {"length": length, "top_n": top_n, "num_samples": num_samples}
    for name, value in counts.items():
        if value is None and name == "top_n":
            continue
        least = 0 if name == "top_n" else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise SeqrnnError(f"{name} must be an integer of at least {least}, got {value!r}"
                              + (" (0: no cut)" if name == "top_n" else ""))
    if not _is_real(temperature) or not (math.isfinite(temperature) and temperature >= 0):
        raise SeqrnnError(f"temperature must be a finite number of 0 or more, got {temperature!r}")
    if 0 < temperature < MIN_TEMPERATURE:
        raise SeqrnnError(f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE:g}, got {temperature!r} (a "
                          "smaller one overflows the scaled logits, and is greedy in effect)")
    if top_p is not None and not (_is_real(top_p) and 0.0 < top_p <= 1.0):
        raise SeqrnnError(f"top_p must be a number in (0, 1], got {top_p!r}")
    if held and length * num_samples > MAX_HELD_CHARS:
        raise SeqrnnError(f"length x num_samples is {length * num_samples:,} characters, more than the "
                          f"{MAX_HELD_CHARS:,} that are held in memory until printed; stream one sample instead "
                          "(--stream, or sample_stream), or ask for fewer")
    if stream_bytes is not None:
        from seqrnn.memory import require

        require([(f"num_samples {num_samples} (the sampler's state and probabilities for each)",
                  num_samples * stream_bytes, "draw fewer samples at once")])


def sampler_bytes_per_stream(model: torch.nn.Module) -> int:
    """The memory `generate` needs per sample drawn together, a lower bound: each layer's state and
    gate buffers (float32), and a few float64 rows of the vocabulary's probabilities."""
    encoder = model.encoder
    rnn = encoder.forward_layers[0]
    layers, hidden = len(encoder.forward_layers), rnn.hidden_size
    vocab = model.head.out_features
    return 4 * layers * hidden * (10 if encoder.cell == "lstm" else 5) + 8 * 3 * vocab


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class RecurrentStepper:
    """One step of a trained `CharLanguageNetwork` for a batch of streams, in NumPy (float32 by default).

    Both biases are folded into one, layer 0's input projection is a (vocab, gates) table, and for
    the LSTM the rows of the i, f, o gates are pre-scaled by 1/2 so that a single `tanh` over all
    gates yields both tanh(g) and sigmoid(x) = (1 + tanh(x/2)) / 2 (scaling by 2^-1 is exact).
    """

    def __init__(self, model: torch.nn.Module, precision: str = "float32"):
        sd = {k: v.detach().to("cpu", torch.float64).numpy() for k, v in model.state_dict().items()}
        self.dtype = np.dtype(precision)
        encoder = model.encoder
        rnn = encoder.forward_layers[0]
        self.cell = encoder.cell
        self.num_layers = len(encoder.forward_layers)
        H = self.hidden_size = rnn.hidden_size
        self.relu = getattr(rnn, "nonlinearity", "tanh") == "relu"
        gate_scale = 1.0
        if self.cell == "lstm":  # PyTorch gate order i, f, g, o: halve the rows of i, f, o
            gate_scale = np.full(4 * H, 0.5)
            gate_scale[2 * H : 3 * H] = 1.0
        self.w_ih, self.w_hh, self.bias, self.b_hn = [], [], [], []
        inputs = sd.get("encoder.embedding.weight")
        for k in range(self.num_layers):
            layer = f"encoder.forward_layers.{k}"
            w_ih, w_hh = sd[f"{layer}.weight_ih_l0"], sd[f"{layer}.weight_hh_l0"]
            b_ih, b_hh = sd[f"{layer}.bias_ih_l0"], sd[f"{layer}.bias_hh_l0"]
            if self.cell == "gru":  # r and z take both biases; n keeps b_hn inside r * (W_hn h + b_hn)
                b_x = b_ih + np.concatenate([b_hh[: 2 * H], np.zeros(H)])
                self.b_hn.append(b_hh[2 * H :])
            else:
                b_x = b_ih + b_hh
            if k == 0:  # the input projection of every character, bias included
                table = (w_ih.T if inputs is None else inputs @ w_ih.T) + b_x
                self.w_ih.append(table * gate_scale)
                self.bias.append(None)
            else:
                self.w_ih.append(w_ih.T * gate_scale)
                self.bias.append(b_x * gate_scale)
            self.w_hh.append(w_hh.T * gate_scale)
        self.w_out = sd["head.weight"].T.copy()
        self.b_out = sd["head.bias"]
        # the tables are built in float64 above, then stored in the working precision
        cast = lambda arrays: [None if a is None else a.astype(self.dtype) for a in arrays]  # noqa: E731
        self.w_ih, self.w_hh, self.bias = cast(self.w_ih), cast(self.w_hh), cast(self.bias)
        self.b_hn = cast(self.b_hn)
        self.w_out, self.b_out = cast([self.w_out, self.b_out])

    def initial_state(self, streams: int | None) -> list:
        """Zero state for `streams` streams, or for one stream as 1-D vectors when None."""
        shape = (self.hidden_size,) if streams is None else (streams, self.hidden_size)
        zeros = lambda: np.zeros(shape, self.dtype)  # noqa: E731
        if self.cell == "lstm":
            return [(zeros(), zeros()) for _ in range(self.num_layers)]
        return [zeros() for _ in range(self.num_layers)]

    def step(self, ids, state: list) -> tuple[np.ndarray, list]:
        """Logits for the next character of each stream after reading `ids` (an int for one
        1-D stream), and the new state."""
        H = self.hidden_size
        new_state = []
        x = None
        for k in range(self.num_layers):
            gx = self.w_ih[0][ids] if k == 0 else x @ self.w_ih[k] + self.bias[k]
            if self.cell == "lstm":
                h, c = state[k]
                t = h @ self.w_hh[k]
                t += gx
                np.tanh(t, out=t)  # tanh(i/2), tanh(f/2), tanh(g), tanh(o/2)
                s = t * 0.5
                s += 0.5  # sigmoid(i), sigmoid(f), -, sigmoid(o)
                c = s[..., H : 2 * H] * c
                c += s[..., :H] * t[..., 2 * H : 3 * H]  # C_t = f_t * C_{t-1} + i_t * g_t
                h = np.tanh(c)
                h *= s[..., 3 * H :]  # h_t = o_t * tanh(C_t)
                new_state.append((h, c))
            elif self.cell == "gru":
                h = state[k]
                gh = h @ self.w_hh[k]  # PyTorch gate order r, z, n
                rz = 0.5 * np.tanh(0.5 * (gx[..., : 2 * H] + gh[..., : 2 * H])) + 0.5
                n = np.tanh(gx[..., 2 * H :] + rz[..., :H] * (gh[..., 2 * H :] + self.b_hn[k]))
                h = n + rz[..., H:] * (h - n)  # (1 - z) * n + z * h
                new_state.append(h)
            else:
                pre = gx + state[k] @ self.w_hh[k]
                h = np.maximum(pre, 0.0) if self.relu else np.tanh(pre)
                new_state.append(h)
            x = h
        return x @ self.w_out + self.b_out, new_state


def _one_lstm_stream(stepper: RecurrentStepper) -> Callable[[int], np.ndarray]:
    """`step` specialised for one stream of a one-layer LSTM, the common case: the same arithmetic
    on preallocated buffers, so each character costs a dozen calls and no allocations."""
    H = stepper.hidden_size
    table, w_hh, w_out, b_out = stepper.w_ih[0], stepper.w_hh[0], stepper.w_out, stepper.b_out
    dtype = stepper.dtype
    h, c = np.zeros(H, dtype), np.zeros(H, dtype)
    t, s, ig, logits = (np.empty(n, dtype) for n in (4 * H, 4 * H, H, len(b_out)))
    i, f, g, o = s[:H], s[H : 2 * H], t[2 * H : 3 * H], s[3 * H :]

    def step(char_id: int) -> np.ndarray:
        np.matmul(h, w_hh, out=t)
        np.add(t, table[char_id], out=t)
        np.tanh(t, out=t)  # tanh(i/2), tanh(f/2), tanh(g), tanh(o/2)
        np.multiply(t, 0.5, out=s)
        np.add(s, 0.5, out=s)  # sigmoid(i), sigmoid(f), -, sigmoid(o)
        np.multiply(c, f, out=c)
        np.multiply(i, g, out=ig)
        np.add(c, ig, out=c)  # C_t = f_t * C_{t-1} + i_t * g_t
        np.tanh(c, out=h)
        np.multiply(h, o, out=h)  # h_t = o_t * tanh(C_t)
        np.matmul(h, w_out, out=logits)
        np.add(logits, b_out, out=logits)
        return logits

    return step


def next_char_probabilities(logits: np.ndarray, temperature: float = 1.0, top_n: int | None = None,
                            top_p: float | None = None) -> np.ndarray:
    """Turn logits (streams, vocab) into the distribution to sample from.

    Temperature scales the logits; top-n keeps the n most probable characters (the book's
    `get_top_char`; None or 0: all); top-p keeps the smallest most-probable set whose mass reaches p. Temperature 0
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
    if top_n and top_n < vocab:  # None or 0: no cut
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


def generate(model: torch.nn.Module | RecurrentStepper, start_ids: np.ndarray, length: int, *,
             temperature: float = 1.0, top_n: int | None = None, top_p: float | None = None, seed: int | None = None,
             num_samples: int = 1, precision: str = "float32") -> Iterator:
    """Yield `length` steps of a trained `CharLanguageNetwork`, each a sequence of `num_samples` sampled
    character ids (`sample_tokens`, on the NumPy `RecurrentStepper`).

    The start ids (at least one) prime the state; every stream reads the same start. `model` is a
    `CharLanguageNetwork`, or a `RecurrentStepper` built from one (then `precision` is the stepper's): a stepper
    is only read, so one can serve many generations, in several threads at once.
    """
    if len(start_ids) == 0:
        raise ValueError("generation needs at least one start character")
    stepper = model if isinstance(model, RecurrentStepper) else RecurrentStepper(model, precision)
    single = num_samples == 1  # one stream runs on 1-D vectors and Python ints: fewer, cheaper calls
    state = stepper.initial_state(None if single else num_samples)
    if single and stepper.cell == "lstm" and stepper.num_layers == 1:
        one_step = _one_lstm_stream(stepper)
        step = lambda ids, state: (one_step(ids), state)  # noqa: E731 (the state lives in its buffers)
    else:
        step = stepper.step
    for char_id in start_ids:
        logits, state = step(int(char_id) if single else np.full(num_samples, char_id), state)
    yield from sample_tokens(step, logits, state, length, temperature=temperature, top_n=top_n, top_p=top_p,
                             seed=seed, num_samples=num_samples)


def sample_tokens(step: Callable, logits: np.ndarray, state, length: int, *, temperature: float = 1.0,
                  top_n: int | None = None, top_p: float | None = None, seed: int | None = None,
                  num_samples: int = 1, exclude: int | None = None, end: int | None = None) -> Iterator:
    """The sampling loop of both language models: draw the next token of each stream from `logits`
    (1-D for one stream, (num_samples, vocab) for more), yield it, and `step(ids, state)` to the
    next logits. Yields `length` steps at most, each a sequence of `num_samples` token ids.

    `top_n` None or 0 keeps every token (callers apply their own defaults first: `effective_top_n`).
    `exclude` is a token never drawn (the word model's unknown word). With `end`, a stream that
    draws it has ended: it yields `end` from then on, and the loop stops once every stream has.
    The draws come from NumPy's PCG64 with `seed`, in one fixed order, so a seed gives the same
    text in every process.
    """
    single = num_samples == 1
    vocab = logits.shape[-1]
    fast_top_n = temperature > 0 and top_p is None and bool(top_n) and top_n < vocab
    uniforms = _uniforms(np.random.default_rng(seed), num_samples)
    rows = np.arange(num_samples)
    done = np.zeros(num_samples, dtype=bool)
    for _ in range(length):
        if exclude is not None:
            logits = np.array(logits, dtype=np.float64)
            logits[..., exclude] = -np.inf
        u = next(uniforms)
        if single and fast_top_n:  # softmax over the top n as a few Python floats
            top = sorted(logits.argpartition(vocab - top_n)[vocab - top_n :].tolist())
            values = logits.tolist()
            z = [values[i] for i in top]
            peak = max(z)
            cumulative = list(itertools.accumulate([math.exp((v - peak) / temperature) for v in z]))
            threshold = u[0] * cumulative[-1]
            ids = top[bisect.bisect_right(cumulative, threshold)]
        elif fast_top_n:  # softmax over the top n only: the same distribution, a fraction of the work
            top = np.sort(np.argpartition(logits, vocab - top_n, axis=1)[:, vocab - top_n :], axis=1)
            z = np.take_along_axis(logits, top, axis=1)
            weights = np.cumsum(np.exp((z - z.max(axis=1, keepdims=True)) / temperature), axis=1)
            ids = top[rows, (weights > u[:, None] * weights[:, -1:]).argmax(axis=1)]
        else:
            probs = next_char_probabilities(np.atleast_2d(logits), temperature, top_n, top_p)
            ids = (np.cumsum(probs, axis=1) > np.asarray(u)[:, None]).argmax(axis=1)
            ids = int(ids[0]) if single else ids
        if end is not None:
            if single:
                ids = end if done[0] else ids
            else:
                ids[done] = end
            done |= np.asarray(ids) == end
        yield (ids,) if single else ids
        if done.all():
            return
        logits, state = step(ids, state)


def _uniforms(rng: np.random.Generator, streams: int, block: int = 4096) -> Iterator[np.ndarray]:
    """Uniform draws for each step, taken from the generator in blocks (the same numbers, fewer calls)."""
    while True:
        yield from rng.random((block, streams)).tolist() if streams == 1 else rng.random((block, streams))

