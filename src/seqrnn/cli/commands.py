"""The commands of the `seqrnn` console script: each reads what its flags name, calls the library,
and prints. `cli.main` builds the parser and hands each command its parsed arguments.

The library is imported inside each command, so that `seqrnn --help` (which imports this module)
stays instant.
"""

from __future__ import annotations

import io
import math
import sys
import time

from seqrnn.cli import series
from seqrnn.cli.common import (Args, load_for_inference, print_evaluation, print_json_or, print_summary,
                               task_estimator, train_params)

# --- shared by the commands -------------------------------------------------------------------------


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
    """Train on what --data names; its labels are checked under the file's name (a CLI user has no `y`).
    Series (`is_series_data`) train a `SeriesClassifier`."""
    if series.is_series_data(args):
        return series.train(args)
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
    held_out = (getattr(clf, "ngram_", None) or {}).get("validation")
    if held_out and clf.ranks_.is_main:
        from seqrnn.tasks.classifier import format_parts

        combined = held_out["combined"]
        print(f"with the n-gram model: validation accuracy {combined['accuracy']:.4f}, macro-F1 "
              f"{combined['macro_f1']:.4f} ({format_parts(held_out, clf.ngram_['weight'])})")
    return 0


def classify_evaluate(args: Args) -> int:
    """The accuracy line, the network's and the n-gram model's figures alone, then the per-class
    report and the confusion matrix (`print_evaluation`), or with --json all of it as one JSON
    object; --plot draws the matrix. The labels are checked under the --data file's name."""
    from seqrnn.data.checks import class_indices
    from seqrnn.data.sources import read_labelled_data
    from seqrnn.nn.explain import check_png_path

    if args.plot is not None:
        check_png_path(args.plot, "plot")
    clf = load_for_inference(args)
    if clf.task == "series":
        return series.evaluate(clf, args)
    texts, labels, _ = read_labelled_data(args.data, args.split, args.text_column, args.label_column)
    class_indices(labels, clf.classes_, name=args.data)
    result = clf.evaluate(texts, labels)
    beside = None
    if "parts" in result:
        from seqrnn.tasks.classifier import format_parts

        beside = format_parts(result["parts"], result["ngram_weight"])
    return print_evaluation(result, args, "texts", beside)


def classify_predict(args: Args) -> int:
    """One line per input: `LABEL PROBABILITY` (the probability of that label; see
    `classifier.prediction_records`), or with --json one object with every class's probability.
    Undecodable stdin bytes are replaced with U+FFFD. An empty input is refused before anything is
    printed: there is nothing to classify in it. With --data FILE, every row of the file is
    labelled into --out (`seqrnn.cli.predict_file`)."""
    from seqrnn.errors import SeqrnnError
    from seqrnn.tasks.classifier import prediction_records

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

    from seqrnn.cli.predict_file import check_paths, describe_empty, predict_file
    from seqrnn.errors import SeqrnnError

    if args.data is None or args.out is None:
        raise SeqrnnError("label a file with both `data` FILE (the texts) and `out` FILE.csv|.jsonl (the predictions)")
    if args.texts:
        raise SeqrnnError("give TEXT arguments or `data` FILE, not both")
    if args.json:
        raise SeqrnnError("`json` is for TEXT arguments and stdin; with `data`, the suffix of `out` chooses the "
                          "format (.csv, .tsv or .jsonl)")
    from seqrnn.fileio import check_output_path
    from seqrnn.tasks import registry

    out = check_output_path(args.out)  # before the model is loaded
    if series.is_series_data(args) or registry.saved_task(args.model) == "series":
        if out.exists() and not args.force:
            raise SeqrnnError(f"{args.out} exists: give `force` to replace it")
        return series.predict(load_for_inference(args), args)
    check_paths(Path(args.data), out, args.force)
    clf = load_for_inference(args)
    outcome = predict_file(clf, args.data, args.out, text_column=args.text_column, id_column=args.id_column,
                           force=args.force)
    if outcome.empty:
        print(describe_empty(Path(args.data), outcome.empty), file=sys.stderr)
    print(f"wrote {outcome.rows:,} predictions to {args.out}"
          + (f" ({len(outcome.empty):,} empty)" if outcome.empty else ""))
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
    from seqrnn.nn.sampling import check_sampling_options, effective_top_n, sampler_bytes_per_stream
    from seqrnn.training.runtime import torch_threads

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
    from seqrnn.fileio import check_output_path
    from seqrnn.serve.export import export_model

    check_output_path(args.out)
    result = export_model(args.model, args.format, args.out, force=args.force)
    print(f"exported the {result['task']} model to {result['out']} ({result['format']}, "
          f"{result['bytes'] / 1e6:.1f} MB; inputs {', '.join(result['inputs'])}; "
          f"outputs {', '.join(result['outputs'])})")
    return 0


def serve(args: Args) -> int:
    from seqrnn.serve.server import serve_command

    return serve_command(args)


def explain_gradients(args: Args) -> int:
    """`seqrnn explain gradients --out FILE.png [--steps N]`: draw the figure, print its table."""
    from seqrnn.errors import SeqrnnError
    from seqrnn.nn.explain import check_png_path, format_table, gradient_curves, plot

    out = check_png_path(str(args.out))
    if not 2 <= args.steps <= 1000:
        raise SeqrnnError(f"`steps` must be between 2 and 1000, got {args.steps}")
    curves = gradient_curves(args.steps)
    print(format_table(curves))
    plot(curves, out)
    print(f"\nwrote {out}")
    return 0
