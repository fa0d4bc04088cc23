"""Word-level language models on reviews (or any text), and the pretrained start of a classifier.

Semi-supervised sentiment the way Dai & Le (2015) and ULMFiT (Howard & Ruder 2018) do it, sized for
a laptop CPU: language models are trained on the training reviews and the unlabelled ones, then a
sentiment classifier starts its embedding and recurrent layers from them
(`seqrnn sentiment train --init-from LM_DIR`) instead of from random numbers.

The documents become one stream of word ids (each preceded by the separator id 0, the padding id,
which a classifier never reads), cut into `batch_size` parallel rows and read in windows of
`num_steps` words with the state carried from one window to the next (truncated BPTT, the character
model's batching). The backward model reads the same stream reversed. Both share one embedding,
as the two directions of a bidirectional classifier do, and each has its own adaptive softmax.

The reviews held out are exactly the ones a classifier with the same `seed` and `val_fraction`
validates on (`heldout_split`), so pretraining never reads them; the classifier checks this
through a digest of the held-out texts saved with the language model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from seqrnn.config import LM_PRESETS, LMConfig
from seqrnn.errors import SeqrnnError
from seqrnn.estimator import RecurrentEstimator, estimator_params, load_for_inference
from seqrnn.models import WordLM, detach_state
from seqrnn.preprocess import Vocabulary, index_tokens, reshape_stream, tokenize
from seqrnn.sampling import (DEFAULT_SEED, check_sampling_options, command_seed, next_char_probabilities,
                              print_samples)
from seqrnn.wordvectors import vectors_for_vocabulary

TASK = "lm"
SEPARATOR = Vocabulary.PAD  # starts every document in the stream


def heldout_split(n: int, seed: int, val_fraction: float, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices) of `n` labelled documents: a seeded shuffle, the first
    `limit` kept, the first `val_fraction` of those held out. The sentiment classifier and the
    language model both split this way, so the same seed holds out the same reviews."""
    order = np.random.default_rng(seed).permutation(n)[:limit]
    n_val = int(round(len(order) * val_fraction))
    return order[n_val:], order[:n_val]


def texts_digest(texts: Sequence[str]) -> str:
    """A digest of a set of texts (order does not matter)."""
    digests = sorted(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts)
    return hashlib.sha256(b"".join(digests)).hexdigest()


def document_stream(flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The documents `rows` (in that order) of a flat id array, each preceded by SEPARATOR."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = offsets[rows + 1] - offsets[rows]
    first = np.cumsum(lengths + 1) - lengths  # where each document's first word goes
    out = np.full(int((lengths + 1).sum()), SEPARATOR, dtype=np.int64)
    words = np.ones(len(out), dtype=bool)
    words[first - 1] = False
    dest = np.flatnonzero(words)
    out[dest] = flat[dest + np.repeat(offsets[rows] - first, lengths)]
    return out


def stream_loss(model: WordLM, ids: np.ndarray, direction: str, device: torch.device, rows: int = 32,
                window: int = 200) -> tuple[float, int]:
    """Mean loss (nats per word) of predicting each word of the stream from the ones before it (or,
    backward, after it), in `rows` parallel rows from a zero state; and how many words were predicted.
    The fewer than `rows` words left over at the end are not predicted."""
    stream = ids if direction == "forward" else ids[::-1].copy()
    rows = max(1, min(rows, (len(stream) - 1) // 2))
    if len(stream) < 2:
        return float("nan"), 0
    length = (len(stream) - 1) // rows
    x = torch.as_tensor(stream[: rows * length].reshape(rows, length), device=device)
    y = torch.as_tensor(stream[1 : rows * length + 1].reshape(rows, length), device=device)
    total, state = 0.0, None
    for start in range(0, length, window):
        xs, ys = x[:, start : start + window], y[:, start : start + window]
        loss, state = model(xs, ys, direction, state)
        total += float(loss) * ys.numel()
    return total / (rows * length), rows * length


class WordStreamTask:
    """Truncated BPTT over parallel rows of the document stream, in each direction, for the shared
    training loop; the loss is the mean over the directions."""

    monitor = ("loss", "min")

    def __init__(self, train_ids: np.ndarray, val_ids: np.ndarray, directions: Sequence[str], batch_size: int,
                 num_steps: int, device: torch.device):
        self.directions, self.num_steps, self.val_ids, self.device = tuple(directions), num_steps, val_ids, device
        self.streams = []
        for direction in self.directions:
            stream = train_ids if direction == "forward" else train_ids[::-1].copy()
            x, y = reshape_stream(stream, batch_size, num_steps)
            self.streams += [torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)]

    def batches_per_epoch(self) -> int:
        return self.streams[0].shape[1] // self.num_steps

    def batch(self, epoch: int, index: int):
        window = slice(index * self.num_steps, (index + 1) * self.num_steps)
        return tuple(part[:, window] for part in self.streams)

    def loss(self, model, batch, carry):
        carry = carry or (None,) * len(self.directions)
        total, states = 0.0, []
        for k, direction in enumerate(self.directions):
            loss, state = model(batch[2 * k], batch[2 * k + 1], direction, carry[k])
            total = total + loss
            states.append(detach_state(state))
        return total / len(self.directions), tuple(states), batch[0].numel()

    def validate(self, model) -> dict[str, float]:
        return language_model_metrics(model, self.val_ids, self.directions, self.device)


def language_model_metrics(model: WordLM, ids: np.ndarray, directions: Sequence[str], device: torch.device,
                           rows: int = 32) -> dict[str, float]:
    """Loss and perplexity on a stream, the mean over the directions and each direction's."""
    result: dict[str, float] = {}
    for direction in directions:
        loss, n = stream_loss(model, ids, direction, device, rows)
        result[f"{direction}_loss"] = loss
    loss = float(np.mean([result[f"{d}_loss"] for d in directions]))
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), **result}


class WordLanguageModel(RecurrentEstimator):
    """A word-level recurrent language model (forward, backward or both) with scikit-learn
    estimator conventions; its directory starts a `SentimentClassifier` (`init_from`).

    Parameters
    ----------
    preset : str
        "default": embedding 128, LSTM 128, both directions, adaptive softmax, windows of 70 words,
        batch 64, AdamW 3e-3 with warm-up and a cosine schedule, one epoch; the sizes of the default
        sentiment classifier, so it can start from it.
    **settings
        Every setting of `seqrnn.config.LMConfig` (None = the preset's value) and the run options
        (`max_minutes`, `checkpoint_every`, `threads`, `device`, ...).

    Attributes
    ----------
    model_ : WordLM
        The best weights by held-out loss.
    vocab_ : Vocabulary
    config_ : LMConfig
    summary_ : dict
    """

    task = TASK
    config_class = LMConfig
    presets = LM_PRESETS

    def fit(self, X: Sequence[str], y=None, *, unlabelled: Sequence[str] = (), out_dir: str | Path | None = None,
            resume: bool = False, source: str | None = None) -> "WordLanguageModel":
        """Train on the documents `X` (the labelled ones, of which the classifier's validation share
        is held out) and `unlabelled` (all trained on).

        Parameters
        ----------
        X : sequence of str
            Labelled documents in the order a classifier is given them (the held-out split is by index).
        unlabelled : sequence of str
            More documents to train on; none is held out.
        out_dir, resume, source
            As for `SentimentClassifier.fit`.
        """
        from seqrnn.sentiment import check_texts  # (sentiment imports this module)

        started = time.perf_counter()
        labelled = check_texts(X, allow_empty=True)
        unlabelled = check_texts(unlabelled, "unlabelled", allow_empty=True)
        with self._run_directory(out_dir, resume) as run:
            config = self._start_config(run, resume)
            device = self._setup(config)
            data, training = config.data, config.training
            train_index, val_index = heldout_split(len(labelled), training.seed, data.val_fraction, data.limit)
            extra = unlabelled[: data.limit]
            documents = [labelled[i] for i in train_index] + extra + [labelled[i] for i in val_index]
            if not documents:
                raise SeqrnnError("no documents to train on")
            tokens = index_tokens(documents)
            n_train = len(train_index) + len(extra)
            if resume:
                vocab = Vocabulary.from_dict(run.read_vocab())
            else:
                counts = tokens.counts(np.arange(n_train)).tolist()
                vocab = Vocabulary.from_counts(dict(zip(tokens.words, counts)), data.min_count,
                                               data.max_vocab or None)
                self.dataset_ = {"source": source, "train_documents": n_train, "val_documents": len(val_index),
                                 "heldout_digest": texts_digest([labelled[i] for i in val_index])}
            flat = vocab.lookup(tokens.words)[tokens.ids].astype(np.int64)
            shuffled = np.random.default_rng([training.seed, 1]).permutation(n_train)
            train_ids = document_stream(flat, tokens.offsets, shuffled)
            val_ids = document_stream(flat, tokens.offsets, np.arange(n_train, len(documents)))
            if not len(val_index):  # nothing held out: select on the training stream itself
                val_ids = train_ids
            self.dataset_["train_words"] = int(len(train_ids))
            model = WordLM(len(vocab), **config.to_dict()["model"])
            if not resume and training.embed_init == "ppmi":
                vectors = vectors_for_vocabulary(documents[:n_train], vocab, config.model.embed_size,
                                                 seed=training.seed)
                with torch.no_grad():
                    model.embedding.weight.copy_(torch.from_numpy(vectors))
            task = WordStreamTask(train_ids, val_ids, model.directions, training.batch_size, data.num_steps, device)
            self.model_ = self._train(model, task, run, device, config, vocab, resume, started,
                                      plot=out_dir is not None)
        self.vocab_ = vocab
        return self

    # --- using a trained model ------------------------------------------------------------------

    def evaluate(self, texts: Sequence[str]) -> dict:
        """Loss (nats per word) and perplexity on documents, per direction too; the separator
        before each document counts as a word to predict (as in training)."""
        self._check_fitted()
        tokens = index_tokens(list(texts))
        flat = self.vocab_.lookup(tokens.words)[tokens.ids].astype(np.int64)
        ids = document_stream(flat, tokens.offsets, np.arange(len(tokens)))
        if len(ids) < 2:
            raise SeqrnnError("nothing to evaluate: no words in the documents")
        with self._inference() as device:
            result = language_model_metrics(self.model_, ids, self.model_.directions, device,
                                            self.eval_batch_size or 32)
        return {**result, "n_words": int(len(ids) - 1),
                "n_unknown": int((flat == Vocabulary.UNK).sum())}

    def sample_ids(self, start: str, length: int, *, direction: str | None = None, temperature: float = 1.0,
                   top_n: int | None = None, top_p: float | None = None, seed: int | None = DEFAULT_SEED,
                   num_samples: int = 1) -> Iterator[np.ndarray]:
        """Yield the sampled word ids, one array of `num_samples` per step, reading on from `start`
        (backward: words before it). Never samples the unknown-word id; a sample ends at the end of
        a document (id 0 yields as 0 from then on). `top_n` None or 0: no cut; `seed` None: fresh
        randomness, else the same text every time (default 123, as `charlm sample`)."""
        self._check_fitted()
        check_sampling_options(length=length, temperature=temperature, top_n=top_n, top_p=top_p,
                               num_samples=num_samples)
        direction = direction or self.model_.directions[0]
        if direction not in self.model_.directions:
            raise SeqrnnError(f"the model has no {direction} language model (it has "
                              f"{' and '.join(self.model_.directions)})")
        words = tokenize(start)
        ids = [SEPARATOR] + self.vocab_.encode(words)
        if direction == "backward":
            ids = ids[1:][::-1] or [SEPARATOR]
        rng = np.random.default_rng(seed)
        model = self.model_
        done = np.zeros(num_samples, dtype=bool)
        with self._inference() as device:
            out, state = model.hidden(torch.as_tensor([ids] * num_samples, device=device), direction)
            for _ in range(length):
                log_probs = model.softmax(direction).log_prob(out[:, -1]).double().cpu().numpy()
                log_probs[:, Vocabulary.UNK] = -np.inf
                probs = next_char_probabilities(log_probs, temperature, top_n or None, top_p)
                step = (np.cumsum(probs, axis=1) > rng.random((num_samples, 1))).argmax(axis=1)
                step[done] = SEPARATOR
                done |= step == SEPARATOR
                yield step
                if done.all():
                    return
                out, state = model.hidden(torch.as_tensor(step, device=device)[:, None], direction, state)

    def sample(self, length: int = 50, start: str = "this movie", **options) -> str | list[str]:
        """Generated text (the start text, then up to `length` words; backward: the words before
        it), detokenized; a list when `num_samples` > 1. Options as in `sample_ids`."""
        self._check_fitted()
        direction = options.get("direction") or self.model_.directions[0]
        steps = list(self.sample_ids(start, length, **options))
        columns = np.stack(steps, axis=1) if steps else np.zeros((options.get("num_samples", 1), 0), np.int64)
        start_words = self.vocab_.decode(self.vocab_.encode(tokenize(start)))
        texts = []
        for row in columns:
            row = row[: np.argmax(row == SEPARATOR)] if (row == SEPARATOR).any() else row
            words = self.vocab_.decode(row)
            words = words[::-1] + start_words if direction == "backward" else start_words + words
            texts.append(detokenize(words))
        return texts[0] if len(texts) == 1 else texts

    @classmethod
    def load(cls, directory: str | Path) -> "WordLanguageModel":
        """A trained language model from its directory."""
        return cls._load(directory, WordLM, Vocabulary)


def detokenize(words: Sequence[str]) -> str:
    """Words joined back into readable text: no space before closing punctuation or after opening."""
    text = " ".join(words)
    text = re.sub(r" ([.,!?;:)\]}'])", r"\1", text)
    return re.sub(r"([(\[{]) ", r"\1", text)


# --- starting a classifier ------------------------------------------------------------------------


def pretrained_language_model(directory: str | Path, config, heldout_texts: Sequence[str]) -> WordLanguageModel:
    """The language model in `directory`, checked to fit a classifier of `config` (same cell,
    embedding and hidden sizes); a note when it was trained on reviews this classifier validates on."""
    lm = WordLanguageModel.load(directory)
    mine, theirs = config.model, lm.config_.model
    for name in ("cell", "embed_size", "hidden_size"):
        if getattr(mine, name) != getattr(theirs, name):
            raise SeqrnnError(f"the language model in {directory} has {name}={getattr(theirs, name)!r}, the "
                              f"classifier {name}={getattr(mine, name)!r}: give --{name.replace('_', '-')} "
                              f"{getattr(theirs, name)}")
    if lm.dataset_.get("heldout_digest") != texts_digest(heldout_texts):
        print(f"note: the language model in {directory} did not hold out exactly this classifier's validation "
              "reviews (train both with the same --seed, --val-fraction and --limit), so the validation "
              "accuracy may be optimistic", file=sys.stderr)
    return lm


def start_from_language_model(classifier: torch.nn.Module, lm: WordLM) -> list[str]:
    """Copy the language model's embedding and recurrent layers into a `SentimentRNN`'s encoder:
    forward layers from the forward model, backward layers from the backward one, where their shapes
    match (a bidirectional classifier's layers above the first read both directions: they start
    fresh). Returns the names of the classifier's tensors that were set."""
    encoder, copied = classifier.encoder, []
    with torch.no_grad():
        if encoder.embedding is None or encoder.embedding.weight.shape != lm.embedding.weight.shape:
            raise SeqrnnError(f"the language model's embedding is {tuple(lm.embedding.weight.shape)} but the "
                              f"classifier's {tuple(encoder.embedding.weight.shape) if encoder.embedding else None}")
        encoder.embedding.weight.copy_(lm.embedding.weight)
        encoder.embedding.weight[SEPARATOR].zero_()  # the classifier's padding row
        copied.append("encoder.embedding.weight")
        targets = {"forward": encoder.forward_layers, "backward": encoder.backward_layers}
        for direction in lm.directions:
            for k, (source, target) in enumerate(zip(lm.layers(direction), targets[direction])):
                mine, theirs = target.state_dict(), source.state_dict()
                if type(source) is not type(target) or any(mine[n].shape != theirs[n].shape for n in mine):
                    continue
                target.load_state_dict(theirs)
                copied += [f"encoder.{direction}_layers.{k}.{n}" for n in mine]
    return copied


# --- command line ---------------------------------------------------------------------------------


def _documents(target: str, split: str | None) -> tuple[list[str], list[str]]:
    """(labelled, unlabelled) documents: IMDb reviews (`split` None: the training split's labelled
    and the unlabelled reviews), or the non-empty lines of a text file (all 'labelled', so that a
    share is held out)."""
    from seqrnn.data import imdb_format, read_imdb, read_text
    from seqrnn.datasets import resolve

    path = resolve(target)
    if imdb_format(path) is None:
        return [line for line in read_text(path).splitlines() if line.strip()], []
    if split is None:
        from seqrnn.sentiment import read_labelled_data

        labelled, _, unlabelled = read_labelled_data(target, default_split="train", with_unsup=True)
        return labelled, unlabelled
    reviews = read_imdb(path, splits=None if split == "all" else (split,))
    return list(reviews.texts), []


def train_command(args) -> int:
    labelled, unlabelled = _documents(args.data, None)
    lm = WordLanguageModel(args.preset, **estimator_params(WordLanguageModel, args))
    lm.fit(labelled, unlabelled=unlabelled, out_dir=args.out, resume=args.resume, source=args.data)
    lm.print_summary(args.out, "perplexity {perplexity:.1f}")
    return 0


def evaluate_command(args) -> int:
    lm = load_for_inference(WordLanguageModel, args)
    labelled, unlabelled = _documents(args.data, args.split)
    result = lm.evaluate(labelled + unlabelled)
    if args.json:
        print(json.dumps(result))
    else:
        per = ", ".join(f"{d} {math.exp(result[f'{d}_loss']):.1f}" for d in lm.model_.directions)
        print(f"perplexity {result['perplexity']:.1f} ({per}) over {result['n_words']} words, "
              f"{result['n_unknown']} unknown")
    return 0


def sample_command(args) -> int:
    lm = load_for_inference(WordLanguageModel, args)
    print_samples(lm.sample(args.length, args.start, direction=args.direction, temperature=args.temperature,
                            top_n=args.top_n, top_p=args.top_p, seed=command_seed(args.seed),
                            num_samples=args.num_samples))
    return 0
