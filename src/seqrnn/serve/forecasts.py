"""Forecasts over HTTP (`seqrnn serve --forecast DIR`, `POST /v1/forecast`): what a request's series
become for `Forecaster.predict`, and what its forecasts become in the answer.

A request holds `series`, each an object `{"values": [...], "start": S, "id": I}` (`start` and `id`
optional) or, for short, a plain list of values; `horizon` (default: the horizon the model was
trained for, at most that, as `predict` rules) and `seed` (default: the model's own, so the answer
is what `predict` gives). The answer holds, per series and future step, the time stamp, the mean, the
median and the bounds of the 80% and 95% intervals: `Forecaster.predict`'s numbers for that history.

- `start` is the time stamp of the first value. With a model trained on dated series it is a date
  or time (ISO 8601, as `pandas.Timestamp` reads it) on the model's frequency (the first of a month
  for a monthly model); each forecast step then carries its time stamp. A model that reads the
  calendar (a frequency with a season: the month of monthly data, the day of the week of daily
  data) needs it, to know where in the season each value falls. Without it (a yearly model, a model
  without calendar features) the steps carry `"time": null`. With a model trained on integer steps
  it is the step number of the first value (an integer, default 0); the forecast steps carry their
  step numbers.
- `id` names the series in the answer (default: its index in `series`); ids may not repeat.
- Every value is a finite number: the forecaster takes no missing values. A series needs at least
  one value, as `predict` does; only the last `context_length` values and the season before them
  are read.
- The draws of series `i` come from its own generator, seeded with the seed and `i`: the same model,
  series in the same order and seed give the same answer.

What the model cannot take is a `RefusedRequest` (the server answers 422), one line naming the
series' index.
"""

from __future__ import annotations

from typing import Any

from seqrnn.errors import SeqrnnError


class RefusedRequest(SeqrnnError):
    """A forecast request this model cannot answer as asked (422): one line naming the series or field."""


def needs_start(model) -> bool:
    """Whether the model reads the calendar, so that each series needs the time stamp of its first value."""
    data = model.config_.data
    return bool(model.vocab_.freq) and data.seasonal_period > 1 and bool(data.calendar)


def time_texts(stamps) -> list[str | int]:
    """Time stamps as the answer gives them: dates when every one is at midnight, else ISO 8601 date
    and time; integer steps as ints."""
    import numpy as np
    import pandas as pd

    stamps = list(stamps)
    if all(isinstance(t, (int, np.integer)) for t in stamps):
        return [int(t) for t in stamps]
    stamps = [pd.Timestamp(t) for t in stamps]
    if all(t == t.normalize() for t in stamps):
        return [t.date().isoformat() for t in stamps]
    return [t.isoformat() for t in stamps]


def forecast_facts(model) -> dict[str, Any]:
    """What `/v1/info` and the page show of a forecaster besides the common facts: its horizon,
    frequency, season, context, samples, whether series need a start, and an example request series
    (the last points of the first series it was trained on, with their start)."""
    from seqrnn.data.timeseries import describe_freq

    data, history = model.config_.data, model.vocab_
    example = None
    if history.series:
        sid, (times, values, _) = next(iter(history.series.items()))
        if values:
            first = times[0]
            example = {"id": sid, "values": [float(v) for v in values],
                       "start": time_texts([first])[0]}
    return {"horizon": data.horizon, "freq": history.freq, "freq_name": describe_freq(history.freq),
            "seasonal_period": data.seasonal_period, "context_length": data.context_length,
            "num_samples": data.num_samples, "needs_start": needs_start(model), "example": example}


def _times(model, i: int, start, n: int, horizon: int, name: str):
    """The `n` time stamps of series `i` from `start` (dates, or int steps), and whether they are the
    client's (False: placeholders of a model whose forecasts do not depend on them)."""
    import numpy as np
    import pandas as pd

    from seqrnn.data.timeseries import describe_freq, freq_offset

    freq = model.vocab_.freq
    where = f"{name}[{i}].start"
    if not freq:  # integer steps
        if isinstance(start, str):
            try:
                start = int(start.strip())
            except ValueError:
                raise RefusedRequest(f"{where} {start!r} is not a whole number: the model counts integer steps, "
                                     "and start is the step number of the first value") from None
        first = 0 if start is None else int(start)
        if abs(first) > 2**52:
            raise RefusedRequest(f"{where} {first} is too large a step number")
        return np.arange(first, first + n, dtype=np.int64), True
    if start is None:
        if needs_start(model):
            raise RefusedRequest(f"{name}[{i}] needs a start: the model reads the calendar ({describe_freq(freq)}, "
                                 f"a season of {model.config_.data.seasonal_period}), so give the time stamp of "
                                 "its first value")
        return pd.date_range(freq_offset(freq).rollforward(pd.Timestamp("2000-01-01")), periods=n, freq=freq), False
    if not isinstance(start, str):
        raise RefusedRequest(f"{where} must be a time stamp such as \"2020-01-01\": the model's series are "
                             f"{describe_freq(freq)}")
    try:
        stamp = pd.Timestamp(start)
    except (ValueError, TypeError, OverflowError):
        raise RefusedRequest(f"{where} {start!r} is not a time stamp (give one such as \"2020-01-01\")") from None
    if stamp is pd.NaT or pd.isna(stamp):
        raise RefusedRequest(f"{where} {start!r} is not a time stamp (give one such as \"2020-01-01\")")
    if stamp.tz is not None:
        raise RefusedRequest(f"{where} {start!r} has a time zone: give the time stamp without one, as the model's "
                             "series were")
    try:
        times = pd.DatetimeIndex(pd.date_range(stamp, periods=n + horizon, freq=freq).astype("datetime64[ns]"))
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise RefusedRequest(f"{where} {start!r}: its series and forecast run past the dates pandas can hold "
                             "(1677-2262)") from None
    if times[0] != stamp:
        raise RefusedRequest(f"{where} {start!r} is not on the model's frequency ({describe_freq(freq)}, {freq}): "
                             f"the nearest after it is {time_texts([times[0]])[0]}")
    return times[:n], True


def forecast_frame(model, series: list, horizon: int, name: str = "series"):
    """The request's series as the long table `Forecaster.predict` reads (columns series, time, target),
    with each one's id as given and whether its times are the client's; `RefusedRequest` for what
    the model cannot take."""
    import numpy as np
    import pandas as pd

    frames, ids, known, seen = [], [], [], {}
    for i, one in enumerate(series):
        values = np.asarray(one.values, dtype=np.float64)
        if len(values) == 0:
            raise RefusedRequest(f"{name}[{i}] has no values: a forecast continues at least 1")
        given = one.id
        key = str(i) if given is None else str(given)
        if key in seen:
            raise RefusedRequest(f"{name}[{i}].id {key!r} is also {name}[{seen[key]}]'s: ids must differ")
        seen[key] = i
        times, real = _times(model, i, one.start, len(values), horizon, name)
        frames.append(pd.DataFrame({"series": key, "time": times, "target": values}))
        ids.append(key if given is None else given)
        known.append(real)
    return pd.concat(frames, ignore_index=True), ids, known


def check_horizon(model, horizon: int | None) -> int:
    """The request's horizon, or the model's; beyond the trained horizon refused as `predict` refuses it."""
    from seqrnn.errors import InvalidInputError
    from seqrnn.tasks import backtest

    trained = model.config_.data.horizon
    try:
        return backtest.check_horizon(trained if horizon is None else horizon, trained)
    except InvalidInputError as exc:
        raise RefusedRequest(str(exc)) from None


COLUMNS = ("mean", "median", "lower_80", "upper_80", "lower_95", "upper_95")


def forecast_records(model, request, name: str = "series") -> dict[str, Any]:
    """The answer to a forecast request (`request.series`, `.horizon`, `.seed`): `{"horizon": H,
    "results": [{"id", "forecast": [{"step", "time", "mean", "median", "lower_80", "upper_80",
    "lower_95", "upper_95"}, ...]}, ...]}`, one result per series in the request's order."""
    horizon = check_horizon(model, request.horizon)
    frame, ids, known = forecast_frame(model, request.series, horizon, name)
    forecast = model.predict(frame, horizon=horizon, seed=request.seed)
    results = []
    for i, key in enumerate(frame["series"].unique()):
        rows = forecast.xs(key, level="series")
        numbers = {column: rows[column].to_numpy().tolist() for column in COLUMNS}
        stamps = time_texts(rows.index) if known[i] else [None] * horizon
        results.append({"id": ids[i], "forecast": [{"step": k + 1, "time": stamps[k],
                                                     **{c: numbers[c][k] for c in COLUMNS}}
                                                    for k in range(horizon)]})
    return {"horizon": horizon, "results": results}
