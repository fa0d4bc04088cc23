"""What a forecast is judged by: the accuracy measures (MAE, RMSE, sMAPE, MASE, interval coverage), the
two baselines every forecaster checks (naive and seasonal naive, with their textbook intervals), the
backtest origins, and the plot of history, forecast and intervals.

The measures follow Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed.):
sMAPE is `200 |y - f| / (|y| + |f|)` in percent (0 where both are 0); MASE divides the mean
absolute error by the in-sample mean absolute error of the seasonal naive forecast of the history
(lag `m`; lag 1 when the history is no longer than a season); the baselines' intervals are normal,
with the residual standard deviation of the history growing as `sqrt(h)` (naive) and
`sqrt(floor((h - 1) / m) + 1)` (seasonal naive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from seqrnn.errors import InvalidInputError

LEVELS = (80, 95)
"""The intervals every forecast carries, in percent."""
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
"""The quantiles behind the median and the 80% and 95% intervals."""
COLUMNS = ("mean", "median", "lower_80", "upper_80", "lower_95", "upper_95")
"""The columns of a forecast table, per series and future time stamp."""
_NORMAL = {80: 1.2815515655446004, 95: 1.959963984540054}  # the normal quantiles of the two-sided intervals
METRICS = ("mae", "rmse", "smape", "mase", "coverage_80", "coverage_95")


@dataclass
class Forecast:
    """Forecasts of `horizon` steps for a batch of histories: each a (n, horizon) array."""

    mean: np.ndarray
    median: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> "Forecast":
        """The forecast that sample paths (n, samples, horizon) give: their mean and quantiles."""
        q = np.quantile(samples, QUANTILES, axis=1)
        return cls(samples.mean(axis=1), q[2], q[1], q[3], q[0], q[4])

    def row(self, i: int) -> dict[str, np.ndarray]:
        return {name: getattr(self, name)[i] for name in COLUMNS}


def mase_scale(history: np.ndarray, period: int) -> float:
    """The in-sample mean absolute error of the seasonal naive forecast (naive when the history is no
    longer than a season); NaN when it is 0 or there is too little history."""
    lag = period if len(history) > period else 1
    if len(history) <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
    return scale if scale > 0 else float("nan")


def scores(actual: np.ndarray, forecast: dict[str, np.ndarray], history: np.ndarray, period: int) -> dict[str, float]:
    """The measures of one forecast (a `Forecast.row`, or a dict with at least `median`) of `actual`."""
    point = forecast["median"]
    error = actual - point
    denominator = np.abs(actual) + np.abs(point)
    smape = np.where(denominator > 0, 200 * np.abs(error) / np.where(denominator > 0, denominator, 1), 0.0)
    out = {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2))),
           "smape": float(np.mean(smape)), "mase": float(np.mean(np.abs(error))) / mase_scale(history, period)}
    for level in LEVELS:
        lower, upper = forecast.get(f"lower_{level}"), forecast.get(f"upper_{level}")
        out[f"coverage_{level}"] = (float(np.mean((actual >= lower) & (actual <= upper)))
                                    if lower is not None else float("nan"))
    return out


def naive(history: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """The last value, repeated; intervals from the one-step residuals, widening as sqrt(h)."""
    return seasonal_naive(history, horizon, 1)


def seasonal_naive(history: np.ndarray, horizon: int, period: int) -> dict[str, np.ndarray]:
    """The value one season earlier, repeated season after season; intervals from the seasonal
    residuals, widening with the number of seasons ahead (naive when the history is no longer than
    a season)."""
    lag = period if len(history) > period else 1
    h = np.arange(horizon)
    point = history[len(history) - lag + h % lag]
    residuals = history[lag:] - history[:-lag]
    sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) else 0.0
    spread = sigma * np.sqrt(h // lag + 1)
    out = {"mean": point, "median": point}
    for level in LEVELS:
        out[f"lower_{level}"], out[f"upper_{level}"] = point - _NORMAL[level] * spread, point + _NORMAL[level] * spread
    return out


def origins(length: int, horizon: int, windows: int) -> list[int]:
    """The backtest's forecast origins of a series of `length` points: the last `windows` blocks of
    `horizon` points, each forecast from everything before it (rolling origin, step `horizon`)."""
    return [length - horizon * (windows - k) for k in range(windows)]


def summarize(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    """The mean of each measure over series and windows (NaN ones, a flat history's MASE, left out)."""
    frame = pd.DataFrame(list(rows), columns=list(METRICS))
    return {name: float(frame[name].mean()) for name in METRICS}


def check_horizon(horizon: int, trained: int) -> int:
    """A forecast horizon: at least 1 and at most the horizon the model was trained for."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise InvalidInputError(f"horizon must be a whole number, got {horizon!r}")
    if horizon < 1 or horizon > trained:
        raise InvalidInputError(f"horizon must be from 1 to {trained}, the horizon the model was trained for, "
                                f"got {horizon} (train with a longer horizon to forecast further)")
    return int(horizon)


def plot_forecasts(history: pd.DataFrame, forecast: pd.DataFrame, path, max_series: int = 6,
                   history_points: int = 120) -> None:
    """History (the last `history_points`), the median forecast and its 80% and 95% intervals, one
    panel per series (the first `max_series`), into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(dict.fromkeys(forecast.index.get_level_values("series")))[:max_series]
    fig, axes = plt.subplots(len(ids), 1, figsize=(8, 2.6 * len(ids)), squeeze=False)
    for ax, sid in zip(axes[:, 0], ids):
        past = history[history["series"] == sid].tail(history_points)
        ahead = forecast.xs(sid, level="series")
        ax.plot(past["time"], past["target"], color="black", lw=1, label="history")
        ax.fill_between(ahead.index, ahead["lower_95"], ahead["upper_95"], color="C0", alpha=0.2, label="95%")
        ax.fill_between(ahead.index, ahead["lower_80"], ahead["upper_80"], color="C0", alpha=0.35, label="80%")
        ax.plot(ahead.index, ahead["median"], color="C0", lw=1.5, label="median")
        ax.set_title(str(sid), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
