"""What is in a dataset (`seqrnn data inspect PATH|NAME [--text-column C] [--label-column C] [--json]`).

Labelled texts, read as `classify train` reads them (a CSV, TSV or JSONL file, or a folder with one
subfolder per label; `seqrnn.data.labelled.read_labelled`): the labels with their counts and shares, tokens
per text for each, and the vocabulary; a class far rarer than the largest is pointed out, with
what to do about it. IMDb (an aclImdb directory or archive, or the name `imdb`): reviews per split
and label, tokens per review (the book's tokenizer, as in training), the vocabulary size of the
train split. Anything else is a text corpus: characters, distinct characters, lines; `hamlet` is
reported after the book's cut, text[15858:] (`seqrnn.data.corpus.read_corpus`).

Numeric series (a `.ts`, `.npz` or Parquet file, a CSV or TSV read as series, or a named series set
such as `gunpoint`, reported split by split): cases, channels, lengths, classes with their counts
and the missing values (`inspect_series`).

Series to forecast (a CSV, TSV or Parquet file with `--input forecast` or `--target`, a `.tsf` file, or
`airline`, `shampoo`, `uschange`): series, lengths, frequency, first and last time, covariates and the
gaps and missing values (`inspect_forecast`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from seqrnn.data.checks import json_classes
from seqrnn.data.corpus import HAMLET_OFFSET, text_source
from seqrnn.data.imdb import read_imdb
from seqrnn.data.labelled import labelled_format, read_labelled_tokens
from seqrnn.data.series import SeriesCollection
from seqrnn.progress import Progress
from seqrnn.text.tokens import index_tokens


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


IMBALANCED = 0.2  # a class with fewer texts than this share of the largest class's is pointed out


def inspect_labelled(path: Path, text_column: str | None = None, label_column: str | None = None) -> dict:
    """Labels, their counts and token statistics of labelled texts (`seqrnn.data.labelled.read_labelled`)."""
    t0 = time.perf_counter()
    data = read_labelled_tokens(path, text_column, label_column)  # read and tokenized in one pass
    tokens = data.texts
    lengths = tokens.lengths
    t1 = time.perf_counter()
    classes = np.unique(data.labels)  # one kind of label per file (`read_labelled`): sorted as the classifier sorts
    labels = []
    for label, value in zip(classes.tolist(), json_classes(classes)):
        mask = data.labels == label
        labels.append({"label": value, "texts": int(mask.sum()), "share": round(float(mask.mean()), 4),
                       "tokens": _stats(lengths[mask])})
    largest = max(entry["texts"] for entry in labels)
    rare = [entry["label"] for entry in labels if entry["texts"] < IMBALANCED * largest]
    return {
        "kind": "labelled",
        "path": str(path),
        "format": labelled_format(path),
        "texts": len(data),
        "labels": labels,
        "rare_labels": rare,
        "tokens": _stats(lengths),
        "total_tokens": int(lengths.sum()),
        "vocab_size": int(np.count_nonzero(tokens.counts())),
        "seconds": {"read_and_tokenize": round(t1 - t0, 3), "total": round(time.perf_counter() - t0, 3)},
    }


def inspect_text(path: Path, name: str | None = None, quiet: bool = False) -> dict:
    """Size, alphabet and lines of a text corpus (`name`: the dataset name it was found by), read in
    chunks as training reads it (`seqrnn.data.corpus.text_source`: enwik8's bytes as characters), so a
    corpus of any size takes bounded memory; progress is shown unless `quiet`."""
    t0 = time.perf_counter()
    source = text_source(name or str(path))
    characters, lines, last = 0, 0, None
    seen = np.zeros(0, dtype=np.int64)
    with Progress(f"inspect {path.name}", source.size, "B" if source.path else "char", quiet=quiet) as progress:
        for codes, done in source.chunks():
            characters += len(codes)
            lines += int(np.count_nonzero(codes == 10))
            seen = np.union1d(seen, np.unique(codes))
            last = int(codes[-1]) if len(codes) else last
            progress.update_to(done)
    alphabet = "".join(map(chr, seen.tolist()))
    return {
        "kind": "text",
        "path": str(path),
        "name": name,
        "cut": f"text[{HAMLET_OFFSET}:]" if name == "hamlet" else None,
        "characters": characters,
        "distinct_characters": len(alphabet),
        "alphabet": alphabet,
        "lines": lines + (0 if last == 10 or characters == 0 else 1),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def series_report(data: SeriesCollection) -> dict:
    """Cases, channels, lengths (min, median, max, whether equal), classes with counts and shares, and
    missing values (count and share of all values) of `data`."""
    lengths = data.lengths
    values = int(lengths.sum()) * data.n_channels
    missing = sum(int(np.isnan(v).sum()) for v in data.values)
    classes = []
    if data.labels is not None and len(data):
        found, counts = np.unique(data.labels, return_counts=True)
        for value, count in zip(json_classes(found), counts.tolist()):
            classes.append({"label": value, "cases": int(count), "share": round(count / len(data), 4)})
    return {
        "cases": len(data),
        "channels": data.n_channels,
        "lengths": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max()),
                    "equal": data.equal_length},
        "labelled": data.labels is not None,
        "classes": classes,
        "missing": {"count": missing, "share": round(missing / values, 6) if values else 0.0},
    }


def inspect_series(target: str | Path, **options) -> dict:
    """`series_report` of a series file (`seqrnn.data.series_files.read_series`, with `options`), or
    of each split of a named series set (`splits`: train, then test)."""
    from seqrnn.data.datasets import is_series_dataset_name, locate_series
    from seqrnn.data.series_files import read_series, read_ts, series_format

    t0 = time.perf_counter()
    path = Path(target)
    if not path.exists() and is_series_dataset_name(str(target)):
        splits = {}
        for split in ("train", "test"):
            found = locate_series(str(target), split)
            splits[split] = {"path": str(found), **series_report(read_ts(found))}
        return {"kind": "series", "name": str(target), "splits": splits,
                "seconds": round(time.perf_counter() - t0, 3)}
    report = series_report(read_series(path, **options))
    return {"kind": "series", "name": None, "path": str(path), "format": series_format(path), **report,
            "seconds": round(time.perf_counter() - t0, 3)}


SHOWN_SERIES = 20  # the series listed one by one in a forecasting report


def forecast_report(table) -> dict:
    """Series, their lengths, the frequency and its season, the first and last time, the horizon
    a file names, the covariates and what was missing (`TimeSeriesTable.filled`) of a
    `TimeSeriesTable`; the first `SHOWN_SERIES` series one by one."""
    from seqrnn.data.frequencies import format_time
    from seqrnn.data.timeseries import describe_freq, seasonal_period

    lengths = np.array(list(table.lengths().values()), dtype=np.int64)
    starts, ends = table.starts(), table.ends()

    def stamp(value) -> str | int:
        return format_time(value, table.freq)

    filled = {"gaps": 0, "target": 0, "cut": 0, "covariates": 0, **table.filled}
    observed = int(lengths.sum())
    return {
        "series": len(lengths),
        "freq": table.freq,
        "freq_words": describe_freq(table.freq),
        "season": seasonal_period(table.freq),
        "lengths": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max()),
                    "total": observed, "equal": bool((lengths == lengths[0]).all())},
        "start": stamp(min(starts.values())),
        "end": stamp(max(ends.values())),
        "horizon": table.horizon,
        "covariates": list(table.covariates),
        "missing": {**filled, "share": round(filled["target"] / observed, 6) if observed else 0.0},
        "per_series": [{"series": k, "length": int(n), "start": stamp(starts[k]), "end": stamp(ends[k])}
                       for k, n in list(table.lengths().items())[:SHOWN_SERIES]],
    }


def inspect_forecast(target: str | Path, /, **options) -> dict:
    """`forecast_report` of a file or forecasting dataset (`seqrnn.data.forecast_files.read_forecast_data`,
    with `options`), read with `fill="interpolate"` so that gaps and missing values are counted
    rather than refused (reading for training refuses them unless asked to fill)."""
    from seqrnn.data.datasets import is_forecast_dataset_name
    from seqrnn.data.forecast_files import forecast_format, read_forecast_data

    t0 = time.perf_counter()
    table = read_forecast_data(target, fill="interpolate", **options)
    named = not Path(target).exists() and is_forecast_dataset_name(str(target))
    return {"kind": "forecast", "name": str(target) if named else None, "path": table.source,
            "format": forecast_format(table.source), **forecast_report(table),
            "seconds": round(time.perf_counter() - t0, 3)}
