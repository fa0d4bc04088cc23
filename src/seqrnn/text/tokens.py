"""Tokens: the book's tokenizer, and texts as arrays of token indices (`TokenizedTexts`).

The tokenizer is the book's, exactly: spaces around every character of `string.punctuation`, then
lower-case, then split on whitespace. One text goes through `str.replace`. Many texts go through a
vectorised engine (`index_tokens`) that never loops over characters or tokens in Python: it
lower-cases each text, classifies the UTF-8 bytes of a batch of texts with a lookup table, finds
token boundaries with NumPy, turns every token into one uint64 key (its bytes when it has at most 8,
a hash of its two halves, verified afterwards, when it has 9-16, a dict entry beyond) and maps keys
to token indices with a NumPy hash table. Counting is a bincount and encoding a gather. The result
is identical to the book's tokenizer (property-tested with hypothesis); the token strings handed
back are shared between reviews, which also saves memory. Large inputs go through the prepared-data
cache (`seqrnn.cache`, keyed by the texts and TOKENIZER_VERSION), so a repeated run tokenizes nothing.

Why keep the engine rather than `tokenize` per text and a dict from token to index (measured with
benchmarks/preprocess.py on 2 shared cores): on the 75,000 IMDb reviews it takes 2.2-2.9 s against
8.9-9.5 s, and the first, uncached run of `sentiment train` (default preset; 25,000 + 72,500 texts
to tokenize) prepares its data in 31 s with it against 40 s without, 9 s a user waits for. Repeated
runs take about 1 s either way (everything comes from the cache).

Why lower-casing before spacing the punctuation is exact: `str.lower` maps each character on its
own, never to or from punctuation or whitespace (checked over all code points in the tests), with
one exception: capital sigma, whose lower case (σ or final ς) depends on its neighbours, and
punctuation such as `'` or `.` is transparent to that rule while the book's inserted spaces are
not. Reviews that contain 'Σ' are therefore spaced first and lower-cased second, the book's order.
"""

from __future__ import annotations

import contextlib
import hashlib
import string
from collections import defaultdict
from dataclasses import dataclass
from itertools import count, repeat
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

import numpy as np

from seqrnn import cache

PUNCTUATION = string.punctuation
_PUNCT_SET = frozenset(PUNCTUATION)
_SPACE_PUNCT = str.maketrans({c: f" {c} " for c in PUNCTUATION})
_CAPITAL_SIGMA = "\u03a3"

# str.split() splits on exactly the characters for which str.isspace() is true (tested).
_ASCII_SPACE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
_UNICODE_SPACE = "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
WHITESPACE = _ASCII_SPACE.decode() + _UNICODE_SPACE

# Byte classes of UTF-8 text: 0 = whitespace, 1 = part of a word, 2 = punctuation (a token of its own).
# Bytes >= 0x80 belong to multi-byte characters and are word bytes; the multi-byte whitespace
# characters are blanked out separately (_blank_unicode_space).
_BYTE_CLASS = np.ones(256, dtype=np.int8)
_BYTE_CLASS[list(_ASCII_SPACE)] = 0
_BYTE_CLASS[list(PUNCTUATION.encode())] = 2
_KEY_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
_BATCH_BYTES = 4 << 20  # bytes of text per engine batch: bounds the temporaries to a few dozen MB
ROWS_PER_SLICE = 1 << 15  # texts counted or encoded at a time: bounds the temporaries of large inputs

TOKENIZER_VERSION = "book-1"  # part of the cache key of tokenized texts: change it when tokens change


# --- tokenizer ----------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """The book's tokenizer: spaces around punctuation, lower-case, split on whitespace.

    One `str.replace` per punctuation character present, faster than the book's per-character join
    and than str.translate (which takes a slow path for multi-character replacements). For many
    texts, `index_tokens` is faster still.
    """
    for c in _PUNCT_SET.intersection(text):
        text = text.replace(c, f" {c} ")
    return text.lower().split()


@dataclass
class TokenizedTexts:
    """Many texts tokenized at once: token indices into `words`, concatenated text after text.

    The tokens of text i are `[words[j] for j in ids[offsets[i]:offsets[i + 1]]]`. The order of
    `words` carries no meaning (it is not a vocabulary, just the distinct tokens seen).
    """

    words: list[str]
    ids: np.ndarray  # int32, one entry per token
    offsets: np.ndarray  # int64, len(texts) + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each text."""
        return np.diff(self.offsets)

    def counts(self, rows: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """How often each of `words` occurs, in all texts or in `rows` (a boolean mask or indices),
        counted a slice of texts at a time (the temporaries stay small at any size)."""
        if rows is None:
            return np.bincount(self.ids, minlength=len(self.words)).astype(np.int64)
        rows = np.asarray(rows)
        mask = rows if rows.dtype == bool else np.isin(np.arange(len(self)), rows)
        if len(mask) != len(self):
            raise ValueError(f"row mask has {len(mask)} entries for {len(self)} texts")
        counts = np.zeros(len(self.words), dtype=np.int64)
        lengths = self.lengths
        for start in range(0, len(self), ROWS_PER_SLICE):
            stop = min(start + ROWS_PER_SLICE, len(self))
            ids = self.ids[self.offsets[start]:self.offsets[stop]][np.repeat(mask[start:stop], lengths[start:stop])]
            counts += np.bincount(ids, minlength=len(self.words))
        return counts

    def take(self, rows: np.ndarray | Sequence[int]) -> "TokenizedTexts":
        """The texts `rows` (indices, in that order), with the same `words`."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.offsets[rows], self.offsets[rows + 1]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(stops - starts, out=offsets[1:])
        pieces = [self.ids[a:b] for a, b in zip(starts.tolist(), stops.tolist())]
        ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        return TokenizedTexts(self.words, ids.astype(np.int32, copy=False), offsets)

    @staticmethod
    def concatenate(parts: Sequence["TokenizedTexts"]) -> "TokenizedTexts":
        """The texts of `parts`, one part after another, over the union of their words."""
        index: dict[str, int] = {}
        ids, lengths = [], []
        for part in parts:
            mapping = np.fromiter((index.setdefault(w, len(index)) for w in part.words), np.int32, len(part.words))
            ids.append(mapping[part.ids] if len(part.ids) else np.zeros(0, dtype=np.int32))
            lengths.append(part.lengths)
        lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return TokenizedTexts(list(index), np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32), offsets)

    def digest(self, rows: np.ndarray | Sequence[int] | None = None) -> str:
        """A digest of the token sequences of all texts or of `rows` (their order does not matter):
        equal for the same texts however they were tokenized together."""
        words = [w.encode("utf-8", "surrogatepass") for w in self.words]
        rows = range(len(self)) if rows is None else np.asarray(rows).tolist()
        digests = sorted(hashlib.sha256(b" ".join([words[j] for j in self.ids[self.offsets[i]:self.offsets[i + 1]]
                                                   .tolist()])).digest() for i in rows)
        return hashlib.sha256(b"".join(digests)).hexdigest()


def as_tokens(texts: "Sequence[str] | TokenizedTexts") -> TokenizedTexts:
    """`texts` tokenized (`index_tokens`), or as they are when they already are."""
    return texts if isinstance(texts, TokenizedTexts) else index_tokens(texts)


def index_tokens(texts: Sequence[str]) -> TokenizedTexts:
    """Tokenize many texts the book's way into one flat array of token indices (see module doc);
    large inputs go through the prepared-data cache, keyed by the texts themselves."""
    texts = list(texts)
    key = cache.texts_key(texts, "tokens", TOKENIZER_VERSION)
    return cache.cached("tokens", key, lambda: _tokenize_all(texts), _tokens_to_arrays, _tokens_from_arrays)


def _tokenize_all(texts: list[str]) -> TokenizedTexts:
    return tokenize_batches(lambda: _batches(texts))


def tokenize_batches(batches: Callable[[], Iterable[Sequence[str]]], ids_path: Path | None = None) -> TokenizedTexts:
    """`index_tokens` of texts that come a batch at a time (read from a file as a stream), in the
    order `batches()` gives them. In the astronomically rare case that two 9-16 byte tokens hash
    alike (`Tokenizer`), `batches()` is called again and its texts are tokenized exactly. With
    `ids_path`, the token ids are written to that file as they are made, never all held in memory,
    and the result reads them through a memory map."""
    for exact in (False, True):
        with open(ids_path, "wb") if ids_path is not None else contextlib.nullcontext() as sink:
            tokenizer = Tokenizer(exact=exact, sink=sink)
            try:
                for batch in batches():
                    tokenizer.add(batch)
            except KeyCollision:
                continue
            tokens = tokenizer.result()
        if ids_path is not None:
            tokens.ids = cache.map_array(ids_path, "int32", int(tokens.offsets[-1]))
        return tokens
    raise AssertionError("unreachable: the exact tokenizer does not hash")


class Tokenizer:
    """`index_tokens` for texts that come a batch at a time (read from a file as a stream): `add`
    each batch in order, then `result()`.

    Tokens of 9-16 bytes are hashed; in the astronomically rare case that two of them hash alike,
    `add` raises KeyCollision and the texts must be tokenized again with `Tokenizer(exact=True)`,
    which keys them through a dict (slower, never wrong). With a binary `sink`, the token ids
    (int32) are written to it as they are made instead of being kept, and `result()` has no ids.
    """

    def __init__(self, exact: bool = False, sink: BinaryIO | None = None):
        self._state = _IndexState(pack_medium=not exact, sink=sink)

    def add(self, texts: Sequence[str]) -> None:
        if any(map(str.__contains__, texts, repeat(_CAPITAL_SIGMA))):
            texts = [t.translate(_SPACE_PUNCT) if _CAPITAL_SIGMA in t else t for t in texts]
        self._state.add_batch(list(map(str.encode, map(str.lower, texts), repeat("utf-8"), repeat("surrogatepass"))))

    def result(self) -> TokenizedTexts:
        return self._state.result()


def _tokens_to_arrays(tokens: TokenizedTexts) -> dict[str, np.ndarray]:
    words, word_offsets = cache.pack_strings(tokens.words)
    return {"words": words, "word_offsets": word_offsets, "ids": tokens.ids, "offsets": tokens.offsets}


def _tokens_from_arrays(arrays: dict[str, np.ndarray]) -> TokenizedTexts:
    words = cache.unpack_strings(arrays["words"], arrays["word_offsets"])
    ids, offsets = arrays["ids"], arrays["offsets"]
    if ids.dtype != np.int32 or offsets.dtype != np.int64 or offsets[-1] != len(ids):
        raise ValueError("cached tokens: bad ids or offsets")
    if len(ids) and (ids.min() < 0 or ids.max() >= len(words)):
        raise ValueError("cached tokens: ids outside the words")
    return TokenizedTexts(words, ids, offsets)


class KeyCollision(Exception):
    """Two distinct 9-16 byte tokens hashed to one key (`Tokenizer`): tokenize again exactly."""


# Every token becomes one uint64 key, in one of three disjoint ranges:
#   1-8 bytes:  the bytes themselves, little-endian, zero-padded (exact; the lowest byte, the
#               token's first, is never 0 because tokens with a NUL character go the long way);
#   9-16 bytes: a hash of the two 8-byte halves, lowest byte 0, top bit 1 (checked after lookup
#               against the halves, so a collision is detected, never silently merged);
#   longer:     (j + 1) << 8 for the j-th distinct long token, from a dict (about 1 token in 20,000).
_TOP_BIT = np.uint64(1 << 63)
_LOW_BYTE_CLEAR = np.uint64(((1 << 64) - 1) ^ 0xFF)
_MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


def _batches(texts: list[str]) -> Iterator[list[str]]:
    """Consecutive runs of texts of about _BATCH_BYTES characters; always at least one batch."""
    start, size = 0, 0
    for i, text in enumerate(texts):
        size += len(text) + 1
        if size >= _BATCH_BYTES:
            yield texts[start:i + 1]
            start, size = i + 1, 0
    if start < len(texts) or not texts:
        yield texts[start:]


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique without its overhead)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


class _IndexState:
    """What `Tokenizer` accumulates batch by batch: token indices, the key table, and the
    dict of the long tokens."""

    def __init__(self, pack_medium: bool, sink: BinaryIO | None = None):
        self.pack_medium, self.sink = pack_medium, sink
        self.table = _KeyTable()
        self.ids: list[np.ndarray] = []  # int32 token indices, per batch (written to `sink` instead, if given)
        self.lengths: list[np.ndarray] = []  # tokens per text, per batch
        # the two 8-byte halves of the 9-16 byte token behind each hashed key, by token index
        self.first_half = np.zeros(0, dtype=np.uint64)
        self.second_half = np.zeros(0, dtype=np.uint64)
        self.long_index: defaultdict[bytes, int] = defaultdict(count(1).__next__)

    def add_batch(self, batch: list[bytes]) -> None:
        """Tokenize one batch of lower-cased UTF-8 texts."""
        buf = b" ".join(batch)  # one space between texts: no token straddles two texts
        n = len(buf)
        if not buf.isascii():
            buf = _blank_unicode_space(buf)
        arr = np.zeros((n // 8 + 4) * 8, dtype=np.uint8)  # zero padding for the 8-byte reads below
        arr[:n] = np.frombuffer(buf, dtype=np.uint8)
        cls = np.take(_BYTE_CLASS, arr[:n])
        punct = cls == 2
        # Words are runs of word bytes; every punctuation byte is a token of its own.
        edges = np.diff((cls == 1).view(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(punct | (edges[:-1] == 1))
        ends = np.flatnonzero(punct | (edges[1:] == -1)) + 1
        text_starts = np.zeros(len(batch), dtype=np.int64)
        if len(batch) > 1:
            np.cumsum(np.fromiter(map(len, batch), np.int64, len(batch))[:-1] + 1, out=text_starts[1:])
        firsts = np.searchsorted(starts, text_starts)
        self.lengths.append(np.diff(np.append(firsts, len(starts))))

        size = ends - starts
        words64 = arr.view("<u8")  # the bytes at each token start are read as one uint64
        keys = _read_u64(words64, starts) & np.take(_KEY_MASKS, np.minimum(size, 8))
        is_long = size > (16 if self.pack_medium else 8)
        if b"\0" in buf:
            nul = np.flatnonzero(arr[:n] == 0)
            is_long[np.searchsorted(starts, nul, side="right") - 1] = True
        medium = np.flatnonzero((size > 8) & ~is_long) if self.pack_medium else np.zeros(0, np.int64)
        k1 = keys[medium]
        k2 = _read_u64(words64, starts[medium] + 8) & _KEY_MASKS[size[medium] - 8]
        mixed = (k1 * _MIX1) ^ ((k2 * _MIX2) >> np.uint64(29)) ^ (k2 * _MIX1)
        keys[medium] = ((mixed * _MIX2) | _TOP_BIT) & _LOW_BYTE_CLEAR
        long_pos = np.flatnonzero(is_long)
        if len(long_pos):
            pieces = [buf[a:b] for a, b in zip(starts[long_pos].tolist(), ends[long_pos].tolist())]
            j = np.fromiter(map(self.long_index.__getitem__, pieces), np.int64, len(pieces))
            keys[long_pos] = j.astype(np.uint64) << np.uint64(8)
        ids = self.table.index(keys)
        if self.sink is None:
            self.ids.append(ids)
        else:
            self.sink.write(memoryview(ids).cast("B"))
        self._grow_halves()
        if len(medium):
            self._check_halves(ids[medium], k1, k2)

    def _grow_halves(self) -> None:
        n = len(self.table.keys)
        if len(self.first_half) < n:
            grow = np.zeros(max(n, 2 * len(self.first_half)) - len(self.first_half), dtype=np.uint64)
            self.first_half = np.concatenate((self.first_half, grow))
            self.second_half = np.concatenate((self.second_half, grow))

    def _check_halves(self, ids: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> None:
        """Record the halves behind new hashed keys, then check every token against its key's."""
        new = self.first_half[ids] == 0  # never 0 once recorded: a token's first byte is not 0
        self.first_half[ids[new]] = k1[new]
        self.second_half[ids[new]] = k2[new]
        if not (np.array_equal(self.first_half[ids], k1) and np.array_equal(self.second_half[ids], k2)):
            raise KeyCollision

    def result(self) -> TokenizedTexts:
        long_words = list(self.long_index)
        words = []
        for key, h1, h2 in zip(self.table.keys.tolist(), self.first_half.tolist(), self.second_half.tolist()):
            if key & 0xFF:
                raw = key.to_bytes(8, "little").rstrip(b"\0")
            elif key >> 63:
                raw = (h1.to_bytes(8, "little") + h2.to_bytes(8, "little")).rstrip(b"\0")
            else:
                raw = long_words[(key >> 8) - 1]
            words.append(raw.decode("utf-8", "surrogatepass"))
        lengths = _drain(self.lengths, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return TokenizedTexts(words, _drain(self.ids, np.int32), offsets)


def _drain(pieces: list[np.ndarray], dtype) -> np.ndarray:
    """The pieces concatenated, each freed once copied: the memory held stays about the total, not
    twice it (the result's pages are touched only as they are filled)."""
    out = np.empty(sum(len(p) for p in pieces), dtype=dtype)
    at = 0
    pieces.reverse()
    while pieces:
        piece = pieces.pop()
        out[at:at + len(piece)] = piece
        at += len(piece)
    return out


def _read_u64(words64: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The 8 bytes at each (unaligned) byte offset, as little-endian uint64, from aligned words."""
    q = starts >> 3
    r = ((starts & 7) << 3).view(np.uint64)
    lo = np.take(words64, q)
    lo >>= r
    q += 1
    hi = np.take(words64, q)
    hi <<= np.uint64(1)
    np.left_shift(hi, np.uint64(63) - r, out=hi)  # two shifts, so that r = 0 gives 0
    lo |= hi
    return lo


def _blank_unicode_space(buf: bytes) -> bytes:
    """Replace the multi-byte UTF-8 whitespace characters by as many ASCII spaces."""
    a = np.frombuffer(buf + bytes(2), dtype=np.uint8)
    lead = np.flatnonzero((a == 0xC2) | ((a >= 0xE1) & (a <= 0xE3)))
    if not len(lead):
        return buf
    b1, b2, b3 = a[lead], a[lead + 1], a[lead + 2]
    two = (b1 == 0xC2) & ((b2 == 0x85) | (b2 == 0xA0))
    three = (
        ((b1 == 0xE1) & (b2 == 0x9A) & (b3 == 0x80))
        | ((b1 == 0xE2) & (b2 == 0x80) & ((b3 <= 0x8A) | (b3 == 0xA8) | (b3 == 0xA9) | (b3 == 0xAF)))
        | ((b1 == 0xE2) & (b2 == 0x81) & (b3 == 0x9F))
        | ((b1 == 0xE3) & (b2 == 0x80) & (b3 == 0x80))
    )
    if not (two.any() or three.any()):
        return buf
    out = np.frombuffer(buf, dtype=np.uint8).copy()
    for k, hit in ((2, two), (3, three)):
        for j in range(k):
            out[lead[hit] + j] = 0x20
    return out.tobytes()


class _KeyTable:
    """A growing open-addressing hash table (linear probing) from distinct nonzero uint64 keys to
    0, 1, 2, ... in order of insertion, built and queried with whole-array NumPy operations."""

    _GOLDEN = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, bits: int = 16):
        self.keys = np.zeros(0, dtype=np.uint64)  # keys[i] has value i
        self._allocate(bits)

    def _allocate(self, bits: int) -> None:
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.slot_keys = np.zeros(1 << bits, dtype=np.uint64)  # 0 = free slot
        self.slot_values = np.zeros(1 << bits, dtype=np.int32)
        self._place(self.keys, np.arange(len(self.keys), dtype=np.int32))

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * self._GOLDEN) >> self.shift).view(np.int64)

    def _place(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Insert distinct keys that are not in the table yet."""
        slots = self._slots(keys)
        pending = np.arange(len(keys))
        while len(pending):
            s = slots[pending]
            free = self.slot_keys[s] == 0
            taken, first = np.unique(s[free], return_index=True)  # one key per free slot and round
            winners = pending[free][first]
            self.slot_keys[taken] = keys[winners]
            self.slot_values[taken] = values[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slots[pending] = (slots[pending] + 1) & self.mask

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 where the key is not in the table."""
        slots = self._slots(keys)
        found = np.take(self.slot_keys, slots)
        out = np.take(self.slot_values, slots)
        out[found == 0] = -1
        probe = np.flatnonzero((found != keys) & (found != 0))
        while len(probe):
            s = (slots[probe] + 1) & self.mask
            slots[probe] = s
            found = self.slot_keys[s]
            hit = found == keys[probe]
            out[probe[hit]] = self.slot_values[s[hit]]
            out[probe[found == 0]] = -1
            probe = probe[~hit & (found != 0)]
        return out

    def index(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, after adding the keys not seen before (sorted, at the end)."""
        out = self.find(keys)
        missing = np.flatnonzero(out < 0)
        if len(missing):
            new = _unique(keys[missing])
            values = np.arange(len(self.keys), len(self.keys) + len(new), dtype=np.int32)
            self.keys = np.concatenate((self.keys, new))
            if 4 * len(self.keys) > len(self.slot_keys):  # keep the load factor at most 1/4
                self._allocate((4 * len(self.keys)).bit_length())
            else:
                self._place(new, values)
            out[missing] = self.find(keys[missing])
        return out


# --- word vocabulary ------------------------------------------------------------------------------


# --- fixed-length encoding ------------------------------------------------------------------------


# --- character vocabulary ------------------------------------------------------------------------


