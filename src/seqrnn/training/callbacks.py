"""The parts of the training loop around its core, each a `Callback` on a few named hooks.

`Trainer.fit` runs the loop (forward, backward, clipping, the optimizer's step, validation, the
epochs) and calls every part's hooks, in the order of `Trainer.callbacks`:

    on_fit_start                       once, before the first step
      on_step_begin                    before the forward pass
      on_backward_end(loss)            the gradients are there, not yet clipped
      on_before_update(loss, norm)     clipped; any part answering True skips the update
      on_step_end(loss, examples)      after the update
        on_record(record, steps)       a train record was written (metrics.jsonl)
      vote -> on_agreed(agreed)        the decisions every rank takes together
      on_validation_end(result, record, improved)
    on_epoch_end                       after an epoch's validation, and where training stops
    on_fit_end                         always, whatever happened

Under torchrun some decisions must be the same on every rank: to stop (a signal, the budget), to
write a checkpoint, to make a train record for a plain progress line. A part that takes such a
decision answers `vote` (its view on this rank), and `Trainer` agrees all the votes with one
`distributed.any_of` per step, then gives each part the answer in `on_agreed`.

The parts: `StopSignals` (SIGINT/SIGTERM), `Budget` (`max_minutes`), `Checkpoints` (at every
epoch's end and every `checkpoint_every` minutes), `GradualUnfreezing` (parameter groups with a
start step), `NonFiniteGuard` (a NaN or infinite loss or gradient norm), `ExplodingLossGuard` (a
loss past `EXPLODING_FACTOR` times the first step's), `MetricsLog` (the train and validation
records) and `Progress` (a tqdm bar on a terminal, plain lines elsewhere).
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from typing import Any

import torch
from tqdm import tqdm

from seqrnn import progress
from seqrnn.errors import Interrupted, SeqrnnRuntimeError
from seqrnn.training import distributed
from seqrnn.training.rundir import RunDir
from seqrnn.training.runtime import stop_signals_call

EXPLODING_FACTOR = 3.0  # char-rnn's rule: stop when the loss exceeds 3 times the untrained model's


class Diverged(SeqrnnRuntimeError):
    """Training diverged: it stopped, and the best model so far was kept."""


class NonFiniteLoss(Diverged):
    """Training diverged: the loss or the gradient norm is NaN or infinite."""


class ExplodingLoss(Diverged):
    """Training diverged: the loss grew past `EXPLODING_FACTOR` times the untrained model's."""


class Callback:
    """A part of the training loop: every hook does nothing until a subclass gives it work.

    Each hook receives the `Trainer` first (its `state`, `optimizer`, `ranks`, `run`...). A hook
    that raises stops training, as an error in the loop itself would (`on_fit_end` still runs)."""

    def on_fit_start(self, trainer) -> None:
        """Before the first step of `fit` (after `resume`, if the run resumes)."""

    def on_step_begin(self, trainer) -> None:
        """Before the forward pass of a step."""

    def on_backward_end(self, trainer, loss: torch.Tensor) -> None:
        """After the backward pass, before the gradients are clipped; `loss` is this rank's."""

    def on_before_update(self, trainer, loss: torch.Tensor, norm: torch.Tensor) -> bool:
        """After clipping (`norm` is the global norm before it), before the optimizer's step, with
        `state.step` already counting this step: True skips this batch's update."""
        return False

    def on_step_end(self, trainer, loss: torch.Tensor, examples: int) -> None:
        """After the update: the step's loss (detached, on the device) and this rank's examples."""

    def on_record(self, trainer, record: dict[str, Any], steps: int) -> None:
        """A train record was written (`MetricsLog`), averaging the last `steps` steps."""

    def vote(self, trainer) -> bool | None:
        """At every step's end, this rank's view of a decision every rank must take together (stop,
        write a checkpoint...), or None for a part that takes none: always one or the other."""
        return None

    def on_agreed(self, trainer, agreed: bool) -> None:
        """The decision of `vote`, agreed by every rank: true when it was true on any."""

    def on_validation_end(self, trainer, result: dict[str, float], record: dict[str, Any], improved: bool) -> None:
        """A validation finished: the task's `result`, its `record` in metrics.jsonl, and whether
        it is the best so far (its weights are then already kept)."""

    def on_epoch_end(self, trainer) -> None:
        """After an epoch's validation; also where training stops inside an epoch (budget, signal)."""

    def on_fit_end(self, trainer) -> None:
        """When `fit` ends, whether it finished, stopped or failed."""


class StopSignals(Callback):
    """SIGINT and SIGTERM during `fit` ask the loop to stop after the current step, which writes the
    checkpoint before `fit` raises `Interrupted`; a second signal stops at once. The handlers in
    place before are put back at the end."""

    def __init__(self):
        self._handlers = contextlib.ExitStack()

    def on_fit_start(self, trainer) -> None:
        def handle(signum, frame):
            if trainer.stop_signal is not None:
                raise Interrupted(signum, trainer.state.step, None)
            trainer.stop_signal = signum
            if trainer.ranks.is_main:
                print(f"\nseqrnn: {signal.Signals(signum).name}: stopping after this step, writing the checkpoint "
                      "(again to stop at once)", file=sys.stderr, flush=True)

        self._handlers.enter_context(stop_signals_call(handle))

    def vote(self, trainer) -> bool:
        return trainer.stop_signal is not None

    def on_agreed(self, trainer, agreed: bool) -> None:
        if agreed:  # a signal may have reached another rank only
            trainer.stop_signal = trainer.stop_signal or signal.SIGINT
            trainer.stop = "signal"

    def on_fit_end(self, trainer) -> None:
        self._handlers.close()


class Budget(Callback):
    """Stops the loop once this invocation has run `max_minutes` (None: no budget), counting the
    time spent preparing before `fit` (`Trainer.started`)."""

    def __init__(self, max_minutes: float | None):
        self.budget_s = max_minutes * 60 if max_minutes else None

    def vote(self, trainer) -> bool:
        return self.budget_s is not None and time.perf_counter() - trainer.started >= self.budget_s

    def on_agreed(self, trainer, agreed: bool) -> None:
        if agreed and trainer.stop is None:
            trainer.stop = "budget"


class Checkpoints(Callback):
    """Writes the checkpoint (`Trainer.save_checkpoint`) at every epoch's end and where training
    stops, and inside an epoch once `checkpoint_every` minutes have passed since the last one
    (None: only at the epoch's end)."""

    def __init__(self, checkpoint_every: float | None):
        self.every_s = checkpoint_every * 60 if checkpoint_every else None
        self.last = time.perf_counter()

    def save(self, trainer) -> None:
        trainer.save_checkpoint()
        self.last = time.perf_counter()

    def vote(self, trainer) -> bool:
        return self.every_s is not None and time.perf_counter() - self.last >= self.every_s

    def on_agreed(self, trainer, agreed: bool) -> None:
        if agreed and trainer.stop is None and trainer.state.index < trainer.steps_per_epoch:
            self.save(trainer)  # (an epoch's end writes one anyway)

    def on_epoch_end(self, trainer) -> None:
        self.save(trainer)


class GradualUnfreezing(Callback):
    """Trains only the optimizer's parameter groups whose `start` step has come (`parameter_groups`;
    a group without one trains from the start). In one process what does not train yet takes no
    gradient; under torchrun (DistributedDataParallel needs every gradient) its gradients are
    dropped before clipping. AdamW leaves a parameter without a gradient as it is, moments included."""

    def __init__(self):
        self.frozen: list[torch.nn.Parameter] = []

    def on_step_begin(self, trainer) -> None:
        step = trainer.state.step
        self.frozen = [p for g in trainer.optimizer.param_groups if step < g.get("start", 0) for p in g["params"]]
        if not trainer.ranks.distributed:
            trainer.model.requires_grad_(True)
            for p in self.frozen:
                p.requires_grad_(False)

    def on_backward_end(self, trainer, loss: torch.Tensor) -> None:
        for p in self.frozen:
            p.grad = None

    def on_fit_end(self, trainer) -> None:
        trainer.model.requires_grad_(True)  # training may have stopped before the last group started


def _where(trainer, what: str) -> str:
    """The checkpoint to go back to, for a divergence error."""
    if trainer.checkpoint_step is None:
        return "no checkpoint was written before it"
    return f"{what} is {trainer.run.path / RunDir.CHECKPOINT} (step {trainer.checkpoint_step})"


class NonFiniteGuard(Callback):
    """Stops training with `NonFiniteLoss` when a step's loss or gradient norm is NaN or infinite.

    Without `skip_nonfinite` the first such step is noted on the device, without a sync, and
    `check` (at the next train record, validation or checkpoint) raises; the updates in between
    are not kept as the best model. With `skip_nonfinite` N, every step asks at once (one sync, one
    `any_of` under torchrun): such a batch's update is skipped, with the carried state, up to N
    times in the run (`TrainerState.skipped`)."""

    def __init__(self, skip_nonfinite: int, device: torch.device):
        self.skip_nonfinite = skip_nonfinite
        self.first = torch.full((), -1, dtype=torch.long, device=device)  # the first non-finite step, or -1

    def on_before_update(self, trainer, loss: torch.Tensor, norm: torch.Tensor) -> bool:
        state = trainer.state
        finite = torch.isfinite(loss.detach()) & torch.isfinite(norm)
        if self.skip_nonfinite and distributed.any_of([not bool(finite)], trainer.ranks)[0]:
            state.skipped += 1
            if state.skipped > self.skip_nonfinite:
                self.first.fill_(state.step)
                self.check(trainer)
            return True
        self.first.masked_fill_((self.first < 0) & ~finite, state.step)
        return False

    def check(self, trainer) -> None:
        """Raise `NonFiniteLoss` (one line) if any rank has had a non-finite step (one `any_of`)."""
        bad = int(self.first)
        if not distributed.any_of([bad >= 0], trainer.ranks)[0]:
            return
        where = _where(trainer, "the last good checkpoint")
        if trainer.checkpoint_step is not None:
            where += (": resume with --skip-nonfinite N to skip such batches, or start again with a lower "
                      "learning rate")
        raise NonFiniteLoss(f"the loss or gradient became NaN or infinite at step {bad if bad >= 0 else '?'} "
                            f"(a too high learning rate?); training stopped, {where}")


class ExplodingLossGuard(Callback):
    """Stops training with `ExplodingLoss` when the recent training loss exceeds `EXPLODING_FACTOR`
    times the loss of the run's first step, the untrained model's (`TrainerState.first_loss`).

    The recent loss is the mean since the last train record, joined by the record before when
    fewer than `log_every` steps were made since (a smoothed loss, robust to a noisy batch); it is
    judged at every train record (in the record's own all-reduce, `MetricsLog`) and before every
    validation and checkpoint (`check`), so an exploded model is never kept as the best."""

    def __init__(self, log_every: int):
        self.log_every = log_every
        self.want_first_loss = True  # keep the next step's loss as the run's first
        self.first_loss: torch.Tensor | None = None  # kept on the device, read at the next judgement

    def on_backward_end(self, trainer, loss: torch.Tensor) -> None:
        if self.want_first_loss:
            self.first_loss, self.want_first_loss = loss.detach().float().clone(), False

    def values(self, trainer) -> tuple[list[torch.Tensor], int]:
        """What a judgement averages over the ranks (the recent mean loss, and the first step's loss
        if it is waiting to be kept), and the number of steps behind the recent loss."""
        losses = trainer.losses
        return [losses.recent_loss(self.log_every)] + ([self.first_loss] if self.first_loss is not None else []), \
            losses.recent_steps(self.log_every)

    def judge(self, trainer, reduced: list[float], steps: int) -> None:
        """Keep the first step's loss from `reduced` (the averaged `values`) if it is usable (else
        the next step's is taken: a skipped non-finite batch), then raise if the loss exploded."""
        if len(reduced) > 1:
            self.first_loss = None
            if math.isfinite(reduced[1]) and reduced[1] > 0:
                trainer.state.first_loss = reduced[1]
            else:
                self.want_first_loss = True
        first, step = trainer.state.first_loss, trainer.state.step
        if first is None or not reduced[0] > EXPLODING_FACTOR * first:
            return
        steps = min(step, steps)
        best = f"; the best model so far stays in {trainer.run.path / RunDir.WEIGHTS}" if trainer.state.best else ""
        raise ExplodingLoss(f"the training loss exploded at step {step}: {reduced[0]:.4g} on average over "
                            f"steps {step - steps + 1}-{step}, more than {EXPLODING_FACTOR:g} times the first "
                            f"step's {first:.4g} (a too high learning rate?); training stopped, start again with a "
                            f"lower --lr ({_where(trainer, 'the last checkpoint')}){best}")

    def check(self, trainer) -> None:
        """Judge the loss since the last train record (one all-reduce); nothing to do right after
        a record, which judged it."""
        if not trainer.losses.steps:
            return
        values, steps = self.values(trainer)
        self.judge(trainer, distributed.mean(torch.stack(values), trainer.ranks).tolist(), steps)


class MetricsLog(Callback):
    """Writes the records of metrics.jsonl (rank 0): a train record every `log_every` steps, at an
    epoch's last step and when a plain progress line is due (`Trainer.record_due`), with the mean
    loss since the last record over all ranks (one device sync and, under torchrun, one all-reduce
    per record, which the exploding-loss guard shares); a validation record after every validation."""

    def __init__(self, log_every: int):
        self.log_every = log_every

    def on_fit_start(self, trainer) -> None:
        trainer.losses.restart()

    def on_step_end(self, trainer, loss: torch.Tensor, examples: int) -> None:
        trainer.losses.add(loss, examples)
        state = trainer.state
        if state.step % self.log_every == 0 or state.index == trainer.steps_per_epoch or trainer.record_due:
            self.record(trainer)

    def record(self, trainer) -> None:
        """Check for a non-finite step, write the train record, judge the loss, tell the parts."""
        trainer.nonfinite.check(trainer)
        losses, guard = trainer.losses, trainer.exploding
        judged, recent_steps = guard.values(trainer)
        values = [losses.mean_loss(), torch.tensor(float(losses.examples), device=trainer.device), *judged]
        reduced = distributed.mean(torch.stack(values), trainer.ranks).tolist()
        loss, examples = reduced[:2]
        record = {"type": "train", "epoch": trainer.epoch_number(), "step": trainer.state.step, "loss": loss,
                  "lr": trainer.scheduler.get_last_lr()[0],
                  "examples_per_s": round(examples * trainer.ranks.world_size / losses.seconds(), 1),
                  "elapsed_s": round(trainer.elapsed(), 3)}
        if trainer.ranks.is_main:
            trainer.run.append_metrics(record)
        steps = losses.steps
        losses.close()
        guard.judge(trainer, reduced[2:], recent_steps)
        trainer.notify("on_record", record, steps)

    def on_validation_end(self, trainer, result: dict[str, float], record: dict[str, Any], improved: bool) -> None:
        if trainer.ranks.is_main:
            trainer.run.append_metrics(record)


class Progress(Callback):
    """Progress on stderr from rank 0 (`quiet` silences it): a tqdm bar on a terminal; elsewhere one
    plain line per validation and one at least every `progress.PLAIN_LINE_EVERY_S` seconds (rank
    0's clock decides, every rank agrees), `epoch E step S M.M min train loss L <what>`, L being
    the mean training loss since the previous line."""

    def __init__(self, is_main: bool, quiet: bool):
        self.show_bar = not quiet and is_main and sys.stderr.isatty()
        self.plain_lines = not quiet and is_main and not sys.stderr.isatty()
        self.last_line = time.perf_counter()
        self.line_loss = [0.0, 0]  # the training loss summed over the steps since the last line, and steps
        self.bar: tqdm | None = None

    def on_fit_start(self, trainer) -> None:
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.state.step, unit="batch", dynamic_ncols=True,
                        file=sys.stderr, disable=not self.show_bar, desc="train")

    def on_record(self, trainer, record: dict[str, Any], steps: int) -> None:
        if math.isfinite(record["loss"]):
            self.line_loss = [self.line_loss[0] + record["loss"] * steps, self.line_loss[1] + steps]
        self.bar.set_postfix(loss=f"{record['loss']:.4f}", ex_s=f"{record['examples_per_s']:,.0f}",
                             epoch=record["epoch"])
        if time.perf_counter() - self.last_line >= progress.PLAIN_LINE_EVERY_S \
                and trainer.state.index < trainer.steps_per_epoch:  # an epoch's end has its validation line
            self.line(trainer, f"({record['examples_per_s']:,.0f} examples/s)")

    def on_step_end(self, trainer, loss: torch.Tensor, examples: int) -> None:
        self.bar.update(1)

    def vote(self, trainer) -> bool:
        return self.plain_lines and time.perf_counter() - self.last_line >= progress.PLAIN_LINE_EVERY_S

    def on_agreed(self, trainer, agreed: bool) -> None:
        trainer.record_due = agreed  # the line needs the next step's train record

    def on_validation_end(self, trainer, result: dict[str, float], record: dict[str, Any], improved: bool) -> None:
        values = " ".join(f"val {k} {v:.4f}" for k, v in result.items())
        self.line(trainer, f"{values}{' (best)' if improved else ''}")

    def line(self, trainer, what: str) -> None:
        """Off a terminal (and not quiet): one line, `epoch E step S M.M min train loss L <what>`."""
        if not self.plain_lines:
            return
        total, steps = self.line_loss
        train = f" train loss {total / steps:.4f}" if steps else ""
        print(f"epoch {trainer.epoch_number()} step {trainer.state.step} {trainer.elapsed() / 60:.1f} min{train} "
              f"{what}".rstrip(), file=sys.stderr, flush=True)
        self.line_loss, self.last_line = [0.0, 0], time.perf_counter()

    def on_fit_end(self, trainer) -> None:
        if self.bar is not None:
            self.bar.close()


class LossWindow:
    """The training losses summed on the device since the last train record, the steps and examples
    behind them, and the last record's sum and steps (`close` moves the window on)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.restart()

    def restart(self) -> None:
        """An empty window, its clock started now, and no record before it."""
        self.previous: tuple[torch.Tensor, int] | None = None
        self.reset()

    def reset(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.steps, self.examples, self.started = 0, 0, time.perf_counter()

    def add(self, loss: torch.Tensor, examples: int) -> None:
        self.loss_sum += loss.float()
        self.steps += 1
        self.examples += examples

    def close(self) -> None:
        """A record was made: this window becomes the previous one, and a new one starts."""
        self.previous = (self.loss_sum, self.steps)
        self.reset()

    def mean_loss(self) -> torch.Tensor:
        return self.loss_sum / max(1, self.steps)

    def recent_loss(self, at_least: int) -> torch.Tensor:
        """The mean loss over the window, and the previous record's steps too when the window holds
        fewer than `at_least` (a short window at an epoch's end is noisy)."""
        if self.previous is None or self.steps >= at_least:
            return self.mean_loss()
        loss_sum, steps = self.previous
        return (loss_sum + self.loss_sum) / max(1, steps + self.steps)

    def recent_steps(self, at_least: int) -> int:
        return self.steps if self.previous is None or self.steps >= at_least else self.steps + self.previous[1]

    def seconds(self) -> float:
        return max(1e-9, time.perf_counter() - self.started)


class TensorBoard(Callback):
    """Writes the run's curves as TensorBoard event files into `DIR/tensorboard/` (rank 0): per train
    record `train/loss`, `train/lr` and `train/examples_per_s`, per validation `val/<metric>`, each at
    its step. A resumed run drops what was written after its checkpoint, as metrics.jsonl does, so
    `tensorboard --logdir models/` shows every run once, side by side. Needs the `tensorboard`
    package (`pip install 'seqrnn[tensorboard]'`)."""

    FOLDER = "tensorboard"

    def __init__(self) -> None:
        self.writer = None

    def on_fit_start(self, trainer) -> None:
        if not trainer.ranks.is_main:
            return
        from torch.utils.tensorboard import SummaryWriter  # the optional extra: imported only when asked for

        resumed = trainer.state.step > 0
        self.writer = SummaryWriter(log_dir=str(trainer.run.path / self.FOLDER),
                                    purge_step=trainer.state.step + 1 if resumed else None)

    def on_record(self, trainer, record: dict[str, Any], steps: int) -> None:
        if self.writer is not None:
            for name in ("loss", "lr", "examples_per_s"):
                self.writer.add_scalar(f"train/{name}", record[name], record["step"])

    def on_validation_end(self, trainer, result: dict[str, float], record: dict[str, Any], improved: bool) -> None:
        if self.writer is not None:
            for name, value in result.items():
                self.writer.add_scalar(f"val/{name}", value, record["step"])

    def on_fit_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
