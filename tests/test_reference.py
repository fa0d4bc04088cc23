"""The NumPy reference computes the chapter's functions and their exact gradients.

Three kinds of evidence: finite differences (the hand-written BPTT is the derivative of the
forward pass), PyTorch's own layers on the same weights (the fast models compute the same
function, gate order and all), and a short training run (the reference learns).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqrnn.nn import reference as R

torch = pytest.importorskip("torch")

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
LAYOUTS = [(1, False), (2, False), (1, True), (2, True)]
D, H, B, T = 3, 4, 2, 5


def _ids(val):
    return "-".join(map(str, val)) if isinstance(val, tuple) else str(val)


# ----------------------------------------------------------------------------------------------
# finite differences
# ----------------------------------------------------------------------------------------------


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """‖a - b‖ / max(‖a‖, ‖b‖), per parameter array (cs231n's gradient-check measure)."""
    denom = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def _numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(x+ε) - f(x-ε)) / 2ε for every entry of x, changed in place."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        x[idx] = old
        g[idx] = (plus - minus) / (2 * eps)
    return g


def _assert_gradients(loss, checks) -> None:
    """Each (what, analytic gradient, array it is taken with respect to): relative error below 1e-6."""
    for what, analytic, x in checks:
        err = _rel_error(analytic, _numeric_grad(loss, x))
        assert err < 1e-6, f"{what}: relative error {err:.2e}"


def _checks(stack, g: R.Gradients, head=None, g_head=None, state0=()):
    """(what, analytic, array) for every stack parameter, head parameter and initial state array."""
    for k, p in enumerate(stack.params):
        for pname, arr in p.items():
            yield f"{pname} of layer/direction {k}", g.params[k][pname], arr
    for pname, arr in (head or {}).items():
        yield f"head {pname}", g_head[pname], arr
    for j, s in enumerate(state0):
        yield f"initial state {j}", g.state0[j], s


@pytest.mark.parametrize("layout", [(1, False), (2, True)], ids=_ids)
@pytest.mark.parametrize("cell", CELLS, ids=_ids)
def test_bptt_matches_finite_differences(cell, layout):
    """Every parameter, the initial state and the inputs: relative error below 1e-6."""
    (name, nonlinearity), (layers, bidirectional) = cell, layout
    rng = np.random.default_rng(1)
    stack = R.RecurrentStack(name, D, H, layers, bidirectional, nonlinearity, seed=2)
    X = rng.standard_normal((B, T, D))
    state0 = tuple(0.5 * rng.standard_normal((layers * stack.num_directions, B, H))
                   for _ in range(stack.state_size))
    # L = Σ G ⊙ Y + Σ G_s ⊙ state_T: a random linear read-out of every output and final state
    Y, final, cache = stack.forward(X, state0)
    G = rng.standard_normal(Y.shape)
    G_s = tuple(rng.standard_normal(s.shape) for s in final)

    def loss() -> float:
        Y, final, _ = stack.forward(X, state0)
        return float(np.sum(G * Y) + sum(np.sum(g * s) for g, s in zip(G_s, final)))

    grads = stack.backward(cache, G, G_s)
    _assert_gradients(loss, [*_checks(stack, grads, state0=state0), ("inputs X", grads.X, X)])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_many_to_many_loss_gradients_match_finite_differences(cell):
    """The chapter's L = Σ_t L_t with the output layer y_t = W_hy h_t + b_y, full BPTT."""
    rng = np.random.default_rng(3)
    V = 5
    stack = R.RecurrentStack(cell, V, H, num_layers=2, seed=4)
    head = {"W_hy": rng.standard_normal((V, H)), "b_y": rng.standard_normal(V)}
    ids = rng.integers(0, V, (B, T + 1))
    X, targets = R.one_hot(ids[:, :-1], V), ids[:, 1:]
    state0 = tuple(0.3 * rng.standard_normal((2, B, H)) for _ in range(stack.state_size))

    def loss() -> float:
        return R.many_to_many_tbptt(stack, head, X, targets, None, state0)[0]

    L, g, g_head, _ = R.many_to_many_tbptt(stack, head, X, targets, None, state0)
    assert L == pytest.approx(loss())
    _assert_gradients(loss, _checks(stack, g, head, g_head, state0))


@pytest.mark.parametrize("outputs", [1, 3], ids=["sigmoid-binary", "softmax-3"])
def test_many_to_one_loss_gradients_match_finite_differences(outputs):
    """One label per sequence read from h_T (both directions' final states when bidirectional)."""
    rng = np.random.default_rng(5)
    stack = R.RecurrentStack("lstm", D, H, num_layers=1, bidirectional=True, seed=6)
    head = {"W_hy": rng.standard_normal((outputs, 2 * H)), "b_y": rng.standard_normal(outputs)}
    X = rng.standard_normal((B, T, D))
    labels = rng.integers(0, max(outputs, 2), B)

    def loss() -> float:
        _, final, _ = stack.forward(X)
        return R.many_to_one_loss(head, R.sequence_summary(stack, final), labels)[0]

    _, final, cache = stack.forward(X)
    _, g_head, dh = R.many_to_one_loss(head, R.sequence_summary(stack, final), labels)
    g = stack.backward(cache, None, R.sequence_summary_backward(stack, dh))
    _assert_gradients(loss, _checks(stack, g, head, g_head))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_concatenated_weight_form_is_the_same_step(nonlinearity):
    """h_t = φ([W_xh; W_hh][x_t; h_{t-1}] + b_h) equals φ(W_xh x_t + W_hh h_{t-1} + b_h)."""
    rng = np.random.default_rng(7)
    p = R.RecurrentStack("rnn", D, H, seed=8).params[0]
    x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    (h_sep,), _ = R.rnn_step(p, x, (h,), nonlinearity)
    (h_cat,) = R.rnn_step_concat(p, x, (h,), nonlinearity)
    np.testing.assert_allclose(h_cat, h_sep, rtol=0, atol=1e-14)


def test_lstm_step_is_the_chapters_equations():
    """One LSTM step written out in the chapter's symbols, independently of lstm_step."""
    rng = np.random.default_rng(9)
    p = R.RecurrentStack("lstm", D, H, seed=10).params[0]
    x, h_prev, C_prev = rng.standard_normal(D), rng.standard_normal(H), rng.standard_normal(H)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    f_t = sig(p["W_xf"] @ x + p["W_hf"] @ h_prev + p["b_f"])
    i_t = sig(p["W_xi"] @ x + p["W_hi"] @ h_prev + p["b_i"])
    g_t = np.tanh(p["W_xg"] @ x + p["W_hg"] @ h_prev + p["b_g"])
    o_t = sig(p["W_xo"] @ x + p["W_ho"] @ h_prev + p["b_o"])
    C_t = C_prev * f_t + i_t * g_t
    h_t = o_t * np.tanh(C_t)
    (h, C), _ = R.lstm_step(p, x[None], (h_prev[None], C_prev[None]))
    np.testing.assert_allclose(C[0], C_t, atol=1e-14)
    np.testing.assert_allclose(h[0], h_t, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# equivalence with the PyTorch layers the models train with
# ----------------------------------------------------------------------------------------------


def _torch_layer(cell, nonlinearity, input_size, layers, bidirectional, seed=0):
    torch.manual_seed(seed)
    if cell == "rnn":
        m = torch.nn.RNN(input_size, H, layers, nonlinearity=nonlinearity, batch_first=True,
                         bidirectional=bidirectional)
    else:
        m = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](input_size, H, layers, batch_first=True,
                                                             bidirectional=bidirectional)
    m = m.double()
    with torch.no_grad():  # biases away from PyTorch's init, so a swapped b_ih/b_hh would show
        for name, prm in m.named_parameters():
            if name.startswith("bias"):
                prm.uniform_(-1, 1)
    stack = R.from_torch_state({k: v.detach().numpy() for k, v in m.state_dict().items()},
                               cell, input_size, H, layers, bidirectional, nonlinearity)
    return m, stack


def _as_state(cell, h):
    return tuple(h) if cell == "lstm" else (h,)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda v: f"{v[0]}layer" + ("-bi" if v[1] else ""))
@pytest.mark.parametrize("cell", CELLS, ids=_ids)
def test_equivalence_with_pytorch(cell, layout):
    """Same weights: outputs, final states and all gradients equal torch's within 1e-8 (float64)."""
    (name, nonlinearity), (layers, bidirectional) = cell, layout
    m, stack = _torch_layer(name, nonlinearity, D, layers, bidirectional)
    gen = torch.Generator().manual_seed(11)
    n = layers * stack.num_directions
    X = torch.randn(B, T, D, dtype=torch.float64, generator=gen, requires_grad=True)
    s0 = [torch.randn(n, B, H, dtype=torch.float64, generator=gen, requires_grad=True)
          for _ in range(stack.state_size)]
    out, hn = m(X, tuple(s0) if name == "lstm" else s0[0])
    hn = _as_state(name, hn)
    G = torch.randn(out.shape, dtype=torch.float64, generator=gen)
    G_s = [torch.randn(s.shape, dtype=torch.float64, generator=gen) for s in hn]
    ((out * G).sum() + sum((s * g).sum() for s, g in zip(hn, G_s))).backward()

    Y, final, cache = stack.forward(X.detach().numpy(), tuple(s.detach().numpy() for s in s0))
    grads = stack.backward(cache, G.numpy(), tuple(g.numpy() for g in G_s))

    np.testing.assert_allclose(Y, out.detach().numpy(), rtol=0, atol=1e-8)
    for ours, theirs in zip(final, hn):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-8)
    torch_grads = R.to_torch_grads(stack, grads.params)
    assert set(torch_grads) == {pname for pname, _ in m.named_parameters()}
    for pname, prm in m.named_parameters():
        np.testing.assert_allclose(torch_grads[pname], prm.grad.numpy(), rtol=0, atol=1e-8, err_msg=pname)
    np.testing.assert_allclose(grads.X, X.grad.numpy(), rtol=0, atol=1e-8)
    for ours, theirs in zip(grads.state0, s0):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=1e-8)


def _torch_tbptt(m, linear, X, targets, k, state0, cell):
    """The training loop's truncated BPTT: windows of k steps, the state detached between them."""
    Bt, Tt = targets.shape
    state = tuple(state0) if cell == "lstm" else state0[0]
    total = 0.0
    for start in range(0, Tt, k):
        if start:
            state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
        out, state = m(X[:, start:start + k], state)
        logits = linear(out)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets[:, start:start + k].reshape(-1), reduction="sum")
        total = total + loss / (Bt * Tt)
    total.backward()
    return total, state


@pytest.mark.parametrize("k", [1, 4, None], ids=["k1", "k4", "full"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_window_wise_truncated_bptt_matches_pytorch_detach(cell, k):
    """many_to_many_tbptt(k) == PyTorch with .detach() between windows of k (T=10: a short last one)."""
    V, Tt, layers = 6, 10, 2
    m, stack = _torch_layer(cell, "tanh", V, layers, False, seed=12)
    torch.manual_seed(13)
    linear = torch.nn.Linear(H, V).double()
    head = {"W_hy": linear.weight.detach().numpy().copy(), "b_y": linear.bias.detach().numpy().copy()}
    gen = torch.Generator().manual_seed(14)
    ids = torch.randint(0, V, (B, Tt + 1), generator=gen)
    X = torch.nn.functional.one_hot(ids[:, :-1], V).double()
    targets = ids[:, 1:]
    s0 = [torch.randn(layers, B, H, dtype=torch.float64, generator=gen, requires_grad=True)
          for _ in range(stack.state_size)]
    total, final = _torch_tbptt(m, linear, X, targets, k or Tt, s0, cell)

    L, g, g_head, ours_final = R.many_to_many_tbptt(stack, head, X.numpy(), targets.numpy(), k,
                                                    tuple(s.detach().numpy() for s in s0), reduction="mean")
    assert L == pytest.approx(total.item(), abs=1e-10)
    for ours, theirs in zip(ours_final, _as_state(cell, final)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-8)
    torch_grads = R.to_torch_grads(stack, g.params)
    for pname, prm in m.named_parameters():
        np.testing.assert_allclose(torch_grads[pname], prm.grad.numpy(), rtol=0, atol=1e-8, err_msg=pname)
    np.testing.assert_allclose(g_head["W_hy"], linear.weight.grad.numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(g_head["b_y"], linear.bias.grad.numpy(), rtol=0, atol=1e-8)
    for ours, theirs in zip(g.state0, s0):  # only the first window reaches the initial state
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=1e-8)


def test_truncation_changes_gradients_but_not_the_loss():
    """Detaching changes only what flows back, never the forward values."""
    rng = np.random.default_rng(15)
    V = 5
    stack = R.RecurrentStack("lstm", V, H, seed=16)
    head = {"W_hy": rng.standard_normal((V, H)), "b_y": np.zeros(V)}
    ids = rng.integers(0, V, (B, 13))
    X, y = R.one_hot(ids[:, :-1], V), ids[:, 1:]
    full = R.many_to_many_tbptt(stack, head, X, y, None)
    same = R.many_to_many_tbptt(stack, head, X, y, 12)
    cut = R.many_to_many_tbptt(stack, head, X, y, 3)
    assert cut[0] == pytest.approx(full[0], abs=1e-12)
    np.testing.assert_allclose(same[1].params[0]["W_hf"], full[1].params[0]["W_hf"], atol=1e-14)
    assert not np.allclose(cut[1].params[0]["W_hf"], full[1].params[0]["W_hf"])
    with pytest.raises(ValueError):
        R.many_to_many_tbptt(stack, head, X, y, 0)
    bi = R.RecurrentStack("lstm", V, H, bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional"):
        R.many_to_many_tbptt(bi, {"W_hy": np.zeros((V, 2 * H)), "b_y": np.zeros(V)}, X, y, 3)


def test_many_to_one_matches_pytorch_bidirectional():
    """The sentiment head: BCE-with-logits on [h_T forward; h_T backward] of a 2-layer BiLSTM."""
    m, stack = _torch_layer("lstm", "tanh", D, 2, True, seed=17)
    torch.manual_seed(18)
    linear = torch.nn.Linear(2 * H, 1).double()
    head = {"W_hy": linear.weight.detach().numpy().copy(), "b_y": linear.bias.detach().numpy().copy()}
    X = torch.randn(B + 1, T, D, dtype=torch.float64)
    labels = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    _, (h_n, _) = m(X)
    summary = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(linear(summary)[:, 0], labels)
    loss.backward()

    _, final, cache = stack.forward(X.numpy())
    L, g_head, dh = R.many_to_one_loss(head, R.sequence_summary(stack, final), labels.numpy())
    g = stack.backward(cache, None, R.sequence_summary_backward(stack, dh))
    assert L == pytest.approx(loss.item(), abs=1e-12)
    torch_grads = R.to_torch_grads(stack, g.params)
    for pname, prm in m.named_parameters():
        np.testing.assert_allclose(torch_grads[pname], prm.grad.numpy(), rtol=0, atol=1e-8, err_msg=pname)
    np.testing.assert_allclose(g_head["W_hy"], linear.weight.grad.numpy(), rtol=0, atol=1e-8)


def test_clip_by_global_norm_matches_pytorch():
    rng = np.random.default_rng(19)
    arrays = [rng.standard_normal((3, 4)) * 10, rng.standard_normal(5) * 10]
    clipped, norm = R.clip_by_global_norm(arrays, 5.0)
    tensors = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.tensor(a)
    torch_norm = torch.nn.utils.clip_grad_norm_(tensors, 5.0)
    assert norm == pytest.approx(torch_norm.item())
    assert R.global_norm(clipped) == pytest.approx(5.0, rel=1e-6)
    for c, t in zip(clipped, tensors):
        np.testing.assert_allclose(c, t.grad.numpy(), rtol=1e-12)
    small, _ = R.clip_by_global_norm([np.ones(2)], 5.0)
    np.testing.assert_array_equal(small[0], np.ones(2))  # below the threshold: untouched


def test_rejects_unknown_cell_and_nonlinearity():
    with pytest.raises(ValueError, match="cell"):
        R.RecurrentStack("transformer", D, H)
    with pytest.raises(ValueError, match="nonlinearity"):
        R.RecurrentStack("rnn", D, H, nonlinearity="sigmoid")


# ----------------------------------------------------------------------------------------------
# the reference learns
# ----------------------------------------------------------------------------------------------

TEXT = """To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die: to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to, 'tis a consummation
Devoutly to be wish'd. To die, to sleep;
To sleep: perchance to dream: ay, there's the rub;
For in that sleep of death what dreams may come
When we have shuffled off this mortal coil,
Must give us pause: there's the respect
That makes calamity of so long life;
For who would bear the whips and scorns of time,
The oppressor's wrong, the proud man's contumely,
The pangs of despised love, the law's delay,
The insolence of office and the spurns
That patient merit of the unworthy takes,
When he himself might his quietus make
With a bare bodkin? who would fardels bear,
To grunt and sweat under a weary life,
But that the dread of something after death,
The undiscover'd country from whose bourn
No traveller returns, puzzles the will
And makes us rather bear those ills we have
Than fly to others that we know not of?
Thus conscience does make cowards of us all;
And thus the native hue of resolution
Is sicklied o'er with the pale cast of thought,
And enterprises of great pith and moment
With this regard their currents turn awry,
And lose the name of action.
Give thy thoughts no tongue,
Nor any unproportioned thought his act.
Be thou familiar, but by no means vulgar.
Those friends thou hast, and their adoption tried,
Grapple them to thy soul with hoops of steel;
But do not dull thy palm with entertainment
Of each new-hatch'd, unfledged comrade. Beware
Of entrance to a quarrel, but being in,
Bear't that the opposed may beware of thee.
Give every man thy ear, but few thy voice;
Take each man's censure, but reserve thy judgment.
Costly thy habit as thy purse can buy,
But not express'd in fancy; rich, not gaudy;
For the apparel oft proclaims the man,
And they in France of the best rank and station
Are of a most select and generous chief in that.
Neither a borrower nor a lender be;
For loan oft loses both itself and friend,
And borrowing dulls the edge of husbandry.
This above all: to thine own self be true,
And it must follow, as the night the day,
Thou canst not then be false to any man.
"""


def test_reference_char_model_learns_a_small_text():
    """A few epochs of the NumPy char LSTM (truncated BPTT, clipping, Adam) lower the loss well
    below the uniform guess ln V."""
    assert 2000 < len(TEXT) < 5000
    vocab = len(set(TEXT))
    model, history = R.train_char_model(TEXT, epochs=12, batch_size=8, num_steps=25, hidden_size=48,
                                        lr=1e-2, seed=0)
    assert len(history) == 12 and all(math.isfinite(h) for h in history)
    assert history[0] < math.log(vocab) + 0.1  # starts near uniform (ln 47 = 3.85 nats)
    assert history[-1] < history[0] - 1.0, history  # measured: 3.43 -> 2.13
    assert history[-1] < 2.4, history
    assert all(b < a + 0.05 for a, b in zip(history, history[1:])), history
    assert model.vocab_size == vocab
