"""Several processes on one machine: training throughput of 1 process with 1 thread, 1 process with
all threads, and N torchrun ranks with 1 thread each (gloo on the CPU), in the same run.

    python benchmarks/distributed.py [--task charlm|sentiment] [--minutes 1.5] [--ranks 2]

Each configuration trains the task's default preset for the same wall-clock budget as its own
process(es); the table gives the median examples/s the trainer logged (all ranks together) and the
ratio to one process with all threads. Results go to benchmarks/results/distributed-<task>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, run_training  # noqa: E402


def command(task: str, out: Path, minutes: float, ranks: int, threads: int) -> list[str]:
    launcher = [sys.executable, "-m", "seqrnn"]
    if ranks > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
                    "-m", "seqrnn"]
    data = ["--text", "hamlet"] if task == "charlm" else ["--data", "imdb", "--embed-init", "random"]
    return [*launcher, task, "train", *data, "--out", str(out), "--max-minutes", str(minutes),
            "--threads", str(threads), "--seed", "1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=("charlm", "sentiment"), default="charlm")
    parser.add_argument("--minutes", type=float, default=1.5)
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    setups = [("1 process, 1 thread", 1, 1), (f"1 process, {cores} threads", 1, cores),
              (f"{args.ranks} ranks, 1 thread each", args.ranks, 1)]
    metric = "loss" if args.task == "charlm" else "accuracy"
    rows = []
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
        for i, (name, ranks, threads) in enumerate(setups):
            out = Path(scratch) / f"run{i}"
            result = run_training(command(args.task, out, args.minutes, ranks, threads), out, metric)
            rows.append({"setup": name, "ranks": ranks, "threads": threads,
                         "examples_per_s": result["examples_per_s"], "peak_rss_mb": result["peak_rss_mb"]})
    base = rows[1]["examples_per_s"]
    unit = "characters" if args.task == "charlm" else "reviews"
    print(f"\n{args.task} default preset, {args.minutes:g} minutes each, {cores} cores")
    print(f"  {'setup':<26} {unit + '/s':>14} {'vs 1 process':>13}")
    for row in rows:
        row["ratio"] = row["examples_per_s"] / base
        print(f"  {row['setup']:<26} {row['examples_per_s']:>14,.0f} {row['ratio']:>12.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"distributed-{args.task}.json"
    path.write_text(json.dumps({"task": args.task, "minutes": args.minutes, "cores": cores, "runs": rows}, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
