"""The sentiment classifier: model, training, persistence, scikit-learn conventions, CLI, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from conftest import run_seqrnn as run_cli
from conftest import write_model_dir
from seqrnn.rundir import RunDir, load_tensors
from seqrnn.classifier import SentimentClassifier

POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "moving", "fun"]
NEGATIVE = ["awful", "boring", "hated", "terrible", "dull", "waste", "poor"]
FILLER = ["the", "movie", "film", "plot", "actor", "was", "and", "a", "it", "story", "of", "scene", "."]


def make_reviews(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Synthetic reviews of varied length whose label shows in a few sentiment words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], rng.integers(0, 2, n)
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(5, 60)))
        cues = POSITIVE if label else NEGATIVE
        for _ in range(3):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cues)))
        texts.append(" ".join(words).capitalize() + "!")
    return texts, labels


TINY = dict(embed_size=16, hidden_size=16, seq_len=50, batch_size=16, epochs=3, lr=1e-2, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("sentiment") / "model"
    texts, labels = make_reviews(400)
    clf = SentimentClassifier(preset="default", **TINY).fit(texts, labels, out_dir=out)
    return clf, out


def test_the_default_model_learns_and_writes_its_directory(trained):
    clf, out = trained
    texts, labels = make_reviews(200, seed=5)
    assert clf.score(texts, labels) > 0.9
    for name in ("config.json", "vocab.json", "model.safetensors", "checkpoint/model.safetensors",
                 "metrics.jsonl", "curves.png"):
        assert (out / name).is_file(), name
    val = [r for r in RunDir(out).metrics() if r["type"] == "val"]
    assert len(val) == 3 and {"loss", "accuracy"} <= set(val[0])


def test_the_book_preset_trains_too():
    texts, labels = make_reviews(300)
    clf = SentimentClassifier(preset="book", **{**TINY, "epochs": 4}).fit(texts, labels)
    assert clf.config_.data.pad == "left" and clf.config_.model.pooling == "last"
    assert clf.score(*make_reviews(200, seed=5)) > 0.8


def test_predict_proba_shape_and_consistency(trained):
    clf, _ = trained
    texts, _ = make_reviews(37, seed=9)  # not a multiple of any batch size: every review is predicted
    proba = clf.predict_proba(texts)
    assert proba.shape == (37, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.predict(texts), (proba[:, 1] > 0.5).astype(int))


@pytest.mark.slow
def test_reload_in_a_fresh_process_gives_identical_predictions(trained):
    clf, out = trained
    texts, _ = make_reviews(5, seed=3)
    result = run_cli("sentiment", "predict", "--model", out, "--json", *texts)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    expected = clf.predict_proba(texts)[:, 1]
    assert [r["label"] for r in lines] == [int(p > 0.5) for p in expected]
    assert np.allclose([r["probability"] for r in lines], expected, atol=1e-6)
    reloaded = SentimentClassifier.load(out)
    assert np.array_equal(reloaded.decision_function(texts), clf.decision_function(texts))


@pytest.mark.slow
def test_predict_plain_output_and_stdin(trained):
    _, out = trained
    result = run_cli("sentiment", "predict", "--model", out, stdin="a great wonderful film\nawful boring waste\n")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.split()[0] == "1" and second.split()[0] == "0"
    assert 0.5 < float(first.split()[1]) <= 1.0


@pytest.mark.slow
def test_huge_and_undecodable_reviews_predict_and_empty_ones_are_refused(trained):
    clf, out = trained
    huge = "great " * 200_000  # about 1.2 MB: truncated to the last seq_len tokens
    assert clf.predict_proba(["fine", huge]).shape == (2, 2)
    with pytest.raises(ValueError, match=r"X holds 1 empty text\(s\) \(at 1\): there is nothing to classify"):
        clf.predict_proba(["fine", " \n"])
    result = run_cli("sentiment", "predict", "--model", out, stdin=b"great \xff\xfe film\nawful\n", text=False)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2
    for args, stdin, where in [((), "great film\n\n", "stdin line 2 is empty"), (("",), None, "TEXT argument 1 is empty")]:
        result = run_cli("sentiment", "predict", "--model", out, *args, stdin=stdin)
        assert result.returncode == 2 and result.stdout == "", result.stderr
        assert result.stderr.startswith("seqrnn: error: " + where) and len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_evaluate_cli_json(trained, tmp_path):
    clf, out = trained
    texts, labels = make_reviews(50, seed=4)
    csv = tmp_path / "reviews.csv"
    import csv as csvlib

    with open(csv, "w", newline="", encoding="utf-8") as f:
        writer = csvlib.writer(f)
        writer.writerow(["review", "sentiment"])
        writer.writerows(zip(texts, labels))
    result = run_cli("sentiment", "evaluate", "--model", out, "--data", csv, "--split", "all", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"accuracy", "loss", "n"} and report["n"] == 50
    assert report["accuracy"] == pytest.approx(clf.score(texts, labels))


def test_scikit_learn_conventions():
    texts, labels = make_reviews(120)
    clf = SentimentClassifier(preset="default", **{**TINY, "epochs": 1})
    assert clone(clf).get_params() == clf.get_params()
    clf.set_params(hidden_size=8)
    assert clf.get_params()["hidden_size"] == 8
    scores = cross_val_score(clf, texts, labels, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


@pytest.mark.parametrize("labels,message", [
    (np.zeros(100, dtype=int), "single class"),
    (None, "fewer than one batch"),
])
def test_bad_training_data(labels, message):
    texts, default_labels = make_reviews(100 if labels is not None else 10)
    from seqrnn.errors import SeqrnnError

    with pytest.raises(SeqrnnError, match=message):
        SentimentClassifier(**TINY).fit(texts, default_labels if labels is None else labels)


@pytest.mark.slow
@pytest.mark.parametrize("setup,message", [
    ("missing", "no such model directory"),
    ("incomplete", "incomplete model directory"),
    ("charlm", "charlm model, not a sentiment model"),
])
def test_bad_model_directories(tmp_path, setup, message):
    model = tmp_path / "m"
    if setup == "incomplete":
        model.mkdir()
        (model / "config.json").write_text('{"task": "sentiment"}')
    elif setup == "charlm":
        write_model_dir(model, "charlm")
    result = run_cli("sentiment", "predict", "--model", model, "some text")
    assert result.returncode == 2 and result.stderr.startswith("seqrnn: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_stopped_and_resumed_run_matches_an_uninterrupted_one(tmp_path):
    texts, labels = make_reviews(200)
    settings = {**TINY, "epochs": 2}
    SentimentClassifier(**settings).fit(texts, labels, out_dir=tmp_path / "a")
    stopped = SentimentClassifier(max_minutes=1e-9, **settings).fit(texts, labels, out_dir=tmp_path / "b")
    assert stopped.summary_["stopped"] == "budget" and stopped.summary_["step"] == 1
    SentimentClassifier(**settings).fit(texts, labels, out_dir=tmp_path / "b", resume=True)
    a, _ = load_tensors(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b, _ = load_tensors(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_default_embedding_starts_from_word_vectors_of_training_and_unlabelled_reviews():
    from seqrnn.wordvectors import vectors_for_vocabulary

    texts, labels = make_reviews(120)
    unlabelled, _ = make_reviews(60, seed=9)
    # a learning rate so small that the embedding keeps its start
    clf = SentimentClassifier(**{**TINY, "epochs": 1, "lr": 1e-12, "val_fraction": 0.0})
    clf.fit(texts, labels, unlabelled=unlabelled)
    assert clf.dataset_["unlabelled_reviews"] == 60 and clf.config_.training.embed_init == "ppmi"
    expected = vectors_for_vocabulary(texts + unlabelled, clf.vocab_, dim=16, seed=1)
    np.testing.assert_allclose(clf.model_.encoder.embedding.weight.detach().numpy(), expected, atol=1e-4)
    random_start = SentimentClassifier(**{**TINY, "epochs": 1, "lr": 1e-12, "val_fraction": 0.0},
                                       embed_init="random").fit(texts, labels)
    assert not np.allclose(random_start.model_.encoder.embedding.weight.detach().numpy(), expected, atol=1e-2)


def test_an_unknown_embedding_start_is_refused():
    from seqrnn.errors import SeqrnnError

    with pytest.raises(SeqrnnError, match="embed_init must be one of random, ppmi, got 'glove'"):
        SentimentClassifier(**TINY, embed_init="glove").fit(*make_reviews(100))


@pytest.mark.slow
def test_train_cli_reads_the_unlabelled_reviews(imdb_dir, tmp_path):
    out = tmp_path / "m"
    result = run_cli("sentiment", "train", "--data", imdb_dir, "--out", out, "--epochs", 1, "--batch-size", 2,
                     "--hidden-size", 4, "--embed-size", 4, "--seq-len", 10, "--threads", 1)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["unlabelled_reviews"] == 2


# --- your own labelled texts: any labels, files, held-out data ------------------------------------

NEUTRAL = ["okay", "average", "fine", "mediocre", "passable", "so-so"]


def make_three_class(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Reviews labelled 'negative', 'neutral' or 'positive' by a few cue words."""
    rng = np.random.default_rng(seed)
    cues = {"negative": NEGATIVE, "neutral": NEUTRAL, "positive": POSITIVE}
    labels = [str(label) for label in rng.choice(list(cues), n)]
    texts = []
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(5, 30)))
        for _ in range(3):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cues[label])))
        texts.append(" ".join(words))
    return texts, labels


def write_jsonl(path, texts, labels, text_key="body", label_key="stars"):
    with open(path, "w", encoding="utf-8") as f:
        for text, label in zip(texts, labels):
            f.write(json.dumps({"id": len(text), text_key: text, label_key: label}) + "\n")
    return path


@pytest.mark.slow
def test_a_three_class_model_from_jsonl_trains_and_evaluates_through_the_cli_and_the_api(tmp_path):
    from seqrnn.data import read_labelled

    train = write_jsonl(tmp_path / "train.jsonl", *make_three_class(300))
    val = write_jsonl(tmp_path / "val.jsonl", *make_three_class(60, seed=1))
    test = write_jsonl(tmp_path / "test.jsonl", *make_three_class(90, seed=2))
    out = tmp_path / "model"
    flags = ["--text-column", "body", "--label-column", "stars"]
    result = run_cli("sentiment", "train", "--data", train, "--val-data", val, "--out", out, *flags,
                     "--epochs", 4, "--embed-size", 16, "--hidden-size", 16, "--seq-len", 40, "--batch-size", 16,
                     "--lr", 1e-2, "--threads", 1)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["classes"] == ["negative", "neutral", "positive"]
    assert config["dataset"]["train_reviews"] == 300 and config["dataset"]["val_reviews"] == 60
    assert "val accuracy" in result.stderr  # the plain line per validation (stderr is not a terminal)

    result = run_cli("sentiment", "evaluate", "--model", out, "--data", test, *flags, "--json", "--batch-size", 7,
                     "--device", "cpu", "--threads", 1)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    heldout = read_labelled(test, "body", "stars")
    clf = SentimentClassifier.load(out)
    assert clf.classes_.tolist() == ["negative", "neutral", "positive"]
    assert report == pytest.approx(clf.evaluate(heldout.texts, heldout.labels))
    assert report["n"] == 90 and report["accuracy"] > 0.9

    result = run_cli("sentiment", "predict", "--model", out, "--json", "an okay and average film", "great, loved it")
    assert result.returncode == 0, result.stderr
    first, second = map(json.loads, result.stdout.splitlines())
    assert first["label"] == "neutral" and second["label"] == "positive"
    assert set(first["probabilities"]) == {"negative", "neutral", "positive"}
    assert first["probability"] == max(first["probabilities"].values())
    plain = run_cli("sentiment", "predict", "--model", out, "an okay and average film").stdout.split()
    assert plain[0] == "neutral" and float(plain[1]) == pytest.approx(first["probability"], abs=1e-4)

    # the same through the API, with the held-out texts given to fit
    texts, labels = make_three_class(300)
    api = SentimentClassifier(preset="default", **{**TINY, "epochs": 4, "seq_len": 40}).fit(
        texts, labels, X_val=heldout.texts, y_val=heldout.labels)
    assert api.classes_.tolist() == ["negative", "neutral", "positive"]
    assert api.decision_function(heldout.texts[:4]).shape == (4, 3)
    assert api.score(heldout.texts, heldout.labels) > 0.9


@pytest.mark.slow
def test_csv_with_word_labels_and_a_folder_per_label_train(tmp_path):
    import csv as csvlib

    texts, labels = make_reviews(120)
    words = ["negative", "positive"]
    data = tmp_path / "movie_data.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csvlib.writer(f)
        writer.writerow(["review", "sentiment"])
        writer.writerows((t, words[y]) for t, y in zip(texts, labels))
    folders = tmp_path / "folders"
    for i, (text, label) in enumerate(zip(texts[:40], labels[:40])):
        (folders / words[label]).mkdir(parents=True, exist_ok=True)
        (folders / words[label] / f"{i}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "m"
    common = ["--epochs", 1, "--embed-size", 8, "--hidden-size", 8, "--seq-len", 20, "--batch-size", 16,
              "--threads", 1, "--quiet"]
    result = run_cli("sentiment", "train", "--data", data, "--out", out, *common)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no progress lines
    assert json.loads((out / "config.json").read_text())["classes"] == words
    result = run_cli("sentiment", "evaluate", "--model", out, "--data", folders, "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["n"] == 40, result.stderr
    result = run_cli("sentiment", "evaluate", "--model", out, "--data", data, "--split", "test")
    assert result.returncode == 2 and "has no test split; it is used whole" in result.stderr


def test_a_binary_model_directory_written_before_classes_were_stored_still_loads(trained, tmp_path):
    import shutil

    clf, out = trained
    old = tmp_path / "old"
    shutil.copytree(out, old)
    config = json.loads((old / "config.json").read_text())
    del config["classes"], config["config_format"]  # as written before classes were stored
    (old / "config.json").write_text(json.dumps(config))
    loaded = SentimentClassifier.load(old)
    assert loaded.classes_.tolist() == [0, 1] and loaded.model_.head.out_features == 1
    texts, _ = make_reviews(5, seed=3)
    assert np.array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))


@pytest.mark.slow
def test_inference_device_and_threads_are_checked_with_one_line(trained):
    from seqrnn.distributed import resolve_device

    _, out = trained
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device("auto").type in ("cpu", "cuda")
    for device, message in [("tpu", "device 'tpu': not a torch device"), ("mps", "device mps: not available")]:
        with pytest.raises(ValueError, match=message):
            resolve_device(device)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device cuda: no CUDA device is available here"):
            resolve_device("cuda")
    result = run_cli("sentiment", "predict", "--model", out, "--device", "cuda:3", "fine film")
    if result.returncode:  # fewer than 4 GPUs here
        assert result.returncode == 2 and result.stderr.startswith("seqrnn: error: device cuda:3:"), result.stderr
        assert len(result.stderr.splitlines()) == 1
    result = run_cli("sentiment", "predict", "--model", out, "--device", "cpu", "--threads", 1, "--batch-size", 2,
                     "fine film", "awful", "great")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3, result.stderr
