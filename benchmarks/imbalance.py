"""Imbalanced labels: the default's class weights (`auto`: balanced here) against none, beside the linear baselines.

    python benchmarks/imbalance.py                       # 3,000 training reviews (10% positive), 4 minutes a model
    python benchmarks/imbalance.py --train 6000 --minutes 4

From IMDb's training reviews (seeded): a training slice with `--positive` of them positive and a
disjoint test slice with the same share. The default classifier (the default preset, with its
n-gram model) trains twice for the same budget: as the default does (`class_weight="auto"`, which
weighs the classes here: 9 negative reviews to 1 positive) and with `class_weight="none"`. The
baselines (benchmarks/linear.py: TF-IDF + logistic regression with scikit-learn's default C of 1,
the best of 1 and 4 here, and NB-SVM), without and with scikit-learn's `class_weight="balanced"`,
are measured in the same run. The table gives accuracy, macro-F1, balanced accuracy and the positive
class's precision, recall and F1 on the test slice; results go to benchmarks/results/imbalance.json.
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


def imbalanced_slices(n_train: int, n_test: int, positive: float, seed: int):
    """(train texts, labels, test texts, labels) from IMDb's training reviews, `positive` of each positive."""
    from seqrnn.data.imdb import read_imdb
    from seqrnn.data.datasets import resolve

    reviews = read_imdb(resolve("imdb"), splits=("train",))
    rng = np.random.default_rng(seed)
    pos, neg = (rng.permutation(np.flatnonzero(reviews.labels == k)) for k in (1, 0))
    n_pos = [round(n * positive) for n in (n_train, n_test)]
    train = np.concatenate([pos[: n_pos[0]], neg[: n_train - n_pos[0]]])
    test = np.concatenate([pos[n_pos[0] : n_pos[0] + n_pos[1]], neg[n_train - n_pos[0] : n_train - n_pos[0] + n_test - n_pos[1]]])
    train, test = rng.permutation(train), rng.permutation(test)
    texts = reviews.texts
    return ([texts[i] for i in train], reviews.labels[train], [texts[i] for i in test], reviews.labels[test])


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=[1], zero_division=0)
    return {"accuracy": accuracy_score(y_true, y_pred), "macro_f1": f1_score(y_true, y_pred, average="macro"),
            "balanced_accuracy": balanced_accuracy_score(y_true, y_pred), "pos_precision": float(p[0]),
            "pos_recall": float(r[0]), "pos_f1": float(f[0]), "predicted_pos": int((y_pred == 1).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=3000, help="training reviews (default 3000)")
    parser.add_argument("--test", type=int, default=2000, help="test reviews (default 2000)")
    parser.add_argument("--positive", type=float, default=0.1, help="share of positive reviews (default 0.1)")
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget per model (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from seqrnn import TextClassifier

    X, y, X_test, y_test = imbalanced_slices(args.train, args.test, args.positive, args.seed)
    print(f"train {len(X)} reviews ({int(y.sum())} positive), test {len(X_test)} ({int(y_test.sum())} positive)",
          flush=True)
    rows = []
    for weight in (None, "balanced"):
        for name, model, seconds in fit_baselines(X, y, weight, C=1.0):  # scikit-learn's default C: best here
            rows.append({"model": name, "class_weight": weight, "seconds": seconds,
                         **scores(y_test, model.predict(X_test))})
    settings = dict(preset="default", max_minutes=args.minutes, seed=args.seed, threads=args.threads, quiet=True)
    parts = []  # the classifier's network and n-gram model, each alone (accuracy and macro-F1)
    for weight in ("auto", "none"):
        start = time.perf_counter()
        clf = TextClassifier(**settings, class_weight=weight).fit(X, y)
        rows.append({"model": "TextClassifier (default)", "class_weight": weight,
                     "seconds": time.perf_counter() - start, "steps": clf.summary_["step"],
                     "best_validation": clf.summary_["best"], "ngram": clf.ngram_,
                     **scores(y_test, clf.predict(X_test))})
        print(f"{rows[-1]['model']} class_weight={weight}: {rows[-1]['seconds']:.0f} s", flush=True)
        for part, figures in clf.evaluate(X_test, y_test)["parts"].items():
            parts.append({"model": f"  its {'network' if part == 'network' else 'n-gram model'} alone",
                          "class_weight": weight, **figures})

    print(f"\n{'model':<30} {'class_weight':<12} {'accuracy':>8} {'macro-F1':>8} {'bal.acc':>8} "
          f"{'pos P':>6} {'pos R':>6} {'pos F1':>6} {'pred.pos':>8}")
    for r in rows:
        print(f"{r['model']:<30} {str(r['class_weight']):<12} {r['accuracy']:>8.4f} {r['macro_f1']:>8.4f} "
              f"{r['balanced_accuracy']:>8.4f} {r['pos_precision']:>6.3f} {r['pos_recall']:>6.3f} {r['pos_f1']:>6.3f} "
              f"{r['predicted_pos']:>8}")
    for r in parts:
        print(f"{r['model']:<30} {str(r['class_weight']):<12} {r['accuracy']:>8.4f} {r['macro_f1']:>8.4f}")
    best = max((r for r in rows if r["model"] != "TextClassifier (default)"), key=lambda r: r["macro_f1"])
    default = rows[-2]
    print(f"default (class_weight auto) macro-F1 {default['macro_f1']:.4f} against the best baseline's "
          f"{best['macro_f1']:.4f} ({best['model']}, class_weight {best['class_weight']}): "
          f"ratio {default['macro_f1'] / best['macro_f1']:.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "imbalance.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "parts": parts}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
