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
from seqrnn.sentiment import SentimentClassifier

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


def test_predict_plain_output_and_stdin(trained):
    _, out = trained
    result = run_cli("sentiment", "predict", "--model", out, stdin="a great wonderful film\nawful boring waste\n")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.split()[0] == "1" and second.split()[0] == "0"
    assert 0.5 < float(first.split()[1]) <= 1.0


def test_empty_huge_and_undecodable_reviews_predict(trained):
    clf, out = trained
    huge = "great " * 200_000  # about 1.2 MB: truncated to the last seq_len tokens
    assert clf.predict_proba(["", huge]).shape == (2, 2)
    result = run_cli("sentiment", "predict", "--model", out, stdin=b"great \xff\xfe film\n\n", text=False)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2


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
    (np.zeros(100, dtype=int), "only one class"),
    (None, "fewer than one batch"),
])
def test_bad_training_data(labels, message):
    texts, default_labels = make_reviews(100 if labels is not None else 10)
    from seqrnn.errors import SeqrnnError

    with pytest.raises(SeqrnnError, match=message):
        SentimentClassifier(**TINY).fit(texts, default_labels if labels is None else labels)


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


def test_train_cli_reads_the_unlabelled_reviews(imdb_dir, tmp_path):
    out = tmp_path / "m"
    result = run_cli("sentiment", "train", "--data", imdb_dir, "--out", out, "--epochs", 1, "--batch-size", 2,
                     "--hidden-size", 4, "--embed-size", 4, "--seq-len", 10, "--threads", 1)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["unlabelled_reviews"] == 2
