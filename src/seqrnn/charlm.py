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

from seqrnn import storage
from seqrnn.data import load_text
from seqrnn.errors import SeqrnnError
from seqrnn.estimator import RecurrentEstimator, estimator_kwargs
from seqrnn.models import CharRNN, detach_state
from seqrnn.preprocess import CharVocabulary, reshape_stream
from seqrnn.train import setup_runtime

TASK = "charlm"

PRESETS: dict[str, dict] = {
    # the chapter's CharRNN exactly: one-hot input, LSTM 128, keep_prob 0.5, clip 5, Adam 1e-3
    "book": dict(cell="lstm", num_layers=1, hidden_size=128, embed_size=0, dropout=0.5, batch_size=64,
                 num_steps=100, lr=1e-3, grad_clip=5.0, epochs=100, schedule="constant"),
    # the best measured for a 2-core CPU budget (README: "Character model")
    "default": dict(cell="lstm", num_layers=1, hidden_size=512, embed_size=64, dropout=0.25, batch_size=32,
                    num_steps=100, lr=3e-3, grad_clip=5.0, epochs=12, schedule="cosine"),
}
MODEL_KEYS = ("cell", "num_layers", "hidden_size", "embed_size", "dropout")


def split_corpus(text: str, val_fraction: float) -> tuple[str, str]:
    """The last `val_fraction` of the corpus is held out for validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise SeqrnnError(f"--val-fraction must be in [0, 1), got {val_fraction}")
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
        if len(self.val_ids) < 2:
            return {"loss": float("nan"), "bits_per_char": float("nan")}
        loss, _ = stream_loss(model, self.val_ids, self.device)
        return {"loss": loss, "bits_per_char": loss / math.log(2)}

    def carry_to_tensors(self, carry) -> dict[str, torch.Tensor]:
        if carry is None:
            return {}
        parts = carry if isinstance(carry, tuple) else (carry,)
        return {str(i): t for i, t in enumerate(parts)}

    def carry_from_tensors(self, tensors):
        if not tensors:
            return None
        parts = tuple(tensors[str(i)] for i in range(len(tensors)))
        return parts if len(parts) > 1 else parts[0]


class CharLanguageModel(RecurrentEstimator):
    """A character-level recurrent language model with scikit-learn estimator conventions.

    Parameters left as None take the preset's value (`preset="book"` is the chapter's CharRNN).
    After `fit`: `model_` (the best weights by validation loss), `vocab_`, `config_`, `summary_`.
    """

    task = TASK
    presets = PRESETS

    def __init__(self, preset: str = "default", *, cell=None, num_layers=None, hidden_size=None,
                 embed_size=None, dropout=None, batch_size=None, num_steps=None, lr=None, grad_clip=None,
                 epochs=None, max_minutes=None, val_fraction=0.1, limit=None, seed=1, threads=None,
                 device="auto", eval_every=0):
        self.preset = preset
        self.cell = cell
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.embed_size = embed_size
        self.dropout = dropout
        self.batch_size = batch_size
        self.num_steps = num_steps
        self.lr = lr
        self.grad_clip = grad_clip
        self.epochs = epochs
        self.max_minutes = max_minutes
        self.val_fraction = val_fraction
        self.limit = limit
        self.seed = seed
        self.threads = threads
        self.device = device
        self.eval_every = eval_every

    def fit(self, text: str, y=None, *, out_dir: str | Path | None = None, resume: bool = False,
            source: str | None = None) -> "CharLanguageModel":
        """Train on `text`; checkpoints and metrics go to `out_dir` (a temporary one if None)."""
        started = time.perf_counter()
        storage.check_run_directory(out_dir, resume)
        device = setup_runtime(self.seed, self.threads, self.device)
        if resume:
            config = self._saved_config(out_dir)
            vocab = CharVocabulary.from_dict(storage.read_json(Path(out_dir) / storage.VOCAB))
        else:
            training = self.resolved_config()
            if training["embed_size"] < 0:
                raise SeqrnnError(f"--embed-size must be 0 (one-hot) or more, got {training['embed_size']}")
            config = {"training": training}
        if not text:
            raise SeqrnnError("the corpus is empty")
        if self.limit:
            text = text[: self.limit]
        train_text, val_text = split_corpus(text, self.val_fraction)
        if not resume:
            vocab = CharVocabulary.build(train_text)
            config["model"] = {"vocab_size": len(vocab), **{k: training[k] for k in MODEL_KEYS}}
            config["data"] = {"source": source, "train_chars": len(train_text), "val_chars": len(val_text),
                              "val_fraction": self.val_fraction, "limit": self.limit, "seed": self.seed}
        training = config["training"]
        task = CharStreamTask(vocab.encode(train_text), vocab.encode(val_text, unknown="skip"),
                              training["batch_size"], training["num_steps"], device)
        model = CharRNN(**config["model"])
        self.model_ = self._train(model, task, device, config, vocab.to_dict(), out_dir, resume, started)
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
        """Yield the generated characters step by step, as a list of `num_samples` strings each."""
        from seqrnn.sampling import generate

        if length < 1:
            raise SeqrnnError(f"--length must be at least 1, got {length}")
        if temperature < 0:
            raise SeqrnnError(f"--temperature must be 0 or more, got {temperature}")
        if top_n is not None and top_n < 1:
            raise SeqrnnError(f"--top-n must be at least 1, got {top_n}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise SeqrnnError(f"--top-p must be in (0, 1], got {top_p}")
        ids = self.start_ids(start, ignore_unknown)
        chars = self.vocab_.chars
        for step_ids in generate(self.model_, ids, length, temperature=temperature, top_n=top_n, top_p=top_p,
                                 seed=seed, num_samples=num_samples):
            yield [chars[i] for i in step_ids]

    def sample(self, length: int = 500, start: str = "The ", *, top_n: int | None = 5, top_p: float | None = None,
               temperature: float = 1.0, seed: int | None = None, num_samples: int = 1,
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
        with torch.no_grad():
            loss, n = stream_loss(self.model_, ids, torch.device("cpu"))
        return {"loss": loss, "bits_per_char": loss / math.log(2), "n_chars": n, "n_unknown": n_unknown}

    @classmethod
    def load(cls, directory: str | Path) -> "CharLanguageModel":
        """A trained model from its directory, ready to sample and evaluate."""
        config, vocab, model = cls._load_model(directory, CharRNN)
        lm = cls(preset="default")
        lm.model_, lm.vocab_, lm.config_ = model, CharVocabulary.from_dict(vocab), config
        return lm


# --- command line ---------------------------------------------------------------------------------


def train_command(args) -> int:
    text = load_text(args.text, args.strip_gutenberg)
    lm = CharLanguageModel(preset=args.preset, num_steps=args.num_steps, **estimator_kwargs(args))
    lm.fit(text, out_dir=args.out, resume=args.resume, source=args.text)
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
    top_n = args.top_n if args.top_n is not None else (None if args.top_p is not None else 5)
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
