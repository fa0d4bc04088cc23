"""The forecaster's documented rules, each decided from the data or from its validation split (the
last `horizon` points of every series, never trained on), never from anything held out beyond it:

- `resolve_scaling`: `scaling="auto"` is `mean_abs` (DeepAR's per-window scale) when no value of
  any series is negative, `none` when some are (changes and rates around 0, where the mean
  absolute value of a noisy context magnifies the noise).
- `seasonal_inputs_on`: `seasonal_inputs="auto"` reads the seasonal lag and the calendar phase only
  when some series has more than two seasons before its validation horizon; with less, the lag
  would be unobserved in every training step and seen for the first time when forecasting.
- `choose_method` (`fallback`): after training, the network, naive and seasonal naive forecast the
  validation horizon of every series; the forecaster keeps the one with the lowest mean MASE (the
  network on a tie, then naive). A baseline's paths are the quantiles of its normal distribution
  (`baseline_paths`).
- `interval_factor` (`calibrate`): the spread of the kept method's paths around their median is
  multiplied by the factor that makes its 80% interval hold 80% of the validation points (`widen`;
  the split-conformal quantile of the points' distances in half-widths).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from seqrnn.tasks import backtest

METHODS = ("model", "naive", "seasonal_naive")
"""What a forecaster forecasts with, in the order a tie is settled."""
_Z80 = 1.2815515655446004
FACTOR_RANGE = (0.2, 5.0)
"""The interval factor is kept within these bounds, whatever a short validation says."""


def resolve_scaling(scaling: str, values: np.ndarray) -> str:
    """The scaling `auto` stands for on these values (every series concatenated)."""
    if scaling != "auto":
        return scaling
    return "none" if bool(np.any(values < 0)) else "mean_abs"


def seasonal_inputs_on(setting: str, period: int, train_lengths: np.ndarray) -> bool:
    """Whether the steps read the seasonal lag and the calendar phase; `train_lengths`: each series'
    points before its validation horizon. "auto" (and a saved model's missing setting) on fitting:
    on when some series has more than two seasons there."""
    if period <= 1 or setting == "off":
        return False
    if setting == "on" or train_lengths is None:
        return True
    return bool(np.max(train_lengths) > 2 * period)


def baseline_paths(kind: str, histories: Sequence[np.ndarray], horizon: int, period: int, samples: int,
                   last: int) -> np.ndarray:
    """Paths (n, samples, horizon) of naive or seasonal naive from each history's `last` points (what
    a trained forecaster keeps of each series): each step's point forecast plus its spread times
    `samples` evenly spaced quantiles of the standard normal, so the paths' quantiles are the
    baseline's normal intervals."""
    z = np.array([NormalDist().inv_cdf((j + 0.5) / samples) for j in range(samples)])
    out = np.zeros((len(histories), samples, horizon))
    for i, h in enumerate(histories):
        f = backtest.seasonal_naive(h[-last:], horizon, 1 if kind == "naive" else period)
        spread = (f["upper_80"] - f["median"]) / _Z80
        out[i] = f["median"][None, :] + z[:, None] * spread[None, :]
    return out


def widen(paths: np.ndarray, factor: float) -> np.ndarray:
    """The paths with their distance from each step's median multiplied by `factor` (the median is
    unchanged; every quantile's distance from it is multiplied by `factor`)."""
    if factor == 1.0:
        return paths
    median = np.median(paths, axis=1, keepdims=True)
    return median + factor * (paths - median)


def validation_scores(paths: np.ndarray, histories: Sequence[np.ndarray], actuals: Sequence[np.ndarray],
                      period: int) -> dict[str, float]:
    """The mean measures (`backtest.summarize`) of the forecasts that `paths` give of `actuals`."""
    fc = backtest.Forecast.from_samples(paths)
    return backtest.summarize(backtest.scores(a, fc.row(i), h, period)
                              for i, (h, a) in enumerate(zip(histories, actuals)))


def choose_method(mase: dict[str, float]) -> str:
    """The method of the lowest mean validation MASE (NaN counts as worst); the network on a tie."""
    finite = {k: v for k, v in mase.items() if np.isfinite(v)}
    if not finite:
        return "model"
    return min(METHODS, key=lambda k: (finite.get(k, np.inf), METHODS.index(k)))


def interval_factor(paths: np.ndarray, actuals: Sequence[np.ndarray]) -> float:
    """The factor for `widen` that makes the 80% interval of `paths` (n, samples, horizon) hold 80% of
    the points of `actuals` (each a horizon), within `FACTOR_RANGE`: of every point's distance from
    the median over the interval's half-width on its side, the ceil(0.8 (m + 1))-th smallest of the
    m points (split conformal prediction's quantile: on few points, a little wider than the 80th
    percentile, so the interval is not narrowed on the strength of a handful of lucky points)."""
    q = np.quantile(paths, (0.1, 0.5, 0.9), axis=1)
    ratios = []
    for i, a in enumerate(actuals):
        lower, median, upper = q[0, i, :len(a)], q[1, i, :len(a)], q[2, i, :len(a)]
        above = a >= median
        half = np.where(above, upper - median, median - lower)
        distance = np.abs(a - median)
        ratios.append(np.where(half > 0, distance / np.where(half > 0, half, 1.0), np.where(distance > 0, 1e9, 0)))
    r = np.concatenate(ratios) if ratios else np.zeros(0)
    if not len(r):
        return 1.0
    rank = min(int(np.ceil(0.8 * (len(r) + 1))), len(r))
    return float(np.clip(np.sort(r)[rank - 1], *FACTOR_RANGE))
