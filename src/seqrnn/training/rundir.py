"""The model directory and its one owner, `RunDir`: nothing else knows its file names.

    config.json        task, package version, the configuration (model / data / training), dataset facts
    vocab.json         the vocabulary
    model.safetensors  the best weights by validation: what evaluate, predict, sample and serve load
    checkpoint/        the last training state: model.safetensors and trainer.pt
    metrics.jsonl      one JSON line per logged step and per validation
    curves.png         training and validation curves

Loading never runs code from a file: weights are safetensors, the trainer's state is read with
`torch.load(weights_only=True)` (tensors, numbers, strings and containers only), the rest is JSON.
Every file is written to a temporary name, fsynced and renamed, and the checkpoint is a directory
swapped in whole, so a process killed at any instant leaves the last complete model and
checkpoint readable. Tensors are saved on the CPU, so a model trained on a GPU loads anywhere.

One training run at a time: `start` takes an exclusive advisory lock (`fcntl.flock`) on the
directory itself, held open until `release` or the process ends, so a second run on the same
directory is refused at once (naming the holder's process, from /proc/locks where there is one),
and a run killed in any way (even `kill -9`) leaves nothing stuck: the kernel drops the lock with the
process. Under torchrun only rank 0 takes it (the other ranks never write). On a filesystem that
does not support locks, runs go unlocked.

A refused run leaves the directory as it was: what `start` can refuse (a run already there, nothing
to resume, a directory in use or not writable) it refuses before writing anything, the lock writes
nothing, and a new run's old metrics are removed only with its first write, once every check of the
data and settings has passed.

config.json records `config_format`: 2 since classifiers store their `classes`; a config.json
without it comes from an earlier version (see `sentiment`).
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import shutil

try:
    import fcntl
except ImportError:  # not a POSIX system: runs are not locked
    fcntl = None  # type: ignore[assignment]
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from seqrnn import __version__
from seqrnn.errors import SeqrnnError
from seqrnn.fileio import atomic_write_bytes, fsync_dir, read_json, write_json

CHECKPOINT_FORMAT = 1  # of checkpoint/trainer.pt
CONFIG_FORMAT = 2  # of config.json: 2 stores a classifier's classes (absent: an earlier version)


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> None:
    """Save tensors (moved to the CPU, made contiguous) as safetensors; metadata is stored as JSON."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write_bytes(path, safetensors_bytes(cpu, metadata={"json": json.dumps(metadata or {})}))


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


def to_device(obj: Any, device: torch.device | str) -> Any:
    """The same nested containers (dicts, lists, tuples) with every tensor moved to `device`."""
    if torch.is_tensor(obj):
        return obj.detach().to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


# flock not supported there (EBADF: an NFS mount emulates flock with POSIX locks, which need a file open for writing)
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF}


def _lock_holder(fd: int) -> str:
    """' (process N)': the process holding a flock on the open file `fd`, read from /proc/locks
    (Linux), or '' where that cannot be known."""
    try:
        info = os.fstat(fd)
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":  # "->": a process waiting, not the holder
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if int(inode) == info.st_ino and (int(major, 16), int(minor, 16)) == (os.major(info.st_dev),
                                                                                  os.minor(info.st_dev)):
                return f" (process {int(fields[4])})"
        except ValueError:
            continue
    return ""


def _json_line(record: dict[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


class RunDir:
    """Creates, checks, writes and reads one model directory."""

    CONFIG = "config.json"
    VOCAB = "vocab.json"
    WEIGHTS = "model.safetensors"
    CHECKPOINT = "checkpoint"
    TRAINER_STATE = "trainer.pt"
    METRICS = "metrics.jsonl"
    CURVES = "curves.png"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._created = False  # the directory was created by `lock` (removed by `release` if still empty)
        self._fresh = False  # a new run started: its first write removes an earlier run's metrics

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- starting a training run ----------------------------------------------------------------

    def has_checkpoint(self) -> bool:
        return any((self.path / name).exists() for name in (self.CHECKPOINT, self.CHECKPOINT + ".old"))

    def start(self, resume: bool, *, lock: bool | None = None) -> None:
        """Refuse to start a new run over an old one, to resume where there is nothing to resume, or
        to use a directory another training run is using (`lock`: take the directory's lock; None =
        unless this process is a torchrun rank other than 0). A path that cannot become a writable
        directory is refused before any work is done. Nothing is written until the run writes its
        first file: then a new run's old metrics go. Call `release` when the run ends (the lock goes
        with the process anyway)."""
        for existing in (self.path, *self.path.parents):
            if existing.exists():
                if not existing.is_dir():
                    raise SeqrnnError(f"{self.path}: {existing} is a file, not a directory; choose another --out")
                if not os.access(existing, os.W_OK | os.X_OK):
                    raise SeqrnnError(f"{self.path}: cannot write in {existing} (permission denied)")
                break
        if not self.path.exists():
            self._check_start(resume)  # before the lock creates the directory: a refused run makes nothing
        if lock if lock is not None else int(os.environ.get("RANK", "0") or 0) == 0:
            self.lock()
        try:
            self._check_start(resume)  # under the lock (which writes nothing): a refused run touches nothing
        except BaseException:
            self.release()
            raise
        self._fresh = not resume

    def _check_start(self, resume: bool) -> None:
        if resume and not self.has_checkpoint():
            raise SeqrnnError(f"{self.path}: nothing to resume, no {self.CHECKPOINT}/ from an earlier run")
        if not resume and self.has_checkpoint():
            raise SeqrnnError(f"{self.path}: already holds a training run; pass --resume to continue it "
                              "or choose another --out")

    def _begin_writing(self) -> None:
        """Before each write: the first one of a new run removes the metrics of an earlier one."""
        if self._fresh:
            self._fresh = False
            (self.path / self.METRICS).unlink(missing_ok=True)

    def lock(self) -> None:
        """Take the directory's lock (creating the directory), or refuse at once with a one-line error
        if another process holds it. An OS advisory lock on the open directory (`fcntl.flock`), not
        a pid file: nothing is written, and whatever ends the holder, even `kill -9`, releases it."""
        if fcntl is None or self._lock_fd is not None:
            return
        while True:
            created = not self.path.exists()
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except FileNotFoundError:  # the directory was just removed by a run that released it
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _lock_holder(fd)
                os.close(fd)
                if isinstance(exc, BlockingIOError):
                    raise SeqrnnError(f"{self.path}: another training run is using this directory{holder}; wait "
                                      "for it to end, or choose another --out") from None
                if exc.errno in _NO_LOCKS:  # a filesystem without locks: the run goes on unlocked
                    return
                raise SeqrnnError(f"{self.path}: cannot lock {self.path} ({exc.strerror or exc})") from None
            try:  # the holder may have removed the directory between our open and our lock: lock the new one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._lock_fd, self._created = fd, created

    def release(self) -> None:
        """Give the lock back. A directory the lock created that holds nothing (a run refused before
        it wrote anything) is removed, so a failed start leaves no trace."""
        fd, self._lock_fd = self._lock_fd, None
        self._fresh = False
        if fd is None:
            return
        try:
            if self._created and not any(self.path.iterdir()):
                self.path.rmdir()
        except OSError:
            pass
        finally:
            os.close(fd)

    # --- configuration and vocabulary -------------------------------------------------------------

    def write_config(self, task: str, config: dict[str, Any], dataset: dict[str, Any] | None = None,
                     **facts: Any) -> None:
        """config.json: the task, the package version, the configuration, what else rebuilds the
        model (`facts`, e.g. a classifier's `classes`) and facts about the data."""
        self._begin_writing()
        write_json(self.path / self.CONFIG, {"task": task, "seqrnn_version": __version__,
                                             "config_format": CONFIG_FORMAT, **config, **facts,
                                             "dataset": dataset or {}})

    def read_config(self, task: str) -> dict[str, Any]:
        """config.json of a directory that must hold a `task` model or run."""
        config = read_json(self.path / self.CONFIG)
        found = config.get("task") if isinstance(config, dict) else None
        if found != task:
            raise SeqrnnError(f"{self.path}: holds a {found or 'unknown'} model, not a {task} model")
        return config

    def write_vocab(self, vocab: dict[str, Any]) -> None:
        self._begin_writing()
        write_json(self.path / self.VOCAB, vocab)

    def read_vocab(self) -> dict[str, Any]:
        return read_json(self.path / self.VOCAB)

    # --- weights -------------------------------------------------------------------------------

    def save_best(self, state_dict: dict[str, torch.Tensor], metrics: dict[str, Any] | None = None) -> None:
        self._begin_writing()
        save_tensors(self.path / self.WEIGHTS, state_dict, {"metrics": metrics} if metrics else None)

    def best_weights(self) -> dict[str, torch.Tensor]:
        return load_tensors(self.path / self.WEIGHTS)[0]

    def load_model(self, task: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
        """(config, vocabulary, best weights) of a trained model; one-line errors otherwise."""
        if not self.path.is_dir():
            raise SeqrnnError(f"{self.path}: no such model directory")
        for name in (self.CONFIG, self.VOCAB, self.WEIGHTS):
            if not (self.path / name).is_file():
                raise SeqrnnError(f"{self.path}: incomplete model directory, {name} is missing")
        return self.read_config(task), self.read_vocab(), self.best_weights()

    # --- the training checkpoint ---------------------------------------------------------------

    def save_checkpoint(self, model_state: dict[str, torch.Tensor], trainer_state: dict[str, Any]) -> None:
        """Write checkpoint/ as a whole: build it beside, then swap it in with renames.

        A crash between the two renames leaves `checkpoint.old/`, which `load_checkpoint` falls back to.
        """
        self._begin_writing()
        final, staging, old = (self.path / (self.CHECKPOINT + suffix) for suffix in ("", ".new", ".old"))
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        save_tensors(staging / self.WEIGHTS, model_state)
        buffer = io.BytesIO()
        torch.save({"format": CHECKPOINT_FORMAT, **to_device(trainer_state, "cpu")}, buffer)
        atomic_write_bytes(staging / self.TRAINER_STATE, buffer.getvalue())
        fsync_dir(staging)
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        staging.rename(final)
        fsync_dir(self.path)
        shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(model weights, trainer state) of the last complete checkpoint, on the CPU."""
        for candidate in (self.path / self.CHECKPOINT, self.path / (self.CHECKPOINT + ".old")):
            if (candidate / self.WEIGHTS).is_file() and (candidate / self.TRAINER_STATE).is_file():
                model_state, _ = load_tensors(candidate / self.WEIGHTS)
                try:
                    state = torch.load(candidate / self.TRAINER_STATE, map_location="cpu", weights_only=True)
                except Exception as exc:  # unpickling refused or a damaged file: one line either way
                    raise SeqrnnError(f"{candidate / self.TRAINER_STATE}: not a readable checkpoint "
                                      f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
                if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
                    raise SeqrnnError(f"{candidate / self.TRAINER_STATE}: a checkpoint of another format")
                return model_state, state
        raise SeqrnnError(f"{self.path}: nothing to resume, no {self.CHECKPOINT}/ from an earlier run")

    # --- metrics and curves --------------------------------------------------------------------

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line and flush it to disk (a torn last line is skipped by `metrics`).
        Strict JSON: a NaN or infinite value is written as null."""
        self._begin_writing()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / self.METRICS, "a", encoding="utf-8") as f:
            f.write(_json_line(record))
            f.flush()
            os.fsync(f.fileno())

    def truncate_metrics(self, step: int) -> None:
        """Keep only the records up to `step` (a resumed run redoes the steps after its checkpoint)."""
        self._begin_writing()
        kept = [r for r in self.metrics() if r.get("step", 0) <= step]
        atomic_write_bytes(self.path / self.METRICS, "".join(map(_json_line, kept)).encode())

    def metrics(self) -> list[dict[str, Any]]:
        records = []
        path = self.path / self.METRICS
        if path.is_file() and not self._fresh:  # a new run has none yet
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def plot_curves(self) -> None:
        """curves.png from metrics.jsonl: the losses, and the validation accuracy if there is one."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        records = self.metrics()
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
        atomic_write_bytes(self.path / self.CURVES, buffer.getvalue())
