"""What the two estimators share: presets, scikit-learn parameters, training into a model directory."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from sklearn.base import BaseEstimator

from seqrnn import storage
from seqrnn.errors import SeqrnnError
from seqrnn.train import TrainSettings, fit

# flags that mean the same in both tasks, copied from the command line onto the estimator
SHARED_FLAGS = ("cell", "num_layers", "hidden_size", "embed_size", "dropout", "batch_size", "lr", "grad_clip",
                "epochs", "max_minutes", "val_fraction", "limit", "seed", "threads", "device", "eval_every")


class RecurrentEstimator(BaseEstimator):
    """Base of SentimentClassifier and CharLanguageModel. Subclasses set `task` and `presets`.

    Constructor parameters left as None take the preset's value; `resolved_config()` is the result.
    """

    task: str = ""
    presets: dict[str, dict[str, Any]] = {}

    def resolved_config(self) -> dict[str, Any]:
        if self.preset not in self.presets:
            raise SeqrnnError(f"unknown preset {self.preset!r}: choose from {', '.join(self.presets)}")
        config = dict(self.presets[self.preset])
        for key in config:
            value = getattr(self, key, None)
            if value is not None:
                config[key] = value
        for key in ("dropout", "embed_dropout"):
            if key in config and not 0.0 <= config[key] < 1.0:
                raise SeqrnnError(f"--{key.replace('_', '-')} must be in [0, 1), got {config[key]}")
        if config["lr"] <= 0:
            raise SeqrnnError(f"--lr must be positive, got {config['lr']}")
        if config["grad_clip"] < 0:
            raise SeqrnnError(f"--grad-clip must be 0 (off) or positive, got {config['grad_clip']}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise SeqrnnError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        return config

    def _saved_config(self, out_dir) -> dict[str, Any]:
        """For --resume: the configuration the run in `out_dir` started with (only --epochs may change)."""
        if out_dir is None:
            raise SeqrnnError("resuming needs the directory of the earlier run")
        saved = storage.read_json(Path(out_dir) / storage.CONFIG)
        if saved.get("task") != self.task:
            raise SeqrnnError(f"{out_dir}: holds a {saved.get('task')} run, not a {self.task} run")
        if self.epochs is not None:
            saved["training"]["epochs"] = self.epochs
        return saved

    def _train(self, model: torch.nn.Module, task, device: torch.device, config: dict, vocab: dict,
               out_dir, resume: bool, started: float) -> torch.nn.Module:
        """Run the shared loop into `out_dir` (a temporary directory if None); load the best weights.

        `started` (time.perf_counter() when fit began): the preparation since then (encoding, word
        vectors) counts in the run's elapsed time and its --max-minutes budget."""
        training = config["training"]
        settings = TrainSettings(epochs=training["epochs"], lr=training["lr"], grad_clip=training["grad_clip"],
                                 weight_decay=training.get("weight_decay", 0.0),
                                 schedule=training.get("schedule", "constant"),
                                 warmup_steps=training.get("warmup_steps", 0), eval_every=self.eval_every,
                                 max_minutes=self.max_minutes, prepared_s=time.perf_counter() - started)
        with tempfile.TemporaryDirectory(prefix="seqrnn-") as scratch:
            directory = Path(out_dir) if out_dir is not None else Path(scratch)
            if not resume:
                storage.write_json(directory / storage.CONFIG, {"task": self.task, **config})
                storage.write_json(directory / storage.VOCAB, vocab)
            self.summary_ = fit(model, task, settings, directory, device, resume=resume)
            weights, _ = storage.load_tensors(directory / storage.WEIGHTS)
        model.load_state_dict(weights)
        self.config_ = config
        return model.to("cpu").eval()

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise SeqrnnError(f"this {type(self).__name__} is not trained yet: call fit() or load()")

    def save(self, directory: str | Path) -> None:
        """Write the model directory (config.json, vocab.json, model.safetensors)."""
        self._check_fitted()
        storage.save_model(Path(directory), self.task, self.config_, self.vocab_.to_dict(), self.model_.state_dict())

    @classmethod
    def _load_model(cls, directory, model_class) -> tuple[dict, dict, torch.nn.Module]:
        config, vocab, weights = storage.load_model(Path(directory), cls.task)
        try:
            model = model_class(**config["model"])
            model.load_state_dict(weights)
        except (RuntimeError, TypeError, KeyError) as exc:
            raise SeqrnnError(f"{directory}: weights do not match config.json ({str(exc).splitlines()[0]})") from None
        return config, vocab, model.eval()


def estimator_kwargs(args) -> dict[str, Any]:
    """The estimator parameters given on a `train` command line (absent flags stay None)."""
    return {k: getattr(args, k) for k in SHARED_FLAGS if hasattr(args, k)}
