"""`seqrnn explain gradients`: the numbers show vanishing and exploding gradients, the figure renders."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from seqrnn.cli.main import main
from seqrnn.nn import explain

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def curves():
    return {c.label: c for c in explain.gradient_curves(steps=30)}


def _rnn(curves, w):
    return next(c for c in curves.values() if c.scale == w)


def test_vanishing_below_one_and_growth_above_one(curves):
    small, one, big = (_rnn(curves, w) for w in explain.RNN_SCALES)
    for c in curves.values():
        assert c.norms[0] == pytest.approx(1.0)  # ‖∂L_t/∂h_t‖ = ‖v‖ = 1
    assert small.scale < 1 and big.scale > 1
    assert small.norms[-1] < 1e-6  # vanishes
    assert np.all(np.diff(small.norms) < 0)
    assert one.norms[-1] < 1.0  # w = 1 is not enough with tanh' < 1
    assert big.norms[-1] > 10.0  # explodes
    assert small.norms[-1] < one.norms[-1] < big.norms[-1]


def test_rnn_gradient_is_bounded_by_w_to_the_t_minus_k(curves):
    """‖∂h_t/∂h_k‖ ≤ w^(t-k) because tanh' ≤ 1 and every singular value of W_hh is w."""
    for w in explain.RNN_SCALES:
        c = _rnn(curves, w)
        lags = np.arange(len(c.norms))
        assert np.all(c.norms <= w ** lags * (1 + 1e-9))


def test_open_forget_gate_keeps_the_lstm_gradient_flowing(curves):
    lstm = [c for c in curves.values() if c.label.startswith("LSTM")]
    assert len(lstm) == 2
    small = _rnn(curves, explain.RNN_SCALES[0])
    assert all(c.norms[-1] > 1e3 * small.norms[-1] for c in lstm)
    wide_open = lstm[-1]  # forget bias +3
    assert wide_open.norms[-1] > 1e-2 and wide_open.norms.max() <= 1.0 + 1e-12


def test_clipping_bounds_the_gradient_norm(curves):
    big = _rnn(curves, explain.RNN_SCALES[-1])
    assert big.grad_norm > explain.CLIP_NORM and big.clip_factor < 1
    for c in curves.values():
        assert c.grad_norm * c.clip_factor <= explain.CLIP_NORM
        assert np.all(c.clipped <= c.norms)
        # one factor for the whole gradient: the shape over t - k is unchanged
        np.testing.assert_allclose(c.clipped / c.norms, c.clip_factor)
    assert big.clipped.max() < big.norms.max() / 10


def _table_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and (parts[0].isdigit() or parts[0] == "t-k"):
            rows[parts[0]] = parts[1:]
    return rows


def test_command_writes_png_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "grad.png"
    assert main(["explain", "gradients", "--out", str(out), "--steps", "25"]) == 0
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    stdout = capsys.readouterr().out
    rows = _table_rows(stdout)
    assert [str(j) for j in range(25)] == [r for r in rows if r != "t-k"]
    last = [float(x) for x in rows["24"]]
    first = [float(x) for x in rows["0"]]
    header = " ".join(stdout.splitlines()[1].split()[1:])
    assert header.startswith("rnn w=0.5 rnn w=1 rnn w=2 lstm")
    assert last[0] < 1e-5 * first[0]  # w < 1: vanishing
    assert last[2] > 5 * first[2]  # w > 1: growing
    after = next(line for line in stdout.splitlines() if "after" in line)
    assert all(float(x) <= explain.CLIP_NORM for x in after.split()[-5:])
    assert f"wrote {out}" in stdout


@pytest.mark.slow
def test_renders_headless_in_a_fresh_process(tmp_path):
    """No display, an interactive backend asked for: the figure still renders (Agg canvas)."""
    out = tmp_path / "g.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    code = ("import sys; from seqrnn.cli.main import main; rc = main(sys.argv[1:]); "
            "assert 'matplotlib.pyplot' not in sys.modules; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "explain", "gradients", "--out", str(out), "--steps", "10"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("name", ["nodir/g.png", "g.pdf", "g"])
def test_bad_output_path_is_one_line_and_status_2(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["explain", "gradients", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seqrnn: error: ")
    assert not out.exists()


def test_out_that_is_a_directory_is_rejected(tmp_path, capsys):
    d = tmp_path / "figs.png"
    d.mkdir()
    assert main(["explain", "gradients", "--out", str(d)]) == 2
    assert "directory" in capsys.readouterr().err


def test_too_few_steps_is_rejected(tmp_path, capsys):
    assert main(["explain", "gradients", "--out", str(tmp_path / "g.png"), "--steps", "1"]) == 2
    assert "--steps" in capsys.readouterr().err
