"""Word vectors from co-occurrence counts: the counts, the PPMI matrix, the vectors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrnn.text import wordvectors
from seqrnn.text.vocabulary import Vocabulary, build_and_encode
from seqrnn.text.wordvectors import cooccurrence_counts, ppmi, ppmi_vectors, vectors_for_vocabulary


def test_counts_weigh_pairs_by_distance_within_one_text_only():
    # texts [2 3 4] and [4 2]; ids 0 (padding) and 1 (unknown) never count
    ids = np.array([2, 3, 4, 4, 1, 2])
    offsets = np.array([0, 3, 6])
    counts = cooccurrence_counts(ids, offsets, vocab_size=5, window=2).toarray()
    expected = np.zeros((5, 5))
    for a, b, w in [(2, 3, 1.0), (3, 4, 1.0), (2, 4, 0.5), (4, 2, 0.5)]:  # 4 . 2 in the second text: distance 2
        expected[a, b] += w
        expected[b, a] += w
    np.testing.assert_allclose(counts, expected)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=12), min_size=1, max_size=6), st.integers(1, 4))
def test_counts_are_symmetric_nonnegative_and_match_a_direct_count(texts, window):
    ids = np.array([i for t in texts for i in t], dtype=np.int64)
    offsets = np.cumsum([0] + [len(t) for t in texts])
    counts = cooccurrence_counts(ids, offsets, vocab_size=10, window=window).toarray()
    direct = np.zeros((10, 10))
    for t in texts:
        for i, a in enumerate(t):
            for d in range(1, window + 1):
                if i + d < len(t) and a > 1 and t[i + d] > 1:
                    direct[a, t[i + d]] += 1 / d
                    direct[t[i + d], a] += 1 / d
    np.testing.assert_allclose(counts, direct, rtol=1e-5, atol=1e-6)


def test_ppmi_keeps_only_positive_associations():
    counts = cooccurrence_counts(np.array([2, 3, 2, 3, 2, 3, 4, 5, 4, 5]), np.array([0, 6, 10]), 6, window=1)
    matrix = ppmi(counts).toarray()
    assert (matrix >= 0).all() and matrix[2, 3] > 0 and matrix[2, 4] == 0


def reviews_of_two_kinds() -> list[str]:
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(400):
        texts.append(" ".join(rng.choice(["a", "truly", "really"], 1).tolist()
                              + [str(rng.choice(["great", "superb"]))] + ["film", "loved", "it"]))
        texts.append(" ".join([str(rng.choice(["awful", "dreadful"]))] + ["plot", "hated", "this"]))
    return texts


def test_words_used_alike_get_similar_vectors():
    texts = reviews_of_two_kinds()
    vocab = build_and_encode(texts, 8)[0]
    vectors = vectors_for_vocabulary(texts, vocab, dim=4, window=2)
    assert vectors.shape == (len(vocab), 4) and vectors.dtype == np.float32
    assert not vectors[Vocabulary.PAD].any() and not vectors[Vocabulary.UNK].any()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
    great, superb, awful = (unit[vocab.index[w]] for w in ("great", "superb", "awful"))
    assert great @ superb > 0.9 and great @ superb > great @ awful + 0.5
    np.testing.assert_array_equal(vectors, vectors_for_vocabulary(texts, vocab, dim=4, window=2))  # seeded


@pytest.mark.parametrize("dim", [3, 50])
def test_vectors_have_the_embedding_shape_even_for_tiny_vocabularies(dim):
    vectors = ppmi_vectors(np.array([2, 3, 4, 2, 3]), np.array([0, 5]), vocab_size=5, dim=dim)
    assert vectors.shape == (5, dim) and np.isfinite(vectors).all()


def test_no_text_gives_zero_vectors():
    vocab = Vocabulary(["good", "bad"])
    assert not vectors_for_vocabulary([], vocab, dim=8).any()


def test_vectors_come_back_from_the_cache(tmp_path, monkeypatch):
    from seqrnn import cache

    monkeypatch.setenv("SEQRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "MIN_INPUT_BYTES", 0)
    texts = reviews_of_two_kinds()
    vocab = build_and_encode(texts, 8)[0]
    fresh = vectors_for_vocabulary(texts, vocab, dim=4, window=2)
    monkeypatch.setattr(wordvectors, "ppmi_vectors", lambda *a: pytest.fail("computed although cached"))
    warm = vectors_for_vocabulary(texts, vocab, dim=4, window=2)
    assert warm.dtype == np.float32 and np.array_equal(warm, fresh)
    for changed in (dict(dim=5, window=2), dict(dim=4, window=3), dict(dim=4, window=2, seed=2)):
        with pytest.raises(pytest.fail.Exception, match="computed although cached"):
            vectors_for_vocabulary(texts, vocab, **changed)
    with pytest.raises(pytest.fail.Exception, match="computed although cached"):
        vectors_for_vocabulary(texts[:-1], vocab, dim=4, window=2)  # other token ids
    monkeypatch.undo()
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    assert np.array_equal(vectors_for_vocabulary(texts, vocab, dim=4, window=2), fresh)
