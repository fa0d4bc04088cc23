"""The command line as a whole: --version, --help everywhere, one-line usage errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from seqrnn import __version__
from seqrnn.cli import build_parser, main

COMMANDS = [[], ["sentiment", "train"], ["sentiment", "evaluate"], ["sentiment", "predict"], ["charlm", "train"],
            ["charlm", "evaluate"], ["charlm", "sample"], ["serve"], ["data", "inspect"], ["explain", "gradients"]]


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
