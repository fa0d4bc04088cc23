"""The word-level language models: the document stream, both directions, persistence, sampling, the
CLI, and a classifier started from them."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrnn.data.split import heldout_split
from seqrnn.errors import SeqrnnError
from seqrnn.nn.networks import SentimentRNN, WordLM
from seqrnn.tasks.classifier import SentimentClassifier
from seqrnn.tasks.streams import StreamTask, stream_loss
from seqrnn.tasks.wordlm import (
    SEPARATOR,
    HeldOutWarning,
    WordLanguageModel,
    detokenize,
    document_stream,
    start_from_language_model,
    word_metrics,
)
from seqrnn.text.vocabulary import Vocabulary
from seqrnn.training.rundir import RunDir, load_tensors

POSITIVE = ["a wonderful film , loved it", "great acting and a great story", "superb , moving and funny",
            "the best film of the year", "i loved every minute of it"]
NEGATIVE = ["an awful film , hated it", "boring plot and wooden acting", "dull , lifeless and far too long",
            "the worst film of the year", "i hated every minute of it"]
TEXTS = (POSITIVE + NEGATIVE) * 6
LABELS = ([1] * 5 + [0] * 5) * 6
UNLABELLED = ["a film about a man and a dog", "the story of a long year"] * 10
TINY = dict(embed_size=8, hidden_size=16, batch_size=4, num_steps=6, epochs=2, min_count=1, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "model"
    lm = WordLanguageModel(lr=1e-2, warmup_steps=0, **TINY).fit(TEXTS, LABELS, unlabelled=UNLABELLED, out_dir=out)
    return lm, out


@settings(deadline=None)  # timing is for benchmarks; a busy machine is slow
@given(st.lists(st.lists(st.integers(2, 50), max_size=6), min_size=1, max_size=8), st.randoms())
def test_document_stream_puts_a_separator_before_each_document_in_the_given_order(docs, random):
    flat = np.array([w for d in docs for w in d], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    rows = list(range(len(docs)))
    random.shuffle(rows)
    stream = document_stream(flat, offsets, np.array(rows))
    expected = [w for r in rows for w in [SEPARATOR] + docs[r]]
    assert stream.tolist() == expected


def test_heldout_split_is_the_classifiers_validation_split():
    """The classifier validates on exactly the reviews the language model holds out."""
    kept, held_out = heldout_split(len(TEXTS), seed=3, val_fraction=0.2, labels=LABELS)
    clf = SentimentClassifier(preset="book", seed=3, val_fraction=0.2, epochs=1, batch_size=8, embed_size=8,
                              hidden_size=8, min_count=1, threads=1).fit(TEXTS, LABELS)
    assert clf.dataset_["val_reviews"] == len(held_out) == 12
    assert sorted(kept.tolist() + held_out.tolist()) == list(range(len(TEXTS)))
    assert heldout_split(len(TEXTS), 3, 0.2, labels=LABELS)[1].tolist() == held_out.tolist()


def test_the_backward_model_reads_the_stream_reversed():
    ids = np.arange(2, 2 + 4 * 5 + 1)
    task = StreamTask(ids, ids, batch_size=4, num_steps=5, device=torch.device("cpu"), directions=("forward", "backward"),
                      metrics=word_metrics)
    xf, yf, xb, yb = task.batch(0, 0)
    assert xf[0].tolist() == [2, 3, 4, 5, 6] and yf[0].tolist() == [3, 4, 5, 6, 7]
    assert xb[0].tolist() == [22, 21, 20, 19, 18] and yb[0].tolist() == [21, 20, 19, 18, 17]


@pytest.mark.parametrize("softmax", ["adaptive", "full"])
def test_stream_loss_is_the_mean_loss_per_word_and_near_uniform_at_start(softmax):
    torch.manual_seed(0)
    vocab = 2100 if softmax == "adaptive" else 50  # the adaptive softmax needs words beyond its first cutoff
    model = WordLM(vocab, embed_size=8, hidden_size=8, direction="both", softmax=softmax).eval()
    assert model.softmax("forward").adaptive == (softmax == "adaptive")
    ids = np.random.default_rng(0).integers(0, vocab, 401)
    with torch.no_grad():
        loss, n = stream_loss(model, ids, torch.device("cpu"), "forward", rows=4, window=7)
        whole, _ = model(torch.as_tensor(ids[:400].reshape(4, 100)), torch.as_tensor(ids[1:].reshape(4, 100)))
        log_probs = model.softmax("forward").log_prob(torch.randn(3, 8))
    assert n == 400 and loss == pytest.approx(float(whole), rel=1e-5)
    assert abs(loss - np.log(vocab)) < 1.0
    assert torch.allclose(log_probs.exp().sum(dim=1), torch.ones(3), atol=1e-5)


def test_training_lowers_perplexity_and_writes_the_model_directory(trained):
    lm, out = trained
    val = [r for r in RunDir(out).metrics() if r["type"] == "val"]
    assert len(val) == 2 and val[-1]["loss"] < val[0]["loss"] and val[-1]["perplexity"] < len(lm.vocab_)
    assert {"forward_loss", "backward_loss"} <= set(val[-1])
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "lm" and config["dataset"]["train_documents"] == 54 + 20
    assert lm.vocab_.words[0] in {"a", ",", "film", "the"}  # built from the training text, by count


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    params = dict(lr=1e-2, **TINY)
    WordLanguageModel(**params).fit(TEXTS, unlabelled=UNLABELLED, out_dir=tmp_path / "a")
    stopped = WordLanguageModel(max_minutes=1e-9, **params).fit(TEXTS, unlabelled=UNLABELLED, out_dir=tmp_path / "b")
    assert stopped.summary_["stopped"] == "budget"
    WordLanguageModel(**params).fit(TEXTS, unlabelled=UNLABELLED, out_dir=tmp_path / "b", resume=True)
    a, _ = load_tensors(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b, _ = load_tensors(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_load_evaluate_and_sample(trained):
    lm, out = trained
    loaded = WordLanguageModel.load(out)
    assert loaded.get_params()["hidden_size"] == 16 and loaded.get_params()["direction"] == "both"
    result = loaded.evaluate(["a great film", "a zyzzyva film"])
    assert result["n_words"] == 8 - 1 and result["n_unknown"] == 1 and result["perplexity"] > 1
    assert result == lm.evaluate(["a great film", "a zyzzyva film"])
    first = loaded.sample(20, "a great", seed=5, top_n=5)
    assert first.startswith("a great") and first == loaded.sample(20, "a great", seed=5, top_n=5)
    assert "<unk>" not in first and "<pad>" not in first
    backward = loaded.sample(20, "film", direction="backward", seed=5)
    assert backward.endswith("film")
    several = loaded.sample(10, "the", seed=1, num_samples=3, temperature=0)
    assert len(several) == 3 and len(set(several)) == 1  # greedy: every sample the same


def test_sample_refuses_a_direction_the_model_lacks(tmp_path):
    lm = WordLanguageModel(direction="forward", **{**TINY, "epochs": 1}).fit(TEXTS)
    with pytest.raises(SeqrnnError, match="no backward language model"):
        lm.sample(5, "a", direction="backward")


def test_bad_documents_are_refused_by_name():
    with pytest.raises(ValueError, match=r"X\[1\] is missing"):
        WordLanguageModel(**TINY).fit(["a film", None])
    with pytest.raises(ValueError, match="single string"):
        WordLanguageModel(**TINY).fit("a film")


def test_detokenize_joins_punctuation():
    assert detokenize(["i", "loved", "it", "(", "really", ")", "!"]) == "i loved it (really)!"


def test_a_classifier_starts_from_the_language_model(trained):
    lm, _ = trained
    clf = SentimentRNN(len(lm.vocab_), embed_size=8, hidden_size=16, bidirectional=True, pooling="maxmean")
    copied = start_from_language_model(clf, lm.model_)
    assert "encoder.embedding.weight" in copied and "encoder.backward_layers.0.weight_hh_l0" in copied
    assert torch.equal(clf.encoder.embedding.weight[1:], lm.model_.embedding.weight[1:])
    assert not clf.encoder.embedding.weight[Vocabulary.PAD].any()
    for direction in ("forward", "backward"):
        mine, theirs = getattr(clf.encoder, f"{direction}_layers")[0], lm.model_.layers(direction)[0]
        assert all(torch.equal(a, b) for a, b in zip(mine.parameters(), theirs.parameters()))


def test_fit_init_from_uses_the_language_models_vocabulary_and_sizes(trained, tmp_path):
    lm, out = trained
    common = dict(preset="default", embed_size=8, hidden_size=16, epochs=1, batch_size=8, threads=1, init_from=str(out))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HeldOutWarning)
        clf = SentimentClassifier(**common, seed=1).fit(TEXTS, LABELS)
    assert clf.vocab_ == lm.vocab_
    with pytest.warns(HeldOutWarning, match="did not hold out exactly"):  # another seed validates on other reviews
        SentimentClassifier(**common, seed=2).fit(TEXTS, LABELS)
    with pytest.raises(SeqrnnError, match="give --hidden-size 16"):
        SentimentClassifier(**{**common, "hidden_size": 32}).fit(TEXTS, LABELS)


def test_cli_train_evaluate_sample_and_start_a_classifier(tmp_path, imdb_dir, seqrnn_cli):
    text = tmp_path / "reviews.txt"
    text.write_text("\n".join(TEXTS + UNLABELLED) + "\n", encoding="utf-8")
    model = tmp_path / "lm"
    flags = ["--embed-size", "8", "--hidden-size", "16", "--batch-size", "4", "--num-steps", "6", "--min-count", "1"]
    result = seqrnn_cli("lm", "train", "--data", text, "--out", model, "--epochs", "1", *flags)
    assert result.returncode == 0, result.stderr
    assert "best validation perplexity" in result.stdout
    result = seqrnn_cli("lm", "evaluate", "--model", model, "--data", text, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["perplexity"] > 1
    a = seqrnn_cli("lm", "sample", "--model", model, "--seed", "3", "--length", "10", "--start", "a great")
    b = seqrnn_cli("lm", "sample", "--model", model, "--seed", "3", "--length", "10", "--start", "a great")
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("a great")
    imdb_lm = tmp_path / "imdb-lm"
    result = seqrnn_cli("lm", "train", "--data", imdb_dir, "--out", imdb_lm, "--epochs", "1", "--val-fraction", "0",
                     "--batch-size", "2", "--num-steps", "3", "--embed-size", "8", "--hidden-size", "8",
                     "--min-count", "1")
    assert result.returncode == 0, result.stderr
    result = seqrnn_cli("sentiment", "train", "--data", imdb_dir, "--out", tmp_path / "clf", "--epochs", "1",
                     "--val-fraction", "0", "--batch-size", "2", "--embed-size", "8", "--hidden-size", "8",
                     "--init-from", imdb_lm)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "clf" / "config.json").read_text())["training"]["init_from"] == str(imdb_lm)
    result = seqrnn_cli("sentiment", "train", "--data", imdb_dir, "--out", tmp_path / "clf2", "--init-from",
                     tmp_path / "nowhere")
    assert result.returncode == 2 and result.stderr.startswith("seqrnn: error:") and "nowhere" in result.stderr


def test_encoder_lr_fraction_gives_the_encoder_its_own_learning_rate(tmp_path):
    from seqrnn.config import SentimentTrainingConfig
    from seqrnn.training.rundir import RunDir
    from seqrnn.training.trainer import Trainer, parameter_groups

    model = SentimentRNN(30, embed_size=4, hidden_size=4)
    one = parameter_groups(model, SentimentTrainingConfig())
    assert len(one) == 1 and len(one[0]["params"]) == len(list(model.parameters()))
    groups = parameter_groups(model, SentimentTrainingConfig(lr=0.01, encoder_lr_fraction=0.25))
    # the head, then the encoder from the top: the recurrent layer, the embedding
    assert [len(g["params"]) for g in groups] == [2, 4, 1]
    assert [g.get("lr") for g in groups] == [None, pytest.approx(0.0025), pytest.approx(0.0025)]
    assert [g["start"] for g in groups] == [0, 0, 0]
    trainer = Trainer(model, StreamTask(np.arange(50), np.arange(9), 2, 3, torch.device("cpu"), metrics=word_metrics),
                      SentimentTrainingConfig(lr=0.01, encoder_lr_fraction=0.25, epochs=1), RunDir(tmp_path),
                      torch.device("cpu"))
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([0.01, 0.0025, 0.0025])


def test_gradual_unfreezing_trains_the_head_first_then_the_encoder_from_the_top(tmp_path):
    from seqrnn.config import SentimentTrainingConfig
    from seqrnn.training.rundir import RunDir
    from seqrnn.training.trainer import Trainer

    torch.manual_seed(0)
    model = SentimentRNN(30, embed_size=4, hidden_size=4, num_layers=2, bidirectional=True, pooling="maxmean",
                         dropout=0.0)
    tokens, targets = torch.randint(1, 30, (8, 6)), torch.tensor([0.0, 1.0] * 4)

    class Reviews:  # a task of two batches per epoch, the same batch
        def batches_per_epoch(self):
            return 2

        def batch(self, epoch, index):
            return tokens, targets

        def loss(self, model, batch, carry):
            return torch.nn.functional.binary_cross_entropy_with_logits(model(batch[0]), batch[1]), None, 8

        def validate(self, model, on_batch=None):
            return {"loss": 0.0}

    training = SentimentTrainingConfig(epochs=4, unfreeze_every=1.0, lr=0.01)
    trainer = Trainer(model, Reviews(), training, RunDir(tmp_path), torch.device("cpu"))
    assert [g["start"] for g in trainer.optimizer.param_groups] == [0, 2, 4, 6]  # head, layer 2, layer 1, embedding
    names = {id(p): n for n, p in model.named_parameters()}
    layers = {"head": "head.", "top": "_layers.1.", "bottom": "_layers.0.", "embedding": "embedding"}

    def snapshot():
        return {part: [p.detach().clone() for p in model.parameters() if prefix in names[id(p)]]
                for part, prefix in layers.items()}

    changed_at = {}
    before = snapshot()
    for step in range(8):
        trainer.train_step(trainer.task.batch(0, 0))
        after = snapshot()
        for part in layers:
            if part not in changed_at and any(not torch.equal(a, b) for a, b in zip(before[part], after[part])):
                changed_at[part] = step
        before = after
    assert changed_at == {"head": 0, "top": 2, "bottom": 4, "embedding": 6}


def test_a_sample_held_in_memory_has_a_bounded_length(tmp_path, seqrnn_cli):
    from seqrnn.nn.sampling import MAX_HELD_CHARS

    lm = WordLanguageModel(embed_size=8, hidden_size=8, batch_size=2, num_steps=3, epochs=1, min_count=1,
                           threads=1, quiet=True).fit(TEXTS, LABELS, out_dir=tmp_path / "lm")
    with pytest.raises(SeqrnnError, match="length x num_samples"):
        lm.sample(MAX_HELD_CHARS + 1)
    result = seqrnn_cli("lm", "sample", "--model", tmp_path / "lm", "--length", str(10**20))
    assert result.returncode == 2 and result.stderr.startswith("seqrnn: error: length x num_samples")
    assert len(result.stderr.strip().splitlines()) == 1
