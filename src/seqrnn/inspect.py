"""`seqrnn data inspect PATH|NAME [--json]`: what is in an IMDb dataset or a text corpus.

IMDb (whatever `seqrnn.data.read_imdb` reads, or the name `imdb`): reviews per split and label,
tokens per review (the book's tokenizer, as in training), the vocabulary size of the train split.
Anything else is a text corpus: characters, distinct characters, lines; `hamlet` is reported after
the book's cut, text[15858:] (`seqrnn.data.read_corpus`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def _stats(values: np.ndarray) -> dict:
    if not len(values):
        return {"mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0}
    return {
        "mean": round(float(values.mean()), 1),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": int(values.max()),
    }


def inspect_imdb(path: Path) -> dict:
    """Counts and token statistics of an IMDb dataset."""
    from seqrnn.data import read_imdb
    from seqrnn.preprocess import index_tokens

    t0 = time.perf_counter()
    reviews = read_imdb(path)
    t1 = time.perf_counter()
    tokens = index_tokens(reviews.texts)
    lengths = tokens.lengths
    t2 = time.perf_counter()
    splits = {}
    for split in reviews.splits_present:
        mask = reviews.splits == split
        labels = reviews.labels[mask]
        splits[split] = {
            "reviews": int(mask.sum()),
            "neg": int((labels == 0).sum()),
            "pos": int((labels == 1).sum()),
            "unlabelled": int((labels == -1).sum()),
            "tokens": _stats(lengths[mask]),
        }
    train = reviews.splits == "train"
    vocab = int(np.count_nonzero(tokens.counts(train))) if train.any() else 0
    return {
        "kind": "imdb",
        "path": str(path),
        "reviews": len(reviews),
        "splits": splits,
        "tokens": int(lengths.sum()),
        "train_vocab_size": vocab,
        "seconds": {"read": round(t1 - t0, 3), "tokenize": round(t2 - t1, 3), "total": round(time.perf_counter() - t0, 3)},
    }


def inspect_text(path: Path, name: str | None = None) -> dict:
    """Size, alphabet and lines of a text corpus (`name`: the dataset name it was found by)."""
    from seqrnn.data import read_corpus

    t0 = time.perf_counter()
    text, cut = read_corpus(path, name)
    alphabet = sorted(set(text))
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return {
        "kind": "text",
        "path": str(path),
        "name": name,
        "cut": cut,
        "characters": len(text),
        "distinct_characters": len(alphabet),
        "alphabet": "".join(alphabet),
        "lines": lines,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _print_imdb(report: dict) -> None:
    print(f"IMDb reviews: {report['path']}")
    print(f"{'split':<8} {'reviews':>8} {'neg':>7} {'pos':>7} {'unlab.':>7}   "
          f"{'tokens/review: mean':>19} {'median':>7} {'p95':>7} {'max':>7}")
    for split, s in report["splits"].items():
        t = s["tokens"]
        print(f"{split:<8} {s['reviews']:>8,} {s['neg']:>7,} {s['pos']:>7,} {s['unlabelled']:>7,}   "
              f"{t['mean']:>19,.1f} {t['median']:>7,.0f} {t['p95']:>7,.0f} {t['max']:>7,}")
    print(f"tokens: {report['tokens']:,}; vocabulary of the train split: {report['train_vocab_size']:,} words")
    sec = report["seconds"]
    print(f"seconds: read {sec['read']:.2f}, tokenize {sec['tokenize']:.2f}, total {sec['total']:.2f}")


def _print_text(report: dict) -> None:
    print(f"text: {report['path']}" + (f" (named '{report['name']}')" if report["name"] else ""))
    if report["cut"]:
        print(f"reporting the book's cut {report['cut']}: the play without the Gutenberg front matter")
    print(f"characters           {report['characters']:>12,}")
    print(f"distinct characters  {report['distinct_characters']:>12,}")
    print(f"lines                {report['lines']:>12,}")
    print(f"alphabet             {report['alphabet']!r}")
    print(f"seconds              {report['seconds']:>12.2f}")


def inspect_command(args) -> int:
    """Entry point of `seqrnn data inspect`."""
    from seqrnn.data import imdb_format
    from seqrnn.datasets import locate

    path, name = locate(args.target)
    if name == "imdb" or (name is None and imdb_format(path) is not None):
        report = inspect_imdb(path)
        printer = _print_imdb
    else:
        report = inspect_text(path, name)
        printer = _print_text
    if args.json:
        print(json.dumps(report, ensure_ascii=True))
    else:
        printer(report)
    return 0
