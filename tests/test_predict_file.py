"""`classify predict --data FILE --out FILE`: a whole file labelled, in order, with ids."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_sentiment import make_three_class

from seqrnn.cli.main import main
from seqrnn.cli.predict_file import predict_file


def write_csv(path, rows, header=("doc_id", "text", "stars")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_three_class_csv_with_ids_is_predicted_to_csv_in_order(three_class_model, tmp_path, capsys):
    clf, out = three_class_model
    texts, labels = make_three_class(23, seed=7)
    ids = [f"r{900 - i}" for i in range(23)]  # ids in no sorted order: the output keeps the input's
    data = write_csv(tmp_path / "in.csv", zip(ids, texts, labels))
    result = tmp_path / "predictions.csv"
    assert main(["classify", "predict", "--model", str(out), "--data", str(data), "--text-column", "TEXT",
                 "--id-column", "doc_id", "--out", str(result), "--batch-size", "4"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 23 predictions to {result}"
    with open(result, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["doc_id", "label", "probability", "p_negative", "p_neutral", "p_positive"]
    assert [r["doc_id"] for r in rows] == ids
    assert [r["label"] for r in rows] == clf.predict(texts).tolist()
    proba = clf.predict_proba(texts)
    read_back = np.array([[float(r[f"p_{c}"]) for c in clf.classes_] for r in rows])
    np.testing.assert_allclose(read_back, proba, atol=1e-6)
    assert [float(r["probability"]) for r in rows] == pytest.approx(proba.max(axis=1), abs=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_chunks_keep_the_order_and_empty_texts_get_an_empty_prediction(three_class_model, tmp_path, capsys):
    clf, out = three_class_model
    texts, _ = make_three_class(30, seed=8)
    records = [{"id": i * 10, "body": t} for i, t in enumerate(texts)]
    records[3]["body"] = "   "
    records[17]["body"] = None
    del records[25]["body"]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = tmp_path / "out.jsonl"
    outcome = predict_file(clf, data, result, text_column="body", id_column="id", chunk=7)
    assert outcome.rows == 30 and [r.number for r in outcome.empty] == [4, 18, 26]
    lines = [json.loads(line) for line in result.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in records]
    empty = {3, 17, 25}
    for i, line in enumerate(lines):
        if i in empty:
            assert line["label"] is None and line["probabilities"] is None
    kept = [t for i, t in enumerate(texts) if i not in empty]
    assert [r["label"] for i, r in enumerate(lines) if i not in empty] == clf.predict(kept).tolist()

    # through the command: the rows are named on stderr, the file is still written
    result.unlink()
    assert main(["classify", "predict", "--model", str(out), "--data", str(data), "--text-column", "body",
                 "--out", str(result)]) == 0
    err = capsys.readouterr().err
    assert "3 rows had no text to classify" in err and "row 4 (line 4: an empty text)" in err
    assert "row 18 (line 18: no 'body' value)" in err
    assert [json.loads(line)["row"] for line in result.read_text().splitlines()] == list(range(1, 31))


def test_an_existing_output_is_kept_unless_forced(three_class_model, tmp_path, capsys):
    _, out = three_class_model
    data = tmp_path / "texts.txt"
    data.write_text("a great and wonderful film\nan okay film\n", encoding="utf-8")
    result = tmp_path / "out.csv"
    result.write_text("precious\n")
    args = ["classify", "predict", "--model", str(out), "--data", str(data), "--out", str(result)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"seqrnn: error: --out {result} exists: add --force to replace it\n"
    assert result.read_text() == "precious\n"
    assert main(args + ["--force"]) == 0
    rows = list(csv.DictReader(result.open(newline="")))
    assert [r["row"] for r in rows] == ["1", "2"] and rows[0]["label"] == "positive"


@pytest.mark.parametrize("content,flags,message", [
    ("doc_id,text\n1,fine\n", ["--id-column", "key"], "in.csv: no 'key' column (columns: doc_id, text)"),
    ("doc_id,words\n1,fine\n", [], "in.csv: no text column (columns: doc_id, words; looked for review, text, "
                                   "sentence, content, document): name it with --text-column"),
    ("text\nfine\n\"broken,\n", [], "malformed CSV"),
    ("text,x\nfine,1\nonly\n", [], "in.csv: line 3: 1 fields, expected 2"),
])
def test_bad_input_files_are_named_and_leave_no_output(three_class_model, tmp_path, capsys, content, flags, message):
    _, out = three_class_model
    data = tmp_path / "in.csv"
    data.write_text(content, encoding="utf-8")
    result = tmp_path / "out.csv"
    assert main(["classify", "predict", "--model", str(out), "--data", str(data), "--out", str(result), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqrnn: error: ") and message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == [data]  # no output, no temporary file


@pytest.mark.parametrize("args,message", [
    (["--data", "x.csv"], "label a file with both --data FILE (the texts) and --out FILE.csv|.jsonl"),
    (["--id-column", "id", "some text"], "--id-column applies to a file of texts: give it with --data FILE"),
    (["--data", "{data}", "--out", "{tmp}/p.parquet"], "--out {tmp}/p.parquet: name a .csv, .tsv or .jsonl file"),
    (["--data", "{data}", "--out", "{tmp}/p.csv", "--json"], "--json is for TEXT arguments and stdin"),
    (["--data", "{data}", "--out", "{data}", "--force"], "is the --data file"),
])
def test_file_options_are_checked_before_the_model_is_loaded(tmp_path, capsys, args, message):
    data = tmp_path / "in.csv"
    data.write_text("text\nfine\n")
    args = [a.format(data=data, tmp=tmp_path) for a in args]
    assert main(["classify", "predict", "--model", str(tmp_path / "no-model"), *args]) == 2
    err = capsys.readouterr().err
    assert message.format(data=data, tmp=tmp_path) in err and len(err.splitlines()) == 1
