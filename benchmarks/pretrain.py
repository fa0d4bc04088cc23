"""Semi-supervised sentiment benchmark: pretrain word language models, then a classifier from them.

    python benchmarks/pretrain.py                         # LM 35 min, classifier 25 min, seed 1
    python benchmarks/pretrain.py --lm-minutes 5 --clf-minutes 5 --lm-flags "--limit 5000"
    python benchmarks/pretrain.py --baseline              # also the default preset from scratch

`seqrnn lm train --data imdb` (training reviews minus the validation ones, and the 50,000
unlabelled) runs first, then `seqrnn sentiment train --init-from` on it, each as its own process with
the same seed, so the classifier validates on reviews the language model never read. The table
gives the language model's held-out perplexity, its training words/s (per direction) and the
recurrent layers' GFLOP/s beside this machine's matrix-multiply rate measured in the same run, and
the classifier's best validation accuracy against the total minutes of both stages. With
`--baseline` the default preset (PPMI-started embedding, no pretraining) runs for the classifier's
budget too, for a same-run comparison. Results go to benchmarks/results/pretrain.json.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm-minutes", type=float, default=35.0)
    parser.add_argument("--clf-minutes", type=float, default=25.0)
    parser.add_argument("--lm-flags", default="", help="more `lm train` flags")
    parser.add_argument("--clf-flags", default="", help="more `sentiment train` flags")
    parser.add_argument("--eval-every", type=int, default=200, help="classifier: validate every N steps too")
    parser.add_argument("--baseline", action="store_true", help="also train the default preset from scratch")
    parser.add_argument("--keep", help="keep the model directories here")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = matmul_gflops()
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
        root = Path(args.keep or scratch)
        seqrnn = [sys.executable, "-m", "seqrnn"]
        lm_dir, clf_dir = root / "lm", root / "classifier"
        lm = run_training([*seqrnn, "lm", "train", "--data", "imdb", "--out", str(lm_dir), "--seed", "1",
                           "--max-minutes", str(args.lm_minutes), *shlex.split(args.lm_flags)], lm_dir, "perplexity")
        lm["gflops"] = lm_flops_per_word(lm["config"]["model"]) * lm["examples_per_s"] * len(
            lm["config"]["model"]["direction"].replace("both", "forward,backward").split(",")) / 1e9
        clf = run_training([*seqrnn, "sentiment", "train", "--data", "imdb", "--out", str(clf_dir), "--seed", "1",
                            "--init-from", str(lm_dir), "--max-minutes", str(args.clf_minutes),
                            "--eval-every", str(args.eval_every), *shlex.split(args.clf_flags)], clf_dir, "accuracy")
        runs = {"lm": lm, "pretrained": clf}
        if args.baseline:
            base_dir = root / "baseline"
            runs["baseline"] = run_training([*seqrnn, "sentiment", "train", "--data", "imdb", "--out", str(base_dir),
                                             "--seed", "1", "--max-minutes", str(args.clf_minutes),
                                             "--eval-every", str(args.eval_every)], base_dir, "accuracy")
    best_lm = min(p for _, p in lm["curve"])
    print(f"\nSemi-supervised sentiment on the IMDb train split (validation 10%, seed 1)")
    print(f"machine matrix-multiply rate (1024x1024 fp32, torch): {machine:.1f} GFLOP/s")
    print(f"  language model: {lm['minutes']:.1f} min, held-out perplexity {best_lm:.1f}, "
          f"{lm['examples_per_s']:,.0f} words/s per direction, recurrent {lm['gflops']:.1f} GFLOP/s "
          f"({lm['gflops'] / machine:.0%} of matmul), peak {lm['peak_rss_mb']:,.0f} MB")
    print(f"  {'classifier':<11} {'best val acc':>12} {'at minute':>9} {'total min':>9}")
    report = {"machine_matmul_gflops": machine, "lm_best_perplexity": best_lm, "runs": runs}
    for name in ("pretrained", "baseline"):
        if name not in runs:
            continue
        curve = runs[name]["curve"]
        best_t, best = max(curve, key=lambda c: (c[1], -c[0]))
        before = lm["minutes"] if name == "pretrained" else 0.0
        runs[name].update(best_accuracy=best, best_at_minutes=best_t, total_minutes=before + runs[name]["minutes"])
        print(f"  {name:<11} {best:>12.4f} {before + best_t:>9.1f} {before + runs[name]['minutes']:>9.1f}")
        print("    " + ", ".join(f"{before + t:.1f} min {a:.4f}" for t, a in curve))
    (RESULTS / "pretrain.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'pretrain.json'}")


if __name__ == "__main__":
    main()
