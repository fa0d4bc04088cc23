"""`seqrnn data inspect`: IMDb and text statistics, named datasets through SEQRNN_DATA, --json."""

from __future__ import annotations

import json

import pytest
from conftest import TINY_IMDB, run_seqrnn, write_tar

from seqrnn.data import HAMLET_OFFSET
from seqrnn.preprocess import tokenize


def last_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["dir", "tgz"])
def test_inspect_imdb_json(which, imdb_dir, imdb_tgz):
    report = last_json(run_seqrnn("data", "inspect", imdb_dir if which == "dir" else imdb_tgz, "--json"))
    assert report["kind"] == "imdb" and report["reviews"] == len(TINY_IMDB)
    splits = report["splits"]
    assert list(splits) == ["train", "test", "unsup"]
    assert (splits["train"]["neg"], splits["train"]["pos"], splits["train"]["unlabelled"]) == (3, 2, 0)
    assert (splits["test"]["reviews"], splits["unsup"]["unlabelled"]) == (2, 2)
    train_lengths = sorted(len(tokenize(r[4])) for r in TINY_IMDB if r[0] == "train" and r[1] != "unsup")
    assert splits["train"]["tokens"]["max"] == train_lengths[-1]
    assert splits["train"]["tokens"]["median"] == train_lengths[len(train_lengths) // 2]
    vocab = {tok for r in TINY_IMDB if r[0] == "train" and r[1] != "unsup" for tok in tokenize(r[4])}
    assert report["train_vocab_size"] == len(vocab)
    assert report["tokens"] == sum(len(tokenize(r[4])) for r in TINY_IMDB)
    assert set(report["seconds"]) == {"read", "tokenize", "total"}


@pytest.mark.slow
def test_archive_is_recognised_by_content_not_name(imdb_dir, tmp_path):
    """One format sniffer for reading and inspecting: a tar without a telling suffix is IMDb."""
    archive = write_tar(imdb_dir, tmp_path / "reviews.bin", mode="w")
    assert last_json(run_seqrnn("data", "inspect", archive, "--json"))["reviews"] == len(TINY_IMDB)
    fake = tmp_path / "fake.tar.gz"
    fake.write_text("To be, or not to be\n")
    result = run_seqrnn("data", "inspect", fake)
    assert result.returncode == 2 and "not a gzip file" in result.stderr and "fake.tar.gz" in result.stderr


@pytest.mark.slow
def test_inspect_imdb_table(imdb_dir):
    result = run_seqrnn("data", "inspect", imdb_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "train" in out and "unsup" in out and "median" in out and "vocabulary of the train split" in out


@pytest.mark.slow
def test_inspect_csv(tmp_path):
    csv = tmp_path / "movie_data.csv"
    csv.write_text('review,sentiment\n"Good, very good.",1\nBad.,0\n', encoding="utf-8")
    report = last_json(run_seqrnn("data", "inspect", csv, "--json"))
    assert report["splits"]["train"]["reviews"] == 2 and report["train_vocab_size"] == 5


@pytest.mark.slow
def test_inspect_text_json_and_table(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("To be, or not to be:\nthat is the question.\n", encoding="utf-8")
    report = last_json(run_seqrnn("data", "inspect", f, "--json"))
    text = f.read_text()
    assert report["kind"] == "text" and report["characters"] == len(text)
    assert report["distinct_characters"] == len(set(text)) and report["lines"] == 2
    assert report["alphabet"] == "".join(sorted(set(text))) and report["cut"] is None
    table = run_seqrnn("data", "inspect", f)
    assert table.returncode == 0 and "distinct characters" in table.stdout


@pytest.mark.slow
def test_inspect_named_hamlet_reports_the_book_cut(tmp_path):
    """`hamlet` resolves through SEQRNN_DATA and is reported after text[15858:]."""
    data = tmp_path / "data"
    data.mkdir()
    text = "G" * HAMLET_OFFSET + "The Tragedie of Hamlet\nActus Primus.\n"
    (data / "hamlet_pg2265.txt").write_text(text, encoding="utf-8")
    result = run_seqrnn("data", "inspect", "hamlet", "--json", env={"SEQRNN_DATA": str(data)}, cwd=tmp_path)
    report = last_json(result)
    assert report["name"] == "hamlet" and report["cut"] == f"text[{HAMLET_OFFSET}:]"
    assert report["characters"] == len(text) - HAMLET_OFFSET and "G" not in report["alphabet"]
    table = run_seqrnn("data", "inspect", "hamlet", env={"SEQRNN_DATA": str(data)}, cwd=tmp_path)
    assert "book's cut text[15858:]" in table.stdout


@pytest.mark.slow
def test_inspect_named_imdb(tmp_path, imdb_dir):
    import shutil

    data = tmp_path / "named"
    data.mkdir()
    shutil.copytree(imdb_dir / "aclImdb", data / "aclImdb")
    report = last_json(run_seqrnn("data", "inspect", "imdb", "--json", env={"SEQRNN_DATA": str(data)}, cwd=tmp_path))
    assert report["kind"] == "imdb" and report["reviews"] == len(TINY_IMDB)


@pytest.mark.slow
def test_inspect_unknown_target_is_one_line(tmp_path):
    result = run_seqrnn("data", "inspect", tmp_path / "nothing-here", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqrnn: error:") and "nothing-here" in lines[0]


@pytest.mark.slow
def test_inspect_shared_hamlet(shared_data):
    report = last_json(run_seqrnn("data", "inspect", shared_data / "hamlet_pg2265.txt", "--json"))
    assert report["characters"] == 178707 and report["cut"] is None
