"""`seqrnn data inspect`: what a dataset or file holds (texts, labelled texts, numeric series, series
to forecast), printed or as one JSON object. The reports come from `seqrnn.data.describe`."""

from __future__ import annotations

import json

from seqrnn.cli.common import Args


def data_inspect(args: Args) -> int:
    """Statistics of labelled texts (any form `classify train` reads), an IMDb dataset, a text
    corpus or numeric series (see `seqrnn.data.describe`)."""
    if _inspects_forecast(args):
        report, printer = _inspect_forecast(args), _print_forecast
    elif _inspects_series(args):
        report, printer = _inspect_series(args), _print_series
    else:
        report, printer = _inspect_texts(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=True))
    else:
        printer(report)
    return 0


def _inspect_texts(args: Args):
    """(the report, its printer) of labelled texts, IMDb or a text corpus."""
    from seqrnn.data.datasets import locate
    from seqrnn.data.describe import inspect_imdb, inspect_labelled, inspect_text
    from seqrnn.data.imdb import imdb_format
    from seqrnn.data.labelled import labelled_format
    from seqrnn.errors import SeqrnnError

    path, name = locate(args.target)
    if name is None and labelled_format(path) is not None:
        report, printer = inspect_labelled(path, args.text_column, args.label_column), _print_labelled
    elif args.text_column or args.label_column:
        raise SeqrnnError(f"{args.target}: `text_column` and `label_column` apply to CSV, TSV and JSONL files")
    elif name == "imdb" or (name is None and imdb_format(path) is not None):
        report, printer = inspect_imdb(path), _print_imdb
    else:
        report, printer = inspect_text(path, name), _print_text
    return report, printer


_SERIES_FLAGS = ("series_column", "time_column", "value_columns")


def _inspects_series(args: Args) -> bool:
    """Whether `data inspect` reads numeric series: a series set's name, a .ts, .npz or Parquet file,
    or a CSV or TSV with `--input series` or a flag of long tables."""
    from pathlib import Path

    from seqrnn.data.datasets import is_series_dataset_name
    from seqrnn.data.series_files import series_format
    from seqrnn.errors import SeqrnnError

    path = Path(args.target)
    flagged = getattr(args, "input", None) == "series" or any(getattr(args, f, None) for f in _SERIES_FLAGS)
    if not path.exists():
        named = is_series_dataset_name(args.target)
        if series_format(path) in ("ts", "npz", "parquet"):
            raise SeqrnnError(f"{args.target}: no such file")
        if flagged and not named:
            raise SeqrnnError(f"no such file or series set: {args.target}")
        return named
    kind = series_format(path) if path.is_file() else None
    if flagged and kind is None:
        raise SeqrnnError(f"{args.target}: numeric series are read from .ts, CSV, TSV, Parquet and .npz files")
    if getattr(args, "input", None) == "text" and kind in ("ts", "npz", "parquet"):
        raise SeqrnnError(f"{args.target}: a .{kind} file holds numeric series, not texts")
    return flagged or kind in ("ts", "npz", "parquet")


def _inspect_series(args: Args) -> dict:
    from pathlib import Path

    from seqrnn.data.describe import inspect_series
    from seqrnn.errors import SeqrnnError

    if args.text_column:
        raise SeqrnnError(f"{args.target}: `text_column` applies to texts, not numeric series")
    options = {key: getattr(args, key, None) for key in _SERIES_FLAGS + ("label_column",)}
    named = not Path(args.target).exists()
    given = next((f"--{key.replace('_', '-')}" for key, value in options.items() if value), None)
    if named and given:
        raise SeqrnnError(f"{args.target}: {given} applies to series files, not to a named series set")
    return inspect_series(args.target) if named else inspect_series(args.target, **options)


def _print_series(report: dict) -> None:
    if report["name"]:
        print(f"series set '{report['name']}' (the archive's official split)")
        for split, part in report["splits"].items():
            print(f"\n{split}: {part['path']}")
            _print_series_part(part)
    else:
        kind = {"ts": "UCR/UEA .ts", "csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "npz": "NumPy .npz"}
        print(f"series: {report['path']} ({kind.get(report['format'], report['format'])})")
        _print_series_part(report)
    print(f"seconds: {report['seconds']:.2f}")


def _print_series_part(part: dict) -> None:
    n = part["lengths"]
    lengths = (f"{n['max']:,} time points each" if n["equal"] else
               f"{n['min']:,} to {n['max']:,} time points (median {n['median']:,.0f}): unequal lengths")
    print(f"cases     {part['cases']:>10,}")
    print(f"channels  {part['channels']:>10,}")
    print(f"lengths   {lengths}")
    missing = part["missing"]
    print(f"missing   {missing['count']:>10,} values ({missing['share']:.2%})")
    if not part["labelled"]:
        print("labels    none")
        return
    width = max([len("label")] + [len(str(entry["label"])) for entry in part["classes"]])
    print(f"{len(part['classes'])} classes:")
    print(f"  {'label':<{width}} {'cases':>8} {'share':>7}")
    for entry in part["classes"]:
        print(f"  {str(entry['label']):<{width}} {entry['cases']:>8,} {entry['share']:>7.1%}")


_FORECAST_FLAGS = ("forecast_target", "covariates", "freq")  # what only forecasting data has


def _inspects_forecast(args: Args) -> bool:
    """Whether `data inspect` reads series to forecast: a forecasting dataset's name, a .tsf file, or a
    CSV, TSV or Parquet file with `--input forecast` or a flag only forecasting data has."""
    from pathlib import Path

    from seqrnn.data.datasets import is_forecast_dataset_name
    from seqrnn.data.forecast_files import forecast_format
    from seqrnn.errors import SeqrnnError

    path = Path(args.target)
    flagged = getattr(args, "input", None) == "forecast" or any(getattr(args, f, None) is not None
                                                                for f in _FORECAST_FLAGS)
    kind = forecast_format(path)
    if not flagged and kind != "tsf" and (path.exists() or not is_forecast_dataset_name(args.target)):
        return False
    if getattr(args, "input", None) in ("text", "series"):
        raise SeqrnnError(f"{args.target}: --input {args.input} does not apply to series to forecast")
    if not path.exists() and not is_forecast_dataset_name(args.target):
        raise SeqrnnError(f"{args.target}: no such file" if kind else f"no such file or forecasting dataset: "
                          f"{args.target} (datasets: airline, shampoo, uschange)")
    if path.exists() and kind is None:
        raise SeqrnnError(f"{args.target}: series to forecast are read from CSV, TSV, Parquet and .tsf files")
    wrong = next((f"--{key.replace('_', '-')}" for key in ("text_column", "label_column", "value_columns")
                  if getattr(args, key, None)), None)
    if wrong is not None:
        raise SeqrnnError(f"{args.target}: {wrong} does not apply to series to forecast")
    return True


def _inspect_forecast(args: Args) -> dict:
    from seqrnn.data.describe import inspect_forecast

    options = {key.removeprefix("forecast_"): getattr(args, key, None)
               for key in ("time_column", "series_column") + _FORECAST_FLAGS}
    return inspect_forecast(args.target, **{key: value for key, value in options.items() if value is not None})


def _print_forecast(report: dict) -> None:
    kind = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "tsf": "Monash .tsf"}
    where = f"{report['path']} ({kind.get(report['format'], report['format'])})"
    print(f"forecasting dataset '{report['name']}': {where}" if report["name"] else f"series to forecast: {where}")
    n = report["lengths"]
    lengths = (f"{n['max']:,} time steps each" if n["equal"] else
               f"{n['min']:,} to {n['max']:,} time steps (median {n['median']:,.0f})")
    print(f"series      {report['series']:>8,}")
    print(f"lengths     {lengths}")
    freq = report["freq"] or "''"
    print(f"frequency   {freq} ({report['freq_words']}), season {report['season']}")
    print(f"time        {report['start']} to {report['end']}")
    if report["horizon"] is not None:
        print(f"horizon     {report['horizon']} (named by the file)")
    print(f"covariates  {', '.join(report['covariates']) or 'none'}")
    m = report["missing"]
    print(f"missing     {m['target']:,} target values ({m['share']:.2%}; {m['gaps']:,} of them in gaps), "
          f"{m['cut']:,} cut off the ends, {m['covariates']:,} covariate values")
    if m["target"] or m["cut"] or m["covariates"]:
        print("note: reading for training refuses gaps and missing values unless told to fill them (fill='interpolate')")
    if report["series"] > 1:
        rows = report["per_series"]
        width = max(len("series"), *(len(r["series"]) for r in rows))
        shown = "" if len(rows) == report["series"] else f" (the first {len(rows)})"
        print(f"series{shown}:")
        print(f"  {'series':<{width}} {'length':>8}  start .. end")
        for r in rows:
            print(f"  {r['series']:<{width}} {r['length']:>8,}  {r['start']} .. {r['end']}")
    print(f"seconds: {report['seconds']:.2f}")


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


def _print_labelled(report: dict) -> None:
    kind = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSONL", "folders": "a folder per label"}[report["format"]]
    print(f"labelled texts: {report['path']} ({kind})")
    width = max([len("label"), len("all")] + [len(str(entry["label"])) for entry in report["labels"]])
    print(f"{'label':<{width}} {'texts':>8} {'share':>7}   {'tokens/text: mean':>17} {'median':>7} {'p95':>7} "
          f"{'max':>7}")
    rows = [(str(e["label"]), e["texts"], e["share"], e["tokens"]) for e in report["labels"]]
    for label, texts, share, t in rows + [("all", report["texts"], 1.0, report["tokens"])]:
        print(f"{label:<{width}} {texts:>8,} {share:>7.1%}   {t['mean']:>17,.1f} {t['median']:>7,.0f} "
              f"{t['p95']:>7,.0f} {t['max']:>7,}")
    print(f"{len(report['labels'])} labels; tokens: {report['total_tokens']:,}; vocabulary: {report['vocab_size']:,} words")
    if report["rare_labels"]:
        rare = ", ".join(repr(label) for label in report["rare_labels"])
        print(f"imbalanced: {rare} {'has' if len(report['rare_labels']) == 1 else 'have'} under a fifth of the "
              "largest label's texts; accuracy will hide how they fare: read the per-label recall of `classify "
              "evaluate`, and consider `classify train --class-weight balanced`")
    sec = report["seconds"]
    print(f"seconds: read and tokenize {sec['read_and_tokenize']:.2f}, total {sec['total']:.2f}")


def _print_text(report: dict) -> None:
    print(f"text: {report['path']}" + (f" (named '{report['name']}')" if report["name"] else ""))
    if report["cut"]:
        print(f"reporting the book's cut {report['cut']}: the play without the Gutenberg front matter")
    print(f"characters           {report['characters']:>12,}")
    print(f"distinct characters  {report['distinct_characters']:>12,}")
    print(f"lines                {report['lines']:>12,}")
    print(f"alphabet             {report['alphabet']!r}")
    print(f"seconds              {report['seconds']:>12.2f}")
