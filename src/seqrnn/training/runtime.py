"""Where a run or a prediction executes: the process group under torchrun, the device, torch's CPU
threads and seeds, giving the caller's process-wide settings back afterwards, and stop signals
before training starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any, Callable, Iterator

import torch

from seqrnn.config import RunOptions
from seqrnn.errors import Interrupted
from seqrnn.training import distributed
from seqrnn.training.distributed import Ranks


def setup_runtime(seed: int, threads: int | None = None, device: str = "auto") -> tuple[Ranks, torch.device]:
    """Join torchrun's process group if there is one, pick this rank's device ('auto' = CUDA when
    present; `distributed.resolve_device`), set torch's CPU threads (default: the cores shared among
    this machine's ranks) and seed torch's generators (rank r with seed + r, so ranks draw different
    dropout masks; rank 0 is a single process's stream, and DistributedDataParallel starts every rank
    from rank 0's weights). Python's `random` and NumPy's global generator are not touched: the data
    is shuffled with local generators.

    The seed and thread count are process-wide: wrap the work in `preserved_global_state` to give the
    caller back its own (the estimators' `fit` does)."""
    ranks, chosen = distributed.init(device)
    torch.manual_seed(seed + ranks.rank)
    torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) // ranks.local_world_size))
    return ranks, chosen


@contextlib.contextmanager
def preserved_global_state() -> Iterator[None]:
    """Give back torch's random state and CPU thread count on exit, whatever happened inside.

    CUDA's generators are saved too when CUDA is already in use; a process that first touches CUDA
    inside keeps the seeded CUDA generator (its state before was the default one)."""
    threads, cpu_rng = torch.get_num_threads(), torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads, and those of the BLAS under NumPy, set to `threads` for the duration
    (None: left as they are)."""
    if threads is None:
        yield
        return
    RunOptions(threads=threads)  # the range torch can honour (InvalidInputError otherwise)
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def stop_signals_call(handle: Callable[[int, Any], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call `handle(signum, frame)` for the duration, then the handlers before
    are put back; on a thread other than the main one, signals are left as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handle)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def interrupts_raise(doing: str):
    """SIGINT and SIGTERM raise `Interrupted` ("while `doing`: nothing was trained yet") for the
    duration, so that a stop while the data is read or prepared is prompt and says so."""

    def handle(signum, frame):
        raise Interrupted(signum, 0, None, before_training=doing)

    return stop_signals_call(handle)
