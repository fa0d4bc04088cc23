"""Vocabularies and encoding: word ids by frequency (PAD = 0, UNK = 1), fixed-length id matrices of
tokenized texts (`encode_texts`, truncated or padded on either side), and character vocabularies.

Encoding works on the token arrays of `seqrnn.text.tokens` (`TokenizedTexts`): a vocabulary looks
up each distinct token once, and the id matrix is filled by a gather a slice of texts at a time, in
the smallest integer type that holds the vocabulary.
"""

from __future__ import annotations

from itertools import repeat
from typing import Iterable, Mapping, Sequence

import numpy as np

from seqrnn.errors import SeqrnnError
from seqrnn.text.tokens import ROWS_PER_SLICE, TokenizedTexts, as_tokens

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


class Vocabulary:
    """Words to ids: PAD = 0, UNK = 1, then words by count (descending), ties by the word itself.

    `words` holds the real words in id order (`words[i]` has id i + 2); `index` maps word -> id.
    """

    PAD = 0
    UNK = 1

    def __init__(self, words: Sequence[str], counts: Sequence[int] | None = None):
        self.words = list(words)
        self.counts = None if counts is None else [int(c) for c in counts]
        self.index = {w: i for i, w in enumerate(self.words, 2)}
        if len(self.index) != len(self.words):
            raise SeqrnnError("vocabulary has duplicate words")
        if self.counts is not None and len(self.counts) != len(self.words):
            raise SeqrnnError("vocabulary has a different number of words and counts")

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_count: int = 1, max_size: int | None = None) -> "Vocabulary":
        """The vocabulary of word counts (of the training texts): the words seen >= min_count
        times, at most the `max_size` most frequent (PAD and UNK not counted)."""
        if min_count < 1:
            raise SeqrnnError(f"min_count must be at least 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise SeqrnnError(f"max_size must be at least 0, got {max_size}")
        kept = sorted(((-c, w) for w, c in counts.items() if c >= min_count))
        if max_size is not None:
            kept = kept[:max_size]
        return cls([w for _, w in kept], [-c for c, _ in kept])

    def __len__(self) -> int:
        return len(self.words) + 2

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    def __repr__(self) -> str:
        return f"Vocabulary({len(self.words)} words + PAD + UNK)"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of the tokens; unknown words become UNK."""
        return list(map(self.index.get, tokens, repeat(self.UNK)))

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        """`encode(words)` as an int32 array (ids of a vocabulary never need more)."""
        return np.fromiter(map(self.index.get, words, repeat(self.UNK)), np.int32, len(words))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of the ids (`<pad>` and `<unk>` for the reserved ids)."""
        table = [PAD_TOKEN, UNK_TOKEN] + self.words
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(table):
                raise SeqrnnError(f"word id {i} is outside the vocabulary (0..{len(table) - 1})")
            out.append(table[i])
        return out

    def to_dict(self) -> dict:
        d = {"kind": "words", "pad_id": self.PAD, "unk_id": self.UNK, "words": self.words}
        if self.counts is not None:
            d["counts"] = self.counts
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "Vocabulary":
        if not isinstance(d, Mapping) or d.get("kind") != "words" or not isinstance(d.get("words"), list):
            raise SeqrnnError("not a word vocabulary (expected {'kind': 'words', 'words': [...]})")
        if d.get("pad_id", 0) != cls.PAD or d.get("unk_id", 1) != cls.UNK:
            raise SeqrnnError("word vocabulary with unsupported PAD/UNK ids")
        if not all(isinstance(w, str) for w in d["words"]):
            raise SeqrnnError("word vocabulary holds non-string words")
        return cls(d["words"], d.get("counts"))


def smallest_dtype(size: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids 0..size-1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def encode_flat(flat: np.ndarray, offsets: np.ndarray, seq_len: int, truncate: str = "left",
                pad: str = "left", table: np.ndarray | None = None, dtype: np.dtype | type = np.int64,
                rows: np.ndarray | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows given as one concatenated array and n + 1 offsets, as an (n, seq_len) matrix of `dtype`
    (int64 unless asked; int32 halves a large matrix), and the true lengths min(len, seq_len); with
    `table`, the matrix holds table[flat[...]] (token indices to vocabulary ids after the cut); with
    `rows` (indices), only those rows, in that order.

    The book's default: keep the last `seq_len` ids (truncate='left') and left-pad with 0.
    truncate='right' keeps the first `seq_len` ids; pad='right' pads at the end. The matrix is
    filled a slice of rows at a time, so that nothing but the matrix grows with the input.
    """
    if not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise SeqrnnError(f"sequence length must be at least 1, got {seq_len}")
    if truncate not in ("left", "right"):
        raise SeqrnnError(f"truncate must be 'left' or 'right', got {truncate!r}")
    if pad not in ("left", "right"):
        raise SeqrnnError(f"pad must be 'left' or 'right', got {pad!r}")
    offsets = np.asarray(offsets, dtype=np.int64)
    flat = np.asarray(flat)
    starts, stops = offsets[:-1], offsets[1:]
    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = starts[rows], stops[rows]
    kept = np.minimum(stops - starts, seq_len)
    first = stops - kept if truncate == "left" else starts  # the first id kept of each row
    values = flat if table is None else np.asarray(table, dtype=dtype)
    out = np.zeros((len(kept), seq_len), dtype=dtype)
    column = np.arange(seq_len)
    for a in range(0, len(kept), ROWS_PER_SLICE):
        k, f = kept[a:a + ROWS_PER_SLICE, None], first[a:a + ROWS_PER_SLICE, None]
        # position j of a row holds id first + j (right padding) or first + j - (seq_len - kept) (left)
        at = f + (column if pad == "right" else column - (seq_len - k))
        real = (column < k) if pad == "right" else (column >= seq_len - k)
        ids = np.take(flat, np.where(real, at, 0), mode="clip") if len(flat) else np.zeros(at.shape, flat.dtype)
        if table is not None:
            ids = np.take(values, ids)
        out[a:a + ROWS_PER_SLICE] = np.where(real, ids, 0)
    return out, kept


def encode_texts(texts: "Sequence[str] | TokenizedTexts", vocab: Vocabulary, seq_len: int,
                 **kw) -> tuple[np.ndarray, np.ndarray]:
    """Tokenize (unless they already are), look up and encode to fixed length: (matrix, lengths).
    `kw`: `encode_flat`'s options (`rows`, `pad`, `truncate`, `dtype`)."""
    tokens = as_tokens(texts)
    return encode_flat(tokens.ids, tokens.offsets, seq_len, table=vocab.lookup(tokens.words), **kw)


def build_vocabulary(tokens: TokenizedTexts, rows=None, min_count: int = 1,
                     max_size: int | None = None) -> Vocabulary:
    """The vocabulary of the texts `rows` of `tokens` (a mask or indices; the training split;
    default all): `Vocabulary.from_counts` of their token counts."""
    return Vocabulary.from_counts(dict(zip(tokens.words, tokens.counts(rows).tolist())), min_count, max_size)


def build_and_encode(texts: "Sequence[str] | TokenizedTexts", seq_len: int, vocab_rows=None, min_count: int = 1,
                     max_size: int | None = None, **kw) -> tuple[Vocabulary, np.ndarray, np.ndarray]:
    """Tokenize all texts once, build the vocabulary from `vocab_rows` only (a mask or indices; the
    training split; default all) and encode every text: (vocab, matrix, lengths)."""
    tokens = as_tokens(texts)
    vocab = build_vocabulary(tokens, vocab_rows, min_count, max_size)
    return (vocab, *encode_texts(tokens, vocab, seq_len, **kw))


class CharVocabulary:
    """Characters to ids 0..n-1 in code-point order: the same ids in every process (the book's
    `set(text)` order changes with PYTHONHASHSEED)."""

    def __init__(self, chars: Iterable[str]):
        chars = sorted(set(chars))
        if any(len(c) != 1 for c in chars):
            raise SeqrnnError("character vocabulary entries must be single characters")
        self.chars = chars
        self._set = frozenset(chars)
        self._codes = np.array([ord(c) for c in chars], dtype=np.int64)

    @classmethod
    def build(cls, text: str) -> "CharVocabulary":
        if not text:
            raise SeqrnnError("cannot build a character vocabulary from an empty text")
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._set

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocabulary) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self.chars)} characters)"

    def _positions(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
        pos = np.searchsorted(self._codes, codes)
        known = pos < len(self._codes)
        known[known] = self._codes[pos[known]] == codes[known]
        return pos, known

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Ids (int64) of the characters; unknown characters raise (`unknown='error'`) or are
        dropped (`unknown='skip'`)."""
        if unknown not in ("error", "skip"):
            raise SeqrnnError(f"unknown must be 'error' or 'skip', got {unknown!r}")
        pos, known = self._positions(text)
        if known.all():
            return pos
        if unknown == "skip":
            return pos[known]
        missing = self.unknown_chars(text)
        shown = "".join(missing[:10]) + ("..." if len(missing) > 10 else "")
        raise SeqrnnError(f"{len(missing)} character(s) not in the vocabulary: {shown!r}")

    def unknown_chars(self, text: str) -> list[str]:
        """The distinct characters of `text` that are not in the vocabulary, sorted."""
        _, known = self._positions(text)
        if known.all():
            return []
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        return [chr(c) for c in np.unique(codes[~known]).tolist()]

    def decode(self, ids: Iterable[int]) -> str:
        ids = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.chars)):
            raise SeqrnnError(f"character id outside the vocabulary (0..{len(self.chars) - 1})")
        return self._codes[ids].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def to_dict(self) -> dict:
        return {"kind": "chars", "chars": self.chars}

    @classmethod
    def from_dict(cls, d: Mapping) -> "CharVocabulary":
        chars = d.get("chars") if isinstance(d, Mapping) else None
        if not isinstance(d, Mapping) or d.get("kind") != "chars" or not isinstance(chars, list):
            raise SeqrnnError("not a character vocabulary (expected {'kind': 'chars', 'chars': [...]})")
        if not all(isinstance(c, str) and len(c) == 1 for c in chars) or chars != sorted(set(chars)):
            raise SeqrnnError("character vocabulary must list distinct single characters in code-point order")
        return cls(chars)
