"""The threads that call the models, one queue for all calls, first come first served.

No request fails because another one runs. Model calls are CPU-bound, so they run in threads and the
event loop stays responsive: `Limits.max_concurrency` threads (`Workers`), one queue for all calls
(a free thread takes the next call as soon as it returns; `Limits.max_queue` calls may wait beyond
those running, more get a 503). Each thread has its own kit of the models:

- its own copy of the classifier (deep copies, made when the server starts), so no copy is ever
  called by two threads at once: PyTorch's recurrent modules rewrite their state (`_flat_weights`)
  on every call, and two calls on one module at once can fail.
- the NumPy sampler's step (`sampling.RecurrentStepper`), shared by all: built once when the server
  starts and made read-only (`frozen_stepper`), each generation with its own state; the PyTorch
  character model is never called.

Each model call runs on `--threads` threads (default 1; torch's and the BLAS's under NumPy's
sampler): calls run side by side instead (`Limits.max_concurrency` of them, in each worker). The
libraries' default, a thread per core for every call, made each call 10-25 times slower on 2 busy
cores (the threads of concurrent calls wait on each other, spinning).

Why one pool of threads, each thread with its own classifier, is measured on the Serving results page
of the documentation (`benchmarks/serve.py`).
"""

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from seqrnn.nn.sampling import RecurrentStepper

STREAM_CHUNK_CHARS = 256  # a streamed chunk ends after this many characters ...
STREAM_CHUNK_SECONDS = 0.05  # ... or after this long, whichever comes first


class Workers:
    """The threads that run model calls, each with its own kit of the models for good: a dict of what
    each model's calls get (`kits`, one per thread). A kit is used by its thread only; what calls
    only read may be shared by all kits.

    Calls wait in one queue, first come first served, and run on the first free thread, which takes
    the next one as soon as it returns (no round trip through the event loop). A call is refused
    (503) when `max_queue` calls already wait beyond those running; a call whose request is cancelled
    before it starts never runs.
    """

    def __init__(self, kits: list[dict], max_queue: int):
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


def frozen_stepper(lm):
    """The NumPy sampler's step for a character model (`sampling.RecurrentStepper`), built once and
    made read-only: generations share it, each with its own state, in as many threads as run them
    (a write to it would raise instead of changing another generation's text)."""
    stepper = RecurrentStepper(lm.model_)
    for value in vars(stepper).values():
        for array in value if isinstance(value, list) else [value]:
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
    return stepper


def generation(lm, stepper, request) -> tuple[str, Iterator[list[str]]]:
    """(the start text as the model reads it, the steps): `lm.sample_stream` with the request's
    options, on the shared `stepper`. A start text with unknown characters is a `SeqrnnError` (400)."""
    steps = lm.sample_stream(request.length, request.start, top_n=request.top_n, top_p=request.top_p,
                             temperature=request.temperature, seed=request.seed, num_samples=request.num_samples,
                             ignore_unknown=request.ignore_unknown, stepper=stepper)
    return lm.vocab_.decode(lm.start_ids(request.start, request.ignore_unknown)), steps


def sample(model: tuple, request) -> list[str]:
    """The request's texts, each beginning with the start text: `lm.sample`'s, on the shared `stepper`
    (`model` is `(lm, stepper)`)."""
    prefix, steps = generation(*model, request)
    pieces = [[] for _ in range(request.num_samples)]
    for step in steps:
        for piece, char in zip(pieces, step):
            piece.append(char)
    return [prefix + "".join(piece) for piece in pieces]
