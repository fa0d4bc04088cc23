"""The one training loop both tasks use.

A task supplies its batches (deterministic for a given epoch and index, so a run can stop anywhere
and resume bit-for-bit), its loss, an optional state carried from batch to batch (the char model's
hidden state across truncated-BPTT windows) and its validation. The `Trainer` runs the loop itself:
AdamW, the learning-rate schedule, clipping by global norm, validation and best-model selection,
the checkpoint's content, and several processes under torchrun (a lost process stops the others
with one line saying how to continue). Everything around it is a part on the loop's hooks
(`seqrnn.training.callbacks`): the wall-clock budget, checkpoints (at every epoch's end, every
`checkpoint_every` minutes, and on SIGINT/SIGTERM), gradual unfreezing, the guards against
divergence (a non-finite or exploding loss), metrics and progress. Its progress is one value,
`TrainerState`, which is exactly what a checkpoint holds besides the weights, the optimizer, the
schedule and the random generators.
"""

from __future__ import annotations

import math
import signal
import time
import warnings
from dataclasses import dataclass, fields
from typing import Any, Callable, Protocol

import torch

from seqrnn.config import TrainingConfig
from seqrnn.errors import Interrupted, SeqrnnWarning
from seqrnn.training import callbacks, distributed
from seqrnn.training.callbacks import EXPLODING_FACTOR, Diverged, ExplodingLoss, NonFiniteLoss  # noqa: F401
from seqrnn.training.distributed import Ranks
from seqrnn.training.rundir import RunDir, to_device


class Task(Protocol):
    """What a task gives the loop. `monitor` is ("loss", "min") or ("accuracy", "max").

    `batch` returns the global batch (a tensor or a tuple of tensors, batch first; each rank takes
    its rows). `loss` returns (mean loss, the carry for the next batch of the epoch, examples in
    the batch); the carry starts as None at every epoch and must be tensors (or tuples) or None.
    `validate` calls `on_batch` after each of its batches (it raises to abandon the validation).
    """

    monitor: tuple[str, str]

    def batches_per_epoch(self) -> int: ...
    def batch(self, epoch: int, index: int) -> Any: ...
    def loss(self, model: torch.nn.Module, batch: Any, carry: Any) -> tuple[torch.Tensor, Any, int]: ...
    def validate(self, model: torch.nn.Module, on_batch: Callable[[], None] | None = None) -> dict[str, float]: ...


@dataclass
class TrainerState:
    """Where a run is. `epoch` counts finished epochs, `index` the batches done in the current one;
    `skipped` counts the non-finite batches skipped so far; `first_loss` is the loss of the run's
    first step, before any update (the reference of the exploding-loss guard)."""

    epoch: int = 0
    index: int = 0
    step: int = 0
    best: dict[str, Any] | None = None
    elapsed_s: float = 0.0
    skipped: int = 0
    carry: Any = None
    first_loss: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def lr_factor(step: int, total_steps: int, training: TrainingConfig) -> float:
    """Linear warm-up, then constant or cosine decay to `final_lr_fraction` at the last step."""
    if training.warmup_steps and step < training.warmup_steps:
        return (step + 1) / training.warmup_steps
    if training.schedule == "constant" or total_steps <= training.warmup_steps:
        return 1.0
    done = min(1.0, (step - training.warmup_steps) / max(1, total_steps - training.warmup_steps))
    floor = training.final_lr_fraction
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * done))


def parameter_groups(model: torch.nn.Module, training: TrainingConfig, steps_per_epoch: int = 1
                     ) -> list[dict[str, Any]]:
    """The optimizer's parameter groups, each with the step at which it starts to train (`start`).

    One group, unless the model has an `encoder` (the classifier) and the configuration asks for
    ULMFiT's fine-tuning schedule: `encoder_lr_fraction` below 1 trains the encoder at that fraction
    of the learning rate (discriminative rates, in their simplest form), and `unfreeze_every` > 0
    trains the head alone at first, then adds the encoder's layer groups from the top (the last
    recurrent layer first, the embedding last), one every `unfreeze_every` epochs (gradual unfreezing)."""
    fraction = getattr(training, "encoder_lr_fraction", 1.0)
    unfreeze_every = getattr(training, "unfreeze_every", 0.0)
    encoder = getattr(model, "encoder", None)
    if (fraction == 1.0 and not unfreeze_every) or encoder is None:
        return [{"params": list(model.parameters()), "start": 0}]
    mine = {id(p) for p in encoder.parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in mine], "start": 0}]
    for depth, params in enumerate(reversed(encoder.layer_groups()), start=1):
        groups.append({"params": params, "lr": training.lr * fraction,
                       "start": round(depth * unfreeze_every * steps_per_epoch)})
    return groups


class Trainer:
    """Trains `model` on `task` into `run`: best weights by validation, checkpoints, metrics.

    `max_minutes` is this invocation's budget; `prepared_s` is the time this invocation already
    spent preparing (encoding, word vectors), counted in the budget and in the elapsed time.
    `checkpoint_every` (minutes) bounds what a `kill -9` can lose; `skip_nonfinite` batches with a
    non-finite loss or gradient may be skipped before training stops. Under torchrun (`ranks`), the
    model is wrapped in DistributedDataParallel and only rank 0 writes.

    Divergence stops the run with a one-line error naming the step, and the best model is never
    replaced by a diverged one: a non-finite loss or gradient norm is noted at each step without a
    device sync and checked at the next log record, validation or checkpoint; an exploding loss is
    one whose mean over the last `log_every` steps or more (a smoothed loss, robust to a noisy
    batch) exceeds `EXPLODING_FACTOR` (3) times the loss of the run's first step, the untrained
    model's, checked at the same moments (char-rnn stops at 3 times its first loss, step by step).

    Under torchrun, a rank that ends or becomes unreachable makes the collectives of the others
    fail: they stop with `distributed.PeerLost`, one line naming the lost rank, the step and the
    checkpoint to `--resume` from.

    Progress goes to stderr from rank 0: a tqdm bar on a terminal; elsewhere (a log file, `nohup`, a
    notebook's `!`) one plain line per validation and one at least every `progress.PLAIN_LINE_EVERY_S`
    seconds, e.g. `epoch 2 step 704 3.1 min train loss 0.2410 val loss 0.2290 val accuracy 0.9112
    (best)`, the train loss being the mean since the previous line. `quiet` silences both.

    `callbacks` are the loop's parts (`seqrnn.training.callbacks`), whose hooks run in this order;
    append a `Callback` before `fit` to add one. The parts share a few attributes: `stop` (None, or
    why the loop stops: 'budget', 'signal'), `stop_signal`, `record_due`, `losses` (the losses since
    the last train record), `checkpoint_step` (the step of the last checkpoint written or read).
    """

    def __init__(self, model: torch.nn.Module, task: Task, training: TrainingConfig, run: RunDir,
                 device: torch.device, *, ranks: Ranks = Ranks(), max_minutes: float | None = None,
                 checkpoint_every: float | None = None, skip_nonfinite: int = 0, prepared_s: float = 0.0,
                 log_every: int = 20, quiet: bool = False, tensorboard: bool = False):
        self.model, self.task, self.training, self.run, self.device = model.to(device), task, training, run, device
        self.ranks = ranks
        self.trained_model = model
        if ranks.distributed:
            with distributed.peer_failures(ranks):  # it broadcasts rank 0's weights
                self.trained_model = torch.nn.parallel.DistributedDataParallel(
                    model, device_ids=[device.index] if device.type == "cuda" else None)
        self.steps_per_epoch = task.batches_per_epoch()
        self.total_steps = training.epochs * self.steps_per_epoch
        self.optimizer = torch.optim.AdamW(parameter_groups(model, training, self.steps_per_epoch), lr=training.lr,
                                           weight_decay=training.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, self.total_steps, training))
        self.state = TrainerState()
        self.started = time.perf_counter() - prepared_s  # this invocation's clock
        self.elapsed_before = 0.0  # time spent by the earlier invocations of a resumed run
        self.checkpoint_step: int | None = None
        self.stop: str | None = None
        self.stop_signal: int | None = None
        self.record_due = False  # a train record at the next step, whatever log_every says (a plain line is due)
        self.losses = callbacks.LossWindow(device)
        self.nonfinite = callbacks.NonFiniteGuard(skip_nonfinite, device)
        self.exploding = callbacks.ExplodingLossGuard(log_every)
        self.callbacks: list[callbacks.Callback] = [
            callbacks.StopSignals(), callbacks.Budget(max_minutes), callbacks.Checkpoints(checkpoint_every),
            callbacks.GradualUnfreezing(), self.nonfinite, self.exploding, callbacks.MetricsLog(log_every),
            callbacks.Progress(ranks.is_main, quiet)] + ([callbacks.TensorBoard()] if tensorboard else [])

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def epoch_number(self) -> int:
        """The 1-based epoch the current step belongs to (the same in train and val records)."""
        return self.state.epoch + (1 if self.state.index else 0)

    def notify(self, hook: str, *args: Any) -> list[Any]:
        """Call `hook` of every part, in order, with this trainer and `args`; their answers."""
        return [getattr(callback, hook)(self, *args) for callback in self.callbacks]

    # --- the loop ------------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        """Run until `training.epochs` are done, the budget is spent or a stop signal arrives;
        returns a summary. A signal writes the checkpoint, then raises `Interrupted`."""
        state, training = self.state, self.training
        self.stop = None
        self.trained_model.train()
        try:
            self.notify("on_fit_start")
            while state.epoch < training.epochs and self.stop is None:
                while state.index < self.steps_per_epoch and self.stop is None:
                    loss, examples = self.train_step(self.task.batch(state.epoch, state.index))
                    self.notify("on_step_end", loss, examples)
                    self._agree()
                    if self.stop is None and training.eval_every and state.step % training.eval_every == 0 \
                            and state.index < self.steps_per_epoch:  # an epoch's end validates anyway
                        self.validate()
                if self.stop is None:  # the state is reset at the start of every epoch
                    state.epoch, state.index, state.carry = state.epoch + 1, 0, None
                if self.stop != "signal":
                    self.validate()
                self.notify("on_epoch_end")
        except (RuntimeError, distributed.PeerLost) as exc:  # DDP's all-reduce in backward, or a collective
            if not distributed.is_peer_failure(exc, self.ranks):
                raise
            raise distributed.PeerLost(self.ranks, f" at step {state.step}",
                                       f"training stopped, {self._how_to_continue()}") from None
        finally:
            self.notify("on_fit_end")
        if self.stop == "signal":
            raise Interrupted(self.stop_signal or signal.SIGINT, state.step, self.run.path / RunDir.CHECKPOINT)
        return {"stopped": self.stop or "done", "epoch": state.epoch, "step": state.step,
                "elapsed_s": round(self.elapsed(), 3), "best": state.best}

    def train_step(self, batch: Any) -> tuple[torch.Tensor, int]:
        """One optimizer step on this rank's rows of `batch`; the loss comes back detached, on the
        device. A part may skip the update (`Callback.on_before_update`: a non-finite batch with
        `skip_nonfinite`): the step still counts, the carried state starts afresh, and the loss
        comes back as 0 with no examples."""
        self.notify("on_step_begin")
        loss, carry, examples = self._share_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.notify("on_backward_end", loss)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.training.grad_clip or math.inf)
        self.state.index += 1
        self.state.step += 1
        if any(self.notify("on_before_update", loss, norm)):
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.state.carry = None  # the carried state may hold the non-finite values too
            return torch.zeros((), device=self.device), 0
        self.optimizer.step()
        self.scheduler.step()
        self.state.carry = carry
        return loss.detach(), examples

    def _share_loss(self, batch: Any) -> tuple[torch.Tensor, Any, int]:
        """The task's loss on this rank's share of the global batch, weighted by the share's size so
        that the average DistributedDataParallel takes is the global batch's mean loss (one process:
        weight 1). A rank whose share is empty runs one row at weight 0, to take part in the
        gradient all-reduce."""
        if not self.ranks.distributed:
            return self.task.loss(self.trained_model, batch, self.state.carry)
        rows = distributed.batch_rows(batch)
        start, stop = distributed.share(rows, self.ranks)
        part = distributed.take_rows(batch, start, stop) if stop > start else distributed.take_rows(batch, 0, 1)
        loss, carry, examples = self.task.loss(self.trained_model, part, self.state.carry)
        weight = (stop - start) * self.ranks.world_size / rows
        return loss * weight, carry, examples if stop > start else 0

    def _agree(self) -> None:
        """The decisions every rank takes together (stop for a signal or the budget, a checkpoint
        due, a plain line due): each part's `vote` on this rank, agreed with one `distributed.any_of`
        per step, and the answers given back in `on_agreed`."""
        voters = [(callback, vote) for callback, vote in zip(self.callbacks, self.notify("vote")) if vote is not None]
        agreed = distributed.any_of([vote for _, vote in voters], self.ranks)
        for (callback, _), answer in zip(voters, agreed):
            callback.on_agreed(self, answer)

    def check_diverged(self) -> None:
        """Stop with a one-line error if training has diverged (a non-finite step, an exploding loss)."""
        self.nonfinite.check(self)
        self.exploding.check(self)

    def validate(self) -> None:
        """Validate on rank 0, keep the weights if they are the best so far, and tell the parts
        (the record, the plain line). A stop signal meanwhile abandons the validation between two
        batches, logs nothing and stops the loop (`stop` is 'signal')."""
        self.check_diverged()
        result, started = None, time.perf_counter()
        if self.ranks.is_main:
            self.model.eval()
            try:
                with torch.no_grad():
                    result = self.task.validate(self.model, on_batch=self._abandon_on_signal)
            except _Abandoned:
                result = None
            self.model.train()
        result = distributed.broadcast(result, self.ranks)
        if result is None:
            self.stop = "signal"
            return
        metric, mode = self.task.monitor
        best, value = self.state.best, result[metric]
        improved = math.isfinite(value) and (
            best is None or (value < best[metric] if mode == "min" else value > best[metric]))
        record = {"type": "val", "epoch": self.epoch_number(), "step": self.state.step,
                  "elapsed_s": round(self.elapsed(), 3), "val_s": round(time.perf_counter() - started, 3), **result}
        if improved:
            self.state.best = {**result, "epoch": record["epoch"], "step": record["step"],
                               "elapsed_s": record["elapsed_s"]}
            if self.ranks.is_main:
                self.run.save_best(self.model.state_dict(), self.state.best)
        self.notify("on_validation_end", result, record, improved)

    def _abandon_on_signal(self) -> None:
        if self.stop_signal is not None:
            raise _Abandoned

    def _how_to_continue(self) -> str:
        """After a lost process: the checkpoint to resume from, or that there is none yet."""
        if self.checkpoint_step is None:
            return "no checkpoint was written yet: start the run again"
        # rank 0 writes it: another rank cannot know whether a lost rank 0 finished writing the last one
        which = f"step {self.checkpoint_step}" + ("" if self.ranks.is_main else " at the latest")
        return f"continue with --resume from the last checkpoint in {self.run.path / RunDir.CHECKPOINT} ({which})"

    # --- checkpoints ---------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Write the checkpoint (rank 0), after checking that training has not diverged."""
        self.check_diverged()
        self.state.elapsed_s = self.elapsed()
        rng = {"torch": distributed.gather(torch.get_rng_state(), self.ranks)}
        if self.device.type == "cuda":
            rng["cuda"] = distributed.gather(torch.cuda.get_rng_state(self.device).cpu(), self.ranks)
        carries = distributed.gather(to_device(self.state.carry, "cpu"), self.ranks)
        state = {**self.state.as_dict(), "carry": carries}
        if self.ranks.is_main:
            self.run.save_checkpoint(self.model.state_dict(), {
                "state": state, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": rng, "world_size": self.ranks.world_size})
        self.checkpoint_step = self.state.step

    def resume(self) -> None:
        """Continue from the run's checkpoint, exactly where it stopped (every rank reads it)."""
        model_state, saved = self.run.load_checkpoint()
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        rng, carries = saved["rng"], saved["state"].pop("carry")
        same_ranks = saved.get("world_size", 1) == self.ranks.world_size
        if same_ranks:
            torch.set_rng_state(rng["torch"][self.ranks.rank])
        else:
            _note(f"the run was checkpointed with {saved.get('world_size', 1)} processes and resumes with "
                  f"{self.ranks.world_size}: dropout draws a different random stream, and the carried state "
                  "starts afresh", self.ranks)
        if self.device.type == "cuda" and "cuda" in rng and len(rng["cuda"]) > self.ranks.rank:
            torch.cuda.set_rng_state(rng["cuda"][self.ranks.rank], self.device)
        elif "cuda" in rng and self.device.type != "cuda":
            _note("the checkpoint was written on CUDA and resumes on the CPU: dropout draws a different "
                  "random stream from here", self.ranks)
        self.state = TrainerState(**saved["state"])
        self.state.carry = to_device(carries[self.ranks.rank], self.device) if same_ranks else None
        self.elapsed_before = self.state.elapsed_s
        self.checkpoint_step = self.state.step
        # a checkpoint from before the reference was kept has none: the exploding-loss guard is off
        self.exploding.want_first_loss = self.state.first_loss is None and self.state.step == 0
        if self.ranks.is_main:
            self.run.truncate_metrics(self.state.step)  # what came after the checkpoint is redone


class _Abandoned(Exception):
    """A validation stopped between two batches by a stop signal."""


class ResumeWarning(SeqrnnWarning):
    """A resumed run cannot continue exactly as it would have (another number of processes, or
    another kind of device)."""


def _note(message: str, ranks: Ranks) -> None:
    if ranks.is_main:
        warnings.warn(message, ResumeWarning, stacklevel=3)
