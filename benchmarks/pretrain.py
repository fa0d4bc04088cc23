"""Semi-supervised sentiment benchmark: accuracy against minutes of language-model pretraining.

    python benchmarks/pretrain.py                               # LMs on 6,250 / 12,500 / 25,000 reviews
    python benchmarks/pretrain.py --limits 2000 --clf-flags "--epochs 1 --limit 2000"   # a smoke run
    python benchmarks/pretrain.py --baseline                    # also the default preset from scratch

For each `--limits N`, `seqrnn lm train --data imdb --limit N` pretrains both directions for one
epoch on N training reviews and N unlabelled ones, with `--val-fraction 2500/N`, so that it holds
out exactly the 2,500 reviews the classifier validates on (`lm.heldout_split`); then
`seqrnn sentiment train --init-from` fine-tunes the default classifier from it (`--clf-flags`,
default 3 epochs). More reviews = more minutes of pretraining, each run a complete cosine schedule.
Every run is its own process with seed 1. The table gives each language model's minutes, held-out
perplexity, training words/s (per direction) and recurrent-layer GFLOP/s beside this machine's
matrix-multiply rate measured in the same run, and the classifier's best validation accuracy
against the total minutes of both stages. With `--baseline` the default preset (no pretraining,
the same `--clf-flags`) runs too: the curve's point at 0 minutes. Results go to
benchmarks/results/pretrain.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, run_training  # noqa: E402
from sentiment import matmul_gflops, recurrent_flops_per_token  # noqa: E402


def lm_flops_per_word(model: dict) -> float:
    """Forward + backward multiply-adds of one direction's recurrent layers per word."""
    return recurrent_flops_per_token({**model, "bidirectional": False})


VALIDATION_REVIEWS = 2500  # the default classifier's: 10% of the 25,000 training reviews


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limits", default="6250,12500,25000",
                        help="labelled (and unlabelled) reviews per language model, comma-separated")
    parser.add_argument("--lm-flags", default="", help="more `lm train` flags")
    parser.add_argument("--clf-flags", default="--epochs 3", help="`sentiment train` flags (both classifiers)")
    parser.add_argument("--eval-every", type=int, default=200, help="classifier: validate every N steps too")
    parser.add_argument("--baseline", action="store_true", help="also train the default preset from scratch")
    parser.add_argument("--keep", help="keep the model directories here")
    args = parser.parse_args()
    limits = [int(n) for n in args.limits.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = matmul_gflops()
    seqrnn = [sys.executable, "-m", "seqrnn"]

    def classifier(out: Path, *flags: str) -> dict:
        run = run_training([*seqrnn, "sentiment", "train", "--data", "imdb", "--out", str(out), "--seed", "1",
                            "--eval-every", str(args.eval_every), *flags, *shlex.split(args.clf_flags)],
                           out, "accuracy")
        run["best_at_minutes"], run["best_accuracy"] = max(run["curve"], key=lambda c: (c[1], -c[0]))
        return run

    rows = []
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
        root = Path(args.keep or scratch)
        if args.baseline:
            rows.append({"limit": 0, "lm": None, "classifier": classifier(root / "baseline")})
        for limit in limits:
            lm_dir = root / f"lm{limit}"
            lm = run_training([*seqrnn, "lm", "train", "--data", "imdb", "--out", str(lm_dir), "--seed", "1",
                               "--limit", str(limit), "--val-fraction", str(VALIDATION_REVIEWS / limit),
                               *shlex.split(args.lm_flags)], lm_dir, "perplexity")
            directions = 2 if lm["config"]["model"]["direction"] == "both" else 1
            lm["gflops"] = lm_flops_per_word(lm["config"]["model"]) * lm["examples_per_s"] * directions / 1e9
            lm["perplexity"] = min(p for _, p in lm["curve"])
            rows.append({"limit": limit, "lm": lm,
                         "classifier": classifier(root / f"clf{limit}", "--init-from", str(lm_dir))})
    print("\nSemi-supervised sentiment on the IMDb train split (2,500 validation reviews, seed 1)")
    print(f"machine matrix-multiply rate (1024x1024 fp32, torch): {machine:.1f} GFLOP/s")
    print(f"  {'LM reviews':>10} {'LM words':>9} {'LM min':>6} {'perplexity':>10} {'words/s':>8} {'recurrent':>14} "
          f"{'best val acc':>12} {'total min':>9}")
    for row in rows:
        lm, clf = row["lm"], row["classifier"]
        before = lm["minutes"] if lm else 0.0
        row["total_minutes"] = before + clf["minutes"]
        if lm:
            words = lm["config"]["dataset"]["train_words"]
            print(f"  {row['limit'] * 2 - VALIDATION_REVIEWS:>10,} {words / 1e6:>8.1f}M {lm['minutes']:>6.1f} "
                  f"{lm['perplexity']:>10.1f} {lm['examples_per_s']:>8,.0f} "
                  f"{lm['gflops']:>5.1f} GF ({lm['gflops'] / machine:>3.0%}) ", end="")
        else:
            print(f"  {'none':>10} {'':>9} {0.0:>6.1f} {'':>10} {'':>8} {'':>14} ", end="")
        print(f"{clf['best_accuracy']:>12.4f} {row['total_minutes']:>9.1f}")
        print("      " + ", ".join(f"{before + t:.1f} min {a:.4f}" for t, a in clf["curve"]))
    report = {"machine_matmul_gflops": machine, "runs": rows}
    (RESULTS / "pretrain.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'pretrain.json'}")


if __name__ == "__main__":
    main()
