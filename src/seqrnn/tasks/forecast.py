"""Forecasting: one global recurrent model over one or many series, with sample paths for intervals
(the DeepAR recipe, Salinas et al. 2020, in its simplest form).

- Each step reads the previous value and the value one season earlier, both divided by the scale of
  its window, and the phase of its time stamp in the season (sine and cosine: the calendar feature
  the frequency gives: the month of a monthly series, the quarter of a quarterly one, the day of the
  week of a daily one). The scale is the mean absolute value of the context (1 where that is 0),
  so series of very different sizes train together and the forecast is multiplied back by it.
- The head gives the parameters of the next scaled value's distribution (Student-t by default, or
  Gaussian); training maximizes the likelihood of every step of a window with the true previous
  values as inputs (teacher forcing).
- A forecast warms the network up on the last `context_length` points, then draws `num_samples`
  paths step by step, each sampled value the input of the next step; the median and the 80% and
  95% intervals are the paths' quantiles.
- Training windows (context + horizon) are drawn across all series, uniformly over every window
  position, by a rule seeded with (seed, epoch, batch): a batch is built from its indices alone, so
  a thousand series cost the memory of their values and one batch of windows, and a resumed run
  draws the same windows.
- Validation forecasts the last `horizon` points of each series from what precedes them (the point
  path, each step's location fed back) and keeps the weights of the lowest mean MASE; those last
  points are never trained on.

Every series needs more than `context_length + horizon` points, the horizon to forecast at most
the horizon trained for; the target is numeric, and missing values are refused.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqrnn.config import FORECAST_PRESETS, MAX_SEED, ForecastConfig
from seqrnn.data.timeseries import TimeSeriesTable, as_table, future_times, seasonal_period
from seqrnn.errors import InvalidInputError, SeqrnnWarning
from seqrnn.nn.body import RecurrentBody
from seqrnn.nn.inputs import NumericProjection
from seqrnn.nn.networks import StepNetwork
from seqrnn.tasks import backtest
from seqrnn.tasks.base import Prepared, RecurrentEstimator

SAMPLE_ROWS = 16384  # sample paths run together in one batch when forecasting


# --- the network ----------------------------------------------------------------------------------


class ForecastNetwork(StepNetwork):
    """Step features -> projection -> forward recurrent stack -> three numbers per step: the
    location, scale and degrees of freedom (unused by the Gaussian) of the next scaled value."""

    def __init__(self, channels: int, projection_size: int = 16, hidden_size: int = 40, num_layers: int = 2,
                 cell: str = "lstm", dropout: float = 0.1, distribution: str = "student_t"):
        super().__init__(RecurrentBody(NumericProjection(channels, projection_size), hidden_size, num_layers, cell,
                                       dropout), 3)
        self.distribution = distribution

    def predictive(self, outputs: torch.Tensor) -> torch.distributions.Distribution:
        """The distribution of the next scaled value from the head's outputs (..., 3)."""
        loc = outputs[..., 0]
        scale = nn.functional.softplus(outputs[..., 1]) + 1e-3
        if self.distribution == "gaussian":
            return torch.distributions.Normal(loc, scale)
        return torch.distributions.StudentT(2.0 + nn.functional.softplus(outputs[..., 2]), loc, scale)


# --- what the model keeps of its data -------------------------------------------------------------


class SeriesHistory:
    """What a trained forecaster knows of its data besides the weights (the model directory's
    vocab.json): the frequency, the season, the context length, the columns read, and each
    series' last points (what `predict()` forecasts from)."""

    def __init__(self, freq: str, period: int, context: int, series: dict[str, tuple[list, list]],
                 columns: dict[str, Any] | None = None):
        self.freq, self.period, self.context, self.series = freq, period, context, series
        self.columns = columns or {}

    @property
    def channels(self) -> int:
        return 4 if self.period > 1 else 1

    def __len__(self) -> int:
        return len(self.series)

    def table(self) -> TimeSeriesTable:
        rows = [pd.DataFrame({"series": sid, "time": _times(times, self.freq), "target": np.asarray(v, np.float64)})
                for sid, (times, v) in self.series.items()]
        return TimeSeriesTable(pd.concat(rows, ignore_index=True), self.freq, [])

    def to_dict(self) -> dict[str, Any]:
        return {"freq": self.freq, "seasonal_period": self.period, "context_length": self.context,
                "columns": self.columns, "series": {k: {"time": t, "target": v} for k, (t, v) in self.series.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeriesHistory":
        try:
            series = {k: (v["time"], v["target"]) for k, v in d["series"].items()}
            return cls(d["freq"], int(d["seasonal_period"]), int(d["context_length"]), series, d.get("columns"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"vocab.json is not a forecaster's series history ({exc})") from None


def _times(times: list, freq: str) -> np.ndarray:
    return np.asarray(times, dtype=np.int64) if not freq else pd.to_datetime(times).values.astype("datetime64[ns]")


def _time_strings(times: np.ndarray) -> list:
    return [int(t) for t in times] if times.dtype.kind in "iu" else [str(t) for t in pd.to_datetime(times)]


def phases(times: np.ndarray, freq: str, period: int) -> np.ndarray:
    """Each time stamp's position in the season (0 ... period - 1): the month of monthly data, the
    quarter of quarterly, the day of the week of daily, the hour of hourly; steps modulo the period
    for integer time and other frequencies."""
    if period <= 1:
        return np.zeros(len(times), dtype=np.int64)
    if times.dtype.kind in "iu":
        return times.astype(np.int64) % period
    index = pd.DatetimeIndex(times)
    by_period = {12: index.month - 1, 4: index.quarter - 1, 7: index.day_of_week, 24: index.hour}
    if period in by_period and not (period == 7 and freq.startswith("W")):
        return np.asarray(by_period[period], dtype=np.int64)
    return np.arange(len(times), dtype=np.int64) % period


# --- the series, checked ---------------------------------------------------------------------------


class Series:
    """The values of every series, concatenated (float64), with each one's start, length and the
    phase of its first point: what windows and forecasts are cut from."""

    def __init__(self, ids: list[str], values: list[np.ndarray], first_phase: list[int], last_times: list):
        self.ids, self.first_phase, self.last_times = ids, np.asarray(first_phase, np.int64), last_times
        self.lengths = np.array([len(v) for v in values], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.values = np.concatenate(values) if values else np.zeros(0)

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, i: int, end: int | None = None) -> np.ndarray:
        stop = self.lengths[i] if end is None else end
        return self.values[self.starts[i]: self.starts[i] + stop]


def checked_series(table: TimeSeriesTable, period: int, freq: str) -> tuple[Series, dict[str, np.ndarray]]:
    """The table's series as `Series`, and each series' time stamps; refuses a non-numeric target and
    missing values with one line naming the series."""
    frame = table.frame
    if not pd.api.types.is_numeric_dtype(frame["target"]) or pd.api.types.is_bool_dtype(frame["target"]):
        raise InvalidInputError(f"the target must be numeric, got {frame['target'].dtype}")
    ids, values, first, last, times = [], [], [], [], {}
    for sid, group in frame.groupby("series", sort=False):
        v = group["target"].to_numpy(np.float64)
        if not np.all(np.isfinite(v)):
            raise InvalidInputError(f"series {sid!r} has missing or infinite values at {int(np.sum(~np.isfinite(v)))} "
                                    "time stamps: fill or drop them first")
        t = group["time"].to_numpy()
        ids.append(str(sid))
        values.append(v)
        first.append(int(phases(t[:1], freq, period)[0]) if len(t) else 0)
        last.append(t[-1] if len(t) else None)
        times[str(sid)] = t
    if not ids:
        raise InvalidInputError("no series to forecast: the data is empty")
    return Series(ids, values, first, last), times


# --- features --------------------------------------------------------------------------------------


def step_features(values: np.ndarray, lag1: np.ndarray, lagm: np.ndarray, phase: np.ndarray, observed: np.ndarray,
                  scale: np.ndarray, period: int, calendar: bool = True) -> np.ndarray:
    """The inputs of each step (..., channels), float32: the previous value and the value one season
    earlier over the scale, and the season's phase as a sine and cosine; zeros where unobserved."""
    columns = [lag1 / scale]
    if period > 1:
        angle = 2 * np.pi * phase / period
        on = 1.0 if calendar else 0.0  # without the calendar (measured: `calendar`), its columns stay 0
        columns += [lagm / scale, on * np.sin(angle), on * np.cos(angle)]
    x = np.stack(columns, axis=-1) * observed[..., None]
    return x.astype(np.float32)


def step_feature_names(period: int) -> list[str]:
    """The names of `step_features`' columns, in order (what an exported step graph's metadata lists)."""
    return ["lag_1", "lag_season", "phase_sin", "phase_cos"] if period > 1 else ["lag_1"]


def window_scale(values: np.ndarray, observed: np.ndarray, context: int) -> np.ndarray:
    """The mean absolute value of the observed points of each window's first `context` steps (of all
    its points when none is observed there), 1 where that is 0."""
    head = observed.copy()
    head[:, context:] = False
    use = np.where((head.sum(axis=1) == 0)[:, None], observed, head)
    scale = (np.abs(values) * use).sum(axis=1) / np.maximum(use.sum(axis=1), 1)
    return np.where(scale > 0, scale, 1.0)


def gather_windows(series: Series, rows: np.ndarray, ends: np.ndarray, length: int, context: int, period: int,
                   scaled: bool = True, calendar: bool = True):
    """Windows of `length` steps ending before `ends` (exclusive) in series `rows`, left-padded where
    a series starts later: (features, scaled targets, loss mask, scale)."""
    t = ends[:, None] - length + np.arange(length)[None, :]  # positions in each series
    observed = t >= 0
    base = series.starts[rows][:, None]
    values = np.where(observed, series.values[base + np.maximum(t, 0)], 0.0)
    lag1 = np.where(t >= 1, series.values[base + np.maximum(t - 1, 0)], 0.0)
    lagm = np.where(t >= period, series.values[base + np.maximum(t - period, 0)], 0.0) if period > 1 else lag1
    phase = (series.first_phase[rows][:, None] + t) % max(period, 1)
    scale = window_scale(values, observed, context)[:, None] if scaled else np.ones((len(rows), 1))
    x = step_features(values, lag1, lagm, phase, observed, scale, period, calendar)
    return x, (values / scale).astype(np.float32), observed & (t >= 1), scale


class ForecastTask:
    """The training loop's forecasting task: seeded windows across every series, the likelihood
    loss, and validation by the MASE of the point forecast of each series' held-out horizon."""

    monitor = ("mase", "min")

    def __init__(self, series: Series, train_ends: np.ndarray, config: ForecastConfig, period: int,
                 device: torch.device):
        self.series, self.config, self.period, self.device = series, config, period, device
        d = config.data
        self.length, self.context, self.horizon = d.context_length + d.horizon, d.context_length, d.horizon
        self.train_ends = train_ends
        # window ends of each series: from a full window (or the whole training part) to the last point
        self.first_end = np.minimum(self.length, train_ends)
        counts = train_ends - self.first_end + 1
        self.cumulative = np.cumsum(counts)
        self.batch_size, self.seed = config.training.batch_size, config.training.seed
        self.inputs = {"scaled": d.scaling == "mean_abs", "calendar": d.calendar}
        self.batches = max(1, math.ceil(d.windows_per_epoch / self.batch_size))

    def batches_per_epoch(self) -> int:
        return self.batches

    def batch(self, epoch: int, index: int):
        rng = np.random.default_rng([self.seed, epoch, index])
        pick = rng.integers(0, self.cumulative[-1], size=self.batch_size)
        rows = np.searchsorted(self.cumulative, pick, side="right")
        offset = pick - np.concatenate([[0], self.cumulative[:-1]])[rows]
        ends = self.first_end[rows] + offset
        x, y, mask, _ = gather_windows(self.series, rows, ends, self.length, self.context, self.period,
                                       **self.inputs)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)

    def loss(self, model: ForecastNetwork, batch, carry) -> tuple[torch.Tensor, None, int]:
        x, y, mask = (b.to(self.device) for b in batch)
        out, _ = model(x)
        net = model.module if hasattr(model, "module") else model
        nll = -net.predictive(out).log_prob(y)  # the inputs of step t hold the values before t
        m = mask.float()
        return (nll * m).sum() / m.sum().clamp(min=1), None, x.shape[0]

    def validate(self, model: ForecastNetwork, on_batch: Callable[[], None] | None = None) -> dict[str, float]:
        rows = np.arange(len(self.series))
        histories = [self.series.get(i, self.train_ends[i]) for i in rows]
        paths = forecast_paths(model, histories, self.series.first_phase, self.horizon, self.context, self.period,
                               samples=1, seed=0, device=self.device, point=True, **self.inputs)
        mase = [backtest.mase_scale(h, self.period) for h in histories]
        errors = [np.mean(np.abs(self.series.get(i)[self.train_ends[i]:self.train_ends[i] + self.horizon] -
                                 paths[i, 0])) / s for i, s in zip(rows, mase)]
        if on_batch:
            on_batch()
        finite = [e for e in errors if np.isfinite(e)]
        return {"loss": self._heldout_nll(model), "mase": float(np.mean(finite)) if finite else float("nan")}

    def _heldout_nll(self, model: ForecastNetwork) -> float:
        """The negative log-likelihood per held-out step (scaled values, true inputs: teacher forcing)."""
        net = model.module if hasattr(model, "module") else model
        was_training = net.training
        net.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(self.series), 1024):
                rows = np.arange(start, min(start + 1024, len(self.series)))
                x, y, mask, _ = gather_windows(self.series, rows, self.series.lengths[rows], self.length,
                                               self.context, self.period, **self.inputs)
                out, _ = net(torch.from_numpy(x).to(self.device))
                nll = -net.predictive(out[:, -self.horizon:]).log_prob(torch.from_numpy(y[:, -self.horizon:])
                                                                       .to(self.device))
                total += float(nll.sum())
                count += nll.numel()
        net.train(was_training)
        return total / max(count, 1)


# --- forecasting: warm up, then sample step by step ------------------------------------------------


def forecast_paths(model: ForecastNetwork, histories: list[np.ndarray], first_phase: np.ndarray, horizon: int,
                   context: int, period: int, samples: int, seed: int, device: torch.device,
                   point: bool = False, scaled: bool = True, calendar: bool = True) -> np.ndarray:
    """Sample paths (n, samples, horizon) continuing each history; `point`: the one path that feeds
    each step's location back (validation). Deterministic for a seed, and independent of how the
    histories are batched (each history's draws come from its own generator)."""
    net = model.module if hasattr(model, "module") else model
    was_training = net.training
    net.eval()
    out = np.zeros((len(histories), samples, horizon))
    per_chunk = max(1, SAMPLE_ROWS // samples)
    try:
        with torch.no_grad():
            for start in range(0, len(histories), per_chunk):
                chunk = list(range(start, min(start + per_chunk, len(histories))))
                out[chunk] = _forecast_chunk(net, [histories[i] for i in chunk], first_phase[chunk], horizon,
                                             context, period, samples, seed, device, point, chunk, scaled,
                                             calendar)
    finally:
        net.train(was_training)
    return out


def _forecast_chunk(net: ForecastNetwork, histories, first_phase, horizon, context, period, samples, seed, device,
                    point, indices, scaled=True, calendar=True) -> np.ndarray:
    n = len(histories)
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    # the warm-up: each history's last `context` steps and the step after (its inputs are all known),
    # cut as training windows are, so the scale and the features are the ones trained on
    scratch = Series([str(i) for i in range(n)], [np.concatenate([h, [0.0]]) for h in histories],
                     list(first_phase), [None] * n)
    x, _, _, scale = gather_windows(scratch, np.arange(n), lengths + 1, context + 1, context, period, scaled,
                                    calendar)
    out, state = net(torch.from_numpy(x).to(device))
    state = tuple(s.repeat_interleave(samples, dim=1) for s in state) if isinstance(state, tuple) \
        else state.repeat_interleave(samples, dim=1)
    last = out[:, -1].repeat_interleave(samples, dim=0)
    # every path, right-aligned and scaled: the seasonal lags are read from it as the values are drawn
    longest = max(int(lengths.max()), period)  # at least a season of (zero) past for the seasonal lag
    padded = np.zeros((n, longest + horizon))
    for i, h in enumerate(histories):
        padded[i, longest - len(h): longest] = h
    scale_rows = np.repeat(scale, samples, axis=0)
    path = np.repeat(padded, samples, axis=0) / scale_rows
    generators = [torch.Generator().manual_seed(int(seed) * 1_000_003 + int(k)) for k in indices]
    phase0 = np.repeat((np.asarray(first_phase) + lengths) % max(period, 1), samples)
    ones = np.ones(n * samples)
    for h in range(horizon):
        dist = net.predictive(last)
        if point:
            draw = dist.loc
        else:
            draw = _sample(dist, net.distribution, generators, samples)
        draw = draw.cpu().numpy().astype(np.float64)
        path[:, longest + h] = draw
        if h == horizon - 1:
            break
        lagm = path[:, longest + h + 1 - period] if period > 1 else draw
        feats = step_features(draw, draw, lagm, phase0 + h + 1, ones.astype(bool), ones, period, calendar)
        out, state = net(torch.from_numpy(feats[:, None, :]).to(device), state)
        last = out[:, -1]
    result = path[:, longest:] * scale_rows
    return result.reshape(n, samples, horizon)


def _sample(dist, kind: str, generators: list[torch.Generator], samples: int) -> torch.Tensor:
    """One draw per row from `dist`, each series' rows from that series' generator."""
    normal = torch.cat([torch.randn(samples, generator=g) for g in generators]).to(dist.loc.device)
    if kind == "gaussian":
        return dist.loc + dist.scale * normal
    # Student-t: a normal over the root of a chi-square / df; the chi-square from the series' generator
    df = dist.df.cpu().numpy().astype(np.float64)
    chi = np.concatenate([np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=g)))
                          .chisquare(df[k * samples:(k + 1) * samples]) for k, g in enumerate(generators)])
    t = normal * torch.from_numpy(np.sqrt(df / np.maximum(chi, 1e-12))).to(normal.dtype).to(normal.device)
    return dist.loc + dist.scale * t


# --- the estimator ---------------------------------------------------------------------------------


class Forecaster(RecurrentEstimator):
    """A global recurrent forecaster over one or many series, with 80% and 95% intervals.

    Parameters
    ----------
    preset : str
        "default": the configuration measured on the results page (Forecasting).
    horizon : int
        Steps to forecast (the longest horizon `predict` and `evaluate` accept).
    **settings
        Any setting of the configuration (`seqrnn.config.ForecastConfig`) and the run options.

    Examples
    --------
    >>> f = Forecaster(horizon=12, seed=1).fit(y)        # a Series with a DatetimeIndex, a list of them, ...
    >>> f.predict()                                       # median, mean, 80% and 95% bounds per series and time
    >>> f.evaluate(y, windows=3)                          # model vs naive vs seasonal naive
    """

    task = "forecast"
    config_class = ForecastConfig
    model_class = ForecastNetwork
    vocab_class = SeriesHistory
    presets = FORECAST_PRESETS

    def fit(self, y, *, freq: str | None = None, out_dir=None, resume: bool = False, source: str | None = None,
            columns: dict[str, Any] | None = None) -> "Forecaster":
        """Train on `y`: anything `seqrnn.data.timeseries.as_table` takes (a pandas Series or
        DataFrame with a DatetimeIndex or PeriodIndex, NumPy arrays, lists of them, a table). The
        last `horizon` points of every series are held out for validation."""
        table = as_table(y, freq=freq)
        if table.covariates:
            warnings.warn(f"the covariates {', '.join(table.covariates)} are not used: the forecaster reads the "
                          "target's own past and the calendar", SeqrnnWarning, stacklevel=2)
        self._columns = columns or {}
        return self._fit(table, out_dir, resume, source)

    # --- the hooks of the fit sequence ---

    def _prepare(self, table: TimeSeriesTable, config: ForecastConfig, vocab) -> Prepared:
        d = config.data
        period = d.seasonal_period or (vocab.period if vocab else seasonal_period(table.freq) or 1)
        series, times = checked_series(table, period, table.freq)
        shortest = int(series.lengths.min())
        context = d.context_length or (vocab.context if vocab else
                                       max(min(3 * max(period, d.horizon), shortest - d.horizon - 1), 1))
        needed = context + d.horizon + 1
        if shortest < needed:
            sid = series.ids[int(series.lengths.argmin())]
            raise InvalidInputError(f"series {sid!r} has {shortest} points; each series needs more than "
                                    f"context_length + horizon = {context} + {d.horizon} (its last horizon is "
                                    "held out to validate, forecast from the context before it)")
        self._config = config.replace(context_length=context, seasonal_period=period)
        keep = context + period + 1  # what predict() needs: the context and the seasonal lags before it
        history = SeriesHistory(table.freq, period, context,
                                {sid: (_time_strings(times[sid][-keep:]), series.get(i)[-keep:].tolist())
                                 for i, sid in enumerate(series.ids)}, getattr(self, "_columns", {}))
        train_ends = series.lengths - d.horizon
        return Prepared(history, series, train_ends,
                        {"series": len(series), "points": int(series.lengths.sum()), "freq": table.freq,
                         "seasonal_period": period, "context_length": context, **getattr(self, "_columns", {})})

    def _task(self, prepared: Prepared, config: ForecastConfig, device: torch.device) -> ForecastTask:
        config = self._config
        return ForecastTask(prepared.train, prepared.val, config, config.data.seasonal_period, device)

    def _new_model(self, vocab_size: int, config: ForecastConfig) -> ForecastNetwork:
        period = getattr(self, "_config", config).data.seasonal_period or config.data.seasonal_period
        channels = 4 if period > 1 else 1
        return ForecastNetwork(channels, **config.to_dict()["model"])

    def _train(self, model, task, run, device, config, vocab, resume, started, plot):
        return super()._train(model, task, run, device, self._config, vocab, resume, started, plot)

    # --- using the model ---

    def _history(self) -> SeriesHistory:
        self._check_fitted()
        return self.vocab_

    def _paths(self, histories: list[np.ndarray], first_phase: np.ndarray, horizon: int,
               seed: int | None = None) -> np.ndarray:
        c = self.config_
        with self._inference() as device:
            return forecast_paths(self.model_, histories, first_phase, horizon, c.data.context_length,
                                  c.data.seasonal_period, c.data.num_samples,
                                  c.training.seed if seed is None else seed, device,
                                  scaled=c.data.scaling == "mean_abs", calendar=c.data.calendar)

    def predict(self, y=None, horizon: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """Forecasts of the next `horizon` steps (default: the trained horizon) after the end of each
        series of `y` (default: the series trained on): a DataFrame indexed by (series, time) with the
        mean, the median and the bounds of the 80% and 95% intervals (the 10/90% and 2.5/97.5%
        quantiles of the sample paths). `seed` seeds the draws (default: the model's seed); the same
        model, series (in the same order) and seed give the same forecasts."""
        known = self._history()
        horizon = backtest.check_horizon(self.config_.data.horizon if horizon is None else horizon,
                                         self.config_.data.horizon)
        table = known.table() if y is None else as_table(y, freq=known.freq or None)
        c = self.config_.data
        series, times = checked_series(table, c.seasonal_period, known.freq)
        short = int(series.lengths.argmin())
        if series.lengths[short] < 1:
            raise InvalidInputError(f"series {series.ids[short]!r} is empty")
        histories = [series.get(i) for i in range(len(series))]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed <= MAX_SEED):
            raise InvalidInputError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        fc = backtest.Forecast.from_samples(self._paths(histories, series.first_phase, horizon, seed))
        frames = []
        for i, sid in enumerate(series.ids):
            when = future_times(times[sid][-1], known.freq, horizon)
            frames.append(pd.DataFrame({"series": sid, "time": when, **fc.row(i)}))
        return pd.concat(frames, ignore_index=True).set_index(["series", "time"])

    def evaluate(self, y, horizon: int | None = None, windows: int = 1) -> pd.DataFrame:
        """Backtest on `y`: forecast the last `horizon` points of every series from what precedes them
        (`windows` > 1: also the `windows - 1` blocks of `horizon` points before, each from its own
        past), and score the model, the naive and the seasonal naive forecasts the same way. Returns
        a table, one row per method (model, naive, seasonal_naive), one column per measure (MAE,
        RMSE, sMAPE in percent, MASE, the 80% and 95% intervals' coverage), means over series and
        windows; `n_forecasts` counts them."""
        known = self._history()
        horizon = backtest.check_horizon(self.config_.data.horizon if horizon is None else horizon,
                                         self.config_.data.horizon)
        if isinstance(windows, bool) or not isinstance(windows, (int, np.integer)) or windows < 1:
            raise InvalidInputError(f"windows must be a whole number of at least 1, got {windows!r}")
        c = self.config_.data
        series, _ = checked_series(as_table(y, freq=known.freq or None), c.seasonal_period, known.freq)
        period = c.seasonal_period
        histories, actuals, phase = [], [], []
        for i, sid in enumerate(series.ids):
            values = series.get(i)
            if len(values) < horizon * windows + 2:
                raise InvalidInputError(f"series {sid!r} has {len(values)} points: {windows} window(s) of "
                                        f"{horizon} need at least {horizon * windows + 2}")
            for origin in backtest.origins(len(values), horizon, windows):
                histories.append(values[:origin])
                actuals.append(values[origin: origin + horizon])
                phase.append(series.first_phase[i])
        fc = backtest.Forecast.from_samples(self._paths(histories, np.asarray(phase), horizon))
        rows = {"model": [], "naive": [], "seasonal_naive": []}
        for k, (h, a) in enumerate(zip(histories, actuals)):
            rows["model"].append(backtest.scores(a, fc.row(k), h, period))
            rows["naive"].append(backtest.scores(a, backtest.naive(h, horizon), h, period))
            rows["seasonal_naive"].append(backtest.scores(a, backtest.seasonal_naive(h, horizon, period), h, period))
        table = pd.DataFrame({name: backtest.summarize(r) for name, r in rows.items()}).T
        table["n_forecasts"] = len(histories)
        table.index.name = "method"
        return table
