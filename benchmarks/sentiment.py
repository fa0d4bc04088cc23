"""Sentiment benchmark: both presets for the same wall-clock budget on the IMDb train split.

    python benchmarks/sentiment.py                    # 30 minutes per preset, validation = 10%, seed 1
    python benchmarks/sentiment.py --minutes 5 --presets default

Each preset runs as its own `seqrnn sentiment train` process (so peak memory is its own). The table
gives validation accuracy against minutes, training examples/s, peak memory, prediction reviews/s,
the recurrent layers' achieved GFLOP/s beside this machine's matrix-multiply rate measured in the
same run, and how long the default needed to reach the book preset's best accuracy. Results go to
benchmarks/results/sentiment.json and sentiment.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, plot_curves, run_training  # noqa: E402


def matmul_gflops(size: int = 1024, seconds: float = 3.0) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - start) / 1e9


def recurrent_flops_per_token(model: dict) -> float:
    """Forward + backward (3x forward) multiply-adds of the recurrent layers, per token."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[model["cell"]]
    directions = 2 if model["bidirectional"] else 1
    hidden, total = model["hidden_size"], 0.0
    size_in = model["embed_size"]
    for _ in range(model["num_layers"]):
        total += directions * 2 * gates * hidden * (size_in + hidden)
        size_in = hidden * directions
    return 3 * total


def run_preset(preset: str, minutes: float, out: Path, eval_every: int) -> dict:
    cmd = [sys.executable, "-m", "seqrnn", "sentiment", "train", "--data", "imdb", "--preset", preset,
           "--max-minutes", str(minutes), "--out", str(out), "--seed", "1", "--eval-every", str(eval_every)]
    run = run_training(cmd, out, "accuracy")
    curve = run.pop("curve")
    return {"preset": preset, "curve_minutes_accuracy": curve, "best_accuracy": max(a for _, a in curve), **run}


def prediction_rate(model_dir: Path, texts: list[str]) -> float:
    from seqrnn.tasks.classifier import SentimentClassifier

    clf = SentimentClassifier.load(model_dir)
    start = time.perf_counter()
    clf.predict_proba(texts)
    return len(texts) / (time.perf_counter() - start)


def tokens_per_example(config: dict, texts: list[str]) -> float:
    """Mean recurrent steps per training review under the preset's padding (book: all seq_len)."""
    from seqrnn.text.tokens import index_tokens

    seq_len = config["data"]["seq_len"]
    if config["data"]["pad"] == "left":
        return float(seq_len)
    lengths = np.minimum(index_tokens(texts).lengths, seq_len)
    return float(lengths.mean()) * 1.05  # bucketed batches pad to their longest: about 5% over


def time_to_reach(curve, target: float) -> float | None:
    return next((t for t, a in curve if a >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--presets", default="book,default")
    parser.add_argument("--eval-every", type=int, default=100, help="validate every N steps too")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    from seqrnn.data.imdb import read_imdb
    from seqrnn.data.datasets import resolve

    reviews = read_imdb(resolve("imdb"), splits=("train",))
    sample_texts = reviews.texts[:5000]
    machine = matmul_gflops()
    runs = []
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
        for preset in args.presets.split(","):
            run = run_preset(preset, args.minutes, Path(scratch) / preset, args.eval_every)
            run["predict_reviews_per_s"] = prediction_rate(Path(scratch) / preset, sample_texts)
            flops = recurrent_flops_per_token(run["config"]["model"])
            run["recurrent_gflops"] = flops * tokens_per_example(run["config"], sample_texts) * run["examples_per_s"] / 1e9
            runs.append(run)
    print(f"\nSentiment on the IMDb train split (validation 10%, seed 1), {args.minutes:g} minutes per preset")
    print(f"machine matrix-multiply rate (1024x1024 fp32, torch): {machine:.1f} GFLOP/s")
    print(f"  {'preset':<8} {'best val acc':>12} {'minutes':>8} {'train ex/s':>10} {'predict/s':>10} "
          f"{'peak MB':>8} {'RNN GFLOP/s':>11} {'of matmul':>9}")
    for r in runs:
        print(f"  {r['preset']:<8} {r['best_accuracy']:>12.4f} {r['minutes']:>8.1f} {r['examples_per_s']:>10,.0f} "
              f"{r['predict_reviews_per_s']:>10,.0f} {r['peak_rss_mb']:>8,.0f} {r['recurrent_gflops']:>11.1f} "
              f"{r['recurrent_gflops'] / machine:>9.0%}")
    for r in runs:
        print(f"  {r['preset']}: " + ", ".join(f"{t:.1f} min {a:.4f}" for t, a in r["curve_minutes_accuracy"]))
    report = {"minutes": args.minutes, "machine_matmul_gflops": machine, "runs": runs}
    book = next((r for r in runs if r["preset"] == "book"), None)
    default = next((r for r in runs if r["preset"] == "default"), None)
    if book and default:
        t_book = time_to_reach(book["curve_minutes_accuracy"], book["best_accuracy"])
        t_default = time_to_reach(default["curve_minutes_accuracy"], book["best_accuracy"])
        report["book_best_at_minutes"], report["default_reaches_it_at_minutes"] = t_book, t_default
        ratio = (t_default / t_book) if t_default is not None else None
        report["time_ratio"] = ratio
        print(f"  book best {book['best_accuracy']:.4f} after {t_book:.1f} min; default reaches it after "
              + (f"{t_default:.1f} min ({ratio:.2f} of the time)" if t_default is not None else "never"))
    plot_curves(runs, "curve_minutes_accuracy", "validation accuracy", "IMDb sentiment, 2-core CPU",
                RESULTS / "sentiment.png")
    (RESULTS / "sentiment.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'sentiment.json'}")



if __name__ == "__main__":
    main()
