"""Word vectors from unlabelled text, to start the sentiment model's embedding from.

The truncated SVD of the positive pointwise mutual information (PPMI) matrix of word
co-occurrences (Levy, Goldberg & Dagan 2015): counts of word pairs at most `window` tokens apart,
weighted 1/distance, context counts smoothed by the power 0.75, and each word's vector U·sqrt(S).
On the IMDb reviews this is the slowest step of preparing the data, so `vectors_for_vocabulary`
keeps its result in the prepared-data cache (`seqrnn.cache`), keyed by its inputs (the token ids,
the vocabulary size, dim, window, seed), VECTORS_VERSION and the NumPy/SciPy/scikit-learn versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from sklearn.utils.extmath import randomized_svd

from seqrnn import cache
from seqrnn.text.tokens import TokenizedTexts, as_tokens
from seqrnn.text.vocabulary import Vocabulary

if TYPE_CHECKING:
    import torch

UNK_ID = Vocabulary.UNK
# Word vectors are counted over at most this many texts (the first ones: the training texts, then the
# unlabelled): IMDb's 72,500 all count, and the cost of a corpus of millions stays bounded.
MAX_VECTOR_TEXTS = 100_000
VECTORS_VERSION = "ppmi-1"  # part of the cache key: change it when ppmi_vectors computes differently


def cooccurrence_counts(ids: np.ndarray, offsets: np.ndarray, vocab_size: int, window: int = 5) -> sp.csr_matrix:
    """Symmetric (vocab, vocab) counts of in-vocabulary word pairs at most `window` apart within a
    text, each pair weighted 1/distance. `ids` holds the texts one after another, `offsets` their
    n + 1 boundaries; padding (0) and unknown words take no part."""
    ids = np.asarray(ids, dtype=np.int32)
    text = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(np.asarray(offsets)))
    known = ids > UNK_ID
    counts = sp.csr_matrix((vocab_size, vocab_size), dtype=np.float32)
    for distance in range(1, window + 1):
        pair = known[:-distance] & known[distance:] & (text[:-distance] == text[distance:])
        left, right = ids[:-distance][pair], ids[distance:][pair]
        weights = np.full(len(left), 1.0 / distance, dtype=np.float32)
        counts = counts + sp.csr_matrix((weights, (left, right)), shape=(vocab_size, vocab_size))
    return (counts + counts.T).tocsr()


def ppmi(counts: sp.csr_matrix, context_power: float = 0.75) -> sp.csr_matrix:
    """max(0, log p(w, c) / (p(w) p(c))), with context probabilities from counts ** context_power."""
    words = np.asarray(counts.sum(axis=1)).ravel()
    contexts = np.asarray(counts.sum(axis=0)).ravel() ** context_power
    pairs = counts.tocoo()
    pmi = np.log(pairs.data.astype(np.float64) * contexts.sum() / (words[pairs.row] * contexts[pairs.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep].astype(np.float32), (pairs.row[keep], pairs.col[keep])), shape=counts.shape)


def ppmi_vectors(ids: np.ndarray, offsets: np.ndarray, vocab_size: int, dim: int, window: int = 5,
                 seed: int = 1) -> np.ndarray:
    """(vocab_size, dim) float32 word vectors, scaled to unit standard deviation like nn.Embedding's
    N(0, 1) start; rows of words never seen with a neighbour are 0."""
    matrix = ppmi(cooccurrence_counts(ids, offsets, vocab_size, window))
    dim_fit = min(dim, vocab_size - 1)
    u, s, _ = randomized_svd(matrix, dim_fit, n_iter=4, random_state=seed)
    vectors = np.zeros((vocab_size, dim), dtype=np.float32)
    vectors[:, :dim_fit] = u * np.sqrt(s)
    vectors[np.diff(matrix.indptr) == 0] = 0  # exactly 0, not SVD round-off, for words never counted
    scale = vectors[UNK_ID + 1 :].std()
    return vectors / scale if scale > 0 else vectors


def vectors_for_vocabulary(texts: Sequence[str] | TokenizedTexts, vocab: Vocabulary, dim: int, window: int = 5,
                           seed: int = 1) -> np.ndarray:
    """`ppmi_vectors` of `vocab`'s words, counted over `texts` tokenized the book's way (or already
    tokenized; cached)."""
    tokens = as_tokens(texts)
    ids = vocab.lookup(tokens.words)[tokens.ids] if len(tokens.ids) else np.zeros(0, dtype=np.int32)
    size = len(vocab)
    key = cache.key(ids, tokens.offsets, size, dim, window, seed, VECTORS_VERSION,
                    np.__version__, scipy.__version__, sklearn.__version__)
    return cache.cached("ppmi", key, lambda: ppmi_vectors(ids, tokens.offsets, size, dim, window, seed),
                        lambda vectors: {"vectors": vectors},
                        lambda arrays: _checked_vectors(arrays["vectors"], size, dim))


def start_embedding(embedding: "torch.nn.Embedding", texts: Sequence[str] | TokenizedTexts, vocab: Vocabulary,
                    seed: int = 1) -> None:
    """Set `embedding`'s rows to the word vectors of `vocab` counted over `texts`
    (`vectors_for_vocabulary`, as wide as the embedding): the `embed_init="ppmi"` start of every
    model with a word embedding."""
    import torch

    vectors = vectors_for_vocabulary(texts, vocab, embedding.embedding_dim, seed=seed)
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(vectors))


def _checked_vectors(vectors: np.ndarray, vocab_size: int, dim: int) -> np.ndarray:
    if vectors.dtype != np.float32 or vectors.shape != (vocab_size, dim):
        raise ValueError("cached word vectors of the wrong shape")
    return vectors
