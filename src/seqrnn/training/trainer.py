"""The one training loop both tasks use.

A task supplies its batches (deterministic for a given epoch and index, so a run can stop anywhere
and resume bit-for-bit), its loss, an optional state carried from batch to batch (the char model's
hidden state across truncated-BPTT windows) and its validation. The `Trainer` owns everything else:
AdamW, the learning-rate schedule, clipping by global norm, validation and best-model selection,
the wall-clock budget, checkpoints (at every epoch's end, every `checkpoint_every` minutes, and on
SIGINT/SIGTERM), the guards against divergence (a non-finite or exploding loss), metrics, the
progress bar, and several processes under torchrun (a lost process stops the others with one line
saying how to continue). Its progress is one value, `TrainerState`, which is exactly what a
checkpoint holds besides the weights, the optimizer, the schedule and the random generators.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Protocol

import torch
from tqdm import tqdm

from seqrnn import progress

from seqrnn.training import distributed
from seqrnn.config import TrainingConfig
from seqrnn.training.distributed import Ranks
from seqrnn.errors import Interrupted, SeqrnnRuntimeError
from seqrnn.training.rundir import RunDir, to_device
from seqrnn.training.runtime import stop_signals_call

EXPLODING_FACTOR = 3.0  # char-rnn's rule: stop when the loss exceeds 3 times the untrained model's


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


class Diverged(SeqrnnRuntimeError):
    """Training diverged: it stopped, and the best model so far was kept."""


class NonFiniteLoss(Diverged):
    """Training diverged: the loss or the gradient norm is NaN or infinite."""


class ExplodingLoss(Diverged):
    """Training diverged: the loss grew past `EXPLODING_FACTOR` times the untrained model's."""


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
    """

    def __init__(self, model: torch.nn.Module, task: Task, training: TrainingConfig, run: RunDir,
                 device: torch.device, *, ranks: Ranks = Ranks(), max_minutes: float | None = None,
                 checkpoint_every: float | None = None, skip_nonfinite: int = 0, prepared_s: float = 0.0,
                 log_every: int = 20, quiet: bool = False):
        self.model, self.task, self.training, self.run, self.device = model.to(device), task, training, run, device
        self.ranks = ranks
        self.trained_model = model
        if ranks.distributed:
            with distributed.peer_failures(ranks):  # it broadcasts rank 0's weights
                self.trained_model = torch.nn.parallel.DistributedDataParallel(
                    model, device_ids=[device.index] if device.type == "cuda" else None)
        self.budget_s = max_minutes * 60 if max_minutes else None
        self.checkpoint_every_s = checkpoint_every * 60 if checkpoint_every else None
        self.log_every = log_every
        self.show_bar = not quiet and ranks.is_main and sys.stderr.isatty()
        self.plain_lines = not quiet and ranks.is_main and not sys.stderr.isatty()
        self.last_line = time.perf_counter()
        self.line_due = False  # a plain line is due at the next step (agreed by every rank in `_decide`)
        self.line_loss = [0.0, 0]  # the training loss summed over the steps since the last plain line, and steps
        self.skip_nonfinite = skip_nonfinite
        self.steps_per_epoch = task.batches_per_epoch()
        self.total_steps = training.epochs * self.steps_per_epoch
        self.optimizer = torch.optim.AdamW(parameter_groups(model, training, self.steps_per_epoch), lr=training.lr,
                                           weight_decay=training.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, self.total_steps, training))
        self.state = TrainerState()
        self.started = time.perf_counter() - prepared_s  # this invocation's clock
        self.elapsed_before = 0.0  # time spent by the earlier invocations of a resumed run
        self.last_checkpoint = time.perf_counter()
        self.checkpoint_step: int | None = None  # the step of the last checkpoint written or read
        self.stop_signal: int | None = None
        self.first_nonfinite = torch.full((), -1, dtype=torch.long, device=device)  # step, or -1
        self.want_first_loss = True  # record the next step's loss as the run's first (`TrainerState.first_loss`)
        self.first_loss: torch.Tensor | None = None  # recorded on the device, read at the next log
        self.window: _Window | None = None  # the losses since the last log record (`fit`)
        self.previous: tuple[torch.Tensor, int] | None = None  # the last record's loss sum and steps

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    # --- checkpoints ---------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Write the checkpoint (rank 0), after checking that training has not diverged."""
        self.check_finite()
        self.check_exploding()
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
        self.last_checkpoint = time.perf_counter()
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
        self.want_first_loss = self.state.first_loss is None and self.state.step == 0
        if self.ranks.is_main:
            self.run.truncate_metrics(self.state.step)  # what came after the checkpoint is redone

    # --- the loop ------------------------------------------------------------------------------

    def train_step(self, batch: Any) -> tuple[torch.Tensor, int]:
        """One optimizer step on this rank's rows of `batch`; the loss comes back detached, on the
        device. A non-finite loss or gradient norm is remembered without a device sync (checked at
        the next log, validation or checkpoint), unless `skip_nonfinite` asks to skip such batches
        (`state.skipped` counts them over the whole run)."""
        # gradual unfreezing: the groups whose start step has not come (a checkpoint from before it has no "start")
        frozen = [p for g in self.optimizer.param_groups if self.state.step < g.get("start", 0) for p in g["params"]]
        if not self.ranks.distributed:  # no gradient through what does not train yet (DDP needs them all)
            self.model.requires_grad_(True)
            for p in frozen:
                p.requires_grad_(False)
        loss, carry, examples = self._share_loss(batch)
        if self.want_first_loss:  # the untrained model's loss: the exploding-loss guard's reference
            self.first_loss, self.want_first_loss = loss.detach().float().clone(), False
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for p in frozen:  # AdamW leaves a parameter without a gradient as it is, moments included
            p.grad = None
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.training.grad_clip or math.inf)
        finite = torch.isfinite(loss.detach()) & torch.isfinite(norm)
        self.state.index += 1
        self.state.step += 1
        # skipping needs the answer now: one sync per step, only when asked for (as AMP's GradScaler)
        if self.skip_nonfinite and distributed.any_of([not bool(finite)], self.ranks)[0]:
            self.state.skipped += 1
            if self.state.skipped > self.skip_nonfinite:
                self.first_nonfinite.fill_(self.state.step)
                self.check_finite()
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.state.carry = None  # the carried state may hold the non-finite values too
            return torch.zeros((), device=self.device), 0
        self.first_nonfinite.masked_fill_((self.first_nonfinite < 0) & ~finite, self.state.step)
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

    def check_finite(self) -> None:
        """Stop with a one-line error if a step has had a non-finite loss or gradient norm."""
        bad = int(self.first_nonfinite)
        if not distributed.any_of([bad >= 0], self.ranks)[0]:
            return
        where = (f"the last good checkpoint is {self.run.path / RunDir.CHECKPOINT} (step {self.checkpoint_step}): "
                 f"resume with --skip-nonfinite N to skip such batches, or start again with a lower learning rate"
                 if self.checkpoint_step is not None else "no checkpoint was written before it")
        raise NonFiniteLoss(f"the loss or gradient became NaN or infinite at step {bad if bad >= 0 else '?'} "
                            f"(a too high learning rate?); training stopped, {where}")

    def check_exploding(self) -> None:
        """Stop with a one-line error if the loss since the last log record has exploded (one
        all-reduce under torchrun); nothing to do right after a record, which checked it."""
        if self.window is None or not self.window.steps:
            return
        values = [self._recent_loss(self.window)] + ([self.first_loss] if self.first_loss is not None else [])
        reduced = distributed.mean(torch.stack(values), self.ranks).tolist()
        if len(reduced) > 1:
            self._set_first_loss(reduced[1])
        self._raise_if_exploded(reduced[0], self._recent_steps(self.window))

    def _recent_loss(self, window: "_Window") -> torch.Tensor:
        """The mean loss over the window, and the previous record's steps too when the window holds
        fewer than `log_every` (a short window at an epoch's end is noisy)."""
        if self.previous is None or window.steps >= self.log_every:
            return window.mean_loss()
        loss_sum, steps = self.previous
        return (loss_sum + window.loss_sum) / max(1, steps + window.steps)

    def _recent_steps(self, window: "_Window") -> int:
        return window.steps if self.previous is None or window.steps >= self.log_every \
            else window.steps + self.previous[1]

    def _set_first_loss(self, value: float) -> None:
        """Keep the first step's loss (averaged over the ranks) as the reference, if it is usable;
        otherwise (a skipped non-finite batch) the next step's is recorded instead."""
        self.first_loss = None
        if math.isfinite(value) and value > 0:
            self.state.first_loss = value
        else:
            self.want_first_loss = True

    def _raise_if_exploded(self, recent: float, steps: int) -> None:
        first = self.state.first_loss
        if first is None or not recent > EXPLODING_FACTOR * first:
            return
        steps = min(self.state.step, steps)
        where = (f"the last checkpoint is {self.run.path / RunDir.CHECKPOINT} (step {self.checkpoint_step})"
                 if self.checkpoint_step is not None else "no checkpoint was written before it")
        best = f"; the best model so far stays in {self.run.path / RunDir.WEIGHTS}" if self.state.best else ""
        raise ExplodingLoss(f"the training loss exploded at step {self.state.step}: {recent:.4g} on average over "
                            f"steps {self.state.step - steps + 1}-{self.state.step}, more than "
                            f"{EXPLODING_FACTOR:g} times the first step's {first:.4g} (a too high learning rate?); "
                            f"training stopped, start again with a lower --lr ({where}){best}")

    def validate(self) -> bool:
        """Validate on rank 0, log, and keep the weights if they are the best so far. False when a stop
        signal arrived meanwhile: the validation is abandoned between two batches, nothing is logged."""
        self.check_finite()
        self.check_exploding()
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
            return False
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
        if self.ranks.is_main:
            self.run.append_metrics(record)
        values = " ".join(f"val {k} {v:.4f}" for k, v in result.items())
        self.plain_line(f"{values}{' (best)' if improved else ''}")
        return True

    def _abandon_on_signal(self) -> None:
        if self.stop_signal is not None:
            raise _Abandoned

    def plain_line(self, what: str) -> None:
        """Off a terminal (and not quiet): one line, `epoch E step S M.M min train loss L <what>`,
        with the mean training loss since the previous line."""
        if not self.plain_lines:
            return
        total, steps = self.line_loss
        train = f" train loss {total / steps:.4f}" if steps else ""
        print(f"epoch {self.epoch_number()} step {self.state.step} {self.elapsed() / 60:.1f} min{train} {what}".rstrip(),
              file=sys.stderr, flush=True)
        self.line_loss, self.last_line = [0.0, 0], time.perf_counter()

    def epoch_number(self) -> int:
        """The 1-based epoch the current step belongs to (the same in train and val records)."""
        return self.state.epoch + (1 if self.state.index else 0)

    def fit(self) -> dict[str, Any]:
        """Run until `training.epochs` are done, the budget is spent or a stop signal arrives;
        returns a summary. A signal writes the checkpoint, then raises `Interrupted`."""
        state, training = self.state, self.training
        stopped = "done"
        bar = tqdm(total=self.total_steps, initial=state.step, unit="batch", dynamic_ncols=True, file=sys.stderr,
                   disable=not self.show_bar, desc="train")
        window = self.window = _Window(self.device)
        self.previous = None
        self.trained_model.train()
        try:
            with self._stop_signals():
                while state.epoch < training.epochs and stopped == "done":
                    while state.index < self.steps_per_epoch:
                        loss, examples = self.train_step(self.task.batch(state.epoch, state.index))
                        window.add(loss, examples)
                        if state.step % self.log_every == 0 or state.index == self.steps_per_epoch or self.line_due:
                            record = self.log(window)
                            bar.set_postfix(loss=f"{record['loss']:.4f}", ex_s=f"{record['examples_per_s']:,.0f}",
                                            epoch=record["epoch"])
                            if time.perf_counter() - self.last_line >= progress.PLAIN_LINE_EVERY_S \
                                    and state.index < self.steps_per_epoch:  # an epoch's end has its val line
                                self.plain_line(f"({record['examples_per_s']:,.0f} examples/s)")
                        bar.update(1)
                        stopped = self._decide()
                        if stopped != "done":
                            break
                        if training.eval_every and state.step % training.eval_every == 0 \
                                and state.index < self.steps_per_epoch and not self.validate():
                            stopped = "signal"
                            break
                    if stopped == "done":  # the state is reset at the start of every epoch
                        state.epoch, state.index, state.carry = state.epoch + 1, 0, None
                    if stopped != "signal" and not self.validate():
                        stopped = "signal"
                    self.save_checkpoint()
        except (RuntimeError, distributed.PeerLost) as exc:  # DDP's all-reduce in backward, or a collective
            if not distributed.is_peer_failure(exc, self.ranks):
                raise
            raise distributed.PeerLost(self.ranks, f" at step {state.step}",
                                       f"training stopped, {self._how_to_continue()}") from None
        finally:
            bar.close()
            self.model.requires_grad_(True)  # gradual unfreezing may have stopped short of the last group
        if stopped == "signal":
            raise Interrupted(self.stop_signal or signal.SIGINT, state.step, self.run.path / RunDir.CHECKPOINT)
        return {"stopped": stopped, "epoch": state.epoch, "step": state.step, "elapsed_s": round(self.elapsed(), 3),
                "best": state.best}

    def _how_to_continue(self) -> str:
        """After a lost process: the checkpoint to resume from, or that there is none yet."""
        if self.checkpoint_step is None:
            return "no checkpoint was written yet: start the run again"
        # rank 0 writes it: another rank cannot know whether a lost rank 0 finished writing the last one
        which = f"step {self.checkpoint_step}" + ("" if self.ranks.is_main else " at the latest")
        return f"continue with --resume from the last checkpoint in {self.run.path / RunDir.CHECKPOINT} ({which})"

    def _decide(self) -> str:
        """'done' to go on, or why to stop ('budget', 'signal'); writes a checkpoint when one is due.
        Under torchrun every rank takes the same decision."""
        now = time.perf_counter()
        budget = self.budget_s is not None and now - self.started >= self.budget_s
        due = self.checkpoint_every_s is not None and now - self.last_checkpoint >= self.checkpoint_every_s
        line = self.plain_lines and now - self.last_line >= progress.PLAIN_LINE_EVERY_S  # rank 0's clock decides
        signalled, budget, due, self.line_due = distributed.any_of(
            [self.stop_signal is not None, budget, due, line], self.ranks)
        if signalled:
            self.stop_signal = self.stop_signal or signal.SIGINT
            return "signal"
        if budget:
            return "budget"
        if due and self.state.index < self.steps_per_epoch:  # an epoch's end writes one anyway
            self.save_checkpoint()
        return "done"

    def _stop_signals(self):
        """SIGINT/SIGTERM ask the loop to stop after the current step (with a checkpoint); a second
        one stops at once."""

        def handle(signum, frame):
            if self.stop_signal is not None:
                raise Interrupted(signum, self.state.step, None)
            self.stop_signal = signum
            if self.ranks.is_main:
                print(f"\nseqrnn: {signal.Signals(signum).name}: stopping after this step, writing the checkpoint "
                      "(again to stop at once)", file=sys.stderr, flush=True)

        return stop_signals_call(handle)

    def log(self, window: "_Window") -> dict[str, Any]:
        """Write the mean training loss since the last record, over all ranks (one device sync and,
        under torchrun, one all-reduce per record), then check that it has not exploded."""
        self.check_finite()
        values = [window.mean_loss(), torch.tensor(float(window.examples), device=self.device),
                  self._recent_loss(window)] + ([self.first_loss] if self.first_loss is not None else [])
        reduced = distributed.mean(torch.stack(values), self.ranks).tolist()
        loss, examples, recent = reduced[:3]
        if len(reduced) > 3:
            self._set_first_loss(reduced[3])
        record = {"type": "train", "epoch": self.epoch_number(), "step": self.state.step, "loss": loss,
                  "lr": self.scheduler.get_last_lr()[0],
                  "examples_per_s": round(examples * self.ranks.world_size / window.seconds(), 1),
                  "elapsed_s": round(self.elapsed(), 3)}
        if self.ranks.is_main:
            self.run.append_metrics(record)
        if math.isfinite(loss):
            self.line_loss = [self.line_loss[0] + loss * window.steps, self.line_loss[1] + window.steps]
        recent_steps = self._recent_steps(window)
        self.previous = (window.loss_sum, window.steps)
        window.reset()
        self._raise_if_exploded(recent, recent_steps)
        return record


class _Abandoned(Exception):
    """A validation stopped between two batches by a stop signal."""


class _Window:
    """Losses summed on the device between two log records, and the examples seen."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.steps, self.examples, self.started = 0, 0, time.perf_counter()

    def add(self, loss: torch.Tensor, examples: int) -> None:
        self.loss_sum += loss.float()
        self.steps += 1
        self.examples += examples

    def mean_loss(self) -> torch.Tensor:
        return self.loss_sum / max(1, self.steps)

    def seconds(self) -> float:
        return max(1e-9, time.perf_counter() - self.started)


def _note(message: str, ranks: Ranks) -> None:
    if ranks.is_main:
        print(f"note: {message}", file=sys.stderr)
