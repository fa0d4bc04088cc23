"""Forecasting: the global recurrent forecaster against naive, seasonal naive, ETS, ARIMA and Theta on a
hold-out of the last H points of every series.

    SEQRNN_DATA=../shared/data python benchmarks/forecasting.py            # every case, the table, the JSON
    python benchmarks/forecasting.py --case airline --set epochs=10        # one case, settings changed

Cases: Airline (1 monthly series, H=24), Shampoo (1 monthly series of 36 points, H=12), the five
Uschange series (quarterly, H=8, one model for the five), and `many`: series from a generator the
model was not tuned to (`generated_series`: trend x seasonality x AR(1) noise, levels spread over
four orders of magnitude, lengths 60-200), at 100 and 1000 series, to show the memory is flat in
the number of series. Every model sees only what precedes the hold-out; the forecaster tunes on the
last H points of that (its validation). Each forecaster fit runs in its own process, whose peak
memory and time are measured. ETS, ARIMA and Theta come from statsmodels (`pip install
'seqrnn[bench]'`): ETS is the AIC-best of the error, trend (none, additive, damped) and season (none,
additive, multiplicative) forms; ARIMA the AIC-best of a small (p, 1, q)(P, 1, Q) grid; Theta the
standard method with multiplicative deseasonalisation. The forecaster's own rules (its scaling, its
seasonal inputs, the method its validation keeps and its interval factor: `forecast_rule`) are
printed and recorded beside its measures. On the generated series only Theta runs (the grids of ETS
and ARIMA take minutes per hundred series), and none at 1000 series.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, run_measured  # noqa: E402

CASES = {"airline": 24, "shampoo": 12, "uschange": 8, "many100": 12, "many1000": 12}
_Z = {80: 1.2815515655446004, 95: 1.959963984540054}


def generated_series(n: int, seed: int = 2024) -> pd.DataFrame:
    """`n` monthly series: level (log-uniform 1 to 10^4) x (1 + trend t) x (1 + amplitude x a random
    12-month profile) + AR(1) noise (phi 0.3-0.8, 2-15% of the level), lengths 60-200. The
    generator is fixed in advance; no setting of the model was chosen on it."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = int(rng.integers(60, 201))
        level = 10 ** rng.uniform(0, 4)
        trend = rng.uniform(-0.003, 0.01)
        profile = rng.normal(size=12)
        profile = (profile - profile.mean()) / (np.abs(profile).max() + 1e-9)
        amplitude = rng.uniform(0, 0.5)
        phi, noise = rng.uniform(0.3, 0.8), rng.uniform(0.02, 0.15)
        e = np.zeros(length)
        for t in range(1, length):
            e[t] = phi * e[t - 1] + rng.normal() * noise
        t = np.arange(length)
        start = int(rng.integers(0, 12))
        y = level * (1 + trend * t) * (1 + amplitude * profile[(t + start) % 12]) * (1 + e)
        times = pd.date_range("2000-01-01", periods=length + start, freq="MS")[start:]
        rows.append(pd.DataFrame({"series": f"s{i:04d}", "time": times, "target": np.maximum(y, 0.0)}))
    return pd.concat(rows, ignore_index=True)


def load_case(case: str) -> pd.DataFrame:
    """The case's series as a long frame (series, time, target)."""
    if case.startswith("many"):
        return generated_series(int(case[4:]))
    from seqrnn.data.forecast_files import read_forecast_data

    return read_forecast_data(case).frame[["series", "time", "target"]]


def split(frame: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(everything but the last `horizon` points of each series, those points)."""
    back = frame.groupby("series", sort=False).cumcount(ascending=False)
    return frame[back >= horizon].reset_index(drop=True), frame[back < horizon].reset_index(drop=True)


def fit_forecaster(case: str, settings: dict) -> dict:
    """Train on the case's training part, forecast the hold-out: (per-series forecasts, fit facts)."""
    from seqrnn.tasks.forecast import Forecaster

    horizon = CASES[case]
    train, _ = split(load_case(case), horizon)
    started = time.perf_counter()
    model = Forecaster(horizon=horizon, threads=1, quiet=True, **settings).fit(train)
    fit_s = time.perf_counter() - started
    forecast = model.predict()
    return {"fit_s": fit_s, "best": model.summary_["best"], "steps": model.summary_["step"],
            "config": model.config_.to_dict(), "rule": model.rule_,
            "forecasts": {sid: {c: forecast.xs(sid, level="series")[c].tolist() for c in forecast.columns}
                          for sid in forecast.index.get_level_values("series").unique()}}


def statistical(history: np.ndarray, horizon: int, period: int, only_theta: bool = False) -> dict[str, dict]:
    """ETS (AIC-best form), ARIMA (AIC-best of a small grid) and Theta forecasts with 80% and 95% intervals."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.theta import ThetaModel

    out = {}
    seasonal = period > 1 and len(history) >= 2 * period + 2
    positive = bool(np.all(history > 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best = None
        for error in ("add", "mul") if positive and not only_theta else ("add",) * (not only_theta):
            for trend, damped in ((None, False), ("add", False), ("add", True)):
                for season in ((None, "add", "mul") if positive else (None, "add")) if seasonal else (None,):
                    try:
                        fit = ETSModel(pd.Series(history), error=error, trend=trend, damped_trend=damped, seasonal=season,
                                       seasonal_periods=period if season else None).fit(disp=False)
                    except Exception:  # a form that does not fit this series
                        continue
                    if np.isfinite(fit.aic) and (best is None or fit.aic < best.aic):
                        best = fit
        if best is not None:
            out["ets"] = _intervals(lambda a: best.get_prediction(len(history), len(history) + horizon - 1)
                                    .summary_frame(alpha=a), "mean", "pi_lower", "pi_upper")
        best = None
        for p in (0, 1, 2) if not only_theta else ():
            for q in (0, 1):
                for sp, sq in (((0, 1), (1, 0)) if seasonal else ((0, 0),)):
                    order, sorder = (p, 1, q), ((sp, 1, sq, period) if seasonal else (0, 0, 0, 0))
                    try:
                        fit = ARIMA(history, order=order, seasonal_order=sorder).fit()
                    except Exception:
                        continue
                    if np.isfinite(fit.aic) and (best is None or fit.aic < best.aic):
                        best = fit
        if best is not None:
            out["arima"] = _intervals(lambda a: _arima_frame(best, horizon, a), "mean", "lower", "upper")
        try:
            theta = ThetaModel(history, period=period if seasonal else 1,
                               deseasonalize=seasonal, method="auto" if positive else "additive").fit()
            point = np.asarray(theta.forecast(horizon))
            out["theta"] = {"mean": point, "median": point}
            for level in (80, 95):
                bounds = np.asarray(theta.prediction_intervals(horizon, alpha=1 - level / 100))
                out["theta"][f"lower_{level}"], out["theta"][f"upper_{level}"] = bounds[:, 0], bounds[:, 1]
        except Exception:
            pass
    return out


def _arima_frame(fit, horizon: int, alpha: float) -> pd.DataFrame:
    forecast = fit.get_forecast(horizon)
    bounds = np.asarray(forecast.conf_int(alpha=alpha))
    return pd.DataFrame({"mean": np.asarray(forecast.predicted_mean), "lower": bounds[:, 0], "upper": bounds[:, 1]})


def _intervals(frame_at, mean: str, lower: str, upper: str) -> dict:
    out = {}
    for level in (80, 95):
        frame = frame_at(1 - level / 100)
        out["mean"] = out["median"] = np.asarray(frame[mean])
        out[f"lower_{level}"], out[f"upper_{level}"] = np.asarray(frame[lower]), np.asarray(frame[upper])
    return out


def score_case(case: str, fitted: dict, with_statistical: bool) -> dict[str, dict]:
    """Every method's mean measures over the case's series."""
    from seqrnn.data.timeseries import seasonal_period
    from seqrnn.tasks import backtest

    horizon = CASES[case]
    frame = load_case(case)
    train, test = split(frame, horizon)
    period = seasonal_period("QS" if case == "uschange" else "MS")
    rows: dict[str, list] = {"forecaster": [], "naive": [], "seasonal_naive": []}
    for sid in pd.unique(train["series"]):
        history = train.loc[train["series"] == sid, "target"].to_numpy()
        actual = test.loc[test["series"] == sid, "target"].to_numpy()
        model = {k: np.asarray(v) for k, v in fitted["forecasts"][sid].items()}
        rows["forecaster"].append(backtest.scores(actual, model, history, period))
        rows["naive"].append(backtest.scores(actual, backtest.naive(history, horizon), history, period))
        rows["seasonal_naive"].append(backtest.scores(actual, backtest.seasonal_naive(history, horizon, period),
                                                      history, period))
        if with_statistical:
            for name, forecast in statistical(history, horizon, period, case.startswith("many")).items():
                rows.setdefault(name, []).append(backtest.scores(actual, forecast, history, period))
    return {name: backtest.summarize(r) for name, r in rows.items()}


def run_child(case: str, settings: list[str]) -> dict:
    """One forecaster fit in its own process: its forecasts, time and peak memory."""
    cmd = [sys.executable, __file__, "--child", case] + [a for s in settings for a in ("--set", s)]
    status, stdout, stderr, peak_mb = run_measured(cmd)
    if status != 0:
        raise SystemExit(f"{case} failed: {stderr}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak_mb
    return result


def parse_settings(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="run only these cases")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a forecaster setting")
    parser.add_argument("--no-statistical", action="store_true", help="skip ETS, ARIMA and Theta")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fit_forecaster(args.child, parse_settings(args.set))))
        return
    cases = args.case or list(CASES)
    results = {}
    for case in cases:
        fitted = run_child(case, args.set)
        scores = score_case(case, fitted, not args.no_statistical and case != "many1000")
        data = fitted["config"]["data"]
        results[case] = {"horizon": CASES[case], "fit_s": round(fitted["fit_s"], 1),
                         "peak_rss_mb": round(fitted["peak_rss_mb"]), "steps": fitted["steps"],
                         "validation": fitted["best"], "rule": fitted["rule"], "scaling": data["scaling"],
                         "seasonal_inputs": data["seasonal_inputs"], "methods": scores,
                         "settings": parse_settings(args.set)}
        print(f"\n{case} (H={CASES[case]}): forecaster fit {fitted['fit_s']:.0f} s, peak {fitted['peak_rss_mb']:.0f} "
              f"MB, validation MASE {fitted['best'].get('mase', float('nan')):.3f}; scaling {data['scaling']}, "
              f"seasonal inputs {data['seasonal_inputs']}, rule {json.dumps(fitted['rule'])}", flush=True)
        print(f"{'method':16}{'MAE':>10}{'RMSE':>10}{'sMAPE':>8}{'MASE':>8}{'cov80':>7}{'cov95':>7}")
        for name, m in scores.items():
            print(f"{name:16}{m['mae']:10.3f}{m['rmse']:10.3f}{m['smape']:8.2f}{m['mase']:8.3f}"
                  f"{m['coverage_80']:7.2f}{m['coverage_95']:7.2f}", flush=True)
    if not args.case and not args.set:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "forecasting.json"
        path.write_text(json.dumps({"cases": results, "cpu_threads": 1, "when": time.strftime("%Y-%m-%d")},
                                   indent=2) + "\n")
        print(f"\nwrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
