"""Files read as a stream into token arrays (`data.read_labelled_tokens`, `data.read_document_tokens`),
and everything downstream of them: the same tokens, labels, vocabulary, encoded matrices, word
streams and trained weights as from the texts read as strings, at any batch and slice size."""

from __future__ import annotations

import csv
import json
import os
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqrnn.data import labelled as data_module
from seqrnn.data.corpus import read_text
from seqrnn.data.labelled import read_document_tokens, read_labelled, read_labelled_tokens
from seqrnn.tasks.classifier import TextClassifier
from seqrnn.tasks.wordlm import WordLanguageModel
from seqrnn.text import tokens as preprocess
from seqrnn.text import vocabulary
from seqrnn.text.tokens import TokenizedTexts, index_tokens, tokenize
from seqrnn.text.vocabulary import encode_flat


def token_lists(tokens: TokenizedTexts) -> list[list[str]]:
    return [[tokens.words[j] for j in tokens.ids[a:b]] for a, b in zip(tokens.offsets[:-1], tokens.offsets[1:])]


def write_rows(path: Path, texts, labels, kind: str, line_end: str = "\n") -> Path:
    if kind == "jsonl":
        with open(path, "w", encoding="utf-8", newline="") as f:
            for text, label in zip(texts, labels):
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + line_end)
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t" if kind == "tsv" else ",", lineterminator=line_end)
            writer.writerow(["text", "label"])
            writer.writerows(zip(texts, labels))
    return path


# texts with punctuation, quotes, separators, line breaks inside fields and non-ASCII characters
TEXT = st.lists(st.sampled_from(list("ab Zé,.;\"'!?\t\nΣσ😀-") + ["\r\n", "word", "misunderstanding"]),
                min_size=1, max_size=40).map("".join).filter(str.strip)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(TEXT, st.sampled_from(["pos", "neg", "mixed"])), min_size=1, max_size=25),
       kind=st.sampled_from(["csv", "tsv", "jsonl"]), line_end=st.sampled_from(["\n", "\r\n"]),
       batch_chars=st.integers(1, 200))
def test_streamed_tokens_equal_the_texts_tokenized_at_once(monkeypatch, rows, kind, line_end, batch_chars):
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    monkeypatch.setattr(data_module, "TOKENIZE_BATCH_CHARS", batch_chars)  # many batches, boundaries anywhere
    texts, labels = zip(*rows)
    if kind == "tsv":  # a TSV field holds no tab
        texts = tuple(t.replace("\t", " ") for t in texts if t.replace("\t", " ").strip()) or ("x",)
        labels = labels[: len(texts)]
    with tempfile.TemporaryDirectory() as folder:
        path = write_rows(Path(folder) / f"rows.{kind}", texts, labels, kind, line_end)
        as_strings = read_labelled(path)
        streamed = read_labelled_tokens(path, quiet=True)
    # a CRLF inside a quoted CSV field reads as LF, as everywhere else; a JSON string is what it says
    assert as_strings.texts == [t if kind == "jsonl" else t.replace("\r\n", "\n") for t in texts]
    assert token_lists(streamed.texts) == [tokenize(t) for t in as_strings.texts]
    assert streamed.labels.tolist() == as_strings.labels.tolist() == list(labels)


def test_a_file_read_as_tokens_trains_the_same_weights_and_predicts_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    monkeypatch.setattr(data_module, "TOKENIZE_BATCH_CHARS", 500)
    for module in (preprocess, vocabulary):  # counting and encoding a few texts at a time
        monkeypatch.setattr(module, "ROWS_PER_SLICE", 7)
    rng = np.random.default_rng(0)
    words = ["good", "great", "bad", "awful", "film", "plot", "the", "a", "and", ",", "."]
    labels = rng.choice(["neg", "pos", "meh"], 150).tolist()
    texts = [" ".join(rng.choice(words, rng.integers(3, 30))) + f" {label}ish" for label in labels]
    path = write_rows(tmp_path / "train.jsonl", texts, labels, "jsonl")
    streamed = read_labelled_tokens(path, quiet=True)
    settings_ = dict(embed_size=8, hidden_size=8, seq_len=12, batch_size=16, epochs=1, threads=1, quiet=True,
                     min_count=2)
    unlabelled = ["good film , the plot", "awful and bad"]
    a = TextClassifier(**settings_).fit(streamed.texts, streamed.labels, unlabelled=unlabelled)
    b = TextClassifier(**settings_).fit(read_labelled(path).texts, labels, unlabelled=unlabelled)
    assert a.vocab_ == b.vocab_ and a.vocab_.counts == b.vocab_.counts
    for (name, x), (_, y) in zip(a.model_.state_dict().items(), b.model_.state_dict().items()):
        assert torch.equal(x, y), name
    assert np.array_equal(a.predict_proba(streamed.texts), b.predict_proba(texts))
    assert a.evaluate(streamed.texts, streamed.labels) == b.evaluate(texts, labels)


@pytest.mark.parametrize("pad", ["left", "right"])
@pytest.mark.parametrize("truncate", ["left", "right"])
def test_encoding_chosen_rows_a_slice_at_a_time_equals_encoding_all(monkeypatch, pad, truncate):
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 9, 23)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = rng.integers(0, 50, offsets[-1]).astype(np.int32)
    table = rng.permutation(50).astype(np.int64)
    whole, kept = encode_flat(flat, offsets, 5, truncate=truncate, pad=pad, table=table)
    rows = rng.permutation(23)[:17]
    for module in (preprocess, vocabulary):
        monkeypatch.setattr(module, "ROWS_PER_SLICE", 4)
    part, part_kept = encode_flat(flat, offsets, 5, truncate=truncate, pad=pad, table=table, rows=rows,
                                  dtype=np.int32)
    assert part.dtype == np.int32
    assert np.array_equal(part, whole[rows]) and np.array_equal(part_kept, kept[rows])
    for i, row in enumerate(rows.tolist()):  # each row by hand
        ids = table[flat[offsets[row]:offsets[row + 1]]]
        ids = ids[-5:] if truncate == "left" else ids[:5]
        expected = np.zeros(5, dtype=np.int64)
        if len(ids):
            expected[5 - len(ids):] = ids if pad == "left" else 0
            if pad == "right":
                expected[:len(ids)] = ids
        assert part[i].tolist() == expected.tolist()


def test_counts_take_concatenate_and_digest(monkeypatch):
    texts = ["The film, the END.", "", "film!", "A plot; the plot.", "end"]
    tokens = index_tokens(texts)
    for module in (preprocess, vocabulary):
        monkeypatch.setattr(module, "ROWS_PER_SLICE", 2)
    for rows in ([0, 3], [4, 2, 1], np.array([True, False, True, True, False])):
        chosen = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows
        expected = {}
        for i in chosen:
            for word in tokenize(texts[i]):
                expected[word] = expected.get(word, 0) + 1
        counts = dict(zip(tokens.words, tokens.counts(rows).tolist()))
        assert {w: c for w, c in counts.items() if c} == expected
    taken = tokens.take([3, 0])
    assert token_lists(taken) == [tokenize(texts[3]), tokenize(texts[0])]
    joined = TokenizedTexts.concatenate([taken, index_tokens(["new words", "film"])])
    assert token_lists(joined) == [tokenize(texts[3]), tokenize(texts[0]), ["new", "words"], ["film"]]
    assert len(set(joined.words)) == len(joined.words)
    # the digest of a set of texts: the same however they were tokenized together, and in any order
    assert tokens.digest([0, 3]) == index_tokens([texts[3], "x", texts[0]]).digest([2, 0])
    assert tokens.digest([0, 3]) != tokens.digest([0, 2])


def test_reading_shows_progress_off_a_terminal(tmp_path, monkeypatch, capsys):
    from seqrnn import progress

    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    monkeypatch.setattr(progress, "PLAIN_LINE_EVERY_S", 0.0)
    path = write_rows(tmp_path / "rows.csv", [f"text number {i}" for i in range(3000)], ["a", "b"] * 1500, "csv")
    read_labelled_tokens(path)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("read rows.csv:")]
    assert len(lines) >= 2 and "%" in lines[-1] and "KB" in lines[-1]


def test_ctrl_c_while_reading_a_labelled_file_says_nothing_was_trained(tmp_path, small_cache, monkeypatch, capsys):
    from seqrnn.cli.main import main

    path = write_rows(tmp_path / "rows.jsonl", [f"review {i} , good" for i in range(400)], ["a", "b"] * 200, "jsonl")
    monkeypatch.setattr(data_module, "TOKENIZE_BATCH_CHARS", 100)
    real, calls = preprocess.Tokenizer.add, []

    def add_then_interrupt(self, texts):
        real(self, texts)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
            raise AssertionError("the signal should have stopped the reading")

    monkeypatch.setattr(preprocess.Tokenizer, "add", add_then_interrupt)
    out = tmp_path / "run"
    status = main(["classify", "train", "--data", str(path), "--out", str(out), "--threads", "1", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 130 and len(calls) == 3
    assert err == ["seqrnn: interrupted by SIGINT while reading the data: nothing was trained yet"]
    assert not out.exists() or not any(out.iterdir())
    assert not small_cache.exists() or list(small_cache.iterdir()) == []  # no half-built entry


LINE = st.lists(st.sampled_from(list("ab Z,.!\tΣ") + ["\r\n", "\n", "\r", "\x0b", "\u2028", "\x85", "word", "   "]),
                min_size=1, max_size=60).map("".join)


@settings(max_examples=60, deadline=None)
@given(text=LINE, batch_chars=st.integers(1, 50), bom=st.booleans())
def test_documents_streamed_are_the_non_empty_lines_of_the_text(text, batch_chars, bom):
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
        monkeypatch.setattr(data_module, "TOKENIZE_BATCH_CHARS", batch_chars)
        path = Path(folder) / "corpus.txt"
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
        if not text.strip():
            with pytest.raises(Exception, match="empty"):
                read_document_tokens(path, quiet=True)
            return
        documents = [line for line in read_text(path).splitlines() if line.strip()]
        assert token_lists(read_document_tokens(path, quiet=True)) == [tokenize(d) for d in documents]


def test_a_word_model_from_a_file_read_as_tokens_trains_the_same_weights(tmp_path, monkeypatch):
    import seqrnn.tasks.wordlm

    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    monkeypatch.setattr(data_module, "TOKENIZE_BATCH_CHARS", 300)
    monkeypatch.setattr(seqrnn.tasks.wordlm, "_DOCUMENTS_PER_SLICE", 3)  # streams built a few documents at a time
    rng = np.random.default_rng(2)
    words = ["the", "film", "was", "good", "bad", ",", ".", "and", "a", "plot"]
    lines = [" ".join(rng.choice(words, rng.integers(1, 25))) for _ in range(120)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    unlabelled = [" ".join(rng.choice(words, 8)) for _ in range(30)]
    options = dict(embed_size=8, hidden_size=8, batch_size=4, num_steps=6, epochs=1, threads=1, quiet=True,
                   limit=20, min_count=1)
    a = WordLanguageModel(**options).fit(read_document_tokens(path, quiet=True), unlabelled=unlabelled)
    b = WordLanguageModel(**options).fit(lines, unlabelled=unlabelled)
    assert a.vocab_ == b.vocab_ and a.dataset_ == b.dataset_
    for (name, x), (_, y) in zip(a.model_.state_dict().items(), b.model_.state_dict().items()):
        assert torch.equal(x, y), name
    assert a.evaluate(read_document_tokens(path, quiet=True)) == b.evaluate(lines)


def test_evaluate_shows_progress_and_predict_does_not(monkeypatch, capsys):
    from seqrnn import progress

    texts, labels = ["good film", "bad film", "great plot", "awful plot"] * 8, ["pos", "neg", "pos", "neg"] * 8
    clf = TextClassifier(embed_size=4, hidden_size=4, seq_len=5, batch_size=8, epochs=1, threads=1,
                         quiet=True).fit(texts, labels)
    capsys.readouterr()
    monkeypatch.setattr(progress, "PLAIN_LINE_EVERY_S", 0.0)
    clf.set_params(quiet=False, eval_batch_size=4)
    clf.predict_proba(texts)
    assert capsys.readouterr().err == ""
    clf.evaluate(texts, labels)
    assert "predict: " in capsys.readouterr().err
    clf.set_params(quiet=True)
    clf.evaluate(texts, labels)
    assert capsys.readouterr().err == ""


def test_a_damaged_token_entry_is_made_again(tmp_path, small_cache):
    path = write_rows(tmp_path / "rows.csv", ["good film", "bad film"], ["pos", "neg"], "csv")
    assert token_lists(read_labelled_tokens(path, quiet=True).texts) == [["good", "film"], ["bad", "film"]]
    (entry,) = [p for p in small_cache.iterdir() if p.name.startswith("tokens-")]
    (entry / "ids.bin").write_bytes(b"\0")  # truncated
    again = read_labelled_tokens(path, quiet=True)
    assert token_lists(again.texts) == [["good", "film"], ["bad", "film"]]
    assert (entry / "ids.bin").stat().st_size == 4 * 4


@pytest.mark.parametrize("cached", [False, True])
def test_a_hash_collision_while_streaming_reads_the_file_again_exactly(tmp_path, monkeypatch, cached, request):
    if cached:  # the ids go straight to the cache entry's file, which the second reading writes again
        request.getfixturevalue("small_cache")
    else:
        monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    monkeypatch.setattr(preprocess, "_MIX1", np.uint64(0))
    monkeypatch.setattr(preprocess, "_MIX2", np.uint64(0))  # every 9-16 byte token hashes alike
    monkeypatch.setattr(data_module, "TOKENIZE_BATCH_CHARS", 20)
    texts = ["wonderful unbelievably wonderful", "misunderstanding wonderfully", "plain words"]
    path = write_rows(tmp_path / "rows.jsonl", texts, ["a", "b", "a"], "jsonl")
    data = read_labelled_tokens(path, quiet=True)
    assert isinstance(data.texts.ids, np.memmap) == cached
    assert token_lists(data.texts) == [tokenize(t) for t in texts]
    assert data.labels.tolist() == ["a", "b", "a"]  # read twice, kept once


def test_a_word_model_validates_on_at_most_eval_batches(monkeypatch):
    import seqrnn.tasks.wordlm

    made = []

    class Recorded(seqrnn.tasks.wordlm.StreamTask):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(seqrnn.tasks.wordlm, "StreamTask", Recorded)
    lines = [f"the film {i} was good , and the plot was bad ." for i in range(60)]
    options = dict(embed_size=8, hidden_size=8, batch_size=2, num_steps=3, epochs=1, threads=1, quiet=True)
    WordLanguageModel(eval_batches=2, **options).fit(lines)
    WordLanguageModel(eval_batches=0, **options).fit(lines)
    assert [task.eval_tokens for task in made] == [2 * 2 * 3, 0]  # 0: the whole held-out stream


def test_word_streams_from_the_cache_are_memory_maps_and_train_the_same_weights(tmp_path, small_cache):
    import seqrnn.tasks.wordlm

    rng = np.random.default_rng(3)
    words = ["the", "film", "was", "good", "bad", ",", "."]
    lines = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(80)]
    options = dict(embed_size=8, hidden_size=8, batch_size=4, num_steps=5, epochs=1, threads=1, quiet=True)
    cached = WordLanguageModel(**options).fit(lines)  # MIN_INPUT_BYTES is 0 here: every stream is cached
    (entry,) = [p for p in small_cache.iterdir() if p.name.startswith("words-")]
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "train.bin", "val.bin"]
    flat = np.arange(1, 10, dtype=np.uint16)
    train, val = seqrnn.tasks.wordlm.word_streams(flat, np.array([0, 4, 9]), np.array([1, 0]), np.array([], dtype=np.int64))
    assert isinstance(train, np.memmap) and train.tolist() == [0, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4] and len(val) == 0
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
        in_memory = WordLanguageModel(**options).fit(lines)
    for (name, x), (_, y) in zip(cached.model_.state_dict().items(), in_memory.model_.state_dict().items()):
        assert torch.equal(x, y), name
