"""ONNX export benchmark: an exported classifier in onnxruntime (CPU) against seqrnn's own
`predict_proba`, on the same IMDb reviews, in the same run, with 1 and 2 threads.

    python benchmarks/export.py                        # 2,000 reviews, the default preset's model
    python benchmarks/export.py --reviews 500 --presets default,book --threads 1,2,4

The model has a preset's shapes (default: vocabulary of at most 30,000 words from the IMDb train
split, embedding 128, bidirectional LSTM 128, max+mean pooling, 400 tokens right-padded) with
untrained weights: the speed does not depend on the values. It is saved, loaded back and exported
with `seqrnn.serve.export.export_model`, as a user would.

Both sides run the same work: tokenizing and encoding the texts (`encode_texts`), then the network
over batches of 256 reviews of similar length, each as wide as its longest review (seqrnn's own
batching; the book preset's rows are all seq_len wide). Two figures per side: end to end (texts to
probabilities) and the network alone (ids already encoded). Each time is the median of --repeats
rounds after a warm-up round; a round runs the four in a rotating order, so that other load on the
machine falls on all alike. torch's and onnxruntime's intra-op threads are set to N (inter-op 1).
The largest difference between the two sides' probabilities is printed too, and the load average.
Results go to benchmarks/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402


def median_seconds(fns: dict, repeats: int) -> dict[str, float]:
    """The median time of each function; every round runs each once, in a rotating order, so that
    other load on the machine falls on all of them alike. One warm-up round first."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats + 1):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            start = time.perf_counter()
            fns[name]()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def build_model_dir(preset: str, train_texts: list[str], directory: Path) -> None:
    """A `preset`-shaped classifier with untrained weights, saved as `train` would save it."""
    import torch

    from seqrnn.nn.networks import SentimentRNN
    from seqrnn.text.vocabulary import build_and_encode
    from seqrnn.tasks.classifier import SentimentClassifier

    clf = SentimentClassifier(preset)
    config = clf.resolved_config()
    vocab, _, _ = build_and_encode(train_texts, config.data.seq_len, min_count=config.data.min_count,
                                   max_size=config.data.max_vocab or None, pad=config.data.pad)
    torch.manual_seed(0)
    clf.config_, clf.vocab_, clf.classes_ = config, vocab, np.array([0, 1])
    clf.model_ = SentimentRNN(len(vocab), **config.to_dict()["model"], num_classes=2).eval()
    clf.save(directory)


def onnx_predictor(path: Path, clf, threads: int):
    """`predict_proba` through onnxruntime: (texts -> probabilities, encoded ids -> probabilities)."""
    import onnxruntime as ort

    from seqrnn.text.vocabulary import encode_texts
    from seqrnn.tasks.classifier import PREDICT_BATCH, length_sorted_batches

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    data = clf.config_.data

    def from_ids(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), len(clf.classes_)), dtype=np.float32)
        for index in length_sorted_batches(lengths, PREDICT_BATCH):
            batch, kept = ids[index], np.maximum(lengths[index], 1)
            if data.pad == "right":
                batch = batch[:, : kept.max()]
            out[index] = session.run(None, {"ids": batch, "lengths": kept})[0]
        return out

    def from_texts(texts: list[str]) -> np.ndarray:
        return from_ids(*encode_texts(texts, clf.vocab_, data.seq_len, pad=data.pad))

    return from_texts, from_ids


def measure(preset: str, train_texts: list[str], texts: list[str], threads: list[int], repeats: int,
            scratch: Path) -> dict:
    import torch

    from seqrnn.serve.export import export_model
    from seqrnn.text.vocabulary import encode_texts
    from seqrnn.tasks.classifier import EncodedReviews, SentimentClassifier, predict_logits
    from seqrnn.training.trainer import torch_threads

    directory = scratch / preset
    build_model_dir(preset, train_texts, directory)
    start = time.perf_counter()
    exported = export_model(directory, "onnx", scratch / f"{preset}.onnx")
    export_s = time.perf_counter() - start
    clf = SentimentClassifier.load(directory)
    data = clf.config_.data
    ids, lengths = encode_texts(texts, clf.vocab_, data.seq_len, pad=data.pad)
    encoded = EncodedReviews(ids, lengths, None, data.pad)
    rows = []
    for n in threads:
        clf.set_params(threads=n)
        onnx_texts, onnx_ids = onnx_predictor(scratch / f"{preset}.onnx", clf, n)
        difference = float(np.abs(onnx_texts(texts) - clf.predict_proba(texts)).max())

        def torch_ids(n=n):
            with torch_threads(n), torch.no_grad():
                predict_logits(clf.model_, encoded, torch.device("cpu"))

        timed = median_seconds({"seqrnn_end_to_end_s": lambda: clf.predict_proba(texts),
                                "onnx_end_to_end_s": lambda f=onnx_texts: f(texts),
                                "seqrnn_network_s": torch_ids,
                                "onnx_network_s": lambda f=onnx_ids: f(ids, lengths)}, repeats)
        row = {"threads": n, "max_abs_difference": difference, **timed, "load_average_1min": os.getloadavg()[0]}
        for side in ("seqrnn", "onnx"):
            for part in ("end_to_end", "network"):
                row[f"{side}_{part}_reviews_per_s"] = len(texts) / row[f"{side}_{part}_s"]
        row["end_to_end_speedup"] = row["seqrnn_end_to_end_s"] / row["onnx_end_to_end_s"]
        row["network_speedup"] = row["seqrnn_network_s"] / row["onnx_network_s"]
        rows.append(row)
    model = clf.config_.model
    return {"preset": preset, "vocab_size": len(clf.vocab_), "seq_len": data.seq_len, "pad": data.pad,
            "model": {"embed_size": model.embed_size, "hidden_size": model.hidden_size, "cell": model.cell,
                      "bidirectional": model.bidirectional, "pooling": model.pooling},
            "mean_tokens_kept": float(lengths.mean()), "export_s": export_s, "onnx_bytes": exported["bytes"],
            "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=2000, 
                        help="IMDb reviews to predict, a seeded sample of the train split (default 2000)")
    parser.add_argument("--presets", default="default", help="comma-separated: default, book")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure, the median kept")
    args = parser.parse_args()
    import onnxruntime
    import torch

    import seqrnn
    from seqrnn.data.imdb import read_imdb
    from seqrnn.data.datasets import resolve

    reviews = read_imdb(resolve("imdb"), splits=("train",))
    rng = np.random.default_rng(0)
    index = rng.permutation(len(reviews.texts))
    texts = [reviews.texts[i] for i in index[: args.reviews]]  # predicted
    train_texts = [reviews.texts[i] for i in index[args.reviews :] if reviews.labels[i] >= 0]  # the vocabulary
    threads = [int(t) for t in args.threads.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-") as scratch:
        for preset in args.presets.split(","):
            results.append(measure(preset, train_texts, texts, threads, args.repeats, Path(scratch)))
    print(f"\nPrediction of {len(texts):,} IMDb reviews: seqrnn predict_proba (torch {torch.__version__}) "
          f"against the exported graph in onnxruntime {onnxruntime.__version__} (CPU); reviews/s, median of "
          f"{args.repeats}")
    print(f"  {'preset':<8} {'threads':>7} | {'end to end: seqrnn':>18} {'onnxruntime':>11} {'ratio':>6} | "
          f"{'network only: seqrnn':>20} {'onnxruntime':>11} {'ratio':>6} | {'max |dp|':>8}")
    for result in results:
        for r in result["rows"]:
            print(f"  {result['preset']:<8} {r['threads']:>7} | {r['seqrnn_end_to_end_reviews_per_s']:>18,.0f} "
                  f"{r['onnx_end_to_end_reviews_per_s']:>11,.0f} {r['end_to_end_speedup']:>5.2f}x | "
                  f"{r['seqrnn_network_reviews_per_s']:>20,.0f} {r['onnx_network_reviews_per_s']:>11,.0f} "
                  f"{r['network_speedup']:>5.2f}x | {r['max_abs_difference']:>8.1e}")
    for result in results:
        print(f"  {result['preset']}: vocabulary {result['vocab_size']:,}, {result['mean_tokens_kept']:.0f} tokens "
              f"per review on average (of {result['seq_len']}, {result['pad']}-padded); export took "
              f"{result['export_s']:.1f} s, {result['onnx_bytes'] / 1e6:.1f} MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"reviews": len(texts), "repeats": args.repeats, "seqrnn_version": seqrnn.__version__,
              "torch_version": torch.__version__, "onnxruntime_version": onnxruntime.__version__, "results": results}
    (RESULTS / "export.json").write_text(json.dumps(report, indent=2))
    loads = [r["load_average_1min"] for result in results for r in result["rows"]]
    print(f"  load average (1 min) while measuring: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")
    print(f"\nwrote {RESULTS / 'export.json'}")


if __name__ == "__main__":
    main()
