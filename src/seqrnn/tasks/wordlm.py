"""Word-level language models on reviews (or any text), and the pretrained start of a classifier.

Semi-supervised sentiment the way Dai & Le (2015) and ULMFiT (Howard & Ruder 2018) do it, sized for
a laptop CPU: language models are trained on the training reviews and the unlabelled ones, then a
sentiment classifier starts its embedding and recurrent layers from them
(`seqrnn classify train --init-from LM_DIR`) instead of from random numbers.

The documents become one stream of word ids (each preceded by the separator id 0, the padding id,
which a classifier never reads), cut into `batch_size` parallel rows and read in windows of
`num_steps` words with the state carried from one window to the next (truncated BPTT, the character
model's batching). The backward model reads the same stream reversed. Both share one embedding,
as the two directions of a bidirectional classifier do, and each has its own adaptive softmax.

The reviews held out are exactly the ones a classifier with the same `seed` and `val_fraction`
validates on (`heldout_split`, stratified by the labels given to `fit`), so pretraining never reads
them; the classifier checks this through a digest of the held-out texts saved with the language
model.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from seqrnn import cache
from seqrnn.config import LM_PRESETS, LMConfig
from seqrnn.data.checks import check_labels, check_texts
from seqrnn.data.split import heldout_split
from seqrnn.errors import InvalidInputError, SeqrnnError, SeqrnnWarning
from seqrnn.nn.networks import WordLM
from seqrnn.nn.sampling import DEFAULT_SEED, check_sampling_options, sample_tokens
from seqrnn.tasks.base import Prepared, vector_texts
from seqrnn.tasks.streams import StreamEstimator, StreamTask, stream_loss
from seqrnn.text.tokens import TokenizedTexts, as_tokens, tokenize
from seqrnn.text.vocabulary import Vocabulary, smallest_dtype
from seqrnn.text.wordvectors import start_embedding

TASK = "lm"
SEPARATOR = Vocabulary.PAD  # starts every document in the stream
_DOCUMENTS_PER_SLICE = 4096  # documents put into a stream at a time: bounds the temporaries
_IDS_PER_SLICE = 1 << 24  # token ids looked up at a time
STREAMS_VERSION = "words-1"  # part of the cache key of word streams: change it when they are built differently


def document_stream(flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The documents `rows` (in that order) of a flat id array, each preceded by SEPARATOR, in the
    flat array's type; built a slice of documents at a time, so that only the result grows with the
    input."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = offsets[rows + 1] - offsets[rows]
    out = np.empty(int((lengths + 1).sum()), dtype=flat.dtype)
    at = 0
    for a in range(0, len(rows), _DOCUMENTS_PER_SLICE):
        part, part_lengths = rows[a:a + _DOCUMENTS_PER_SLICE], lengths[a:a + _DOCUMENTS_PER_SLICE]
        first = np.cumsum(part_lengths + 1) - part_lengths  # where each document's first word goes
        chunk = np.full(int(first[-1] + part_lengths[-1]), SEPARATOR, dtype=flat.dtype)
        words = np.ones(len(chunk), dtype=bool)
        words[first - 1] = False
        dest = np.flatnonzero(words)
        chunk[dest] = flat[dest + np.repeat(offsets[part] - first, part_lengths)]
        out[at:at + len(chunk)] = chunk
        at += len(chunk)
    return out


def word_streams(flat: np.ndarray, offsets: np.ndarray, train_rows: np.ndarray,
                 val_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training stream (the documents `train_rows`, in that order) and the held-out stream
    (`val_rows`) of a flat id array (`document_stream`). Large ones go into the prepared-data cache
    as raw files, keyed by their inputs, and are read through memory maps: the ranks of a torchrun
    job, and a resumed run, map the same files. Small ones (or with the cache off) stay in memory."""
    key = cache.key(flat, offsets, train_rows, val_rows, STREAMS_VERSION)
    if key is None:
        return document_stream(flat, offsets, train_rows), document_stream(flat, offsets, val_rows)

    def build(folder: Path) -> dict:
        words = {}
        for name, rows in (("train", train_rows), ("val", val_rows)):
            stream = document_stream(flat, offsets, rows)
            stream.tofile(folder / f"{name}.bin")
            words[name] = len(stream)
        return {"dtype": flat.dtype.str, **words}

    def mapped(meta: dict, folder: Path) -> tuple[np.ndarray, np.ndarray]:
        return tuple(cache.map_array(folder / f"{name}.bin", meta["dtype"], meta[name]) for name in ("train", "val"))

    return cache.mapped_entry("words", key, build, mapped)


def word_metrics(losses: dict[str, float]) -> dict[str, float]:
    """A word model's figures from its loss in each direction: the mean loss (nats per word), its
    perplexity, and each direction's loss."""
    loss = float(np.mean(list(losses.values())))
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), **{f"{d}_loss": v for d, v in losses.items()}}


def language_model_metrics(model: WordLM, ids: np.ndarray, device: torch.device, rows: int = 32) -> dict[str, float]:
    """`word_metrics` of a stream, in each of the model's directions."""
    return word_metrics({d: stream_loss(model, ids, device, d, rows)[0] for d in model.directions})


class WordLanguageModel(StreamEstimator):
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
    unit = "words"
    default_eval_rows = 32
    config_class = LMConfig
    model_class = WordLM
    vocab_class = Vocabulary
    presets = LM_PRESETS

    def fit(self, X: Sequence[str], y=None, *, unlabelled: Sequence[str] = (), out_dir: str | Path | None = None,
            resume: bool = False, source: str | None = None) -> "WordLanguageModel":
        """Train on the documents `X` (the labelled ones, of which the classifier's validation share
        is held out) and `unlabelled` (all trained on).

        Parameters
        ----------
        X : sequence of str
            Labelled documents in the order a classifier is given them (the held-out split is by index).
        y : array-like of labels, optional
            Their labels, as a classifier is given them: the held-out share is then stratified by
            label as the classifier's is, so that both hold out the same documents. Not trained on.
        unlabelled : sequence of str
            More documents to train on; none is held out.
        out_dir, resume, source
            As for `SentimentClassifier.fit`.
        """
        labelled = check_texts(X, allow_empty=True)
        unlabelled = check_texts(unlabelled, "unlabelled", allow_empty=True)
        labels = None
        if y is not None:
            labels = check_labels(y)
            if len(labels) != len(labelled):
                raise InvalidInputError(f"X has {len(labelled)} documents but y has {len(labels)} labels")
        return self._fit((labelled, unlabelled, labels), out_dir, resume, source)

    def _prepare(self, data: tuple, config: LMConfig, vocab: Vocabulary | None) -> Prepared:
        labelled, unlabelled, labels = data
        settings, training = config.data, config.training
        tokens = as_tokens(labelled)
        train_index, val_index = heldout_split(len(tokens), training.seed, settings.val_fraction, settings.limit,
                                               labels)
        extra = as_tokens(unlabelled)  # all trained on: `limit` keeps the first ones
        if settings.limit is not None and settings.limit < len(extra):
            extra = extra.take(np.arange(settings.limit))
        n_train = len(train_index) + len(extra)
        if n_train + len(val_index) == 0:
            raise SeqrnnError("no documents to train on")
        if vocab is None:  # the words of the training documents
            counts = dict(zip(tokens.words, tokens.counts(train_index).tolist()))
            for word, count in zip(extra.words, extra.counts().tolist()):
                counts[word] = counts.get(word, 0) + count
            vocab = Vocabulary.from_counts(counts, settings.min_count, settings.max_vocab or None)
        dtype = smallest_dtype(len(vocab))  # 2 bytes a word for up to 65,536 words
        # every document as vocabulary ids in one flat array: the labelled ones, then the unlabelled
        flat = np.empty(len(tokens.ids) + len(extra.ids), dtype=dtype)
        for part, at in ((tokens, 0), (extra, len(tokens.ids))):
            table = vocab.lookup(part.words).astype(dtype)
            for a in range(0, len(part.ids), _IDS_PER_SLICE):  # a slice at a time: small temporaries
                ids = part.ids[a:a + _IDS_PER_SLICE]
                flat[at + a:at + a + len(ids)] = table[ids]
        offsets = np.concatenate([tokens.offsets, tokens.offsets[-1] + extra.offsets[1:]])
        train_rows = np.concatenate([train_index, len(tokens) + np.arange(len(extra))])
        shuffled = np.random.default_rng([training.seed, 1]).permutation(n_train)
        train_ids, val_ids = word_streams(flat, offsets, train_rows[shuffled], val_index)
        del flat
        if not len(val_index):  # nothing held out: select on the training stream itself
            val_ids = train_ids
        description = {"train_documents": n_train, "val_documents": len(val_index), "train_words": int(len(train_ids)),
                       "heldout_tokens_digest": tokens.digest(val_index)}
        embedding_texts = ()
        if training.embed_init == "ppmi":  # counted over the first training documents, unshuffled
            embedding_texts = vector_texts(tokens, train_index, extra)
        return Prepared(vocab, train_ids, val_ids, description, embedding_texts=embedding_texts)

    def _start_weights(self, model: WordLM, prepared: Prepared, config: LMConfig) -> None:
        if config.training.embed_init == "ppmi":
            start_embedding(model.embedding, prepared.embedding_texts, prepared.vocab, config.training.seed)

    def _task(self, prepared: Prepared, config: LMConfig, device: torch.device) -> StreamTask:
        return StreamTask(prepared.train, prepared.val, config.training.batch_size, config.data.num_steps, device,
                          directions=WordLM.directions_of(config.model.direction), metrics=word_metrics,
                          **self._stream_options())

    # --- using a trained model ------------------------------------------------------------------

    def evaluate(self, texts: "Sequence[str] | TokenizedTexts") -> dict:
        """Loss (nats per word) and perplexity on documents, per direction too; the separator
        before each document counts as a word to predict (as in training)."""
        self._check_fitted()
        tokens = as_tokens(texts if isinstance(texts, TokenizedTexts) else list(texts))
        flat = self.vocab_.lookup(tokens.words)[tokens.ids].astype(np.int64)
        ids = document_stream(flat, tokens.offsets, np.arange(len(tokens)))
        if len(ids) < 2:
            raise SeqrnnError("nothing to evaluate: no words in the documents")
        with self._inference() as device:
            result = language_model_metrics(self.model_, ids, device, self._eval_rows())
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
        model, single = self.model_, num_samples == 1
        with self._inference() as device:
            def step(next_ids, state):
                tokens = torch.as_tensor(np.atleast_1d(next_ids), device=device)[:, None]
                out, state = model.hidden(tokens, direction, state)
                log_probs = model.softmax(direction).log_prob(out[:, -1]).double().cpu().numpy()
                return (log_probs[0] if single else log_probs), state

            out, state = model.hidden(torch.as_tensor([ids] * num_samples, device=device), direction)
            log_probs = model.softmax(direction).log_prob(out[:, -1]).double().cpu().numpy()
            yield from sample_tokens(step, log_probs[0] if single else log_probs, state, length,
                                     temperature=temperature, top_n=top_n or None, top_p=top_p, seed=seed,
                                     num_samples=num_samples, exclude=Vocabulary.UNK, end=SEPARATOR)

    def sample(self, length: int = 50, start: str = "this movie", **options) -> str | list[str]:
        """Generated text (the start text, then up to `length` words; backward: the words before
        it), detokenized; a list when `num_samples` > 1. Options as in `sample_ids`."""
        self._check_fitted()
        check_sampling_options(length=length, num_samples=options.get("num_samples", 1), held=True)
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


def detokenize(words: Sequence[str]) -> str:
    """Words joined back into readable text: no space before closing punctuation or after opening."""
    text = " ".join(words)
    text = re.sub(r" ([.,!?;:)\]}'])", r"\1", text)
    return re.sub(r"([(\[{]) ", r"\1", text)


# --- starting a classifier ------------------------------------------------------------------------


def pretrained_language_model(directory: str | Path, config, heldout_digest: str) -> WordLanguageModel:
    """The language model in `directory`, checked to fit a classifier of `config` (same cell,
    embedding and hidden sizes); a `HeldOutWarning` when it may have trained on reviews this
    classifier validates on (`heldout_digest`: `TokenizedTexts.digest` of the classifier's
    validation texts)."""
    lm = WordLanguageModel.load(directory)
    mine, theirs = config.model, lm.config_.model
    for name in ("cell", "embed_size", "hidden_size"):
        if getattr(mine, name) != getattr(theirs, name):
            raise SeqrnnError(f"the language model in {directory} has {name}={getattr(theirs, name)!r}, the "
                              f"classifier {name}={getattr(mine, name)!r}: give --{name.replace('_', '-')} "
                              f"{getattr(theirs, name)}")
    if "heldout_tokens_digest" not in lm.dataset_:
        warnings.warn(f"the language model in {directory} does not record which reviews it held out, so it cannot "
                      "be checked against this classifier's validation reviews", HeldOutWarning, stacklevel=5)
    elif lm.dataset_["heldout_tokens_digest"] != heldout_digest:
        warnings.warn(f"the language model in {directory} did not hold out exactly this classifier's validation "
                      "reviews (train both with the same --seed, --val-fraction and --limit), so the validation "
                      "accuracy may be optimistic", HeldOutWarning, stacklevel=5)
    return lm


class HeldOutWarning(SeqrnnWarning):
    """A classifier starts from a language model that may have trained on its validation texts."""


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
