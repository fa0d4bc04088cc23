"""The model directory (DESIGN §4): atomic writes, safetensors weights, JSON everything else.

Nothing here unpickles. Every file is written to a temporary name, fsynced and renamed, and the
training checkpoint is a directory swapped in whole, so a process killed at any instant leaves the
last complete model and checkpoint readable.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from seqrnn import __version__
from seqrnn.errors import SeqrnnError
from seqrnn.fileio import atomic_write_bytes, fsync_dir, read_json, write_json  # noqa: F401 (re-exported)

CONFIG = "config.json"
VOCAB = "vocab.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint"
TRAINER_STATE = "trainer.safetensors"
METRICS = "metrics.jsonl"
CURVES = "curves.png"


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> None:
    """Save tensors (moved to the CPU, made contiguous) as safetensors; metadata is stored as JSON."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {"json": json.dumps(metadata or {})}
    atomic_write_bytes(path, st_save(cpu, metadata=meta))


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a safetensors file written by `save_tensors`: (tensors on the CPU, metadata)."""
    if not Path(path).is_file():
        raise SeqrnnError(f"{path}: missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("json", "{}"))
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise SeqrnnError(f"{path}: not a readable safetensors file ({exc})") from None
    return tensors, meta


# --- the model directory ----------------------------------------------------------------------


def save_model(directory: Path, task: str, config: dict, vocab: dict, state_dict: dict[str, torch.Tensor]) -> None:
    """Write config.json, vocab.json and model.safetensors: everything `load_model` needs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / CONFIG, {"task": task, "seqrnn_version": __version__, **config})
    write_json(directory / VOCAB, vocab)
    save_tensors(directory / WEIGHTS, state_dict)


def save_best_weights(directory: Path, state_dict: dict[str, torch.Tensor], metrics: dict) -> None:
    save_tensors(Path(directory) / WEIGHTS, state_dict, {"metrics": metrics})


def load_model(directory: Path, task: str) -> tuple[dict, dict, dict[str, torch.Tensor]]:
    """Read a model directory of the given task: (config, vocab, weights). One-line errors otherwise."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SeqrnnError(f"{directory}: no such model directory")
    for name in (CONFIG, VOCAB, WEIGHTS):
        if not (directory / name).is_file():
            raise SeqrnnError(f"{directory}: incomplete model directory, {name} is missing")
    config = read_json(directory / CONFIG)
    found = config.get("task") if isinstance(config, dict) else None
    if found != task:
        raise SeqrnnError(f"{directory}: holds a {found or 'unknown'} model, not a {task} model")
    vocab = read_json(directory / VOCAB)
    weights, _ = load_tensors(directory / WEIGHTS)
    return config, vocab, weights


# --- the training checkpoint ------------------------------------------------------------------


def save_checkpoint(directory: Path, model_state: dict[str, torch.Tensor], trainer_tensors: dict[str, torch.Tensor],
                    trainer_meta: dict) -> None:
    """Write checkpoint/ as a whole: build it beside, then swap it in with renames.

    A crash between the two renames leaves `checkpoint.old/`, which `load_checkpoint` falls back to.
    """
    directory = Path(directory)
    final = directory / CHECKPOINT
    staging = directory / (CHECKPOINT + ".new")
    old = directory / (CHECKPOINT + ".old")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_tensors(staging / WEIGHTS, model_state)
    save_tensors(staging / TRAINER_STATE, trainer_tensors, trainer_meta)
    fsync_dir(staging)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    fsync_dir(directory)
    shutil.rmtree(old, ignore_errors=True)


def check_run_directory(directory: Path | None, resume: bool) -> None:
    """Refuse to start a new run over an old one, or to resume where there is nothing to resume."""
    if directory is None:
        return
    has_run = (Path(directory) / CHECKPOINT).exists() or (Path(directory) / (CHECKPOINT + ".old")).exists()
    if resume and not has_run:
        raise SeqrnnError(f"{directory}: nothing to resume, no {CHECKPOINT}/ from an earlier run")
    if not resume and has_run:
        raise SeqrnnError(f"{directory}: already holds a training run; pass --resume to continue it or choose another --out")


def load_checkpoint(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
    """(model weights, trainer tensors, trainer metadata) of the last complete checkpoint."""
    directory = Path(directory)
    for candidate in (directory / CHECKPOINT, directory / (CHECKPOINT + ".old")):
        if (candidate / WEIGHTS).is_file() and (candidate / TRAINER_STATE).is_file():
            model_state, _ = load_tensors(candidate / WEIGHTS)
            tensors, meta = load_tensors(candidate / TRAINER_STATE)
            return model_state, tensors, meta
    raise SeqrnnError(f"{directory}: nothing to resume, no {CHECKPOINT}/ from an earlier run")


def append_jsonl(path: Path, record: dict) -> None:
    """Append one JSON line and flush it to disk (a torn last line is skipped by `read_jsonl`)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    records = []
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
