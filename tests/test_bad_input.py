"""Bad input of every kind, through the command line in-process: each case exits 2 (bad input) or 1
(a run that failed), with exactly one line on stderr, `seqrnn: error: ...`, and no traceback.

The cases fail before training (or within a few steps of a tiny model), so the table runs in
seconds. The memory the machine has is fixed at 8 GB (`seqrnn.memory.available_bytes`), so that
the refusals of sizes that cannot fit do not depend on where the tests run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path

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
    paths["unique.csv"] = root / "unique.csv"  # every text different: as labels, more than half distinct
    paths["unique.csv"].write_text("text,label\n" + "".join(f"review number {i},{i % 2}\n" for i in range(24)))
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
    # what other libraries warn or print stays off stderr: the one line is seqrnn's
    ("columns-swapped", ["sentiment", "train", "--data", "{unique.csv}", "--text-column", "label", "--label-column",
                         "text", "--out", "{out}", *TINY_SENT], 2, "have fewer than 2 training texts"),
    ("download-fails", ["data", "inspect", "enwik8"], 2, "dataset 'enwik8' not found"),
    ("download-fails-quiet", ["charlm", "train", "--text", "enwik8", "--out", "{out}", *TINY_CHAR], 2,
     "dataset 'enwik8' not found"),
    # output paths: checked before any work, the user's path named, never a temporary file's
    ("predict-out-read-only", ["sentiment", "predict", "--model", "{sentiment}", "--data", "{good.csv}", "--out",
                               "{read-only}/p.csv"], 2,
     "--out {read-only}/p.csv: the directory {read-only} is not writable"),
    ("predict-out-under-a-file", ["sentiment", "predict", "--model", "{sentiment}", "--data", "{good.csv}", "--out",
                                  "{good.csv}/p.csv"], 2, "{good.csv} is a file, not a directory"),
    ("predict-out-a-directory", ["sentiment", "predict", "--model", "{sentiment}", "--data", "{good.csv}", "--out",
                                 "{root}"], 2, "--out {root} is a directory"),
    ("export-out-read-only", ["export", "--model", "{sentiment}", "--format", "onnx", "--out", "{read-only}/m.onnx"],
     2, "--out {read-only}/m.onnx: the directory {read-only} is not writable"),
    ("export-out-under-a-file", ["export", "--model", "{charlm}", "--out", "{text}/m.onnx"], 2,
     "{text} is a file, not a directory"),
    ("plot-read-only", ["sentiment", "evaluate", "--model", "{sentiment}", "--data", "{good.csv}", "--plot",
                        "{read-only}/cm.png"], 2, "the directory {read-only} is not writable"),
    ("explain-read-only", ["explain", "gradients", "--out", "{read-only}/g.png"], 2, "is not writable"),
    ("train-out-read-only", ["charlm", "train", "--text", "{text}", "--out", "{read-only}/run", *TINY_CHAR], 2,
     "cannot write in {read-only}"),
]
SMALL_MACHINE: dict[str, int] = {}  # a case's free memory, when it is not the default
OFFLINE = {"SEQRNN_DATA": "{root}/no-data", "SEQRNN_CACHE": "{root}/no-cache",
           "SEQRNN_DOWNLOAD_URL": "http://127.0.0.1:9/", "NO_PROXY": "*", "no_proxy": "*"}  # refused at once
ENVIRONMENT = {"download-fails": OFFLINE, "download-fails-quiet": OFFLINE}  # a case's environment variables


def read_only_directory() -> Path | None:
    """A directory this process cannot write in: a read-only one of its own (not as root), else
    /proc/sys (a read-only mount in containers); None when there is neither."""
    import tempfile

    mine = Path(tempfile.mkdtemp(prefix="seqrnn-read-only-"))
    mine.chmod(0o555)
    if not os.access(mine, os.W_OK):
        return mine
    mine.chmod(0o755)
    mine.rmdir()
    if os.path.isdir("/proc/sys") and not os.access("/proc/sys", os.W_OK):
        return Path("/proc/sys")
    return None


READ_ONLY = read_only_directory()


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.parametrize("name,argv,status,fragment", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_and_the_right_exit_status(name, argv, status, fragment, files, tmp_path, capfd,
                                                         monkeypatch):
    """capfd: what is written to the file descriptor counts too (a library's logger bound to stderr)."""
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": SMALL_MACHINE.get(name, MACHINE_BYTES))
    places = {key: str(value) for key, value in files.items()}
    places.update(out=str(tmp_path / "out"), locked=str(tmp_path / "locked"))
    if any("{read-only}" in arg for arg in argv):
        if READ_ONLY is None:
            pytest.skip("no read-only directory here (root, without a read-only mount)")
        places["read-only"] = str(READ_ONLY)

    def fill(text: str) -> str:
        for key, value in places.items():
            text = text.replace("{" + key + "}", value)
        return text

    for variable, value in ENVIRONMENT.get(name, {}).items():
        monkeypatch.setenv(variable, fill(value))

    def to_stderr(message, category, filename, lineno, file=None, line=None):  # as Python shows warnings, not
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))  # pytest's record

    monkeypatch.setattr(warnings, "showwarning", to_stderr)
    holder = RunDir(tmp_path / "locked")
    holder.lock()  # another run holds this one (a second lock in this process conflicts just the same)
    try:
        result = _run([fill(arg) for arg in argv])
    finally:
        holder.release()
    err = capfd.readouterr().err
    assert result == status, err
    assert err.startswith("seqrnn: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "--debug" not in err, err  # not the fallback for an unexpected exception
    assert ".tmp" not in err and "Warning" not in err, err
    assert fill(fragment) in err, err



def test_other_libraries_warnings_wait_for_the_command_to_succeed(capsys):
    """A warning from another library is one `note:` line once the command succeeded, and nothing
    when it is refused: the error stays the only line."""
    from seqrnn.cli.common import warnings_as_notes
    from seqrnn.errors import SeqrnnError

    with warnings_as_notes():
        warnings.warn("some library's chatter\nover two lines", UserWarning)
        warnings.warn("The number of unique classes is greater than 50% of the number of samples.", UserWarning)
        assert capsys.readouterr().err == ""
    assert capsys.readouterr().err == "note: UserWarning: some library's chatter\n"
    with pytest.raises(SeqrnnError), warnings_as_notes():
        warnings.warn("chatter before a refusal", RuntimeWarning)
        raise SeqrnnError("refused")
    assert capsys.readouterr().err == ""


def _tree(root: Path) -> dict:
    """Every file and folder under `root`, root included: (kind, size, mtime in ns) by relative path."""
    out = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        out[str(path.relative_to(root))] = (path.is_dir(), info.st_size if not path.is_dir() else 0, info.st_mtime_ns)
    return out


# (id, what --out holds before, extra flags, a fragment of the error): refused runs, each on a directory
# the user made, which must be left exactly as it was (names, sizes, modification times)
REFUSED_RUNS = [
    ("holds-a-run", "run", [], "already holds a training run"),
    ("resume-nothing", "empty", ["--resume"], "nothing to resume"),
    ("resume-after-a-crash", "metrics-only", ["--resume"], "nothing to resume"),
    ("in-use", "empty-locked", [], "another training run is using this directory"),
    ("too-big-for-memory", "empty", ["--hidden-size", "30000"], "the model (hidden_size 30000"),
    ("too-big-after-a-crash", "metrics-only", ["--hidden-size", "30000"], "the model (hidden_size 30000"),
    ("resume-with-other-settings", "run", ["--resume", "--hidden-size", "16"], "cannot resume with"),
]


@pytest.mark.parametrize("name,holds,flags,fragment", REFUSED_RUNS, ids=[case[0] for case in REFUSED_RUNS])
def test_a_refused_run_leaves_its_directory_as_it_was(name, holds, flags, fragment, files, tmp_path, capfd,
                                                      monkeypatch):
    import time

    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": MACHINE_BYTES)
    out = tmp_path / "out"
    if holds == "run":
        shutil.copytree(files["charlm"], out)
    else:
        out.mkdir()
        if holds == "metrics-only":  # a run that crashed before its first checkpoint
            (out / "metrics.jsonl").write_text('{"type": "train", "step": 1, "loss": 3.0}\n')
    holder = RunDir(out)
    if holds.endswith("-locked"):
        holder.lock()
    before = _tree(out)
    time.sleep(0.01)  # a write now would change a modification time
    try:
        result = _run(["charlm", "train", "--text", str(files["text"]), "--out", str(out), *TINY_CHAR, *flags])
    finally:
        holder.release()
    err = capfd.readouterr().err
    assert result == 2 and err.count("\n") == 1 and fragment in err, err
    assert _tree(out) == before
