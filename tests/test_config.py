"""One configuration object per task: presets, validation, config.json, estimator parameters, CLI flags."""

from __future__ import annotations

import inspect
import math

import pytest

from seqrnn import config
from seqrnn.cli.main import build_parser
from seqrnn.config import CHARLM_PRESETS, CLASSIFIER_PRESETS, CharLMConfig, ClassifierConfig, flat_fields
from seqrnn.errors import SeqrnnError

TASKS = [(CharLMConfig, CHARLM_PRESETS, "charlm", "CharLanguageModel"),
         (ClassifierConfig, CLASSIFIER_PRESETS, "sentiment", "SentimentClassifier")]


def test_the_book_presets_are_the_chapter_configuration():
    char = CHARLM_PRESETS["book"]
    assert (char.model.hidden_size, char.model.embed_size, char.model.dropout, char.training.batch_size,
            char.data.num_steps, char.training.lr, char.training.grad_clip, char.training.epochs) == \
        (128, 0, 0.5, 64, 100, 1e-3, 5.0, 100)
    sent = CLASSIFIER_PRESETS["book"]
    assert (sent.data.seq_len, sent.model.embed_size, sent.model.hidden_size, sent.model.num_layers,
            sent.model.dropout, sent.training.batch_size, sent.training.lr, sent.training.epochs) == \
        (200, 256, 128, 1, 0.5, 100, 1e-3, 40)


@pytest.mark.parametrize("config_class,presets,_task,_name", TASKS)
def test_presets_round_trip_through_config_json(config_class, presets, _task, _name):
    for preset in presets.values():
        assert config_class.from_dict(preset.to_dict()) == preset


@pytest.mark.parametrize("overrides,message", [
    ({"lr": 0.0}, "lr must be more than 0"),
    ({"lr": math.nan}, "lr must be a finite number"),
    ({"grad_clip": math.inf}, "grad_clip must be a finite number"),
    ({"dropout": 1.0}, "dropout must be less than 1"),
    ({"hidden_size": -5}, "hidden_size must be at least 1"),
    ({"hidden_size": 2.5}, "hidden_size must be an integer"),
    ({"cell": "transformer"}, "cell must be one of lstm, gru, rnn"),
    ({"val_fraction": 1.0}, "val_fraction must be less than 1"),
    ({"bidirectional": "yes"}, "bidirectional must be true or false"),
    ({"embed_size": 0}, "embed_size must be at least 1"),
    ({"no_such_setting": 1}, "unknown setting 'no_such_setting'"),
])
def test_bad_values_are_refused_in_parameter_names(overrides, message):
    with pytest.raises(SeqrnnError, match=message):
        CLASSIFIER_PRESETS["default"].replace(**overrides)


def test_a_bad_config_json_is_refused_with_one_line():
    saved = CHARLM_PRESETS["book"].to_dict()
    with pytest.raises(SeqrnnError, match="hidden_size must be at least 1, got -5"):
        CharLMConfig.from_dict({**saved, "model": {**saved["model"], "hidden_size": -5}})
    with pytest.raises(SeqrnnError, match="unknown model setting 'layers'"):
        CharLMConfig.from_dict({**saved, "model": {**saved["model"], "layers": 2}})
    with pytest.raises(SeqrnnError, match="no 'training' section"):
        CharLMConfig.from_dict({"model": saved["model"], "data": saved["data"]})


def test_setting_names_are_unique_across_the_parts():
    for config_class, *_ in TASKS:
        names = [f.name for part in config_class.part_classes().values() for f in config.fields(part)]
        assert len(names) == len(set(names)) == len(flat_fields(config_class))


@pytest.mark.parametrize("config_class,_presets,task,name", TASKS)
def test_every_setting_is_an_estimator_parameter_and_a_train_flag(config_class, _presets, task, name):
    import seqrnn

    estimator = getattr(seqrnn, name)
    params = set(inspect.signature(estimator).parameters)
    run_options = {f.name for f in config.fields(config.RunOptions)}
    assert params == {"preset"} | set(flat_fields(config_class)) | run_options
    parser = build_parser()
    required = ["--data", "x"] if task == "sentiment" else ["--text", "x"]
    args = parser.parse_args([task, "train", *required, "--out", "o"])
    for setting in flat_fields(config_class):
        assert getattr(args, setting) is None, setting  # absent flags leave the preset's value


def test_a_flag_overrides_the_preset_and_is_checked_by_the_same_rule(capsys):
    import time

    from seqrnn.cli.common import train_params
    from seqrnn.tasks.classifier import SentimentClassifier

    args = build_parser().parse_args(["sentiment", "train", "--data", "x", "--out", "o", "--weight-decay", "0.01",
                                      "--no-bucket", "--max-vocab", "0", "--pooling", "max"])
    clf = SentimentClassifier(args.preset, **train_params(SentimentClassifier, args, time.perf_counter()))
    resolved = clf.resolved_config()
    assert resolved.training.weight_decay == 0.01 and resolved.data.bucket is False
    assert resolved.model.pooling == "max" and resolved.data.max_vocab == 0  # 0 = no limit
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sentiment", "train", "--data", "x", "--out", "o", "--lr", "nan"])
    assert "--lr: must be a finite number" in capsys.readouterr().err


def test_the_classifier_configuration_answers_to_its_sentiment_names_too():
    """Users' code and saved settings name the classifier's configuration by the book's sentiment names."""
    assert config.SentimentConfig is ClassifierConfig and config.SENTIMENT_PRESETS is CLASSIFIER_PRESETS
    assert config.SentimentModelConfig is config.ClassifierModelConfig
    assert config.ReviewDataConfig is config.TextDataConfig
    assert config.SentimentTrainingConfig is config.ClassifierTrainingConfig
    assert ClassifierConfig.part_classes() == {"model": config.ClassifierModelConfig, "data": config.TextDataConfig,
                                               "training": config.ClassifierTrainingConfig}
