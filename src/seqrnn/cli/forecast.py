"""`seqrnn forecast train | predict | evaluate`: the forecaster's commands (`seqrnn.tasks.forecast`)."""

from __future__ import annotations

import json
import time

from seqrnn.cli.common import (
    Args,
    load_for_inference,
    print_summary,
    task_estimator,
    train_params,
)

_FORECAST_COLUMNS = ("time_column", "target", "series_column", "covariates", "freq")


def _read_series(args: Args, saved: dict | None = None, future: bool = False):
    """The series --data names, read with the columns given on the command line, else those the model
    was trained with (`saved`, what `forecast train` recorded); `future`: the rows after each series'
    last target (the target blank) are kept apart, the covariates of the steps to forecast."""
    from seqrnn.data.forecast_files import read_forecast_data

    options = {name: getattr(args, name) for name in _FORECAST_COLUMNS}
    for name, value in (saved or {}).items():
        if options.get(name) is None and name in _FORECAST_COLUMNS:
            options[name] = value
    options = {k: v for k, v in options.items() if v is not None}
    if future:
        options["future"] = True
    if "target" not in options:
        return read_forecast_data(args.data, **options)
    # read_forecast_data's first parameter is also named target: a chosen target reads the file itself
    from pathlib import Path

    from seqrnn.data.datasets import FORECAST_DATASETS, locate_forecast
    from seqrnn.data.forecast_files import read_forecast_file

    dataset = FORECAST_DATASETS.get(str(args.data)) if not Path(args.data).exists() else None
    if dataset is None:
        return read_forecast_file(args.data, **options)
    return read_forecast_file(locate_forecast(dataset.name), **{"time_column": dataset.time_column,
                                                                "freq": dataset.freq, **options})


def forecast_train(args: Args) -> int:
    """Train on the series of --data; the model directory records the columns and frequency read."""
    from seqrnn.training.runtime import interrupts_raise

    started = time.perf_counter()
    with interrupts_raise("reading the data"):
        table = _read_series(args)
    columns = {name: getattr(args, name) for name in _FORECAST_COLUMNS if getattr(args, name) is not None}
    columns["freq"] = table.freq
    estimator_class = task_estimator(args)
    model = estimator_class(args.preset, **train_params(estimator_class, args, started))
    model.fit(table, out_dir=args.out, resume=args.resume, source=args.data, columns=columns)
    print_summary(model, args.out, "MASE {mase:.4f}")
    return 0


def forecast_predict(args: Args) -> int:
    """The forecasts into --out (CSV: one row per series and future time stamp); --plot draws them."""
    from pathlib import Path

    from seqrnn.errors import SeqrnnError
    from seqrnn.nn.explain import check_png_path
    from seqrnn.tasks.backtest import plot_forecasts

    if Path(args.out).exists() and not args.force:
        raise SeqrnnError(f"{args.out} exists: give `force` to replace it")
    if args.plot is not None:
        check_png_path(args.plot, "plot")
    model = load_for_inference(args)
    table = _read_series(args, model.vocab_.columns, future=True) if args.data else None
    forecast = model.predict(table, horizon=args.horizon)
    forecast.reset_index().to_csv(args.out, index=False)
    print(f"wrote {len(forecast):,} forecasts of {forecast.index.get_level_values('series').nunique():,} series "
          f"to {args.out}")
    if args.plot is not None:
        plot_forecasts((table or model.vocab_.table()).frame, forecast, args.plot)
        print(f"drawn in {args.plot}")
    return 0


def forecast_evaluate(args: Args) -> int:
    """The backtest table, model vs naive vs seasonal naive, or --json one object; --plot draws the last
    window's forecasts beside the actual values."""
    from seqrnn.nn.explain import check_png_path
    from seqrnn.tasks.backtest import plot_forecasts

    if args.plot is not None:
        check_png_path(args.plot, "plot")
    model = load_for_inference(args)
    table = _read_series(args, model.vocab_.columns, future=True)
    result = model.evaluate(table, horizon=args.horizon, windows=args.windows)
    record = {method: {k: (None if v != v else v) for k, v in row.items()}
              for method, row in result.to_dict(orient="index").items()}
    if args.plot is not None:
        horizon = args.horizon or model.config_.data.horizon
        frame = table.frame
        back = frame.groupby("series", sort=False).cumcount(ascending=False)
        past = frame.assign(target=frame["target"].where(back >= horizon))  # the covariates stay: known
        plot_forecasts(frame[["series", "time", "target"]], model.predict(past, horizon=horizon), args.plot)
        record["plot"] = args.plot
    if args.json:
        print(json.dumps(record))
        return 0
    shown = result.copy()
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.plot is not None:
        print(f"\nthe last window drawn in {args.plot}")
    return 0
