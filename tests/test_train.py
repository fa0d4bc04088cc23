"""The shared training loop on a toy task: budget accounting."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch

from seqrnn.config import TrainingConfig
from seqrnn.rundir import RunDir
from seqrnn.errors import Interrupted
from seqrnn.train import NonFiniteLoss, Trainer


class ToyTask:
    """Fit y = 2x with one weight; validation reports the squared error as the loss."""

    monitor = ("loss", "min")

    def batches_per_epoch(self) -> int:
        return 5

    def batch(self, epoch, index):
        x = torch.linspace(-1, 1, 8) + 0.1 * index
        return x, 2 * x

    def loss(self, model, batch, carry):
        x, y = batch
        return ((model(x.unsqueeze(1)).squeeze(1) - y) ** 2).mean(), None, len(x)

    def validate(self, model, on_batch=None):
        x = torch.linspace(-1, 1, 8)
        return {"loss": float(((model(x.unsqueeze(1)).squeeze(1) - 2 * x) ** 2).mean())}


def test_preparation_time_counts_in_elapsed_time_and_the_budget(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), TrainingConfig(epochs=3, lr=0.1), RunDir(tmp_path),
                      torch.device("cpu"), max_minutes=1.0, prepared_s=60.0)  # the budget is already spent
    summary = trainer.fit()
    assert summary["stopped"] == "budget" and summary["step"] == 1 and summary["elapsed_s"] >= 60.0
    val = [r for r in RunDir(tmp_path).metrics() if r["type"] == "val"]
    assert val[0]["elapsed_s"] >= 60.0


def test_without_a_budget_the_loop_runs_every_epoch_and_learns(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), TrainingConfig(epochs=20, lr=0.1, grad_clip=0.0),
                      RunDir(tmp_path), torch.device("cpu"))
    summary = trainer.fit()
    assert summary["stopped"] == "done" and summary["step"] == 100 and summary["best"]["loss"] < 1e-2


def test_epoch_means_the_same_in_train_and_validation_records(tmp_path):
    config = TrainingConfig(epochs=2, lr=0.1, eval_every=3)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"), log_every=1).fit()
    for record in RunDir(tmp_path).metrics():  # 5 steps per epoch: steps 1-5 are epoch 1, 6-10 epoch 2
        assert record["epoch"] == (record["step"] - 1) // 5 + 1, record


def test_the_checkpoint_holds_the_trainer_state_and_a_resumed_trainer_continues_it(tmp_path):
    torch.manual_seed(0)
    config = TrainingConfig(epochs=3, lr=0.1)
    model = torch.nn.Linear(1, 1)
    Trainer(model, ToyTask(), config, RunDir(tmp_path / "a"), torch.device("cpu")).fit()
    torch.manual_seed(0)
    stopped = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"),
                      max_minutes=1e-9)
    assert stopped.fit()["step"] == 1
    _, saved = RunDir(tmp_path / "b").load_checkpoint()
    assert saved["state"]["step"] == 1 and saved["state"]["index"] == 1 and saved["state"]["epoch"] == 0
    resumed = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"))
    resumed.resume()
    assert resumed.state.step == 1 and resumed.fit()["step"] == 15
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), resumed.model.state_dict().values()))


class PoisonedTask(ToyTask):
    """The toy task whose loss is NaN on some (epoch, index) batches."""

    def __init__(self, poisoned):
        self.poisoned = set(poisoned)

    def batch(self, epoch, index):
        x, y = super().batch(epoch, index)
        return (x * float("nan"), y) if (epoch, index) in self.poisoned else (x, y)


def test_a_non_finite_loss_stops_training_naming_the_step_and_the_best_model_stays_finite(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), PoisonedTask({(1, 2)}), TrainingConfig(epochs=3, lr=0.1),
                      RunDir(tmp_path), torch.device("cpu"))
    with pytest.raises(NonFiniteLoss, match=r"at step 8 .*checkpoint.* \(step 5\)"):
        trainer.fit()
    best = RunDir(tmp_path).best_weights()
    assert all(torch.isfinite(t).all() for t in best.values())
    _, saved = RunDir(tmp_path).load_checkpoint()
    assert saved["state"]["step"] == 5  # the last checkpoint is the last good one
    for line in (tmp_path / RunDir.METRICS).read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in metrics.jsonl"))


def test_skip_nonfinite_skips_bad_batches_up_to_its_limit(tmp_path):
    torch.manual_seed(0)
    config = TrainingConfig(epochs=2, lr=0.1)
    trainer = Trainer(torch.nn.Linear(1, 1), PoisonedTask({(0, 1)}), config, RunDir(tmp_path / "a"),
                      torch.device("cpu"), skip_nonfinite=1)
    summary = trainer.fit()
    assert summary["step"] == 10 and trainer.state.skipped == 1 and math.isfinite(summary["best"]["loss"])
    twice = Trainer(torch.nn.Linear(1, 1), PoisonedTask({(0, 1), (1, 3)}), config, RunDir(tmp_path / "b"),
                    torch.device("cpu"), skip_nonfinite=1)
    with pytest.raises(NonFiniteLoss, match="at step 9"):
        twice.fit()


def test_metrics_stay_strict_json(tmp_path):
    RunDir(tmp_path).append_metrics({"type": "val", "step": 1, "loss": float("nan"), "accuracy": float("inf")})
    assert json.loads((tmp_path / RunDir.METRICS).read_text()) == {"type": "val", "step": 1, "loss": None,
                                                                    "accuracy": None}


def test_checkpoint_every_writes_mid_epoch(tmp_path, monkeypatch):
    steps = []
    monkeypatch.setattr(RunDir, "save_checkpoint", lambda self, model, state: steps.append(state["state"]["step"]))
    config = TrainingConfig(epochs=2, lr=0.1)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"),
            checkpoint_every=1e-9).fit()
    assert steps == list(range(1, 11))  # after every step; the epoch ends write theirs (steps 5 and 10)


class SignalledTask(ToyTask):
    """The toy task that sends this process `signum` while reading batch `at` (epoch 0)."""

    def __init__(self, at, signum=signal.SIGINT):
        self.at, self.signum = at, signum

    def batch(self, epoch, index):
        if (epoch, index) == (0, self.at):
            os.kill(os.getpid(), self.signum)
        return super().batch(epoch, index)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_finishes_the_step_writes_the_checkpoint_and_resume_is_exact(tmp_path, signum):
    config = TrainingConfig(epochs=2, lr=0.1)
    torch.manual_seed(0)
    whole = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "whole"), torch.device("cpu"))
    whole.fit()
    torch.manual_seed(0)
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a job started with `&`
    stopped = Trainer(torch.nn.Linear(1, 1), SignalledTask(2, signum), config, RunDir(tmp_path / "cut"),
                      torch.device("cpu"), log_every=1)
    with pytest.raises(Interrupted) as info:
        stopped.fit()
    assert info.value.exit_status == 128 + signum and info.value.step == 3
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    resumed = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "cut"), torch.device("cpu"),
                      log_every=1)
    resumed.resume()
    assert resumed.state.step == 3 and resumed.state.index == 3
    resumed.fit()
    assert all(torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(),
                                                 resumed.model.state_dict().values()))
    steps = [r["step"] for r in RunDir(tmp_path / "cut").metrics() if r["type"] == "train"]
    assert steps == sorted(set(steps)) == list(range(1, 11))  # each step once after the resume


def test_a_checkpoint_written_on_cuda_resumes_on_the_cpu_with_a_note(tmp_path, capsys):
    config = TrainingConfig(epochs=2, lr=0.1)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"),
                      max_minutes=1e-9)
    trainer.fit()
    weights, saved = RunDir(tmp_path).load_checkpoint()
    saved["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8)]  # what a CUDA run adds (tensors are saved on the CPU)
    RunDir(tmp_path).save_checkpoint(weights, {k: v for k, v in saved.items() if k != "format"})
    resumed = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"))
    resumed.resume()
    assert "written on CUDA" in capsys.readouterr().err
    assert resumed.fit()["step"] == 10


def test_off_a_terminal_progress_is_a_plain_line_per_validation_and_every_interval(tmp_path, capsys, monkeypatch):
    import seqrnn.train

    config = TrainingConfig(epochs=2, lr=0.1)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "a"), torch.device("cpu"), log_every=1).fit()
    lines = capsys.readouterr().err.splitlines()  # pytest's stderr is not a terminal
    assert len(lines) == 2
    for epoch, line in enumerate(lines, 1):
        words = line.split()
        assert words[:4] == ["epoch", str(epoch), "step", str(5 * epoch)] and words[5] == "min"
        assert words[6:8] == ["train", "loss"] and float(words[8]) >= 0
        assert words[9:11] == ["val", "loss"] and float(words[11]) >= 0
    assert lines[0].endswith("(best)")

    # the interval is kept whatever log_every is: with 0 s, a line after every step (steps 2-4 and 6-9:
    # the first step starts the clock, an epoch's last step has its validation line)
    monkeypatch.setattr(seqrnn.train, "PLAIN_LINE_EVERY_S", 0.0)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"), log_every=100).fit()
    lines = capsys.readouterr().err.splitlines()
    timed = [line for line in lines if "examples/s" in line]
    assert [int(line.split()[3]) for line in timed] == [2, 3, 4, 6, 7, 8, 9]
    assert all(" train loss " in line and " val " not in line for line in timed)

    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "c"), torch.device("cpu"), quiet=True).fit()
    assert capsys.readouterr().err == ""
