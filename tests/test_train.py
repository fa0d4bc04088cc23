"""The shared training loop on a toy task: budget accounting, checkpoints, signals, divergence, progress,
and its parts (callbacks) on their hooks."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch

from seqrnn.config import TrainingConfig
from seqrnn.errors import Interrupted, InvalidInputError
from seqrnn.training import callbacks, distributed
from seqrnn.training.rundir import RunDir
from seqrnn.training.runtime import torch_threads
from seqrnn.training.trainer import ExplodingLoss, NonFiniteLoss, ResumeWarning, Trainer


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


def test_a_checkpoint_written_on_cuda_resumes_on_the_cpu_with_a_note(tmp_path):
    config = TrainingConfig(epochs=2, lr=0.1)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"),
                      max_minutes=1e-9)
    trainer.fit()
    weights, saved = RunDir(tmp_path).load_checkpoint()
    saved["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8)]  # what a CUDA run adds (tensors are saved on the CPU)
    RunDir(tmp_path).save_checkpoint(weights, {k: v for k, v in saved.items() if k != "format"})
    resumed = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"))
    with pytest.warns(ResumeWarning, match="written on CUDA"):
        resumed.resume()
    assert resumed.fit()["step"] == 10


def test_off_a_terminal_progress_is_a_plain_line_per_validation_and_every_interval(tmp_path, capsys, monkeypatch):
    import seqrnn.progress

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
    monkeypatch.setattr(seqrnn.progress, "PLAIN_LINE_EVERY_S", 0.0)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"), log_every=100).fit()
    lines = capsys.readouterr().err.splitlines()
    timed = [line for line in lines if "examples/s" in line]
    assert [int(line.split()[3]) for line in timed] == [2, 3, 4, 6, 7, 8, 9]
    assert all(" train loss " in line and " val " not in line for line in timed)

    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "c"), torch.device("cpu"), quiet=True).fit()
    assert capsys.readouterr().err == ""


# --- divergence that stays finite ----------------------------------------------------------------


class ScaledTask(ToyTask):
    """The toy task whose targets are multiplied by `factor` from global step `from_step` (1-based) on:
    a loss that explodes while staying finite. `batches` per epoch."""

    def __init__(self, from_step, factor, batches=5, only=False):
        self.from_step, self.factor, self.batches, self.only = from_step, factor, batches, only

    def batches_per_epoch(self):
        return self.batches

    def batch(self, epoch, index):
        x = torch.linspace(-1, 1, 8) + 0.1 * (index % 5)
        step = epoch * self.batches + index + 1
        hit = step == self.from_step if self.only else step >= self.from_step
        return x, 2 * x * (self.factor if hit else 1)


def test_an_exploding_loss_stops_training_naming_the_step_and_keeps_the_best_model(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ScaledTask(from_step=6, factor=1000.0),
                      TrainingConfig(epochs=3, lr=0.1), RunDir(tmp_path), torch.device("cpu"))
    expected = (r"^the training loss exploded at step 10: \S+ on average over steps 1-10, more than 3 times the "
                r"first step's \S+ .*lower --lr .*\(step 5\)")
    with pytest.raises(ExplodingLoss, match=expected) as info:
        trainer.fit()
    assert "\n" not in str(info.value) and info.value.exit_status == 1
    run = RunDir(tmp_path)
    best, (last, saved) = run.best_weights(), run.load_checkpoint()
    assert saved["state"]["step"] == 5 and all(torch.equal(best[k], last[k]) for k in best)  # epoch 1's, not later
    assert [r["step"] for r in run.metrics() if r["type"] == "val"] == [5]


def test_a_validation_between_log_records_never_keeps_an_exploded_model(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ScaledTask(from_step=6, factor=1000.0),
                      TrainingConfig(epochs=3, lr=0.1, eval_every=7), RunDir(tmp_path), torch.device("cpu"))
    with pytest.raises(ExplodingLoss, match="exploded at step 7: .* over steps 1-7"):
        trainer.fit()
    assert [r["step"] for r in RunDir(tmp_path).metrics() if r["type"] == "val"] == [5]


def test_one_noisy_batch_in_a_short_window_does_not_stop_training(tmp_path):
    """Step 21 ends the epoch alone in its window with a loss many times the first step's; the guard
    looks at the mean over the last 20 steps or more, so it goes on."""
    torch.manual_seed(0)
    task = ScaledTask(from_step=21, factor=4.0, batches=21, only=True)
    trainer = Trainer(torch.nn.Linear(1, 1), task, TrainingConfig(epochs=1, lr=0.1), RunDir(tmp_path),
                      torch.device("cpu"))
    losses = []
    original = trainer.train_step

    def recording(batch):
        loss, examples = original(batch)
        losses.append(float(loss))
        return loss, examples

    trainer.train_step = recording
    assert trainer.fit()["step"] == 21
    assert losses[-1] > 3 * losses[0] and trainer.state.first_loss == pytest.approx(losses[0], rel=1e-6)


def test_the_first_step_loss_is_checkpointed_and_resumed(tmp_path):
    torch.manual_seed(0)
    config = TrainingConfig(epochs=2, lr=0.1)
    stopped = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"),
                      max_minutes=1e-9)
    stopped.fit()
    first = stopped.state.first_loss
    assert first is not None and first > 0
    assert RunDir(tmp_path).load_checkpoint()[1]["state"]["first_loss"] == first
    resumed = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"))
    resumed.resume()
    assert resumed.state.first_loss == first and not resumed.exploding.want_first_loss
    resumed.fit()
    assert resumed.state.first_loss == first


# --- the loop's parts -------------------------------------------------------------------------------


class Recorder(callbacks.Callback):
    """A part that notes every hook it receives, with the step."""

    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") or name == "vote":
            real = object.__getattribute__(self, name)

            def noted(trainer, *args):
                self.calls.append((name, trainer.state.step))
                return real(trainer, *args)

            return noted
        return object.__getattribute__(self, name)


def test_a_part_added_to_the_trainer_gets_its_hooks_in_the_loops_order(tmp_path):
    config = TrainingConfig(epochs=1, lr=0.1, eval_every=2)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"), log_every=2)
    recorder = Recorder()
    trainer.callbacks.append(recorder)
    trainer.fit()
    expected = [("on_fit_start", 0)]
    for step in range(1, 6):  # records at steps 2, 4 (log_every) and 5 (the epoch's end); validations at 2, 4, 5
        expected += [("on_step_begin", step - 1), ("on_backward_end", step - 1), ("on_before_update", step)]
        expected += [("on_record", step)] if step in (2, 4, 5) else []
        expected += [("on_step_end", step), ("vote", step)]  # no vote (None): no on_agreed
        expected += [("on_validation_end", step)] if step in (2, 4) else []
    expected += [("on_validation_end", 5), ("on_epoch_end", 5), ("on_fit_end", 5)]
    assert recorder.calls == expected


def test_the_decisions_every_rank_shares_take_one_any_of_per_step(tmp_path, monkeypatch):
    shared = []
    real = distributed.any_of

    def counting(flags, ranks):
        if len(flags) > 1:  # the guards' own checks ask one flag
            shared.append(list(flags))
        return real(flags, ranks)

    monkeypatch.setattr(distributed, "any_of", counting)
    config = TrainingConfig(epochs=2, lr=0.1)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "a"), torch.device("cpu")).fit()
    assert len(shared) == 10 and all(len(flags) == 4 for flags in shared)  # signal, budget, checkpoint, plain line

    class Voter(callbacks.Callback):
        def __init__(self):
            self.answers = []

        def vote(self, trainer):
            return trainer.state.step == 3

        def on_agreed(self, trainer, agreed):
            self.answers.append(agreed)

    shared.clear()
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"))
    voter = Voter()
    trainer.callbacks.append(voter)
    trainer.fit()
    assert len(shared) == 10 and all(len(flags) == 5 for flags in shared)  # the same collective, one flag more
    assert voter.answers == [step == 3 for step in range(1, 11)]


def test_the_budget_stops_the_loop_where_it_is_spent_with_a_validation_and_a_checkpoint(tmp_path):
    class Clock(callbacks.Callback):
        def on_step_end(self, trainer, loss, examples):
            if trainer.state.step == 3:
                trainer.started -= 3600  # an hour passes during step 3

    config = TrainingConfig(epochs=2, lr=0.1)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"), max_minutes=30)
    trainer.callbacks.append(Clock())
    summary = trainer.fit()
    assert summary["stopped"] == "budget" and summary["step"] == 3 and summary["epoch"] == 0
    assert [r["step"] for r in RunDir(tmp_path).metrics() if r["type"] == "val"] == [3]
    assert RunDir(tmp_path).load_checkpoint()[1]["state"]["step"] == 3

    budget = callbacks.Budget(None)  # no budget: it never asks to stop
    trainer.started -= 10**9
    assert budget.vote(trainer) is False and callbacks.Budget(1.0).vote(trainer) is True
    trainer.stop = "signal"
    callbacks.Budget(1.0).on_agreed(trainer, True)
    assert trainer.stop == "signal"  # a signal's stop stays one


def test_a_part_can_skip_an_update_and_the_step_still_counts(tmp_path):
    class SkipSecond(callbacks.Callback):
        def __init__(self):
            self.changed = {}

        def on_step_begin(self, trainer):
            self.before = [p.detach().clone() for p in trainer.model.parameters()]

        def on_before_update(self, trainer, loss, norm):
            return trainer.state.step == 2

        def on_step_end(self, trainer, loss, examples):
            after = list(trainer.model.parameters())
            self.changed[trainer.state.step] = any(not torch.equal(a, b) for a, b in zip(self.before, after))
            self.examples = getattr(self, "examples", []) + [examples]

    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), TrainingConfig(epochs=1, lr=0.1), RunDir(tmp_path),
                      torch.device("cpu"))
    part = SkipSecond()
    trainer.callbacks.append(part)
    assert trainer.fit()["step"] == 5
    assert part.changed == {1: True, 2: False, 3: True, 4: True, 5: True} and part.examples == [8, 0, 8, 8, 8]


def test_the_loss_window_joins_the_previous_record_when_it_is_short():
    window = callbacks.LossWindow(torch.device("cpu"))
    for loss in (1.0, 2.0, 3.0):
        window.add(torch.tensor(loss), 4)
    assert float(window.recent_loss(2)) == 2.0 and window.recent_steps(2) == 3  # no record before
    window.close()
    window.add(torch.tensor(10.0), 4)
    assert float(window.mean_loss()) == 10.0 and window.examples == 4
    assert float(window.recent_loss(2)) == 4.0 and window.recent_steps(2) == 4  # (1 + 2 + 3 + 10) / 4
    assert float(window.recent_loss(1)) == 10.0 and window.recent_steps(1) == 1


def test_torch_threads_refuses_a_count_torch_cannot_create():
    before = torch.get_num_threads()
    with pytest.raises(InvalidInputError, match="threads must be at most 1024"):
        with torch_threads(100000):
            pass
    assert torch.get_num_threads() == before


def test_tensorboard_curves_read_back_with_the_expected_tags_and_a_resume_drops_what_it_redoes(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from seqrnn import CharLanguageModel

    text = "to be or not to be, that is the question. " * 20
    params = dict(hidden_size=8, embed_size=4, num_steps=10, batch_size=4, threads=1, quiet=True, tensorboard=True)
    CharLanguageModel(**params, epochs=1).fit(text, out_dir=tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    assert {"train/loss", "train/lr", "train/examples_per_s", "val/loss", "val/bits_per_char"} <= set(
        events.Tags()["scalars"])
    val = [e.value for e in events.Scalars("val/loss")]
    metrics = [r["loss"] for r in RunDir(tmp_path / "run").metrics() if r["type"] == "val"]
    assert val == pytest.approx(metrics)
    CharLanguageModel(**params, epochs=2).fit(text, out_dir=tmp_path / "run", resume=True)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    steps = [e.step for e in events.Scalars("val/loss")]
    assert steps == sorted(set(steps)) and len(steps) == 2  # each validation once, after the resume too


def test_tensorboard_without_the_package_is_one_line_before_any_work(tmp_path, monkeypatch):
    import importlib.util

    from seqrnn import CharLanguageModel
    from seqrnn.errors import SeqrnnError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(SeqrnnError, match=r"pip install 'seqrnn\[tensorboard\]'"):
        CharLanguageModel(epochs=1, tensorboard=True).fit("abc " * 50, out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "config.json").exists()
