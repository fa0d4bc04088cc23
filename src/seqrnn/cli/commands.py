"""The commands of the `seqrnn` console script: each reads what its flags name, calls the library,
and prints. `cli.main` builds the parser and hands each command its parsed arguments.

The library is imported inside each command, so that `seqrnn --help` (which imports this module)
stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import math
import sys
import time
import warnings
from typing import Any, Iterator

Args = argparse.Namespace


# --- shared by the commands -------------------------------------------------------------------------


def train_params(estimator_class: type, args: Args, started: float) -> dict[str, Any]:
    """The estimator's parameters given on a `train` command line (flags left out take the preset's),
    run options included. --max-minutes bounds the whole command, so the minutes spent reading the
    data since `started` (a `time.perf_counter()`) are taken from it (at least a second is left to
    train)."""
    names = inspect.signature(estimator_class).parameters
    params = {name: getattr(args, name) for name in names if name != "preset" and getattr(args, name, None) is not None}
    if params.get("max_minutes") is not None:
        params["max_minutes"] = max(params["max_minutes"] - (time.perf_counter() - started) / 60, 1 / 60)
    return params


def task_estimator(args: Args) -> type:
    """The estimator class of the task whose command runs (`seqrnn classify ...`: the classifier),
    from the task registry (`seqrnn.tasks.registry`), imported now."""
    from seqrnn.tasks import registry

    return registry.for_command(args.task).estimator_class()


def load_for_inference(args: Args):
    """The command's task's estimator loaded from `--model`, set to run where the command line asks:
    `--device`, `--threads` and, when the command has it, `--batch-size`. An unavailable device is a
    one-line error before any data is read."""
    from seqrnn.training.distributed import resolve_device

    estimator = task_estimator(args).load(args.model)
    resolve_device(args.device)
    estimator.set_params(device=args.device, threads=args.threads,
                         eval_batch_size=getattr(args, "eval_batch_size", None))
    return estimator


def print_summary(estimator, out_dir: str, best_format: str) -> None:
    """A `train` command's last line (the main process only): steps, seconds, why it stopped, and
    the best validation, `best_format` filled from its metrics."""
    if not estimator.ranks_.is_main:
        return
    summary, best = estimator.summary_, estimator.summary_["best"]
    try:
        described = best_format.format(**best)
    except (KeyError, TypeError):  # no validation ran
        described = "none"
    print(f"trained {summary['step']} steps in {summary['elapsed_s']:.0f} s ({summary['stopped']}); "
          f"best validation {described} -> {out_dir}")


def print_json_or(result: dict, args: Args, line: str) -> None:
    """`--json`: the result as one JSON object on the last line; otherwise `line`."""
    print(json.dumps(result) if args.json else line)


@contextlib.contextmanager
def warnings_as_notes() -> Iterator[None]:
    """The library's own warnings (`SmallDataWarning`, `HeldOutWarning`, ...), which a Python user
    gets as warnings, as `note: ...` lines on stderr; other libraries' warnings are shown as usual.
    Every command runs inside it (`main`): the library tells its users things one way, warnings."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if category.__module__.startswith("seqrnn."):
                print(f"note: {message}", file=sys.stderr, flush=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def sampling_seed(value: int | str | None) -> int | None:
    """The seed of a `sample` command's `--seed`: the library's default when not given, None for 'random'."""
    from seqrnn.nn.sampling import DEFAULT_SEED

    return {None: DEFAULT_SEED, "random": None}.get(value, value)  # type: ignore[arg-type]


def print_samples(texts: str | list[str]) -> None:
    """A `sample` command's output: the text, or each of several under a numbered header."""
    if isinstance(texts, str):
        print(texts)
        return
    for i, text in enumerate(texts, 1):
        print(f"--- sample {i} of {len(texts)} ---\n{text}")


# --- classify (alias: sentiment) --------------------------------------------------------------------


def classify_train(args: Args) -> int:
    """Train on what --data names; its labels are checked under the file's name (a CLI user has no `y`)."""
    from seqrnn.data.checks import class_indices, training_classes
    from seqrnn.data.sources import read_labelled_data

    from seqrnn.training.runtime import interrupts_raise

    columns = dict(text_column=args.text_column, label_column=args.label_column)
    started = time.perf_counter()
    with interrupts_raise("reading the data"):
        texts, labels, unlabelled = read_labelled_data(args.data, default_split="train", with_unsup=True, **columns)
        classes = training_classes(labels, name=args.data)
        val = {}
        if args.val_data:
            val_texts, val_labels, _ = read_labelled_data(args.val_data, **columns)
            class_indices(val_labels, classes, name=args.val_data, unknown_to=f"that {args.data} does not have")
            val = {"X_val": val_texts, "y_val": val_labels}
    estimator_class = task_estimator(args)
    clf = estimator_class(args.preset, **train_params(estimator_class, args, started))
    # --limit N also keeps only the first N unlabelled reviews (small runs stay small)
    clf.fit(texts, labels, unlabelled=unlabelled[: args.limit], out_dir=args.out, resume=args.resume, source=args.data,
            **val)
    print_summary(clf, args.out, "accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}")
    return 0


def classify_evaluate(args: Args) -> int:
    """The accuracy line, then the per-class report and the confusion matrix
    (`seqrnn.tasks.report.format_report`), or with --json all of it as one JSON object; --plot draws the
    matrix. The labels are checked under the --data file's name."""
    from seqrnn.data.checks import class_indices
    from seqrnn.data.sources import read_labelled_data
    from seqrnn.nn.explain import check_png_path
    from seqrnn.tasks.report import format_report, plot_confusion_matrix

    if args.plot is not None:
        check_png_path(args.plot, "plot")
    clf = load_for_inference(args)
    texts, labels, _ = read_labelled_data(args.data, args.split, args.text_column, args.label_column)
    class_indices(labels, clf.classes_, name=args.data)
    result = clf.evaluate(texts, labels)
    if args.plot is not None:
        plot_confusion_matrix(result, args.plot)
        result["plot"] = args.plot
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f} on {result['n']} texts\n")
    print(format_report(result))
    if args.plot is not None:
        print(f"\nconfusion matrix drawn in {args.plot}")
    return 0


def classify_predict(args: Args) -> int:
    """One line per input: `LABEL PROBABILITY` (the probability of that label; see
    `classifier.prediction_records`), or with --json one object with every class's probability.
    Undecodable stdin bytes are replaced with U+FFFD. An empty input is refused before anything is
    printed: there is nothing to classify in it. With --data FILE, every row of the file is
    labelled into --out (`seqrnn.cli.predict_file`)."""
    from seqrnn.tasks.classifier import prediction_records
    from seqrnn.errors import SeqrnnError

    if args.data is not None or args.out is not None:
        return _predict_file(args)
    for given in ("text_column", "id_column", "force"):
        if getattr(args, given):
            raise SeqrnnError(f"`{given}` applies to a file of texts: give it with `data` FILE and `out` FILE")
    clf = load_for_inference(args)
    if args.texts:
        texts, where = args.texts, "TEXT argument"
    else:
        stdin = io.TextIOWrapper(io.BytesIO(sys.stdin.buffer.read()), encoding="utf-8", errors="replace")
        texts, where = [line.rstrip("\r\n") for line in stdin], "stdin line"
    empty = [i for i, text in enumerate(texts, 1) if not text.strip()]
    if empty:
        raise SeqrnnError(f"{where} {empty[0]} is empty: there is nothing to classify in it"
                          + (" (remove blank lines, e.g. grep -v '^[[:space:]]*$')" if where == "stdin line" else ""))
    if not texts:
        return 0
    for record in prediction_records(clf, texts, all_classes=args.json):
        print_json_or(record, args, f"{record['label']} {record['probability']:.4f}")
    return 0


def _predict_file(args: Args) -> int:
    """`classify predict --data FILE --out FILE`: the file labelled row by row, a summary on stdout."""
    from pathlib import Path

    from seqrnn.errors import SeqrnnError
    from seqrnn.cli.predict_file import check_paths, describe_empty, predict_file

    if args.data is None or args.out is None:
        raise SeqrnnError("label a file with both `data` FILE (the texts) and `out` FILE.csv|.jsonl (the predictions)")
    if args.texts:
        raise SeqrnnError("give TEXT arguments or `data` FILE, not both")
    if args.json:
        raise SeqrnnError("`json` is for TEXT arguments and stdin; with `data`, the suffix of `out` chooses the "
                          "format (.csv, .tsv or .jsonl)")
    check_paths(Path(args.data), Path(args.out), args.force)  # before the model is loaded
    clf = load_for_inference(args)
    outcome = predict_file(clf, args.data, args.out, text_column=args.text_column, id_column=args.id_column,
                           force=args.force)
    if outcome.empty:
        print(describe_empty(Path(args.data), outcome.empty), file=sys.stderr)
    print(f"wrote {outcome.rows:,} predictions to {args.out}"
          + (f" ({len(outcome.empty):,} empty)" if outcome.empty else ""))
    return 0


# --- forecast ---------------------------------------------------------------------------------------

_FORECAST_COLUMNS = ("time_column", "target", "series_column", "freq")


def _read_series(args: Args, saved: dict | None = None):
    """The series --data names, read with the columns given on the command line, else those the model
    was trained with (`saved`, what `forecast train` recorded)."""
    from seqrnn.data.forecast_files import read_forecast_data

    options = {name: getattr(args, name) for name in _FORECAST_COLUMNS}
    for name, value in (saved or {}).items():
        if options.get(name) is None and name in _FORECAST_COLUMNS:
            options[name] = value
    options = {k: v for k, v in options.items() if v is not None}
    if "target" not in options:
        return read_forecast_data(args.data, **options)
    # read_forecast_data's first parameter is also named target: a chosen target reads the file itself
    from pathlib import Path

    from seqrnn.data.datasets import FORECAST_DATASETS, locate_forecast
    from seqrnn.data.forecast_files import read_forecast_file

    dataset = FORECAST_DATASETS.get(str(args.data)) if not Path(args.data).exists() else None
    if dataset is None:
        return read_forecast_file(args.data, **options)
    return read_forecast_file(locate_forecast(dataset.name), **{"time_column": dataset.time_column,
                                                                "freq": dataset.freq, **options})


def forecast_train(args: Args) -> int:
    """Train on the series of --data; the model directory records the columns and frequency read."""
    from seqrnn.training.runtime import interrupts_raise

    started = time.perf_counter()
    with interrupts_raise("reading the data"):
        table = _read_series(args)
    columns = {name: getattr(args, name) for name in _FORECAST_COLUMNS if getattr(args, name) is not None}
    columns["freq"] = table.freq
    estimator_class = task_estimator(args)
    model = estimator_class(args.preset, **train_params(estimator_class, args, started))
    model.fit(table, out_dir=args.out, resume=args.resume, source=args.data, columns=columns)
    print_summary(model, args.out, "MASE {mase:.4f}")
    return 0


def forecast_predict(args: Args) -> int:
    """The forecasts into --out (CSV: one row per series and future time stamp); --plot draws them."""
    from pathlib import Path

    from seqrnn.errors import SeqrnnError
    from seqrnn.nn.explain import check_png_path
    from seqrnn.tasks.backtest import plot_forecasts

    if Path(args.out).exists() and not args.force:
        raise SeqrnnError(f"{args.out} exists: give `force` to replace it")
    if args.plot is not None:
        check_png_path(args.plot, "plot")
    model = load_for_inference(args)
    table = _read_series(args, model.vocab_.columns) if args.data else model.vocab_.table()
    forecast = model.predict(table, horizon=args.horizon)
    forecast.reset_index().to_csv(args.out, index=False)
    print(f"wrote {len(forecast):,} forecasts of {forecast.index.get_level_values('series').nunique():,} series "
          f"to {args.out}")
    if args.plot is not None:
        plot_forecasts(table.frame, forecast, args.plot)
        print(f"drawn in {args.plot}")
    return 0


def forecast_evaluate(args: Args) -> int:
    """The backtest table, model vs naive vs seasonal naive, or --json one object; --plot draws the last
    window's forecasts beside the actual values."""
    from seqrnn.nn.explain import check_png_path
    from seqrnn.tasks.backtest import plot_forecasts

    if args.plot is not None:
        check_png_path(args.plot, "plot")
    model = load_for_inference(args)
    table = _read_series(args, model.vocab_.columns)
    result = model.evaluate(table, horizon=args.horizon, windows=args.windows)
    record = {method: {k: (None if v != v else v) for k, v in row.items()}
              for method, row in result.to_dict(orient="index").items()}
    if args.plot is not None:
        horizon = args.horizon or model.config_.data.horizon
        frame = table.frame[["series", "time", "target"]]
        past = frame[frame.groupby("series", sort=False).cumcount(ascending=False) >= horizon]
        plot_forecasts(frame, model.predict(past, horizon=horizon), args.plot)
        record["plot"] = args.plot
    if args.json:
        print(json.dumps(record))
        return 0
    shown = result.copy()
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.plot is not None:
        print(f"\nthe last window drawn in {args.plot}")
    return 0


# --- charlm -----------------------------------------------------------------------------------------


def charlm_train(args: Args) -> int:
    from seqrnn.data.corpus import text_source
    from seqrnn.training.runtime import interrupts_raise

    started = time.perf_counter()
    with interrupts_raise("reading the data"):
        corpus = text_source(args.text, args.strip_gutenberg)
    estimator_class = task_estimator(args)
    lm = estimator_class(args.preset, **train_params(estimator_class, args, started))
    lm.fit(corpus, out_dir=args.out, resume=args.resume, source=args.text)
    print_summary(lm, args.out, "loss {loss:.4f} nats/char ({bits_per_char:.4f} bits/char)")
    return 0


def charlm_evaluate(args: Args) -> int:
    from seqrnn.data.corpus import text_source

    lm = load_for_inference(args)
    result = lm.evaluate(text_source(args.text))
    if result["n_unknown"]:
        print(f"note: {result['n_unknown']} characters outside the model's alphabet were skipped", file=sys.stderr)
    print_json_or(result, args, f"loss {result['loss']:.4f} nats/char, {result['bits_per_char']:.4f} bits/char "
                                f"over {result['n_chars']} characters")
    return 0


def charlm_sample(args: Args) -> int:
    from seqrnn.training.runtime import torch_threads
    from seqrnn.nn.sampling import check_sampling_options, effective_top_n, sampler_bytes_per_stream

    lm = load_for_inference(args)
    # every refusal comes before the notes below, so that an error is the only line
    check_sampling_options(length=args.length, temperature=args.temperature, top_n=args.top_n, top_p=args.top_p,
                           num_samples=args.num_samples, held=not (args.stream and args.num_samples == 1),
                           stream_bytes=sampler_bytes_per_stream(lm.model_))
    lm.start_ids(args.start, args.ignore_unknown)
    if args.device not in ("auto", "cpu"):
        print(f"note: sampling steps the network in NumPy on the CPU (faster, one character at a time, than "
              f"{args.device}); --device applies to evaluate", file=sys.stderr)
    top_n = effective_top_n(args.top_n, args.top_p)
    if top_n is not None and top_n > len(lm.vocab_):  # the sampler then keeps every character
        print(f"note: --top-n {top_n} is more than the {len(lm.vocab_)} characters the model knows; using all",
              file=sys.stderr)
    dropped = lm.unknown_start_chars(args.start) if args.ignore_unknown else []
    if dropped:
        print(f"note: dropped from the start text {len(dropped)} character(s) the model never saw: "
              f"{', '.join(map(repr, dropped))}", file=sys.stderr)
    options = dict(top_n=args.top_n, top_p=args.top_p, temperature=args.temperature, seed=sampling_seed(args.seed),
                   ignore_unknown=args.ignore_unknown)
    if args.stream and args.num_samples == 1:
        prefix = lm.vocab_.decode(lm.start_ids(args.start, args.ignore_unknown))
        sys.stdout.write(prefix)
        with torch_threads(args.threads):
            for step in lm.sample_stream(args.length, args.start, **options):
                sys.stdout.write(step[0])
                sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    print_samples(lm.sample(args.length, args.start, num_samples=args.num_samples, **options))
    return 0


# --- lm ---------------------------------------------------------------------------------------------


def lm_train(args: Args) -> int:
    from seqrnn.data.sources import read_documents
    from seqrnn.training.runtime import interrupts_raise

    started = time.perf_counter()
    with interrupts_raise("reading the data"):
        labelled, unlabelled, labels = read_documents(args.data)  # labels: held out as a classifier's split is
    estimator_class = task_estimator(args)
    lm = estimator_class(args.preset, **train_params(estimator_class, args, started))
    lm.fit(labelled, labels, unlabelled=unlabelled, out_dir=args.out, resume=args.resume, source=args.data)
    print_summary(lm, args.out, "perplexity {perplexity:.1f}")
    return 0


def lm_evaluate(args: Args) -> int:
    from seqrnn.data.sources import read_documents

    lm = load_for_inference(args)
    labelled, unlabelled, _ = read_documents(args.data, args.split)
    result = lm.evaluate(labelled + unlabelled if unlabelled else labelled)
    per = ", ".join(f"{d} {math.exp(result[f'{d}_loss']):.1f}" for d in lm.model_.directions)
    print_json_or(result, args, f"perplexity {result['perplexity']:.1f} ({per}) over {result['n_words']} words, "
                                f"{result['n_unknown']} unknown")
    return 0


def lm_sample(args: Args) -> int:
    lm = load_for_inference(args)
    print_samples(lm.sample(args.length, args.start, direction=args.direction, temperature=args.temperature,
                            top_n=args.top_n, top_p=args.top_p, seed=sampling_seed(args.seed),
                            num_samples=args.num_samples))
    return 0


# --- export, serve, data, explain -------------------------------------------------------------------


def export(args: Args) -> int:
    """`seqrnn export --model DIR --format onnx --out FILE [--force]`: one line saying what was written."""
    from seqrnn.serve.export import export_model

    result = export_model(args.model, args.format, args.out, force=args.force)
    print(f"exported the {result['task']} model to {result['out']} ({result['format']}, "
          f"{result['bytes'] / 1e6:.1f} MB; inputs {', '.join(result['inputs'])}; "
          f"outputs {', '.join(result['outputs'])})")
    return 0


def serve(args: Args) -> int:
    from seqrnn.serve.server import serve_command

    return serve_command(args)


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
    from seqrnn.data.labelled import labelled_format
    from seqrnn.data.imdb import imdb_format
    from seqrnn.data.datasets import locate
    from seqrnn.errors import SeqrnnError
    from seqrnn.data.describe import inspect_imdb, inspect_labelled, inspect_text

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


def explain_gradients(args: Args) -> int:
    """`seqrnn explain gradients --out FILE.png [--steps N]`: draw the figure, print its table."""
    from seqrnn.nn.explain import check_png_path, format_table, gradient_curves, plot
    from seqrnn.errors import SeqrnnError

    out = check_png_path(str(args.out))
    if not 2 <= args.steps <= 1000:
        raise SeqrnnError(f"`steps` must be between 2 and 1000, got {args.steps}")
    curves = gradient_curves(args.steps)
    print(format_table(curves))
    plot(curves, out)
    print(f"\nwrote {out}")
    return 0
