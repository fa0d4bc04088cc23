"""The model directory's owner: refusals, atomic checkpoints, a crash between the renames, safe loading."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from seqrnn import __version__
from seqrnn.errors import SeqrnnError
from seqrnn.training.rundir import RunDir


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


# --- one training run per directory -------------------------------------------------------------


def test_a_second_run_on_a_locked_directory_is_refused_at_once_and_may_start_after_release(tmp_path):
    first, second = RunDir(tmp_path / "run"), RunDir(tmp_path / "run")
    first.start(resume=False)
    first.append_metrics({"type": "train", "step": 1})
    with pytest.raises(SeqrnnError, match=r"another training run is using this directory \(process \d+\)") as info:
        second.start(resume=False)
    assert "\n" not in str(info.value)
    assert first.metrics() == [{"type": "train", "step": 1}]  # the refused run touched nothing
    with pytest.raises(SeqrnnError, match="another training run is using"):
        RunDir(tmp_path / "run").start(resume=True)  # resuming it while it runs is refused too
    first.release()
    second.start(resume=False)
    assert second.metrics() == []
    second.release()


def test_a_start_refused_for_another_reason_gives_the_lock_back(tmp_path):
    run = RunDir(tmp_path / "run")
    _checkpoint(run, 1.0)
    with pytest.raises(SeqrnnError, match="already holds a training run"):
        run.start(resume=False)
    run.start(resume=True)  # not stuck
    run.release()


def test_a_refused_start_in_a_new_directory_leaves_no_trace(tmp_path):
    with pytest.raises(SeqrnnError, match="nothing to resume"):
        RunDir(tmp_path / "new").start(resume=True)
    assert not (tmp_path / "new").exists()
    run = RunDir(tmp_path / "new")
    run.start(resume=False)
    run.release()  # nothing was written: nothing is left
    assert not (tmp_path / "new").exists()


def test_only_rank_0_takes_the_lock_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    other_rank = RunDir(tmp_path / "run")
    other_rank.start(resume=False)
    monkeypatch.setenv("RANK", "0")
    rank_0 = RunDir(tmp_path / "run")
    rank_0.start(resume=False)  # rank 1 holds nothing
    with pytest.raises(SeqrnnError, match="another training run"):
        RunDir(tmp_path / "run").start(resume=False)
    rank_0.release()


LOCK_HOLDER = """
import sys, time
from seqrnn.training.rundir import RunDir
RunDir(sys.argv[1]).start(resume=False)
print("locked", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_a_run_killed_with_sigkill_leaves_no_stuck_lock_and_the_cli_refuses_while_it_lives(tmp_path, capsys):
    import os
    import signal
    import subprocess
    import sys

    from seqrnn.cli.main import main

    out = tmp_path / "run"
    (tmp_path / "text.txt").write_text("To be, or not to be, that is the question.\n" * 50, encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        status = main(["charlm", "train", "--text", str(tmp_path / "text.txt"), "--out", str(out), "--epochs", "1",
                       "--hidden-size", "8", "--batch-size", "2", "--num-steps", "10", "--threads", "1"])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1, err
        assert err.startswith(f"seqrnn: error: {out}: another training run is using this directory "
                              f"(process {holder.pid})")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    run = RunDir(out)
    run.start(resume=False)  # the kernel released the lock with the killed process
    run.release()


def test_the_lock_writes_nothing_and_a_new_run_keeps_old_metrics_until_it_writes(tmp_path):
    """Taking the lock leaves the directory as it was (no lock file, same modification time); a new
    run removes an earlier run's metrics only with its first write."""
    import os
    import time

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / RunDir.METRICS).write_text('{"type": "train", "step": 1}\n')
    mtime = os.stat(run_dir).st_mtime_ns
    time.sleep(0.01)
    run = RunDir(run_dir)
    run.start(resume=False)
    assert sorted(p.name for p in run_dir.iterdir()) == [RunDir.METRICS] and os.stat(run_dir).st_mtime_ns == mtime
    assert run.metrics() == []  # a new run has none, though the file is still there
    run.append_metrics({"type": "train", "step": 7})
    assert run.metrics() == [{"type": "train", "step": 7}]
    run.release()
