"""Forecasting: one global recurrent model over one or many series, with sample paths for intervals
(the DeepAR recipe, Salinas et al. 2020, in its simplest form).

- Each step reads the previous value and the value one season earlier, both divided by the scale of
  its window, and the phase of its time stamp in the season (sine and cosine: the calendar feature
  the frequency gives: the month of a monthly series, the quarter of a quarterly one, the day of the
  week of a daily one), then its known covariates (standardized). The scale is the mean absolute
  value of the context (1 where that is 0), so series of very different sizes train together and
  the forecast is multiplied back by it. `forecast_rules` decides by stated rules whether values
  are scaled and whether the seasonal inputs are read; `forecast_steps` cuts the windows and
  draws the paths.
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
  points are never trained on. After training, the same points decide the method kept (the
  network, or naive or seasonal naive when one of them forecasts them better) and the factor of
  the intervals (`forecast_rules`), recorded as `rule_` and in config.json.

Every series needs more than `context_length + horizon` points, the horizon to forecast at most
the horizon trained for; the target is numeric, and missing values are refused. A model trained
with covariates forecasts only with their values over the horizon (the rows after each series'
last target, the target blank).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqrnn.config import FORECAST_PRESETS, MAX_SEED, ForecastConfig
from seqrnn.data.timeseries import (
    TimeSeriesTable,
    as_table,
    future_times,
    seasonal_period,
    split_future,
)
from seqrnn.errors import InvalidInputError
from seqrnn.nn.body import RecurrentBody
from seqrnn.nn.inputs import NumericProjection
from seqrnn.nn.networks import StepNetwork
from seqrnn.tasks import backtest
from seqrnn.tasks import forecast_rules as rules
from seqrnn.tasks.base import Prepared, RecurrentEstimator
from seqrnn.tasks.forecast_steps import (  # noqa: F401 (window_scale, step_features: the package's names)
    Series,
    checked_series,
    forecast_paths,
    gather_windows,
    input_channels,
    phases,
    step_feature_names,
    step_features,
    window_scale,
)

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
    vocab.json): the frequency, the season, the context length, the columns read, each series' last
    points (what `predict()` forecasts from) and, with known covariates, their names and values there."""

    def __init__(self, freq: str, period: int, context: int, series: dict[str, tuple],
                 columns: dict[str, Any] | None = None, covariates: list[str] | None = None):
        self.freq, self.period, self.context = freq, period, context
        self.series = {k: (v[0], v[1], v[2] if len(v) > 2 else None) for k, v in series.items()}
        self.columns, self.covariates = columns or {}, list(covariates or [])

    def __len__(self) -> int:
        return len(self.series)

    def table(self) -> TimeSeriesTable:
        rows = []
        for sid, (times, v, known) in self.series.items():
            frame = pd.DataFrame({"series": sid, "time": _times(times, self.freq), "target": np.asarray(v, np.float64)})
            for j, name in enumerate(self.covariates):
                frame[name] = np.asarray(known, np.float64)[:, j]
            rows.append(frame)
        return TimeSeriesTable(pd.concat(rows, ignore_index=True), self.freq, list(self.covariates))

    def to_dict(self) -> dict[str, Any]:
        series = {k: {"time": t, "target": v, **({"covariates": c} if c is not None else {})}
                  for k, (t, v, c) in self.series.items()}
        return {"freq": self.freq, "seasonal_period": self.period, "context_length": self.context,
                "columns": self.columns, "covariates": self.covariates, "series": series}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeriesHistory:
        try:
            series = {k: (v["time"], v["target"], v.get("covariates")) for k, v in d["series"].items()}
            return cls(d["freq"], int(d["seasonal_period"]), int(d["context_length"]), series, d.get("columns"),
                       d.get("covariates"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"vocab.json is not a forecaster's series history ({exc})") from None


def _times(times: list, freq: str) -> np.ndarray:
    return np.asarray(times, dtype=np.int64) if not freq else pd.to_datetime(times).values.astype("datetime64[ns]")


def _time_strings(times: np.ndarray) -> list:
    return [int(t) for t in times] if times.dtype.kind in "iu" else [str(t) for t in pd.to_datetime(times)]


class ForecastTask:
    """The training loop's forecasting task: seeded windows across every series, the likelihood
    loss, and validation by the MASE of the point forecast of each series' held-out horizon."""

    monitor = ("mase", "min")

    def __init__(self, series: Series, train_ends: np.ndarray, config: ForecastConfig, period: int,
                 device: torch.device):
        self.series, self.config, self.period, self.device = series, config, period, device
        self.lags = period if config.data.seasonal_inputs != "off" else 1  # the period the step features use
        d = config.data
        self.length, self.context, self.horizon = d.context_length + d.horizon, d.context_length, d.horizon
        self.train_ends = train_ends
        # window ends of each series: from a full window (or the whole training part) to the last point
        self.first_end = np.minimum(self.length, train_ends)
        counts = train_ends - self.first_end + 1
        self.cumulative = np.cumsum(counts)
        self.batch_size, self.seed = config.training.batch_size, config.training.seed
        self.inputs = {"scaled": d.scaling == "mean_abs", "calendar": d.calendar}
        self.samples = d.num_samples
        self.batches = max(1, math.ceil(d.windows_per_epoch / self.batch_size))

    def batches_per_epoch(self) -> int:
        return self.batches

    def batch(self, epoch: int, index: int):
        rng = np.random.default_rng([self.seed, epoch, index])
        pick = rng.integers(0, self.cumulative[-1], size=self.batch_size)
        rows = np.searchsorted(self.cumulative, pick, side="right")
        offset = pick - np.concatenate([[0], self.cumulative[:-1]])[rows]
        ends = self.first_end[rows] + offset
        x, y, mask, _ = gather_windows(self.series, rows, ends, self.length, self.context, self.lags,
                                       **self.inputs)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)

    def loss(self, model: ForecastNetwork, batch, carry) -> tuple[torch.Tensor, None, int]:
        x, y, mask = (b.to(self.device) for b in batch)
        out, _ = model(x)
        net = model.module if hasattr(model, "module") else model
        nll = -net.predictive(out).log_prob(y)  # the inputs of step t hold the values before t
        m = mask.float()
        return (nll * m).sum() / m.sum().clamp(min=1), None, x.shape[0]

    def validation_split(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
        """(each series' history before its validation horizon, the horizon's values, the covariates
        of both or None)."""
        rows = range(len(self.series))
        histories = [self.series.get(i, self.train_ends[i]) for i in rows]
        actuals = [self.series.get(i)[self.train_ends[i]:self.train_ends[i] + self.horizon] for i in rows]
        known = (None if self.series.covariates is None else
                 [self.series.known(i, self.train_ends[i] + self.horizon) for i in rows])
        return histories, actuals, known

    def paths(self, model: ForecastNetwork, histories, known, samples: int, seed: int, point: bool = False):
        """The network's paths (`forecast_paths`) continuing `histories` over the horizon."""
        return forecast_paths(model, histories, self.series.first_phase, self.horizon, self.context, self.lags,
                              samples=samples, seed=seed, device=self.device, point=point, known=known,
                              **self.inputs)

    def validate(self, model: ForecastNetwork, on_batch: Callable[[], None] | None = None) -> dict[str, float]:
        rows = np.arange(len(self.series))
        histories, _, known = self.validation_split()
        paths = self.paths(model, histories, known, samples=1, seed=0, point=True)
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
                                               self.context, self.lags, **self.inputs)
                out, _ = net(torch.from_numpy(x).to(self.device))
                nll = -net.predictive(out[:, -self.horizon:]).log_prob(torch.from_numpy(y[:, -self.horizon:])
                                                                       .to(self.device))
                total += float(nll.sum())
                count += nll.numel()
        net.train(was_training)
        return total / max(count, 1)


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
    >>> f.rule_                                           # what the validation chose: method, interval factor
    """

    task = "forecast"
    config_class = ForecastConfig
    model_class = ForecastNetwork
    vocab_class = SeriesHistory
    presets = FORECAST_PRESETS

    def fit(self, y, *, freq: str | None = None, out_dir=None, resume: bool = False, source: str | None = None,
            columns: dict[str, Any] | None = None) -> Forecaster:
        """Train on `y`: anything `seqrnn.data.timeseries.as_table` takes (a pandas Series or
        DataFrame with a DatetimeIndex or PeriodIndex, NumPy arrays, lists of them, a table, a long
        frame with covariate columns given by `as_table(..., covariates=[...])`). The last `horizon`
        points of every series are held out for validation; a table's covariates are known inputs
        (`predict` then needs their values over the horizon)."""
        table = as_table(y, freq=freq)
        self._columns = columns or {}
        return self._fit(table, out_dir, resume, source)

    # --- the hooks of the fit sequence ---

    def _prepare(self, table: TimeSeriesTable, config: ForecastConfig, vocab) -> Prepared:
        d = config.data
        period = d.seasonal_period or (vocab.period if vocab else seasonal_period(table.freq) or 1)
        names = list(table.covariates)
        series, times = checked_series(table, period, table.freq, names)
        shortest = int(series.lengths.min())
        context = d.context_length or (vocab.context if vocab else
                                       max(min(3 * max(period, d.horizon), shortest - d.horizon - 1), 1))
        needed = context + d.horizon + 1
        if shortest < needed:
            sid = series.ids[int(series.lengths.argmin())]
            raise InvalidInputError(f"series {sid!r} has {shortest} points; each series needs more than "
                                    f"context_length + horizon = {context} + {d.horizon} (its last horizon is "
                                    "held out to validate, forecast from the context before it)")
        train_ends = series.lengths - d.horizon
        seasonal = rules.seasonal_inputs_on(d.seasonal_inputs, period, train_ends)
        self._config = config.replace(context_length=context, seasonal_period=period,
                                      scaling=rules.resolve_scaling(d.scaling, series.values),
                                      seasonal_inputs="on" if seasonal else "off")
        self._known = known_stats(names, series)
        if series.covariates is not None:
            raw = series.covariates
            series.covariates = self._standardize(raw)
        keep = kept(self._config)
        history = SeriesHistory(table.freq, period, context,
                                {sid: (_time_strings(times[sid][-keep:]), series.get(i)[-keep:].tolist(),
                                       None if not names else raw[series.starts[i]:][:series.lengths[i]][-keep:]
                                       .tolist())
                                 for i, sid in enumerate(series.ids)}, getattr(self, "_columns", {}), names)
        return Prepared(history, series, train_ends,
                        {"series": len(series), "points": int(series.lengths.sum()), "freq": table.freq,
                         "seasonal_period": period, "context_length": context, "covariates": names,
                         **getattr(self, "_columns", {})})

    def _task(self, prepared: Prepared, config: ForecastConfig, device: torch.device) -> ForecastTask:
        config = self._config
        return ForecastTask(prepared.train, prepared.val, config, config.data.seasonal_period, device)

    def _new_model(self, vocab_size: int, config: ForecastConfig) -> ForecastNetwork:
        config = getattr(self, "_config", config)
        d = config.data
        lags = d.seasonal_period if d.seasonal_inputs != "off" else 1
        return ForecastNetwork(input_channels(lags, len(self._known["names"])), **config.to_dict()["model"])

    def _train(self, model, task, run, device, config, vocab, resume, started, plot):
        model = super()._train(model, task, run, device, self._config, vocab, resume, started, plot)
        self.rule_ = self._validation_rule(model, task, device)
        if self.ranks_.is_main and (run.path / run.CONFIG).is_file():
            run.write_config(self.task, self.config_.to_dict(), self.dataset_, **self._facts())
        return model

    def _validation_rule(self, model: ForecastNetwork, task: ForecastTask, device: torch.device) -> dict[str, Any]:
        """The rules of `forecast_rules` applied on the validation split: the method kept
        (`fallback`), the interval factor (`calibrate`) and the measures that chose them."""
        d, seed = self._config.data, self._config.training.seed
        histories, actuals, known = task.validation_split()
        try:
            paths = {"model": task.paths(model.to(device), histories, known, d.num_samples, seed)}
        finally:
            model.to("cpu")
        if d.fallback:
            for kind in ("naive", "seasonal_naive"):
                paths[kind] = rules.baseline_paths(kind, histories, task.horizon, task.period, d.num_samples,
                                                   kept(self._config))
        scores = {k: rules.validation_scores(p, histories, actuals, task.period) for k, p in paths.items()}
        method = rules.choose_method({k: s["mase"] for k, s in scores.items()}) if d.fallback else "model"
        factor = rules.interval_factor(paths[method], actuals) if d.calibrate else 1.0
        after = rules.validation_scores(rules.widen(paths[method], factor), histories, actuals, task.period)
        rounded = {k: {m: round(v, 4) for m, v in s.items() if m in ("mase", "coverage_80", "coverage_95")}
                   for k, s in scores.items()}
        return {"method": method, "interval_factor": round(factor, 4), "validation": rounded,
                "calibrated_coverage_80": round(after["coverage_80"], 4),
                "calibrated_coverage_95": round(after["coverage_95"], 4)}

    def _facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        if getattr(self, "_known", {}).get("names"):
            facts["covariates"] = self._known
        if getattr(self, "rule_", None):
            facts["forecast_rule"] = self.rule_
        return facts

    def _restore_facts(self, saved: dict[str, Any]) -> None:
        known = saved.get("covariates") or {}
        try:
            self._known = {"names": [str(n) for n in known.get("names", [])],
                           "mean": [float(v) for v in known.get("mean", [])],
                           "scale": [float(v) for v in known.get("scale", [])]}
        except (TypeError, ValueError, AttributeError):
            raise InvalidInputError("config.json: `covariates` is not a forecaster's covariate record") from None
        rule = saved.get("forecast_rule")
        self.rule_ = rule if isinstance(rule, dict) else {}

    # --- using the model ---

    def _history(self) -> SeriesHistory:
        self._check_fitted()
        return self.vocab_

    def _standardize(self, raw: np.ndarray) -> np.ndarray:
        return (raw - np.asarray(self._known["mean"])) / np.asarray(self._known["scale"])

    def _paths(self, histories: list[np.ndarray], first_phase: np.ndarray, horizon: int,
               known: list[np.ndarray] | None = None, seed: int | None = None) -> np.ndarray:
        """The sample paths of the method the validation kept, their spread widened by its factor;
        the network's drawn from `seed` (default: the model's)."""
        c, rule = self.config_, getattr(self, "rule_", None) or {}
        method = rule.get("method", "model")
        if method == "model":
            lags = c.data.seasonal_period if c.data.seasonal_inputs != "off" else 1
            with self._inference() as device:
                paths = forecast_paths(self.model_, histories, first_phase, horizon, c.data.context_length, lags,
                                       c.data.num_samples, c.training.seed if seed is None else seed, device,
                                       scaled=c.data.scaling == "mean_abs", calendar=c.data.calendar,
                                       known=None if known is None else [self._standardize(k) for k in known])
        else:
            paths = rules.baseline_paths(method, histories, horizon, c.data.seasonal_period, c.data.num_samples,
                                         kept(c))
        return rules.widen(paths, float(rule.get("interval_factor", 1.0)))

    def _read(self, y) -> TimeSeriesTable:
        """`y` as a table with the covariates the model was trained with (one-line error if missing)."""
        known = self._history()
        names = self._known["names"]
        if isinstance(y, TimeSeriesTable):
            table = y
        elif isinstance(y, pd.DataFrame) and {"series", "time", "target"} <= set(map(str, y.columns)):
            past, future = split_future(y)
            missing = [n for n in names if n not in y.columns]
            if missing:
                raise InvalidInputError(f"the model was trained with the covariates {', '.join(names)}: the data has "
                                        f"no column {missing[0]!r}")
            table = as_table(past, freq=known.freq or None, covariates=names)
            table.future = future
        else:
            table = as_table(y, freq=known.freq or None)
        missing = [n for n in names if n not in table.covariates]
        if missing:
            raise InvalidInputError(f"the model was trained with the covariates {', '.join(names)}: the data has "
                                    f"no column {missing[0]!r}")
        return table

    def predict(self, y=None, horizon: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """Forecasts of the next `horizon` steps (default: the trained horizon) after the end of each
        series of `y` (default: the series trained on): a DataFrame indexed by (series, time) with the
        mean, the median and the bounds of the 80% and 95% intervals (the 10/90% and 2.5/97.5%
        quantiles of the sample paths). A model trained with covariates needs their values over the
        horizon: `y` a long frame (or a table read with `future=True`) whose rows after each
        series' last target hold them, the target blank. `seed` seeds the draws (default: the
        model's seed); the same model, series (in the same order) and seed give the same forecasts."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed <= MAX_SEED):
            raise InvalidInputError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        known = self._history()
        horizon = backtest.check_horizon(self.config_.data.horizon if horizon is None else horizon,
                                         self.config_.data.horizon)
        names = self._known["names"]
        if y is None and names:
            raise InvalidInputError(f"the model was trained with the covariates {', '.join(names)}: give the "
                                    f"series with their next {horizon} rows, the covariates filled and the target "
                                    "blank")
        table = known.table() if y is None else self._read(y)
        c = self.config_.data
        series, times = checked_series(table, c.seasonal_period, known.freq, names)
        short = int(series.lengths.argmin())
        if series.lengths[short] < 1:
            raise InvalidInputError(f"series {series.ids[short]!r} is empty")
        histories = [series.get(i) for i in range(len(series))]
        whens = {sid: future_times(times[sid][-1], known.freq, horizon) for sid in series.ids}
        ahead = None
        if names:
            ahead = [np.concatenate([series.known(i), future_covariates(table.future, sid, whens[sid], names)])
                     for i, sid in enumerate(series.ids)]
        fc = backtest.Forecast.from_samples(self._paths(histories, series.first_phase, horizon, ahead, seed))
        frames = [pd.DataFrame({"series": sid, "time": whens[sid], **fc.row(i)}) for i, sid in enumerate(series.ids)]
        return pd.concat(frames, ignore_index=True).set_index(["series", "time"])

    def evaluate(self, y, horizon: int | None = None, windows: int = 1) -> pd.DataFrame:
        """Backtest on `y`: forecast the last `horizon` points of every series from what precedes them
        (`windows` > 1: also the `windows - 1` blocks of `horizon` points before, each from its own
        past), and score the model, the naive and the seasonal naive forecasts the same way. Returns
        a table, one row per method (model, naive, seasonal_naive), one column per measure (MAE,
        RMSE, sMAPE in percent, MASE, the 80% and 95% intervals' coverage), means over series and
        windows; `n_forecasts` counts them. Covariates are read from `y` (their actual values)."""
        self._history()
        horizon = backtest.check_horizon(self.config_.data.horizon if horizon is None else horizon,
                                         self.config_.data.horizon)
        if isinstance(windows, bool) or not isinstance(windows, (int, np.integer)) or windows < 1:
            raise InvalidInputError(f"windows must be a whole number of at least 1, got {windows!r}")
        c = self.config_.data
        names = self._known["names"]
        series, _ = checked_series(self._read(y), c.seasonal_period, self.vocab_.freq, names)
        period = c.seasonal_period
        histories, actuals, phase, ahead = [], [], [], []
        for i, sid in enumerate(series.ids):
            values = series.get(i)
            if len(values) < horizon * windows + 2:
                raise InvalidInputError(f"series {sid!r} has {len(values)} points: {windows} window(s) of "
                                        f"{horizon} need at least {horizon * windows + 2}")
            for origin in backtest.origins(len(values), horizon, windows):
                histories.append(values[:origin])
                actuals.append(values[origin: origin + horizon])
                phase.append(series.first_phase[i])
                if names:
                    ahead.append(series.known(i, origin + horizon))
        fc = backtest.Forecast.from_samples(self._paths(histories, np.asarray(phase), horizon, ahead or None))
        rows = {"model": [], "naive": [], "seasonal_naive": []}
        for k, (h, a) in enumerate(zip(histories, actuals)):
            rows["model"].append(backtest.scores(a, fc.row(k), h, period))
            rows["naive"].append(backtest.scores(a, backtest.naive(h, horizon), h, period))
            rows["seasonal_naive"].append(backtest.scores(a, backtest.seasonal_naive(h, horizon, period), h, period))
        table = pd.DataFrame({name: backtest.summarize(r) for name, r in rows.items()}).T
        table["n_forecasts"] = len(histories)
        table.index.name = "method"
        return table


def kept(config: ForecastConfig) -> int:
    """The points of each series a trained model keeps (`predict()` forecasts from them): the context
    and the season of lags before it."""
    return config.data.context_length + config.data.seasonal_period + 1


def known_stats(names: list[str], series: Series) -> dict[str, Any]:
    """The covariates' names and the mean and standard deviation (1 where 0) of each over the
    training data: what their values are standardized by."""
    if not names or series.covariates is None:
        return {"names": [], "mean": [], "scale": []}
    mean = series.covariates.mean(axis=0)
    std = series.covariates.std(axis=0)
    return {"names": list(names), "mean": [float(v) for v in mean],
            "scale": [float(v) if v > 0 else 1.0 for v in std]}


def future_covariates(future: pd.DataFrame | None, sid: str, when: np.ndarray, names: list[str]) -> np.ndarray:
    """The covariates (horizon, k) of series `sid` at the future times `when`, from the rows after its
    last target; one line naming the series and the first time stamp missing."""
    rows = None if future is None else future[future["series"].astype(str) == sid].set_index("time")
    for t in when:
        if rows is None or t not in rows.index or rows.loc[[t], names].isna().to_numpy().any():
            shown = t if isinstance(t, (int, np.integer)) else pd.Timestamp(t)
            raise InvalidInputError(f"series {sid!r} has no covariates ({', '.join(names)}) for {shown}: the model "
                                    f"was trained with them, so forecasting {len(when)} steps needs their values in "
                                    "the rows after each series' last target (the target blank)")
    return rows.loc[list(when), names].to_numpy(np.float64)
