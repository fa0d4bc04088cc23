"""Model directories written by an earlier release load and predict what they predicted then.

tests/saved/<release>/ holds small models saved by that release (`tests/saved/make.py`) and what
they predicted (`expected.json`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqrnn import CharLanguageModel, TextClassifier, WordLanguageModel

SAVED = Path(__file__).parent / "saved"
RELEASES = sorted(p for p in SAVED.iterdir() if p.is_dir())
PROBE = ["good plot", "bad film", "a film"]
TEXT = "To be, or not to be, that is the question. " * 30
TEXTS = ["a good film", "a bad film", "good acting and a good plot", "bad acting , bad plot",
         "truly good", "truly bad", "good good good", "bad bad bad", "the plot is good", "the plot is bad"] * 4


@pytest.fixture(params=RELEASES, ids=[p.name for p in RELEASES])
def release(request) -> tuple[Path, dict]:
    return request.param, json.loads((request.param / "expected.json").read_text())


def test_a_saved_classifier_predicts_as_it_did(release):
    path, expected = release
    clf = TextClassifier.load(path / "classifier")
    np.testing.assert_allclose(clf.predict_proba(PROBE), expected["classifier"], atol=1e-4)
    assert list(clf.classes_) == ["neg", "pos"]


def test_a_saved_character_model_samples_and_scores_as_it_did(release):
    path, expected = release
    lm = CharLanguageModel.load(path / "charlm")
    assert lm.sample(length=40, start="To ", seed=1) == expected["charlm"]
    assert lm.evaluate(TEXT)["loss"] == pytest.approx(expected["charlm_evaluate"], abs=1e-4)


def test_a_saved_word_model_scores_as_it_did(release):
    path, expected = release
    lm = WordLanguageModel.load(path / "wordlm")
    scores = lm.evaluate(TEXTS)
    for key, value in expected["wordlm_evaluate"].items():
        assert scores[key] == pytest.approx(value, abs=1e-4), key


@pytest.mark.parametrize("cls, name", [(TextClassifier, "classifier"), (CharLanguageModel, "charlm"),
                                       (WordLanguageModel, "wordlm")])
def test_loading_leaves_torchs_random_state_alone(cls, name):
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    cls.load(RELEASES[-1] / name)
    assert torch.equal(torch.get_rng_state(), before)
