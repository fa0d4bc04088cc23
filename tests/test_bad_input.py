"""Bad input of every kind, through the command line in-process: each case exits 2 (bad input) or 1
(a run that failed), with exactly one line on stderr, `seqrnn: error: ...`, and no traceback.

The cases fail before training (or within a few steps of a tiny model), so the table runs in
seconds. The memory the machine has is fixed at 8 GB (`seqrnn.memory.available_bytes`), so that
the refusals of sizes that cannot fit do not depend on where the tests run.
"""

from __future__ import annotations

import json
import shutil

import pytest

from seqrnn import memory
from seqrnn.cli.main import main
from seqrnn.training.rundir import RunDir

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 8
REVIEWS = [("a wonderful film, loved it", 1), ("great acting and a superb plot", 1), ("awful, just awful", 0),
           ("boring plot and wooden actors", 0), ("good fun for the whole family", 1), ("meh, forgettable", 0)] * 4
TINY_CHAR = ["--epochs", "1", "--hidden-size", "8", "--embed-size", "4", "--batch-size", "2", "--num-steps", "10",
             "--threads", "1", "--quiet"]
TINY_SENT = ["--preset", "book", "--epochs", "1", "--hidden-size", "4", "--embed-size", "4", "--seq-len", "5",
             "--batch-size", "2", "--threads", "1", "--quiet"]
MACHINE_BYTES = 8 * 10**9


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Tiny data files, a tiny trained character model and classifier, and damaged copies."""
    from seqrnn import CharLanguageModel, SentimentClassifier

    root = tmp_path_factory.mktemp("bad-input")
    paths = {"root": root, "text": root / "text.txt"}
    paths["text"].write_text(TEXT, encoding="utf-8")

    def table(name: str, labels) -> None:
        rows = [text for text, _ in REVIEWS]
        if name.endswith(".csv"):
            body = "text,label\n" + "".join(f"\"{t}\",{label}\n" for t, label in zip(rows, labels))
        else:
            body = "".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(rows, labels))
        (root / name).write_text(body, encoding="utf-8")
        paths[name] = root / name

    table("good.csv", [label for _, label in REVIEWS])
    table("fractions.csv", [0.7 if label else 1.3 for _, label in REVIEWS])
    table("huge.csv", ["1e40" if label else 0 for _, label in REVIEWS])
    table("huge.jsonl", [1e40 if label else 0 for _, label in REVIEWS])
    table("huge-int.jsonl", [10**30 if label else 0 for _, label in REVIEWS])
    paths["deep.jsonl"] = root / "deep.jsonl"
    paths["deep.jsonl"].write_text('{"text": "fine", "label": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n")

    paths["charlm"] = root / "charlm"
    CharLanguageModel(preset="book", hidden_size=8, embed_size=4, batch_size=2, num_steps=10, epochs=1,
                      threads=1, quiet=True).fit(TEXT, out_dir=paths["charlm"])
    paths["sentiment"] = root / "sentiment"
    SentimentClassifier(preset="book", hidden_size=4, embed_size=4, seq_len=5, batch_size=2, epochs=1, threads=1,
                        quiet=True).fit([t for t, _ in REVIEWS], [label for _, label in REVIEWS],
                                        out_dir=paths["sentiment"])
    paths["deep-vocab"] = root / "deep-vocab"
    shutil.copytree(paths["charlm"], paths["deep-vocab"])
    (paths["deep-vocab"] / "vocab.json").write_text("[" * 100_000 + "]" * 100_000)
    paths["no-classes"] = root / "no-classes"
    shutil.copytree(paths["sentiment"], paths["no-classes"])
    config = json.loads((paths["no-classes"] / "config.json").read_text())
    del config["classes"]
    (paths["no-classes"] / "config.json").write_text(json.dumps(config))
    return paths


# (id, command line with {placeholders}, exit status, a fragment of the message)
CASES = [
    # labels and records that cannot be classes or read
    ("fraction-labels", ["sentiment", "train", "--data", "{fractions.csv}", "--out", "{out}", *TINY_SENT], 2,
     "line 2: label '0.7' is not a class"),
    ("huge-label-text", ["sentiment", "train", "--data", "{huge.csv}", "--out", "{out}", *TINY_SENT], 2,
     "label '1e40' is too large for a class"),
    ("huge-label-json", ["sentiment", "train", "--data", "{huge.jsonl}", "--out", "{out}", *TINY_SENT], 2,
     "label 1e+40 is too large for a class"),
    ("huge-int-label", ["sentiment", "train", "--data", "{huge-int.jsonl}", "--out", "{out}", *TINY_SENT], 2,
     "too large for a class"),
    ("deep-json-train", ["sentiment", "train", "--data", "{deep.jsonl}", "--out", "{out}", *TINY_SENT], 2,
     "line 2: JSON nested too deeply"),
    ("deep-json-evaluate", ["sentiment", "evaluate", "--model", "{sentiment}", "--data", "{deep.jsonl}"], 2,
     "line 2: JSON nested too deeply"),
    ("deep-json-model", ["charlm", "sample", "--model", "{deep-vocab}"], 2, "vocab.json: JSON nested too deeply"),
    ("config-without-classes", ["sentiment", "predict", "--model", "{no-classes}", "fine film"], 2,
     "config.json has no 'classes'"),
    # the optimizer's range
    ("lr-1e38", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--lr", "1e38"], 2,
     "argument --lr: must be at most 1e+30"),
    ("lr-1e308", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--lr", "1e308"], 2,
     "argument --lr: must be at most 1e+30"),
    ("lr-inf", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--lr", "1e400"], 2,
     "argument --lr: must be a finite number"),
    ("lr-negative", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT, "--lr", "-1"], 2,
     "argument --lr: must be more than 0"),
    ("weight-decay", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--weight-decay", "1e9"],
     2, "argument --weight-decay: must be at most 1000"),
    ("unfreeze-every", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT,
                        "--unfreeze-every", "1e300"], 2, "argument --unfreeze-every: must be at most"),
    ("encoder-lr-fraction", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT,
                             "--encoder-lr-fraction", "1e9"], 2, "argument --encoder-lr-fraction: must be at most"),
    ("max-minutes-nan", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--max-minutes", "nan"],
     2, "argument --max-minutes: must be a finite number"),
    ("seed-negative", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT, "--seed", "-1"], 2,
     "argument --seed: must be at least 0"),
    ("seed-2**80", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT, "--seed",
                    str(2**80)], 2, "argument --seed: must be at most 4294967295"),
    ("threads-train", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--threads", "100000"], 2,
     "argument --threads: must be at most 1024"),
    ("threads-sample", ["charlm", "sample", "--model", "{charlm}", "--threads", "100000"], 2,
     "argument --threads: must be at most 1024"),
    ("eval-batch-size-0", ["sentiment", "evaluate", "--model", "{sentiment}", "--data", "{good.csv}",
                           "--batch-size", "0"], 2, "argument --batch-size: must be at least 1"),
    ("num-layers", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--num-layers", "100000"], 2,
     "argument --num-layers: must be at most 1000"),
    # sizes the machine cannot hold
    ("hidden-size-30000", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR,
                           "--hidden-size", "30000"], 2, "the model (hidden_size 30000, num_layers 1, embed_size 4: "),
    ("hidden-size-1e9-written", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR,
                                 "--hidden-size", "1e9"], 2, "argument --hidden-size: expected an integer"),
    ("hidden-size-1e9", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR,
                         "--hidden-size", "1000000000"], 2, "needs more memory than any machine has"),
    ("embed-size", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT,
                    "--embed-size", "1000000000"], 2, "the model (hidden_size 4, num_layers 1, embed_size 1000000000"),
    ("seq-len-1e9", ["sentiment", "train", "--data", "{good.csv}", "--out", "{out}", *TINY_SENT,
                     "--seq-len", "1000000000"], 2, "seq_len 1000000000 (24 texts x 1,000,000,000 token ids) needs"),
    ("batch-activations", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--batch-size", "60",
                           "--num-steps", "10", "--hidden-size", "1000000"], 2, "the model (hidden_size 1000000"),
    # sampling
    ("num-samples-1e8", ["charlm", "sample", "--model", "{charlm}", "--num-samples", "100000000"], 2,
     "length x num_samples is 50,000,000,000 characters"),
    ("num-samples-memory", ["charlm", "sample", "--model", "{charlm}", "--num-samples", "100000000", "--length", "1"],
     2, "num_samples 100000000 (the sampler's state and probabilities for each) needs about"),
    ("length-1e20", ["charlm", "sample", "--model", "{charlm}", "--length", str(10**20)], 2,
     "length x num_samples is 100,000,000,000,000,000,000 characters"),
    ("length-1e20-written", ["charlm", "sample", "--model", "{charlm}", "--length", "1e20"], 2,
     "argument --length: invalid int value"),
    ("start-all-unknown", ["charlm", "sample", "--model", "{charlm}", "--ignore-unknown", "--start", "ΩΩ"], 2,
     "at least one character the model knows ('Ω' dropped as unknown)"),
    ("temperature-tiny", ["charlm", "sample", "--model", "{charlm}", "--temperature", "1e-320", "--top-n", "0"], 2,
     "temperature must be 0 (greedy) or at least 1e-06"),
    ("sample-seed", ["charlm", "sample", "--model", "{charlm}", "--seed", "-1"], 2,
     "argument --seed: must be 0 or more"),
    # the run directory
    ("locked-out", ["charlm", "train", "--text", "{text}", "--out", "{locked}", *TINY_CHAR], 2,
     "another training run is using this directory (process "),
    ("resume-nothing", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--resume"], 2,
     "nothing to resume"),
    # a run that diverges while its loss stays finite: a runtime failure
    ("lr-1e10", ["charlm", "train", "--text", "{text}", "--out", "{out}", *TINY_CHAR, "--lr", "1e10"], 1,
     "the training loss exploded at step 20: "),
]
SMALL_MACHINE: dict[str, int] = {}  # a case's free memory, when it is not the default


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.parametrize("name,argv,status,fragment", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_and_the_right_exit_status(name, argv, status, fragment, files, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": SMALL_MACHINE.get(name, MACHINE_BYTES))
    places = {key: str(value) for key, value in files.items()}
    places.update(out=str(tmp_path / "out"), locked=str(tmp_path / "locked"))
    holder = RunDir(tmp_path / "locked")
    holder.lock()  # another run holds this one (a second lock in this process conflicts just the same)
    try:
        result = _run([places[arg[1:-1]] if arg.startswith("{") and arg.endswith("}") else arg for arg in argv])
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert result == status, err
    assert err.startswith("seqrnn: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "--debug" not in err, err  # not the fallback for an unexpected exception
    assert fragment in err, err

