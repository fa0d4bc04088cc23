"""Preprocessing benchmark: preparing the IMDb reviews as `sentiment train` does, on the first run
(empty prepared-data cache) and on a repeated run (warm cache), against a straightforward
implementation.

Preparation: read the archive (train and unsup splits), shuffle the labelled reviews with the
seed, tokenize them, build the vocabulary from the training part (all but the first
--val-fraction), encode every labelled review to --seq-len tokens, and count PPMI word vectors
(--embed-size, 0 = skip) over the training and unlabelled reviews.

straightforward: extract the archive to a temporary directory, one open() per review, the book's
  per-character join, Counter.update per review, a list comprehension per review for the ids and
  the book's per-row NumPy fill (no word vectors: the book has none). Run only with the book's
  settings (--min-count 1, --max-vocab 0, --pad left), whose matrix must equal seqrnn's.
first run / repeated run: seqrnn.data.imdb.read_imdb, seqrnn.text.vocabulary.build_and_encode and
  seqrnn.text.wordvectors.vectors_for_vocabulary, twice, with SEQRNN_CACHE pointed at a new temporary
  directory (the user's cache is not touched).
tokenizer: index_tokens (cache off) against a plain tokenizer, `tokenize` per text and a dict from
  token to index, on every review read; both must give the same tokens.

--baseline JSON adds the first-run column of an earlier result (e.g. this script run against an
older checkout). Prints a table; writes benchmarks/results/preprocess.json.

    python benchmarks/preprocess.py [--data PATH] [--limit N] [--seq-len 200] [--baseline JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from itertools import count
from pathlib import Path
from string import punctuation

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from seqrnn.data.sources import read_imdb  # noqa: E402
from seqrnn.text.tokens import TokenizedTexts, index_tokens, tokenize  # noqa: E402
from seqrnn.text.vocabulary import build_and_encode
from seqrnn.text.wordvectors import vectors_for_vocabulary  # noqa: E402

LABEL_DIRS = {0: "neg", 1: "pos", -1: "unsup"}
STAGES = ("read", "tokenize+count+encode", "ppmi vectors", "total")


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
    return sequences, len(word_to_int) + 2, {"read": t_read, "tokenize+count+encode": t_prep, "ppmi vectors": None,
                                             "total": t_read + t_prep}


def prepare(args) -> tuple[dict, dict]:
    """What `sentiment train` does before training: (data, seconds per stage)."""
    t0 = time.perf_counter()
    reviews = read_imdb(args.data, splits=("train", "unsup"))
    if args.limit:
        reviews = reviews.subset(np.arange(min(args.limit, len(reviews))))
    t_read = time.perf_counter() - t0

    t1 = time.perf_counter()
    labelled = np.flatnonzero(reviews.labels >= 0)
    order = labelled[np.random.default_rng(args.seed).permutation(len(labelled))]
    texts = [reviews.texts[i] for i in order.tolist()]
    n_val = int(round(len(texts) * args.val_fraction))
    vocab_rows = np.arange(len(texts)) >= n_val
    vocab, x, _ = build_and_encode(texts, args.seq_len, vocab_rows=vocab_rows, min_count=args.min_count,
                                   max_size=args.max_vocab or None, pad=args.pad)
    t_prep = time.perf_counter() - t1

    t2 = time.perf_counter()
    if args.embed_size:
        corpus = texts[n_val:] + [reviews.texts[i] for i in np.flatnonzero(reviews.labels < 0).tolist()]
        vectors = vectors_for_vocabulary(corpus, vocab, args.embed_size, seed=args.seed)
    else:
        vectors = None
    t_vec = time.perf_counter() - t2 if args.embed_size else None
    data = {"reviews": reviews, "order": order, "vocab_rows": vocab_rows, "vocab_size": len(vocab), "x": x,
            "vectors": vectors}
    return data, {"read": t_read, "tokenize+count+encode": t_prep, "ppmi vectors": t_vec,
                  "total": t_read + t_prep + (t_vec or 0.0)}


def plain_index_tokens(texts: list[str]) -> TokenizedTexts:
    """`index_tokens` the plain way: `tokenize` per text and a dict from token to index."""
    index: defaultdict[str, int] = defaultdict(count().__next__)
    parts, lengths = [], np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        tokens = tokenize(text)
        lengths[i] = len(tokens)
        parts.append(np.fromiter(map(index.__getitem__, tokens), np.int32, len(tokens)))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return TokenizedTexts(list(index), np.concatenate(parts) if parts else np.zeros(0, np.int32), offsets)


def same_tokens(a: TokenizedTexts, b: TokenizedTexts) -> bool:
    wa, wb = np.array(a.words, dtype=object), np.array(b.words, dtype=object)
    return np.array_equal(a.offsets, b.offsets) and bool((wa[a.ids] == wb[b.ids]).all())


def compare_tokenizers(texts: list[str]) -> dict:
    """Seconds of the engine and of the plain tokenizer on `texts`, the cache off, and the cost of
    the cache key of the texts."""
    os.environ["SEQRNN_NO_CACHE"] = "1"
    try:
        t0 = time.perf_counter()
        engine = index_tokens(texts)
        t1 = time.perf_counter()
        plain = plain_index_tokens(texts)
        t2 = time.perf_counter()
    finally:
        del os.environ["SEQRNN_NO_CACHE"]
    result = {"texts": len(texts), "engine_s": t1 - t0, "plain_s": t2 - t1, "identical": same_tokens(engine, plain)}
    try:
        from seqrnn import cache
    except ImportError:  # an older checkout without the cache
        return result
    t3 = time.perf_counter()
    cache.texts_key(texts, "tokens")
    result["texts_key_s"] = time.perf_counter() - t3
    return result


def main() -> int:
    default = Path(os.environ.get("SEQRNN_DATA", "../shared/data")) / "aclImdb_train.tar.gz"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default, help=f"aclImdb .tar.gz (default {default})")
    parser.add_argument("--limit", type=int, help="only the first N reviews (train neg, pos, unsup) after reading")
    parser.add_argument("--seq-len", type=int, default=200)
    parser.add_argument("--min-count", type=int, default=1)
    parser.add_argument("--max-vocab", type=int, default=0, help="0 = all words")
    parser.add_argument("--pad", choices=("left", "right"), default="left")
    parser.add_argument("--embed-size", type=int, default=128, help="PPMI vector size (0 = no vectors)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-straightforward", action="store_true")
    parser.add_argument("--baseline", type=Path, help="an earlier result JSON: its first run is shown too")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "preprocess.json")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"preprocess benchmark: error: {args.data}: no such archive (use --data or set SEQRNN_DATA)",
              file=sys.stderr)
        return 2
    with open(args.data, "rb") as f:  # warm the page cache so that no side pays the disk
        while f.read(1 << 24):
            pass
    baseline = json.loads(args.baseline.read_text())["first_run"] if args.baseline else None

    cache_dir = tempfile.mkdtemp(prefix="seqrnn-bench-cache-")
    os.environ["SEQRNN_CACHE"] = cache_dir  # an empty cache: the first run is a cold one
    try:
        data, first = prepare(args)
        again, repeated = prepare(args)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    reviews, order, vocab_rows = data["reviews"], data["order"], data["vocab_rows"]
    identical = bool(np.array_equal(data["x"], again["x"]))
    if data["vectors"] is not None:
        identical = identical and bool(np.array_equal(data["vectors"], again["vectors"]))
    tokenizer = compare_tokenizers(reviews.texts)

    book = args.min_count == 1 and not args.max_vocab and args.pad == "left"
    slow = None
    if book and not args.skip_straightforward:
        names = [member_name(*r) for r in zip(reviews.splits[order].tolist(), reviews.labels[order].tolist(),
                                              reviews.ids[order].tolist(), reviews.ratings[order].tolist())]
        x_slow, vocab_slow, slow = straightforward(args.data, names, vocab_rows, args.seq_len)
        identical = identical and bool(np.array_equal(data["x"], x_slow)) and vocab_slow == data["vocab_size"]

    columns = [("straightforward", slow), ("baseline", baseline), ("first run", first), ("repeated run", repeated)]
    columns = [(name, col) for name, col in columns if col is not None]
    print(f"{len(order):,} labelled reviews ({int(vocab_rows.sum()):,} for the vocabulary, {data['vocab_size']:,} "
          f"ids), {len(reviews) - len(order):,} unlabelled; seq_len {args.seq_len}, embed {args.embed_size}; "
          f"{args.data.name}")
    print(f"{'seconds':<24}" + "".join(f"{name:>16}" for name, _ in columns))
    for stage in STAGES:
        cells = [col.get(stage) for _, col in columns]
        print(f"{stage:<24}" + "".join(f"{c:>16.2f}" if c is not None else f"{'-':>16}" for c in cells))
    print(f"tokenizer on {tokenizer['texts']:,} reviews, cache off: engine {tokenizer['engine_s']:.2f} s, plain "
          f"{tokenizer['plain_s']:.2f} s (same tokens: {tokenizer['identical']})"
          + (f"; cache key of the texts {tokenizer['texts_key_s']:.2f} s" if "texts_key_s" in tokenizer else ""))
    print(f"identical results: {identical}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "labelled": len(order), "unlabelled": len(reviews) - len(order), "vocab_rows": int(vocab_rows.sum()),
        "vocab_size": data["vocab_size"], "seq_len": args.seq_len, "min_count": args.min_count,
        "max_vocab": args.max_vocab, "pad": args.pad, "embed_size": args.embed_size, "data": str(args.data),
        "limit": args.limit, "identical": identical, "straightforward": slow, "first_run": first,
        "repeated_run": repeated, "baseline_first_run": baseline, "tokenizer": tokenizer,
        "python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if identical and tokenizer["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
