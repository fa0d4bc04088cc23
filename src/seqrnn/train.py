"""The one training loop both tasks use.

A task supplies its batches (deterministic for a given epoch and index, so a run can stop anywhere
and resume bit-for-bit), its loss, an optional state carried from batch to batch (the char model's
hidden state across truncated-BPTT windows) and its validation. The loop owns everything else:
AdamW, the learning-rate schedule, clipping by global norm, validation and best-model selection,
the wall-clock budget, checkpoints, `metrics.jsonl`, the progress bar and the curves.
"""

from __future__ import annotations

import io
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from seqrnn import storage
from seqrnn.errors import SeqrnnError


@dataclass
class TrainSettings:
    epochs: int
    lr: float = 1e-3
    grad_clip: float = 0.0  # 0 = no clipping
    weight_decay: float = 0.0  # 0 makes AdamW exactly Adam
    schedule: str = "constant"  # or "cosine": decay to `final_lr_fraction` of lr by the last step
    final_lr_fraction: float = 0.05
    warmup_steps: int = 0
    eval_every: int = 0  # validate every this many steps as well as after every epoch (0 = epochs only)
    max_minutes: float | None = None
    prepared_s: float = 0.0  # time already spent preparing this invocation: counted in elapsed_s and the budget
    log_every: int = 20


class Task(Protocol):
    """What a task gives the loop. `monitor` is ("loss", "min") or ("accuracy", "max")."""

    monitor: tuple[str, str]

    def batches_per_epoch(self) -> int: ...
    def batch(self, epoch: int, index: int) -> Any: ...
    def loss(self, model: torch.nn.Module, batch: Any, carry: Any) -> tuple[torch.Tensor, Any, int]: ...
    def validate(self, model: torch.nn.Module) -> dict[str, float]: ...
    def carry_to_tensors(self, carry: Any) -> dict[str, torch.Tensor]: ...
    def carry_from_tensors(self, tensors: dict[str, torch.Tensor]) -> Any: ...


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


def lr_factor(step: int, total_steps: int, settings: TrainSettings) -> float:
    if settings.warmup_steps and step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    if settings.schedule == "constant" or total_steps <= settings.warmup_steps:
        return 1.0
    progress = min(1.0, (step - settings.warmup_steps) / max(1, total_steps - settings.warmup_steps))
    floor = settings.final_lr_fraction
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors = {}
    for index, param_state in state["state"].items():
        for key, value in param_state.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in state["param_groups"]]
    return tensors, {"param_groups": groups}


def _optimizer_from_tensors(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def fit(model: torch.nn.Module, task: Task, settings: TrainSettings, out_dir: Path,
        device: torch.device, resume: bool = False) -> dict:
    """Train `model` on `task`, writing checkpoints and metrics into `out_dir`; returns a summary.

    The caller has already written config.json and vocab.json. Best weights (by the task's
    monitored validation metric) go to model.safetensors, the last state to checkpoint/.
    """
    out_dir = Path(out_dir)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = task.batches_per_epoch()
    total_steps = settings.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total_steps, settings))
    metric, mode = task.monitor
    epoch, index, step, best, carry = 0, 0, 0, None, None
    elapsed_before = 0.0

    if resume:
        model_state, tensors, meta = storage.load_checkpoint(out_dir)
        model.load_state_dict(model_state)
        optimizer.load_state_dict(_optimizer_from_tensors(tensors, meta))
        scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
        if device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], device)
        epoch, index, step, best = meta["epoch"], meta["index"], meta["step"], meta["best"]
        elapsed_before = meta.get("elapsed_s", 0.0)
        carry = task.carry_from_tensors({k[6:]: v.to(device) for k, v in tensors.items() if k.startswith("carry.")})
    else:
        storage.check_run_directory(out_dir, resume=False)
        (out_dir / storage.METRICS).unlink(missing_ok=True)

    def save_checkpoint() -> None:
        tensors, optim_meta = _optimizer_to_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        if device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
        tensors.update({f"carry.{k}": v for k, v in task.carry_to_tensors(carry).items()})
        meta = {**optim_meta, "scheduler": scheduler.state_dict(), "epoch": epoch, "index": index, "step": step,
                "best": best, "elapsed_s": elapsed(), "settings": asdict(settings)}
        storage.save_checkpoint(out_dir, model.state_dict(), tensors, meta)

    def validate() -> dict:
        nonlocal best
        model.eval()
        with torch.no_grad():
            result = task.validate(model)
        model.train()
        improved = best is None or (result[metric] < best[metric] if mode == "min" else result[metric] > best[metric])
        record = {"type": "val", "epoch": epoch, "step": step, "elapsed_s": round(elapsed(), 3), **result}
        if improved:
            best = {**result, "epoch": epoch, "step": step, "elapsed_s": record["elapsed_s"]}
            storage.save_best_weights(out_dir, model.state_dict(), best)
        storage.append_jsonl(out_dir / storage.METRICS, record)
        return result

    start = time.perf_counter() - settings.prepared_s

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - start

    budget_s = settings.max_minutes * 60 if settings.max_minutes else None
    stopped = "done"
    bar = tqdm(total=total_steps, initial=step, unit="batch", dynamic_ncols=True, file=sys.stderr,
               disable=not sys.stderr.isatty(), desc="train")
    window_loss, window_examples, window_steps, window_start = 0.0, 0, 0, time.perf_counter()
    model.train()
    try:
        while epoch < settings.epochs:
            while index < steps_per_epoch:
                loss, carry, examples = task.loss(model, task.batch(epoch, index), carry)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
                optimizer.step()
                scheduler.step()
                index += 1
                step += 1
                window_loss += loss.item()
                window_examples += examples
                window_steps += 1
                if step % settings.log_every == 0 or index == steps_per_epoch:
                    rate = window_examples / max(1e-9, time.perf_counter() - window_start)
                    record = {"type": "train", "epoch": epoch, "step": step, "loss": window_loss / window_steps,
                              "lr": scheduler.get_last_lr()[0], "examples_per_s": round(rate, 1),
                              "elapsed_s": round(elapsed(), 3)}
                    storage.append_jsonl(out_dir / storage.METRICS, record)
                    bar.set_postfix(loss=f"{record['loss']:.4f}", ex_s=f"{rate:,.0f}", epoch=epoch + 1)
                    window_loss, window_examples, window_steps, window_start = 0.0, 0, 0, time.perf_counter()
                bar.update(1)
                if budget_s is not None and time.perf_counter() - start >= budget_s:  # this invocation's budget
                    stopped = "budget"
                    break
                if settings.eval_every and step % settings.eval_every == 0 and index < steps_per_epoch:
                    validate()
            if stopped == "budget":
                validate()
                save_checkpoint()
                break
            epoch, index, carry = epoch + 1, 0, None  # the state is reset at the start of every epoch
            validate()
            save_checkpoint()
    finally:
        bar.close()
    plot_curves(out_dir)
    return {"stopped": stopped, "epoch": epoch, "step": step, "elapsed_s": round(elapsed(), 3), "best": best}


def plot_curves(out_dir: Path) -> None:
    """Training and validation curves from metrics.jsonl into curves.png (loss, and accuracy if any)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = storage.read_jsonl(Path(out_dir) / storage.METRICS)
    train = [r for r in records if r.get("type") == "train"]
    val = [r for r in records if r.get("type") == "val"]
    has_accuracy = any("accuracy" in r for r in val)
    fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(11 if has_accuracy else 6, 4), squeeze=False)
    ax = axes[0][0]
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train", alpha=0.7)
    ax.plot([r["step"] for r in val], [r["loss"] for r in val], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    if has_accuracy:
        ax = axes[0][1]
        ax.plot([r["step"] for r in val], [r["accuracy"] for r in val], "o-", color="C1")
        ax.set_xlabel("step")
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    storage.atomic_write_bytes(Path(out_dir) / storage.CURVES, buffer.getvalue())
