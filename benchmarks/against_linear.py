"""The default text classifier against the linear baselines, on IMDb (the 10% held out) or on 1,000 reviews.

    python benchmarks/against_linear.py --case imdb              # 25,000 reviews, 10% held out, 29 minutes of training
    python benchmarks/against_linear.py --case small             # 1,000 reviews to train on, 2,000 to test on

`imdb`: `seqrnn classify train --data imdb` with the default preset (its network and its n-gram model,
combined by a weight chosen on the held-out reviews) runs as its own process for `--minutes` of
training; the held-out 10% (seed 1, stratified: the classifier's own split) scores it and the
baselines, which train on the other 90%. The whole command, reading and the n-gram model included,
is timed. `small`: `--train` reviews drawn from IMDb's training split (seeded) train the default
preset in-process (it holds out 10% of them itself), `--test` other reviews score every model.
Baselines (benchmarks/linear.py): TF-IDF + logistic regression and NB-SVM, words and word pairs of
the whole texts. Results go to benchmarks/results/against_linear_CASE.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, run_measured  # noqa: E402
from linear import fit_baselines  # noqa: E402


def scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)), "macro_f1": float(f1_score(y_true, y_pred, average="macro"))}


def imdb(args) -> dict:
    from seqrnn.data.sources import read_labelled_data
    from seqrnn.data.split import heldout_split

    texts, labels, _ = read_labelled_data("imdb", default_split="train")
    kept, held = heldout_split(len(texts), args.seed, 0.1, None, labels)
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
        out = Path(scratch) / "model"
        cmd = [sys.executable, "-m", "seqrnn", "classify", "train", "--data", "imdb", "--out", str(out),
               "--max-minutes", str(args.minutes), "--seed", str(args.seed), "--threads", str(args.threads), "--quiet"]
        start = time.perf_counter()
        status, stdout, stderr, peak = run_measured(cmd)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"training failed: {stderr}")
        config = json.loads((out / "config.json").read_text())
    held_out = config["ngram"]["validation"]
    rows = [{"model": "TextClassifier (default)", "seconds": seconds, "peak_mb": peak, **held_out["combined"]},
            {"model": "  its network alone", **held_out["network"]},
            {"model": "  its n-gram model alone", **held_out["ngram"]}]
    X, y = [texts[i] for i in kept], labels[kept]
    X_val, y_val = [texts[i] for i in held], labels[held]
    for name, model, fit_s in fit_baselines(X, y):
        rows.append({"model": name, "seconds": fit_s, **scores(y_val, model.predict(X_val))})
    return {"rows": rows, "ngram_weight": config["ngram"]["weight"], "stdout": stdout.strip(),
            "train": len(kept), "scored_on": len(held)}


def small(args) -> dict:
    from seqrnn import TextClassifier
    from seqrnn.data.sources import read_labelled_data

    texts, labels, _ = read_labelled_data("imdb", default_split="train")
    order = np.random.default_rng(args.seed).permutation(len(texts))
    train, test = order[: args.train], order[args.train : args.train + args.test]
    X, y = [texts[i] for i in train], labels[train]
    X_test, y_test = [texts[i] for i in test], labels[test]
    start = time.perf_counter()
    clf = TextClassifier(max_minutes=args.minutes, seed=args.seed, threads=args.threads, quiet=True).fit(X, y)
    seconds = time.perf_counter() - start
    report = clf.evaluate(X_test, y_test)
    rows = [{"model": "TextClassifier (default)", "seconds": seconds, "accuracy": report["accuracy"],
             "macro_f1": report["macro_avg"]["f1"]},
            {"model": "  its network alone", **report["parts"]["network"]},
            {"model": "  its n-gram model alone", **report["parts"]["ngram"]}]
    for name, model, fit_s in fit_baselines(X, y):
        rows.append({"model": name, "seconds": fit_s, **scores(y_test, model.predict(X_test))})
    return {"rows": rows, "ngram_weight": clf.ngram_["weight"], "train": len(X), "scored_on": len(X_test),
            "summary": clf.summary_}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=("imdb", "small"), default="imdb")
    parser.add_argument("--minutes", type=float, help="the classifier's training budget (imdb: 29, small: 5)")
    parser.add_argument("--train", type=int, default=1000, help="small: training reviews (default 1000)")
    parser.add_argument("--test", type=int, default=2000, help="small: test reviews (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.minutes = args.minutes or (29.0 if args.case == "imdb" else 5.0)
    result = (imdb if args.case == "imdb" else small)(args)
    where = "the held-out 10%" if args.case == "imdb" else f"{result['scored_on']} test reviews"
    print(f"\n{args.case}: {result['train']} reviews to train on, scored on {where}; "
          f"n-gram weight {result['ngram_weight']:.2f}")
    print(f"{'model':<32} {'accuracy':>8} {'macro-F1':>8} {'seconds':>8}")
    for r in result["rows"]:
        seconds = f"{r['seconds']:>8.0f}" if "seconds" in r else f"{'':>8}"
        print(f"{r['model']:<32} {r['accuracy']:>8.4f} {r['macro_f1']:>8.4f} {seconds}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"against_linear_{args.case}.json"
    out.write_text(json.dumps({"args": vars(args), **result}, indent=2, default=float) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
