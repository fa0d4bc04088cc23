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

import numpy as np
import torch
import torch.nn.functional as F

from seqrnn.config import CHARLM_PRESETS, CharLMConfig
from seqrnn.data import load_text
from seqrnn.errors import SeqrnnError
from seqrnn.estimator import RecurrentEstimator, estimator_params
from seqrnn.models import CharRNN, detach_state
from seqrnn.preprocess import CharVocabulary, reshape_stream
from seqrnn.sampling import check_sampling_options, effective_top_n, generate

TASK = "charlm"


def split_corpus(text: str, val_fraction: float) -> tuple[str, str]:
    """The last `val_fraction` of the corpus is held out for validation."""
    cut = len(text) - int(round(len(text) * val_fraction))
    return text[:cut], text[cut:]


def stream_loss(model: CharRNN, ids: np.ndarray, device: torch.device, rows: int | None = None,
                window: int = 256) -> tuple[float, int]:
    """Mean cross-entropy (nats) of predicting ids[1:] from what precedes, and how many were predicted.

    The stream is cut into `rows` contiguous rows run in parallel, each from a zero state, in windows
    of `window` characters with the state carried; the characters left over at the end continue from
    the last row's final state, so every character after the first is predicted exactly once.
    """
    n = len(ids) - 1
    if n < 1:
        return float("nan"), 0
    rows = rows or max(1, min(64, n // 2000))
    length = n // rows
    x = torch.as_tensor(ids[: rows * length].reshape(rows, length), device=device)
    y = torch.as_tensor(ids[1 : rows * length + 1].reshape(rows, length), device=device)
    total, state = 0.0, None
    for start in range(0, length, window):
        logits, state = model(x[:, start : start + window], state)
        total += F.cross_entropy(logits.flatten(0, 1), y[:, start : start + window].flatten(), reduction="sum").item()
    tail = n - rows * length
    if tail:
        last = tuple(s[:, -1:].contiguous() for s in state) if isinstance(state, tuple) else state[:, -1:].contiguous()
        tx = torch.as_tensor(ids[rows * length : n][None], device=device)
        ty = torch.as_tensor(ids[rows * length + 1 :][None], device=device)
        logits, _ = model(tx, last)
        total += F.cross_entropy(logits.flatten(0, 1), ty.flatten(), reduction="sum").item()
    return total / n, n


class CharStreamTask:
    """Truncated BPTT over `batch_size` parallel streams for the shared training loop."""

    monitor = ("loss", "min")

    def __init__(self, train_ids: np.ndarray, val_ids: np.ndarray, batch_size: int, num_steps: int,
                 device: torch.device):
        x, y = reshape_stream(train_ids, batch_size, num_steps)
        self.x = torch.as_tensor(x, dtype=torch.long, device=device)
        self.y = torch.as_tensor(y, dtype=torch.long, device=device)
        self.num_steps = num_steps
        self.val_ids = val_ids
        self.device = device

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
        loss, _ = stream_loss(model, self.val_ids, self.device)
        return {"loss": loss, "bits_per_char": loss / math.log(2)}


class CharLanguageModel(RecurrentEstimator):
    """A character-level recurrent language model with scikit-learn estimator conventions.

    `preset="book"` is the chapter's CharRNN (one-hot input, LSTM 128, dropout 0.5, batch 64 x 100
    steps, Adam 1e-3, clip 5, 100 epochs); `"default"` the best measured for a 2-core CPU. Every
    setting of `seqrnn.config.CharLMConfig` is a keyword parameter (None = the preset's value),
    as are `max_minutes`, `threads` and `device`. After `fit`: `model_` (the best weights by
    validation loss), `vocab_`, `config_` (the resolved `CharLMConfig`), `summary_`.
    """

    task = TASK
    config_class = CharLMConfig
    presets = CHARLM_PRESETS

    def fit(self, text: str, y=None, *, out_dir: str | Path | None = None, resume: bool = False,
            source: str | None = None) -> "CharLanguageModel":
        """Train on `text`. With `out_dir`, the run (checkpoints, metrics, curves) is kept there and
        can be resumed; otherwise it lives in a temporary directory."""
        started = time.perf_counter()
        if not text:
            raise SeqrnnError("the corpus is empty")
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
            task = CharStreamTask(train_ids, val_ids, config.training.batch_size, data.num_steps, device)
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
        self._check_fitted()
        unknown = self.vocab_.unknown_chars(start)
        if unknown and not ignore_unknown:
            shown = ", ".join(repr(c) for c in unknown)
            raise SeqrnnError(f"the start text has characters the model never saw: {shown} (use --ignore-unknown to drop them)")
        ids = self.vocab_.encode(start, unknown="skip")
        if len(ids) == 0:
            raise SeqrnnError("the start text must contain at least one character the model knows")
        return ids

    def sample_stream(self, length: int = 500, start: str = "The ", *, top_n: int | None = None,
                      top_p: float | None = None, temperature: float = 1.0, seed: int | None = None,
                      num_samples: int = 1, ignore_unknown: bool = False):
        """Yield the generated characters step by step, as a list of `num_samples` strings each.

        `top_n` None means the book's 5 unless `top_p` is given (`sampling.effective_top_n`)."""
        check_sampling_options(length=length, temperature=temperature, top_n=top_n, top_p=top_p,
                               num_samples=num_samples)
        top_n = effective_top_n(top_n, top_p)
        ids = self.start_ids(start, ignore_unknown)
        chars = self.vocab_.chars
        for step_ids in generate(self.model_, ids, length, temperature=temperature, top_n=top_n, top_p=top_p,
                                 seed=seed, num_samples=num_samples):
            yield [chars[i] for i in step_ids]

    def sample(self, length: int = 500, start: str = "The ", *, top_n: int | None = None,
               top_p: float | None = None, temperature: float = 1.0, seed: int | None = None, num_samples: int = 1,
               ignore_unknown: bool = False):
        """Generated text beginning with the start text (as in the book); a list when num_samples > 1."""
        pieces = [[] for _ in range(num_samples)]
        for step in self.sample_stream(length, start, top_n=top_n, top_p=top_p, temperature=temperature,
                                       seed=seed, num_samples=num_samples, ignore_unknown=ignore_unknown):
            for piece, char in zip(pieces, step):
                piece.append(char)
        prefix = self.vocab_.decode(self.start_ids(start, ignore_unknown))
        texts = [prefix + "".join(p) for p in pieces]
        return texts[0] if num_samples == 1 else texts

    def evaluate(self, text: str) -> dict:
        """Loss (nats/char) and bits/char on `text`; characters outside the alphabet are skipped and counted."""
        self._check_fitted()
        n_unknown = sum(text.count(c) for c in self.vocab_.unknown_chars(text))
        ids = self.vocab_.encode(text, unknown="skip")
        if len(ids) < 2:
            raise SeqrnnError(f"nothing to evaluate: the text has {len(ids)} character(s) the model knows, "
                              "at least 2 are needed (the first is only read)")
        with torch.no_grad():
            loss, n = stream_loss(self.model_, ids, torch.device("cpu"))
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
    if not lm.ranks_.is_main:
        return 0
    best = lm.summary_["best"] or {}
    print(f"trained {lm.summary_['step']} steps in {lm.summary_['elapsed_s']:.0f} s ({lm.summary_['stopped']}); "
          f"best validation loss {best.get('loss', float('nan')):.4f} nats/char "
          f"({best.get('bits_per_char', float('nan')):.4f} bits/char) -> {args.out}")
    return 0


def evaluate_command(args) -> int:
    lm = CharLanguageModel.load(args.model)
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
    lm = CharLanguageModel.load(args.model)
    top_n = effective_top_n(args.top_n, args.top_p)
    if top_n is not None and top_n > len(lm.vocab_):  # the sampler then keeps every character
        print(f"note: --top-n {top_n} is more than the {len(lm.vocab_)} characters the model knows; using all",
              file=sys.stderr)
    options = dict(top_n=top_n, top_p=args.top_p, temperature=args.temperature, seed=args.seed,
                   ignore_unknown=args.ignore_unknown)
    if args.stream and args.num_samples == 1:
        prefix = lm.vocab_.decode(lm.start_ids(args.start, args.ignore_unknown))
        sys.stdout.write(prefix)
        for step in lm.sample_stream(args.length, args.start, **options):
            sys.stdout.write(step[0])
            sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    texts = lm.sample(args.length, args.start, num_samples=args.num_samples, **options)
    if args.num_samples == 1:
        print(texts)
        return 0
    for i, text in enumerate(texts, 1):
        print(f"--- sample {i} of {len(texts)} ---\n{text}")
    return 0
