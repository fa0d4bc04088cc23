"""Character-level language model: the book's CharRNN, a stronger default, sampling and evaluation.

Training reads the corpus the book's way (`batch_size` parallel streams, windows of `num_steps`
characters, targets shifted by one) and carries the hidden state from one window to the next,
detached between windows (truncated BPTT, `seqrnn.tasks.streams`) and reset at every epoch. Validation
is the last `val_fraction` of the corpus.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from seqrnn.config import CHARLM_PRESETS, CharLMConfig
from seqrnn.data.corpus import TextSource, as_source, char_streams, encode_chars
from seqrnn.errors import InvalidInputError, InvalidInputTypeError, SeqrnnError
from seqrnn.nn.networks import CharRNN
from seqrnn.nn.sampling import (
    DEFAULT_SEED,
    RecurrentStepper,
    check_sampling_options,
    effective_top_n,
    generate,
    sampler_bytes_per_stream,
)
from seqrnn.tasks.base import Prepared
from seqrnn.tasks.streams import StreamEstimator, StreamTask, stream_loss
from seqrnn.text.vocabulary import CharVocabulary
from seqrnn.training.runtime import torch_threads

TASK = "charlm"


def char_metrics(losses: dict[str, float]) -> dict[str, float]:
    """A character model's validation figures from its held-out loss: nats and bits per character."""
    loss = losses["forward"]
    return {"loss": loss, "bits_per_char": loss / math.log(2)}


class CharLanguageModel(StreamEstimator):
    """A character-level recurrent language model (many-to-many) with scikit-learn's conventions.

    It learns a text one character at a time, as the book's CharRNN learns *Hamlet*, then writes
    text in its style (`sample`) and scores held-out text (`evaluate`).

    Parameters
    ----------
    preset : {"default", "book"}
        Where every setting not given starts. ``"book"`` is the chapter's CharRNN exactly: one-hot
        input, LSTM 128, dropout 0.5, 64 streams x 100-step windows, Adam 1e-3, clipping at 5, 100
        epochs. ``"default"`` is the best measured for a 2-core CPU (1.61 nats/char on Hamlet
        against the book's 1.89, in less time; see the character model's results page): embedding 64, LSTM 512,
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
    unit = "characters"
    config_class = CharLMConfig
    model_class = CharRNN
    vocab_class = CharVocabulary
    presets = CHARLM_PRESETS

    def fit(self, text: "str | os.PathLike | TextSource", y=None, *, out_dir: str | Path | None = None,
            resume: bool = False, source: str | None = None) -> "CharLanguageModel":
        """Train on `text`; the last `val_fraction` of it is held out for validation.

        Parameters
        ----------
        text : str, path or TextSource
            The corpus: one string, or a UTF-8 file (a `pathlib.Path`) read in chunks and encoded
            once into the prepared-data cache, so a corpus larger than memory trains too; a
            `seqrnn.data.corpus.TextSource` also gives a fixed split (enwik8's).
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
        if isinstance(text, str) and not text:
            raise InvalidInputError("the corpus is empty")
        try:
            corpus = as_source(text)
        except TypeError:
            raise InvalidInputTypeError(f"text must be one string (the corpus), a path or a TextSource, got "
                                        f"{type(text).__name__}") from None
        return self._fit(corpus, out_dir, resume, source)

    def _prepare(self, corpus: TextSource, config: CharLMConfig, vocab: CharVocabulary | None) -> Prepared:
        settings = config.data
        streams = char_streams(corpus, settings.val_fraction, settings.limit, vocab, quiet=self.run_options().quiet)
        val = streams.val
        if not settings.val_fraction and not corpus.splits:  # no held-out text: select on the training text itself
            val = streams.train
        return Prepared(streams.vocab, streams.train, val,
                        {"train_chars": streams.train_chars, "val_chars": streams.val_chars})

    def _task(self, prepared: Prepared, config: CharLMConfig, device: torch.device) -> StreamTask:
        # the text itself is read through a memory map; each token of a batch keeps its logits over the characters
        self._require_training_memory(config, len(prepared.vocab), device, "num_steps",
                                      floats_per_token=len(prepared.vocab))
        task = StreamTask(prepared.train, prepared.val, config.training.batch_size, config.data.num_steps, device,
                          metrics=char_metrics, **self._stream_options())
        if len(prepared.val) < 2:  # after the batch shape's check: a tiny text is named for that first
            raise SeqrnnError(f"the held-out part ({prepared.description['val_chars']} characters, "
                              f"{len(prepared.val)} known) is too short to validate on: raise `val_fraction`, or set "
                              "it to 0")
        return task

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
            raise SeqrnnError(f"the start text has characters the model never saw: {shown} (use `ignore_unknown` to drop them)")
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
                      num_samples: int = 1, ignore_unknown: bool = False,
                      stepper: RecurrentStepper | None = None) -> Iterator[list[str]]:
        """The generated characters step by step, as a list of `num_samples` strings each.

        The options are `sample`'s, checked at once (a bad option or start text raises here, before
        the first step). The generator runs NumPy's recurrent step on the CPU (faster, one character
        at a time, than a model call on any device) with the caller's thread settings (`sample`
        applies the `threads` parameter); `stepper`, that step built once
        (`sampling.RecurrentStepper(model_)`), is only read, so one can serve many calls at once.
        """
        check_sampling_options(length=length, temperature=temperature, top_n=top_n, top_p=top_p,
                               num_samples=num_samples, stream_bytes=sampler_bytes_per_stream(self.model_))
        ids = self.start_ids(start, ignore_unknown)
        chars = self.vocab_.chars
        steps = generate(stepper or self.model_, ids, length, temperature=temperature,
                         top_n=effective_top_n(top_n, top_p), top_p=top_p, seed=seed, num_samples=num_samples)
        return ([chars[i] for i in step_ids] for step_ids in steps)

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
        with torch_threads(self.run_options().threads):
            for step in self.sample_stream(length, start, top_n=top_n, top_p=top_p, temperature=temperature,
                                           seed=seed, num_samples=num_samples, ignore_unknown=ignore_unknown):
                for piece, char in zip(pieces, step):
                    piece.append(char)
        prefix = self.vocab_.decode(self.start_ids(start, ignore_unknown))
        texts = [prefix + "".join(p) for p in pieces]
        return texts[0] if num_samples == 1 else texts

    def evaluate(self, text: "str | os.PathLike | TextSource") -> dict:
        """How well the model predicts `text`, each character from those before it.

        A long pass shows its progress on stderr (a bar on a terminal, elsewhere a line a minute;
        nothing with `quiet`); a file is read in chunks, so memory holds one byte or so a character.

        Parameters
        ----------
        text : str, path or TextSource
            Held-out text (a file is read in chunks; a source with named splits is evaluated on its
            test part, as published results are); characters outside the model's alphabet are
            skipped and counted.

        Returns
        -------
        dict
            ``{"loss": nats per character, "bits_per_char": float, "n_chars": characters predicted,
            "n_unknown": characters skipped}``
        """
        self._check_fitted()
        try:
            corpus = as_source(text)
        except TypeError:
            raise InvalidInputTypeError(f"text must be one string, a path or a TextSource, got "
                                        f"{type(text).__name__}") from None
        quiet = self.run_options().quiet
        ids, _, n_unknown = encode_chars(corpus, self.vocab_, "test" if corpus.splits else None, quiet=quiet)
        if len(ids) < 2:
            raise InvalidInputError(f"nothing to evaluate: the text has {len(ids)} character(s) the model knows, "
                                    "at least 2 are needed (the first is only read)")
        with self._inference() as device:
            loss, n = stream_loss(self.model_, ids, device, rows=self._eval_rows(), quiet=quiet)
        return {"loss": loss, "bits_per_char": loss / math.log(2), "n_chars": n, "n_unknown": n_unknown}
