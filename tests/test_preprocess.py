"""seqrnn.text.tokens: tokenizer equivalence with the book, vocabularies, fixed-length encoding,
truncated-BPTT stream batching, and character-vocabulary identity across processes."""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrnn.errors import SeqrnnError
from seqrnn.tasks.streams import reshape_stream
from seqrnn.text import tokens as pp
from seqrnn.text.tokens import index_tokens, tokenize
from seqrnn.text.vocabulary import CharVocabulary, Vocabulary, build_and_encode, encode_flat, encode_texts

punctuation = string.punctuation


def book_tokenize(review: str) -> list[str]:
    """The book's code, verbatim."""
    return "".join([c if c not in punctuation else " " + c + " " for c in review]).lower().split()


def tokenize_many(texts) -> list[list[str]]:
    """The tokens of every text, read back from `index_tokens`' flat indices."""
    tokens = index_tokens(texts)
    bounds = tokens.offsets.tolist()
    assert bounds[0] == 0 and len(bounds) == len(texts) + 1
    return [[tokens.words[j] for j in tokens.ids[a:b].tolist()] for a, b in zip(bounds[:-1], bounds[1:])]


def build_vocabulary(token_lists, min_count=1, max_size=None) -> Vocabulary:
    """The vocabulary of token lists, as the book counts them."""
    return Vocabulary.from_counts(Counter(tok for tokens in token_lists for tok in tokens), min_count, max_size)


def encode_fixed(rows, seq_len, **kw):
    """`encode_flat` of a list of id lists."""
    offsets = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    flat = np.array([i for r in rows for i in r], dtype=np.int64)
    return encode_flat(flat, offsets, seq_len, **kw)


# Characters that stress the tokenizer: punctuation, every kind of whitespace str.split knows,
# capital sigma (context-dependent lower case), characters whose lower case is longer (İ),
# combining marks, NUL, non-BMP, a lone surrogate, and 2-4 byte UTF-8.
TRICKY = (list(punctuation) + list(pp.WHITESPACE) + list("ΣσςΑΒİIıKKÅẞß\u0307\u0301\x00\x01😀𝔘’“—é£")
          + ["\ud800", "\u200b", "\ufeff"])
tricky_text = st.text(alphabet=st.sampled_from(TRICKY + list("abcXYZ019")), max_size=60)
# long words exercise the 9-16 byte and >16 byte token paths
words = st.sampled_from(["a", "the", "Σ", "ΑΣ", "film", "wonderful", "unbelievably", "misunderstandings",
                         "CHARACTERIZATIONS", "ab\x00cd", "zzzzzzzzzzzzzzzzzzzzzzzz", "ÉÉÉÉÉ", "😀😀😀"])
wordy_text = st.lists(st.one_of(words, st.sampled_from(TRICKY)), max_size=30).map("".join)
any_text = st.one_of(st.text(max_size=80), tricky_text, wordy_text)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_tokenize_equals_book(text):
    assert tokenize(text) == book_tokenize(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(any_text, max_size=8))
def test_tokenize_many_equals_book(texts):
    assert tokenize_many(texts) == [book_tokenize(t) for t in texts]


def test_tokenize_many_across_batches(monkeypatch):
    """Small engine batches: tokens never straddle texts or batches, long tokens are shared."""
    monkeypatch.setattr(pp, "_BATCH_BYTES", 16)
    texts = ["Hello, World!", "", "misunderstandings abound", "ΑΣ'Α ΣΑ.", "x" * 40, "misunderstandings!"] * 3
    assert tokenize_many(texts) == [book_tokenize(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_lower_commutes_with_spacing_punctuation_except_for_sigma(text):
    """The premise of the engine, which lower-cases before it finds punctuation."""
    if "\u03a3" not in text:
        assert text.lower().translate(pp._SPACE_PUNCT) == text.translate(pp._SPACE_PUNCT).lower()


def test_lower_then_space_differs_only_for_sigma():
    """Why the engine spaces punctuation before lower-casing texts with 'Σ': the final-sigma rule
    looks through case-ignorable punctuation such as ' and ., but not through the book's spaces."""
    text = "ΑΣ'Α"
    assert text.translate(pp._SPACE_PUNCT).lower().split() == ["ας", "'", "α"]
    assert text.lower().translate(pp._SPACE_PUNCT).split() == ["ασ", "'", "α"]
    assert tokenize_many([text]) == [["ας", "'", "α"]]


def test_lower_never_creates_or_removes_punctuation_or_whitespace():
    """The premise of lower-casing before spacing punctuation, over every code point."""
    punct = set(punctuation)
    for i in range(sys.maxunicode + 1):
        c = chr(i)
        low = c.lower()
        if c in punct or c.isspace():
            assert low == c
        else:
            assert not any(ch in punct or ch.isspace() for ch in low), hex(i)


def test_whitespace_table_is_what_str_split_uses():
    assert sorted(pp.WHITESPACE) == [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    assert ("a" + pp.WHITESPACE + "b").split() == ["a", "b"]


def test_index_tokens_counts_and_offsets():
    tokens = index_tokens(["The film, the END.", "", "film!"])
    assert tokens.lengths.tolist() == [6, 0, 2]
    counts = dict(zip(tokens.words, tokens.counts().tolist()))
    assert counts == {"the": 2, "film": 2, ",": 1, "end": 1, ".": 1, "!": 1}
    only_last = dict(zip(tokens.words, tokens.counts([2]).tolist()))
    assert {w: c for w, c in only_last.items() if c} == {"film": 1, "!": 1}
    assert tokenize_many([]) == [] and len(index_tokens([])) == 0


def test_key_collision_falls_back_to_exact(monkeypatch):
    """If two 9-16 byte tokens ever hashed alike, the result would still be exact."""
    monkeypatch.setattr(pp, "_MIX1", np.uint64(0))
    monkeypatch.setattr(pp, "_MIX2", np.uint64(0))  # every medium token hashes alike
    texts = ["wonderful unbelievably wonderful", "misunderstanding wonderfully"]
    assert tokenize_many(texts) == [book_tokenize(t) for t in texts]


# --- word vocabulary ------------------------------------------------------------------------------


def test_vocabulary_order_ties_and_reserved_ids():
    vocab = build_vocabulary([["b", "a", "c", "a"], ["c", "d", "b", "a"]])
    # counts: a 3, b 2, c 2, d 1 -> ties (b, c) by the word itself
    assert vocab.words == ["a", "b", "c", "d"]
    assert vocab.PAD == 0 and vocab.UNK == 1 and len(vocab) == 6
    assert vocab.encode(["a", "d", "zzz"]) == [2, 5, 1]
    assert vocab.decode([0, 1, 2, 5]) == ["<pad>", "<unk>", "a", "d"]
    assert "a" in vocab and "zzz" not in vocab and "<pad>" not in vocab
    with pytest.raises(SeqrnnError):
        vocab.decode([6])


def test_vocabulary_min_count_and_max_size():
    tokens = [["x"] * 5 + ["y"] * 3 + ["z"] * 3 + ["w"]]
    assert build_vocabulary(tokens, min_count=3).words == ["x", "y", "z"]
    assert build_vocabulary(tokens, max_size=2).words == ["x", "y"]
    assert build_vocabulary(tokens, min_count=2, max_size=10).words == ["x", "y", "z"]
    assert len(build_vocabulary(tokens, max_size=0)) == 2
    with pytest.raises(SeqrnnError):
        build_vocabulary(tokens, min_count=0)


def test_vocabulary_deterministic_whatever_the_input_order():
    tokens = [tokenize("b a c d e f g"), tokenize("g f e d c b a")]
    assert build_vocabulary(tokens) == build_vocabulary(tokens[::-1])
    assert build_vocabulary(tokens).words == list("abcdefg")


def test_build_and_encode_counts_match_the_book():
    texts = ["A great, great film!", "Not a great film; not at all.", "ΑΣ'Α misunderstandings"]
    ref = build_vocabulary([book_tokenize(t) for t in texts])
    vocab, _, _ = build_and_encode(texts, 4)
    assert vocab == ref and vocab.counts == ref.counts


def test_vocabulary_dict_round_trip():
    vocab = build_vocabulary([tokenize("Ça va? 😀 \"quoted\" words, words.")])
    loaded = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert loaded == vocab and loaded.counts == vocab.counts
    assert Vocabulary.from_dict({"kind": "words", "words": ["a", "b"]}).counts is None
    with pytest.raises(SeqrnnError, match="not a word vocabulary"):
        Vocabulary.from_dict(CharVocabulary.build("abc").to_dict())
    with pytest.raises(SeqrnnError, match="duplicate"):
        Vocabulary.from_dict({"kind": "words", "words": ["a", "a"]})


# --- fixed-length encoding ------------------------------------------------------------------------


def book_pad(mapped, seq_len):
    """The book's per-row fill (left-pad with 0, keep the last seq_len ids)."""
    sequences = np.zeros((len(mapped), seq_len), dtype=int)
    for i, row in enumerate(mapped):
        if row:  # the book's `sequences[i, -0:]` would fail on an empty review
            sequences[i, -len(row):] = np.array(row)[-seq_len:]
    return sequences


ROWS = [[1, 2, 3], [], [4, 5, 6, 7, 8, 9], [7]]


def test_encode_fixed_book_default():
    x, lengths = encode_fixed(ROWS, 4)
    assert x.dtype == np.int64 and x.shape == (4, 4)
    assert x.tolist() == [[0, 1, 2, 3], [0, 0, 0, 0], [6, 7, 8, 9], [0, 0, 0, 7]]
    assert lengths.tolist() == [3, 0, 4, 1]
    assert np.array_equal(x, book_pad(ROWS, 4))


@pytest.mark.parametrize("truncate,pad,expected", [
    ("right", "left", [[0, 1, 2, 3], [0, 0, 0, 0], [4, 5, 6, 7], [0, 0, 0, 7]]),
    ("left", "right", [[1, 2, 3, 0], [0, 0, 0, 0], [6, 7, 8, 9], [7, 0, 0, 0]]),
    ("right", "right", [[1, 2, 3, 0], [0, 0, 0, 0], [4, 5, 6, 7], [7, 0, 0, 0]]),
])
def test_encode_fixed_options(truncate, pad, expected):
    x, lengths = encode_fixed(ROWS, 4, truncate=truncate, pad=pad)
    assert x.tolist() == expected and lengths.tolist() == [3, 0, 4, 1]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(1, 50), max_size=12), max_size=10), st.integers(1, 8))
def test_encode_fixed_matches_book_fill(rows, seq_len):
    x, lengths = encode_fixed(rows, seq_len)
    assert np.array_equal(x, book_pad(rows, seq_len).reshape(len(rows), seq_len))
    assert lengths.tolist() == [min(len(r), seq_len) for r in rows]


def test_encode_fixed_errors():
    for bad in (0, -3):
        with pytest.raises(SeqrnnError, match="at least 1"):
            encode_fixed(ROWS, bad)
    with pytest.raises(SeqrnnError):
        encode_fixed(ROWS, 3, truncate="middle")
    x, lengths = encode_fixed([], 5)
    assert x.shape == (0, 5) and lengths.shape == (0,)


def test_encode_texts_and_build_and_encode_match_slow_path():
    texts = ["I loved this film, loved it!", "Awful; simply awful.", "", "unseen words here"]
    vocab = build_vocabulary(tokenize_many(texts[:2]))
    slow = encode_fixed([vocab.encode(tokenize(t)) for t in texts], 5)
    fast = encode_texts(texts, vocab, 5)
    assert all(np.array_equal(a, b) for a, b in zip(slow, fast))
    v2, x2, l2 = build_and_encode(texts, 5, vocab_rows=np.array([True, True, False, False]))
    assert v2 == vocab and np.array_equal(x2, slow[0]) and np.array_equal(l2, slow[1])


# --- character vocabulary -------------------------------------------------------------------------


def test_char_vocabulary_round_trip():
    text = "To be, or not to be: that is the question.\n😀 Ω\u0301"
    vocab = CharVocabulary.build(text)
    assert vocab.chars == sorted(set(text)) and len(vocab) == len(set(text))
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and vocab.decode(ids) == text
    assert ids.tolist() == [vocab.chars.index(c) for c in text]
    assert CharVocabulary.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab


def test_char_vocabulary_unknowns():
    vocab = CharVocabulary.build("abc ")
    assert vocab.unknown_chars("a bad cab!?") == ["!", "?", "d"]
    assert vocab.decode(vocab.encode("a bad cab!?", unknown="skip")) == "a ba cab"
    with pytest.raises(SeqrnnError, match="not in the vocabulary"):
        vocab.encode("xyz")
    with pytest.raises(SeqrnnError):
        vocab.decode([4])
    assert vocab.encode("").shape == (0,)


def test_char_vocabulary_fast_on_a_megabyte():
    import time

    text = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20000)[:1_000_000]
    vocab = CharVocabulary.build(text)
    t = time.perf_counter()
    ids = vocab.encode(text)
    assert time.perf_counter() - t < 1.0 and len(ids) == 1_000_000


SCRIPT = ("import sys; from seqrnn.text.vocabulary import CharVocabulary; t = open(sys.argv[1], encoding='utf-8').read(); "
          "print(repr(''.join(CharVocabulary.build(t).chars))); print(repr(''.join(list(set(t)))))")


@pytest.mark.slow
def test_char_vocabulary_identical_across_hash_seeds(tmp_path):
    """The book's `set(text)` order depends on PYTHONHASHSEED; CharVocabulary's does not."""
    text_file = tmp_path / "t.txt"
    text_file.write_text("The quick brown fox jumps over the lazy dog! 0123456789 ÆØÅ?\n", encoding="utf-8")
    ours, books = set(), set()
    for seed in ("0", "1", "2", "3"):
        out = subprocess.run([sys.executable, "-c", SCRIPT, str(text_file)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout.splitlines()
        ours.add(out[0])
        books.add(out[1])
    assert len(ours) == 1
    assert len(books) > 1  # the test has teeth: the set order really changes between seeds


# --- stream batching ------------------------------------------------------------------------------


def book_reshape_data(sequence, batch_size, num_steps):
    """The book's reshape_data, verbatim."""
    tot_batch_length = batch_size * num_steps
    num_batches = int(len(sequence) / tot_batch_length)
    if num_batches * tot_batch_length + 1 > len(sequence):
        num_batches = num_batches - 1
    x = sequence[0:num_batches * tot_batch_length]
    y = sequence[1:num_batches * tot_batch_length + 1]
    x_batch_splits = np.split(x, batch_size)
    y_batch_splits = np.split(y, batch_size)
    x = np.stack(x_batch_splits)
    y = np.stack(y_batch_splits)
    return x, y


@pytest.mark.parametrize("batch_size,num_steps", [(1, 1), (2, 3), (4, 5), (3, 7)])
def test_reshape_stream_matches_book(batch_size, num_steps):
    per_window = batch_size * num_steps
    for n in range(per_window + 1, 4 * per_window + 3):  # every remainder, incl. exact multiples
        seq = np.arange(n) * 10
        x, y = reshape_stream(seq, batch_size, num_steps)
        bx, by = book_reshape_data(seq, batch_size, num_steps)
        assert np.array_equal(x, bx) and np.array_equal(y, by), n
        assert x.shape[1] % num_steps == 0 and x.shape[0] == batch_size
        assert np.array_equal(y.ravel(), x.ravel() + 10)  # y is x shifted by one
        dropped = n - 1 - x.size
        assert 0 <= dropped < per_window  # only the less-than-a-window tail is dropped


def test_reshape_stream_too_short_names_the_parameters():
    for n in (0, 1, 12):
        with pytest.raises(SeqrnnError) as info:
            reshape_stream(np.arange(n), 3, 4, unit="words")
        msg = str(info.value)
        assert "`batch_size`" in msg and "`num_steps`" in msg and "13" in msg and f"{n} words" in msg
    x, _ = reshape_stream(np.arange(13), 3, 4)
    assert x.shape == (3, 4)
    with pytest.raises(SeqrnnError, match="`num_steps`"):
        reshape_stream(np.arange(100), 3, 0)


def test_tokenize_many_real_reviews_equal_book(shared_data):
    """2,000 real reviews (with <br />, accents, curly quotes) through the engine and the book."""
    from seqrnn.data.imdb import read_imdb

    reviews = read_imdb(shared_data / "aclImdb_train.tar.gz", splits=("train",))
    texts = reviews.texts[::12][:2000]
    assert tokenize_many(texts) == [book_tokenize(t) for t in texts]
    counts = Counter(tok for t in texts for tok in book_tokenize(t))
    vocab, _, _ = build_and_encode(texts, 5)
    assert vocab.words == sorted(counts, key=lambda w: (-counts[w], w))


def test_key_table_grows_and_finds():
    rng = np.random.default_rng(0)
    table = pp._KeyTable(bits=4)
    seen: dict[int, int] = {}
    for _ in range(6):
        keys = rng.integers(1, 2**63, 300, dtype=np.uint64)
        keys = np.concatenate((keys, keys[:50], np.array(list(seen)[:20], dtype=np.uint64)))
        values = table.index(keys)
        for k, v in zip(keys.tolist(), values.tolist()):
            assert seen.setdefault(k, v) == v
    assert sorted(seen.values()) == list(range(len(seen))) == list(range(len(table.keys)))
    assert table.find(np.array([12345, 999], dtype=np.uint64)).tolist() == [-1, -1]
    assert (table.find(table.keys) == np.arange(len(table.keys))).all()


# --- the cache of tokenized texts -----------------------------------------------------------------


CACHED_TEXTS = ["The film, the END.", "", "ab\x00cd \ud800 lone", "ΑΣ'Α misunderstandings 😀", "film!"] * 3


def same_tokens(a, b) -> bool:
    return a.words == b.words and np.array_equal(a.ids, b.ids) and a.ids.dtype == b.ids.dtype \
        and np.array_equal(a.offsets, b.offsets) and a.offsets.dtype == b.offsets.dtype


def test_tokens_come_back_from_the_cache(small_cache, monkeypatch):
    fresh = index_tokens(CACHED_TEXTS)
    assert len(list(small_cache.glob("tokens-*.npz"))) == 1
    monkeypatch.setattr(pp, "_tokenize_all", lambda texts: pytest.fail("tokenized although cached"))
    again = index_tokens(tuple(CACHED_TEXTS))
    assert same_tokens(again, fresh)
    assert tokenize_many(CACHED_TEXTS) == [book_tokenize(t) for t in CACHED_TEXTS]


def test_token_cache_key_follows_texts_and_tokenizer_version(small_cache, monkeypatch):
    index_tokens(["ab", "c"])
    assert tokenize_many(["a", "bc"]) == [["a"], ["bc"]]  # the same characters, other texts
    assert len(list(small_cache.glob("tokens-*.npz"))) == 2
    monkeypatch.setattr(pp, "TOKENIZER_VERSION", "changed")
    index_tokens(["ab", "c"])
    assert len(list(small_cache.glob("tokens-*.npz"))) == 3


def test_tokens_equal_with_and_without_cache(small_cache, monkeypatch):
    cold, warm = index_tokens(CACHED_TEXTS), index_tokens(CACHED_TEXTS)
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    assert same_tokens(cold, warm) and same_tokens(index_tokens(CACHED_TEXTS), warm)


def test_small_inputs_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQRNN_CACHE", str(tmp_path / "cache"))
    index_tokens(CACHED_TEXTS)
    assert not (tmp_path / "cache").exists()
