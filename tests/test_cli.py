"""The command line as a whole: --version, --help everywhere, one-line usage errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from seqrnn import __version__
from seqrnn.cli.main import build_parser, main

COMMANDS = [[], ["classify", "train"], ["classify", "evaluate"], ["classify", "predict"], ["sentiment", "train"],
            ["charlm", "train"], ["charlm", "evaluate"], ["charlm", "sample"], ["lm", "train"], ["lm", "evaluate"],
            ["lm", "sample"], ["serve"], ["data", "inspect"], ["explain", "gradients"]]


@pytest.mark.slow
def test_version_and_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "seqrnn", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"seqrnn {__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "seqrnn")
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: seqrnn" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    ([], "required: COMMAND"),
    (["charlm"], "required: ACTION"),
    (["sentiment", "train", "--data", "x", "--out", "y", "--seq-len", "0"], "--seq-len: must be at least 1"),
    (["charlm", "sample", "--model", "m", "--num-samples", "zero"], "--num-samples"),
    (["sentiment", "train", "--data", "x", "--out", "y", "--preset", "huge"], "--preset"),
    (["charlm", "train", "--text", "x", "--out", "y", "--max-minutes", "-1"], "--max-minutes: must be more than 0"),
    (["charlm", "train", "--text", "x", "--out", "y", "--lr", "nan"], "--lr: must be a finite number"),
    (["charlm", "train", "--text", "x", "--out", "y", "--grad-clip", "inf"], "--grad-clip: must be a finite number"),
    (["charlm", "train", "--text", "x", "--out", "y", "--cell", "transformer"], "--cell: must be one of lstm, gru, rnn"),
])
def test_usage_errors_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("seqrnn: error:") and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("setting,value,message", [
    ("hidden_size", -5, "hidden_size must be at least 1, got -5"),
    ("cell", "transformer", "cell must be one of lstm, gru, rnn, got 'transformer'"),
])
def test_a_bad_config_json_is_a_one_line_error(tmp_path, capsys, setting, value, message):
    from conftest import write_model_dir

    from seqrnn.config import CHARLM_PRESETS

    model = write_model_dir(tmp_path / "m", "charlm")
    config = json.loads((model / "config.json").read_text())
    config.update(CHARLM_PRESETS["book"].to_dict())
    config["model"][setting] = value
    (model / "config.json").write_text(json.dumps(config))
    assert main(["charlm", "sample", "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqrnn: error:") and message in err and len(err.strip().splitlines()) == 1


def test_sentiment_is_the_book_name_of_classify():
    parser = build_parser()
    for task in ("classify", "sentiment"):
        args = parser.parse_args([task, "train", "--data", "x", "--out", "y"])
        assert args.handler.__name__ == "classify_train"
    from seqrnn import SentimentClassifier, TextClassifier

    assert SentimentClassifier is TextClassifier


def test_library_parameter_names_become_the_command_flags(tmp_path, capsys):
    """The library names `text_column`; the command line says --text-column (one place: cli.flag_names)."""
    from seqrnn.cli.main import flag_names

    data = tmp_path / "c.csv"
    data.write_text("comment,score\nnice,1\nbad,0\n")
    assert main(["classify", "train", "--data", str(data), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "name it with --text-column" in err and "`" not in err
    parser = build_parser()
    charlm_train = parser._subparsers._group_actions[0].choices["charlm"]._subparsers._group_actions[0].choices["train"]
    assert flag_names("`batch_size` x `num_steps`, not `nonsense`", charlm_train) == \
        "--batch-size x --num-steps, not `nonsense`"
