"""`seqrnn data inspect`: IMDb and text statistics, named datasets through SEQRNN_DATA, --json."""

from __future__ import annotations

import json

import pytest
from conftest import TINY_IMDB, write_tar

from seqrnn.data.corpus import HAMLET_OFFSET
from seqrnn.text.tokens import tokenize


def last_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("which", ["dir", "tgz"])
def test_inspect_imdb_json(which, imdb_dir, imdb_tgz, seqrnn_cli):
    report = last_json(seqrnn_cli("data", "inspect", imdb_dir if which == "dir" else imdb_tgz, "--json"))
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


def test_archive_is_recognised_by_content_not_name(imdb_dir, tmp_path, seqrnn_cli):
    """One format sniffer for reading and inspecting: a tar without a telling suffix is IMDb."""
    archive = write_tar(imdb_dir, tmp_path / "reviews.bin", mode="w")
    assert last_json(seqrnn_cli("data", "inspect", archive, "--json"))["reviews"] == len(TINY_IMDB)
    fake = tmp_path / "fake.tar.gz"
    fake.write_text("To be, or not to be\n")
    result = seqrnn_cli("data", "inspect", fake)
    assert result.returncode == 2 and "not a gzip file" in result.stderr and "fake.tar.gz" in result.stderr


def test_inspect_imdb_table(imdb_dir, seqrnn_cli):
    result = seqrnn_cli("data", "inspect", imdb_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "train" in out and "unsup" in out and "median" in out and "vocabulary of the train split" in out


def test_inspect_csv(tmp_path, seqrnn_cli):
    csv = tmp_path / "movie_data.csv"
    csv.write_text('review,sentiment\n"Good, very good.",1\nBad.,0\n', encoding="utf-8")
    report = last_json(seqrnn_cli("data", "inspect", csv, "--json"))
    assert report["kind"] == "labelled" and report["texts"] == 2 and report["vocab_size"] == 5
    assert [(e["label"], e["texts"]) for e in report["labels"]] == [(0, 1), (1, 1)]


# --- labelled texts, read as `classify train` reads them (in-process) --------------------------------

LABELLED = [("A great film, loved it.", "pos"), ("Dull.", "neg"), ("Superb acting!", "pos"), ("Boring plot.", "neg"),
            ("Fine.", "pos"), ("What a waste of time.", "neg"), ("Wonderful.", "pos"), ("Meh, it was okay.", "meh")]


def inspect_json(capsys, *args) -> dict:
    from seqrnn.cli.main import main

    assert main(["data", "inspect", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def write_labelled(tmp_path, form: str):
    import csv

    if form in ("csv", "tsv"):
        path = tmp_path / f"data.{form}"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="," if form == "csv" else "\t")
            writer.writerow(["id", "body", "verdict"])
            writer.writerows((i, text, label) for i, (text, label) in enumerate(LABELLED))
        return path, ["--text-column", "body", "--label-column", "verdict"]
    if form == "jsonl":
        path = tmp_path / "data.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in LABELLED), encoding="utf-8")
        return path, []
    path = tmp_path / "folders"
    for i, (text, label) in enumerate(LABELLED):
        (path / label).mkdir(parents=True, exist_ok=True)
        (path / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return path, []


@pytest.mark.parametrize("form", ["csv", "tsv", "jsonl", "folders"])
def test_inspect_reads_every_labelled_form_train_reads(form, tmp_path, capsys):
    path, flags = write_labelled(tmp_path, form)
    report = inspect_json(capsys, path, *flags)
    assert report["kind"] == "labelled" and report["format"] == form and report["texts"] == 8
    assert [(e["label"], e["texts"], e["share"]) for e in report["labels"]] == [
        ("meh", 1, 0.125), ("neg", 3, 0.375), ("pos", 4, 0.5)]
    neg = next(e for e in report["labels"] if e["label"] == "neg")
    assert neg["tokens"]["max"] == len(tokenize("What a waste of time."))
    assert report["total_tokens"] == sum(len(tokenize(t)) for t, _ in LABELLED)
    assert report["vocab_size"] == len({w for t, _ in LABELLED for w in tokenize(t)})
    assert report["rare_labels"] == []


def test_inspect_table_shows_the_labels_and_points_out_a_rare_one(tmp_path, capsys):
    from seqrnn.cli.main import main

    path = tmp_path / "spam.csv"
    path.write_text("text,label\n" + "buy now,spam\n" + "see you at noon,ham\n" * 12, encoding="utf-8")
    assert main(["data", "inspect", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"labelled texts: {path} (CSV)"
    assert out[2].split()[:3] == ["ham", "12", "92.3%"] and out[3].split()[:3] == ["spam", "1", "7.7%"]
    assert out[4].split()[:3] == ["all", "13", "100.0%"]
    assert any(line.startswith("imbalanced: 'spam' has under a fifth of the largest label's texts") and
               "--class-weight balanced" in line for line in out)


def test_inspect_column_flags_are_for_files_with_columns(tmp_path, capsys):
    from seqrnn.cli.main import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be\n", encoding="utf-8")
    assert main(["data", "inspect", str(corpus), "--text-column", "body"]) == 2
    assert capsys.readouterr().err == (f"seqrnn: error: {corpus}: --text-column and --label-column apply to CSV, TSV "
                                       "and JSONL files\n")
    path, _ = write_labelled(tmp_path, "csv")
    assert main(["data", "inspect", str(path), "--text-column", "body", "--label-column", "stars"]) == 2
    assert "no 'stars' column (columns: id, body, verdict)" in capsys.readouterr().err


def test_inspect_text_json_and_table(tmp_path, seqrnn_cli):
    f = tmp_path / "corpus.txt"
    f.write_text("To be, or not to be:\nthat is the question.\n", encoding="utf-8")
    report = last_json(seqrnn_cli("data", "inspect", f, "--json"))
    text = f.read_text()
    assert report["kind"] == "text" and report["characters"] == len(text)
    assert report["distinct_characters"] == len(set(text)) and report["lines"] == 2
    assert report["alphabet"] == "".join(sorted(set(text))) and report["cut"] is None
    table = seqrnn_cli("data", "inspect", f)
    assert table.returncode == 0 and "distinct characters" in table.stdout


def test_inspect_named_hamlet_reports_the_book_cut(tmp_path, seqrnn_cli, monkeypatch):
    """`hamlet` resolves through SEQRNN_DATA and is reported after text[15858:]."""
    data = tmp_path / "data"
    data.mkdir()
    text = "G" * HAMLET_OFFSET + "The Tragedie of Hamlet\nActus Primus.\n"
    (data / "hamlet_pg2265.txt").write_text(text, encoding="utf-8")
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    monkeypatch.chdir(tmp_path)
    result = seqrnn_cli("data", "inspect", "hamlet", "--json")
    report = last_json(result)
    assert report["name"] == "hamlet" and report["cut"] == f"text[{HAMLET_OFFSET}:]"
    assert report["characters"] == len(text) - HAMLET_OFFSET and "G" not in report["alphabet"]
    table = seqrnn_cli("data", "inspect", "hamlet")
    assert "book's cut text[15858:]" in table.stdout


def test_inspect_named_imdb(tmp_path, imdb_dir, seqrnn_cli, monkeypatch):
    import shutil

    data = tmp_path / "named"
    data.mkdir()
    shutil.copytree(imdb_dir / "aclImdb", data / "aclImdb")
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    monkeypatch.chdir(tmp_path)
    report = last_json(seqrnn_cli("data", "inspect", "imdb", "--json"))
    assert report["kind"] == "imdb" and report["reviews"] == len(TINY_IMDB)


def test_inspect_unknown_target_is_one_line(tmp_path, seqrnn_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = seqrnn_cli("data", "inspect", tmp_path / "nothing-here")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqrnn: error:") and "nothing-here" in lines[0]


def test_inspect_shared_hamlet(shared_data, seqrnn_cli):
    report = last_json(seqrnn_cli("data", "inspect", shared_data / "hamlet_pg2265.txt", "--json"))
    assert report["characters"] == 178707 and report["cut"] is None


def test_inspect_text_reads_in_chunks_with_the_same_figures(tmp_path, monkeypatch):
    from seqrnn.data import corpus
    from seqrnn.data.describe import inspect_text

    text = "Ünïcödé 😀 line one\r\nline two, no end\rthird\nfourth" * 7
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    monkeypatch.setattr(corpus, "CHUNK_CHARS", 5)  # many chunks, boundaries inside lines and characters
    report = inspect_text(path, quiet=True)
    expected = text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as training reads it
    assert report["characters"] == len(expected) and report["alphabet"] == "".join(sorted(set(expected)))
    assert report["lines"] == expected.count("\n") + 1
