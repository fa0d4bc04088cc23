"""What the commands share: the estimator parameters of a `train` command line, loading a model for
inference, the last line of a training run, and the library's warnings as `note:` lines."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import sys
import time
import warnings
from typing import Any, Iterator

Args = argparse.Namespace


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
    from seqrnn.tasks import registry
    from seqrnn.training.distributed import resolve_device

    task = registry.for_command(args.task)
    saved = registry.saved_task(args.model)  # a command shared by tasks (classify: texts or series) loads the saved one
    if saved != task.name and saved in registry.TASKS and args.task in registry.TASKS[saved].commands:
        task = registry.TASKS[saved]
    estimator = task.estimator_class().load(args.model)
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


def print_evaluation(result: dict, args: Args, unit: str, beside: str | None = None) -> int:
    """A classifier's `evaluate` on the command line (texts or series): --plot draws the confusion
    matrix; --json prints the whole result; otherwise the accuracy line, the `beside` line (a
    baseline's or the model's parts), the per-class report and where the matrix went. Returns 0."""
    from seqrnn.tasks.report import format_report, plot_confusion_matrix

    if args.plot is not None:
        plot_confusion_matrix(result, args.plot, note=beside)
        result["plot"] = args.plot
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f} on {result['n']} {unit}")
    if beside:
        print(beside)
    print()
    print(format_report(result))
    if args.plot is not None:
        print(f"\nconfusion matrix drawn in {args.plot}")
    return 0


def print_json_or(result: dict, args: Args, line: str) -> None:
    """`--json`: the result as one JSON object on the last line; otherwise `line`."""
    print(json.dumps(result) if args.json else line)


# other libraries' warnings that say nothing to a user of the command line: seqrnn checks the same
# thing itself and says it in its own words (scikit-learn's guess that many distinct labels mean a
# regression: a class with fewer than 2 texts is refused by name)
SILENCED_WARNINGS = [r"The number of unique classes is greater than 50%"]


@contextlib.contextmanager
def warnings_as_notes(debug: bool = False) -> Iterator[None]:
    """The library's own warnings (`SmallDataWarning`, `HeldOutWarning`, ...), which a Python user
    gets as warnings, as `note: ...` lines on stderr. Other libraries' warnings are silenced when they
    say nothing to the user (`SILENCED_WARNINGS`); the rest wait for the command to succeed and are
    then shown as one `note:` line each, so that a refused command prints one line, its error
    (`debug`: shown as they come, as Python shows them). Every command runs inside it (`main`)."""
    deferred: list[str] = []
    with warnings.catch_warnings():
        for pattern in SILENCED_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if category.__module__.startswith("seqrnn."):
                print(f"note: {message}", file=sys.stderr, flush=True)
            elif debug:
                shown(message, category, filename, lineno, file, line)
            else:
                text = str(message).strip().splitlines()
                note = f"note: {category.__name__}: {text[0] if text else ''}"
                if note not in deferred:
                    deferred.append(note)

        warnings.showwarning = show
        yield
    for note in deferred:  # not reached when the command raised
        print(note, file=sys.stderr)
