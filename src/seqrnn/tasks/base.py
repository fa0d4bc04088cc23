"""What the estimators share: parameters derived from the task's configuration, and the one `fit`
sequence every task follows (`RecurrentEstimator._fit`).

`_fit` is: run directory (`rundir.RunDir`, a temporary one without `out_dir`) -> configuration (the
preset with the given settings, or the saved one on `resume`) -> runtime (seed, threads, device,
process group) -> the task's data, split and encoded with its vocabulary (built, or read back on
resume) -> the task's batches (refusing what would not fit in memory) -> the network -> its
starting weights -> the shared `Trainer`. A
task module fills in four small hooks: `_prepare` (data -> `Prepared`), `_start_weights`, `_task`
and, for facts learnt from the data besides the configuration, `_model_extras`/`_facts`/
`_restore_facts`/`_check_resume`. Shared by every task: `_require_training_memory` (the refusal of a
model and batch that would not fit) and `vector_texts` (what word vectors are counted over).

A subclass names its `task`, its `config_class`, `model_class`, `vocab_class` and `presets`, and gets an `__init__` whose
keyword parameters are `preset`, every setting of the configuration (None = the preset's value)
and the `RunOptions` (budget, threads, device, ...). The signature is real (`inspect.signature`,
`help()`, scikit-learn's `get_params`/`clone` all see it), and it is built from the dataclass
fields, so a new setting needs no edit here.

scikit-learn's contract: the estimators take text, not numeric arrays (their tags say so), raise
`NotFittedError` before `fit`, and leave the process as they found it: `fit` seeds torch and sets
its thread count only for its own duration (`runtime.preserved_global_state`), and inference sets
the `threads` parameter only while it runs (`_inference`). A loaded model's `get_params()` is the
configuration it was trained with, so `clone(loaded)` trains the same model again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from seqrnn import config as configs
from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError
from seqrnn.memory import activation_floats, require_model
from seqrnn.training import distributed
from seqrnn.training.rundir import RunDir
from seqrnn.training.runtime import interrupts_raise, preserved_global_state, setup_runtime, torch_threads
from seqrnn.training.trainer import Trainer

if TYPE_CHECKING:
    from seqrnn.text.tokens import TokenizedTexts


@dataclass
class Prepared:
    """A task's data, ready to train on: the vocabulary, what the task's batches are made from, and
    what config.json records of the data (`description`, its "dataset" entry)."""

    vocab: Any
    train: Any
    val: Any
    description: dict[str, Any] = field(default_factory=dict)
    embedding_texts: "Sequence[str] | TokenizedTexts" = ()  # what word vectors are counted over (`embed_init="ppmi"`)
    start: Any = None  # a trained model the weights start from (the classifier's `init_from`)
    val_from_train: bool = True  # the validation part was held out of the training data (not given apart)


def vector_texts(tokens: "TokenizedTexts", rows: np.ndarray, more: "Sequence[str] | TokenizedTexts" = ()
                 ) -> "TokenizedTexts":
    """What word vectors are counted over (`embed_init="ppmi"`, `Prepared.embedding_texts`): the
    training texts `rows` of `tokens`, then the texts `more` (unlabelled ones), in that order,
    `wordvectors.MAX_VECTOR_TEXTS` at most; never a held-out text."""
    from seqrnn.text.tokens import TokenizedTexts, as_tokens
    from seqrnn.text.wordvectors import MAX_VECTOR_TEXTS

    counted = rows[:MAX_VECTOR_TEXTS]
    room = MAX_VECTOR_TEXTS - len(counted)
    if isinstance(more, TokenizedTexts):
        more = more.take(np.arange(min(len(more), room)))
    else:
        more = as_tokens(list(more)[:room])
    return TokenizedTexts.concatenate([tokens.take(counted), more])


class NotTrainedError(SeqrnnError, NotFittedError):
    """Using an estimator before `fit` or `load` (scikit-learn's NotFittedError, and one line on the CLI)."""


def _estimator_init(config_class: type) -> Callable:
    """An `__init__(self, preset="default", *, <every setting>=None, <run options>)` for sklearn."""
    defaults = {name: None for name in configs.flat_fields(config_class)}  # None: the preset's value
    defaults.update({f.name: f.default for f in fields(configs.RunOptions)})

    def __init__(self, preset: str = "default", **params: Any) -> None:
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}")
        self.preset = preset
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                  inspect.Parameter("preset", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="default")]
    parameters += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                   for name, default in defaults.items()]
    __init__.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return __init__


class RecurrentEstimator(BaseEstimator):
    """Base of every task's estimator: parameters, fit skeleton, save and load.

    Subclasses set `task`, `config_class`, `model_class`, `vocab_class` and `presets`, fill in
    `_prepare` and `_task` (and `_start_weights` when the weights start from something learnt), and
    may override the three hooks that carry facts learnt from the data besides the configuration
    (the classifier's classes): `_model_extras`, `_facts` and `_restore_facts`. The per-run options
    reach every hook one way, checked: `run_options()`.
    """

    task: str = ""
    config_class: type = configs.TaskConfig
    model_class: type = torch.nn.Module
    vocab_class: type = object
    presets: dict[str, configs.TaskConfig] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__:
            cls.__init__ = _estimator_init(cls.config_class)  # type: ignore[method-assign]

    # --- configuration -------------------------------------------------------------------------

    def resolved_config(self) -> configs.TaskConfig:
        """The preset with this estimator's settings applied, checked."""
        overrides = {name: getattr(self, name) for name in configs.flat_fields(self.config_class)}
        return configs.resolve(self.presets, self.preset, overrides)

    def run_options(self) -> configs.RunOptions:
        """This estimator's per-run options (budget, threads, device, ...), checked."""
        return configs.RunOptions(**{f.name: getattr(self, f.name) for f in fields(configs.RunOptions)})

    def _set_params_from(self, config: configs.TaskConfig) -> None:
        """Make get_params() describe `config` (a loaded model clones into the same configuration)."""
        for name, value in config.flat().items():
            setattr(self, name, value)

    # --- training ------------------------------------------------------------------------------

    def _fit(self, data: Any, out_dir: str | Path | None, resume: bool, source: str | None):
        """The training sequence of every task (the module docstring); `data` is what the task's
        `fit` checked, handed to its `_prepare`. Returns self, trained."""
        started = time.perf_counter()
        with self._run_directory(out_dir, resume) as run:
            config = self._start_config(run, resume)
            if resume:
                self._check_resume(run.read_config(self.task), run)
            device = self._setup(config)
            with interrupts_raise("preparing the data"):
                saved_vocab = self.vocab_class.from_dict(run.read_vocab()) if resume else None
                with distributed.main_first(self.ranks_):  # the other ranks map what rank 0 cached
                    prepared = self._prepare(data, config, saved_vocab)
                if not resume:
                    self.dataset_ = {"source": source, **prepared.description}
                task = self._task(prepared, config, device)  # before the model: it refuses what cannot fit
                model = self._new_model(len(prepared.vocab), config)
                if not resume:
                    self._start_weights(model, prepared, config)
            self.model_ = self._train(model, task, run, device, config, prepared.vocab, resume, started,
                                      plot=out_dir is not None)
            self.vocab_ = prepared.vocab
            self._after_training(prepared, config, run)
        return self

    # the task's steps of `_fit`
    def _prepare(self, data: Any, config: configs.TaskConfig, vocab: Any) -> Prepared:
        """Split and encode `data`; `vocab` is the saved vocabulary on resume, else None (build it)."""
        raise NotImplementedError

    def _start_weights(self, model: torch.nn.Module, prepared: Prepared, config: configs.TaskConfig) -> None:
        """Start a new run's weights from something learnt (word vectors, a language model); by
        default they keep PyTorch's random initialisation."""

    def _task(self, prepared: Prepared, config: configs.TaskConfig, device: torch.device):
        """The `train.Task` that gives the training loop its batches, loss and validation; it also
        refuses, naming the setting, a model or batch that would not fit in the device's memory."""
        raise NotImplementedError

    def _after_training(self, prepared: Prepared, config: configs.TaskConfig, run: RunDir) -> None:
        """What a task learns once the network has its best weights (a text classifier's n-gram
        model), written into the run's directory by rank 0; by default nothing."""

    def _new_model(self, vocab_size: int, config: configs.TaskConfig) -> torch.nn.Module:
        """The task's network for a vocabulary of `vocab_size`: the `model` settings and `_model_extras`."""
        return self.model_class(vocab_size, **config.to_dict()["model"], **self._model_extras())

    def _require_training_memory(self, config: configs.TaskConfig, vocab_size: int, device: torch.device,
                                 steps: str, floats_per_token: int = 0) -> None:
        """Refuse, naming the option, a configuration whose model and batch need more memory than
        `device` has (`seqrnn.memory`), for `_task`. One batch is `batch_size` x the data setting
        `steps` tokens ("seq_len", "num_steps"), each keeping its embedding, the recurrent stack's
        gates and `floats_per_token` more floats (a one-hot input: the vocabulary) for the backward
        pass."""
        m, batch, length = config.model, config.training.batch_size, getattr(config.data, steps)
        directions = 2 if getattr(m, "bidirectional", False) else 1
        per_token = floats_per_token + m.embed_size + activation_floats(m.cell, m.hidden_size, m.num_layers,
                                                                        directions)
        require_model(lambda: self._new_model(vocab_size, config),
                      {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "embed_size": m.embed_size}, device,
                      [(f"batch_size {batch} x {steps} {length} (one batch's activations)",
                        batch * length * per_token * 4, f"lower batch_size or {steps}")])

    def _check_resume(self, saved: dict[str, Any], run: RunDir) -> None:
        """Refuse to resume the run whose config.json is `saved` with different facts of the data."""

    @contextlib.contextmanager
    def _run_directory(self, out_dir: str | Path | None, resume: bool) -> Iterator[RunDir]:
        """The run's directory, checked (a temporary one, removed afterwards, when `out_dir` is None).

        Everything `fit` does happens inside it, so torch's random state and thread count, which
        `_setup` changes, are given back to the caller on exit (`train.preserved_global_state`)."""
        with preserved_global_state():
            if out_dir is None:
                if resume:
                    raise SeqrnnError("resuming needs the directory of the earlier run")
                with tempfile.TemporaryDirectory(prefix="seqrnn-") as scratch:
                    yield RunDir(scratch)
                return
            run = RunDir(out_dir)
            run.start(resume)  # takes the directory's lock (rank 0)
            try:
                yield run
            finally:
                run.release()

    def _start_config(self, run: RunDir, resume: bool) -> configs.TaskConfig:
        """This run's configuration: resolved from the preset, or the saved one when resuming. A
        resumed run may train more epochs (and change the run options), nothing else: a setting
        given that differs from the saved one is refused."""
        if not resume:
            return self.resolved_config()
        raw = run.read_config(self.task)
        try:
            saved = self.config_class.from_dict(raw)
        except SeqrnnError as exc:
            raise SeqrnnError(f"{run.path / RunDir.CONFIG}: {exc}") from None
        for name, value in saved.flat().items():
            given = getattr(self, name)
            if name != "epochs" and given is not None and given != value:
                raise SeqrnnError(f"cannot resume with {name}={given!r}: the run in {run.path} was started with "
                                  f"{name}={value!r} (a resumed run may change only epochs, max_minutes, "
                                  "checkpoint_every, skip_nonfinite, threads and device)")
        self.dataset_ = raw.get("dataset", {})
        return saved.replace(epochs=self.epochs)

    def _train(self, model: torch.nn.Module, task, run: RunDir, device: torch.device, config: configs.TaskConfig,
               vocab, resume: bool, started: float, plot: bool) -> torch.nn.Module:
        """Run the shared loop into `run`; the model comes back with the best weights, on the CPU.

        A new run's config.json and vocab.json are written here, once the data and settings have
        passed every check. `started` (time.perf_counter() when fit began): the preparation since
        then (encoding, word vectors) counts in the run's elapsed time and its max_minutes budget."""
        ranks, options = self.ranks_, self.run_options()
        if not resume and ranks.is_main:
            run.write_config(self.task, config.to_dict(), self.dataset_, **self._facts())
            run.write_vocab(vocab.to_dict())
        distributed.barrier(ranks)
        trainer = Trainer(model, task, config.training, run, device, ranks=ranks, max_minutes=options.max_minutes,
                          checkpoint_every=options.checkpoint_every, skip_nonfinite=options.skip_nonfinite,
                          prepared_s=time.perf_counter() - started, quiet=options.quiet,
                          tensorboard=options.tensorboard)
        if resume:
            trainer.resume()
        self.summary_ = trainer.fit()
        self.config_ = config
        if ranks.is_main:  # the other ranks keep their last weights: rank 0 wrote the best
            if plot:
                run.plot_curves()
            if not (run.path / RunDir.WEIGHTS).is_file():
                raise SeqrnnRuntimeError(f"training ended at step {self.summary_['step']} without a finite validation "
                                         "result, so there is no best model to keep; train more epochs")
            model.load_state_dict(run.best_weights())
        return model.to("cpu").eval()

    def _setup(self, config: configs.TaskConfig) -> torch.device:
        """Seeds, threads, this process's rank (`ranks_`, under torchrun) and device. Call it inside
        `_run_directory`, which gives the process-wide settings back afterwards."""
        options = self.run_options()
        if options.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise SeqrnnError("--tensorboard needs the tensorboard package: pip install 'seqrnn[tensorboard]'")
        self.ranks_, device = setup_runtime(config.training.seed, options.threads, options.device)
        return device

    # --- trained models ------------------------------------------------------------------------

    def __sklearn_tags__(self):
        """scikit-learn's tags: the input is text (strings), not a numeric 2-D array."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        """True once `fit` or `load` has given this estimator a model (`sklearn.utils.validation.check_is_fitted`)."""
        return hasattr(self, "model_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotTrainedError(f"this {type(self).__name__} is not trained yet: call fit() or load()")

    @contextlib.contextmanager
    def _inference(self) -> Iterator[torch.device]:
        """Where a trained model predicts: `model_` moved to the `device` parameter's device (auto =
        CUDA when present), in eval mode and without autograd, with torch's and the BLAS's threads
        set to the `threads` parameter for the duration (None: left as they are)."""
        self._check_fitted()
        options = self.run_options()
        device = distributed.resolve_device(options.device)
        with torch_threads(options.threads), torch.no_grad():
            self.model_.to(device).eval()
            yield device

    # hooks for facts learnt from the data that rebuild the model with the configuration
    def _model_extras(self) -> dict[str, Any]:
        """Keyword arguments of the model's constructor besides the vocabulary size and `model` settings."""
        return {}

    def _facts(self) -> dict[str, Any]:
        """Entries of config.json besides the configuration (JSON values)."""
        return {}

    def _restore_facts(self, saved: dict[str, Any]) -> None:
        """Read back what `_facts` wrote (`saved` is the whole config.json)."""

    def _write_extras(self, directory: Path) -> None:
        """Write what the task keeps besides the network's weights into a model directory (a text
        classifier's n-gram model, a series classifier's baseline), or remove a stale copy; by
        default nothing."""

    def _read_extras(self, directory: Path, saved: dict[str, Any]) -> None:
        """Read back what `_write_extras` wrote (`saved` is the whole config.json); by default nothing."""

    def save(self, directory: str | Path) -> None:
        """Write the model directory (config.json, vocab.json, model.safetensors, and what the task
        keeps besides: a text classifier's ngrams.safetensors, a series classifier's baseline).

        Parameters
        ----------
        directory : str or Path
            Created if missing; files already there are replaced.
        """
        self._check_fitted()
        run = RunDir(directory)
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(self.task, self.config_.to_dict(), getattr(self, "dataset_", None), **self._facts())
        run.write_vocab(self.vocab_.to_dict())
        run.save_best(self.model_.state_dict())
        self._write_extras(run.path)

    @classmethod
    def load(cls, directory: str | Path):
        """A trained estimator from its model directory (written by `fit(out_dir=...)`, `save` or
        the `train` command); its `get_params()` are the settings it was trained with.

        Parameters
        ----------
        directory : str or Path
            The model directory.

        Returns
        -------
        estimator
            Fitted, on the CPU, ready to predict (or sample and evaluate). Loading leaves torch's
            random state and thread count as they were.
        """
        config_dict, vocab_dict, weights = RunDir(directory).load_model(cls.task)
        estimator = cls()
        try:
            config = cls.config_class.from_dict(config_dict)
            vocab = cls.vocab_class.from_dict(vocab_dict)
            estimator._restore_facts(config_dict)
        except SeqrnnError as exc:
            raise SeqrnnError(f"{directory}: {exc}") from None
        try:
            # building the network draws its initial weights: not from the caller's random stream
            with torch.random.fork_rng(devices=[]):
                model = estimator._new_model(len(vocab), config)
            model.load_state_dict(weights)
        except (RuntimeError, TypeError, KeyError) as exc:
            raise SeqrnnError(f"{directory}: weights do not match config.json and vocab.json "
                              f"({str(exc).splitlines()[0]})") from None
        estimator._set_params_from(config)
        estimator.model_, estimator.vocab_, estimator.config_ = model.eval(), vocab, config
        estimator.dataset_ = config_dict.get("dataset", {})
        estimator._read_extras(Path(directory), config_dict)
        return estimator
