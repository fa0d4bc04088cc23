"""Series classification on four UCR/UEA sets, against 1-NN (Euclidean, DTW) and MiniRocket.

    python benchmarks/series_classification.py                      # the final table: TRAIN -> TEST
    python benchmarks/series_classification.py --select normalise=series,channel,none
    python benchmarks/series_classification.py --select epochs=50,100 --sets GunPoint

Without `--select`: the `default` preset of `SeriesClassifier` trains on each set's official TRAIN
split and is scored once on its TEST split; in the same run 1-NN with Euclidean distance and 1-NN
with DTW (each on raw and on per-series z-normalised values) and MiniRocket (aeon, the `bench`
extra; skipped with a note when aeon is missing) train and score on the same splits. Training time
per set, and the time to predict 1,000 series (the TEST series repeated), are measured with
`--threads` threads (default 2). Results go to benchmarks/results/series_classification.json.

With `--select name=v1,v2,...` (any settings of `SeriesClassifier`, several flags allowed): only
TRAIN is used. It is cut into `--folds` stratified folds (seeded); each value trains on the other
folds and is scored on the held-out one, beside 1-NN Euclidean on the same folds; the mean over
folds goes to benchmarks/results/series_select.json. The official TEST splits are never read then.

The `.ts` files are read from $SEQRNN_DATA/series (default ../shared/data/series) by a small reader
of this script's own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402

SETS = ("GunPoint", "ItalyPowerDemand", "BasicMotions", "JapaneseVowels")


def read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """A UCR/UEA .ts file: series (channels, steps) float32 ('?' = NaN) and labels (strings)."""
    values, labels, in_data = [], [], False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower().startswith("@data")
            continue
        *channels, label = line.split(":")
        rows = [[float("nan") if x.strip() in ("?", "NaN", "") else float(x) for x in c.split(",")] for c in channels]
        length = max(len(r) for r in rows)
        values.append(np.array([r + [float("nan")] * (length - len(r)) for r in rows], dtype=np.float32))
        labels.append(label.strip())
    return values, np.array(labels)


def load(name: str, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    root = Path(os.environ.get("SEQRNN_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    return read_ts(root / "series" / f"{name}_{split}.ts")


def znorm(values: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for v in values:
        std = v.std(axis=1, keepdims=True)
        out.append((v - v.mean(axis=1, keepdims=True)) / np.where(std > 1e-8, std, 1.0))
    return out


def as_3d(values: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """A 3-D array when lengths are equal (aeon's fast path), else the list."""
    return np.stack(values) if len({v.shape[1] for v in values}) == 1 else values


def nearest_neighbour(train, y_train, test, distance: str) -> np.ndarray:
    """1-NN predictions; Euclidean on series resampled to the longest training length (the
    estimator's rule), DTW (full window) from aeon."""
    if distance == "euclidean":
        from seqrnn.tasks.series import NearestNeighbour

        classes, targets = np.unique(y_train, return_inverse=True)
        nn = NearestNeighbour.fit([v.T for v in train], targets)
        return classes[nn.predict([v.T for v in test])]
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
    return clf.fit(as_3d(train), y_train).predict(as_3d(test))


def minirocket(train, y_train, test, seed: int) -> np.ndarray:
    from aeon.classification.convolution_based import MiniRocketClassifier

    if len({v.shape[1] for v in train + test}) > 1:  # MiniRocket needs equal lengths: pad with the last value
        length = max(v.shape[1] for v in train + test)
        pad = lambda vs: [np.pad(v, ((0, 0), (0, length - v.shape[1])), mode="edge") for v in vs]  # noqa: E731
        train, test = pad(train), pad(test)
    clf = MiniRocketClassifier(random_state=seed, n_jobs=1)
    return clf.fit(np.stack(train), y_train).predict(np.stack(test))


def fit_model(settings: dict, threads: int, train, y_train):
    from seqrnn.tasks.series import SeriesClassifier

    started = time.perf_counter()
    clf = SeriesClassifier(**{"threads": threads, "quiet": True, **settings}).fit(train, y_train)
    return clf, time.perf_counter() - started


def final_table(args) -> dict:
    rows = []
    try:
        import aeon  # noqa: F401
        have_aeon = True
    except ImportError:
        have_aeon = False
    for name in args.sets:
        train, y_train = load(name, "TRAIN")
        test, y_test = load(name, "TEST")
        row = {"set": name, "train": len(train), "test": len(test), "channels": int(train[0].shape[0]),
               "length": [int(min(v.shape[1] for v in train + test)), int(max(v.shape[1] for v in train + test))], "classes": int(len(np.unique(y_train)))}
        clf, seconds = fit_model(dict(args.settings), args.threads, train, y_train)
        report = clf.evaluate(test, y_test)
        row["model"], row["train_s"] = report["accuracy"], round(seconds, 2)
        row["model_baseline"] = report["baseline"]["accuracy"]
        thousand = [test[i % len(test)] for i in range(1000)]
        started = time.perf_counter()
        clf.set_params(threads=args.threads).predict(thousand)
        row["predict_1000_s"] = round(time.perf_counter() - started, 3)
        for label, values_train, values_test in (("", train, test), ("_z", znorm(train), znorm(test))):
            row["1nn_ed" + label] = float((nearest_neighbour(values_train, y_train, values_test, "euclidean")
                                           == y_test).mean())
            if have_aeon:
                row["1nn_dtw" + label] = float((nearest_neighbour(values_train, y_train, values_test, "dtw")
                                                == y_test).mean())
        if have_aeon:
            started = time.perf_counter()
            row["minirocket"] = float((minirocket(train, y_train, test, args.seed) == y_test).mean())
            row["minirocket_s"] = round(time.perf_counter() - started, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    columns = ["model", "1nn_ed", "1nn_ed_z", "1nn_dtw", "1nn_dtw_z", "minirocket"]
    means = {c: float(np.mean([r[c] for r in rows])) for c in columns if all(c in r for r in rows)}
    print()
    print(f"{'set':<18}" + "".join(f"{c:>11}" for c in columns) + f"{'train s':>9}{'pred 1k s':>10}")
    for r in rows:
        print(f"{r['set']:<18}" + "".join(f"{r[c]:>11.3f}" if c in r else f"{'-':>11}" for c in columns)
              + f"{r['train_s']:>9.1f}{r['predict_1000_s']:>10.2f}")
    print(f"{'mean':<18}" + "".join(f"{means[c]:>11.3f}" if c in means else f"{'-':>11}" for c in columns))
    if not have_aeon:
        print("aeon is not installed (pip install seqrnn[bench]): 1-NN DTW and MiniRocket skipped")
    return {"rows": rows, "means": means, "settings": args.settings, "threads": args.threads, "aeon": have_aeon}


def folds(labels: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k stratified folds of row indices (seeded)."""
    from sklearn.model_selection import StratifiedKFold

    k = min(k, int(np.unique(labels, return_counts=True)[1].min()))
    return [test for _, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(labels, labels)]


def select(args) -> dict:
    grid = [dict(zip(args.select, values)) for values in itertools.product(*args.select.values())]
    results = []
    for name in args.sets:
        values, labels = load(name, "TRAIN")
        parts = folds(labels, args.folds, args.seed)
        for point in grid:
            accuracies, seconds, nn = [], [], []
            for held in parts:
                kept = np.setdiff1d(np.arange(len(values)), held)
                train, test = [values[i] for i in kept], [values[i] for i in held]
                clf, s = fit_model({**args.settings, **point}, args.threads, train, labels[kept])
                report = clf.evaluate(test, labels[held])
                accuracies.append(report["accuracy"])
                nn.append(report["baseline"]["accuracy"])
                seconds.append(s)
            result = {"set": name, **point, "accuracy": float(np.mean(accuracies)), "1nn": float(np.mean(nn)),
                      "train_s": float(np.mean(seconds))}
            results.append(result)
            print(json.dumps(result), flush=True)
    return {"results": results, "settings": args.settings, "folds": args.folds}


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of SeriesClassifier for every run")
    parser.add_argument("--select", action="append", default=[], metavar="NAME=V1,V2",
                        help="compare values on folds of TRAIN")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.settings = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    args.select = {k: [parse_value(x) for x in v.split(",")] for k, v in (s.split("=", 1) for s in args.select)}
    RESULTS.mkdir(exist_ok=True)
    if args.select:
        out = args.out or RESULTS / "series_select.json"
        result = select(args)
    else:
        out = args.out or RESULTS / "series_classification.json"
        result = final_table(args)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
