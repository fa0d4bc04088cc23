"""The forecaster's steps (`seqrnn.tasks.forecast`): the series checked and concatenated (`Series`), the
inputs of each step (`step_features`: the lagged values over the window's scale, the calendar
phase, the known covariates), the training windows cut from them (`gather_windows`), and the
sample paths a trained network draws step by step (`forecast_paths`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from seqrnn.data.timeseries import TimeSeriesTable
from seqrnn.errors import InvalidInputError

SAMPLE_ROWS = 16384  # sample paths run together in one batch when forecasting


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

    def __init__(self, ids: list[str], values: list[np.ndarray], first_phase: list[int], last_times: list,
                 covariates: list[np.ndarray] | None = None):
        self.ids, self.first_phase, self.last_times = ids, np.asarray(first_phase, np.int64), last_times
        self.lengths = np.array([len(v) for v in values], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.values = np.concatenate(values) if values else np.zeros(0)
        # the known covariates of every step (points, k), standardized; None without covariates
        self.covariates = np.concatenate(covariates) if covariates else None

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, i: int, end: int | None = None) -> np.ndarray:
        stop = self.lengths[i] if end is None else end
        return self.values[self.starts[i]: self.starts[i] + stop]

    def known(self, i: int, end: int | None = None) -> np.ndarray | None:
        """Series `i`'s covariates (steps, k) up to `end`, or None without covariates."""
        if self.covariates is None:
            return None
        stop = self.lengths[i] if end is None else end
        return self.covariates[self.starts[i]: self.starts[i] + stop]


def checked_series(table: TimeSeriesTable, period: int, freq: str, covariates: list[str] | None = None
                   ) -> tuple[Series, dict[str, np.ndarray]]:
    """The table's series as `Series` (with the `covariates` columns, raw), and each series' time
    stamps; refuses a non-numeric target and missing values with one line naming the series."""
    frame = table.frame
    if not pd.api.types.is_numeric_dtype(frame["target"]) or pd.api.types.is_bool_dtype(frame["target"]):
        raise InvalidInputError(f"the target must be numeric, got {frame['target'].dtype}")
    ids, values, first, last, times, known = [], [], [], [], {}, []
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
        if covariates:
            known.append(group[covariates].to_numpy(np.float64))
    if not ids:
        raise InvalidInputError("no series to forecast: the data is empty")
    return Series(ids, values, first, last, known or None), times


# --- features --------------------------------------------------------------------------------------


def step_features(values: np.ndarray, lag1: np.ndarray, lagm: np.ndarray, phase: np.ndarray, observed: np.ndarray,
                  scale: np.ndarray, period: int, calendar: bool = True, known: np.ndarray | None = None
                  ) -> np.ndarray:
    """The inputs of each step (..., channels), float32: the previous value and the value one season
    earlier over the scale, the season's phase as a sine and cosine (`period` 1: the previous value
    alone), then the step's own known covariates (..., k), standardized; zeros where unobserved."""
    columns = [lag1 / scale]
    if period > 1:
        angle = 2 * np.pi * phase / period
        on = 1.0 if calendar else 0.0  # without the calendar (measured: `calendar`), its columns stay 0
        columns += [lagm / scale, on * np.sin(angle), on * np.cos(angle)]
    x = np.stack(columns, axis=-1)
    if known is not None and known.shape[-1]:
        x = np.concatenate([x, known], axis=-1)
    return (x * observed[..., None]).astype(np.float32)


def step_feature_names(period: int, covariates: Sequence[str] = ()) -> list[str]:
    """The names of `step_features`' columns, in order (what an exported step graph's metadata lists)."""
    return (["lag_1", "lag_season", "phase_sin", "phase_cos"] if period > 1 else ["lag_1"]) + list(covariates)


def input_channels(period: int, covariates: int) -> int:
    """The width of each step's features: 4 with seasonal inputs (`period` > 1), else 1, plus one
    per known covariate."""
    return (4 if period > 1 else 1) + covariates


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
    known = None if series.covariates is None else series.covariates[base + np.maximum(t, 0)]
    x = step_features(values, lag1, lagm, phase, observed, scale, period, calendar, known)
    return x, (values / scale).astype(np.float32), observed & (t >= 1), scale


# --- forecasting: warm up, then sample step by step ------------------------------------------------


def forecast_paths(model: torch.nn.Module, histories: list[np.ndarray], first_phase: np.ndarray, horizon: int,
                   context: int, period: int, samples: int, seed: int, device: torch.device,
                   point: bool = False, scaled: bool = True, calendar: bool = True,
                   known: list[np.ndarray] | None = None) -> np.ndarray:
    """Sample paths (n, samples, horizon) continuing each history; `point`: the one path that feeds
    each step's location back (validation); `known`: each history's standardized covariates over
    the history and the horizon (len + horizon, k). Deterministic for a seed, and independent of how
    the histories are batched (each history's draws come from its own generator)."""
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
                                             calendar, None if known is None else [known[i] for i in chunk])
    finally:
        net.train(was_training)
    return out


def _forecast_chunk(net, histories, first_phase, horizon, context, period, samples, seed, device,
                    point, indices, scaled=True, calendar=True, known=None) -> np.ndarray:
    n = len(histories)
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    # the warm-up: each history's last `context` steps and the step after (its inputs are all known),
    # cut as training windows are, so the scale and the features are the ones trained on
    scratch = Series([str(i) for i in range(n)], [np.concatenate([h, [0.0]]) for h in histories],
                     list(first_phase), [None] * n, None if known is None else
                     [k[:len(h) + 1] for k, h in zip(known, histories)])
    ahead = None if known is None else np.repeat(np.stack([k[len(h):len(h) + horizon]
                                                           for k, h in zip(known, histories)]), samples, axis=0)
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
        feats = step_features(draw, draw, lagm, phase0 + h + 1, ones.astype(bool), ones, period, calendar,
                              None if ahead is None else ahead[:, h + 1])
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
