"""`seqrnn serve`: trained models over HTTP (FastAPI), with limits on every request.

Endpoints (all JSON unless noted):

- `POST /v1/sentiment` `{"texts": [...]}` -> `{"results": [{"label": L, "probability": p,
  "probabilities": {class: p}}, ...]}`, what `seqrnn classify predict --json` prints: L the
  predicted class (IMDb: 0|1), p the probability of L (`classifier.prediction_records`). An empty
  text is a 400 naming its place in "texts".
- `POST /v1/generate` `{"start", "length", "top_n", "top_p", "temperature", "seed", "num_samples",
  "ignore_unknown", "stream"}` -> `{"texts": [...]}` (each text begins with the start text, as
  `seqrnn charlm sample` prints it); with `"stream": true`, `text/plain` characters as they are
  generated (the same text as without streaming, for the same seed).
- `GET /healthz` -> `{"status": "ok", "models": {"sentiment": bool, "charlm": bool}}`.
- `GET /v1/info` -> `{"version", "models": {"sentiment": bool, "charlm": bool}, "limits": {...}}`: what
  this server has loaded and what one request may ask for (the page reads it).
- `GET /` -> a self-contained HTML page to try both models (`static/index.html`, package data).

Errors are JSON `{"error": "one line", "detail": ...}`: 400 bad input the model rejects (start
characters it never saw), 404 a model not loaded, 408 a request too slow to arrive, 413 body too
large, 422 a field out of range (`detail` holds pydantic's list), 503 too many requests waiting or
connections open.

Models are loaded once, in `create_app`. Texts longer than `Limits.max_text_chars` are refused
(422), never silently truncated.

No request fails because another one runs. Model calls are CPU-bound, so they run in threads and the
event loop stays responsive: `Limits.max_concurrency` threads (`_Workers`), one queue for all calls,
first come first served (a free thread takes the next call as soon as it returns; `Limits.max_queue`
calls may wait beyond those running, more get a 503). Each thread has its own kit of the models:

- its own copy of the classifier (deep copies, made when the server starts), so no copy is ever
  called by two threads at once: PyTorch's recurrent modules rewrite their state (`_flat_weights`)
  on every call, and two calls on one module at once can fail.
- the NumPy sampler's step (`sampling.RecurrentStepper`), shared by all: built once when the server
  starts and made read-only (`_frozen_stepper`), each generation with its own state; the PyTorch
  character model is never called. The texts are those `CharLanguageModel.sample` gives (building
  the step took 4 ms of a 9 ms generation of 50 characters with a default-size model).

Why this design: measured with `benchmarks/serve.py --workers 1 --requests 600 --batch-requests 40
--mixed-requests 600` on 2 cores shared with other work (figures moved by up to 30 % between runs;
c: concurrent clients; "the mix": single reviews, generations and streams):

- against the same threads sharing one classifier (which answered up to 12 of 600 requests with a
  500 at c=8 or 32), default-size models, two runs each: the mix at c=32 68-69 vs 59-63
  requests/s, p99 1.19-1.24 vs 1.36-1.46 s; 1 review at c=32 128-160 vs 139-182 requests/s (p99
  253-288 vs 199-276 ms); 64 reviews at c=8 8.2-8.3 vs 8.1 requests/s. Tiny models: 0.83-1.27
  times the requests/s, in no consistent direction.
- one classifier thread (a lock, or one worker per model) leaves a core idle: 64 reviews at c=8
  8.7-8.8 vs 15.6-15.7 requests/s, 1 review at c=8 158-218 vs 239-268, when the second core was free.
- threads of their own for each model (two classifier threads, two generation threads): four busy
  threads on two cores; in the mix at c=32, p99 2.3-2.5 s (streams waited) vs 1.1-1.3 s in one pool.
- a lock awaited in the event loop: between two calls the next one waits for the event loop;
  1 review at c=8 88 vs 209 requests/s.
- batching the reviews that wait into one call: an answer would depend on the other requests
  (sums in another order: 10 of 512 reviews alone and in batches of 16 differed in the 6th
  decimal, default size), and it was no faster (1 review at c=32, 49 vs 79 requests/s for a lock).

Slow clients cannot hold connections (`ConnectionLimits`, `seqrnn serve` flags; each server process
counts its own connections):

- `--timeout-headers S` (10): a request's headers must arrive within S seconds of the connection
  opening or of the previous response, or the connection is closed (408 if part of a request came).
  uvicorn has no such bound; `_GuardedH11Protocol`, its h11 protocol with a timer, adds it.
- `--timeout-body S` (30): a request body must arrive within S seconds of its headers, or 408 and
  the connection is closed (`_BodyLimit`); a client that reads nothing of a response for S seconds
  while the server has more to send is disconnected (the protocol's timer on paused writing).
- `--timeout-keep-alive S` (5): an idle keep-alive connection is closed (uvicorn's own; the header
  timeout closes it too, so the smaller of the two applies).
- `--limit-concurrency N` (100): a request arriving while N connections are open or N requests
  are in progress is answered 503 (uvicorn's own, plain text) and its connection closed.
- `--max-connections N` (200): a connection beyond N open ones is sent a 503 and closed at once,
  before anything is read from it: the bound on file descriptors.
- `--workers N` (1): N server processes share the listening socket, each with its own models.

Each model call runs on `--threads` threads (default 1; torch's and the BLAS's under NumPy's
sampler): calls run side by side instead (`Limits.max_concurrency` of them, in each worker). The
libraries' default, a thread per core for every call, made each call 10-25 times slower on 2 busy
cores (the threads of concurrent calls wait on each other, spinning).
"""

import contextlib
import dataclasses
import functools
import importlib.resources
import inspect
import ipaddress
import json
import math
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError
from seqrnn.nn.sampling import DEFAULT_TOP_N
from seqrnn.tasks import registry

STREAM_CHUNK_CHARS = 256  # a streamed chunk ends after this many characters ...
STREAM_CHUNK_SECONDS = 0.05  # ... or after this long, whichever comes first
# each model served: what it is called, and the `seqrnn serve` flag that loads it (the task registry's)
_MODELS = {task.name: (task.description, task.serve_option) for task in registry.TASKS.values() if task.serve_option}


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many model calls run at once."""

    max_body_bytes: int = 1_000_000  # larger request bodies: 413
    max_texts: int = 256  # texts per sentiment request
    max_text_chars: int = 100_000  # characters per text (longer: 422, not truncated)
    max_start_chars: int = 10_000  # characters of generation start text
    max_length: int = 5_000  # characters generated per sample
    max_num_samples: int = 16  # samples per generation request
    max_concurrency: int = 2  # model calls running at once (threads, each with a copy of the classifier)
    max_queue: int = 32  # calls of one model waiting beyond those running; more: 503

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            least = 0 if field.name == "max_queue" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SeqrnnError(f"Limits.{field.name} must be an integer >= {least}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many connections a server process keeps (see the module doc)."""

    header_timeout: float = 10.0  # seconds for a request's headers, from connecting or the previous response
    body_timeout: float = 30.0  # seconds for a request's body after its headers; for a stalled response reader
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    limit_concurrency: int = 100  # open connections (or requests in progress) beyond which requests get 503
    max_connections: int = 200  # open connections beyond which a new one is closed at once

    FLAGS = {"header_timeout": "--timeout-headers", "body_timeout": "--timeout-body",
             "keep_alive_timeout": "--timeout-keep-alive", "limit_concurrency": "--limit-concurrency",
             "max_connections": "--max-connections"}  # the `seqrnn serve` flag of each field

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value, name = getattr(self, field.name), f"{self.FLAGS[field.name]} ({field.name})"
            if field.type in (int, "int"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise SeqrnnError(f"{name} must be an integer >= 1, got {value!r}")
            elif (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
                  or value <= 0):
                raise SeqrnnError(f"{name} must be a number of seconds > 0, got {value!r}")


def _require_fastapi():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise SeqrnnError(f"serving needs FastAPI and uvicorn ({exc.name} is missing): "
                          "pip install 'seqrnn[serve]'") from None


def _load_models(sentiment_dir, charlm_dir):
    """(classifier, character model) from their directories (None where not given), by the task registry."""
    directories = {"sentiment": sentiment_dir, "charlm": charlm_dir}
    if not any(directories.values()):
        options = " and/or ".join(f"{_MODELS[name][1]} DIR" for name in directories)
        raise SeqrnnError(f"nothing to serve: give {options}")
    return tuple(registry.get(name).load(directory) if directory else None for name, directory in directories.items())


def _page_html() -> str:
    """The page at /, shipped as package data next to this module."""
    page = importlib.resources.files("seqrnn.serve").joinpath("static").joinpath("index.html")
    try:
        return page.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeqrnnRuntimeError(f"this installation lacks the page seqrnn/static/index.html: {exc}") from None


def _request_models(limits: Limits):
    """Pydantic request bodies whose bounds come from `limits`, and the `GET /v1/info` response."""
    from pydantic import (
        AliasChoices,
        BaseModel,
        ConfigDict,
        Field,
        StringConstraints,
        model_validator,
    )

    class SentimentRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[Annotated[str, StringConstraints(max_length=limits.max_text_chars)]] = Field(
            min_length=1, max_length=limits.max_texts,
            description=f"1 to {limits.max_texts} reviews of at most {limits.max_text_chars} characters each")

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
        temperature: float = Field(1.0, ge=0.0, allow_inf_nan=False, description="0 = greedy")
        seed: int | None = Field(None, ge=0, lt=2**64, description="same model, seed and options: same text")
        num_samples: int = Field(1, ge=1, le=limits.max_num_samples)
        ignore_unknown: bool = Field(False, description="drop start characters the model never saw")
        stream: bool = Field(False, description="text/plain, characters as they are generated (num_samples 1)")

        @model_validator(mode="after")
        def _stream_has_one_sample(self):
            if self.stream and self.num_samples != 1:
                raise ValueError(f"stream needs num_samples 1, got {self.num_samples}")
            return self

    class ModelsLoaded(BaseModel):
        sentiment: bool
        charlm: bool

    class RequestLimits(BaseModel):
        max_body_bytes: int
        max_texts: int
        max_text_chars: int
        max_start_chars: int
        max_length: int
        max_num_samples: int

    class Info(BaseModel):
        version: str
        models: ModelsLoaded
        limits: RequestLimits

    return SentimentRequest, GenerateRequest, Info


class _BodyLimit:
    """ASGI middleware: read the whole request body before the app sees it, refusing bodies over
    `max_bytes` (413) and bodies that do not arrive within `timeout` seconds of the headers (408).
    Both answers close the connection: the rest of the body is never read."""

    def __init__(self, app, max_bytes: int, timeout: float = ConnectionLimits.body_timeout):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope, receive, send):
        import anyio

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return await _error_response(400, "invalid Content-Length header", close=True)(scope, receive, send)
            if size > self.max_bytes:
                return await self._too_large(scope, receive, send)
        chunks, total = [], 0  # chunked bodies (or a lying header): count while reading
        with anyio.move_on_after(self.timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body = message.get("body", b"")
                total += len(body)
                if total > self.max_bytes:
                    return await self._too_large(scope, receive, send)
                chunks.append(body)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            response = _error_response(408, f"the request body did not arrive within {self.timeout:g} s", close=True)
            return await response(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send):
        response = _error_response(413, f"request body is larger than {self.max_bytes} bytes", close=True)
        return await response(scope, receive, send)


def _error_response(status: int, message: str, detail: Any = None, headers=None, close: bool = False):
    from fastapi.responses import JSONResponse

    if close:  # the request was not read to its end: the connection cannot carry another one
        headers = {**(headers or {}), "Connection": "close"}
    return JSONResponse({"error": message, "detail": message if detail is None else detail}, status_code=status,
                        headers=headers)


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
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid')}")
    summary = "; ".join(parts[:3]) + (f" (and {len(parts) - 3} more)" if len(parts) > 3 else "")
    return summary, jsonable_encoder(cleaned)


class _Workers:
    """The threads that run model calls, each with its own kit of the models for good: a dict of what
    each model's calls get (`kits`, one per thread). A kit is used by its thread only; what calls
    only read may be shared by all kits.

    Calls wait in one queue, first come first served, and run on the first free thread, which takes
    the next one as soon as it returns (no round trip through the event loop). A call is refused
    (503) when `max_queue` calls already wait beyond those running; a call whose request is cancelled
    before it starts never runs.
    """

    def __init__(self, kits: list[dict], max_queue: int):
        import concurrent.futures
        import queue
        import threading

        self.kits, self.max_queue = list(kits), max_queue
        self._unclaimed = queue.SimpleQueue()
        for kit in self.kits:
            self._unclaimed.put(kit)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._in_flight = 0  # calls submitted and not done: running or waiting
        self._pool = concurrent.futures.ThreadPoolExecutor(len(self.kits), thread_name_prefix="seqrnn-model",
                                                           initializer=self._claim)

    def _claim(self) -> None:  # a new thread takes its kit (as many threads as kits, each started once)
        self._local.kit = self._unclaimed.get_nowait()

    def _call(self, name: str, fn: Callable, args: tuple):
        return fn(self._local.kit[name], *args)

    def _done(self, _future) -> None:
        with self._lock:
            self._in_flight -= 1

    async def run(self, name: str, fn: Callable, *args, check: bool = True):
        """`fn(model, *args)` on one of the threads, `model` its kit's `name`: the result, or the
        exception. With `check`, a 503 first if the queue is full."""
        import asyncio

        from fastapi import HTTPException

        with self._lock:
            if check and self._in_flight >= len(self.kits) + self.max_queue:
                raise HTTPException(503, "the server is busy; try again shortly", headers={"Retry-After": "1"})
            self._in_flight += 1
        future = self._pool.submit(self._call, name, fn, args)
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _frozen_stepper(lm):
    """The NumPy sampler's step for a character model (`sampling.RecurrentStepper`), built once and
    made read-only: generations share it, each with its own state, in as many threads as run them
    (a write to it would raise instead of changing another generation's text)."""
    import numpy as np

    from seqrnn.nn.sampling import RecurrentStepper

    stepper = RecurrentStepper(lm.model_)
    for value in vars(stepper).values():
        for array in value if isinstance(value, list) else [value]:
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
    return stepper


def _generation(lm, stepper, request) -> tuple[str, Iterator[list[str]]]:
    """(the start text as the model reads it, the steps): `lm.sample_stream` with the request's
    options, on the shared `stepper`. A start text with unknown characters is a `SeqrnnError` (400)."""
    steps = lm.sample_stream(request.length, request.start, top_n=request.top_n, top_p=request.top_p,
                             temperature=request.temperature, seed=request.seed, num_samples=request.num_samples,
                             ignore_unknown=request.ignore_unknown, stepper=stepper)
    return lm.vocab_.decode(lm.start_ids(request.start, request.ignore_unknown)), steps


def _sample(model: tuple, request) -> list[str]:
    """The request's texts, each beginning with the start text: `lm.sample`'s, on the shared `stepper`
    (`model` is `(lm, stepper)`)."""
    prefix, steps = _generation(*model, request)
    pieces = [[] for _ in range(request.num_samples)]
    for step in steps:
        for piece, char in zip(pieces, step):
            piece.append(char)
    return [prefix + "".join(piece) for piece in pieces]


def create_app(sentiment_dir=None, charlm_dir=None, limits: Limits = Limits(),
               connection_limits: ConnectionLimits = ConnectionLimits()) -> "fastapi.FastAPI":  # noqa: F821
    """A FastAPI app serving the models in the given directories (at least one). Of
    `connection_limits`, the app enforces the body timeout; the server (`serve_command`) the rest."""
    clf, lm = _load_models(sentiment_dir, charlm_dir)
    _require_fastapi()
    from fastapi import FastAPI, HTTPException
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from seqrnn import __version__

    SentimentRequest, GenerateRequest, Info = _request_models(limits)
    page_html = _page_html()
    loaded = {"sentiment": clf is not None, "charlm": lm is not None}
    info = Info(version=__version__, models=loaded, limits=dataclasses.asdict(limits))
    # the threads of the model calls, each with its own kit: a copy of the classifier (PyTorch's
    # recurrent modules rewrite their state on every call), and the read-only step all generations share
    import copy

    stepper = lm and _frozen_stepper(lm)
    kits = [{"sentiment": clf if k == 0 else copy.deepcopy(clf), "charlm": (lm, stepper)}
            for k in range(limits.max_concurrency)]
    workers = _Workers(kits, limits.max_queue)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        workers.close()

    app = FastAPI(title="seqrnn", version=__version__, lifespan=lifespan,
                  description="Sentiment classification and character-level text generation with recurrent networks.")
    app.state.sentiment, app.state.charlm, app.state.limits, app.state.workers = clf, lm, limits, workers
    app.add_middleware(_BodyLimit, max_bytes=limits.max_body_bytes, timeout=connection_limits.body_timeout)

    @app.exception_handler(SeqrnnError)
    async def _seqrnn_error(request, exc: SeqrnnError):
        return _error_response(500 if isinstance(exc, SeqrnnRuntimeError) else 400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        return _error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        summary, detail = _validation_summary(exc.errors())
        return _error_response(422, summary, detail)

    def require(name: str):
        model = getattr(app.state, name)
        if model is None:
            what, flag = _MODELS[name]
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

    @app.post("/v1/generate", responses={200: {"content": {"text/plain": {}}}})
    async def generate(request: GenerateRequest):
        model = require("charlm")
        run = functools.partial(workers.run, "charlm")
        if not request.stream:
            return {"texts": await run(_sample, request)}

        prefix, steps = _generation(model, stepper, request)  # 400 if the start text is unknown

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


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket, or a one-line error (address in use, unknown host)."""
    if not 0 <= port <= 65535:
        raise SeqrnnError(f"--port must be in 0..65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise SeqrnnError(f"cannot resolve --host {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise SeqrnnRuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _raw_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response that closes the connection, for answers given outside any request."""
    body = json.dumps({"error": message, "detail": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode("ascii") + body


try:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol as _H11Protocol
except ImportError:  # no uvicorn: serve_command says what to install
    _H11Protocol = None

if _H11Protocol is not None:

    class _GuardedH11Protocol(_H11Protocol):
        """uvicorn's h11 protocol, plus what it lacks against slow clients (`ConnectionLimits` in
        `config.seqrnn_connection_limits`):

        - one timer per connection while it waits for request headers, armed when it opens and after
          each response: when it fires and no request has begun, the connection is closed (408 first
          if part of a request arrived). Bytes trickling in do not reset it.
        - a timer while writing is paused (the client reads nothing and the buffers are full): when it
          fires the connection is aborted.
        - a connection beyond `max_connections` open ones gets a 503 and is closed at once.

        Idle keep-alive connections and the 503 at `limit_concurrency` are uvicorn's own; the body
        deadline is `_BodyLimit`'s, in the app.
        """

        _last_warning = 0.0  # shared: one warning a second at most while connections are refused

        def __init__(self, config, server_state, app_state, _loop=None):
            super().__init__(config, server_state, app_state, _loop)
            self.guard: ConnectionLimits = getattr(config, "seqrnn_connection_limits", None) or ConnectionLimits()
            self._header_timer = self._write_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > self.guard.max_connections:
                now = time.monotonic()
                if now - _GuardedH11Protocol._last_warning >= 1.0:
                    _GuardedH11Protocol._last_warning = now
                    self.logger.warning("more than %d connections open: refusing new ones (503)",
                                        self.guard.max_connections)
                transport.write(_raw_response(503, "Service Unavailable",
                                              "the server has too many open connections; try again shortly"))
                transport.close()
                return
            self._arm_header_timer()

        def connection_lost(self, exc) -> None:
            for timer in (self._header_timer, self._write_timer):
                if timer is not None:
                    timer.cancel()
            self._header_timer = self._write_timer = None
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self._header_timer is not None and self.conn.their_state is not h11.IDLE:  # a request began
                self._header_timer.cancel()
                self._header_timer = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(self.guard.header_timeout, self._headers_timed_out)

        def _headers_timed_out(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a request: say why before closing
                message = f"the request headers did not arrive within {self.guard.header_timeout:g} s"
                self.transport.write(_raw_response(408, "Request Timeout", message))
            self.transport.close()

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._write_timer is None:
                self._write_timer = self.loop.call_later(self.guard.body_timeout, self._reader_stalled)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None

        def _reader_stalled(self) -> None:
            self._write_timer = None
            self.transport.abort()


def _run_workers(config, sock: socket.socket) -> None:
    """uvicorn's supervisor: `config.workers` processes serving `sock` (its signature changed in 0.30)."""
    from uvicorn.supervisors import Multiprocess

    if "target" in inspect.signature(Multiprocess).parameters:
        import uvicorn

        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


def _worker_app(threads: int, *args, **kwargs):
    """The app of one server process, with `threads` threads per model call: torch's, and those of the
    BLAS that NumPy's sampler calls (threadpoolctl, which scikit-learn brings)."""
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)  # for the rest of the process
    except ImportError:
        pass
    return create_app(*args, **kwargs)


def _connection_limits(args) -> ConnectionLimits:
    given = {"header_timeout": getattr(args, "timeout_headers", None),
             "body_timeout": getattr(args, "timeout_body", None),
             "keep_alive_timeout": getattr(args, "timeout_keep_alive", None),
             "limit_concurrency": getattr(args, "limit_concurrency", None),
             "max_connections": getattr(args, "max_connections", None)}
    return ConnectionLimits(**{name: value for name, value in given.items() if value is not None})


def serve_command(args) -> int:
    host = getattr(args, "host", None) or "127.0.0.1"
    port = getattr(args, "port", None)
    port = 8000 if port is None else port
    workers, threads = getattr(args, "workers", None) or 1, getattr(args, "threads", None) or 1
    connection_limits = _connection_limits(args)
    sentiment_dir, charlm_dir = getattr(args, "sentiment", None), getattr(args, "charlm", None)
    app = _worker_app(threads, sentiment_dir, charlm_dir, connection_limits=connection_limits)  # one-line errors
    import uvicorn

    sock = _listen(host, port)
    port = sock.getsockname()[1]
    models = [name for name in _MODELS if getattr(app.state, name) is not None]
    if not _is_loopback(host):
        print(f"seqrnn: warning: listening on {host}, reachable from other machines, with no authentication",
              file=sys.stderr)
    processes = f" with {workers} worker processes" if workers > 1 else ""
    print(f"seqrnn: serving {' and '.join(models)} on http://{_url_host(host)}:{port}/{processes} (Ctrl+C to stop)",
          flush=True)
    if workers > 1:  # each worker builds its own app: a picklable factory, not this process's app
        del app
        app = functools.partial(_worker_app, threads, sentiment_dir and str(sentiment_dir),
                                charlm_dir and str(charlm_dir), Limits(), connection_limits)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", http=_GuardedH11Protocol,
                            factory=workers > 1, workers=workers,
                            timeout_keep_alive=connection_limits.keep_alive_timeout,
                            limit_concurrency=connection_limits.limit_concurrency)
    config.seqrnn_connection_limits = connection_limits  # read by _GuardedH11Protocol (in every worker)
    try:
        if workers > 1:
            _run_workers(config, sock)
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0
