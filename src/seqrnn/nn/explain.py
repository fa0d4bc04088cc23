"""Figures that make the chapter's theory visible, computed with the NumPy reference.

`seqrnn explain gradients` shows the vanishing and exploding gradient problem: how much of the
loss at the last step t reaches the hidden state h_k that many steps earlier, ‖∂L_t/∂h_k‖ against
t - k, for vanilla RNNs whose recurrent matrix W_hh scales vectors by w < 1, w = 1 and w > 1 (the
chapter's factor w^(t-k)) and for LSTMs, on the same random inputs, with and without clipping by
global norm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from seqrnn.nn import reference as R
from seqrnn.errors import SeqrnnError

RNN_SCALES = (0.5, 1.0, 2.0)  # recurrent weight scale w: below 1, at 1, above 1
LSTM_FORGET_BIASES = (1.0, 3.0)  # 1: the book's BasicLSTMCell (forget_bias=1.0); 3: f_t ≈ 0.95
CLIP_NORM = 5.0  # the book's grad_clip


@dataclass
class GradientCurve:
    """One model's gradient through time.

    norms[j] is ‖∂L_t/∂h_k‖ at t - k = j (mean over the sequences); grad_norm is the global
    norm ‖∇_θ L_t‖ of the parameter gradient, and clip_factor = min(1, max_norm / grad_norm) the
    one factor clipping by global norm multiplies every gradient with.
    """

    label: str
    norms: np.ndarray
    grad_norm: float
    clip_factor: float
    scale: float | None = None  # w for a vanilla RNN

    @property
    def clipped(self) -> np.ndarray:
        return self.norms * self.clip_factor


def _recurrent_matrix(rng: np.random.Generator, hidden: int, scale: float) -> np.ndarray:
    """W_hh = w·Q with Q a random orthogonal matrix: ‖W_hh v‖ = w‖v‖ for every v, the matrix
    analogue of the chapter's one-unit weight w (every singular value equals w)."""
    Q, upper = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    return scale * Q * np.sign(np.diag(upper))


def _curve(label: str, stack: R.RecurrentStack, X: np.ndarray, v: np.ndarray, max_norm: float,
           scale: float | None = None) -> GradientCurve:
    """Backpropagate L_t = mean over sequences of v·h_t (t = the last step) and read ∂L_t/∂h_k.

    v is a unit vector, so ‖∂L_t/∂h_t‖ = 1 for every sequence and the curve shows ∂h_t/∂h_k alone.
    """
    B = X.shape[0]
    Y, _, cache = stack.forward(X)
    dY = np.zeros_like(Y)
    dY[:, -1] = v / B  # L_t = (1/B) Σ_b v·h_t^(b)
    g = stack.backward(cache, dY)
    # hidden[0][b, k] is ∂L_t/∂h_k^(b) along every path; ×B undoes the mean, per sequence
    per_seq = np.linalg.norm(g.hidden[0], axis=-1) * B  # (B, T)
    norms = per_seq.mean(axis=0)[::-1]  # index j = t - k
    grad_norm = R.global_norm([a for p in g.params for a in p.values()])
    return GradientCurve(label, norms, grad_norm, min(1.0, max_norm / (grad_norm + 1e-6)), scale)


def gradient_curves(steps: int = 50, hidden: int = 32, inputs: int = 16, batch: int = 16,
                    seed: int = 0, max_norm: float = CLIP_NORM) -> list[GradientCurve]:
    """‖∂L_t/∂h_k‖ against t - k for RNNs (w in RNN_SCALES) and LSTMs, on the same random inputs.

    The inputs x_t ~ N(0, 1) are shared by all models, as are W_xh, b_h (PyTorch's default
    initialisation) and the readout direction v; only W_hh (RNN) or the cell differs.
    """
    if steps < 2:
        raise SeqrnnError(f"`steps` must be at least 2, got {steps}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, steps, inputs))
    v = rng.standard_normal(hidden)
    v /= np.linalg.norm(v)
    Q_rng = np.random.default_rng(seed + 1)
    W_hh_unit = _recurrent_matrix(Q_rng, hidden, 1.0)
    base = R.RecurrentStack("rnn", inputs, hidden, seed=seed + 2).params[0]
    curves = []
    for w in RNN_SCALES:
        p = {"W_xh": base["W_xh"], "W_hh": w * W_hh_unit, "b_h": base["b_h"]}
        stack = R.RecurrentStack("rnn", inputs, hidden, params=[p])
        curves.append(_curve(f"RNN, W_hh scale w={w:g}", stack, X, v, max_norm, scale=w))
    for b_f in LSTM_FORGET_BIASES:
        stack = R.RecurrentStack("lstm", inputs, hidden, seed=seed + 3)
        stack.params[0]["b_f"] = stack.params[0]["b_f"] + b_f  # forget gate f_t = σ(... + b_f)
        note = " (the book's cell)" if b_f == 1.0 else ""
        curves.append(_curve(f"LSTM, forget bias +{b_f:g}{note}", stack, X, v, max_norm))
    return curves


def format_table(curves: list[GradientCurve], max_norm: float = CLIP_NORM) -> str:
    """The numbers behind the figure: ‖∂L_t/∂h_k‖ per t - k and model, then the clipping summary."""
    short = [c.label.replace("RNN, W_hh scale ", "rnn ").replace("LSTM, forget bias ", "lstm b_f").replace(" (the book's cell)", "")
             for c in curves]
    width = max(10, *(len(s) + 1 for s in short))
    lines = ["‖∂L_t/∂h_k‖ (no clipping), t = last step, mean over sequences",
             f"{'t-k':>4}" + "".join(f"{s:>{width}}" for s in short)]
    for j in range(len(curves[0].norms)):
        lines.append(f"{j:>4}" + "".join(f"{c.norms[j]:>{width}.3e}" for c in curves))
    lines += ["", f"clipping by global norm {max_norm:g}: every entry of a column is multiplied by its factor",
              f"{'':>16}" + "".join(f"{s:>{width}}" for s in short),
              f"{'‖∇θ L‖ before':>16}" + "".join(f"{c.grad_norm:>{width}.3e}" for c in curves),
              f"{'factor':>16}" + "".join(f"{c.clip_factor:>{width}.3e}" for c in curves),
              f"{'‖∇θ L‖ after':>16}" + "".join(f"{c.grad_norm * c.clip_factor:>{width}.3e}" for c in curves),
              f"{'max ‖∂L/∂h_k‖':>16}" + "".join(f"{c.clipped.max():>{width}.3e}" for c in curves)]
    return "\n".join(lines)


def plot(curves: list[GradientCurve], path: str, max_norm: float = CLIP_NORM) -> None:
    """Two panels sharing a log y-axis: without clipping (with the w^(t-k) guides) and with."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    colors = ["#1f77b4", "#7f7f7f", "#d62728", "#2ca02c", "#9467bd"]
    lags = np.arange(len(curves[0].norms))
    values = np.concatenate([c.norms for c in curves] + [c.clipped for c in curves])
    lo, hi = values[values > 0].min(), values.max()
    for ax, clipped in zip(axes, (False, True)):
        for c, color in zip(curves, colors):
            ax.semilogy(lags, c.clipped if clipped else c.norms, color=color, lw=2,
                        label=c.label + (f"  (×{c.clip_factor:.2g})" if clipped and c.clip_factor < 1 else ""))
            if c.scale is not None and not clipped and c.scale != 1.0:
                ax.semilogy(lags, c.scale ** lags.astype(float), color=color, lw=1, ls=":")
        ax.set_xlabel("t − k  (steps back from the loss)")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlim(0, lags[-1])
        ax.set_ylim(lo / 5, hi * 5)
    axes[0].set_ylabel(r"$\|\partial L_t\,/\,\partial h_k\|$", fontsize=12)
    axes[0].set_title(r"no clipping   (dotted: the chapter's bound $w^{t-k}$)", fontsize=10.5)
    axes[1].set_title(f"clipped by global norm {max_norm:g}: all of " + r"$\nabla_\theta L$ times one factor",
                      fontsize=10.5)
    axes[0].legend(loc="lower left", fontsize=8.5)
    axes[1].legend(loc="lower left", fontsize=8.5)
    fig.suptitle(f"Vanishing and exploding gradients through time: {len(lags)} steps, "
                 f"same random inputs, mean over sequences", fontsize=11)
    fig.savefig(path, dpi=110)


def check_png_path(out: str, name: str = "out") -> str:
    """`out` if a PNG file can be written there, else a one-line error naming the parameter `name`."""
    if not out.lower().endswith(".png"):
        raise SeqrnnError(f"`{name}` must name a .png file, got {out!r}")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise SeqrnnError(f"`{name}` {out}: the directory {directory} does not exist")
    if os.path.isdir(out):
        raise SeqrnnError(f"`{name}` is a directory, expected a .png file: {out}")
    if not os.access(directory, os.W_OK):
        raise SeqrnnError(f"`{name}` {out}: the directory {directory} is not writable")
    return out
