"""The sentiment classifier: model, training, persistence, scikit-learn conventions, CLI, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_seqrnn as run_cli
from conftest import write_model_dir
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from seqrnn.tasks.classifier import SentimentClassifier
from seqrnn.training.rundir import RunDir, load_tensors

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
    expected = clf.predict_proba(texts)
    assert [r["label"] for r in lines] == [int(p > 0.5) for p in expected[:, 1]]
    assert np.allclose([r["probability"] for r in lines], expected.max(axis=1), atol=1e-6)  # the label's
    reloaded = SentimentClassifier.load(out)
    assert np.array_equal(reloaded.decision_function(texts), clf.decision_function(texts))


def test_predict_plain_output_and_stdin(trained, seqrnn_cli):
    _, out = trained
    result = seqrnn_cli("sentiment", "predict", "--model", out, stdin="a great wonderful film\nawful boring waste\n")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.split()[0] == "1" and second.split()[0] == "0"
    assert 0.5 < float(first.split()[1]) <= 1.0


def test_huge_and_undecodable_reviews_predict_and_empty_ones_are_refused(trained, seqrnn_cli):
    clf, out = trained
    huge = "great " * 200_000  # about 1.2 MB: truncated to the last seq_len tokens
    assert clf.predict_proba(["fine", huge]).shape == (2, 2)
    with pytest.raises(ValueError, match=r"X holds 1 empty text\(s\) \(at 1\): there is nothing to classify"):
        clf.predict_proba(["fine", " \n"])
    result = seqrnn_cli("sentiment", "predict", "--model", out, stdin=b"great \xff\xfe film\nawful\n")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2
    for args, stdin, where in [((), "great film\n\n", "stdin line 2 is empty"), (("",), b"", "TEXT argument 1 is empty")]:
        result = seqrnn_cli("sentiment", "predict", "--model", out, *args, stdin=stdin)
        assert result.returncode == 2 and result.stdout == "", result.stderr
        assert result.stderr.startswith("seqrnn: error: " + where) and len(result.stderr.splitlines()) == 1


def test_evaluate_cli_json(trained, tmp_path, seqrnn_cli):
    clf, out = trained
    texts, labels = make_reviews(50, seed=4)
    csv = tmp_path / "reviews.csv"
    import csv as csvlib

    with open(csv, "w", newline="", encoding="utf-8") as f:
        writer = csvlib.writer(f)
        writer.writerow(["review", "sentiment"])
        writer.writerows(zip(texts, labels))
    result = seqrnn_cli("sentiment", "evaluate", "--model", out, "--data", csv, "--split", "all", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"accuracy", "loss", "n", "classes", "per_class", "macro_avg", "weighted_avg",
                           "confusion_matrix", "warnings", "parts", "ngram_weight"} and report["n"] == 50
    assert report["accuracy"] == pytest.approx(clf.score(texts, labels))
    # the network and the n-gram model alone, beside the combination
    network = (clf._logits(texts, part="network") > 0).astype(int)
    assert report["parts"]["network"]["accuracy"] == pytest.approx((network == labels).mean())
    assert report["ngram_weight"] == clf.ngram_["weight"]


def test_scikit_learn_conventions():
    texts, labels = make_reviews(120)
    clf = SentimentClassifier(preset="default", **{**TINY, "epochs": 1})
    assert clone(clf).get_params() == clf.get_params()
    clf.set_params(hidden_size=8)
    assert clf.get_params()["hidden_size"] == 8
    scores = cross_val_score(clf, texts, labels, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


@pytest.mark.parametrize("labels,message", [
    (np.zeros(100, dtype=int), r"y holds a single class \(0\)"),
    (["a"] * 60 + ["b"] * 39 + ["rare"], r"class 'rare' has 1 training text; every class needs at least 2"),
    (["a"] * 60 + ["b"] * 38 + ["c", "d"], r"classes 'c' \(1\), 'd' \(1\) have fewer than 2 training texts"),
])
def test_bad_training_data(labels, message):
    from seqrnn.errors import SeqrnnError

    texts, _ = make_reviews(100)
    with pytest.raises(SeqrnnError, match=message):
        SentimentClassifier(**{**TINY, "val_fraction": 0.0}).fit(texts, labels)


def test_a_class_that_the_held_out_texts_leave_short_is_named_with_them():
    from seqrnn.errors import SeqrnnError

    texts, _ = make_reviews(100)
    labels = ["a"] * 96 + ["b"] * 2 + ["c"] * 2
    with pytest.raises(SeqrnnError, match=r"classes 'b' \(\d\), 'c' \(\d\) have fewer than 2 training texts \(after "
                                          r"`limit` and the 1 validation text\)"):
        SentimentClassifier(**{**TINY, "limit": 10, "val_fraction": 0.1}).fit(texts, labels)


def test_ten_texts_train_with_one_batch_of_all_of_them_and_a_warning(tmp_path, capsys):
    from seqrnn.cli.main import main
    from seqrnn.tasks.classifier import SmallDataWarning

    texts, labels = make_reviews(10, seed=2)
    labels[:2] = [0, 1]  # both classes, at least 2 of each after the held-out share
    labels[2:4] = [0, 1]
    clf = SentimentClassifier(preset="book", embed_size=8, hidden_size=8, seq_len=30, epochs=2, threads=1)
    with pytest.warns(SmallDataWarning, match=r"only 8 training texts, fewer than one batch of 100: training on one "
                                              r"batch of all 8"):
        clf.fit(texts, labels)
    assert clf.summary_["step"] == 2 and clf.dataset_ == {"source": None, "train_reviews": 8, "val_reviews": 2,
                                                          "unlabelled_reviews": 0}
    assert clf.predict(texts).shape == (10,)

    capsys.readouterr()
    data = tmp_path / "ten.csv"
    data.write_text("text,label\n" + "".join(f"{t},{'yes' if y else 'no'}\n" for t, y in zip(texts, labels)))
    assert main(["classify", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--preset", "book",
                 "--epochs", "1", "--embed-size", "8", "--hidden-size", "8", "--seq-len", "30", "--threads", "1",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err == "note: only 8 training texts, fewer than one batch of 100: training on one batch of all 8\n"


def test_small_data_trains_with_smaller_batches_by_the_rule():
    """`min_epoch_batches` halves the batch size, not below 16, while an epoch would have fewer
    batches; 0 keeps it. The default preset's 50: 900 texts in 16s, 2,700 in 32s, 3,200 in 64s."""
    from seqrnn.tasks.classifier import training_batch_size

    assert [training_batch_size(n, 64, 50) for n in (10, 900, 1599, 1600, 2700, 3199, 3200, 10**6)] == \
        [16, 16, 16, 32, 32, 32, 64, 64]
    assert training_batch_size(10, 100, 50) == 16 and training_batch_size(10**6, 100, 50) == 100
    assert training_batch_size(900, 64, 0) == 64 and training_batch_size(900, 8, 50) == 8
    assert SentimentClassifier(preset="default").resolved_config().training.min_epoch_batches == 50
    assert SentimentClassifier(preset="book").resolved_config().training.min_epoch_batches == 0

    texts, labels = make_reviews(200, seed=3)  # 180 to train on: 4 batches an epoch ask for 32s
    clf = SentimentClassifier(**{**TINY, "batch_size": 64, "epochs": 1}, min_epoch_batches=4).fit(texts, labels)
    assert clf.summary_["step"] == 6  # ceil(180 / 32)


def test_the_held_out_split_is_stratified_and_keeps_a_five_percent_class():
    from seqrnn.data.split import heldout_split

    labels = np.array(["common"] * 95 + ["rare"] * 5)
    for seed in range(20):
        kept, held = heldout_split(100, seed, 0.1, labels=labels)
        assert len(held) == 10 and sorted(kept.tolist() + held.tolist()) == list(range(100))
        assert (labels[held] == "rare").sum() == 1 and (labels[kept] == "rare").sum() == 4
        assert heldout_split(100, seed, 0.1, labels=labels)[1].tolist() == held.tolist()  # seeded
    # without labels the shuffle alone decides: some seed loses the rare class from validation
    assert any((labels[heldout_split(100, seed, 0.1)[1]] == "rare").sum() == 0 for seed in range(20))
    # in proportion, with every class of 3 or more in validation and at least 2 of each left to train on
    big = np.array([0] * 700 + [1] * 250 + [2] * 47 + [3] * 3)
    kept, held = heldout_split(1000, 1, 0.2, labels=big)
    assert np.bincount(big[held]).tolist() == [140, 50, 9, 1] and np.bincount(big[kept]).tolist() == [560, 200, 38, 2]
    kept, held = heldout_split(7, 0, 0.5, labels=["a", "a", "b", "b", "b", "a", "c"])
    assert len(held) == 2 and sorted(np.array(list("aabbbac"))[held].tolist()) == ["a", "b"]


def test_a_classifier_validates_on_the_reviews_its_language_model_held_out(tmp_path):
    """The classifier's stratified validation split is the language model's, when both are given
    the labels (`seqrnn lm train` passes them): no note about a mismatch. Without the labels, the
    language model holds out other reviews, and a warning says so (a note on the command line)."""
    import warnings

    from seqrnn.tasks.wordlm import HeldOutWarning, WordLanguageModel

    texts, labels = make_reviews(60, seed=4)
    labels[:50] = 0  # imbalanced: the stratified split differs from the plain shuffle's
    lm_settings = dict(embed_size=8, hidden_size=8, batch_size=4, num_steps=6, epochs=1, min_count=1, threads=1,
                       val_fraction=0.2, seed=5)
    clf_settings = dict(preset="default", embed_size=8, hidden_size=8, epochs=1, batch_size=8, threads=1,
                        val_fraction=0.2, seed=5)
    WordLanguageModel(**lm_settings).fit(texts, labels, out_dir=tmp_path / "with")
    WordLanguageModel(**lm_settings).fit(texts, out_dir=tmp_path / "without")
    with warnings.catch_warnings():
        warnings.simplefilter("error", HeldOutWarning)
        SentimentClassifier(**clf_settings, init_from=str(tmp_path / "with")).fit(texts, labels)
    with pytest.warns(HeldOutWarning, match="did not hold out exactly this classifier's validation reviews"):
        SentimentClassifier(**clf_settings, init_from=str(tmp_path / "without")).fit(texts, labels)


def test_balanced_class_weights_change_the_loss_as_scikit_learn_weighs_classes():
    from sklearn.utils.class_weight import compute_class_weight

    from seqrnn.tasks.classifier import classification_loss

    targets = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    weights = torch.as_tensor(compute_class_weight("balanced", classes=np.arange(2), y=targets.numpy()))
    assert weights.tolist() == pytest.approx([10 / 16, 10 / 4])
    binary = torch.linspace(-2, 2, 10)
    plain, weighted = classification_loss(binary, targets), classification_loss(binary, targets, weights)
    each = torch.nn.functional.binary_cross_entropy_with_logits(binary, targets.float(), reduction="none")
    w = weights[targets]
    assert float(weighted) == pytest.approx(float((w * each).sum() / w.sum()))
    assert float(weighted) != pytest.approx(float(plain))
    assert float(classification_loss(binary, targets, torch.ones(2))) == pytest.approx(float(plain))
    logits = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    three = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    w3 = torch.tensor([0.5, 1.0, 3.0])
    assert float(classification_loss(logits, three, w3)) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, three, weight=w3)))
    assert float(classification_loss(logits, three, w3)) != pytest.approx(float(classification_loss(logits, three)))


def test_class_weight_balanced_trains_with_the_weights_of_the_training_split(tmp_path, monkeypatch):
    from seqrnn.cli.main import main
    from seqrnn.tasks import classifier

    seen = []
    original = classifier.ReviewTask.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self.class_weight)
        monitors.append(self.monitor)

    monitors = []

    monkeypatch.setattr(classifier.ReviewTask, "__init__", spy)
    texts, _ = make_reviews(100)
    labels = np.array([0] * 80 + [1] * 20)
    clf = SentimentClassifier(**{**TINY, "epochs": 1, "val_fraction": 0.1}, class_weight="balanced").fit(texts, labels)
    assert clf.config_.training.class_weight == "balanced"
    assert seen[-1].tolist() == pytest.approx([90 / (2 * 72), 90 / (2 * 18)])  # the 90 training texts: 72 + 18
    # the best weights are those of the best macro-F1: accuracy would favour the large class again
    assert monitors[-1] == ("macro_f1", "max") and "macro_f1" in clf.summary_["best"]
    SentimentClassifier("book", **{**TINY, "epochs": 1}).fit(texts, labels)
    assert seen[-1] is None and monitors[-1] == ("accuracy", "max")
    # "auto" (the default preset's): weighted when the largest class has 3 times the smallest's texts
    SentimentClassifier(**{**TINY, "epochs": 1}).fit(texts, labels)  # 72 against 18
    assert seen[-1].tolist() == pytest.approx([90 / (2 * 72), 90 / (2 * 18)]) and monitors[-1][0] == "macro_f1"
    SentimentClassifier(**{**TINY, "epochs": 1}).fit(texts, np.array([0] * 70 + [1] * 30))  # 63 against 27
    assert seen[-1] is None and monitors[-1][0] == "accuracy"
    with pytest.raises(ValueError, match="class_weight must be one of none, balanced, auto, got 'often'"):
        SentimentClassifier(class_weight="often").fit(texts, labels)
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    args = ["classify", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--epochs", "1", "--quiet",
            *[f"--{k.replace('_', '-')}={v}" for k, v in TINY.items() if k != "epochs"]]
    assert main([*args, "--class-weight", "balanced"]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["training"]["class_weight"] == "balanced"


def test_the_probability_beside_a_label_is_that_labels(trained):
    from seqrnn.tasks.classifier import prediction_records

    clf, _ = trained
    texts = ["awful boring waste of a film", "a great and wonderful film"]
    records = prediction_records(clf, texts)
    proba = clf.predict_proba(texts)
    assert [r["label"] for r in records] == [0, 1]
    assert [r["probability"] for r in records] == pytest.approx([proba[0, 0], proba[1, 1]], abs=1e-6)
    assert all(r["probability"] > 0.5 for r in records)
    assert records[0]["probabilities"] == {"0": pytest.approx(proba[0, 0], abs=1e-6),
                                           "1": pytest.approx(proba[0, 1], abs=1e-6)}
    with pytest.raises(ValueError, match=r"^texts holds 1 empty text\(s\) \(at 1\)"):  # the server's field
        prediction_records(clf, ["fine", " "])


def test_command_line_errors_name_files_and_flags_never_x_or_y(trained, tmp_path, capsys):
    from seqrnn.cli.main import main

    _, out = trained
    data = tmp_path / "test.csv"
    data.write_text("text,label\na great film,1\nan awful film,2\n")
    assert main(["classify", "evaluate", "--model", str(out), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err == (f"seqrnn: error: {data} holds labels the model does not know: 2 (its classes: 0, 1)\n")
    one = tmp_path / "one.csv"
    one.write_text("text,label\na great film,good\nanother great film,good\n")
    assert main(["classify", "train", "--data", str(one), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == f"seqrnn: error: {one} holds a single class ('good'): a classifier needs at " \
                                      "least 2 classes\n"
    texts, labels = make_reviews(40)
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    assert main(["classify", "train", "--data", str(train), "--val-data", str(data), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.startswith(f"seqrnn: error: {data} holds labels that {train} does not have: "
                                              "2 (known classes: 0, 1)")


@pytest.mark.parametrize("setup,message", [
    ("missing", "no such model directory"),
    ("incomplete", "incomplete model directory"),
    ("charlm", "charlm model, not a sentiment model"),
])
def test_bad_model_directories(tmp_path, setup, message, seqrnn_cli):
    model = tmp_path / "m"
    if setup == "incomplete":
        model.mkdir()
        (model / "config.json").write_text('{"task": "sentiment"}')
    elif setup == "charlm":
        write_model_dir(model, "charlm")
    result = seqrnn_cli("sentiment", "predict", "--model", model, "some text")
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
    from seqrnn.text.wordvectors import vectors_for_vocabulary

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


def test_train_cli_reads_the_unlabelled_reviews(imdb_dir, tmp_path, seqrnn_cli):
    out = tmp_path / "m"
    result = seqrnn_cli("sentiment", "train", "--data", imdb_dir, "--out", out, "--epochs", 1, "--batch-size", 2,
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


def test_a_three_class_model_from_jsonl_trains_and_evaluates_through_the_cli_and_the_api(tmp_path, seqrnn_cli):
    from seqrnn.data.labelled import read_labelled

    train = write_jsonl(tmp_path / "train.jsonl", *make_three_class(300))
    val = write_jsonl(tmp_path / "val.jsonl", *make_three_class(60, seed=1))
    test = write_jsonl(tmp_path / "test.jsonl", *make_three_class(90, seed=2))
    out = tmp_path / "model"
    flags = ["--text-column", "body", "--label-column", "stars"]
    result = seqrnn_cli("sentiment", "train", "--data", train, "--val-data", val, "--out", out, *flags,
                     "--epochs", 4, "--embed-size", 16, "--hidden-size", 16, "--seq-len", 40, "--batch-size", 16,
                     "--lr", 1e-2, "--threads", 1)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["classes"] == ["negative", "neutral", "positive"]
    assert config["dataset"]["train_reviews"] == 300 and config["dataset"]["val_reviews"] == 60
    assert "val accuracy" in result.stderr  # the plain line per validation (stderr is not a terminal)

    result = seqrnn_cli("sentiment", "evaluate", "--model", out, "--data", test, *flags, "--json", "--batch-size", 7,
                     "--device", "cpu", "--threads", 1)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    heldout = read_labelled(test, "body", "stars")
    clf = SentimentClassifier.load(out)
    assert clf.classes_.tolist() == ["negative", "neutral", "positive"]
    expected = clf.evaluate(heldout.texts, heldout.labels)
    assert report["confusion_matrix"] == expected["confusion_matrix"] and report["per_class"] == expected["per_class"]
    assert report["accuracy"] == pytest.approx(expected["accuracy"]) and report["loss"] == pytest.approx(expected["loss"])
    assert report["n"] == 90 and report["accuracy"] > 0.9

    result = seqrnn_cli("sentiment", "predict", "--model", out, "--json", "an okay and average film", "great, loved it")
    assert result.returncode == 0, result.stderr
    first, second = map(json.loads, result.stdout.splitlines())
    assert first["label"] == "neutral" and second["label"] == "positive"
    assert set(first["probabilities"]) == {"negative", "neutral", "positive"}
    assert first["probability"] == max(first["probabilities"].values())
    plain = seqrnn_cli("sentiment", "predict", "--model", out, "an okay and average film").stdout.split()
    assert plain[0] == "neutral" and float(plain[1]) == pytest.approx(first["probability"], abs=1e-4)

    # the same through the API, with the held-out texts given to fit
    texts, labels = make_three_class(300)
    api = SentimentClassifier(preset="default", **{**TINY, "epochs": 4, "seq_len": 40}).fit(
        texts, labels, X_val=heldout.texts, y_val=heldout.labels)
    assert api.classes_.tolist() == ["negative", "neutral", "positive"]
    assert api.decision_function(heldout.texts[:4]).shape == (4, 3)
    assert api.score(heldout.texts, heldout.labels) > 0.9


def test_csv_with_word_labels_and_a_folder_per_label_train(tmp_path, seqrnn_cli):
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
    result = seqrnn_cli("sentiment", "train", "--data", data, "--out", out, *common)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no progress lines
    assert json.loads((out / "config.json").read_text())["classes"] == words
    result = seqrnn_cli("sentiment", "evaluate", "--model", out, "--data", folders, "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["n"] == 40, result.stderr
    result = seqrnn_cli("sentiment", "evaluate", "--model", out, "--data", data, "--split", "test")
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


def test_inference_device_and_threads_are_checked_with_one_line(trained, seqrnn_cli):
    from seqrnn.training.distributed import resolve_device

    _, out = trained
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device("auto").type in ("cpu", "cuda")
    for device, message in [("tpu", "device 'tpu': not a torch device"), ("mps", "device mps: not available")]:
        with pytest.raises(ValueError, match=message):
            resolve_device(device)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device cuda: no CUDA device is available here"):
            resolve_device("cuda")
    result = seqrnn_cli("sentiment", "predict", "--model", out, "--device", "cuda:3", "fine film")
    if result.returncode:  # fewer than 4 GPUs here
        assert result.returncode == 2 and result.stderr.startswith("seqrnn: error: device cuda:3:"), result.stderr
        assert len(result.stderr.splitlines()) == 1
    result = seqrnn_cli("sentiment", "predict", "--model", out, "--device", "cpu", "--threads", 1, "--batch-size", 2,
                     "fine film", "awful", "great")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3, result.stderr


# --- what evaluate reports ------------------------------------------------------------------------------



def test_evaluate_reports_each_class_and_the_confusion_matrix_as_scikit_learn_computes_them(three_class_model):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    clf, _ = three_class_model
    texts, labels = make_three_class(90, seed=2)
    report = clf.evaluate(texts, labels)
    predicted = clf.predict(texts)
    p, r, f, support = precision_recall_fscore_support(labels, predicted, labels=clf.classes_, zero_division=0)
    assert report["classes"] == ["negative", "neutral", "positive"] and report["n"] == 90
    assert [e["class"] for e in report["per_class"]] == report["classes"]
    assert [e["precision"] for e in report["per_class"]] == pytest.approx(p)
    assert [e["recall"] for e in report["per_class"]] == pytest.approx(r)
    assert [e["f1"] for e in report["per_class"]] == pytest.approx(f)
    assert [e["support"] for e in report["per_class"]] == support.tolist()
    assert report["macro_avg"]["f1"] == pytest.approx(f.mean())
    assert report["confusion_matrix"] == confusion_matrix(labels, predicted, labels=clf.classes_).tolist()
    assert report["accuracy"] == pytest.approx(clf.score(texts, labels)) and report["loss"] > 0
    assert json.loads(json.dumps(report)) == report


def test_evaluate_cli_prints_the_report_and_json_and_draws_the_matrix(three_class_model, tmp_path, capsys):
    from seqrnn.cli.main import main

    clf, out = three_class_model
    texts, labels = make_three_class(60, seed=3)
    data = write_jsonl(tmp_path / "test.jsonl", texts, labels)
    flags = ["--text-column", "body", "--label-column", "stars"]
    plot = tmp_path / "confusion.png"
    assert main(["classify", "evaluate", "--model", str(out), "--data", str(data), *flags, "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.splitlines()
    report = clf.evaluate(texts, labels)
    assert lines[0] == f"accuracy {report['accuracy']:.4f}, loss {report['loss']:.4f} on 60 texts"
    network, ngram = report["parts"]["network"], report["parts"]["ngram"]
    assert lines[1] == (f"network alone: accuracy {network['accuracy']:.4f}, macro-F1 {network['macro_f1']:.4f}; "
                        f"n-gram model alone: accuracy {ngram['accuracy']:.4f}, macro-F1 {ngram['macro_f1']:.4f}; "
                        f"combined with n-gram weight {report['ngram_weight']:.2f}")
    assert lines[3].split() == ["precision", "recall", "f1-score", "support"]
    assert [line.split()[0] for line in lines[4:7]] == ["negative", "neutral", "positive"]
    assert "confusion matrix (rows: true class, columns: predicted class)" in lines
    assert lines[-1] == f"confusion matrix drawn in {plot}"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["classify", "evaluate", "--model", str(out), "--data", str(data), *flags, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert printed["per_class"] == report["per_class"] and printed["confusion_matrix"] == report["confusion_matrix"]
    assert main(["classify", "evaluate", "--model", str(out), "--data", str(data), "--plot", str(tmp_path / "c.jpg")]) == 2
    assert capsys.readouterr().err == f"seqrnn: error: --plot must name a .png file, got '{tmp_path / 'c.jpg'}'\n"


def test_a_model_that_answers_one_class_for_everything_is_pointed_out(trained, tmp_path, capsys):
    from seqrnn.cli.main import main

    _, out = trained
    data = tmp_path / "negative.csv"
    data.write_text("text,label\n" + "".join(f"awful boring film number {i},0\n" for i in range(20)) +
                    "awful and boring but labelled positive,1\n")
    assert main(["classify", "evaluate", "--model", str(out), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("accuracy ") and lines[0].endswith(" on 21 texts")  # two classes: the accuracy first
    assert lines[-1] == "warning: the model predicted only '0' for all 21 texts"
