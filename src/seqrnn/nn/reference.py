"""The chapter's recurrent networks written from the equations, in plain NumPy (float64).

This module is the trusted yardstick for the fast PyTorch models: every cell is the textbook
function, every gradient is backpropagation through time (BPTT) written out by hand, and the tests
check both against finite differences and against `torch.nn.RNN` / `LSTM` / `GRU` on the same
weights. It is meant to be read next to the chapter, so the names are the chapter's:

    vanilla RNN   Z_h = W_xh x_t + W_hh h_{t-1} + b_h,   h_t = φ(Z_h)          (φ = tanh or ReLU)
                  equivalently h_t = φ([W_xh; W_hh][x_t; h_{t-1}] + b_h)
    LSTM          f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)                       forget gate
                  i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)                       input gate
                  g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)                    input node
                  o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)                       output gate
                  C_t = C_{t-1} ⊙ f_t + i_t ⊙ g_t,   h_t = o_t ⊙ tanh(C_t)
    GRU           see `gru_step` (PyTorch's formulation, which differs from Cho et al. in where
                  the reset gate is applied)
    output        y_t = W_hy h_t + b_y;   loss L = Σ_t L_t

Conventions. Weights act on column vectors as in the book (W_xh has shape (hidden, input)); data
are batch-first like the models, X of shape (batch B, time T, features D), so a step computes
x_t @ W_xh.T. A recurrent state is a tuple: (h,) for the RNN and GRU, (h, C) for the LSTM, each of
shape (num_layers * num_directions, B, H) and ordered like PyTorch's h_n (index
layer * num_directions + direction). Bias: PyTorch keeps two bias vectors per gate (b_ih + b_hh);
only their sum matters, so the reference keeps one (b_h, b_f, ...), except the GRU's b_hn, which
sits inside the reset gate's product and is not interchangeable with b_xn.

No plotting and no PyTorch here: `seqrnn.nn.explain` draws the figures, the tests import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np

Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]

#: The parameters of one layer in one direction, by cell, in the chapter's names.
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "rnn": ("W_xh", "W_hh", "b_h"),
    "lstm": ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f",
             "W_xg", "W_hg", "b_g", "W_xo", "W_ho", "b_o"),
    "gru": ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_xn", "b_hn"),
}

#: PyTorch stacks the gates of one layer into one matrix in this order (rows of weight_ih_l0 ...).
TORCH_GATE_ORDER: dict[str, tuple[str, ...]] = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{-z}), written as (1 + tanh(z/2)) / 2 so it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ----------------------------------------------------------------------------------------------
# Cells: one time step forward, and its backward pass
# ----------------------------------------------------------------------------------------------
# A step takes the parameters p, the input x_t (B, D) and the previous state, and returns the new
# state and a cache of what its backward pass needs. A backward step takes the gradient of the
# loss with respect to the new state, adds the parameter gradients into `grads`, and returns the
# gradients with respect to x_t and the previous state.


def _net_input_backward(p: Params, grads: Params, q: str, dZ: np.ndarray, x: np.ndarray,
                        h_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From dZ = ∂L/∂Z_q at the net input Z_q = W_xq x_t + W_hq h_{t-1} + b_q, add the gradients of
    W_xq, W_hq and b_q into `grads` and return Z_q's share of ∂L/∂x_t and ∂L/∂h_{t-1}."""
    grads[f"W_x{q}"] += dZ.T @ x
    grads[f"W_h{q}"] += dZ.T @ h_prev
    grads[f"b_{q}"] += dZ.sum(axis=0)
    return dZ @ p[f"W_x{q}"], dZ @ p[f"W_h{q}"]


def rnn_step(p: Params, x: np.ndarray, state: State, nonlinearity: str = "tanh") -> tuple[State, tuple]:
    """Vanilla RNN: h_t = φ(W_xh x_t + W_hh h_{t-1} + b_h), φ = tanh or ReLU."""
    (h_prev,) = state
    Z_h = x @ p["W_xh"].T + h_prev @ p["W_hh"].T + p["b_h"]  # net input (preactivation)
    h = np.tanh(Z_h) if nonlinearity == "tanh" else np.maximum(Z_h, 0.0)
    return (h,), (x, h_prev, Z_h, h, nonlinearity)


def rnn_step_concat(p: Params, x: np.ndarray, state: State, nonlinearity: str = "tanh") -> State:
    """The same step with the concatenated matrix: `h_t = φ([W_xh; W_hh][x_t; h_{t-1}] + b_h)`.

    `[W_xh; W_hh]` puts the two matrices side by side, shape (H, D + H), and `[x_t; h_{t-1}]` stacks
    the input on the previous hidden state; the product is `W_xh x_t + W_hh h_{t-1}`.
    """
    (h_prev,) = state
    W_h = np.concatenate([p["W_xh"], p["W_hh"]], axis=1)
    xh = np.concatenate([x, h_prev], axis=1)
    Z_h = xh @ W_h.T + p["b_h"]
    return (np.tanh(Z_h) if nonlinearity == "tanh" else np.maximum(Z_h, 0.0),)


def rnn_step_backward(p: Params, grads: Params, cache: tuple, d_state: State) -> tuple[np.ndarray, State]:
    x, h_prev, Z_h, h, nonlinearity = cache
    (dh,) = d_state
    # ∂h_t/∂Z_h = φ'(Z_h): 1 - tanh² or the ReLU step
    dZ = dh * (1.0 - h * h) if nonlinearity == "tanh" else dh * (Z_h > 0.0)
    # ∂Z_h/∂h_{t-1} = W_hh: the factor multiplied in once per step, hence the w^(t-k) of the chapter
    dx, dh_prev = _net_input_backward(p, grads, "h", dZ, x, h_prev)
    return dx, (dh_prev,)


def lstm_step(p: Params, x: np.ndarray, state: State) -> tuple[State, tuple]:
    """LSTM cell with the chapter's gates: forget f_t, input i_t, input node g_t, output o_t."""
    h_prev, C_prev = state
    f = sigmoid(x @ p["W_xf"].T + h_prev @ p["W_hf"].T + p["b_f"])  # forget gate f_t
    i = sigmoid(x @ p["W_xi"].T + h_prev @ p["W_hi"].T + p["b_i"])  # input gate i_t
    g = np.tanh(x @ p["W_xg"].T + h_prev @ p["W_hg"].T + p["b_g"])  # input node g_t
    o = sigmoid(x @ p["W_xo"].T + h_prev @ p["W_ho"].T + p["b_o"])  # output gate o_t
    C = C_prev * f + i * g  # C_t = (C_{t-1} ⊙ f_t) ⊕ (i_t ⊙ g_t): no weight matrix on this path
    tanh_C = np.tanh(C)
    h = o * tanh_C  # h_t = o_t ⊙ tanh(C_t)
    return (h, C), (x, h_prev, C_prev, f, i, g, o, tanh_C)


def lstm_step_backward(p: Params, grads: Params, cache: tuple, d_state: State) -> tuple[np.ndarray, State]:
    x, h_prev, C_prev, f, i, g, o, tanh_C = cache
    dh, dC = d_state
    dC = dC + dh * o * (1.0 - tanh_C * tanh_C)  # C_t reaches the loss directly and through h_t
    # gradients at the gates' net inputs (σ' = σ(1-σ), tanh' = 1 - tanh²)
    dZ = {
        "f": dC * C_prev * f * (1.0 - f),
        "i": dC * g * i * (1.0 - i),
        "g": dC * i * (1.0 - g * g),
        "o": dh * tanh_C * o * (1.0 - o),
    }
    shares = [_net_input_backward(p, grads, q, dz, x, h_prev) for q, dz in dZ.items()]
    dx = sum(dx_q for dx_q, _ in shares)
    dh_prev = sum(dh_q for _, dh_q in shares)
    # ∂C_t/∂C_{t-1} = f_t: along the cell state the gradient is scaled by the forget gate only
    return dx, (dh_prev, dC * f)


def gru_step(p: Params, x: np.ndarray, state: State) -> tuple[State, tuple]:
    """GRU cell, exactly PyTorch's `torch.nn.GRU` formulation:

        r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)                    reset gate
        z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)                    update gate
        n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn))  candidate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Two differences from Cho et al. (2014), both PyTorch's (and cuDNN's) choice: the reset gate
    multiplies W_hn h_{t-1} + b_hn rather than entering as W_hn (r_t ⊙ h_{t-1}), which is why b_hn
    is a separate parameter; and z_t keeps the old state (Cho et al. write the same thing with the
    roles of z_t and 1 - z_t named the other way round).
    """
    (h_prev,) = state
    r = sigmoid(x @ p["W_xr"].T + h_prev @ p["W_hr"].T + p["b_r"])
    z = sigmoid(x @ p["W_xz"].T + h_prev @ p["W_hz"].T + p["b_z"])
    a = h_prev @ p["W_hn"].T + p["b_hn"]
    n = np.tanh(x @ p["W_xn"].T + p["b_xn"] + r * a)
    h = (1.0 - z) * n + z * h_prev
    return (h,), (x, h_prev, r, z, a, n)


def gru_step_backward(p: Params, grads: Params, cache: tuple, d_state: State) -> tuple[np.ndarray, State]:
    x, h_prev, r, z, a, n = cache
    (dh,) = d_state
    dn = dh * (1.0 - z) * (1.0 - n * n)  # at n_t's net input
    dz = dh * (h_prev - n) * z * (1.0 - z)  # at z_t's net input
    da = dn * r  # at W_hn h_{t-1} + b_hn
    dr = dn * a * r * (1.0 - r)  # at r_t's net input
    grads["W_xn"] += dn.T @ x
    grads["b_xn"] += dn.sum(axis=0)
    grads["W_hn"] += da.T @ h_prev
    grads["b_hn"] += da.sum(axis=0)
    dx = dn @ p["W_xn"]
    dh_prev = dh * z + da @ p["W_hn"]
    for q, dq in (("r", dr), ("z", dz)):
        dx_q, dh_q = _net_input_backward(p, grads, q, dq, x, h_prev)
        dx += dx_q
        dh_prev += dh_q
    return dx, (dh_prev,)


# ----------------------------------------------------------------------------------------------
# One layer in one direction, over a whole sequence
# ----------------------------------------------------------------------------------------------


def layer_forward(cell: str, p: Params, X: np.ndarray, state0: State, reverse: bool = False,
                  nonlinearity: str = "tanh") -> tuple[np.ndarray, State, list]:
    """Run one cell over X (B, T, D) from state0; reverse=True reads t = T-1 ... 0.

    Returns the hidden states h_t at every step (B, T, H), in the input's time order, the final
    state and the per-step caches for `layer_backward`.
    """
    B, T, _ = X.shape
    H_seq = np.zeros((B, T, state0[0].shape[-1]))
    caches: list = [None] * T
    state = state0
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if cell == "rnn":
            state, caches[t] = rnn_step(p, X[:, t], state, nonlinearity)
        elif cell == "lstm":
            state, caches[t] = lstm_step(p, X[:, t], state)
        else:
            state, caches[t] = gru_step(p, X[:, t], state)
        H_seq[:, t] = state[0]
    return H_seq, state, caches


def layer_backward(cell: str, p: Params, caches: list, dH: np.ndarray, d_state_final: State,
                   reverse: bool = False) -> tuple[Params, np.ndarray, State, np.ndarray]:
    """BPTT through one layer: walk the steps backwards, carrying ∂L/∂state from t to t-1.

    dH[:, t] is ∂L/∂h_t from outside the recurrence (the layer above or the loss L_t), and
    d_state_final the gradient with respect to the final state. Returns the parameter gradients
    (summed over time, since the weights are shared across t), ∂L/∂X, ∂L/∂state0 and ∂L/∂h_t
    along all paths, i.e. including those through later steps (B, T, H).
    """
    grads = {name: np.zeros_like(p[name]) for name in PARAM_NAMES[cell]}
    T = len(caches)
    dX = np.zeros((dH.shape[0], T, caches[0][0].shape[-1]))
    dH_total = np.zeros_like(dH)
    d_state = tuple(np.array(d, dtype=np.float64) for d in d_state_final)
    step_backward = {"rnn": rnn_step_backward, "lstm": lstm_step_backward, "gru": gru_step_backward}[cell]
    for t in (range(T) if reverse else range(T - 1, -1, -1)):
        dh = d_state[0] + dH[:, t]
        dH_total[:, t] = dh
        dX[:, t], d_state = step_backward(p, grads, caches[t], (dh,) + d_state[1:])
    return grads, dX, d_state, dH_total


# ----------------------------------------------------------------------------------------------
# A stack of layers, optionally bidirectional: the reference of torch.nn.RNN / LSTM / GRU
# ----------------------------------------------------------------------------------------------


@dataclass
class Gradients:
    """What `RecurrentStack.backward` returns.

    params: ∂L/∂θ per layer and direction (same structure as `RecurrentStack.params`);
    X: ∂L/∂X (B, T, D); state0: ∂L/∂(initial state), same layout as the state;
    hidden: ∂L/∂h_t along all paths for each layer and direction, each (B, T, H).
    """

    params: list[Params]
    X: np.ndarray
    state0: State
    hidden: list[np.ndarray] = field(default_factory=list)


class RecurrentStack:
    """`num_layers` recurrent layers, layer l+1 reading the hidden states h_t of layer l.

    With bidirectional=True each layer runs a second cell over the reversed sequence and its
    output at step t is [h_t(forward); h_t(backward)] (size 2H), as in torch.nn.RNN/LSTM/GRU.
    `params[layer * num_directions + direction]` holds one cell's weights in the chapter's names.
    No dropout: the reference is the deterministic function (PyTorch in eval mode, or dropout 0).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, nonlinearity: str = "tanh", seed: int | None = 0,
                 params: list[Params] | None = None):
        if cell not in PARAM_NAMES:
            raise ValueError(f"cell must be one of {sorted(PARAM_NAMES)}, got {cell!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.cell, self.nonlinearity = cell, nonlinearity
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bidirectional = num_layers, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.params = params if params is not None else self._init_params(np.random.default_rng(seed))

    def layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.hidden_size * self.num_directions

    def _init_params(self, rng: np.random.Generator) -> list[Params]:
        """U(-1/√H, 1/√H) for every weight and bias, PyTorch's default."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        H, params = self.hidden_size, []
        for layer in range(self.num_layers):
            D = self.layer_input_size(layer)
            for _ in range(self.num_directions):
                shapes = {n: (H, D) if n.startswith("W_x") else (H, H) if n.startswith("W_h") else (H,)
                          for n in PARAM_NAMES[self.cell]}
                params.append({n: rng.uniform(-bound, bound, s) for n, s in shapes.items()})
        return params

    @property
    def state_size(self) -> int:
        """Number of arrays in a state: 2 for the LSTM (h, C), 1 otherwise."""
        return 2 if self.cell == "lstm" else 1

    def zero_state(self, batch_size: int) -> State:
        """The initial state of zeros, as at t = 0 in the chapter."""
        shape = (self.num_layers * self.num_directions, batch_size, self.hidden_size)
        return tuple(np.zeros(shape) for _ in range(self.state_size))

    def forward(self, X: np.ndarray, state0: State | None = None) -> tuple[np.ndarray, State, dict]:
        """Outputs of the top layer (B, T, H * num_directions), the final state, and a cache."""
        X = np.asarray(X, dtype=np.float64)
        state0 = self.zero_state(X.shape[0]) if state0 is None else tuple(np.asarray(s, np.float64) for s in state0)
        final = tuple(np.zeros_like(s) for s in state0)
        layer_caches, inp = [], X
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                H_seq, state_k, caches = layer_forward(self.cell, self.params[k], inp,
                                                       tuple(s[k] for s in state0), reverse=d == 1,
                                                       nonlinearity=self.nonlinearity)
                for s, s_k in zip(final, state_k):
                    s[k] = s_k
                outs.append(H_seq)
                layer_caches.append(caches)
            inp = np.concatenate(outs, axis=-1) if self.bidirectional else outs[0]
        return inp, final, {"caches": layer_caches, "X": X}

    def backward(self, cache: dict, dY: np.ndarray | None, d_state: State | None = None) -> Gradients:
        """Full BPTT: gradients of L given ∂L/∂Y (top-layer outputs) and ∂L/∂(final state).

        Either may be None (no gradient from there). Layers are visited top-down; inside each
        layer, time steps from last to first (first to last for the reversed direction).
        """
        X, caches = cache["X"], cache["caches"]
        B, T = X.shape[:2]
        n, H = self.num_layers * self.num_directions, self.hidden_size
        dY = np.zeros((B, T, H * self.num_directions)) if dY is None else np.asarray(dY, np.float64)
        if d_state is None:
            d_state = tuple(np.zeros((n, B, H)) for _ in range(self.state_size))
        grads: list[Params] = [{}] * n
        hidden: list[np.ndarray] = [np.zeros(0)] * n
        d_state0 = tuple(np.zeros((n, B, H)) for _ in range(self.state_size))
        d_out = dY
        for layer in range(self.num_layers - 1, -1, -1):
            d_in = np.zeros((B, T, self.layer_input_size(layer)))
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                g, dX_k, ds0, dH_total = layer_backward(self.cell, self.params[k], caches[k],
                                                        d_out[..., d * H:(d + 1) * H],
                                                        tuple(s[k] for s in d_state), reverse=d == 1)
                grads[k], hidden[k] = g, dH_total
                for s, s_k in zip(d_state0, ds0):
                    s[k] = s_k
                d_in += dX_k
            d_out = d_in
        return Gradients(params=grads, X=d_out, state0=d_state0, hidden=hidden)


# ----------------------------------------------------------------------------------------------
# Output layer and the two losses
# ----------------------------------------------------------------------------------------------


def dense(head: Params, H: np.ndarray) -> np.ndarray:
    """Net input of the output units: W_hy h_t + b_y (logits), for h of shape (..., H)."""
    return H @ head["W_hy"].T + head["b_y"]


def dense_backward(head: Params, H: np.ndarray, d_logits: np.ndarray) -> tuple[Params, np.ndarray]:
    Hf, dl = H.reshape(-1, H.shape[-1]), d_logits.reshape(-1, d_logits.shape[-1])
    return {"W_hy": dl.T @ Hf, "b_y": dl.sum(axis=0)}, d_logits @ head["W_hy"]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def many_to_many_loss(head: Params, Y: np.ndarray, targets: np.ndarray,
                      reduction: str = "sum", normalizer: int | None = None) -> tuple[float, Params, np.ndarray]:
    """Synchronized many-to-many: L = Σ_t L_t, L_t the cross-entropy of softmax(W_hy h_t + b_y).

    Y: hidden states (B, T, H); targets: class ids (B, T). reduction "sum" is the chapter's
    Σ_t L_t (also summed over the batch); "mean" divides by `normalizer` (default B*T), as
    PyTorch's cross_entropy does. Returns L, the head's gradients and ∂L/∂Y.
    """
    logits = dense(head, Y)
    P = softmax(logits)
    B, T = targets.shape
    b_idx, t_idx = np.meshgrid(np.arange(B), np.arange(T), indexing="ij")
    log_p = np.log(P[b_idx, t_idx, targets])
    scale = 1.0 if reduction == "sum" else 1.0 / (normalizer or B * T)
    loss = -log_p.sum() * scale
    d_logits = P.copy()  # ∂L_t/∂logits = softmax - one_hot(target)
    d_logits[b_idx, t_idx, targets] -= 1.0
    d_logits *= scale
    d_head, dY = dense_backward(head, Y, d_logits)
    return float(loss), d_head, dY


def many_to_one_loss(head: Params, h_last: np.ndarray, labels: np.ndarray,
                     reduction: str = "mean") -> tuple[float, Params, np.ndarray]:
    """Many-to-one: one label per sequence, read from the last hidden state h_T (B, H).

    With one output unit this is the book's sentiment head, a sigmoid and binary cross-entropy on
    labels 0/1; with more, a softmax and cross-entropy on class ids. Returns L, the head's
    gradients and ∂L/∂h_T. For a stack, `sequence_summary` gives h_T.
    """
    logits = dense(head, h_last)
    B = h_last.shape[0]
    scale = 1.0 if reduction == "sum" else 1.0 / B
    if logits.shape[-1] == 1:
        z, y = logits[:, 0], np.asarray(labels, dtype=np.float64)
        # BCE with logits, stable form: max(z,0) - z y + log(1 + e^{-|z|})
        loss = np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))) * scale
        d_logits = ((sigmoid(z) - y) * scale)[:, None]
    else:
        P = softmax(logits)
        loss = -np.log(P[np.arange(B), labels]).sum() * scale
        d_logits = P.copy()
        d_logits[np.arange(B), labels] -= 1.0
        d_logits *= scale
    d_head, dh = dense_backward(head, h_last, d_logits)
    return float(loss), d_head, dh


def sequence_summary(stack: RecurrentStack, state: State) -> np.ndarray:
    """h_T for a many-to-one head: the top layer's final hidden state(s), concatenated over the
    directions (for a bidirectional stack: forward at t = T-1 and backward at t = 0), (B, H*dirs).
    """
    n = stack.num_directions
    return np.concatenate(list(state[0][-n:]), axis=-1)


def sequence_summary_backward(stack: RecurrentStack, d_summary: np.ndarray) -> State:
    """∂L/∂(final state) from ∂L/∂h_T, the inverse bookkeeping of `sequence_summary`."""
    L, B, H = stack.num_layers * stack.num_directions, d_summary.shape[0], stack.hidden_size
    d_state = tuple(np.zeros((L, B, H)) for _ in range(stack.state_size))
    for d in range(stack.num_directions):
        d_state[0][L - stack.num_directions + d] = d_summary[:, d * H:(d + 1) * H]
    return d_state


# ----------------------------------------------------------------------------------------------
# Truncated BPTT, window-wise, for the char model's many-to-many loss
# ----------------------------------------------------------------------------------------------


def many_to_many_tbptt(stack: RecurrentStack, head: Params, X: np.ndarray, targets: np.ndarray,
                       k: int | None = None, state0: State | None = None,
                       reduction: str = "sum") -> tuple[float, Gradients, Params, State]:
    """Loss L = Σ_t L_t over the whole sequence and its gradients, with BPTT truncated to windows.

    Truncated BPTT here is the window-wise scheme the training loop uses: the sequence is cut into
    consecutive windows of k steps (the last may be shorter); the forward pass carries the state's
    *value* from one window into the next, but the gradient does not flow back across a window
    boundary (the state is detached there, `h.detach()` in PyTorch). So L_t's gradient reaches
    back only to the start of its own window: between 1 and k steps, not "exactly k steps from
    every t". The gradients of all windows are summed (one backward of Σ_t L_t with the detaches).
    k=None (or k >= T) is full BPTT. ∂L/∂state0 comes only from the first window.

    reduction "sum" gives Σ_t L_t over batch and time; "mean" divides by B*T of the whole sequence.
    Returns L, the stack's gradients, the head's gradients and the final state (the value to
    carry into the next call).
    """
    B, T = targets.shape
    k = T if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if stack.bidirectional and k < T:
        raise ValueError("truncated BPTT reads the stream forwards: use a unidirectional stack")
    state = stack.zero_state(B) if state0 is None else state0
    total = 0.0
    g_params = [{n: np.zeros_like(a) for n, a in p.items()} for p in stack.params]
    g_head = {n: np.zeros_like(a) for n, a in head.items()}
    dX = np.zeros_like(np.asarray(X, dtype=np.float64))
    d_state0: State = ()
    for start in range(0, T, k):
        sl = slice(start, min(start + k, T))
        Y, state_next, cache = stack.forward(X[:, sl], state)
        loss, gh, dY = many_to_many_loss(head, Y, targets[:, sl], reduction, normalizer=B * T)
        g = stack.backward(cache, dY)  # no gradient arrives from the next window: detached
        total += loss
        for acc, gp in zip(g_params, g.params):
            for n in acc:
                acc[n] += gp[n]
        for n in g_head:
            g_head[n] += gh[n]
        dX[:, sl] = g.X
        if start == 0:
            d_state0 = g.state0
        state = state_next
    return total, Gradients(params=g_params, X=dX, state0=d_state0), g_head, state


# ----------------------------------------------------------------------------------------------
# The reference char model and a small training loop (Adam, clipping by global norm)
# ----------------------------------------------------------------------------------------------


def global_norm(arrays: Sequence[np.ndarray]) -> float:
    """‖g‖ over all arrays together, as tf.clip_by_global_norm / torch.nn.utils.clip_grad_norm_."""
    return float(math.sqrt(sum(float(np.sum(a * a)) for a in arrays)))


def clip_by_global_norm(arrays: Sequence[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Scale every array by min(1, max_norm / ‖g‖): one factor for all, the direction unchanged.

    As torch.nn.utils.clip_grad_norm_ (which the training loop uses), ‖g‖ + 1e-6 is the divisor,
    so the clipped norm lands a hair below max_norm. Returns the clipped arrays and ‖g‖.
    """
    norm = global_norm(arrays)
    factor = min(1.0, max_norm / (norm + 1e-6))
    return [a * factor for a in arrays], norm


def one_hot(ids: np.ndarray, num_classes: int) -> np.ndarray:
    """x_t as the chapter's char model feeds it (tf.one_hot): a unit vector per character id."""
    return np.eye(num_classes)[ids]


class CharRNN:
    """The chapter's char model from the equations: one-hot x_t, a recurrent stack, y_t = W_hy h_t + b_y.

    The loss is the synchronized many-to-many cross-entropy of predicting character t+1 at step t.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 64, num_layers: int = 1, cell: str = "lstm",
                 seed: int = 0):
        self.vocab_size = vocab_size
        self.stack = RecurrentStack(cell, vocab_size, hidden_size, num_layers, seed=seed)
        rng = np.random.default_rng(seed + 1)
        bound = 1.0 / math.sqrt(hidden_size)
        self.head: Params = {"W_hy": rng.uniform(-bound, bound, (vocab_size, hidden_size)),
                             "b_y": np.zeros(vocab_size)}

    def arrays(self) -> list[np.ndarray]:
        """Every trainable array, stack first, in a fixed order (for clipping and Adam)."""
        return [p[n] for p in self.stack.params for n in PARAM_NAMES[self.stack.cell]] + \
               [self.head["W_hy"], self.head["b_y"]]

    def loss_and_grads(self, inputs: np.ndarray, targets: np.ndarray, state0: State | None = None,
                       k: int | None = None) -> tuple[float, list[np.ndarray], State]:
        """Mean cross-entropy per character (nats), its gradients in `arrays()` order, final state."""
        X = one_hot(inputs, self.vocab_size)
        loss, g, g_head, state = many_to_many_tbptt(self.stack, self.head, X, targets, k, state0, "mean")
        grads = [gp[n] for gp in g.params for n in PARAM_NAMES[self.stack.cell]] + [g_head["W_hy"], g_head["b_y"]]
        return loss, grads, state


class Adam:
    """Adam (Kingma & Ba) on a list of NumPy arrays, updated in place."""

    def __init__(self, arrays: Sequence[np.ndarray], lr: float = 1e-2, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.arrays, self.lr, self.betas, self.eps, self.t = list(arrays), lr, betas, eps, 0
        self.m = [np.zeros_like(a) for a in self.arrays]
        self.v = [np.zeros_like(a) for a in self.arrays]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for a, g, m, v in zip(self.arrays, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            a -= self.lr * (m / (1 - b1 ** self.t)) / (np.sqrt(v / (1 - b2 ** self.t)) + self.eps)


def batches(ids: np.ndarray, batch_size: int, num_steps: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The book's `reshape_data` + `create_batch_generator`: batch_size parallel streams of the
    text, cut into consecutive windows of num_steps; targets are the inputs shifted by one.
    """
    n_windows = (len(ids) - 1) // (batch_size * num_steps)
    if n_windows < 1:
        raise ValueError("text too short for one batch of windows")
    length = n_windows * num_steps
    x = ids[: batch_size * length].reshape(batch_size, length)
    y = ids[1: batch_size * length + 1].reshape(batch_size, length)
    for w in range(n_windows):
        yield x[:, w * num_steps:(w + 1) * num_steps], y[:, w * num_steps:(w + 1) * num_steps]


def train_char_model(text: str, epochs: int = 10, batch_size: int = 8, num_steps: int = 25,
                     hidden_size: int = 64, num_layers: int = 1, cell: str = "lstm", lr: float = 1e-2,
                     grad_clip: float = 5.0, seed: int = 0) -> tuple[CharRNN, list[float]]:
    """Train the reference char model the way the chapter trains its CharRNN (a NumPy miniature).

    The hidden state is carried across consecutive windows of num_steps and detached between
    them (window-wise truncated BPTT), gradients are clipped by global norm, Adam updates. Returns
    the model and the mean training loss (nats per character) of each epoch.
    """
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    model = CharRNN(len(chars), hidden_size, num_layers, cell, seed)
    opt = Adam(model.arrays(), lr=lr)
    history = []
    for _ in range(epochs):
        state, losses = None, []
        for x, y in batches(ids, batch_size, num_steps):
            loss, grads, state = model.loss_and_grads(x, y, state)
            if grad_clip:
                grads, _ = clip_by_global_norm(grads, grad_clip)
            opt.step(grads)
            losses.append(loss)
        history.append(float(np.mean(losses)))
    return model, history


# ----------------------------------------------------------------------------------------------
# Weights from and gradients to PyTorch's layout (NumPy arrays; the caller converts tensors)
# ----------------------------------------------------------------------------------------------


def _torch_suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


def from_torch_state(state: Mapping[str, np.ndarray], cell: str, input_size: int, hidden_size: int,
                     num_layers: int = 1, bidirectional: bool = False,
                     nonlinearity: str = "tanh") -> RecurrentStack:
    """A stack with the weights of a torch.nn.RNN/LSTM/GRU state_dict (values as NumPy arrays).

    PyTorch stacks the gates row-wise in weight_ih_l{k} (input-to-hidden) and weight_hh_l{k}:
    LSTM i, f, g, o; GRU r, z, n. Its two biases are added (b_i = b_ii + b_hi, ...) except the
    GRU's n gate, where bias_ih gives b_xn and bias_hh gives b_hn.
    """
    stack = RecurrentStack(cell, input_size, hidden_size, num_layers, bidirectional, nonlinearity,
                           params=[])
    H = hidden_size
    for layer in range(num_layers):
        for d in range(stack.num_directions):
            s = _torch_suffix(layer, d)
            W_ih, W_hh = (np.asarray(state[f"weight_{w}{s}"], dtype=np.float64) for w in ("ih", "hh"))
            b_ih, b_hh = (np.asarray(state[f"bias_{w}{s}"], dtype=np.float64) for w in ("ih", "hh"))
            p: Params = {}
            for j, q in enumerate(TORCH_GATE_ORDER[cell]):
                rows = slice(j * H, (j + 1) * H)
                p[f"W_x{q}"], p[f"W_h{q}"] = W_ih[rows].copy(), W_hh[rows].copy()
                if cell == "gru" and q == "n":
                    p["b_xn"], p["b_hn"] = b_ih[rows].copy(), b_hh[rows].copy()
                else:
                    p[f"b_{q}"] = b_ih[rows] + b_hh[rows]
            stack.params.append(p)
    return stack


def to_torch_grads(stack: RecurrentStack, grads: list[Params]) -> dict[str, np.ndarray]:
    """Gradients in PyTorch's parameter names and layout, to compare with `param.grad`.

    Because b_ih and b_hh enter only through their sum, each receives the full ∂L/∂b (except
    the GRU's n gate, whose two biases get their own gradients).
    """
    out: dict[str, np.ndarray] = {}
    for layer in range(stack.num_layers):
        for d in range(stack.num_directions):
            g = grads[layer * stack.num_directions + d]
            s = _torch_suffix(layer, d)
            gates = TORCH_GATE_ORDER[stack.cell]
            out[f"weight_ih{s}"] = np.concatenate([g[f"W_x{q}"] for q in gates])
            out[f"weight_hh{s}"] = np.concatenate([g[f"W_h{q}"] for q in gates])
            if stack.cell == "gru":
                out[f"bias_ih{s}"] = np.concatenate([g["b_r"], g["b_z"], g["b_xn"]])
                out[f"bias_hh{s}"] = np.concatenate([g["b_r"], g["b_z"], g["b_hn"]])
            else:
                out[f"bias_ih{s}"] = out[f"bias_hh{s}"] = np.concatenate([g[f"b_{q}"] for q in gates])
    return out
