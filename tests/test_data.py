"""seqrnn.data: the IMDb reader (directory, .tar.gz, CSV), text files, Gutenberg stripping, errors."""

from __future__ import annotations

import csv
import gzip
import io
import tarfile

import numpy as np
import pytest
from conftest import TINY_IMDB, write_imdb, write_tar

from seqrnn.data.corpus import HAMLET_OFFSET, hamlet_cut, load_text, read_corpus, read_text
from seqrnn.data.imdb import Reviews, imdb_format, read_imdb
from seqrnn.errors import SeqrnnError

ORDER = [("train", "neg"), ("train", "pos"), ("test", "neg"), ("test", "pos"), ("train", "unsup")]


def expected_rows(reviews=TINY_IMDB, splits=("train", "test", "unsup")):
    """(split, label, id, rating, text) in the documented order: split, label, id."""
    def split_of(top, lab):
        return "unsup" if lab == "unsup" else top
    rows = [(split_of(t, lab), {"neg": 0, "pos": 1, "unsup": -1}[lab], rid, rating if lab != "unsup" else -1, text)
            for t, lab, rid, rating, text in reviews if split_of(t, lab) in splits]
    return sorted(rows, key=lambda r: (("train", "test", "unsup").index(r[0]), r[1], r[2]))


def as_rows(r: Reviews):
    return list(zip(r.splits.tolist(), r.labels.tolist(), r.ids.tolist(), r.ratings.tolist(), r.texts))


# --- reading ------------------------------------------------------------------------------------


def test_directory_order_labels_ids_ratings(imdb_dir):
    r = read_imdb(imdb_dir)
    assert as_rows(r) == expected_rows()
    assert r.splits_present == ["train", "test", "unsup"]
    assert r.labels.dtype == np.int64 and r.ids.dtype == np.int64 and r.ratings.dtype == np.int64
    assert len(r) == len(TINY_IMDB)
    assert "<br />" in r.texts[r.texts.index("A wonderful film.<br /><br />Loved it!")]  # raw text kept


def test_directory_itself_or_its_parent(imdb_dir):
    assert as_rows(read_imdb(imdb_dir / "aclImdb")) == as_rows(read_imdb(imdb_dir))


@pytest.mark.parametrize("mode", ["w:gz", "w"])
@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_tar_equals_directory_in_every_tar_format(imdb_dir, tmp_path, fmt, mode):
    # a long prefix forces GNU long-name, pax path and ustar prefix headers
    prefix = "very/" * 24 if fmt != tarfile.USTAR_FORMAT else "deep/" * 20
    archive = write_tar(imdb_dir, tmp_path / ("a.tar.gz" if mode == "w:gz" else "a.tar"), fmt=fmt, mode=mode,
                        prefix=prefix)
    assert as_rows(read_imdb(archive)) == expected_rows()
    with tarfile.open(archive) as tf:  # the test has teeth: the names need the long-name headers
        assert max(len(m.name) for m in tf) > 100


def test_member_with_a_very_long_name(tmp_path):
    """A GNU or pax name of 300 characters, more than the ustar prefix + name fields can hold."""
    prefix = "x" * 290 + "/"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        root = write_imdb(tmp_path / f"d{fmt}", [("train", "pos", 1, 8, "Long way home.")], extras=False)
        archive = write_tar(root, tmp_path / f"long{fmt}.tar.gz", fmt=fmt, prefix=prefix)
        r = read_imdb(archive)
        assert r.texts == ["Long way home."] and r.ratings.tolist() == [8]


def tar_with_link(path, kind, name, target="aclImdb/train/pos/1_8.txt"):
    """An archive with one review (1_8.txt) and a symbolic or hard link `name` to `target`."""
    with tarfile.open(path, "w:gz") as tf:
        data = b"A real review."
        info = tarfile.TarInfo("aclImdb/train/pos/1_8.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(name)
        link.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
        link.linkname = target
        tf.addfile(link)
    return path


@pytest.mark.parametrize("kind", ["sym", "hard"])
def test_links_are_not_followed(tmp_path, kind):
    """A link where a review should be is an error naming it; a link elsewhere is skipped."""
    bad = tar_with_link(tmp_path / "bad.tar.gz", kind, "aclImdb/train/pos/2_9.txt")
    msg = assert_error("is a link", read_imdb, bad, path=bad)
    assert "aclImdb/train/pos/2_9.txt" in msg and "1_8.txt" in msg
    ok = tar_with_link(tmp_path / "ok.tar.gz", kind, "aclImdb/README", target="aclImdb/imdb.vocab")
    assert read_imdb(ok).texts == ["A real review."]


def test_plain_tar_and_multi_member_gzip(imdb_dir, tmp_path):
    plain = write_tar(imdb_dir, tmp_path / "a.tar", mode="w")
    assert as_rows(read_imdb(plain)) == expected_rows()
    data = plain.read_bytes()
    multi = tmp_path / "multi.tgz"  # gzip allows concatenated members (pigz, bgzip)
    multi.write_bytes(gzip.compress(data[:10240]) + gzip.compress(data[10240:]))
    assert as_rows(read_imdb(multi)) == expected_rows()


@pytest.mark.parametrize("splits", [("train",), ("test",), ("unsup",), ("train", "test"), "train", None])
def test_split_subsets(imdb_dir, imdb_tgz, splits):
    want = expected_rows(splits=("train", "test", "unsup") if splits is None else
                         (splits,) if isinstance(splits, str) else splits)
    assert as_rows(read_imdb(imdb_dir, splits=splits)) == want
    assert as_rows(read_imdb(imdb_tgz, splits=splits)) == want


def test_any_subset_of_directories_may_be_present(tmp_path):
    only_test = [r for r in TINY_IMDB if r[0] == "test"]
    root = write_imdb(tmp_path / "t", only_test, extras=False)
    r = read_imdb(root)
    assert r.splits_present == ["test"] and as_rows(r) == expected_rows(only_test)
    with pytest.raises(SeqrnnError, match=r"no train reviews \(present: test\)"):
        read_imdb(root, splits=("train",))


def test_unknown_split_name(imdb_dir):
    with pytest.raises(SeqrnnError, match="unknown split 'validation'"):
        read_imdb(imdb_dir, splits=("validation",))


def test_subset_by_mask_and_indices(imdb_dir):
    r = read_imdb(imdb_dir)
    pos = r.subset(r.labels == 1)
    assert set(pos.labels.tolist()) == {1} and len(pos) == 3
    picked = r.subset([4, 0])
    assert picked.texts == [r.texts[4], r.texts[0]] and picked.ids.tolist() == [r.ids[4], r.ids[0]]
    assert len(r.subset(np.array([], dtype=np.int64))) == 0


def write_csv(path, rows, header=("review", "sentiment")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_like_movie_data(tmp_path):
    rows = [("Great film, \"loved\" it.\nTwo lines.", 1), ("Bad, bad.", 0), ("Fine.", 1), ("Dull", 0)]
    r = read_imdb(write_csv(tmp_path / "movie_data.csv", rows))
    assert r.splits.tolist() == ["train"] * 4
    assert r.labels.tolist() == [0, 0, 1, 1] and r.ids.tolist() == [1, 3, 0, 2]  # label, then row
    assert r.texts == ["Bad, bad.", "Dull", "Great film, \"loved\" it.\nTwo lines.", "Fine."]
    assert r.ratings.tolist() == [-1] * 4
    with pytest.raises(SeqrnnError, match="only the train split"):
        read_imdb(tmp_path / "movie_data.csv", splits=("test",))


# --- the cache of parsed reviews -----------------------------------------------------------------


def forbid_parsing(monkeypatch):
    import seqrnn.data.imdb

    def fail(*args):
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(seqrnn.data.imdb, "_read_imdb_tar", fail)
    monkeypatch.setattr(seqrnn.data.imdb, "_read_csv", fail)


def same_reviews(a: Reviews, b: Reviews) -> bool:
    return as_rows(a) == as_rows(b) and all(getattr(a, f).dtype == getattr(b, f).dtype
                                            for f in ("labels", "splits", "ids", "ratings"))


def test_archive_reviews_come_back_from_the_cache(imdb_tgz, small_cache, monkeypatch):
    fresh = read_imdb(imdb_tgz, splits=("train", "unsup"))
    assert len(list(small_cache.glob("reviews-*.npz"))) == 1
    forbid_parsing(monkeypatch)
    again = read_imdb(imdb_tgz, splits=["unsup", "train"])  # the same splits, in another order
    assert same_reviews(again, fresh) and as_rows(again) == expected_rows(splits=("train", "unsup"))
    with pytest.raises(AssertionError, match="parsed although cached"):
        read_imdb(imdb_tgz, splits=("test",))  # other splits: another entry


def test_changed_archive_is_read_again(imdb_dir, tmp_path, small_cache):
    archive = write_tar(imdb_dir, tmp_path / "a.tar.gz")
    before = read_imdb(archive)
    (imdb_dir / "aclImdb" / "test" / "pos" / "4_8.txt").write_text("Changed my mind.", encoding="utf-8")
    write_tar(imdb_dir, archive)  # same name, same size class, new content
    after = read_imdb(archive)
    assert "Changed my mind." in after.texts and "Changed my mind." not in before.texts
    assert len(list(small_cache.glob("reviews-*.npz"))) == 2


def test_csv_is_cached_and_directories_are_not(imdb_dir, tmp_path, small_cache, monkeypatch):
    csv_file = write_csv(tmp_path / "m.csv", [("Good.", 1), ("Bad.", 0)])
    fresh = read_imdb(csv_file)
    read_imdb(imdb_dir)
    assert len(list(small_cache.glob("reviews-*.npz"))) == 1
    forbid_parsing(monkeypatch)
    assert same_reviews(read_imdb(csv_file), fresh)


def test_reviews_equal_with_and_without_cache(imdb_dir, tmp_path, small_cache, monkeypatch):
    rows = TINY_IMDB + [("train", "pos", 12, 7, "Ünïcödé 😀 and \u2028 separators\r\nkept as they are")]
    archive = write_tar(write_imdb(tmp_path / "u", rows), tmp_path / "u.tar.gz")
    cold = read_imdb(archive)
    warm = read_imdb(archive)
    monkeypatch.setenv("SEQRNN_NO_CACHE", "1")
    assert same_reviews(cold, warm) and same_reviews(read_imdb(archive), warm)
    assert "Ünïcödé 😀 and \u2028 separators\r\nkept as they are" in warm.texts


def test_bad_archive_is_never_cached(imdb_tgz, tmp_path, small_cache):
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(imdb_tgz.read_bytes()[:-4])
    for _ in range(2):
        assert_error("truncated", read_imdb, bad, path=bad)
    assert not small_cache.exists() or not list(small_cache.iterdir())


def test_imdb_format(imdb_dir, imdb_tgz, tmp_path):
    plain = write_tar(imdb_dir, tmp_path / "no-suffix", mode="w")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    csv_file = write_csv(tmp_path / "m.csv", [("x", 1)])
    assert [imdb_format(p) for p in (imdb_dir, imdb_tgz, plain, csv_file, text)] == ["dir", "tar.gz", "tar", "csv", None]
    fake = tmp_path / "fake.tgz"
    fake.write_text("not gzip")
    assert_error("not a gzip file", imdb_format, fake, path=fake)


# --- bad input ----------------------------------------------------------------------------------


def assert_error(match, fn, *args, path=None, **kw):
    with pytest.raises(SeqrnnError) as info:
        fn(*args, **kw)
    message = str(info.value)
    assert "\n" not in message
    if path is not None:
        assert str(path) in message
    where = message.replace(str(path), "<path>") if path is not None else message
    assert match in where, message  # in the message itself, not just in the (test-named) path
    return message


def test_missing_path(tmp_path):
    assert_error("no such file", read_imdb, tmp_path / "nope", path=tmp_path / "nope")
    assert_error("no such file", read_text, tmp_path / "nope.txt", path=tmp_path / "nope.txt")


def test_directory_without_layout(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    assert_error("no IMDb reviews found", read_imdb, tmp_path / "empty", path=tmp_path / "empty")


def test_unexpected_review_file_name(imdb_dir):
    (imdb_dir / "aclImdb" / "train" / "pos" / "review.txt").write_text("x")
    assert_error("unexpected file name", read_imdb, imdb_dir, path="review.txt")


def test_archive_without_layout(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hello")
    archive = tmp_path / "x.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "x", arcname="x")
    assert_error("no IMDb reviews found", read_imdb, archive, path=archive)


def test_truncated_archive(imdb_tgz, tmp_path):
    data = imdb_tgz.read_bytes()
    for cut in (len(data) // 2, len(data) - 4):  # in the deflate data; in the gzip trailer
        bad = tmp_path / f"cut{cut}.tar.gz"
        bad.write_bytes(data[:cut])
        assert_error("truncated", read_imdb, bad, path=bad)


def member_offsets(archive):
    """(header offset, data offset, size) of each member of a plain tar."""
    with tarfile.open(archive) as tf:
        return [(m.offset, m.offset_data, m.size) for m in tf.getmembers()]


def test_truncated_plain_tar(imdb_dir, tmp_path):
    """Cut inside a member's data, inside a header, and right after a member (no end blocks)."""
    plain = write_tar(imdb_dir, tmp_path / "a.tar", mode="w")
    data = plain.read_bytes()
    members = [m for m in member_offsets(plain) if m[2] > 0]
    header, start, size = members[len(members) // 2]
    for cut in (start + size // 2, header + 100):
        bad = tmp_path / f"cut{cut}.tar"
        bad.write_bytes(data[:cut])
        assert_error("truncated", read_imdb, bad, path=bad)
    ends = tmp_path / "ends.tar"  # ends cleanly after the last member, like the old reader accepted
    last_header, last_start, last_size = member_offsets(plain)[-1]
    ends.write_bytes(data[:last_start + last_size + (-last_size % 512)])
    assert as_rows(read_imdb(ends)) == expected_rows()


def test_corrupt_header_inside_a_plain_tar(imdb_dir, tmp_path):
    """tarfile stops quietly at a bad header past the first; the reader must not lose the rest."""
    plain = write_tar(imdb_dir, tmp_path / "a.tar", mode="w")
    data = bytearray(plain.read_bytes())
    header = member_offsets(plain)[len(member_offsets(plain)) // 2][0]
    data[header + 148:header + 156] = b"0000000\0"  # a wrong checksum
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    msg = assert_error("corrupt", read_imdb, bad, path=bad)
    assert f"byte {header}" in msg


def test_corrupt_archive(imdb_tgz, tmp_path):
    data = bytearray(imdb_tgz.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(range(64))
    bad = tmp_path / "corrupt.tar.gz"
    bad.write_bytes(bytes(data))
    assert_error("corrupt", read_imdb, bad, path=bad)
    early = tmp_path / "early.tar.gz"  # damaged before the first header: tarfile says "zlib error"
    early.write_bytes(imdb_tgz.read_bytes()[:12] + bytes(range(64)) + imdb_tgz.read_bytes()[76:])
    assert_error("corrupt gzip data", read_imdb, early, path=early)
    notgz = tmp_path / "fake.tar.gz"
    notgz.write_bytes(b"this is not gzip at all")
    assert_error("not a gzip file", read_imdb, notgz, path=notgz)
    nottar = tmp_path / "text.tar.gz"
    nottar.write_bytes(gzip.compress(b"just some text\n" * 100))
    assert_error("not a tar archive", read_imdb, nottar, path=nottar)
    plain_text = tmp_path / "text.tar"
    plain_text.write_bytes(b"just some text\n" * 100)
    assert_error("not a tar archive", read_imdb, plain_text, path=plain_text)
    garbage_after = tmp_path / "garbage.tar.gz"
    garbage_after.write_bytes(imdb_tgz.read_bytes() + b"trailing garbage")
    assert_error("corrupt gzip data", read_imdb, garbage_after, path=garbage_after)


def test_invalid_utf8_review_names_member_and_offset(tmp_path):
    root = write_imdb(tmp_path / "d", [("train", "pos", 1, 8, "ok")], extras=False)
    (root / "aclImdb" / "train" / "pos" / "2_9.txt").write_bytes(b"caf\xe9 au lait")
    msg = assert_error("not valid UTF-8", read_imdb, root, path="2_9.txt")
    assert "offset 3" in msg
    archive = write_tar(root, tmp_path / "bad.tar.gz")
    msg = assert_error("not valid UTF-8", read_imdb, archive, path=archive)
    assert "aclImdb/train/pos/2_9.txt" in msg and "offset 3" in msg


def test_bad_csv(tmp_path):
    no_col = write_csv(tmp_path / "a.csv", [("x", 1)], header=("text", "sentiment"))
    assert_error("no 'review' column", read_imdb, no_col, path=no_col)
    no_sent = write_csv(tmp_path / "b.csv", [("x", 1)], header=("review", "label"))
    assert_error("no 'sentiment' column", read_imdb, no_sent, path=no_sent)
    bad_label = write_csv(tmp_path / "c.csv", [("x", 1), ("y", 2)])
    msg = assert_error("expected 0 or 1", read_imdb, bad_label, path=bad_label)
    assert "line 3" in msg and "'2'" in msg
    empty = tmp_path / "d.csv"
    empty.write_text("")
    assert_error("empty", read_imdb, empty, path=empty)
    binary = tmp_path / "e.csv"
    binary.write_bytes(b"review,sentiment\n\x00\x01,1\n")
    assert_error("binary", read_imdb, binary, path=binary)


def test_not_a_dataset_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    assert_error("not an aclImdb directory", read_imdb, f, path=f)


# --- text files ----------------------------------------------------------------------------------


def test_read_text_universal_newlines_and_bom(tmp_path):
    f = tmp_path / "t.txt"
    f.write_bytes("\ufeffline one\r\nline two\rline three\n".encode())
    assert read_text(f) == "line one\nline two\nline three\n"
    with open(f, encoding="utf-8-sig") as fh:
        assert read_text(f) == fh.read()


def test_text_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert_error("empty", read_text, empty, path=empty)
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b" \n\n")
    assert_error("empty", read_text, blank, path=blank)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    assert_error("NUL byte at offset 4", read_text, binary, path=binary)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Ophélie".encode("latin-1"))
    msg = assert_error("not valid UTF-8", read_text, latin, path=latin)
    assert "0xe9 at offset 3" in msg
    assert_error("is a directory", read_text, tmp_path, path=tmp_path)


GUTENBERG_MODERN = """The Project Gutenberg eBook of Something

This eBook is for the use of anyone anywhere.

*** START OF THE PROJECT GUTENBERG EBOOK SOMETHING ***

Chapter 1.
It was a dark night.

*** END OF THE PROJECT GUTENBERG EBOOK SOMETHING ***

Licence text follows.
"""


def test_strip_gutenberg_modern_and_errors(tmp_path):
    f = tmp_path / "book.txt"
    f.write_text(GUTENBERG_MODERN)
    assert read_text(f, strip_gutenberg=True) == "Chapter 1.\nIt was a dark night.\n"
    assert read_text(f) == GUTENBERG_MODERN
    plain = tmp_path / "plain.txt"
    plain.write_text("just text\n")
    assert_error("no Project Gutenberg header", read_text, plain, path=plain, strip_gutenberg=True)


def test_strip_gutenberg_old_small_print(tmp_path):
    text = ("***The Project Gutenberg's Etext of X***\nlegal stuff\n"
            "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n"
            "The play.\nFINIS.\n\nEnd of Project Gutenberg Etext of X\n")
    f = tmp_path / "old.txt"
    f.write_text(text)
    assert read_text(f, strip_gutenberg=True) == "The play.\nFINIS.\n"


def test_hamlet_from_shared_data(shared_data):
    text = read_text(shared_data / "hamlet_pg2265.txt")
    assert len(text) == 178707
    cut = hamlet_cut(text)
    assert cut == text[HAMLET_OFFSET:] and cut.startswith("The Tragedie of Hamlet")
    stripped = read_text(shared_data / "hamlet_pg2265.txt", strip_gutenberg=True)
    assert "SMALL PRINT" not in stripped and stripped.rstrip().endswith("FINIS. The tragedie of HAMLET, Prince of Denmarke.")
    assert cut in stripped  # the licence goes, the play stays (with the editor's notes before it)
    with pytest.raises(SeqrnnError, match="too short"):
        hamlet_cut("short")


def test_named_hamlet_is_cut_and_paths_are_not(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQRNN_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    full = read_text(shared_data / "hamlet_pg2265.txt")
    assert load_text("hamlet") == full[HAMLET_OFFSET:]
    assert load_text(str(shared_data / "hamlet_pg2265.txt")) == full
    assert load_text("hamlet", strip_gutenberg=True) == read_text(shared_data / "hamlet_pg2265.txt", True)
    assert read_corpus(shared_data / "hamlet_pg2265.txt", "hamlet") == (full[HAMLET_OFFSET:], f"text[{HAMLET_OFFSET}:]")
    assert read_corpus(shared_data / "hamlet_pg2265.txt", None) == (full, None)
    (tmp_path / "hamlet").write_text("a local file called hamlet\n")  # an existing path wins: no cut
    assert load_text("hamlet") == "a local file called hamlet\n"


def test_real_archive_train_split(shared_data):
    """The shared aclImdb_train.tar.gz, train split only (unsup skipped without decoding): ~1 s."""
    r = read_imdb(shared_data / "aclImdb_train.tar.gz", splits=("train",))
    assert len(r) == 25000 and r.splits_present == ["train"]
    assert (r.labels == 0).sum() == 12500 and (r.labels == 1).sum() == 12500
    neg = r.ids[r.labels == 0]
    assert (np.diff(neg) > 0).all() and neg[0] == 0 and neg[-1] == 12499
    assert set(r.ratings[r.labels == 1].tolist()) <= set(range(7, 11))
    assert set(r.ratings[r.labels == 0].tolist()) <= set(range(1, 5))
    assert sum("<br />" in t for t in r.texts) > 10000


# --- the command line never shows a traceback ----------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "truncated", "binary", "csv"])
def test_cli_bad_input_is_one_line(case, imdb_tgz, tmp_path, seqrnn_cli):
    if case == "missing":
        target = tmp_path / "missing.tar.gz"
    elif case == "truncated":
        target = tmp_path / "cut.tar.gz"
        target.write_bytes(imdb_tgz.read_bytes()[:300])
    elif case == "binary":
        target = tmp_path / "blob.txt"
        target.write_bytes(b"\x00\x01\x02")
    else:
        target = write_csv(tmp_path / "x.csv", [("a", 5), ("", 1)])  # inspect reads it as `train` does: labelled
    result = seqrnn_cli("data", "inspect", target)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqrnn: error:"), result.stderr
    assert "Traceback" not in result.stderr and str(target.name) in lines[0]
    assert result.stdout == ""


# --- your own labelled texts ----------------------------------------------------------------------


def test_labelled_csv_tsv_jsonl_and_folders(tmp_path, imdb_dir):
    from seqrnn.data.labelled import labelled_format, read_labelled

    book = write_csv(tmp_path / "movie_data.csv", [("Great.", "positive"), ("Bad, bad.", "negative")])
    r = read_labelled(book)
    assert r.texts == ["Great.", "Bad, bad."] and r.labels.tolist() == ["positive", "negative"]
    numbered = write_csv(tmp_path / "n.csv", [("Great.", 1), ("Bad.", 0)], header=("id", "text", "label")[1:])
    assert read_labelled(numbered).labels.tolist() == [1, 0] and read_labelled(numbered).labels.dtype == np.int64
    tsv = tmp_path / "t.tsv"
    tsv.write_text("Sentence\tClass\nA, b.\tx\n\nC\ty\n", encoding="utf-8")  # header case and blank lines
    assert read_labelled(tsv).texts == ["A, b.", "C"] and read_labelled(tsv).labels.tolist() == ["x", "y"]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"body": "one", "stars": 5}\n\n{"body": "two\\nlines", "stars": 1}\n', encoding="utf-8")
    r = read_labelled(jsonl, text_column="body", label_column="stars")
    assert r.texts == ["one", "two\nlines"] and r.labels.tolist() == [5, 1]
    folders = tmp_path / "folders"
    for label, name, text in [("spam", "b.txt", "buy now"), ("ham", "a.txt", "see you"), ("spam", "a.txt", "win")]:
        (folders / label).mkdir(parents=True, exist_ok=True)
        (folders / label / name).write_text(text, encoding="utf-8")
    r = read_labelled(folders)
    assert r.texts == ["see you", "win", "buy now"] and r.labels.tolist() == ["ham", "spam", "spam"]
    assert [labelled_format(p) for p in (book, tsv, jsonl, folders, imdb_dir)] == ["csv", "tsv", "jsonl", "folders",
                                                                                  None]


def test_bad_labelled_files_name_the_file_the_line_and_what_to_do(tmp_path):
    from seqrnn.data.labelled import read_labelled

    cp1252 = tmp_path / "excel.csv"
    cp1252.write_bytes("review,sentiment\nfine,1\nCaf\u00e9 society,0\n".encode("cp1252"))
    msg = assert_error("line 3: not valid UTF-8 (byte 0xe9 at offset 27)", read_labelled, cp1252, path=cp1252)
    assert f"iconv -f cp1252 -t utf-8 {cp1252} > {tmp_path / 'excel.utf8.csv'}" in msg
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("review,sentiment\nx,1\n".encode("utf-16"))
    assert "iconv -f utf-16 -t utf-8" in assert_error("UTF-16 text, expected UTF-8", read_labelled, utf16, path=utf16)
    columns = write_csv(tmp_path / "c.csv", [("x", 1)], header=("comment", "score"))
    assert "name it with `text_column`" in assert_error("no text column (columns: comment, score", read_labelled,
                                                        columns, path=columns)
    assert_error("no 'body' column", read_labelled, columns, text_column="body", path=columns)
    empty_text = write_csv(tmp_path / "e.csv", [("x", 1), ("  ", 0)])
    assert_error("line 3: empty text", read_labelled, empty_text, path=empty_text)
    for name, content, message in [
        ("a.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": 2}\n', "line 2: labels of different kinds"),
        ("b.jsonl", '{"text": "a", "label": 0.5}\n', "line 1: label 0.5 is not a class"),
        ("c.jsonl", '{"text": "a", "label": 1}\n[1, 2]\n', "line 2: a JSON list, expected an object"),
        ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "a", "label": 1\n', "line 2: not JSON"),
        ("e.jsonl", '{"text": null, "label": 1}\n', "line 1: no text (null)"),
        ("f.jsonl", '{"text": "a"}\n', "no label column"),
        ("g.csv", "review,sentiment\na,1,extra\n", "line 2: 3 fields, expected 2"),
    ]:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        assert_error(message, read_labelled, path, path=path)
    (tmp_path / "notes.txt").write_text("x")
    assert_error("not a labelled-text file", read_labelled, tmp_path / "notes.txt", path=tmp_path / "notes.txt")


def test_labelled_files_come_back_from_the_cache(tmp_path, small_cache, monkeypatch):
    import seqrnn.data.labelled
    from seqrnn.data.labelled import read_labelled, read_labelled_tokens

    path = write_csv(tmp_path / "m.csv", [("Good, good.", "pos"), ("Bad.", "neg"), ("So good!", "pos")])
    fresh = read_labelled_tokens(path)
    monkeypatch.setattr(seqrnn.data.labelled, "labelled_rows", lambda *a: (_ for _ in ()).throw(AssertionError("parsed")))
    again = read_labelled_tokens(path)
    assert isinstance(again.texts.ids, np.memmap)  # read back through a memory map
    for data in (fresh, again):
        assert [[data.texts.words[j] for j in data.texts.ids[a:b]] for a, b in
                zip(data.texts.offsets[:-1], data.texts.offsets[1:])] == [["good", ",", "good", "."], ["bad", "."],
                                                                          ["so", "good", "!"]]
        assert data.labels.tolist() == ["pos", "neg", "pos"] and data.labels.dtype == fresh.labels.dtype
    monkeypatch.undo()
    assert read_labelled(path).texts == ["Good, good.", "Bad.", "So good!"]
