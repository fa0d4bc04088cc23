"""The forecaster (`seqrnn.tasks.forecast`), its measures and baselines (`seqrnn.tasks.backtest`) and the
`seqrnn forecast` commands, on tiny synthetic series (a few epochs, seconds)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from seqrnn.errors import SeqrnnError
from seqrnn.tasks import backtest, registry
from seqrnn.tasks.forecast import Forecaster, Series, gather_windows, window_scale
from seqrnn.training.rundir import load_tensors

TINY = dict(hidden_size=16, num_layers=1, projection_size=8, dropout=0.0, windows_per_epoch=256, batch_size=32,
            lr=1e-2, epochs=6, num_samples=100, threads=1, quiet=True)


def seasonal(n: int = 96, seed: int = 0, level: float = 100.0) -> pd.Series:
    """A monthly series: a strong 12-month pattern, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level * (1 + 0.3 * np.sin(2 * np.pi * t / 12) + 0.15 * np.cos(4 * np.pi * t / 12)
                      + 0.02 * rng.normal(size=n))
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=n, freq="MS"), name=f"s{seed}")


@pytest.fixture(scope="module")
def trained():
    y = [seasonal(96, seed=k, level=10.0 ** k) for k in range(3)]  # sizes 1, 10, 100 train together
    return Forecaster(horizon=6, seed=2, **TINY).fit(y), y


def test_learns_a_seasonal_series_better_than_naive_and_seasonal_naive_is_in_the_table(trained):
    model, y = trained
    table = model.evaluate(y, windows=2)
    assert list(table.index) == ["model", "naive", "seasonal_naive"]
    assert set(backtest.METRICS) <= set(table.columns) and (table["n_forecasts"] == 6).all()
    assert table.loc["model", "mase"] < 0.5 * table.loc["naive", "mase"]


def test_forecasts_are_indexed_by_series_and_time_and_their_quantiles_ordered(trained):
    model, y = trained
    forecast = model.predict()
    assert forecast.index.names == ["series", "time"] and list(forecast.columns) == list(backtest.COLUMNS)
    assert len(forecast) == 18 and forecast.xs("s1", level="series").index[0] == pd.Timestamp("2008-01-01")
    f = forecast
    assert (f["lower_95"] <= f["lower_80"]).all() and (f["lower_80"] <= f["median"]).all()
    assert (f["median"] <= f["upper_80"]).all() and (f["upper_80"] <= f["upper_95"]).all()
    assert len(model.predict(horizon=2)) == 6
    pd.testing.assert_frame_equal(model.predict(y), forecast)  # the same series given again, the same draws


def test_scaling_round_trip_a_series_times_1000_gives_forecasts_times_1000(trained):
    model, y = trained
    small, big = model.predict(y[0]), model.predict(y[0] * 1000)
    np.testing.assert_allclose(big.to_numpy(), 1000 * small.to_numpy(), rtol=1e-6)
    values = np.array([[2.0, -2.0, 4.0, 100.0]])
    assert window_scale(values, np.ones_like(values, bool), 3)[0] == pytest.approx(8 / 3)  # context only
    assert window_scale(np.zeros((1, 3)), np.ones((1, 3), bool), 2)[0] == 1.0  # all zero: 1


def test_windows_are_seeded_deterministic_and_left_padded():
    series = Series(["a", "b"], [np.arange(1.0, 6.0), np.arange(10.0, 30.0)], [0, 0], [None, None])
    x, y, mask, scale = gather_windows(series, np.array([0, 1]), np.array([5, 20]), 8, 4, 1)
    assert x.shape == (2, 8, 1) and mask[0].tolist() == [False] * 3 + [False] + [True] * 4
    assert scale[0, 0] == 1.0  # the context holds padding and the first point: the observed one
    np.testing.assert_allclose(y[1] * scale[1, 0], np.arange(22.0, 30.0), rtol=1e-6)  # steps 12-19
    np.testing.assert_allclose(x[1, :, 0] * scale[1, 0], np.arange(21.0, 29.0), rtol=1e-6)  # the previous value


def test_intervals_cover_about_their_level_on_noise():
    rng = np.random.default_rng(5)
    y = [pd.Series(50 + 5 * rng.normal(size=120), index=pd.date_range("2001-01-01", periods=120, freq="D"))
         for _ in range(8)]
    model = Forecaster(horizon=7, seed=1, **{**TINY, "epochs": 8}).fit(y)
    table = model.evaluate(y, windows=3)
    assert 0.65 <= table.loc["model", "coverage_80"] <= 0.95
    assert table.loc["model", "coverage_95"] >= 0.85


def test_baselines_and_measures_on_hand_computed_cases():
    np.testing.assert_array_equal(backtest.naive(np.array([1.0, 2.0, 3.0]), 2)["median"], [3, 3])
    sn = backtest.seasonal_naive(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 3, 2)
    np.testing.assert_array_equal(sn["median"], [5, 6, 5])
    # residuals y_t - y_{t-2} are all 2: sigma 2, widening by sqrt(1), sqrt(1), sqrt(2)
    np.testing.assert_allclose(sn["upper_80"] - sn["median"], 1.2815515655446004 * 2 * np.sqrt([1, 1, 2]))
    assert backtest.mase_scale(np.array([1.0, 3.0, 2.0, 5.0]), 1) == pytest.approx(2.0)
    assert backtest.mase_scale(np.array([1.0, 3.0, 2.0, 5.0]), 2) == pytest.approx(1.5)
    assert np.isnan(backtest.mase_scale(np.array([4.0, 4.0, 4.0]), 1))
    scores = backtest.scores(np.array([1.0, 2.0]), {"median": np.array([1.0, 4.0]), "lower_80": np.array([0.0, 0.0]),
                                                    "upper_80": np.array([2.0, 1.0]), "lower_95": np.zeros(2),
                                                    "upper_95": np.full(2, 3.0)}, np.array([1.0, 3.0, 2.0, 5.0]), 1)
    assert scores == pytest.approx({"mae": 1.0, "rmse": np.sqrt(2), "smape": 100 / 3, "mase": 0.5,
                                    "coverage_80": 0.5, "coverage_95": 1.0})
    assert backtest.origins(20, 4, 3) == [8, 12, 16]


def test_bad_inputs_are_one_line_errors(trained):
    model, y = trained
    with pytest.raises(SeqrnnError, match=r"series 's0' has 20 points; each series needs more than context_length \+ "
                                          r"horizon = 30 \+ 6"):
        Forecaster(horizon=6, context_length=30, **TINY).fit(y[0].iloc[:20])
    with pytest.raises(SeqrnnError, match="horizon must be at least 1"):
        Forecaster(horizon=0, **TINY).fit(y[0])
    with pytest.raises(SeqrnnError, match="numeric|number"):
        Forecaster(horizon=2, **TINY).fit(pd.Series(["a", "b", "c"] * 10))
    with pytest.raises(SeqrnnError, match="horizon must be from 1 to 6, the horizon the model was trained for, got 7"):
        model.predict(horizon=7)
    with pytest.raises(SeqrnnError, match="horizon must be from 1 to 6"):
        model.evaluate(y, horizon=0)
    with pytest.raises(SeqrnnError, match="series 's0' has 10 points: 2 window"):
        model.evaluate(y[0].iloc[:10], windows=2)
    with pytest.raises(SeqrnnError, match="not trained yet"):
        Forecaster().predict()


def test_save_load_round_trip_and_same_model_from_the_same_seed(trained, tmp_path):
    model, y = trained
    model.save(tmp_path / "m")
    loaded = registry.load(tmp_path / "m")
    assert type(loaded) is Forecaster and loaded.get_params() == clone(loaded).get_params()
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    again = Forecaster(horizon=6, seed=2, **TINY).fit(y)
    assert all(torch.equal(a, b) for a, b in zip(again.model_.state_dict().values(),
                                                   model.model_.state_dict().values()))


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    y = seasonal(60)
    settings = {**TINY, "epochs": 2}
    Forecaster(horizon=4, **settings).fit(y, out_dir=tmp_path / "a")
    stopped = Forecaster(horizon=4, max_minutes=1e-9, **settings).fit(y, out_dir=tmp_path / "b")
    assert stopped.summary_["stopped"] == "budget"
    Forecaster(horizon=4, **settings).fit(y, out_dir=tmp_path / "b", resume=True)
    a, _ = load_tensors(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b, _ = load_tensors(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_commands_train_predict_and_evaluate_a_csv(tmp_path, capsys):
    from seqrnn.cli.main import main

    rows = [pd.DataFrame({"store": f"st{k}", "month": s.index.strftime("%Y-%m"), "sales": s.to_numpy()})
            for k, s in enumerate([seasonal(60, seed=1), seasonal(60, seed=2, level=5.0)])]
    data = tmp_path / "sales.csv"
    pd.concat(rows).to_csv(data, index=False)
    model = tmp_path / "model"
    assert main(["forecast", "train", "--data", str(data), "--time-column", "month", "--target", "sales",
                 "--series-column", "store", "--horizon", "4", "--out", str(model), "--epochs", "2",
                 "--hidden-size", "8", "--num-layers", "1", "--windows-per-epoch", "64", "--threads", "1",
                 "--quiet"]) == 0
    assert "best validation MASE" in capsys.readouterr().out
    saved = json.loads((model / "vocab.json").read_text())
    assert saved["columns"] == {"time_column": "month", "target": "sales", "series_column": "store", "freq": "MS"}
    out = tmp_path / "f.csv"
    assert main(["forecast", "predict", "--model", str(model), "--out", str(out), "--plot",
                 str(tmp_path / "f.png")]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == ["series", "time", *backtest.COLUMNS] and len(written) == 8
    assert written["time"].iloc[0] == "2005-01-01" and (tmp_path / "f.png").stat().st_size > 0
    assert main(["forecast", "predict", "--model", str(model), "--out", str(out)]) == 2  # exists: --force
    capsys.readouterr()
    assert main(["forecast", "evaluate", "--model", str(model), "--data", str(data), "--windows", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"model", "naive", "seasonal_naive"} and result["model"]["n_forecasts"] == 4
    assert main(["forecast", "evaluate", "--model", str(model), "--data", str(data), "--horizon", "5"]) == 2
    assert "horizon must be from 1 to 4" in capsys.readouterr().err


def driven(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Two daily series driven by a known covariate (a random promotion, on or off): the target jumps
    by 20 on the days of a promotion, around a level of 50 with a little noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(2):
        promo = (rng.random(n) < 0.3).astype(float)
        target = 50 + 10 * k + 20 * promo + rng.normal(size=n)
        rows.append(pd.DataFrame({"series": f"s{k}", "time": pd.date_range("2020-01-01", periods=n, freq="D"),
                                  "target": target, "promo": promo}))
    return pd.concat(rows, ignore_index=True)


def test_a_known_covariate_is_an_input_and_forecasts_much_better_than_without():
    from seqrnn.data.timeseries import as_table

    frame = driven()
    settings = dict(horizon=7, seed=1, **{**TINY, "epochs": 8, "fallback": False})
    with_it = Forecaster(**settings).fit(as_table(frame, covariates=["promo"]))
    without = Forecaster(**settings).fit(frame[["series", "time", "target"]])
    assert with_it.model_.encoder.projection.in_features == without.model_.encoder.projection.in_features + 1
    mase_with = with_it.evaluate(frame, windows=2).loc["model", "mase"]
    mase_without = without.evaluate(frame[["series", "time", "target"]], windows=2).loc["model", "mase"]
    assert mase_with < 0.5 * mase_without
    # predict: the rows after each series' last target hold the covariate, the target blank
    future = frame.groupby("series").tail(7).assign(target=np.nan)
    future["time"] = future["time"] + pd.Timedelta(days=7)
    future["promo"] = np.tile([1.0, 0, 0, 1, 0, 0, 0], 2)
    forecast = with_it.predict(pd.concat([frame, future], ignore_index=True))
    median = forecast["median"].to_numpy().reshape(2, 7)
    assert (median[:, [0, 3]].min(axis=1) > median[:, [1, 2, 4, 5, 6]].max(axis=1) + 10).all()  # the promo days
    with pytest.raises(SeqrnnError, match="trained with the covariates promo: give the series with their next 7 rows"):
        with_it.predict()
    with pytest.raises(SeqrnnError, match="series 's0' has no covariates \\(promo\\) for 2020-04-30"):
        with_it.predict(frame)
    with pytest.raises(SeqrnnError, match="the data has no column 'promo'"):
        with_it.predict(frame[["series", "time", "target"]])


def test_the_commands_read_covariates_and_refuse_a_forecast_without_their_future(tmp_path, capsys):
    from seqrnn.cli.main import main

    frame = driven(60)
    data = tmp_path / "sales.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "model"
    assert main(["forecast", "train", "--data", str(data), "--covariates", "promo", "--horizon", "3", "--out",
                 str(model), "--epochs", "1", "--hidden-size", "8", "--num-layers", "1", "--windows-per-epoch", "64",
                 "--threads", "1", "--quiet"]) == 0
    config = json.loads((model / "config.json").read_text())
    assert config["covariates"]["names"] == ["promo"] and config["forecast_rule"]["method"] in (
        "model", "naive", "seasonal_naive")
    out = tmp_path / "f.csv"
    capsys.readouterr()
    assert main(["forecast", "predict", "--model", str(model), "--data", str(data), "--out", str(out)]) == 2
    assert "series 's0' has no covariates (promo) for 2020-03-01" in capsys.readouterr().err
    future = frame.groupby("series").tail(3).assign(target=np.nan)
    future["time"] = future["time"] + pd.Timedelta(days=3)
    pd.concat([frame, future]).to_csv(data, index=False, na_rep="")
    assert main(["forecast", "predict", "--model", str(model), "--data", str(data), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 6


def test_the_rules_scaling_seasonal_inputs_fallback_choice_and_interval_factor():
    from seqrnn.tasks import forecast_rules as rules

    assert rules.resolve_scaling("auto", np.array([1.0, 0.0, 3.0])) == "mean_abs"
    assert rules.resolve_scaling("auto", np.array([1.0, -0.5])) == "none"
    assert rules.resolve_scaling("mean_abs", np.array([-1.0])) == "mean_abs"
    assert not rules.seasonal_inputs_on("auto", 12, np.array([24, 20]))  # two seasons at most: off
    assert rules.seasonal_inputs_on("auto", 12, np.array([25, 20])) and rules.seasonal_inputs_on("on", 12, None)
    assert not rules.seasonal_inputs_on("on", 1, None) and not rules.seasonal_inputs_on("off", 12, np.array([99]))
    assert rules.choose_method({"model": 1.0, "naive": 0.9, "seasonal_naive": 0.9}) == "naive"
    assert rules.choose_method({"model": 0.9, "naive": 0.9, "seasonal_naive": np.nan}) == "model"
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(50, 400, 6))  # the paths say sigma 1; the points have sigma 2: factor about 2
    actuals = [2 * rng.normal(size=6) for _ in range(50)]
    factor = rules.interval_factor(paths, actuals)
    assert 1.7 < factor < 2.3
    wide = rules.widen(paths, factor)
    np.testing.assert_allclose(np.median(wide, axis=1), np.median(paths, axis=1))
    inside = np.mean([(a >= q[0]) & (a <= q[1]) for a, q in
                      zip(actuals, np.quantile(wide, (0.1, 0.9), axis=1).transpose(1, 0, 2))])
    assert 0.78 <= inside <= 0.85
    z = rules.baseline_paths("naive", [np.array([1.0, 2.0, 4.0, 3.0])], 2, 1, 200, 99)
    f = backtest.Forecast.from_samples(z)
    assert f.median[0].tolist() == [3.0, 3.0] and f.upper_80[0, 0] == pytest.approx(3 + 1.2816 * np.sqrt(2), rel=0.02)


def test_a_short_series_drops_the_seasonal_inputs_and_a_worse_network_falls_back_to_naive(tmp_path):
    rng = np.random.default_rng(3)
    walk = pd.Series(100 + np.cumsum(rng.normal(size=30)), index=pd.date_range("2000-01-01", periods=30, freq="MS"))
    model = Forecaster(horizon=6, seed=1, **{**TINY, "epochs": 1, "lr": 1e-4}).fit(walk, out_dir=tmp_path / "m")
    assert model.config_.data.seasonal_inputs == "off" and model.model_.encoder.projection.in_features == 1
    rule = model.rule_
    assert set(rule["validation"]) == {"model", "naive", "seasonal_naive"}
    assert rule["method"] == min(rule["validation"], key=lambda k: rule["validation"][k]["mase"])
    assert rule["method"] == "naive"  # an untrained network is worse than the last value
    forecast = model.predict()
    np.testing.assert_allclose(forecast["median"], walk.iloc[-1])
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["forecast_rule"] == rule and saved["data"]["seasonal_inputs"] == "off"
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "m").predict(), forecast)
    kept = Forecaster(horizon=6, seed=1, fallback=False, calibrate=False, **{**TINY, "epochs": 1, "lr": 1e-4}).fit(walk)
    assert kept.rule_["method"] == "model" and kept.rule_["interval_factor"] == 1.0


def test_a_history_shorter_than_a_season_is_forecast_as_in_any_batch(trained):
    """The seasonal lag of a step before a series' start reads 0, as in training windows: a history
    shorter than the season forecasts alone as it does beside a long one."""
    model, y = trained
    short = y[1].iloc[:3]
    alone = model.predict([short])
    beside = model.predict([short, y[0]]).xs("s1", level="series", drop_level=False)
    assert len(alone) == 6 and np.isfinite(alone.to_numpy()).all()
    np.testing.assert_allclose(alone.to_numpy(), beside.to_numpy(), rtol=1e-5)
