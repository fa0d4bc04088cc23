"""SeriesClassifier: learning, exact padding, normalisations, missing values, the small-set rule, the
1-NN baseline, save/load, scikit-learn's checks and bad input, on tiny synthetic series."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from seqrnn.data.series import SeriesCollection
from seqrnn.errors import InvalidInputError
from seqrnn.tasks import registry
from seqrnn.tasks.series import NearestNeighbour, SeriesClassifier, SeriesScaling, interpolate_missing, shorten

TINY = dict(hidden_size=8, projection_size=4, epochs=12, batch_size=8, lr=2e-2, threads=1, quiet=True,
            bidirectional=True, pooling="maxmean")


def tiny(**overrides) -> SeriesClassifier:
    return SeriesClassifier(**{**TINY, **overrides})


def make_series(n: int = 40, channels: int = 2, lengths=(30, 30), seed: int = 0):
    """Two classes: one slow wave on channel 0 ("early") or four fast ones ("late"); noise elsewhere."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        v = rng.normal(0, 0.3, size=(channels, length)).astype(np.float32)
        v[0] += 2 * np.sin(2 * np.pi * (4 if i % 2 else 1) * np.arange(length) / length + rng.uniform(0, 6))
        X.append(v)
        y.append("late" if i % 2 else "early")
    return X, np.array(y)


@pytest.fixture(scope="module")
def fitted():
    X, y = make_series(48, lengths=(20, 40))
    return tiny().fit(X, y), X, y


def test_learns_a_synthetic_problem_with_unequal_lengths(fitted):
    clf, _, _ = fitted
    X, y = make_series(40, lengths=(20, 40), seed=1)
    assert clf.score(X, y) >= 0.9
    assert set(clf.classes_) == {"early", "late"}
    assert clf.predict_proba(X).shape == (40, 2) and clf.decision_function(X).shape == (40,)


def test_a_series_gets_the_same_prediction_alone_or_in_a_batch(fitted):
    clf, X, _ = fitted
    together = clf.predict_proba(X[:10])
    alone = np.concatenate([clf.predict_proba([x]) for x in X[:10]])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_input_forms_are_aeons_and_give_the_same_answers():
    X, y = make_series(24, lengths=(16, 16))
    clf = tiny(epochs=2).fit(np.stack(X), y)
    as_array = clf.predict_proba(np.stack(X))
    np.testing.assert_allclose(clf.predict_proba(X), as_array, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(SeriesCollection(X)), as_array, atol=1e-6)
    univariate = tiny(epochs=1).fit(np.stack(X)[:, 0, :], y)  # 2-D: (n_cases, n_timepoints)
    assert univariate.vocab_.channels == 1


@pytest.mark.parametrize("normalise", ["series", "channel", "none"])
def test_normalisations(normalise):
    rng = np.random.default_rng(2)
    X = [rng.normal(5, 2, size=(2, 30)).astype(np.float32) * np.array([[1], [10]], np.float32) for _ in range(6)]
    scaling = SeriesScaling.fit(X, normalise, 1000)
    out = scaling.transform(X)
    assert out[0].shape == (30, 2) and out[0].dtype == np.float32
    if normalise == "series":
        np.testing.assert_allclose(out[0].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(out[0].std(axis=0), 1, atol=1e-4)
    elif normalise == "channel":
        stacked = np.concatenate(X, axis=1)
        np.testing.assert_allclose(scaling.mean, stacked.mean(axis=1), rtol=1e-5)
        np.testing.assert_allclose(np.concatenate(out).std(axis=0), 1, atol=1e-4)
    else:
        np.testing.assert_array_equal(out[0], X[0].T)
    assert SeriesScaling.from_dict(scaling.to_dict()).to_dict() == scaling.to_dict()
    Xs, y = make_series(16)
    assert tiny(epochs=1, normalise=normalise).fit(Xs, y).predict(Xs).shape == (16,)


def test_missing_values_are_interpolated_carried_to_the_edges_and_an_empty_channel_is_zero():
    nan = np.nan
    values = np.array([[nan, 1, nan, 3, nan], [nan, nan, nan, nan, nan]], dtype=np.float32)
    filled = interpolate_missing(values)
    np.testing.assert_array_equal(filled[0], [1, 1, 2, 3, 3])
    assert np.isnan(filled[1]).all()
    for normalise in ("series", "channel", "none"):
        out = SeriesScaling.fit([values, np.ones((2, 5), np.float32)], normalise, 1000).transform([values])[0]
        assert np.isfinite(out).all() and (out[:, 1] == 0).all()
    X, y = make_series(16)
    X[3][0, 5:9] = np.nan
    clf = tiny(epochs=1).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_long_series_are_averaged_down_to_max_steps():
    values = np.arange(10, dtype=np.float32)[None, :]
    np.testing.assert_allclose(shorten(values, 5)[0], [0.5, 2.5, 4.5, 6.5, 8.5])
    assert shorten(values, 20) is values
    X, y = make_series(8, lengths=(3000, 3000))
    clf = tiny(epochs=1, max_steps=50).fit(X, y)
    assert clf.vocab_.transform(X[:1])[0].shape == (50, 2) and clf.predict(X).shape == (8,)


def test_a_small_set_trains_on_everything_and_keeps_the_last_epoch():
    X, y = make_series(20)
    clf = tiny(epochs=3).fit(X, y)
    assert clf.dataset_["train_series"] == 20 and clf.dataset_["val_series"] == 0
    assert clf.summary_["best"]["epoch"] == 3
    larger = tiny(epochs=3, small_set=10, val_fraction=0.25).fit(X, y)
    assert larger.dataset_["val_series"] == 5 and larger.dataset_["train_series"] == 15


def test_the_baseline_is_one_nearest_neighbour_on_the_normalised_series(fitted):
    train = [np.array([[0.0], [0.0]], np.float32), np.array([[10.0], [10.0]], np.float32),
             np.array([[0.0], [5.0]], np.float32)]  # (steps, channels)
    nn = NearestNeighbour.fit(train, np.array([0, 1, 2]))
    query = [np.array([[1.0], [1.0]], np.float32), np.array([[9.0], [8.0]], np.float32),
             np.array([[0.0], [4.0], [4.0]], np.float32)]  # the last resampled to 2 steps: (0, 4)
    assert nn.predict(query).tolist() == [0, 1, 2]
    clf, X, y = fitted
    report = clf.evaluate(X, y)
    assert report["baseline"]["accuracy"] == 1.0  # every series is its own nearest neighbour
    assert report["baseline"]["name"] == "1-NN Euclidean" and report["baseline"]["normalise"] == "channel"
    Xt, yt = make_series(30, lengths=(20, 40), seed=5)
    encoded = clf.vocab_.transform(Xt)
    resampled, train_rs = nn.resample(encoded, clf.baseline_.length), clf.baseline_.X
    brute = clf.baseline_.targets[((resampled[:, None, :] - train_rs[None]) ** 2).sum(axis=2).argmin(axis=1)]
    expected = float((clf.classes_[brute] == yt).mean())
    assert clf.evaluate(Xt, yt)["baseline"]["accuracy"] == pytest.approx(expected)
    for key in ("accuracy", "loss", "per_class", "confusion_matrix", "macro_avg"):
        assert key in report


def test_no_baseline_beyond_its_size_with_a_note(tmp_path):
    X, y = make_series(12)
    clf = tiny(epochs=1, baseline_values=10).fit(X, y)
    baseline = clf.evaluate(X, y)["baseline"]
    assert baseline["accuracy"] is None and "baseline_values" in baseline["note"]
    clf.save(tmp_path / "m")
    assert not (tmp_path / "m" / "baseline.safetensors").exists()


def test_save_and_load_round_trip(fitted, tmp_path):
    clf, X, y = fitted
    clf.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {"config.json", "vocab.json", "model.safetensors",
                                                           "baseline.safetensors"}
    for loaded in (SeriesClassifier.load(tmp_path / "m"), registry.load(tmp_path / "m")):
        assert isinstance(loaded, SeriesClassifier)
        np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
        assert loaded.evaluate(X, y)["baseline"] == clf.evaluate(X, y)["baseline"]
        assert loaded.get_params()["hidden_size"] == 8
    assert registry.get("series").commands == ("classify",)


def test_fit_with_out_dir_keeps_the_baseline(tmp_path):
    X, y = make_series(16)
    tiny(epochs=1).fit(X, y, out_dir=tmp_path / "run")
    loaded = SeriesClassifier.load(tmp_path / "run")
    assert loaded.baseline_ is not None and loaded.evaluate(X, y)["baseline"]["accuracy"] == 1.0


def test_a_resumed_small_set_run_keeps_its_last_epoch(tmp_path):
    X, y = make_series(16)
    tiny(epochs=2).fit(X, y, out_dir=tmp_path / "run")
    resumed = tiny(epochs=3).fit(X, y, out_dir=tmp_path / "run", resume=True)
    assert resumed.summary_["best"]["epoch"] == 3
    np.testing.assert_allclose(SeriesClassifier.load(tmp_path / "run").predict_proba(X), resumed.predict_proba(X),
                               atol=1e-6)


def test_bad_input_is_refused_in_one_line(fitted):
    clf, X, y = fitted
    labels = y.astype(object)
    labels[0] = "lonely"
    with pytest.raises(InvalidInputError, match="class 'lonely' has 1 training series"):
        tiny(epochs=1).fit(X, labels)
    three = [np.zeros((3, 20), np.float32)]
    with pytest.raises(InvalidInputError, match="X has 3 channels but the model was trained on 2"):
        clf.predict(three)
    with pytest.raises(InvalidInputError, match="X has 48 series but y has 3 labels"):
        clf.evaluate(X, y[:3])
    with pytest.raises(InvalidInputError, match="single class"):
        tiny(epochs=1).fit(X, ["a"] * len(X))
    with pytest.raises(InvalidInputError, match="infinite"):
        clf.predict([np.array([[1.0, np.inf]])])
    unfitted = SeriesClassifier()
    for method in ("predict", "predict_proba", "decision_function", "evaluate"):
        with pytest.raises(NotFittedError, match="not trained yet"):
            getattr(unfitted, method)(X) if method != "evaluate" else unfitted.evaluate(X, y)


def test_fit_leaves_torch_as_it_found_it():
    X, y = make_series(16)
    torch.set_num_threads(2)
    state = torch.get_rng_state()
    tiny(epochs=1).fit(X, y)
    assert torch.get_num_threads() == 2 and torch.equal(torch.get_rng_state(), state)


# --- scikit-learn's own checks ---------------------------------------------------------------------

SKIPPED = {
    "check_n_features_in": "a series' time points are not features: lengths may differ (the channel count is checked)",
    "check_n_features_in_after_fitting": "as check_n_features_in: a longer or shorter series is valid input",
    "check_fit2d_predict1d": "a 1-D array is one univariate series, valid input (aeon's conventions)",
    "check_sample_weights_list": "fit takes no sample_weight",
    "check_sample_weights_shape": "fit takes no sample_weight",
    "check_sample_weights_not_overwritten": "fit takes no sample_weight",
    "check_sample_weights_pandas_series": "fit takes no sample_weight",
    "check_all_zero_sample_weights_error": "fit takes no sample_weight",
    "check_classifiers_train": "its blobs are 2-point 'series' and it wants 83% after a short run; "
                               "test_learns_a_synthetic_problem_with_unequal_lengths covers learning",
    "check_estimators_empty_data_messages": "an empty collection is refused by name ('X holds no series')",
    "check_fit2d_1sample": "one series is one class: refused by name",
    "check_dtype_object": "a non-numeric value is refused by name as a ValueError ('X[i] is not numeric'), not "
                          "the TypeError the check asks for",
    "check_estimators_nan_inf": "NaN is a missing value (interpolated), only infinity is refused",
    "check_classifier_data_not_an_array": "lists and arrays give the same answers "
                                         "(test_input_forms_are_aeons_and_give_the_same_answers)",
}

# scikit-learn's checks on series: 2-D arrays are univariate series (n_cases, n_timepoints)
SKLEARN_TINY = dict(TINY, epochs=3, normalise="channel")


@parametrize_with_checks([SeriesClassifier(**SKLEARN_TINY)], expected_failed_checks=lambda est: SKIPPED)
def test_scikit_learn_check(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# --- the command line (series data is read by `seqrnn.data.series_files.read_series_data`) ---------


def test_classify_commands_train_evaluate_and_predict_series(tmp_path, capsys):
    import json

    from seqrnn.cli.main import main

    X, y = make_series(24, lengths=(20, 20))
    data = tmp_path / "series.npz"
    np.savez(data, X=np.stack(X), y=y)
    flags = ["--epochs", "2", "--hidden-size", "8", "--projection-size", "4", "--threads", "1", "--quiet"]
    assert main(["classify", "train", "--data", str(data), "--out", str(tmp_path / "m"), *flags]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["task"] == "series"
    capsys.readouterr()
    assert main(["classify", "evaluate", "--model", str(tmp_path / "m"), "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 24 and report["baseline"]["accuracy"] == 1.0
    assert main(["classify", "evaluate", "--model", str(tmp_path / "m"), "--data", str(data)]) == 0
    assert "baseline 1-NN Euclidean" in capsys.readouterr().out
    assert main(["classify", "predict", "--model", str(tmp_path / "m"), "--data", str(data),
                 "--out", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "id,label,probability,p_early,p_late" and len(lines) == 25
