"""The `seqrnn` command line: argument parsing and error reporting only.

Each command hands its parsed arguments to its function in `seqrnn.cli.commands`, which imports the
library only when the command runs, so `seqrnn --help` stays instant. Every error a user can cause
prints one line, `seqrnn: error: ...`, and exits 2 (1 for runtime failures); a traceback appears
only with `--debug`. The library names its parameters in backquotes (`batch_size`); the error line
names the command's flag instead (--batch-size), here and nowhere else (`flag_names`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
import sys
from typing import Sequence

from seqrnn import __version__, config
from seqrnn.cli import commands, common, forecast, inspection
from seqrnn.errors import Interrupted, SeqrnnError


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line, `seqrnn: error: ...`, whatever the subcommand."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"seqrnn: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int_or_none(text: str) -> int:
    """`--top-n`: a count, with 0, 'none' and 'all' meaning no cut (0)."""
    if text.strip().lower() in ("none", "all"):
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or 'none', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no cut) or more, got {value}")
    return value


def _seed(text: str) -> int | str:
    """`--seed`: a whole number of 0 or more, or 'random' (a different text every time)."""
    if text.strip().lower() == "random":
        return "random"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'random', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_inference_arguments(p: argparse.ArgumentParser, batch_size: bool = True) -> None:
    """`--device`, `--threads` (and `--batch-size`) for a command that uses a trained model; the
    command applies them with `common.load_for_inference`."""
    group = p.add_argument_group("where the model runs")
    group.add_argument("--device", default="auto",
                       help="auto (CUDA when present; default), cpu, cuda, cuda:N, mps or another torch device")
    group.add_argument("--threads", type=config.field_type(config.RunOptions, "threads"), metavar="N",
                       help="CPU threads for PyTorch and NumPy's BLAS (default: the libraries' own, all cores)")
    if batch_size:
        group.add_argument("--batch-size", dest="eval_batch_size", metavar="N",
                           type=config.field_type(config.RunOptions, "eval_batch_size"),
                           help="examples per batch (default: 256 texts; for charlm, up to 64 rows of the text)")


def _add_labelled_data_flags(p: argparse.ArgumentParser) -> None:
    """The columns of your own CSV, TSV or JSONL file."""
    p.add_argument("--text-column", metavar="NAME",
                   help="column (JSON key) of the texts (default: review, else text, sentence, content, document)")
    p.add_argument("--label-column", metavar="NAME",
                   help="column (JSON key) of the labels (default: sentiment, else label, labels, class, category, "
                        "target)")


def _add_forecast_data_flags(p: argparse.ArgumentParser) -> None:
    """The columns of a file of series to forecast (`predict` and `evaluate`: the model's by default)."""
    group = p.add_argument_group("the columns of --data")
    group.add_argument("--time-column", metavar="NAME", help="the time stamps (default: time, else timestamp, date, "
                       "ds, period, quarter, month, ...)")
    group.add_argument("--target", metavar="NAME[,NAME]", help="the values to forecast (default: target, y or value, "
                       "else every other column of a wide file, each a series)")
    group.add_argument("--series-column", metavar="NAME", help="the series id of a long file with many series "
                       "(default: series_id, series, unique_id, item_id; none: one series, or a wide file)")
    group.add_argument("--covariates", metavar="NAME[,NAME]", help="known covariate columns, read as inputs of each "
                       "step (predict: their values over the horizon in the rows after each series' last target, "
                       "the target blank; default: none)")
    group.add_argument("--freq", metavar="ALIAS", help="the frequency, a pandas offset alias: MS, QS, D, h, ... "
                       "(default: read from the times)")


def _add_train_flags(p: argparse.ArgumentParser, command: str) -> None:
    """`train` flags: the run's directory and preset, then one flag per setting of the configuration
    of the command's task (`seqrnn.tasks.registry`) and of the run options (`seqrnn.config`)."""
    from seqrnn.tasks import registry  # light: the estimators are imported when a command runs

    task = registry.for_command(command)
    config_class, presets = task.config_class(), task.preset_configs()
    p.add_argument("--out", required=True, help="model directory to write (created if missing)")
    p.add_argument("--preset", choices=list(presets), default="default",
                   help="book: the chapter's exact configuration; default: the best measured for a 2-core CPU"
                   if "book" in presets else "default: the configuration measured on the results pages")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint/")
    config.add_arguments(p, config.RunOptions, "this run (not saved with the model)")
    config.add_arguments(p, config_class, "model, data and training (each overrides the preset's value)", presets)


def _add_input_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", choices=["text", "series"],
                   help="what --data holds (default: series for .ts, .npz and Parquet files and the named series "
                        "sets gunpoint, italypowerdemand, basicmotions, japanesevowels; else texts)")
    p.add_argument("--series-column", metavar="NAME",
                   help="series in a long table: the series id column (default: series_id, else series, case_id, "
                        "unique_id; none: a wide table, one series a row)")
    p.add_argument("--time-column", metavar="NAME",
                   help="series in a long table: the column that orders each series' rows (default: time, else "
                        "timestamp, timepoint, date, ds; none: the file's order)")
    p.add_argument("--value-columns", metavar="NAME,NAME",
                   help="series in a long table: the value columns, one per channel (default: every other column)")


def _add_series_flags(p: argparse.ArgumentParser) -> None:
    """The series classifier's settings that the text classifier has no flag for (the shared ones,
    --epochs, --hidden-size, ..., serve both)."""
    from seqrnn.tasks import registry

    task = registry.get("series")
    config_class = task.config_class()
    group = p.add_argument_group("series (with series data; the flags above apply too)")
    for part in config_class.part_classes().values():
        for f in dataclasses.fields(part):
            flag = "--" + f.name.replace("_", "-")
            if flag in p._option_string_actions:
                continue
            group.add_argument(flag, type=config.field_type(part, f.name), default=None, help=f.metadata["help"],
                               choices=f.metadata.get("choices"), metavar=None if f.metadata.get("choices") else "N")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seqrnn", description="Model sequential data with recurrent neural networks.")
    parser.add_argument("--version", action="version", version=f"seqrnn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    tasks = parser.add_subparsers(dest="task", metavar="COMMAND", parser_class=_Parser, required=True)

    # classify (the book's name: sentiment)
    sent = tasks.add_parser("classify", aliases=["sentiment"],
                            help="classify texts with any labels (alias: sentiment, the book's movie reviews)")
    sent_cmds = sent.add_subparsers(dest="command", metavar="ACTION", required=True)
    p = sent_cmds.add_parser("train", help="train a text classifier (IMDb sentiment, or any labels)")
    p.add_argument("--data", required=True,
                   help="'imdb', an aclImdb directory or .tar.gz (its train split), or your own labelled texts: a "
                        "CSV, TSV or JSONL file, or a folder with one subfolder per label")
    p.add_argument("--val-data", metavar="PATH",
                   help="validate on these labelled texts (any --data form; IMDb: its test split) instead of "
                        "holding out --val-fraction of --data")
    _add_labelled_data_flags(p)
    _add_input_flag(p)
    _add_train_flags(p, "classify")
    _add_series_flags(p)
    p.set_defaults(handler=commands.classify_train)
    p = sent_cmds.add_parser("evaluate", help="accuracy, per-class precision, recall and F1, and the confusion matrix "
                             "of a trained classifier on labelled texts")
    p.add_argument("--model", required=True, help="model directory written by `classify train`")
    p.add_argument("--data", required=True,
                   help="'imdb', an aclImdb directory or .tar.gz, or a labelled CSV, TSV, JSONL file or folder")
    p.add_argument("--split", choices=["train", "test", "all"],
                   help="IMDb's split to evaluate on (default: test); your own files are evaluated whole")
    _add_labelled_data_flags(p)
    _add_input_flag(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line (the whole report)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the confusion matrix here: each true class's row as shares, with the counts")
    add_inference_arguments(p)
    p.set_defaults(handler=commands.classify_evaluate)
    p = sent_cmds.add_parser("predict", help="label texts given as arguments, one per stdin line, or a whole file",
                             description="Prints `LABEL PROBABILITY` per text, the probability being that of the "
                                         "label printed; --json adds every class's probability. With --data FILE "
                                         "--out FILE, labels every row of a CSV, TSV, JSONL or text file into a CSV, "
                                         "TSV or JSONL file, in the input's order.")
    p.add_argument("--model", required=True)
    p.add_argument("--json", action="store_true", help="one JSON object per line, with every class's probability")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    group = p.add_argument_group("a whole file")
    group.add_argument("--data", metavar="FILE",
                       help="label every row of this CSV, TSV or JSONL file (or text file, one text per line)")
    group.add_argument("--text-column", metavar="NAME",
                       help="column (JSON key) of the texts (default: review, else text, sentence, content, document)")
    group.add_argument("--id-column", metavar="NAME",
                       help="column (JSON key) copied to --out to identify each row (default: the row number, 1 for "
                            "the first row after the header)")
    group.add_argument("--out", metavar="FILE",
                       help="write the predictions here: .csv, .tsv or .jsonl (id, label, its probability, every "
                            "class's probability); rows with no text get an empty prediction, named on stderr")
    group.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_input_flag(p)
    add_inference_arguments(p)
    p.set_defaults(handler=commands.classify_predict)

    # charlm
    char = tasks.add_parser("charlm", help="character-level language model: train, evaluate, sample")
    char_cmds = char.add_subparsers(dest="command", metavar="ACTION", required=True)
    p = char_cmds.add_parser("train", help="train a character-level language model")
    p.add_argument("--text", required=True, help="UTF-8 text file, or 'hamlet' / 'tinyshakespeare'")
    p.add_argument("--strip-gutenberg", action="store_true", help="remove a Project Gutenberg header and footer")
    _add_train_flags(p, "charlm")
    p.set_defaults(handler=commands.charlm_train)
    p = char_cmds.add_parser("evaluate", help="loss and bits per character on a text")
    p.add_argument("--model", required=True)
    p.add_argument("--text", required=True)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_inference_arguments(p)
    p.set_defaults(handler=commands.charlm_evaluate)
    p = char_cmds.add_parser("sample", help="generate text from a trained model")
    p.add_argument("--model", required=True)
    p.add_argument("--length", type=int, default=500, help="characters to generate after the start text")
    p.add_argument("--start", default="The ", help="starter text that primes the model (default 'The ')")
    p.add_argument("--top-n", "--top-k", dest="top_n", type=_non_negative_int_or_none, metavar="K",
                   help="keep only the K most probable characters (the book's top-n; default 5 without --top-p; "
                        "0 or 'none': no cut)")
    p.add_argument("--top-p", type=float, help="nucleus sampling: keep the smallest set with probability >= P")
    p.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    p.add_argument("--seed", type=_seed, metavar="S",
                   help="seed: same model, seed and options give the same text (default 123, as char-rnn's; "
                        "'random': a different text every time)")
    p.add_argument("--num-samples", type=_positive_int, default=1, help="independent samples drawn in one batch")
    p.add_argument("--stream", action="store_true", help="print characters as they are generated")
    p.add_argument("--ignore-unknown", action="store_true",
                   help="drop start-text characters the model never saw (named on stderr)")
    add_inference_arguments(p, batch_size=False)
    p.set_defaults(handler=commands.charlm_sample)

    # lm
    lm = tasks.add_parser("lm", help="word-level language models (forward, backward): pretraining for classifiers")
    lm_cmds = lm.add_subparsers(dest="command", metavar="ACTION", required=True)
    p = lm_cmds.add_parser("train", help="train word-level language models on reviews or any text")
    p.add_argument("--data", required=True, help="aclImdb directory, .tar.gz, 'imdb' (training and unlabelled "
                   "reviews), or a UTF-8 text file (one document per line)")
    _add_train_flags(p, "lm")
    p.set_defaults(handler=commands.lm_train)
    p = lm_cmds.add_parser("evaluate", help="perplexity of a trained language model on documents")
    p.add_argument("--model", required=True, help="model directory written by `lm train`")
    p.add_argument("--data", required=True, help="aclImdb directory, .tar.gz, 'imdb', or a text file")
    p.add_argument("--split", choices=["train", "test", "unsup", "all"], default="test",
                   help="IMDb split to read (default test)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_inference_arguments(p)
    p.set_defaults(handler=commands.lm_evaluate)
    p = lm_cmds.add_parser("sample", help="generate a review from a trained language model")
    p.add_argument("--model", required=True)
    p.add_argument("--length", type=_positive_int, default=50, help="words to generate (at most; a sample ends "
                   "with its review)")
    p.add_argument("--start", default="this movie", help="starter text (default 'this movie')")
    p.add_argument("--direction", choices=["forward", "backward"],
                   help="backward writes the words before the start text (default: the model's first)")
    p.add_argument("--top-n", "--top-k", dest="top_n", type=_non_negative_int_or_none, metavar="K",
                   help="keep only the K most probable words (default, 0 or 'none': no cut)")
    p.add_argument("--top-p", type=float, help="nucleus sampling: keep the smallest set with probability >= P")
    p.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    p.add_argument("--seed", type=_seed, metavar="S",
                   help="seed: same model, seed and options give the same text (default 123; 'random': a "
                        "different text every time)")
    p.add_argument("--num-samples", type=_positive_int, default=1, help="independent samples drawn in one batch")
    add_inference_arguments(p, batch_size=False)
    p.set_defaults(handler=commands.lm_sample)

    # forecast
    fc = tasks.add_parser("forecast", help="forecast numeric series: train, predict (median, 80%% and 95%% "
                          "intervals), evaluate against naive and seasonal naive")
    fc_cmds = fc.add_subparsers(dest="command", metavar="ACTION", required=True)
    p = fc_cmds.add_parser("train", help="train a global forecaster on one or many series")
    p.add_argument("--data", required=True, help="a CSV, TSV, Parquet or .tsf file, or airline / shampoo / uschange")
    _add_forecast_data_flags(p)
    _add_train_flags(p, "forecast")
    p.set_defaults(handler=forecast.forecast_train)
    p = fc_cmds.add_parser("predict", help="forecast the steps after each series' end into a CSV file")
    p.add_argument("--model", required=True, help="model directory written by `forecast train`")
    p.add_argument("--data", help="the series to continue, read with the columns the model was trained with "
                   "(default: the series trained on)")
    _add_forecast_data_flags(p)
    p.add_argument("--horizon", type=_positive_int, metavar="H", help="steps to forecast (default and most: the "
                   "horizon trained for)")
    p.add_argument("--out", required=True, help="CSV file: series, time, mean, median, lower_80, upper_80, lower_95, "
                   "upper_95")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--plot", metavar="FILE.png", help="draw history, median forecast and intervals here")
    add_inference_arguments(p, batch_size=False)
    p.set_defaults(handler=forecast.forecast_predict)
    p = fc_cmds.add_parser("evaluate", help="backtest the last horizon of every series: the model, naive and "
                           "seasonal naive (MAE, RMSE, sMAPE, MASE, interval coverage)")
    p.add_argument("--model", required=True, help="model directory written by `forecast train`")
    p.add_argument("--data", required=True, help="the series, read with the columns the model was trained with")
    _add_forecast_data_flags(p)
    p.add_argument("--horizon", type=_positive_int, metavar="H", help="steps forecast from each origin (default and "
                   "most: the horizon trained for)")
    p.add_argument("--windows", type=_positive_int, default=1, metavar="K",
                   help="rolling origins: the last K blocks of H points, each forecast from its past (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--plot", metavar="FILE.png", help="draw the last window's forecasts beside what happened")
    add_inference_arguments(p, batch_size=False)
    p.set_defaults(handler=forecast.forecast_evaluate)

    # export
    p = tasks.add_parser("export", help="write a trained model as an ONNX graph, to run it without seqrnn")
    p.add_argument("--model", required=True, help="model directory written by `classify train` (texts or series) or `charlm train`")
    p.add_argument("--format", default="onnx", help="onnx (the only format; needs pip install 'seqrnn[export]')")
    p.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(handler=commands.export)

    # serve
    p = tasks.add_parser("serve", help="serve trained models over HTTP")
    p.add_argument("--sentiment", help="sentiment model directory")
    p.add_argument("--charlm", help="character model directory")
    p.add_argument("--series", help="series classifier directory (`classify train` on numeric series)")
    p.add_argument("--forecast", help="forecaster directory (`forecast train`), served at POST /v1/forecast")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="server processes, each with the models (default 1)")
    p.add_argument("--threads", type=config.field_type(config.RunOptions, "threads"), default=1,
                   help="torch threads per model call (default 1: requests run side by side instead)")
    p.add_argument("--timeout-headers", type=float, metavar="S",
                   help="close a connection whose request headers take longer, from connecting or the last response "
                        "(default 10)")
    p.add_argument("--timeout-body", type=float, metavar="S",
                   help="408 and close when a request body takes longer after its headers, and cut off a client "
                        "that reads nothing of a response for as long (default 30)")
    p.add_argument("--timeout-keep-alive", type=float, metavar="S",
                   help="close idle keep-alive connections (default 5)")
    p.add_argument("--limit-concurrency", type=_positive_int, metavar="N",
                   help="503 for a request while N requests are being answered; open connections do not count "
                        "(default 100)")
    p.add_argument("--max-connections", type=_positive_int, metavar="N",
                   help="open connections per process: at N, a new one replaces the one idle the longest, or "
                        "gets 503 if none is idle (default: what the limit on open files allows)")
    p.set_defaults(handler=commands.serve)

    # data
    data = tasks.add_parser("data", help="look at datasets")
    data_cmds = data.add_subparsers(dest="command", metavar="ACTION", required=True)
    p = data_cmds.add_parser("inspect", help="labels and counts of labelled texts or series; statistics of IMDb or a "
                                             "text corpus; series to forecast")
    p.add_argument("target", metavar="PATH|NAME",
                   help="labelled texts as `classify train` reads them (a CSV, TSV or JSONL file, a folder with one "
                        "subfolder per label), an IMDb directory or archive, a text file, or imdb / hamlet / "
                        "tinyshakespeare / enwik8; numeric series: a .ts, .npz or Parquet file, a CSV or TSV with "
                        "--input series, or gunpoint / italypowerdemand / basicmotions / japanesevowels; series to "
                        "forecast: a .tsf file, a CSV, TSV or Parquet file with --input forecast or --target, or "
                        "airline / shampoo / uschange")
    _add_labelled_data_flags(p)
    p.add_argument("--input", choices=("text", "series", "forecast"),
                   help="read a CSV or TSV as texts, as numeric series to classify or as series to forecast "
                        "(default: texts; .ts, .npz and Parquet files are series, .tsf files series to forecast)")
    p.add_argument("--series-column", metavar="NAME",
                   help="series: the series id column of a long table (default: series_id, else series, case_id, "
                        "unique_id; none: a wide table, one series a row); forecast: the same (default: series_id, "
                        "else series, unique_id, item_id, case_id; none: one series, or one per value column)")
    p.add_argument("--time-column", metavar="NAME",
                   help="series: the column that orders each series' rows (default: time, else timestamp, timepoint, "
                        "date, ds; none: the file's order); forecast: the time column (default: time, else timestamp, "
                        "date, datetime, ds, period, quarter, month, week, day, hour, year)")
    p.add_argument("--target", dest="forecast_target", metavar="NAME[,NAME]",
                   help="forecast: the target column, or several (each a series of a file without a series id; "
                        "default: target, else y, value, else every value column)")
    p.add_argument("--covariates", metavar="NAME,NAME",
                   help="forecast: known covariate columns (default: none)")
    p.add_argument("--freq", metavar="ALIAS",
                   help="forecast: the frequency, a pandas offset alias such as YS, QS, MS, W-SUN, D, h, or '' for "
                        "integer steps (default: read from the times)")
    p.add_argument("--value-columns", metavar="NAME,NAME",
                   help="series: the value columns, one per channel (default: every other column)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(handler=inspection.data_inspect)

    # explain
    explain = tasks.add_parser("explain", help="figures that illustrate the theory")
    explain_cmds = explain.add_subparsers(dest="command", metavar="ACTION", required=True)
    p = explain_cmds.add_parser("gradients", help="vanishing and exploding gradients through time")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--steps", type=_positive_int, default=50, help="sequence length (default 50)")
    p.set_defaults(handler=commands.explain_gradients)
    return parser


def flag_names(message: str, parser: argparse.ArgumentParser) -> str:
    """`message` with each parameter the library names in backquotes (`batch_size`) written as the
    flag of this command that sets it (--batch-size); names without a flag keep their backquotes."""
    flags = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            flags.setdefault(action.dest, longs[0])
            flags.setdefault(longs[0][2:].replace("-", "_"), longs[0])
    return re.sub(r"`([a-z][a-z0-9_]*)`", lambda m: flags.get(m.group(1), m.group(0)), message)


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command that ran (`seqrnn classify train`: that subparser)."""
    for name in ("task", "command"):
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or getattr(args, name, None) not in sub.choices:
            break
        parser = sub.choices[getattr(args, name)]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with common.warnings_as_notes(debug=args.debug):
            status = int(args.handler(args) or 0)
        if "seqrnn.training.distributed" in sys.modules:  # under torchrun: end the ranks together
            sys.modules["seqrnn.training.distributed"].finish(status)
        return status
    except Interrupted as exc:
        if _is_main_process():
            resume = f"\nresume with: {_resume_command(argv)}" if exc.checkpoint is not None else ""
            print(f"seqrnn: {exc}{resume}", file=sys.stderr)
        return exc.exit_status
    except SeqrnnError as exc:
        if args.debug:
            raise
        print(f"seqrnn: error: {flag_names(str(exc), _command_parser(parser, args))}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("seqrnn: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path the user gave that cannot be used: one line
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"seqrnn: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2 if isinstance(exc, (PermissionError, FileExistsError, NotADirectoryError, IsADirectoryError,
                                     FileNotFoundError)) else 1
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if args.debug:
            raise
        print(f"seqrnn: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def _is_main_process() -> bool:
    from seqrnn.training.distributed import from_environment  # torch is loaded by now: training was running

    return from_environment().is_main


def _resume_command(argv: Sequence[str] | None) -> str:
    """The command line that continues an interrupted run: this one, with --resume."""
    words = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in words:
        words.append("--resume")
    prefix = "torchrun ... -m seqrnn" if "WORLD_SIZE" in os.environ else "seqrnn"
    return " ".join([prefix, *map(shlex.quote, words)])


if __name__ == "__main__":
    raise SystemExit(main())
