"""A task is one module: its configuration, an estimator with the hooks of `RecurrentEstimator`,
and a line in the task registry.

The text regressor below (texts -> a number) is such a module, written here and nowhere else: it
reuses the sequence-level pieces (`seqrnn.tasks.sequence`) with a mean-squared-error loss and the
classifier's network with one output, and trains, predicts, saves and loads like the built-in
tasks, found through the registry as they are."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import RegressorMixin, clone

from seqrnn.config import TextNetworkConfig, TaskConfig, TextDataConfig, TrainingConfig
from seqrnn.data.checks import check_texts
from seqrnn.data.split import heldout_split
from seqrnn.errors import SeqrnnError
from seqrnn.nn.networks import SentimentRNN
from seqrnn.tasks import registry
from seqrnn.tasks.base import Prepared, RecurrentEstimator
from seqrnn.tasks.sequence import EncodedSequences, SequenceTask, predict_outputs
from seqrnn.text.tokens import as_tokens
from seqrnn.text.vocabulary import Vocabulary, build_vocabulary, encode_texts, smallest_dtype

# --- the whole task: one module's worth ------------------------------------------------------------


@dataclass(frozen=True)
class RegressorConfig(TaskConfig):
    """The text regressor: the classifier's network and text settings, the plain training loop."""

    model: TextNetworkConfig = field(default_factory=TextNetworkConfig)
    data: TextDataConfig = field(default_factory=TextDataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


REGRESSOR_PRESETS = {"default": RegressorConfig().replace(
    embed_size=16, hidden_size=16, pooling="mean", seq_len=12, pad="right", batch_size=16, lr=1e-2, epochs=6,
    grad_clip=5.0, dropout=0.0)}


def squared_error_metrics(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    return {"loss": float(np.mean((outputs - targets) ** 2)), "mae": float(np.mean(np.abs(outputs - targets)))}


class TextRegressor(RegressorMixin, RecurrentEstimator):
    """Texts -> one number each (mean squared error)."""

    task = "text-regressor"
    config_class = RegressorConfig
    model_class = SentimentRNN  # two "classes": one output per text, used as the number
    vocab_class = Vocabulary
    presets = REGRESSOR_PRESETS

    def fit(self, X, y, *, out_dir=None, resume=False, source=None) -> "TextRegressor":
        return self._fit((check_texts(X), np.asarray(y, dtype=np.float32)), out_dir, resume, source)

    def _prepare(self, data, config: RegressorConfig, vocab) -> Prepared:
        texts, targets = data
        tokens, settings = as_tokens(texts), config.data
        kept, held = heldout_split(len(tokens), config.training.seed, settings.val_fraction, settings.limit)
        vocab = vocab or build_vocabulary(tokens, kept, settings.min_count, settings.max_vocab or None)

        def encoded(rows):
            ids, lengths = encode_texts(tokens, vocab, settings.seq_len, pad=settings.pad,
                                        dtype=smallest_dtype(len(vocab)), rows=rows)
            return EncodedSequences(ids, lengths, targets[rows], settings.pad)

        return Prepared(vocab, encoded(kept), encoded(held), {"train_texts": len(kept), "val_texts": len(held)})

    def _task(self, prepared: Prepared, config: RegressorConfig, device: torch.device) -> SequenceTask:
        self._require_training_memory(config, len(prepared.vocab), device, "seq_len")
        options = self.run_options()
        return SequenceTask(prepared.train, prepared.val, config.training.batch_size, config.data.bucket,
                            config.training.seed, device, options.eval_batch_size, options.eval_batches,
                            loss=F.mse_loss, metrics=squared_error_metrics, monitor=("loss", "min"))

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        texts, data = check_texts(X), self.config_.data
        with self._inference() as device:
            ids, lengths = encode_texts(texts, self.vocab_, data.seq_len, pad=data.pad,
                                        dtype=smallest_dtype(len(self.vocab_)))
            return predict_outputs(self.model_, EncodedSequences(ids, lengths, None, data.pad), device,
                                   self.run_options().eval_batch_size).astype(np.float64)


REGRESSOR = registry.Task("text-regressor", f"{__name__}:TextRegressor", "text regressor")  # the registry line

# --- what it can do --------------------------------------------------------------------------------


def scored_texts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts of a few words; the number is (good words - bad words) / 2."""
    rng = np.random.default_rng(seed)
    words = np.array(["good", "bad", "film", "plot", "acting", "the"])
    texts = [" ".join(rng.choice(words, size=rng.integers(3, 10))) for _ in range(n)]
    targets = np.array([(t.split().count("good") - t.split().count("bad")) / 2 for t in texts])
    return texts, targets


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(registry.TASKS, REGRESSOR.name, REGRESSOR)
    return REGRESSOR


def test_a_new_task_is_one_module_and_a_registry_line(registered, tmp_path):
    texts, targets = scored_texts(240, seed=1)
    reg = TextRegressor(threads=1, quiet=True, seed=3)
    assert reg.fit(texts, targets, out_dir=tmp_path / "reg") is reg
    baseline = float(np.mean((targets - targets.mean()) ** 2))
    assert reg.summary_["best"]["loss"] < baseline / 2  # it learnt the count, not just the mean
    test_texts, test_targets = scored_texts(60, seed=2)
    predicted = reg.predict(test_texts)
    assert predicted.shape == (60,) and predicted.dtype == np.float64
    assert reg.score(test_texts, test_targets) > 0.5  # R^2, scikit-learn's RegressorMixin

    saved = json.loads((tmp_path / "reg" / "config.json").read_text())
    assert saved["task"] == "text-regressor" and saved["dataset"]["train_texts"] == 216
    loaded = registry.load(tmp_path / "reg")  # the registry finds the task from config.json
    assert type(loaded) is TextRegressor and loaded.get_params() == clone(loaded).get_params()
    np.testing.assert_allclose(loaded.predict(test_texts), predicted, rtol=1e-5, atol=1e-6)
    reg.save(tmp_path / "again")
    np.testing.assert_allclose(TextRegressor.load(tmp_path / "again").predict(test_texts), predicted, rtol=1e-5,
                               atol=1e-6)


def test_the_registry_gives_a_new_task_what_the_command_line_and_the_exporter_need(registered, tmp_path):
    import argparse

    from seqrnn import config
    from seqrnn.serve.export import export_model

    assert registry.get("text-regressor").config_class() is RegressorConfig  # the estimator's, imported now
    assert registry.get("text-regressor").preset_configs() is REGRESSOR_PRESETS
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, registered.config_class(), presets=registered.preset_configs())
    assert parser.parse_args(["--seq-len", "30"]).seq_len == 30
    TextRegressor(threads=1, quiet=True, epochs=1).fit(*scored_texts(40, seed=1), out_dir=tmp_path / "reg")
    pytest.importorskip("onnx")
    with pytest.raises(SeqrnnError, match="holds a text-regressor model; export takes sentiment, charlm, series and forecast models"):
        export_model(tmp_path / "reg", "onnx", tmp_path / "reg.onnx")


def test_the_built_in_tasks_are_registered_under_the_names_their_model_directories_carry():
    from seqrnn import CharLanguageModel, TextClassifier, WordLanguageModel
    from seqrnn.tasks.forecast import Forecaster
    from seqrnn.tasks.series import SeriesClassifier

    assert {name: task.estimator_class() for name, task in registry.TASKS.items()} == {
        "sentiment": TextClassifier, "charlm": CharLanguageModel, "lm": WordLanguageModel,
        "series": SeriesClassifier, "forecast": Forecaster}
    for name, task in registry.TASKS.items():
        estimator = task.estimator_class()
        assert estimator.task == name
        assert task.config_class() is estimator.config_class and task.preset_configs() is estimator.presets
    assert registry.for_command("sentiment") is registry.for_command("classify") is registry.get("sentiment")
    with pytest.raises(SeqrnnError, match="unknown task 'regress': seqrnn knows sentiment, charlm, lm, series, forecast"):
        registry.get("regress")


def test_the_server_lists_and_loads_its_models_from_the_registry():
    from seqrnn.serve import app

    assert app.MODELS == {"sentiment": ("sentiment model", "--sentiment"),
                           "charlm": ("character language model", "--charlm"),
                           "series": ("series classifier", "--series"), "forecast": ("forecaster", "--forecast")}
    with pytest.raises(SeqrnnError, match="nothing to serve: give --sentiment DIR, --charlm DIR, --series DIR and/or --forecast DIR"):
        app._load_models(None, None)


def test_a_saved_models_task_is_read_from_its_config_json(tmp_path):
    assert registry.saved_task(tmp_path) is None
    (tmp_path / "config.json").write_text('{"task": "charlm"}')
    assert registry.saved_task(tmp_path) == "charlm"
    (tmp_path / "config.json").write_text('{"task": "anomaly"}')
    with pytest.raises(SeqrnnError, match="holds a anomaly model, which is not a task seqrnn knows"):
        registry.load(tmp_path)


def test_the_sequence_task_takes_its_loss_and_figures_and_keeps_a_fixed_validation_sample():
    n = 100
    data = EncodedSequences(np.arange(n * 3).reshape(n, 3) % 7 + 1, np.full(n, 3), np.linspace(0, 1, n), "right")
    task = SequenceTask(data, data, 10, True, 1, torch.device("cpu"), eval_batches=2, loss=F.l1_loss,
                        metrics=squared_error_metrics, monitor=("mae", "min"))
    assert len(task.val) == 20 and task.batches_per_epoch() == 10
    model = SentimentRNN(8, embed_size=4, hidden_size=4, dropout=0.0, pooling="mean")
    ids, lengths, targets = task.batch(0, 0)
    loss, carry, examples = task.loss(model, task.batch(0, 0), None)
    assert carry is None and examples == 10
    with torch.no_grad():
        assert float(loss.detach()) == pytest.approx(float(F.l1_loss(model(ids, lengths), targets)))
    figures = task.validate(model)
    outputs = predict_outputs(model, task.val, torch.device("cpu"))
    assert figures == squared_error_metrics(outputs, task.val.targets)


def test_the_classifier_names_of_the_sequence_pieces_still_work():
    from seqrnn.tasks import classifier, sequence

    assert classifier.EncodedReviews is sequence.EncodedSequences
    assert classifier.predict_logits is sequence.predict_outputs
    assert classifier.length_sorted_batches is sequence.length_sorted_batches
    assert issubclass(classifier.ReviewTask, sequence.SequenceTask)
    assert classifier.ReviewTask is classifier.ClassificationTask


def test_library_warnings_reach_every_command_as_notes(monkeypatch, capsys):
    from seqrnn.cli import inspection, main
    from seqrnn.tasks.wordlm import HeldOutWarning

    def warns(args):
        warnings.warn("the language model in m did not hold out exactly ...", HeldOutWarning)
        return 0

    monkeypatch.setattr(inspection, "data_inspect", warns)
    assert main.main(["data", "inspect", "hamlet"]) == 0
    assert capsys.readouterr().err == "note: the language model in m did not hold out exactly ...\n"


def test_new_tasks_need_no_edit_of_the_command_line_server_or_exporter():
    """The modules that once listed the tasks name none of them now (beyond the server's own endpoints)."""
    src = Path(__file__).resolve().parents[1] / "src" / "seqrnn"
    for module in ("cli/commands.py", "serve/export.py"):
        text = (src / module).read_text(encoding="utf-8")
        for name in ("import TextClassifier", "import CharLanguageModel", "import WordLanguageModel",
                     "SentimentClassifier.load", "CharLanguageModel.load"):
            assert name not in text, (module, name)
