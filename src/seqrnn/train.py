"""The one training loop both tasks use.

A task supplies its batches (deterministic for a given epoch and index, so a run can stop anywhere
and resume bit-for-bit), its loss, an optional state carried from batch to batch (the char model's
hidden state across truncated-BPTT windows) and its validation. The `Trainer` owns everything else:
AdamW, the learning-rate schedule, clipping by global norm, validation and best-model selection,
the wall-clock budget, checkpoints, metrics and the progress bar. Its progress is one value,
`TrainerState`, which is exactly what a checkpoint holds besides the weights, the optimizer, the
schedule and the random generators.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from seqrnn.config import TrainingConfig
from seqrnn.errors import SeqrnnError
from seqrnn.rundir import RunDir


class Task(Protocol):
    """What a task gives the loop. `monitor` is ("loss", "min") or ("accuracy", "max").

    `loss` returns (mean loss, the carry for the next batch of the epoch, examples in the batch);
    the carry starts as None at every epoch and must be tensors (or tuples of them) or None.
    """

    monitor: tuple[str, str]

    def batches_per_epoch(self) -> int: ...
    def batch(self, epoch: int, index: int) -> Any: ...
    def loss(self, model: torch.nn.Module, batch: Any, carry: Any) -> tuple[torch.Tensor, Any, int]: ...
    def validate(self, model: torch.nn.Module) -> dict[str, float]: ...


@dataclass
class TrainerState:
    """Where a run is. `epoch` counts finished epochs, `index` the batches done in the current one."""

    epoch: int = 0
    index: int = 0
    step: int = 0
    best: dict[str, Any] | None = None
    elapsed_s: float = 0.0
    carry: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def setup_runtime(seed: int, threads: int | None = None, device: str = "auto") -> torch.device:
    """Seed every generator, set CPU threads, and pick the device ('auto' = CUDA when present)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SeqrnnError("--device cuda: no CUDA device is available")
    return torch.device(device)


def lr_factor(step: int, total_steps: int, training: TrainingConfig) -> float:
    """Linear warm-up, then constant or cosine decay to `final_lr_fraction` at the last step."""
    if training.warmup_steps and step < training.warmup_steps:
        return (step + 1) / training.warmup_steps
    if training.schedule == "constant" or total_steps <= training.warmup_steps:
        return 1.0
    progress = min(1.0, (step - training.warmup_steps) / max(1, total_steps - training.warmup_steps))
    floor = training.final_lr_fraction
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class Trainer:
    """Trains `model` on `task` into `run`: best weights by validation, checkpoints, metrics.

    `max_minutes` is this invocation's budget; `prepared_s` is the time this invocation already
    spent preparing (encoding, word vectors), counted in the budget and in the elapsed time.
    """

    def __init__(self, model: torch.nn.Module, task: Task, training: TrainingConfig, run: RunDir,
                 device: torch.device, *, max_minutes: float | None = None, prepared_s: float = 0.0,
                 log_every: int = 20):
        self.model, self.task, self.training, self.run, self.device = model.to(device), task, training, run, device
        self.budget_s = max_minutes * 60 if max_minutes else None
        self.log_every = log_every
        self.steps_per_epoch = task.batches_per_epoch()
        self.total_steps = training.epochs * self.steps_per_epoch
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr, weight_decay=training.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, self.total_steps, training))
        self.state = TrainerState()
        self.started = time.perf_counter() - prepared_s  # this invocation's clock
        self.elapsed_before = 0.0  # time spent by the earlier invocations of a resumed run

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    # --- checkpoints ---------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        self.state.elapsed_s = self.elapsed()
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        self.run.save_checkpoint(self.model.state_dict(), {
            "state": self.state.as_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng})

    def resume(self) -> None:
        """Continue from the run's checkpoint, exactly where it stopped."""
        model_state, saved = self.run.load_checkpoint()
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in saved["rng"]:
            torch.cuda.set_rng_state(saved["rng"]["cuda"], self.device)
        self.state = TrainerState(**saved["state"])
        self.state.carry = _to_device(self.state.carry, self.device)
        self.elapsed_before = self.state.elapsed_s

    # --- the loop ------------------------------------------------------------------------------

    def train_step(self, batch: Any) -> tuple[torch.Tensor, int]:
        """One optimizer step; the loss comes back detached, still on the device (no sync)."""
        loss, self.state.carry, examples = self.task.loss(self.model, batch, self.state.carry)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.training.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.training.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.state.index += 1
        self.state.step += 1
        return loss.detach(), examples

    def validate(self) -> None:
        """Validate, log, and keep the weights if they are the best so far."""
        self.model.eval()
        with torch.no_grad():
            result = self.task.validate(self.model)
        self.model.train()
        metric, mode = self.task.monitor
        best = self.state.best
        improved = best is None or (result[metric] < best[metric] if mode == "min" else result[metric] > best[metric])
        record = {"type": "val", "epoch": self.epoch_number(), "step": self.state.step,
                  "elapsed_s": round(self.elapsed(), 3), **result}
        if improved:
            self.state.best = {**result, "epoch": record["epoch"], "step": record["step"],
                               "elapsed_s": record["elapsed_s"]}
            self.run.save_best(self.model.state_dict(), self.state.best)
        self.run.append_metrics(record)

    def epoch_number(self) -> int:
        """The 1-based epoch the current step belongs to (the same in train and val records)."""
        return self.state.epoch + (1 if self.state.index else 0)

    def fit(self) -> dict[str, Any]:
        """Run until `training.epochs` are done or the budget is spent; returns a summary."""
        state, training = self.state, self.training
        stopped = "done"
        bar = tqdm(total=self.total_steps, initial=state.step, unit="batch", dynamic_ncols=True, file=sys.stderr,
                   disable=not sys.stderr.isatty(), desc="train")
        window = _Window(self.device)
        self.model.train()
        try:
            while state.epoch < training.epochs and stopped == "done":
                while state.index < self.steps_per_epoch:
                    loss, examples = self.train_step(self.task.batch(state.epoch, state.index))
                    window.add(loss, examples)
                    if state.step % self.log_every == 0 or state.index == self.steps_per_epoch:
                        record = self.log(window)
                        bar.set_postfix(loss=f"{record['loss']:.4f}", ex_s=f"{record['examples_per_s']:,.0f}",
                                        epoch=record["epoch"])
                    bar.update(1)
                    if self.budget_s is not None and time.perf_counter() - self.started >= self.budget_s:
                        stopped = "budget"
                        break
                    if training.eval_every and state.step % training.eval_every == 0 \
                            and state.index < self.steps_per_epoch:
                        self.validate()
                if stopped == "done":  # the state is reset at the start of every epoch
                    state.epoch, state.index, state.carry = state.epoch + 1, 0, None
                self.validate()
                self.save_checkpoint()
        finally:
            bar.close()
        return {"stopped": stopped, "epoch": state.epoch, "step": state.step, "elapsed_s": round(self.elapsed(), 3),
                "best": state.best}

    def log(self, window: "_Window") -> dict[str, Any]:
        """Write the mean training loss since the last record (one device sync per record)."""
        record = {"type": "train", "epoch": self.epoch_number(), "step": self.state.step, "loss": window.mean_loss(),
                  "lr": self.scheduler.get_last_lr()[0], "examples_per_s": round(window.rate(), 1),
                  "elapsed_s": round(self.elapsed(), 3)}
        self.run.append_metrics(record)
        window.reset()
        return record


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

    def mean_loss(self) -> float:
        return float(self.loss_sum) / max(1, self.steps)

    def rate(self) -> float:
        return self.examples / max(1e-9, time.perf_counter() - self.started)


def _to_device(obj: Any, device: torch.device) -> Any:
    if torch.is_tensor(obj):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj
