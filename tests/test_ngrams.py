"""The n-gram model beside a text classifier: its features, its fit, the combination and its files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_sentiment import TINY, make_reviews

from seqrnn import TextClassifier
from seqrnn.errors import SeqrnnError
from seqrnn.nn.ngrams import NgramScorer, feature_matrix, fit_ngram_scorer, pair_buckets
from seqrnn.tasks.classifier import NGRAM_FILE, class_weights, combination_weight

ONE_EPOCH = {**TINY, "epochs": 1}  # enough for what these tests check of the parts


def random_ids(n: int, steps: int, vocab: int, seed: int = 0, pad: str = "right") -> np.ndarray:
    """Rows of random word ids (2..vocab-1) of random lengths, padded with 0 on the `pad` side."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, steps), dtype=np.int64)
    for row, length in enumerate(rng.integers(1, steps + 1, n)):
        words = rng.integers(2, vocab, length)
        if pad == "right":
            ids[row, :length] = words
        else:
            ids[row, steps - length:] = words
    return ids


@pytest.mark.parametrize("classes", [2, 3])
def test_the_scorer_gives_the_logistic_regression_of_the_feature_matrix(classes):
    """The torch module (what predicts and what the ONNX graph holds) computes exactly the linear
    model scikit-learn fitted on the sparse matrix: features, repeats, idf and unit length."""
    vocab = 40

    def cued(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Random rows, each with its class's cue word (id 2 + the class) as the first word."""
        ids, labels = random_ids(n, 12, vocab, seed), np.random.default_rng(seed).integers(0, classes, n)
        ids[:, 0] = 2 + labels
        return ids, labels

    ids, targets = cued(300, 0)
    scorer = fit_ngram_scorer(ids, targets, vocab, classes)
    assert scorer.kind == ("nbsvm" if classes == 2 else "tfidf")
    test, test_targets = cued(50, 1)
    with torch.no_grad():
        got = scorer(torch.from_numpy(test)).numpy()
    value = scorer.value[:-1].numpy()
    weight, bias = scorer.weight[:-1].numpy(), scorer.bias.numpy()
    x = feature_matrix(test, vocab, scorer.buckets, value if scorer.kind == "tfidf" else None)
    expected = x @ weight + bias
    np.testing.assert_allclose(got, expected.squeeze(1) if classes == 2 else expected, atol=1e-4)
    predicted = (got > 0).astype(int) if classes == 2 else got.argmax(1)
    assert (predicted == test_targets).mean() > 0.8


def test_a_feature_counts_once_and_padding_not_at_all():
    scorer = fit_ngram_scorer(random_ids(200, 8, 30), np.arange(200) % 2, 30, 2)
    once = torch.tensor([[5, 6, 7, 0, 0, 0]])
    twice = torch.tensor([[5, 6, 7, 5, 6, 7]])  # the same words and pairs, plus the pair (7, 5)
    left = torch.tensor([[0, 0, 0, 5, 6, 7]])
    with torch.no_grad():
        a, b, c = scorer(once), scorer(twice), scorer(left)
        pair = scorer.weight[30 + (7 * 1_000_003 + 5) % scorer.buckets, 0]
    torch.testing.assert_close(a, c)
    torch.testing.assert_close(b - a, pair.reshape(1))


def test_pair_slots_grow_with_the_data_within_bounds():
    assert pair_buckets(np.ones((2, 1), np.int64)) == 1024
    assert pair_buckets(np.ones((100, 31), np.int64)) == 4096  # 3,000 pairs
    assert pair_buckets(np.ones((30_000, 400), np.int64)) == 1 << 20


def test_class_weights_auto_weighs_only_far_from_balanced_classes():
    assert class_weights("none", np.array([0] * 90 + [1] * 10), 2) is None
    assert class_weights("auto", np.array([0] * 70 + [1] * 30), 2) is None  # 2.3 to 1
    np.testing.assert_allclose(class_weights("auto", np.array([0] * 75 + [1] * 25), 2), [100 / 150, 100 / 50])
    np.testing.assert_allclose(class_weights("balanced", np.array([0] * 70 + [1] * 30), 2), [100 / 140, 100 / 60])


def test_the_combination_is_never_worse_than_either_part_on_the_texts_it_is_chosen_on():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, 400)
    good = np.where(targets == 1, 1.0, -1.0) + rng.normal(0, 1.2, 400)
    noise = rng.normal(0, 1, 400)
    w, figures = combination_weight(noise, good, targets, "accuracy")
    assert w >= 0.9 and figures["combined"]["accuracy"] >= figures["ngram"]["accuracy"]
    w, figures = combination_weight(good, noise, targets, "accuracy")
    assert w <= 0.1 and figures["combined"]["accuracy"] >= figures["network"]["accuracy"]
    other = np.where(targets == 1, 1.0, -1.0) + rng.normal(0, 1.2, 400)  # two independent views: both help
    w, figures = combination_weight(good, other, targets, "macro_f1")
    best = max(figures["network"]["macro_f1"], figures["ngram"]["macro_f1"])
    assert 0 < w < 1 and figures["combined"]["macro_f1"] >= best


@pytest.fixture(scope="module")
def with_ngrams(tmp_path_factory):
    out = tmp_path_factory.mktemp("ngrams") / "model"
    texts, labels = make_reviews(300)
    return TextClassifier(**ONE_EPOCH).fit(texts, labels, out_dir=out), out


def test_the_model_directory_holds_the_ngram_model_and_loads_it(with_ngrams, tmp_path):
    clf, out = with_ngrams
    saved = json.loads((out / "config.json").read_text())["ngram"]
    assert (saved["kind"], saved["C"]) == ("nbsvm", 1.0) and saved["weight"] == clf.ngram_["weight"]
    assert (out / NGRAM_FILE).is_file()
    assert set(saved["validation"]) == {"network", "ngram", "combined"}
    # the held-out texts: 30 of the 300, then learnt from as well
    assert saved["texts"] == 300 and clf.dataset_["val_reviews"] == 30
    texts, _ = make_reviews(40, seed=9)
    loaded = TextClassifier.load(out)
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    clf.save(tmp_path / "copy")
    np.testing.assert_allclose(TextClassifier.load(tmp_path / "copy").predict_proba(texts), clf.predict_proba(texts),
                               atol=1e-6)
    (tmp_path / "copy" / NGRAM_FILE).unlink()
    with pytest.raises(SeqrnnError, match=f"{NGRAM_FILE}: missing"):
        TextClassifier.load(tmp_path / "copy")


def test_predictions_mix_the_two_parts_by_the_chosen_weight(with_ngrams):
    clf, _ = with_ngrams
    texts, _ = make_reviews(30, seed=7)
    w = clf.ngram_["weight"]
    mixed = (1 - w) * clf._logits(texts, part="network") + w * clf._logits(texts, part="ngram")
    np.testing.assert_allclose(clf.decision_function(texts), mixed, atol=1e-5)


def test_ngram_none_and_the_book_preset_train_the_network_alone(tmp_path):
    texts, labels = make_reviews(120)
    for clf in (TextClassifier(**ONE_EPOCH, ngram="none").fit(texts, labels, out_dir=tmp_path / "none"),
                TextClassifier("book", **ONE_EPOCH).fit(texts, labels)):
        assert clf.ngrams_ is None
        assert "parts" not in clf.evaluate(texts[:20], labels[:20])
    assert not (tmp_path / "none" / NGRAM_FILE).exists()
    assert "ngram" not in json.loads((tmp_path / "none" / "config.json").read_text())


def test_validation_texts_given_apart_stay_held_out(tmp_path):
    texts, labels = make_reviews(200)
    clf = TextClassifier(**ONE_EPOCH).fit(texts[:150], labels[:150], X_val=texts[150:], y_val=labels[150:])
    assert clf.ngram_["texts"] == 150 and set(clf.ngram_["validation"]) == {"network", "ngram", "combined"}
