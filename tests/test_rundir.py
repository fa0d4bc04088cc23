"""The model directory's owner: refusals, atomic checkpoints, a crash between the renames, safe loading."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from seqrnn import __version__
from seqrnn.errors import SeqrnnError
from seqrnn.rundir import RunDir


def _checkpoint(run: RunDir, value: float) -> None:
    state = {"state": {"step": int(value), "carry": (torch.full((1, 2, 3), value), torch.zeros(1, 2, 3))},
             "rng": {"torch": torch.get_rng_state()}}
    run.save_checkpoint({"w": torch.full((2,), value)}, state)


def test_checkpoint_round_trip_keeps_nested_tensors_and_tuples(tmp_path):
    run = RunDir(tmp_path)
    _checkpoint(run, 3.0)
    weights, state = run.load_checkpoint()
    assert torch.equal(weights["w"], torch.full((2,), 3.0))
    assert state["state"]["step"] == 3 and isinstance(state["state"]["carry"], tuple)
    assert torch.equal(state["state"]["carry"][0], torch.full((1, 2, 3), 3.0))
    assert not (tmp_path / "checkpoint.new").exists() and not (tmp_path / "checkpoint.old").exists()


def test_a_crash_between_the_two_renames_loads_the_previous_checkpoint(tmp_path):
    run = RunDir(tmp_path)
    _checkpoint(run, 1.0)
    _checkpoint(run, 2.0)
    # the swap renames checkpoint -> checkpoint.old, then checkpoint.new -> checkpoint: stop in between
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")
    assert run.has_checkpoint()
    weights, state = run.load_checkpoint()
    assert torch.equal(weights["w"], torch.full((2,), 2.0)) and state["state"]["step"] == 2
    _checkpoint(run, 4.0)  # the next save cleans up
    assert run.load_checkpoint()[1]["state"]["step"] == 4 and not (tmp_path / "checkpoint.old").exists()


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_loading_a_checkpoint_never_runs_code_from_it(tmp_path, capsys):
    run = RunDir(tmp_path)
    _checkpoint(run, 1.0)
    with open(tmp_path / "checkpoint" / RunDir.TRAINER_STATE, "wb") as f:
        torch.save({"format": 1, "payload": _Exploit()}, f, pickle_module=pickle)
    with pytest.raises(SeqrnnError, match="not a readable checkpoint"):
        run.load_checkpoint()
    assert "this must never run" not in capsys.readouterr().out


def test_a_damaged_checkpoint_is_one_line_error(tmp_path):
    run = RunDir(tmp_path)
    _checkpoint(run, 1.0)
    (tmp_path / "checkpoint" / RunDir.TRAINER_STATE).write_bytes(b"not a torch file")
    with pytest.raises(SeqrnnError, match="not a readable checkpoint"):
        run.load_checkpoint()


def test_start_refuses_to_overwrite_a_run_or_resume_nothing(tmp_path):
    run = RunDir(tmp_path / "run")
    with pytest.raises(SeqrnnError, match="nothing to resume"):
        run.start(resume=True)
    run.start(resume=False)
    _checkpoint(run, 1.0)
    with pytest.raises(SeqrnnError, match="already holds a training run"):
        run.start(resume=False)
    run.start(resume=True)


def test_a_new_run_starts_with_no_metrics_and_a_torn_line_is_skipped(tmp_path):
    run = RunDir(tmp_path)
    run.append_metrics({"type": "train", "step": 1})
    with open(tmp_path / RunDir.METRICS, "a") as f:
        f.write('{"type": "tra')  # a write cut short by a crash
    assert run.metrics() == [{"type": "train", "step": 1}]
    run.start(resume=False)
    assert run.metrics() == []


def test_config_records_task_and_version_and_the_task_is_checked(tmp_path):
    run = RunDir(tmp_path)
    run.write_config("charlm", {"model": {"hidden_size": 8}}, {"source": "x"})
    saved = json.loads((tmp_path / RunDir.CONFIG).read_text())
    assert saved["task"] == "charlm" and saved["seqrnn_version"] == __version__ and saved["dataset"] == {"source": "x"}
    assert run.read_config("charlm")["model"] == {"hidden_size": 8}
    with pytest.raises(SeqrnnError, match="holds a charlm model, not a sentiment model"):
        run.read_config("sentiment")


def test_best_weights_are_saved_on_the_cpu(tmp_path):
    run = RunDir(tmp_path)
    run.save_best({"w": torch.ones(3, requires_grad=True)}, {"loss": 0.5})
    assert torch.equal(run.best_weights()["w"], torch.ones(3))
