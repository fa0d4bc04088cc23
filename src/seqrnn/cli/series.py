"""`seqrnn classify` on numeric series: training, evaluation and file prediction of a series
classifier (`seqrnn.tasks.series`), reached when --data holds series or --model is a series model."""

from __future__ import annotations

import io
import json
import time

from seqrnn.cli.common import Args, print_evaluation, print_summary, train_params

_SERIES_FLAGS = ("series_column", "time_column", "value_columns")
SERIES_SUFFIXES = (".ts", ".npz", ".parquet", ".pq")
SERIES_SETS = ("gunpoint", "italypowerdemand", "basicmotions", "japanesevowels")


def is_series_data(args: Args) -> bool:
    """Whether --data holds numeric series: `--input series`, a .ts or .npz file, or a named series set."""
    from pathlib import Path

    kind = getattr(args, "input", None)
    if kind is not None:
        return kind == "series"
    data = str(args.data)
    return Path(data).suffix.lower() in SERIES_SUFFIXES or data.lower() in SERIES_SETS


def read_series(args: Args, split: str | None):
    """The labelled series --data names (`seqrnn.data.series_files.read_series_data`), a `SeriesCollection`."""
    from seqrnn.data.series_files import read_series_data
    from seqrnn.errors import SeqrnnError

    options = {key: getattr(args, key, None) for key in ("label_column", *_SERIES_FLAGS)}
    collection = read_series_data(args.data, split=split, **{k: v for k, v in options.items() if v is not None})
    if collection.labels is None:
        raise SeqrnnError(f"{args.data}: the series carry no labels")
    return collection


def train(args: Args) -> int:
    from seqrnn.tasks.series import SeriesClassifier
    from seqrnn.training.runtime import interrupts_raise

    started = time.perf_counter()
    with interrupts_raise("reading the data"):
        collection = read_series(args, "train" if str(args.data).lower() in SERIES_SETS else None)
    clf = SeriesClassifier(args.preset, **train_params(SeriesClassifier, args, started))
    clf.fit(collection, collection.labels, out_dir=args.out, resume=args.resume, source=args.data)
    print_summary(clf, args.out, "accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}")
    return 0


def evaluate(clf, args: Args) -> int:
    """`classify evaluate` of a series model: the text report, then the 1-NN baseline's line."""
    from seqrnn.tasks.series import format_baseline

    split = args.split or ("test" if str(args.data).lower() in SERIES_SETS else None)
    collection = read_series(args, split)
    result = clf.evaluate(collection, collection.labels)
    return print_evaluation(result, args, "series", format_baseline(result))


def predict(clf, args: Args) -> int:
    """`classify predict --data F --out F` of a series model: one row per series (its number from 1,
    the label, its probability, every class's probability), CSV, TSV or JSONL by the suffix of --out."""
    import csv
    from pathlib import Path

    from seqrnn.data.checks import json_classes
    from seqrnn.fileio import atomic_write_bytes

    collection = read_series(args, None)
    proba = clf.predict_proba(collection)
    classes = json_classes(clf.classes_)
    out = Path(args.out)
    records = [{"id": i, "label": classes[int(row.argmax())], "probability": round(float(row.max()), 6),
                **{f"p_{c}": round(float(p), 6) for c, p in zip(classes, row)}} for i, row in enumerate(proba, 1)]
    if out.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in records)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]), delimiter="\t" if out.suffix.lower() == ".tsv"
                                else ",", lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
    atomic_write_bytes(out, text.encode("utf-8"))
    print(f"wrote {len(records):,} predictions to {args.out}")
    return 0
