"""Work that grows: corpora encoded in chunks into token streams on disk, bounded validation, and
phases that show progress and stop promptly."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrnn.data import corpus
from seqrnn.errors import Interrupted
from seqrnn.nn.networks import CharRNN
from seqrnn.progress import Progress
from seqrnn.tasks.charlm import CharLanguageModel
from seqrnn.tasks.streams import StreamTask, stream_loss
from seqrnn.text.vocabulary import CharVocabulary, smallest_dtype

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 12
TINY = dict(hidden_size=16, embed_size=8, batch_size=4, num_steps=20, epochs=2, dropout=0.0, threads=1, quiet=True)


def split_in_memory(text: str, val_fraction: float):
    """What training read before: the whole text in memory, the last `val_fraction` held out."""
    cut = len(text) - int(round(len(text) * val_fraction))
    vocab = CharVocabulary.build(text[:cut])
    return vocab, vocab.encode(text[:cut]), vocab.encode(text[cut:], unknown="skip")


@settings(max_examples=60, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), min_size=2, max_size=300),
       chunk=st.integers(1, 40), val_fraction=st.sampled_from([0.0, 0.1, 0.5]))
def test_chunked_encoding_gives_the_ids_of_the_text_in_memory(text, chunk, val_fraction):
    old = corpus.CHUNK_CHARS
    corpus.CHUNK_CHARS = chunk
    try:
        vocab, train, val = split_in_memory(text, val_fraction)
        if not len(train):
            return
        streams = corpus.char_streams(corpus.TextSource(text=text), val_fraction)
    finally:
        corpus.CHUNK_CHARS = old
    assert streams.vocab == vocab
    assert np.array_equal(streams.train, train) and np.array_equal(streams.val, val)
    assert streams.train.dtype == smallest_dtype(len(vocab))


def test_a_file_larger_than_a_chunk_is_memory_mapped_with_the_same_ids(tmp_path, small_cache, monkeypatch):
    text = TEXT + "café ∑ 😀\n"
    path = tmp_path / "corpus.txt"
    path.write_bytes(("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))  # a BOM and CRLF, as Windows writes
    monkeypatch.setattr(corpus, "CHUNK_CHARS", 97)
    streams = corpus.char_streams(corpus.TextSource(path=path), 0.1)
    vocab, train, val = split_in_memory(text, 0.1)
    assert isinstance(streams.train, np.memmap) and isinstance(streams.val, np.memmap)
    assert streams.vocab == vocab and np.array_equal(streams.train, train) and np.array_equal(streams.val, val)
    entries = list(small_cache.iterdir())
    assert len(entries) == 1 and sorted(p.name for p in entries[0].iterdir()) == ["meta.json", "train.bin", "val.bin"]
    again = corpus.char_streams(corpus.TextSource(path=path), 0.1, vocab=vocab)  # a resumed run maps the same entry
    assert np.array_equal(again.train, train) and list(small_cache.iterdir()) == entries


@pytest.mark.parametrize("resumed", [False, True])
def test_a_damaged_stream_entry_is_made_again(tmp_path, small_cache, resumed):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    vocab, train, val = split_in_memory(TEXT, 0.1)
    corpus.char_streams(corpus.TextSource(path=path), 0.1)
    (entry,) = small_cache.iterdir()
    (entry / "train.bin").write_bytes(b"\0")  # truncated
    streams = corpus.char_streams(corpus.TextSource(path=path), 0.1, vocab=vocab if resumed else None)
    assert np.array_equal(streams.train, train) and np.array_equal(streams.val, val)


def test_a_model_trained_from_a_mapped_file_equals_one_trained_from_the_string(tmp_path, small_cache):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    from_file = CharLanguageModel(preset="default", seed=3, **TINY).fit(path)
    from_text = CharLanguageModel(preset="default", seed=3, **TINY).fit(TEXT)
    for name, tensor in from_text.model_.state_dict().items():
        assert torch.equal(tensor, from_file.model_.state_dict()[name]), name
    assert from_file.evaluate(path) == from_text.evaluate(TEXT)


def test_named_splits_train_validate_and_evaluate_on_their_ranges(tmp_path, small_cache):
    data = bytes(range(32, 127)) * 40  # 3,800 bytes
    path = tmp_path / "bytes"
    path.write_bytes(data)
    splits = {"train": (0, 3000), "val": (3000, 3400), "test": (3400, 3800)}
    source = corpus.TextSource(path=path, encoding="latin-1", splits=splits)
    streams = corpus.char_streams(source, val_fraction=0.9)  # the named split wins over val_fraction
    vocab = CharVocabulary(data[:3000].decode("latin-1"))
    assert np.array_equal(streams.train, vocab.encode(data[:3000].decode("latin-1")))
    assert np.array_equal(streams.val, vocab.encode(data[3000:3400].decode("latin-1"), unknown="skip"))
    ids, read, unknown = corpus.encode_chars(source, vocab, "test")
    assert read == 400 and unknown == 0 and np.array_equal(ids, vocab.encode(data[3400:].decode("latin-1")))


def test_validation_reads_a_bounded_estimate_the_same_windows_every_time():
    torch.manual_seed(0)
    model = CharRNN(7, hidden_size=8, dropout=0.0).eval()
    ids = np.random.default_rng(0).integers(0, 7, 50_001)
    calls = []
    with torch.no_grad():
        full, n_full = stream_loss(model, ids, torch.device("cpu"), rows=4, window=50)
        first, n = stream_loss(model, ids, torch.device("cpu"), rows=4, window=50, max_tokens=600,
                               on_batch=lambda: calls.append(1))
        second, _ = stream_loss(model, ids, torch.device("cpu"), rows=4, window=50, max_tokens=600)
        short, n_short = stream_loss(model, ids[:401], torch.device("cpu"), rows=4, window=50, max_tokens=600)
    assert n_full == 50_000 and n == 4 * 3 * 50 and len(calls) == 3
    assert first == second and abs(first - full) < 0.1  # an estimate of the whole, always the same one
    assert n_short == 400  # a stream within the bound is read whole


def test_the_classifier_validates_on_a_fixed_sample_of_at_most_eval_batches(tmp_path):
    from seqrnn.tasks.classifier import EncodedReviews, ReviewTask

    n = 1000
    val = EncodedReviews(np.arange(n * 3).reshape(n, 3), np.full(n, 3), np.arange(n) % 2, "right")
    first = ReviewTask(val, val, 10, False, 1, torch.device("cpu"), eval_batch_size=32, eval_batches=4)
    second = ReviewTask(val, val, 10, False, 1, torch.device("cpu"), eval_batch_size=32, eval_batches=4)
    whole = ReviewTask(val, val, 10, False, 1, torch.device("cpu"), eval_batch_size=32, eval_batches=0)
    assert len(first.val) == 4 * 10 and np.array_equal(first.val.ids, second.val.ids)
    assert len(whole.val) == n


def _interrupt_self(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    raise AssertionError("the signal should have stopped the work")


def test_ctrl_c_while_preparing_says_nothing_was_trained_and_leaves_nothing(tmp_path, small_cache, monkeypatch,
                                                                             capsys):
    from seqrnn.cli.main import main

    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    real = corpus._Writer.append
    calls = []

    def append_then_interrupt(self, array):
        real(self, array)
        calls.append(1)
        if len(calls) == 2:
            _interrupt_self()

    monkeypatch.setattr(corpus._Writer, "append", append_then_interrupt)
    monkeypatch.setattr(corpus, "CHUNK_CHARS", 100)
    out = tmp_path / "run"
    status = main(["charlm", "train", "--text", str(path), "--out", str(out), "--threads", "1", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 130 and len(calls) == 2
    assert err == ["seqrnn: interrupted by SIGINT while preparing the data: nothing was trained yet"]
    assert not (out / "config.json").exists() and not (out / "checkpoint").exists()
    assert list(small_cache.iterdir()) == []  # the half-built entry is gone
    assert not any(p.name.startswith(".stream") for p in small_cache.parent.rglob("*"))


def test_ctrl_c_during_validation_stops_between_batches_with_the_checkpoint(tmp_path):
    from seqrnn.config import TrainingConfig
    from seqrnn.training.rundir import RunDir
    from seqrnn.training.trainer import Trainer

    ids = np.random.default_rng(0).integers(0, 7, 4_001)
    task = StreamTask(ids, ids, 4, 10, torch.device("cpu"), metrics=lambda losses: {"loss": losses["forward"]},
                      eval_rows=1, eval_batches=0)
    batches = []
    real = task.validate

    def validate(model, on_batch=None):
        def counted():
            batches.append(1)
            if len(batches) == 2:
                os.kill(os.getpid(), signal.SIGINT)
            on_batch()
        return real(model, on_batch=counted)

    task.validate = validate
    model = CharRNN(7, hidden_size=8, dropout=0.0)
    run = RunDir(tmp_path / "run")
    with pytest.raises(Interrupted) as info:
        Trainer(model, task, TrainingConfig(epochs=1), run, torch.device("cpu"), quiet=True).fit()
    assert len(batches) == 2  # of the 16 windows of the held-out stream
    assert info.value.checkpoint is not None and run.has_checkpoint()
    assert info.value.step == 100


def test_progress_off_a_terminal_is_a_plain_line_at_the_interval(capsys):
    with Progress("encode", 2_000_000, "B", every_s=0.0) as progress:
        progress.update_to(1_000_000)
    with Progress("loss", 10, "batch") as progress:  # shorter than the interval: silent
        progress.update(3)
    with Progress("encode", 10, "B", every_s=0.0, quiet=True) as progress:
        progress.update(3)
    assert capsys.readouterr().err.splitlines() == ["encode: 1.0 MB of 2.0 MB (50%), 0.0 min"]


def test_evaluate_of_a_long_text_shows_progress_off_a_terminal(tmp_path, small_cache, monkeypatch, seqrnn_cli):
    import seqrnn.progress

    lm = CharLanguageModel(preset="default", seed=3, **{**TINY, "epochs": 1}).fit(TEXT, out_dir=tmp_path / "m")
    text = tmp_path / "long.txt"
    text.write_text(TEXT * 20, encoding="utf-8")
    monkeypatch.setattr(seqrnn.progress, "PLAIN_LINE_EVERY_S", 0.0)
    result = seqrnn_cli("charlm", "evaluate", "--model", tmp_path / "m", "--text", text, "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("encode: ") for line in lines) and any(line.startswith("loss: ") for line in lines)
    assert json.loads(result.stdout)["n_chars"] == len(TEXT * 20) - 1 == lm.evaluate(TEXT * 20)["n_chars"]
