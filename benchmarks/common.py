"""What the training benchmarks share: a training process with its peak memory and curve, and the plot."""

from __future__ import annotations

import json
import os
import statistics
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


def run_training(cmd: list[str], out: Path, metric: str) -> dict:
    """Run one `seqrnn ... train --out OUT` process to completion: its validation curve as
    (minutes, metric) pairs, the minutes of its last validation, its median examples/s, its peak
    memory, its config.json and its stdout. A failed run stops the benchmark with its stderr."""
    from seqrnn.training.rundir import RunDir

    status, stdout, stderr, peak_mb = run_measured(cmd)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed: {stderr}")
    run = RunDir(out)
    records = run.metrics()
    curve = [(r["elapsed_s"] / 60, r[metric]) for r in records if r["type"] == "val"]
    rates = [r["examples_per_s"] for r in records if r["type"] == "train"]
    return {"curve": curve, "minutes": curve[-1][0], "examples_per_s": float(statistics.median(rates)),
            "peak_rss_mb": peak_mb, "config": json.loads((out / RunDir.CONFIG).read_text()), "stdout": stdout.strip()}


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
