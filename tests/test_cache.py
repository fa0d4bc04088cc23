"""seqrnn.cache: keys follow content, entries round-trip, damaged or unwritable caches never fail."""

from __future__ import annotations

import os

import numpy as np
import pytest

from seqrnn import cache


class Counted:
    """compute/encode/decode for `cache.cached`, counting the computations."""

    def __init__(self, value):
        self.value, self.calls = np.asarray(value), 0

    def compute(self):
        self.calls += 1
        return self.value.copy()

    def run(self, key, kind="test"):
        return cache.cached(kind, key, self.compute, lambda v: {"v": v}, lambda a: a["v"])


def entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_keys_follow_content(small_cache, tmp_path):
    a = np.arange(10)
    assert cache.key(a, 1, "x") == cache.key(a.copy(), 1, "x")
    assert len({cache.key(a, 1, "x"), cache.key(a, 2, "x"), cache.key(a, 1, "y"), cache.key(a + 1, 1, "x"),
                cache.key(a.astype(np.int32), 1, "x"), cache.key(a.reshape(2, 5), 1, "x"), cache.key(a, "1", "x"),
                cache.key(a, 1, b"x")}) == 8
    # text boundaries count: the same characters split differently are different texts
    assert cache.texts_key(["ab", "c"], "v") != cache.texts_key(["a", "bc"], "v")
    assert cache.texts_key(["ab", "c"], "v") == cache.texts_key(["ab", "c"], "v") != cache.texts_key(["ab", "c"], "w")
    assert cache.texts_key(["\ud800 lone surrogate"], "v")  # any str can be keyed
    f = tmp_path / "f.bin"
    f.write_bytes(b"one")
    first = cache.file_key(f, "reviews")
    f.write_bytes(b"two")
    assert cache.file_key(f, "reviews") != first and cache.file_key(f, "other") != cache.file_key(f, "reviews")


def test_small_inputs_and_disabled_cache_have_no_key(small_cache, monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "MIN_INPUT_BYTES", 100)
    assert cache.key(np.zeros(10, np.uint8)) is None and cache.key(np.zeros(100, np.uint8)) is not None
    assert cache.texts_key(["x" * 99]) is None and cache.texts_key(["x" * 50] * 2) is not None
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    assert cache.key(np.zeros(100, np.uint8)) is None and cache.texts_key(["x" * 100]) is None
    monkeypatch.setenv("SEQRNN_NO_CACHE", "0")
    assert cache.enabled()


def test_miss_then_hit(small_cache):
    work = Counted(np.arange(5.0))
    key = cache.key(work.value)
    assert np.array_equal(work.run(key), work.value) and work.calls == 1
    assert entries(small_cache) == [f"test-{key}.npz"]
    assert np.array_equal(work.run(key), work.value) and work.calls == 1  # from the cache
    work.run(cache.key(work.value + 1))  # another key: computed
    assert work.calls == 2 and len(entries(small_cache)) == 2
    work.run(key, kind="other")  # another kind: computed
    assert work.calls == 3
    work.run(None)  # no key: computed, nothing written
    assert work.calls == 4 and len(entries(small_cache)) == 3


def test_disabled_cache_neither_reads_nor_writes(small_cache, monkeypatch):
    work = Counted([1, 2, 3])
    key = cache.key(work.value)
    work.run(key)
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    work.run(key)
    assert work.calls == 2
    monkeypatch.setattr(cache, "_save", lambda *a: pytest.fail("wrote to a disabled cache"))
    work.run(key)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "flipped", "wrong-key", "rejected", "pickle"])
def test_damaged_entry_is_ignored_and_rewritten(small_cache, damage):
    work = Counted(np.arange(1000))
    key = cache.key(work.value)
    work.run(key)
    path = small_cache / f"test-{key}.npz"
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flipped":  # a changed byte inside the array data: the zip CRC catches it
        data = bytearray(good)
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "wrong-key":  # an entry file renamed: its header names another key
        other = cache.key(work.value + 1)
        Counted(work.value + 1).run(other)
        path.write_bytes((small_cache / f"test-{other}.npz").read_bytes())
    elif damage == "pickle":  # an object array would need unpickling: never loaded
        np.savez(path, header=np.frombuffer(b'{"format": 1, "kind": "test", "key": "%s"}' % key.encode(), np.uint8),
                 v=np.array([{"evil": 1}], dtype=object))
    result = (cache.cached("test", key, work.compute, lambda v: {"v": v}, lambda a: 1 / 0) if damage == "rejected"
              else work.run(key))
    assert np.array_equal(result, work.value) and work.calls == 2
    assert np.array_equal(work.run(key), work.value) and work.calls == 2  # the rewritten entry
    assert not [p for p in os.listdir(small_cache) if p.endswith(".tmp")]


def test_unwritable_cache_does_not_fail_the_run(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created below a file")
    monkeypatch.setenv("SEQRNN_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(cache, "MIN_INPUT_BYTES", 0)
    work = Counted([1, 2])
    key = cache.key(work.value)
    assert np.array_equal(work.run(key), [1, 2]) and np.array_equal(work.run(key), [1, 2])
    assert work.calls == 2


def test_least_recently_used_entries_go_first(small_cache, monkeypatch):
    works = [Counted(np.full(1000, i, dtype=np.uint8)) for i in range(3)]
    keys = [cache.key(w.value) for w in works]
    works[0].run(keys[0])
    works[1].run(keys[1])
    size = (small_cache / f"test-{keys[0]}.npz").stat().st_size
    os.utime(small_cache / f"test-{keys[1]}.npz", (1, 1))  # entry 1 was used long ago
    monkeypatch.setattr(cache, "MAX_BYTES", 2 * size)
    works[2].run(keys[2])
    assert entries(small_cache) == sorted(f"test-{keys[i]}.npz" for i in (0, 2))


@pytest.mark.parametrize("strings", [[], [""], ["a", "", "bc"], ["café", "😀", "\ud800", "x" * 1000]])
def test_strings_round_trip(strings):
    blob, offsets = cache.pack_strings(strings)
    assert blob.dtype == np.uint8 and offsets.dtype == np.int64
    assert cache.unpack_strings(blob, offsets) == strings
    with pytest.raises(ValueError):
        cache.unpack_strings(blob, offsets + 1)
    if blob.size:
        with pytest.raises(ValueError):
            cache.unpack_strings(blob, offsets[:-1])


def test_an_array_folder_is_built_once_while_others_wait(small_cache):
    """Processes (torchrun's ranks, two runs on one file) asking for the same entry at once: one
    builds it, the others wait on its lock and read what it made."""
    import threading
    import time

    builds = []

    def build(folder):
        builds.append(folder)
        time.sleep(0.2)  # long enough for the others to arrive while it builds
        (folder / "x.bin").write_bytes(b"\x01\x02")
        return {"n": 2}

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.array_folder("test", "k", build)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(results) == 4
    assert {str(folder) for _, folder in results} == {str(small_cache / "test-k")}
    assert all(meta == {"n": 2} for meta, _ in results)
    assert sorted(p.name for p in small_cache.iterdir()) == ["test-k"]  # no lock or scratch left
