"""A four-class task: IMDb reviews labelled by star range, against the linear baselines.

    python benchmarks/multiclass.py --plot docs/confusion.png         # 6,000 / 2,000 / 2,000 reviews, 6 minutes
    python benchmarks/multiclass.py --minutes 3 --train 3000

IMDb's file names carry each review's stars (`train/pos/123_9.txt`: 9 of 10); negative reviews
have 1-4, positive ones 7-10. The labels are the star ranges 1-2, 3-4, 7-8 and 9-10. From IMDb's
training reviews, seeded and disjoint: `--train` reviews to train on, `--val` to select the best
weights (and its n-gram model's weight) by, `--test` to report on. The text classifier (the default
preset, for `--minutes`; its network and its n-gram model, also reported alone) and the baselines
(benchmarks/linear.py: TF-IDF + logistic regression and one-against-the-rest NB-SVM, words and word
pairs) train on the same reviews in the same run (the classifier for at most `--epochs`, 3, so that
its cosine schedule ends within the budget) and are scored on the same test reviews: accuracy,
macro-F1, and the classifier's whole report (per-class precision, recall, F1, confusion matrix; `TextClassifier.evaluate`). Results go to
benchmarks/results/multiclass.json; `--plot` draws the classifier's confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402
from linear import fit_baselines  # noqa: E402

RANGES = {1: "1-2", 2: "1-2", 3: "3-4", 4: "3-4", 7: "7-8", 8: "7-8", 9: "9-10", 10: "9-10"}


def star_ranges(n_train: int, n_val: int, n_test: int, seed: int):
    """Three disjoint seeded samples of IMDb's training reviews, each (texts, star-range labels)."""
    from seqrnn.data.imdb import read_imdb
    from seqrnn.data.datasets import resolve

    reviews = read_imdb(resolve("imdb"), splits=("train",))
    labelled = np.flatnonzero(reviews.ratings > 0)
    order = np.random.default_rng(seed).permutation(labelled)
    parts, start = [], 0
    for n in (n_train, n_val, n_test):
        index = order[start : start + n]
        parts.append(([reviews.texts[i] for i in index], np.array([RANGES[int(r)] for r in reviews.ratings[index]])))
        start += n
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=6000, help="training reviews (default 6000)")
    parser.add_argument("--val", type=int, default=2000, help="validation reviews (default 2000)")
    parser.add_argument("--test", type=int, default=2000, help="test reviews (default 2000)")
    parser.add_argument("--minutes", type=float, default=6.0, help="the classifier's training budget (default 6)")
    parser.add_argument("--epochs", type=int, default=3, help="the classifier's epochs at most (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plot", type=Path, help="draw the classifier's confusion matrix into this PNG")
    args = parser.parse_args()

    from seqrnn import TextClassifier
    from seqrnn.tasks.report import classification_summary, format_report, plot_confusion_matrix

    (X, y), (X_val, y_val), (X_test, y_test) = star_ranges(args.train, args.val, args.test, args.seed)
    classes = sorted(set(y.tolist()))
    counts = {c: int((y == c).sum()) for c in classes}
    print(f"train {len(X)}, validation {len(X_val)}, test {len(X_test)} reviews; training labels {counts}", flush=True)

    baselines = [(name, classification_summary(y_test, model.predict(X_test), classes), seconds)
                 for name, model, seconds in fit_baselines(X, y)]

    start = time.perf_counter()
    clf = TextClassifier(preset="default", epochs=args.epochs, max_minutes=args.minutes, seed=args.seed,
                         threads=args.threads)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    rnn_s = time.perf_counter() - start
    report = clf.evaluate(X_test, y_test)

    rows = [*baselines, ("TextClassifier, default preset", report, rnn_s)]
    if "parts" in report:
        rows += [(f"  its {name} alone", {"accuracy": report["parts"][part]["accuracy"],
                                          "macro_avg": {"f1": report["parts"][part]["macro_f1"]}}, float("nan"))
                 for part, name in (("network", "network"), ("ngram", "n-gram model"))]
    print(f"\n{'model':<32} {'accuracy':>8} {'macro-F1':>8} {'train s':>8}")
    for name, result, seconds in rows:
        print(f"{name:<32} {result['accuracy']:>8.4f} {result['macro_avg']['f1']:>8.4f} {seconds:>8.0f}")
    best = {m: max(b[1][m] if m == "accuracy" else b[1]["macro_avg"]["f1"] for b in baselines)
            for m in ("accuracy", "macro_f1")}
    print(f"{'ratio (classifier / best baseline)':<32} {report['accuracy'] / best['accuracy']:>8.3f} "
          f"{report['macro_avg']['f1'] / best['macro_f1']:>8.3f}")
    print(f"\nthe classifier on the {len(X_test)} test reviews (stopped: {clf.summary_['stopped']}, "
          f"{clf.summary_['step']} steps, best validation accuracy {clf.summary_['best']['accuracy']:.4f}):\n")
    print(format_report(report))
    if args.plot:
        plot_confusion_matrix(report, args.plot)
        print(f"\nwrote {args.plot}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "multiclass.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "classes": classes,
                               "train_labels": counts, "classifier": report, "classifier_seconds": rnn_s,
                               "classifier_summary": clf.summary_,
                               "baselines": {name: {"report": r, "seconds": t} for name, r, t in baselines}},
                              indent=2, default=float) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
