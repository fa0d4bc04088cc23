"""Character language model benchmark: sampling speed, and quality against wall-clock time.

    python benchmarks/charlm.py                       # sampling + Hamlet, both presets, 5 minutes each
    python benchmarks/charlm.py --corpus tinyshakespeare --minutes 15 --presets default
    python benchmarks/charlm.py --skip-training       # sampling speed only

Sampling: the fast NumPy sampler against the book's loop (the full model called once per character),
for the book-size model (one-hot LSTM 128), in the same run. Training: each preset runs as its own
`seqrnn charlm train` process for the same budget; the table gives the best validation loss, the
loss each reached by the time the book preset finished, characters/s and peak memory. Results go to
benchmarks/results/charlm-<corpus>.json and a plot of validation loss against minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, plot_curves, run_training  # noqa: E402
from seqrnn.nn.networks import CharRNN
from seqrnn.nn.sampling import generate


def book_sample_loop(model: torch.nn.Module, start_ids: np.ndarray, length: int, top_n: int = 5,
                     seed: int = 0) -> list[int]:
    """The baseline: the straightforward sampler, as the book runs it, the full model once per character."""
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


def sampling_speed(length: int = 20_000, baseline_length: int = 2_000) -> dict:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = CharRNN(65, embed_size=0, hidden_size=128, num_layers=1, cell="lstm").eval()
    start = np.array([1, 2, 3])
    rates = {}
    for streams in (1, 64):
        n = length if streams == 1 else length // 8
        t = time.perf_counter()
        for _ in generate(model, start, n, top_n=5, seed=1, num_samples=streams):
            pass
        rates[streams] = n * streams / (time.perf_counter() - t)
    t = time.perf_counter()
    book_sample_loop(model, start, baseline_length, top_n=5, seed=1)
    baseline = baseline_length / (time.perf_counter() - t)
    torch.set_num_threads(os.cpu_count() or 1)
    return {"fast_1_stream_chars_per_s": rates[1], "fast_64_streams_chars_per_s": rates[64],
            "book_loop_chars_per_s": baseline, "speedup_1_stream": rates[1] / baseline}


def train_preset(preset: str, corpus: str, minutes: float, out: Path, extra: list[str]) -> dict:
    """One `seqrnn charlm train` process; returns its validation curve, rate and peak memory."""
    cmd = [sys.executable, "-m", "seqrnn", "charlm", "train", "--text", corpus, "--preset", preset,
           "--max-minutes", str(minutes), "--out", str(out), *extra]
    run = run_training(cmd, out, "loss")
    curve = run.pop("curve")
    return {"preset": preset, "curve_minutes_loss": curve, "best_loss": min(loss for _, loss in curve),
            "chars_per_s": run.pop("examples_per_s"), **run}


def best_by(curve, minutes: float) -> float:
    losses = [loss for t, loss in curve if t <= minutes + 1e-9]
    return min(losses) if losses else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="hamlet", help="hamlet, tinyshakespeare or a path (default hamlet)")
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock budget per preset")
    parser.add_argument("--presets", default="book,default")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-sampling", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = Path(args.corpus).stem
    report: dict = {"corpus": args.corpus, "minutes": args.minutes, "threads": os.cpu_count()}

    if not args.skip_sampling:
        speed = sampling_speed()
        report["sampling"] = speed
        print("\nSampling, book-size model (one-hot LSTM 128, top-n 5)")
        print(f"  fast sampler, 1 stream    {speed['fast_1_stream_chars_per_s']:>10,.0f} chars/s")
        print(f"  fast sampler, 64 streams  {speed['fast_64_streams_chars_per_s']:>10,.0f} chars/s (aggregate)")
        print(f"  book loop, 1 stream       {speed['book_loop_chars_per_s']:>10,.0f} chars/s")
        print(f"  speed-up                  {speed['speedup_1_stream']:>10.1f}x")

    if not args.skip_training:
        runs = []
        with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
            for preset in args.presets.split(","):
                runs.append(train_preset(preset, args.corpus, args.minutes, Path(scratch) / preset, []))
        report["runs"] = runs
        book = next((r for r in runs if r["preset"] == "book"), None)
        print(f"\nTraining on {args.corpus}, {args.minutes:g} minutes per preset (validation: last 10%)")
        print(f"  {'preset':<8} {'best val loss':>13} {'at book end':>12} {'minutes':>8} {'chars/s':>9} {'peak MB':>8}")
        for r in runs:
            at_book = best_by(r["curve_minutes_loss"], book["minutes"]) if book else float("nan")
            r["loss_at_book_end"] = at_book
            print(f"  {r['preset']:<8} {r['best_loss']:>13.4f} {at_book:>12.4f} {r['minutes']:>8.2f} "
                  f"{r['chars_per_s']:>9,.0f} {r['peak_rss_mb']:>8,.0f}")
        if book and len(runs) > 1:
            other = next(r for r in runs if r["preset"] != "book")
            report["margin_at_equal_time"] = book["best_loss"] - other["loss_at_book_end"]
            report["margin_at_budget"] = book["best_loss"] - other["best_loss"]
            print(f"  default beats book by {report['margin_at_budget']:.3f} nats/char at the budget, "
                  f"{report['margin_at_equal_time']:.3f} at the time the book preset finished")
        plot_curves(runs, "curve_minutes_loss", "validation loss (nats/char)", f"char LM on {args.corpus}",
                    RESULTS / f"charlm-{name}.png")

    out = RESULTS / f"charlm-{name}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
