"""scikit-learn's contract for SentimentClassifier: its own estimator checks, and bad input refused by name.

scikit-learn's checks feed numeric 2-D arrays, and an estimator whose tags declare string input is
skipped by `check_estimator` / `parametrize_with_checks` altogether ("Can't test estimator ...").
So the checks run here one by one:

- `API_CHECKS` on SentimentClassifier itself: those that need no data, or that only call methods
  before `fit` (`check_estimators_unfitted`).
- `CLASSIFIER_CHECKS` on `NumbersAsText`, a subclass that writes each numeric row as a text (the
  value of feature j, rounded to a half, becomes the word `f{j}_{k}`) and changes nothing else: the
  labels, `classes_`, predictions, probabilities, decision function, determinism, pickling and
  parameters these checks test are SentimentClassifier's own.
- `SKIPPED` lists every other check of `sklearn.utils.estimator_checks` that a classifier meets,
  with why it does not apply to a text classifier. `test_every_check_is_run_or_skipped_with_a_reason`
  keeps the three lists complete when scikit-learn adds checks.

The texts themselves are checked in `test_bad_input_*`: what the numeric checks would have tested
(missing values, wrong types, empty data, 2-D input) in the forms texts take.
"""

from __future__ import annotations

import inspect
import warnings
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as checks
from sklearn.utils.validation import check_is_fitted, validate_data
from test_sentiment import make_reviews

from seqrnn.tasks.classifier import SentimentClassifier

TINY = dict(embed_size=8, hidden_size=8, seq_len=20, batch_size=16, epochs=10, lr=3e-2, threads=1, quiet=True)


class NumbersAsText(SentimentClassifier):
    """SentimentClassifier reading each row of a numeric array as a text, for scikit-learn's checks.

    Only the input differs: rows are validated as numbers (shape, NaN, feature count), then written as
    words; everything else is SentimentClassifier's."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array, tags.input_tags.string = True, False
        return tags

    @staticmethod
    def _as_texts(X: np.ndarray) -> list[str]:
        bins = np.clip(np.round(np.asarray(X, dtype=np.float64) * 2), -20, 20).astype(int)
        return [" ".join(f"f{j}_{k}" for j, k in enumerate(row)) for row in bins]

    def fit(self, X, y, **kwargs):
        X = validate_data(self, X, reset=True)
        return super().fit(self._as_texts(X), y, **kwargs)

    def _logits(self, X):
        self._check_fitted()
        return super()._logits(self._as_texts(validate_data(self, X, reset=False)))


def tiny(cls=SentimentClassifier, **overrides):
    return cls(preset="default", **{**TINY, **overrides})


API_CHECKS = [
    checks.check_estimator_cloneable,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_parameters_default_constructible,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_mixin_order,
    checks.check_estimators_unfitted,
]

CLASSIFIER_CHECKS = [
    checks.check_classifiers_train,
    checks.check_classifiers_classes,
    checks.check_classifiers_one_label,
    checks.check_classifiers_one_label_sample_weights,
    checks.check_classifiers_regression_target,
    checks.check_supervised_y_2d,
    checks.check_supervised_y_no_nan,
    checks.check_decision_proba_consistency,
    checks.check_estimators_pickle,
    checks.check_fit_idempotent,
    checks.check_fit_check_is_fitted,
    checks.check_methods_sample_order_invariance,
    checks.check_methods_subset_invariance,
    checks.check_estimators_fit_returns_self,
    checks.check_estimators_overwrite_params,
    checks.check_dont_overwrite_parameters,
    checks.check_dict_unchanged,
    checks.check_pipeline_consistency,
    checks.check_fit_score_takes_y,
    checks.check_requires_y_none,
]

# every other check a classifier meets, and why it does not apply
NUMERIC = "tests numeric 2-D arrays (dtypes, memory layout, sparse or array-API input): texts are strings"
SKIPPED = {
    "check_estimators_dtypes": NUMERIC,
    "check_complex_data": NUMERIC,
    "check_dtype_object": NUMERIC + " (test_bad_input_*: non-string texts are refused)",
    "check_estimators_empty_data_messages": NUMERIC + " (test_bad_input_*: no texts is refused)",
    "check_estimators_nan_inf": NUMERIC + " (test_bad_input_*: None/NaN texts are refused)",
    "check_estimator_sparse_tag": NUMERIC,
    "check_estimator_sparse_array": NUMERIC,
    "check_estimator_sparse_matrix": NUMERIC,
    "check_readonly_memmap_input": NUMERIC,
    "check_f_contiguous_array_estimator": NUMERIC,
    "check_array_api_input": NUMERIC,
    "check_positive_only_tag_during_fit": NUMERIC,
    "check_classifier_data_not_an_array": NUMERIC + " (lists, tuples and arrays of texts: test_text_containers)",
    "check_fit2d_1sample": NUMERIC + " (and one text is a single class: refused by name)",
    "check_fit2d_1feature": NUMERIC,
    "check_fit1d": NUMERIC + " (texts are 1-D: a 2-D array is what is refused)",
    "check_fit2d_predict1d": NUMERIC,
    "check_n_features_in": "texts have no features: n_features_in_ does not apply",
    "check_n_features_in_after_fitting": "texts have no features: n_features_in_ does not apply",
    "check_sample_weights_pandas_series": "fit takes no sample_weight",
    "check_sample_weights_not_an_array": "fit takes no sample_weight",
    "check_sample_weights_list": "fit takes no sample_weight",
    "check_sample_weights_shape": "fit takes no sample_weight",
    "check_sample_weights_not_overwritten": "fit takes no sample_weight",
    "check_sample_weight_equivalence_on_dense_data": "fit takes no sample_weight",
    "check_all_zero_sample_weights_error": "fit takes no sample_weight",
    "check_class_weight_classifiers": "no class_weight parameter",
    "check_non_transformer_estimators_n_iter": "no max_iter parameter",
    "check_estimators_partial_fit_n_features": "no partial_fit",
    "check_classifier_not_supporting_multiclass": "multi-class is supported (tested by check_classifiers_train)",
}


def _name(check) -> str:
    return check.func.__name__ if isinstance(check, partial) else check.__name__


@pytest.mark.parametrize("check", API_CHECKS, ids=_name)
def test_scikit_learn_api_check(check):
    check("SentimentClassifier", tiny())


@pytest.mark.parametrize("check", CLASSIFIER_CHECKS, ids=_name)
def test_scikit_learn_classifier_check(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's own cast of the NaN labels it feeds
        check("SentimentClassifier", tiny(NumbersAsText))


def test_every_check_is_run_or_skipped_with_a_reason():
    estimator = tiny(NumbersAsText)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yielded = {_name(c) for c in checks._yield_all_checks(estimator, legacy=True)}
        yielded |= {_name(c) for c in checks._yield_classifier_checks(estimator)}
    covered = {_name(c) for c in API_CHECKS + CLASSIFIER_CHECKS} | set(SKIPPED)
    assert yielded - covered == set(), "new scikit-learn checks: run them or say why they are skipped"


def test_string_input_is_declared_and_the_real_suite_finds_nothing_numeric_to_run():
    from sklearn.utils import get_tags

    tags = get_tags(SentimentClassifier())
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.estimator_type == "classifier" and tags.classifier_tags.multi_class
    with pytest.warns(checks.SkipTestWarning, match="Can't test estimator"):
        assert list(checks._yield_all_checks(SentimentClassifier(), legacy=True)) == []


# --- bad input, named ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    texts, labels = make_reviews(120)
    return tiny(epochs=2).fit(texts, labels), texts, labels


class FakeDataFrame:
    """What a pandas DataFrame looks like to the classifier (pandas is not a dependency)."""

    columns = ["review", "sentiment"]
    shape = (2, 2)

    def __iter__(self):
        return iter(self.columns)


@pytest.mark.parametrize("X,error,message", [
    ("A wonderful film", ValueError, "X is a single string; pass a list of texts"),
    (b"A wonderful film", ValueError, "X is a single bytes object"),
    (FakeDataFrame(), ValueError, r"X is a DataFrame \(columns: review, sentiment\); pass its column of texts"),
    (np.array([["a b", "c"], ["d", "e"]]), ValueError, r"1-D sequence of texts, got an array of shape \(2, 2\)"),
    (["fine", None], ValueError, r"X\[1\] is missing \(None\)"),
    (["fine", float("nan")], ValueError, r"X\[1\] is missing \(nan\)"),
    (["fine", 3], TypeError, r"X\[1\] is a int, not a string"),
    (["fine", b"bytes"], TypeError, r"X\[1\] is a bytes, not a string"),
    (["fine", ""], ValueError, r"X holds 1 empty text\(s\) \(at 1\)"),
    (None, TypeError, "X must be a sequence of texts, got NoneType"),
    (5, TypeError, "X must be a sequence of texts, got int"),
])
def test_bad_input_to_predict_is_refused_by_name(fitted, X, error, message):
    clf, _, _ = fitted
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(error, match=message):
            method(X)


def test_a_single_string_is_not_read_one_character_at_a_time(fitted):
    clf, _, _ = fitted
    assert clf.predict(["A wonderful film"]).shape == (1,)
    with pytest.raises(ValueError, match="single string"):
        clf.predict("A wonderful film")


@pytest.mark.parametrize("y,error,message", [
    (lambda n: ["positive", "negative"] * (n // 2), None, None),  # any labels: accepted
    (lambda n: [0.7, 0.2] * (n // 2), ValueError, "Unknown label type: continuous"),
    (lambda n: np.arange(n) % 2 * 1.0, None, None),  # whole floats are classes
    (lambda n: np.zeros(n, dtype=int), ValueError, r"y holds a single class \(0\): a classifier needs at least 2"),
    (lambda n: np.stack([np.arange(n) % 2] * 2, axis=1), ValueError, r"y should be a 1d array, got an array of shape"),
    (lambda n: [0, 1] * (n // 2 - 1) + [0, None], ValueError, r"y\[\d+\] is missing \(None\)"),
    (lambda n: [0, 1] * (n // 2 - 1) + [0, float("nan")], ValueError, r"y\[\d+\] is missing \(nan\)"),
    (lambda n: [0, 1] * (n // 2 - 1), ValueError, r"X has 60 texts but y has 58 labels"),
    ("one", ValueError, "y is a single string"),
])
def test_bad_labels_are_refused_by_name(y, error, message):
    texts, _ = make_reviews(60)
    labels = y(len(texts)) if callable(y) else y
    clf = tiny(epochs=1)
    if error is None:
        assert clf.fit(texts, labels).predict(texts[:2]).shape == (2,)
        assert set(clf.classes_.tolist()) == set(np.unique(np.asarray(labels)).tolist())
        return
    with pytest.raises(error, match=message):
        clf.fit(texts, labels)


def test_a_column_vector_of_labels_is_flattened_with_scikit_learns_warning():
    texts, labels = make_reviews(60)
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = tiny(epochs=1).fit(texts, labels[:, None])
    assert clf.classes_.tolist() == [0, 1]


@pytest.mark.parametrize("X,message", [
    ([], "X holds no texts"),
    (["fine", None], r"X\[1\] is missing"),
    (["fine", 7], r"X\[1\] is a int"),
])
def test_bad_training_texts_are_refused_by_name(X, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tiny(epochs=1).fit(X, [0, 1][: len(X)] if X else [])


def test_bad_settings_are_value_errors_at_fit():
    texts, labels = make_reviews(40)
    for settings, message in [({"epochs": 0}, "epochs must be at least 1, got 0"), ({"lr": -1.0}, "lr must be more"),
                              ({"preset": "fast"}, "unknown preset 'fast'")]:
        with pytest.raises(ValueError, match=message):
            SentimentClassifier(**{**TINY, **settings}).fit(texts, labels)


def test_unknown_labels_to_evaluate_and_validation_labels_are_named(fitted):
    clf, texts, labels = fitted
    with pytest.raises(ValueError, match=r"y holds labels the model does not know: 5 \(its classes: 0, 1\)"):
        clf.evaluate(texts[:2], [0, 5])
    with pytest.raises(ValueError, match=r"y_val holds labels the model does not know: 7"):
        tiny(epochs=1).fit(texts, labels, X_val=texts[:3], y_val=[0, 1, 7])


def test_text_containers(fitted):
    clf, texts, _ = fitted
    expected = clf.predict_proba(texts[:5])
    for container in (tuple(texts[:5]), np.array(texts[:5]), np.array(texts[:5], dtype=object), iter(texts[:5])):
        np.testing.assert_array_equal(clf.predict_proba(container), expected)
    assert clf.predict([]).shape == (0,) and clf.predict_proba([]).shape == (0, 2)


# --- no global state, fitted or not, parameters of a loaded model ----------------------------------


def test_fit_leaves_the_process_as_it_found_it():
    import random

    texts, labels = make_reviews(60)
    torch.set_num_threads(2)
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(5)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    tiny(epochs=1, threads=1).fit(texts, labels)
    assert torch.get_num_threads() == 2
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])


def test_prediction_sets_threads_only_while_it_runs(fitted):
    clf, texts, _ = fitted
    torch.set_num_threads(2)
    seen = []
    original = clf.model_.forward

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    clf.model_.forward = spy
    try:
        clf.set_params(threads=1).predict(texts[:3])
    finally:
        del clf.model_.forward
        clf.set_params(threads=1)
    assert seen == [1] and torch.get_num_threads() == 2


def test_not_fitted_is_scikit_learns_error():
    clf = SentimentClassifier()
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    for method in ("predict", "predict_proba", "decision_function", "score", "evaluate"):
        arguments = (["a"], [0]) if method in ("score", "evaluate") else (["a"],)
        with pytest.raises(NotFittedError, match="not trained yet"):
            getattr(clf, method)(*arguments)


def test_a_loaded_model_clones_into_its_training_configuration(tmp_path):
    texts, labels = make_reviews(80)
    clf = SentimentClassifier(preset="book", **{**TINY, "epochs": 1, "hidden_size": 6, "pooling": "max",
                                                 "pad": "right"}).fit(texts, labels, out_dir=tmp_path / "m")
    loaded = SentimentClassifier.load(tmp_path / "m")
    params = loaded.get_params()
    assert {k: params[k] for k in ("hidden_size", "pooling", "pad", "epochs", "embed_size")} == \
        {"hidden_size": 6, "pooling": "max", "pad": "right", "epochs": 1, "embed_size": 8}
    assert clone(loaded).resolved_config() == clf.config_ == loaded.config_
    assert set(inspect.signature(SentimentClassifier).parameters) == set(params)


def test_docstrings_are_numpydoc_and_the_package_names_its_classes():
    import seqrnn
    from seqrnn.tasks.base import RecurrentEstimator
    from seqrnn.tasks.charlm import CharLanguageModel

    for cls in (SentimentClassifier, CharLanguageModel, RecurrentEstimator):
        assert cls is RecurrentEstimator or ("Parameters\n    ----------" in cls.__doc__ and "preset" in cls.__doc__)
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_") and member.__qualname__.startswith(cls.__name__):
                assert member.__doc__, f"{cls.__name__}.{name} has no docstring"
    for method in ("predict", "predict_proba", "decision_function", "fit", "evaluate"):
        assert "Returns\n        -------" in getattr(SentimentClassifier, method).__doc__, method
    assert "SentimentClassifier" in seqrnn.__doc__ and "CharLanguageModel" in seqrnn.__doc__
