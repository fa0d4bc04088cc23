"""Preprocessing benchmark: seqrnn's fast path against a straightforward implementation.

Both read the IMDb archive, tokenize every review the book's way, build the vocabulary from the
labelled train split only (what `sentiment train` does: the vocabulary must not see held-out or
unlabelled text) and encode every review -- labelled and unlabelled -- to a fixed length of 200.

straightforward: extract the archive to a temporary directory, one open() per review, the book's
  per-character join, Counter.update per review, a list comprehension per review for the ids and
  the book's per-row NumPy fill.
fast: seqrnn.data.read_imdb (one streaming pass over the .tar.gz, nothing extracted) and
  seqrnn.preprocess.build_and_encode (vectorised tokenizer, counting and encoding).

The two matrices must be identical. Prints a table; writes benchmarks/results/preprocess.json.

    python benchmarks/preprocess.py [--data PATH] [--limit N] [--seq-len 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from string import punctuation

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from seqrnn.data import read_imdb  # noqa: E402
from seqrnn.preprocess import build_and_encode  # noqa: E402

LABEL_DIRS = {0: "neg", 1: "pos", -1: "unsup"}


def member_name(split: str, label: int, rid: int, rating: int) -> str:
    top = "train" if split in ("train", "unsup") else "test"
    return f"{top}/{LABEL_DIRS[label]}/{rid}_{max(rating, 0)}.txt"


def straightforward(archive: Path, names: list[str], vocab_rows: np.ndarray, seq_len: int):
    """The obvious code: extract, open each file, the book's tokenizer and padding."""
    t0 = time.perf_counter()
    wanted = set(names)
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as tmp:
        with tarfile.open(archive, "r:gz") as tf:
            for member in tf:
                rel = member.name.split("aclImdb/", 1)[-1]
                if member.isfile() and rel in wanted:
                    tf.extract(member, tmp, filter="data")
        roots = list(Path(tmp).rglob("aclImdb"))
        root = roots[0] if roots else Path(tmp)
        texts = []
        for name in names:
            with open(root / name, encoding="utf-8") as f:
                texts.append(f.read())
    t_read = time.perf_counter() - t0

    t1 = time.perf_counter()
    counts = Counter()
    tokenized = []
    for i, review in enumerate(texts):
        text = "".join([c if c not in punctuation else " " + c + " " for c in review]).lower()
        tokenized.append(text)
        if vocab_rows[i]:
            counts.update(text.split())
    word_counts = sorted(counts, key=lambda w: (-counts[w], w))  # ties by word: deterministic
    word_to_int = {word: ii for ii, word in enumerate(word_counts, 2)}  # 0 = PAD, 1 = unknown
    mapped = [[word_to_int.get(word, 1) for word in review.split()] for review in tokenized]
    sequences = np.zeros((len(mapped), seq_len), dtype=np.int64)
    for i, row in enumerate(mapped):
        if row:
            sequences[i, -len(row):] = np.array(row)[-seq_len:]
    t_prep = time.perf_counter() - t1
    return sequences, len(word_to_int) + 2, t_read, t_prep


def fast(archive: Path, limit: int | None, seq_len: int):
    t0 = time.perf_counter()
    reviews = read_imdb(archive)  # always the whole archive: one pass
    if limit:
        reviews = reviews.subset(np.arange(min(limit, len(reviews))))
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    vocab_rows = (reviews.splits == "train") & (reviews.labels >= 0)
    vocab, x, _ = build_and_encode(reviews.texts, seq_len, vocab_rows=vocab_rows)
    t_prep = time.perf_counter() - t1
    return reviews, vocab_rows, x, len(vocab), t_read, t_prep


def main() -> int:
    default = Path(os.environ.get("SEQRNN_DATA", "../shared/data")) / "aclImdb_train.tar.gz"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default, help=f"aclImdb .tar.gz (default {default})")
    parser.add_argument("--limit", type=int, help="only the first N reviews (train neg, pos, unsup) after reading")
    parser.add_argument("--seq-len", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "preprocess.json")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"preprocess benchmark: error: {args.data}: no such archive (use --data or set SEQRNN_DATA)",
              file=sys.stderr)
        return 2
    with open(args.data, "rb") as f:  # warm the page cache so neither side pays the disk
        while f.read(1 << 24):
            pass

    reviews, vocab_rows, x_fast, vocab_fast, fast_read, fast_prep = fast(args.data, args.limit, args.seq_len)
    names = [member_name(*r) for r in zip(reviews.splits.tolist(), reviews.labels.tolist(),
                                          reviews.ids.tolist(), reviews.ratings.tolist())]
    x_slow, vocab_slow, slow_read, slow_prep = straightforward(args.data, names, vocab_rows, args.seq_len)
    identical = bool(np.array_equal(x_fast, x_slow)) and vocab_fast == vocab_slow

    slow_total, fast_total = slow_read + slow_prep, fast_read + fast_prep
    rows = [("read", slow_read, fast_read), ("tokenize+count+encode", slow_prep, fast_prep),
            ("total", slow_total, fast_total)]
    print(f"{len(reviews):,} reviews ({int(vocab_rows.sum()):,} labelled train for the vocabulary, "
          f"{vocab_fast:,} ids), seq_len {args.seq_len}, {args.data.name}")
    print(f"{'stage':<24}{'straightforward s':>18}{'seqrnn s':>10}{'speed-up':>10}")
    for stage, slow, quick in rows:
        print(f"{stage:<24}{slow:>18.2f}{quick:>10.2f}{slow / quick:>9.1f}x")
    print(f"identical matrices: {identical}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "reviews": len(reviews), "vocab_rows": int(vocab_rows.sum()), "vocab_size": vocab_fast,
        "seq_len": args.seq_len, "data": str(args.data), "limit": args.limit, "identical": identical,
        "straightforward": {"read_s": slow_read, "prep_s": slow_prep, "total_s": slow_total},
        "seqrnn": {"read_s": fast_read, "prep_s": fast_prep, "total_s": fast_total},
        "speedup": {"read": slow_read / fast_read, "prep": slow_prep / fast_prep, "total": slow_total / fast_total},
        "python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
