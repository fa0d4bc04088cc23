"""Character-level language model: the book's CharRNN, a stronger default, sampling, and the CLI.

Training reads the corpus the book's way (`batch_size` parallel streams, windows of `num_steps`
characters, targets shifted by one) and carries the hidden state from one window to the next,
detached between windows (truncated BPTT) and reset at every epoch. Validation is the last
`val_fraction` of the corpus.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from seqrnn.config import CHARLM_PRESETS, CharLMConfig
from seqrnn.data import load_text
from seqrnn.errors import InvalidInputError, InvalidInputTypeError, SeqrnnError
from seqrnn.estimator import RecurrentEstimator, estimator_params, load_for_inference
from seqrnn.memory import activation_floats, require, require_model
from seqrnn.models import CharRNN, detach_state
from seqrnn.preprocess import CharVocabulary, reshape_stream
from seqrnn.sampling import (DEFAULT_SEED, check_sampling_options, command_seed, effective_top_n, generate,
                              print_samples, sampler_bytes_per_stream)
from seqrnn.train import progress, torch_threads

TASK = "charlm"
EVALUATE_BYTES_PER_CHAR = 24  # evaluate's peak memory per character of text: its codes, positions and ids


def split_corpus(text: str, val_fraction: float) -> tuple[str, str]:
    """The last `val_fraction` of the corpus is held out for validation."""
    cut = len(text) - int(round(len(text) * val_fraction))
    return text[:cut], text[cut:]


def stream_loss(model: CharRNN, ids: np.ndarray, device: torch.device, rows: int | None = None,
                window: int = 256, progress: Callable[[int], None] | None = None) -> tuple[float, int]:
    """Mean cross-entropy (nats) of predicting ids[1:] from what precedes, and how many were predicted.

    The stream is cut into `rows` contiguous rows run in parallel, each from a zero state, in windows
    of `window` characters with the state carried; the characters left over at the end continue from
    the last row's final state, so every character after the first is predicted exactly once.
    `progress(n)` is told of the characters done after each window.
    """
    n = len(ids) - 1
    if n < 1:
        return float("nan"), 0
    rows = max(1, min(rows or min(64, n // 2000), n))
    length = n // rows
    x = torch.as_tensor(ids[: rows * length].reshape(rows, length), device=device)
    y = torch.as_tensor(ids[1 : rows * length + 1].reshape(rows, length), device=device)
    total, state = 0.0, None
    for start in range(0, length, window):
        logits, state = model(x[:, start : start + window], state)
        total += F.cross_entropy(logits.flatten(0, 1), y[:, start : start + window].flatten(), reduction="sum").item()
        if progress is not None:
            progress(rows * min(window, length - start))
    tail = n - rows * length
    if tail:
        last = tuple(s[:, -1:].contiguous() for s in state) if isinstance(state, tuple) else state[:, -1:].contiguous()
        tx = torch.as_tensor(ids[rows * length : n][None], device=device)
        ty = torch.as_tensor(ids[rows * length + 1 :][None], device=device)
        logits, _ = model(tx, last)
        total += F.cross_entropy(logits.flatten(0, 1), ty.flatten(), reduction="sum").item()
        if progress is not None:
            progress(tail)
    return total / n, n


class CharStreamTask:
    """Truncated BPTT over `batch_size` parallel streams for the shared training loop."""

    monitor = ("loss", "min")

    def __init__(self, train_ids: np.ndarray, val_ids: np.ndarray, batch_size: int, num_steps: int,
                 device: torch.device, eval_batch_size: int | None = None):
        x, y = reshape_stream(train_ids, batch_size, num_steps)
        self.x = torch.as_tensor(x, dtype=torch.long, device=device)
        self.y = torch.as_tensor(y, dtype=torch.long, device=device)
        self.num_steps = num_steps
        self.val_ids = val_ids
        self.device = device
        self.eval_rows = eval_batch_size

    def batches_per_epoch(self) -> int:
        return self.x.shape[1] // self.num_steps

    def batch(self, epoch: int, index: int):
        window = slice(index * self.num_steps, (index + 1) * self.num_steps)
        return self.x[:, window], self.y[:, window]

    def loss(self, model, batch, carry):
        x, y = batch
        logits, state = model(x, carry)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        return loss, detach_state(state), x.numel()

    def validate(self, model) -> dict[str, float]:
        loss, _ = stream_loss(model, self.val_ids, self.device, self.eval_rows)
        return {"loss": loss, "bits_per_char": loss / math.log(2)}


def _require_training_memory(config: CharLMConfig, vocab_size: int, train_chars: int, device: torch.device) -> None:
    """Refuse, naming the option, a configuration whose model, batch and text need more memory than
    `device` has (`seqrnn.memory`)."""
    m, batch, steps = config.model, config.training.batch_size, config.data.num_steps
    per_token = vocab_size + m.embed_size + activation_floats(m.cell, m.hidden_size, m.num_layers)
    require_model(lambda: CharRNN(vocab_size, **config.to_dict()["model"]),
                  {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "embed_size": m.embed_size}, device,
                  [(f"batch_size {batch} x num_steps {steps} (one batch's activations)", batch * steps * per_token * 4,
                    "lower batch_size or num_steps"),
                   (f"the text ({train_chars:,} characters as token ids)", train_chars * 16, "train on less text")])


class CharLanguageModel(RecurrentEstimator):
    """A character-level recurrent language model (many-to-many) with scikit-learn's conventions.

    It learns a text one character at a time, as the book's CharRNN learns *Hamlet*, then writes
    text in its style (`sample`) and scores held-out text (`evaluate`).

    Parameters
    ----------
    preset : {"default", "book"}
        Where every setting not given starts. ``"book"`` is the chapter's CharRNN exactly: one-hot
        input, LSTM 128, dropout 0.5, 64 streams x 100-step windows, Adam 1e-3, clipping at 5, 100
        epochs. ``"default"`` is the best the project measured for a 2-core CPU (README: 1.61
        nats/char on Hamlet against the book's 1.89, in less time): embedding 64, LSTM 512,
        dropout 0.25, 32 streams, AdamW 3e-3 with a cosine schedule, 12 epochs.
    **settings
        Every field of `seqrnn.config.CharLMConfig` (model: `cell`, `num_layers`, `hidden_size`,
        `dropout`, `embed_size`; data: `num_steps`, `val_fraction`, `limit`; training: `epochs`,
        `batch_size`, `lr`, `weight_decay`, `grad_clip`, `schedule`, `warmup_steps`,
        `final_lr_fraction`, `eval_every`, `seed`). None (the default) takes the preset's value;
        `seqrnn charlm train --help` describes each, with both presets' values.
    max_minutes, checkpoint_every, skip_nonfinite, threads, device, quiet, eval_batch_size
        How a call runs (`seqrnn.config.RunOptions`), not part of the model: the training budget,
        checkpoints, the NaN guard, torch's CPU threads (set only while a call runs), the device
        ("auto" = CUDA when present), no progress output, and the rows of text evaluated at once.

    Attributes
    ----------
    model_ : CharRNN
        The network with the best weights by validation loss.
    vocab_ : CharVocabulary
        The characters of the training text, sorted by code point.
    config_ : CharLMConfig
        The configuration trained with; a loaded model's `get_params()` returns it too.
    summary_ : dict
        How training ended (after `fit`).

    Examples
    --------
    >>> lm = CharLanguageModel(preset="book").fit(text)                 # doctest: +SKIP
    >>> print(lm.sample(length=500, start="The ", top_n=5, seed=123))   # doctest: +SKIP
    """

    task = TASK
    config_class = CharLMConfig
    presets = CHARLM_PRESETS

    def fit(self, text: str, y=None, *, out_dir: str | Path | None = None, resume: bool = False,
            source: str | None = None) -> "CharLanguageModel":
        """Train on `text`; the last `val_fraction` of it is held out for validation.

        Parameters
        ----------
        text : str
            The corpus, one string.
        y : None
            Ignored (scikit-learn's signature).
        out_dir : str or Path, optional
            Keep the run there (checkpoints, metrics, curves) so it can be resumed; otherwise it
            lives in a temporary directory.
        resume : bool
            Continue the run in `out_dir` from its checkpoint.
        source : str, optional
            Where the text came from, recorded in config.json.

        Returns
        -------
        self
        """
        started = time.perf_counter()
        if not isinstance(text, str):
            raise InvalidInputTypeError(f"text must be one string (the corpus), got {type(text).__name__}")
        if not text:
            raise InvalidInputError("the corpus is empty")
        with self._run_directory(out_dir, resume) as run:
            config = self._start_config(run, resume)
            device = self._setup(config)
            data = config.data
            train_text, val_text = split_corpus(text[: data.limit] if data.limit else text, data.val_fraction)
            if resume:
                vocab = CharVocabulary.from_dict(run.read_vocab())
            else:
                vocab = CharVocabulary.build(train_text)
                self.dataset_ = {"source": source, "train_chars": len(train_text), "val_chars": len(val_text)}
            train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text, unknown="skip")
            if not data.val_fraction:  # no held-out text: select on the training text itself
                val_ids = train_ids
            _require_training_memory(config, len(vocab), len(train_ids), device)
            task = CharStreamTask(train_ids, val_ids, config.training.batch_size, data.num_steps, device,
                                  self.run_options().eval_batch_size)
            if len(val_ids) < 2:
                raise SeqrnnError(f"the held-out part ({len(val_text)} characters, {len(val_ids)} known) is too "
                                  "short to validate on: raise val_fraction, or set it to 0")
            model = CharRNN(len(vocab), **config.to_dict()["model"])
            self.model_ = self._train(model, task, run, device, config, vocab, resume, started,
                                      plot=out_dir is not None)
        self.vocab_ = vocab
        return self

    # --- using a trained model ------------------------------------------------------------------

    def start_ids(self, start: str, ignore_unknown: bool = False) -> np.ndarray:
        """The ids of the start text's characters.

        Parameters
        ----------
        start : str
            The text that primes the model.
        ignore_unknown : bool
            Drop characters the model never saw instead of refusing them (`unknown_start_chars`
            names them).

        Returns
        -------
        ndarray of int64
        """
        self._check_fitted()
        unknown = self.unknown_start_chars(start)
        if unknown and not ignore_unknown:
            shown = ", ".join(repr(c) for c in unknown)
            raise SeqrnnError(f"the start text has characters the model never saw: {shown} (use --ignore-unknown to drop them)")
        ids = self.vocab_.encode(start, unknown="skip")
        if len(ids) == 0:
            dropped = f" ({', '.join(repr(c) for c in unknown)} dropped as unknown)" if unknown else ""
            raise SeqrnnError(f"the start text must contain at least one character the model knows{dropped}")
        return ids

    def unknown_start_chars(self, start: str) -> list[str]:
        """The distinct characters of `start` the model never saw (what `ignore_unknown` drops)."""
        self._check_fitted()
        return self.vocab_.unknown_chars(start)

    def sample_stream(self, length: int = 500, start: str = "The ", *, top_n: int | None = None,
                      top_p: float | None = None, temperature: float = 1.0, seed: int | None = DEFAULT_SEED,
                      num_samples: int = 1, ignore_unknown: bool = False):
        """Yield the generated characters step by step, as a list of `num_samples` strings each.

        The options are `sample`'s. The generator runs NumPy's recurrent step on the CPU (faster, one
        character at a time, than a model call on any device) with the caller's thread settings
        (`sample` applies the `threads` parameter).
        """
        check_sampling_options(length=length, temperature=temperature, top_n=top_n, top_p=top_p,
                               num_samples=num_samples, stream_bytes=sampler_bytes_per_stream(self.model_))
        top_n = effective_top_n(top_n, top_p)
        ids = self.start_ids(start, ignore_unknown)
        chars = self.vocab_.chars
        for step_ids in generate(self.model_, ids, length, temperature=temperature, top_n=top_n, top_p=top_p,
                                 seed=seed, num_samples=num_samples):
            yield [chars[i] for i in step_ids]

    def sample(self, length: int = 500, start: str = "The ", *, top_n: int | None = None,
               top_p: float | None = None, temperature: float = 1.0, seed: int | None = DEFAULT_SEED,
               num_samples: int = 1, ignore_unknown: bool = False):
        """Generate text in the style of the training text, beginning with the start text (as in the book).

        Parameters
        ----------
        length : int
            Characters to generate after the start text.
        start : str
            The text that primes the model.
        top_n : int, optional
            Sample among the n most probable characters (the book's top-n, also known as top-k).
            None: the book's 5, unless `top_p` is given; 0: no cut.
        top_p : float, optional
            Nucleus sampling: among the smallest set of characters whose probability reaches p.
        temperature : float
            Divides the logits; 0 is greedy (always the most probable character).
        seed : int or None
            The same model, seed and options give the same text in every process. The default,
            `sampling.DEFAULT_SEED` (123, char-rnn's), makes a repeated call repeat its text; None
            draws fresh randomness every call.
        num_samples : int
            Independent samples, drawn together.
        ignore_unknown : bool
            Drop start characters the model never saw instead of refusing them.

        Returns
        -------
        str, or list of str when `num_samples` > 1
        """
        check_sampling_options(length=length, temperature=temperature, top_n=top_n, top_p=top_p,
                               num_samples=num_samples, held=True)
        pieces = [[] for _ in range(num_samples)]
        with torch_threads(self.threads):
            for step in self.sample_stream(length, start, top_n=top_n, top_p=top_p, temperature=temperature,
                                           seed=seed, num_samples=num_samples, ignore_unknown=ignore_unknown):
                for piece, char in zip(pieces, step):
                    piece.append(char)
        prefix = self.vocab_.decode(self.start_ids(start, ignore_unknown))
        texts = [prefix + "".join(p) for p in pieces]
        return texts[0] if num_samples == 1 else texts

    def evaluate(self, text: str) -> dict:
        """How well the model predicts `text`, each character from those before it.

        Parameters
        ----------
        text : str
            Held-out text; characters outside the model's alphabet are skipped and counted.

        A long pass shows its progress on stderr (a bar on a terminal, elsewhere a line a minute;
        nothing with `quiet`). A text needing more memory than is available (about
        `EVALUATE_BYTES_PER_CHAR` bytes a character) is refused before any work.

        Returns
        -------
        dict
            ``{"loss": nats per character, "bits_per_char": float, "n_chars": characters predicted,
            "n_unknown": characters skipped}``
        """
        self._check_fitted()
        if not isinstance(text, str):
            raise InvalidInputTypeError(f"text must be one string, got {type(text).__name__}")
        require([(f"the text ({len(text):,} characters) as character codes and ids",
                  len(text) * EVALUATE_BYTES_PER_CHAR, "evaluate it in parts")])
        n_unknown = sum(text.count(c) for c in self.vocab_.unknown_chars(text))
        ids = self.vocab_.encode(text, unknown="skip")
        if len(ids) < 2:
            raise InvalidInputError(f"nothing to evaluate: the text has {len(ids)} character(s) the model knows, "
                                    "at least 2 are needed (the first is only read)")
        with self._inference() as device, progress(len(ids) - 1, "evaluate", "char", self.quiet) as update:
            loss, n = stream_loss(self.model_, ids, device, self.run_options().eval_batch_size, progress=update)
        return {"loss": loss, "bits_per_char": loss / math.log(2), "n_chars": n, "n_unknown": n_unknown}

    @classmethod
    def load(cls, directory: str | Path) -> "CharLanguageModel":
        """A trained model from its directory, ready to sample and evaluate."""
        return cls._load(directory, CharRNN, CharVocabulary)


# --- command line ---------------------------------------------------------------------------------


def train_command(args) -> int:
    text = load_text(args.text, args.strip_gutenberg)
    lm = CharLanguageModel(args.preset, **estimator_params(CharLanguageModel, args))
    lm.fit(text, out_dir=args.out, resume=args.resume, source=args.text)
    lm.print_summary(args.out, "loss {loss:.4f} nats/char ({bits_per_char:.4f} bits/char)")
    return 0


def evaluate_command(args) -> int:
    lm = load_for_inference(CharLanguageModel, args)
    result = lm.evaluate(load_text(args.text))
    if result["n_unknown"]:
        print(f"note: {result['n_unknown']} characters outside the model's alphabet were skipped", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"loss {result['loss']:.4f} nats/char, {result['bits_per_char']:.4f} bits/char "
              f"over {result['n_chars']} characters")
    return 0


def sample_command(args) -> int:
    lm = load_for_inference(CharLanguageModel, args)
    # every refusal comes before the notes below, so that an error is the only line
    check_sampling_options(length=args.length, temperature=args.temperature, top_n=args.top_n, top_p=args.top_p,
                           num_samples=args.num_samples, held=not (args.stream and args.num_samples == 1),
                           stream_bytes=sampler_bytes_per_stream(lm.model_))
    lm.start_ids(args.start, args.ignore_unknown)
    if args.device not in ("auto", "cpu"):
        print(f"note: sampling steps the network in NumPy on the CPU (faster, one character at a time, than "
              f"{args.device}); --device applies to evaluate", file=sys.stderr)
    top_n = effective_top_n(args.top_n, args.top_p)
    if top_n is not None and top_n > len(lm.vocab_):  # the sampler then keeps every character
        print(f"note: --top-n {top_n} is more than the {len(lm.vocab_)} characters the model knows; using all",
              file=sys.stderr)
    dropped = lm.unknown_start_chars(args.start) if args.ignore_unknown else []
    if dropped:
        print(f"note: dropped from the start text {len(dropped)} character(s) the model never saw: "
              f"{', '.join(map(repr, dropped))}", file=sys.stderr)
    seed = command_seed(args.seed)
    options = dict(top_n=args.top_n, top_p=args.top_p, temperature=args.temperature, seed=seed,
                   ignore_unknown=args.ignore_unknown)
    if args.stream and args.num_samples == 1:
        prefix = lm.vocab_.decode(lm.start_ids(args.start, args.ignore_unknown))
        sys.stdout.write(prefix)
        with torch_threads(args.threads):
            for step in lm.sample_stream(args.length, args.start, **options):
                sys.stdout.write(step[0])
                sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    print_samples(lm.sample(args.length, args.start, num_samples=args.num_samples, **options))
    return 0
