"""What the training benchmarks share: a training process with its peak memory, and the plot."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run_measured(cmd: list[str]) -> tuple[int, str, str, float]:
    """Run a command to completion: (exit status, stdout, stderr, its own peak RSS in MB).

    Output goes to temporary files so that the child can be reaped with os.wait4, whose resource
    usage is the child's alone.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read(), err.read(), usage.ru_maxrss / 1024


def plot_curves(runs: list[dict], key: str, ylabel: str, title: str, path: Path) -> None:
    """One line per run: run[key] is a list of (minutes, value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        t, value = zip(*run[key])
        ax.plot(t, value, "o-", ms=3, label=run["preset"])
    ax.set_xlabel("minutes")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
