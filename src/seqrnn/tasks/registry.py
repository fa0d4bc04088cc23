"""The tasks seqrnn knows, by the name their model directories carry (config.json's "task").

Each entry says what the command line, the server and the exporter need of a task: its estimator
class, what a model of it is called, its configuration and presets (the `train` command's flags),
the command that works with it, the `seqrnn serve` option that loads one, and the form of graph
`seqrnn export` writes of it. Classes are named as "module:attribute" and imported on first use,
so reading the registry (as `seqrnn --help` does) loads no library.

A task is one module (its configuration, estimator and hooks) and one line here, or one call of
`register` from anywhere:

    register(Task("regress", "mypackage.regressor:TextRegressor", "text regressor"))
    TASKS["regress"].load("models/reg")        # its estimator, loaded from a model directory
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqrnn.errors import SeqrnnError


def _resolve(reference: str) -> Any:
    """The object that "package.module:attribute" names, its module imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Task:
    """One task: its name in config.json and what the rest of seqrnn needs of it."""

    name: str  # config.json's "task": never changes once models of it are saved
    estimator: str  # "module:Class" of its estimator (a `RecurrentEstimator`)
    description: str  # what a model of it is called in messages ("sentiment model")
    config: str | None = None  # "module:Class" of its `TaskConfig` (None: the estimator's `config_class`)
    presets: str | None = None  # "module:NAME" of its presets (None: the estimator's `presets`)
    commands: tuple[str, ...] = ()  # the command line's names for it (`seqrnn classify ...`), first the main one
    serve_option: str | None = None  # the `seqrnn serve` option that loads a model of it
    export: str | None = None  # the graph `seqrnn export` writes of it ("classifier", "char_step", ...); None: none

    def estimator_class(self) -> type:
        """The estimator class (its module imported now)."""
        return _resolve(self.estimator)

    def config_class(self) -> type:
        """The configuration class; from `seqrnn.config` or another light module when `config` names
        one, so that the command line's flags need no estimator."""
        return _resolve(self.config) if self.config else self.estimator_class().config_class

    def preset_configs(self) -> dict[str, Any]:
        """{preset name: configuration}."""
        return _resolve(self.presets) if self.presets else self.estimator_class().presets

    def load(self, directory: str | Path):
        """The trained estimator in a model directory of this task (`RecurrentEstimator.load`)."""
        return self.estimator_class().load(directory)


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task (or replace the one of the same name: the same task registered again)."""
    TASKS[task.name] = task
    return task


register(Task("sentiment", "seqrnn.tasks.classifier:TextClassifier", "sentiment model",
              "seqrnn.config:ClassifierConfig", "seqrnn.config:CLASSIFIER_PRESETS", ("classify", "sentiment"),
              serve_option="--sentiment", export="classifier"))
register(Task("charlm", "seqrnn.tasks.charlm:CharLanguageModel", "character language model",
              "seqrnn.config:CharLMConfig", "seqrnn.config:CHARLM_PRESETS", ("charlm",),
              serve_option="--charlm", export="char_step"))
register(Task("lm", "seqrnn.tasks.wordlm:WordLanguageModel", "word language model",
              "seqrnn.config:LMConfig", "seqrnn.config:LM_PRESETS", ("lm",)))
register(Task("series", "seqrnn.tasks.series:SeriesClassifier", "series classifier", "seqrnn.config:SeriesConfig",
              "seqrnn.config:SERIES_PRESETS", ("classify",), serve_option="--series", export="series_classifier"))
register(Task("forecast", "seqrnn.tasks.forecast:Forecaster", "forecaster",
              "seqrnn.config:ForecastConfig", "seqrnn.config:FORECAST_PRESETS", ("forecast",),
              serve_option="--forecast", export="forecast_step"))


def get(name: str) -> Task:
    """The task of that name (config.json's), or a one-line error naming the known ones."""
    if name not in TASKS:
        raise SeqrnnError(f"unknown task {name!r}: seqrnn knows {', '.join(TASKS)}")
    return TASKS[name]


def for_command(command: str) -> Task:
    """The task that a command of the command line works with (`classify`, its alias `sentiment`, ...)."""
    for task in TASKS.values():
        if command in task.commands:
            return task
    raise SeqrnnError(f"no task has the command {command!r}")


def saved_task(directory: str | Path) -> str | None:
    """The task a model directory's config.json names (None: none, or no readable config.json)."""
    try:
        saved = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    task = saved.get("task") if isinstance(saved, dict) else None
    return task if isinstance(task, str) else None


def load(directory: str | Path):
    """The trained estimator in a model directory, of the task its config.json names."""
    name = saved_task(directory)
    if name not in TASKS:
        raise SeqrnnError(f"{directory}: holds a {name or 'unknown'} model, which is not a task seqrnn knows "
                          f"({', '.join(TASKS)})")
    return TASKS[name].load(directory)
