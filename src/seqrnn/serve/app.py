"""`seqrnn serve`: trained models over HTTP (FastAPI), with limits on every request.

Endpoints (all JSON unless noted):

- `POST /v1/sentiment` `{"texts": [...]}` -> `{"results": [{"label": L, "probability": p,
  "probabilities": {class: p}}, ...]}`, what `seqrnn classify predict --json` prints: L the
  predicted class (IMDb: 0|1), p the probability of L (`classifier.prediction_records`). An empty
  text is a 400 naming its place in "texts".
- `POST /v1/classify` `{"series": [S, ...]}` -> `{"results": [...]}`, the records of `/v1/sentiment`
  for numeric series (`series.prediction_records`): each S a list of numbers (one channel) or a list
  of channels (lists of numbers, one per time point), `null` a missing value. The wrong number of
  channels, channels of different lengths or no time points is a 400 naming the series' index.
- `POST /v1/generate` `{"start", "length", "top_n", "top_p", "temperature", "seed", "num_samples",
  "ignore_unknown", "stream"}` -> `{"texts": [...]}` (each text begins with the start text, as
  `seqrnn charlm sample` prints it); with `"stream": true`, `text/plain` characters as they are
  generated (the same text as without streaming, for the same seed).
- `POST /v1/forecast` `{"series": [{"values": [...], "start": S, "id": I} | [...], ...], "horizon": H,
  "seed": N}` -> `{"horizon": H, "results": [{"id": I, "forecast": [{"step", "time", "mean", "median",
  "lower_80", "upper_80", "lower_95", "upper_95"}, ...]}, ...]}`: `Forecaster.predict`'s numbers for
  each history (`seqrnn.serve.forecasts` says what `start`, `id`, `horizon` and `seed` mean). Every
  refusal is a 422 naming the series' index: a series without values, a value that is not a finite
  number, a start the model needs and lacks or one off its frequency, a repeated id, a horizon
  beyond the trained one.
- `GET /healthz` -> `{"status": "ok", "models": {"sentiment": bool, "charlm": bool, "series": bool,
  "forecast": bool}}`.
- `GET /v1/info` -> `{"version", "models": {name: bool, ...}, "limits": {...}, "about": {name: {...} |
  null, ...}}` for the four models: what this server has loaded, what one request may ask for, and
  each loaded model's facts (`_model_facts`: task, classes, vocabulary size (a series model's: its
  channels, also `channels`; a forecaster's: the series it was trained on), when it was trained, its
  best validation figure; a forecaster's horizon, frequency, season, context, whether a series needs
  its start, and an example series); the page reads it.
- `GET /` -> a self-contained HTML page to try the models (`static/index.html`, package data).

Errors are JSON `{"error": "one line", "detail": ...}`: 400 bad input the model rejects (start
characters it never saw), 404 a model not loaded, 408 a request too slow to arrive, 413 body too
large, 422 a field out of range, whatever the sampler would refuse included (`detail` holds
pydantic's list), 503 too many model calls waiting, too many requests being answered, or every
connection busy (idle connections never count).

Models are loaded once, in `create_app`. Texts longer than `Limits.max_text_chars`, series of more
than `Limits.max_series_values` values and horizons beyond `Limits.max_horizon` are refused (422),
never silently truncated.

No request fails because another one runs: each model call runs in one of the threads of `seqrnn.serve.workers`; slow clients are held to the
bounds of `seqrnn.serve.limits`; `seqrnn.serve.server` runs the app under uvicorn.
"""

import contextlib
import dataclasses
import functools
import importlib.resources
import math
import time
from typing import Annotated

from seqrnn.config import MAX_SEED
from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError
from seqrnn.nn.sampling import DEFAULT_TOP_N, MIN_TEMPERATURE, check_sampling_options
from seqrnn.serve.forecasts import RefusedRequest, forecast_facts, forecast_records
from seqrnn.serve.limits import BodyLimit, ConnectionLimits, Limits, error_response
from seqrnn.serve.workers import STREAM_CHUNK_CHARS, STREAM_CHUNK_SECONDS, Workers, frozen_stepper, generation, sample
from seqrnn.tasks import registry

# each model served: what it is called, and the `seqrnn serve` flag that loads it (the task registry's)
MODELS = {task.name: (task.description, task.serve_option) for task in registry.TASKS.values() if task.serve_option}


def require_fastapi():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise SeqrnnError(f"serving needs FastAPI and uvicorn ({exc.name} is missing): "
                          "pip install 'seqrnn[serve]'") from None


def _load_models(sentiment_dir, charlm_dir, series_dir=None, forecast_dir=None):
    """(classifier, character model, series classifier, forecaster) from their directories (None
    where not given), by the task registry."""
    directories = {"sentiment": sentiment_dir, "charlm": charlm_dir, "series": series_dir, "forecast": forecast_dir}
    if not any(directories.values()):
        options = [f"{MODELS[name][1]} DIR" for name in directories]
        raise SeqrnnError(f"nothing to serve: give {', '.join(options[:-1])} and/or {options[-1]}")
    return tuple(registry.get(name).load(directory) if directory else None for name, directory in directories.items())


def _page_html() -> str:
    """The page at /, shipped as package data next to this module."""
    page = importlib.resources.files("seqrnn.serve").joinpath("static").joinpath("index.html")
    try:
        return page.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeqrnnRuntimeError(f"this installation lacks the page seqrnn/static/index.html: {exc}") from None


# the validation figure a model directory's metrics.jsonl reports, by task: (name, True if higher is better)
VALIDATION_FIGURES = (("accuracy", True), ("bits_per_char", False), ("perplexity", False), ("mase", False),
                      ("loss", False))


def _model_facts(model, directory) -> dict | None:
    """What the page shows of a loaded model: its task, classes (None for a language model), the size
    of its vocabulary, when its weights were written (UTC, ISO 8601) and its best validation figure
    from the directory's metrics.jsonl (None for a model saved without a training run)."""
    import datetime
    import json
    from pathlib import Path

    if model is None:
        return None
    folder = Path(directory)
    weights = folder / "model.safetensors"
    trained = (datetime.datetime.fromtimestamp(weights.stat().st_mtime, datetime.timezone.utc)
               .isoformat(timespec="seconds") if weights.exists() else None)
    records = []
    with contextlib.suppress(OSError, ValueError):
        for line in (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else {}
            if isinstance(record, dict) and record.get("type") == "val":
                records.append(record)
    validation = None
    for name, higher in VALIDATION_FIGURES:
        values = [r[name] for r in records if isinstance(r.get(name), (int, float))]
        if values:
            validation = {"name": name, "value": max(values) if higher else min(values), "epochs": records[-1].get("epoch")}
            break
    classes = getattr(model, "classes_", None)
    facts = {"task": model.task, "classes": None if classes is None else [c.item() if hasattr(c, "item") else c
                                                                           for c in classes],
             "vocab_size": len(model.vocab_), "trained": trained, "validation": validation,
             "preset": getattr(model, "preset", None)}
    if model.task == "series":  # its "vocabulary" is its channels (`SeriesScaling`)
        facts["channels"] = len(model.vocab_)
    if model.task == "forecast":  # its "vocabulary" is the series it was trained on (`SeriesHistory`)
        facts.update(forecast_facts(model))
    return facts


def _request_models(limits: Limits):
    """Pydantic request bodies whose bounds come from `limits`, and the `GET /v1/info` response."""
    from pydantic import (
        AliasChoices,
        BaseModel,
        ConfigDict,
        Field,
        StringConstraints,
        field_validator,
        model_validator,
    )

    class SentimentRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[Annotated[str, StringConstraints(max_length=limits.max_text_chars)]] = Field(
            min_length=1, max_length=limits.max_texts,
            description=f"1 to {limits.max_texts} reviews of at most {limits.max_text_chars} characters each")

    # a value of a series: a finite number, or null for a missing one (strict: no strings, no booleans)
    Value = Annotated[float, Field(strict=True, allow_inf_nan=False)] | None

    class ClassifyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        series: list[list[Value] | list[list[Value]]] = Field(
            min_length=1, max_length=limits.max_series,
            description=f"1 to {limits.max_series} series, each a list of numbers (one channel) or a list of "
                        f"channels (lists of numbers, one per time point); null: a missing value; at most "
                        f"{limits.max_series_values} values per series")

        @field_validator("series", mode="before")
        @classmethod
        def _series_are_numbers_within_the_limit(cls, value):
            """One clear line for the first series of the wrong form, before pydantic's union errors; the
            values counted before they are validated one by one."""
            if not isinstance(value, list) or len(value) > limits.max_series:
                return value  # pydantic's own message (not a list, too many series)
            for i, one in enumerate(value):
                if not isinstance(one, list):
                    raise ValueError(f"series[{i}] must be a list of numbers or a list of channels, "
                                     f"not {type(one).__name__}")
                nested = [isinstance(c, list) for c in one]
                if any(nested) and not all(nested):
                    raise ValueError(f"series[{i}] mixes numbers and lists: give a list of numbers (one channel) "
                                     "or a list of channels")
                channels = one if any(nested) else [one]
                count = sum(len(c) for c in channels)
                if count > limits.max_series_values:
                    raise ValueError(f"series[{i}] has {count} values, more than the {limits.max_series_values} "
                                     "a series may have")
                for c, channel in enumerate(channels):
                    for t, x in enumerate(channel):
                        if x is None:
                            continue
                        where = f"series[{i}]" + (f"[{c}]" if any(nested) else "") + f"[{t}]"
                        if isinstance(x, bool) or not isinstance(x, (int, float)):
                            raise ValueError(f"{where} is {type(x).__name__}, not a number or null")
                        if isinstance(x, float) and not math.isfinite(x):
                            raise ValueError(f"{where} is not finite: null marks a missing value")
            return value

    class ForecastSeries(BaseModel):
        model_config = ConfigDict(extra="forbid")
        values: list[Annotated[float, Field(strict=True, allow_inf_nan=False)]] = Field(
            description="the history, oldest first: finite numbers")
        start: str | Annotated[int, Field(strict=True)] | None = Field(
            None, description="the time stamp of the first value (ISO 8601; a step number for a model of integer "
                              "steps); needed by a model that reads the calendar")
        id: Annotated[str, StringConstraints(max_length=200)] | Annotated[int, Field(strict=True)] | None = Field(
            None, description="the series' name in the answer (default: its index)")

    class ForecastRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        series: list[ForecastSeries] = Field(
            min_length=1, max_length=limits.max_series,
            description=f"1 to {limits.max_series} series, each an object (values, start, id) or a list of values; "
                        f"at most {limits.max_series_values} values per series")
        horizon: int | None = Field(None, ge=1, le=limits.max_horizon, strict=True,
                                    description="steps to forecast (default and most: the model's horizon)")
        seed: int | None = Field(None, ge=0, le=MAX_SEED, strict=True,
                                 description="seeds the sample paths (default: the model's seed, as predict)")

        @field_validator("series", mode="before")
        @classmethod
        def _series_are_numbers_within_the_limit(cls, value):
            """One clear line for the first series of the wrong form, naming its index; a list of numbers
            is the object with only its values."""
            if not isinstance(value, list) or len(value) > limits.max_series:
                return value  # pydantic's own message (not a list, too many series)
            shaped = []
            for i, one in enumerate(value):
                if isinstance(one, list):
                    one = {"values": one}
                if not isinstance(one, dict):
                    raise ValueError(f"series[{i}] must be an object with values (or a list of numbers), "
                                     f"not {type(one).__name__}")
                values = one.get("values")
                if not isinstance(values, list):
                    raise ValueError(f"series[{i}].values must be a list of numbers, "
                                     f"not {'missing' if values is None else type(values).__name__}")
                if len(values) > limits.max_series_values:
                    raise ValueError(f"series[{i}] has {len(values)} values, more than the "
                                     f"{limits.max_series_values} a series may have")
                if not values:
                    raise ValueError(f"series[{i}] has no values: a forecast continues at least 1")
                for t, x in enumerate(values):
                    if x is None:
                        raise ValueError(f"series[{i}].values[{t}] is null: a forecast takes no missing values "
                                         "(fill them first)")
                    if isinstance(x, bool) or not isinstance(x, (int, float)):
                        raise ValueError(f"series[{i}].values[{t}] is {type(x).__name__}, not a number")
                    if isinstance(x, float) and not math.isfinite(x):
                        raise ValueError(f"series[{i}].values[{t}] is not finite")
                shaped.append(one)
            return shaped

    class GenerateRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        start: str = Field("The ", min_length=1, max_length=limits.max_start_chars,
                           description="text that primes the model; the result begins with it")
        length: int = Field(200, ge=1, le=limits.max_length, description="characters to generate")
        top_n: int | None = Field(None, ge=0, validation_alias=AliasChoices("top_n", "top_k"),
                                  description=f"keep the n most probable characters (omitted or null: "
                                              f"{DEFAULT_TOP_N} unless top_p is given; 0 or more than the alphabet: "
                                              "all)")
        top_p: float | None = Field(None, gt=0.0, le=1.0, allow_inf_nan=False,
                                    description="nucleus sampling: the smallest set with probability >= top_p")
        temperature: float = Field(1.0, ge=0.0, allow_inf_nan=False,
                                   description=f"0 = greedy, else at least {MIN_TEMPERATURE:g}")
        seed: int | None = Field(None, ge=0, lt=2**64, description="same model, seed and options: same text")
        num_samples: int = Field(1, ge=1, le=limits.max_num_samples)
        ignore_unknown: bool = Field(False, description="drop start characters the model never saw")
        stream: bool = Field(False, description="text/plain, characters as they are generated (num_samples 1)")

        @field_validator("temperature")
        @classmethod
        def _temperature_is_not_tiny(cls, value: float) -> float:
            if 0 < value < MIN_TEMPERATURE:  # the shared check's rule: a 422 naming the field, not a 400
                raise ValueError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE:g}")
            return value

        @model_validator(mode="after")
        def _stream_has_one_sample(self):
            if self.stream and self.num_samples != 1:
                raise ValueError(f"stream needs num_samples 1, got {self.num_samples}")
            try:  # whatever else the sampler refuses is an out-of-range field too (422), never a 400
                check_sampling_options(length=self.length, temperature=self.temperature, top_n=self.top_n,
                                       top_p=self.top_p, num_samples=self.num_samples)
            except SeqrnnError as exc:
                raise ValueError(str(exc)) from None
            return self

    class ModelsLoaded(BaseModel):
        sentiment: bool
        charlm: bool
        series: bool
        forecast: bool

    class RequestLimits(BaseModel):
        max_body_bytes: int
        max_texts: int
        max_text_chars: int
        max_start_chars: int
        max_length: int
        max_num_samples: int
        max_series: int
        max_series_values: int
        max_horizon: int

    class Validation(BaseModel):
        name: str
        value: float
        epochs: int | None = None

    class ModelFacts(BaseModel):
        task: str
        classes: list[str | int | float | bool] | None
        vocab_size: int
        trained: str | None
        validation: Validation | None
        preset: str | None = None
        channels: int | None = Field(None, description="a series model's channels")
        horizon: int | None = Field(None, description="a forecaster's horizon (the most a request may ask)")
        freq: str | None = Field(None, description="a forecaster's frequency (pandas alias; \"\": integer steps)")
        freq_name: str | None = Field(None, description="the frequency in words")
        seasonal_period: int | None = Field(None, description="a forecaster's season, in steps")
        context_length: int | None = Field(None, description="the values a forecaster reads before forecasting")
        num_samples: int | None = Field(None, description="sample paths per forecast")
        needs_start: bool | None = Field(None, description="whether each series needs its start (the calendar)")
        example: dict | None = Field(None, description="a series to try the forecaster on (values, start, id)")

    class About(BaseModel):
        sentiment: ModelFacts | None
        charlm: ModelFacts | None
        series: ModelFacts | None
        forecast: ModelFacts | None

    class Info(BaseModel):
        version: str
        models: ModelsLoaded
        limits: RequestLimits
        about: About

    return SentimentRequest, GenerateRequest, Info, ClassifyRequest, ForecastRequest


def _validation_summary(errors) -> tuple[str, list]:
    """One line naming the offending fields, and pydantic's errors without echoed input."""
    from fastapi.encoders import jsonable_encoder

    cleaned, parts = [], []
    for err in errors:
        err = {k: v for k, v in err.items() if k not in ("input", "url")}
        cleaned.append(err)
        if err.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'decode error')})")
            continue
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")  # our validators' own lines
        parts.append(f"{'.'.join(loc) or 'body'}: {message}")
    summary = "; ".join(parts[:3]) + (f" (and {len(parts) - 3} more)" if len(parts) > 3 else "")
    return summary, jsonable_encoder(cleaned)


def create_app(sentiment_dir=None, charlm_dir=None, limits: Limits = Limits(),
               connection_limits: ConnectionLimits = ConnectionLimits(),
               series_dir=None, forecast_dir=None) -> "fastapi.FastAPI":  # noqa: F821
    """A FastAPI app serving the models in the given directories (at least one). Of
    `connection_limits`, the app enforces the body timeout; the server (`serve_command`) the rest."""
    clf, lm, series, forecaster = _load_models(sentiment_dir, charlm_dir, series_dir, forecast_dir)
    require_fastapi()
    from fastapi import FastAPI, HTTPException
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from seqrnn import __version__

    SentimentRequest, GenerateRequest, Info, ClassifyRequest, ForecastRequest = _request_models(limits)
    page_html = _page_html()
    loaded = {"sentiment": clf is not None, "charlm": lm is not None, "series": series is not None,
              "forecast": forecaster is not None}
    about = {"sentiment": _model_facts(clf, sentiment_dir), "charlm": _model_facts(lm, charlm_dir),
             "series": _model_facts(series, series_dir), "forecast": _model_facts(forecaster, forecast_dir)}
    info = Info(version=__version__, models=loaded, limits=dataclasses.asdict(limits), about=about)
    # the threads of the model calls, each with its own kit: a copy of each classifier (PyTorch's
    # recurrent modules rewrite their state on every call), and the read-only step all generations share
    import copy

    stepper = lm and frozen_stepper(lm)
    kits = [{"sentiment": clf if k == 0 else copy.deepcopy(clf), "charlm": (lm, stepper),
             "series": series if k == 0 else copy.deepcopy(series),
             "forecast": forecaster if k == 0 else copy.deepcopy(forecaster)}
            for k in range(limits.max_concurrency)]
    workers = Workers(kits, limits.max_queue)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        workers.close()

    app = FastAPI(title="seqrnn", version=__version__, lifespan=lifespan,
                  description="Sentiment classification, character-level text generation, numeric series "
                              "classification and forecasting with recurrent networks.")
    app.state.sentiment, app.state.charlm, app.state.limits, app.state.workers = clf, lm, limits, workers
    app.state.series, app.state.forecast = series, forecaster
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, timeout=connection_limits.body_timeout,
                       max_requests=connection_limits.limit_concurrency)

    @app.exception_handler(SeqrnnError)
    async def _seqrnn_error(request, exc: SeqrnnError):
        status = 500 if isinstance(exc, SeqrnnRuntimeError) else 422 if isinstance(exc, RefusedRequest) else 400
        return error_response(status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        summary, detail = _validation_summary(exc.errors())
        return error_response(422, summary, detail)

    def require(name: str):
        model = getattr(app.state, name)
        if model is None:
            what, flag = MODELS[name]
            raise HTTPException(404, f"no {what} is loaded (start the server with {flag} DIR)")
        return model

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "models": loaded}

    @app.get("/v1/info")
    async def get_info() -> Info:
        return info

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(page_html)

    @app.post("/v1/sentiment")
    async def sentiment(request: SentimentRequest) -> dict:
        require("sentiment")
        from seqrnn.tasks.classifier import prediction_records

        return {"results": await workers.run("sentiment", prediction_records, request.texts)}

    @app.post("/v1/classify")
    async def classify(request: ClassifyRequest) -> dict:
        require("series")
        from seqrnn.tasks.series import prediction_records

        return {"results": await workers.run("series", functools.partial(prediction_records, name="series"),
                                             request.series)}

    @app.post("/v1/forecast")
    async def forecast(request: ForecastRequest) -> dict:
        require("forecast")
        return await workers.run("forecast", forecast_records, request)

    @app.post("/v1/generate", responses={200: {"content": {"text/plain": {}}}})
    async def generate(request: GenerateRequest):
        model = require("charlm")
        run = functools.partial(workers.run, "charlm")
        if not request.stream:
            return {"texts": await run(sample, request)}

        prefix, steps = generation(model, stepper, request)  # 400 if the start text is unknown

        def chunk() -> str:
            out, began = [], time.monotonic()
            for step in steps:
                out.append(step[0])
                if len(out) >= STREAM_CHUNK_CHARS or time.monotonic() - began >= STREAM_CHUNK_SECONDS:
                    break
            return "".join(out)

        first = prefix + await run(lambda _: chunk())  # errors so far still get a JSON status

        async def body():  # a stream cut short leaves its steps to the garbage collector: nothing to release
            yield first
            while piece := await run(lambda _: chunk(), check=False):
                yield piece

        return StreamingResponse(body(), media_type="text/plain; charset=utf-8",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return app


