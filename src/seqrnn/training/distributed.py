"""Several processes under torchrun: which rank this is, its device, and the few collectives the
trainer needs. One process (no torchrun) is world size 1 and every function here is a no-op.

    torchrun --standalone --nproc_per_node=2 -m seqrnn charlm train --text hamlet --out runs/h

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; `init` joins the process group (gloo on the CPU,
NCCL on CUDA, one GPU per local rank). Every rank reads and prepares the same data the same way,
takes its share of each global batch with its loss weighted by the share's size, and
DistributedDataParallel averages the gradients, so the model equals one process's with the same
global batch, even when a batch does not split evenly. Only rank 0 writes the run directory,
logs and validates; stop decisions (budget, Ctrl-C, checkpoint due) are agreed with an all-reduce
so that no rank waits for another.

A rank that ends (killed, out of memory) or becomes unreachable makes the collectives of the others
fail with the backend's error (gloo: `[.../pair.cc:537] Read error ... Connection reset by peer`).
Each collective here turns it into `PeerLost`, one line naming the lost rank when it is known (a
run of two) and, from the trainer, the step and the checkpoint to `--resume` from. torchrun then
stops the remaining ranks and prints its own report of the failed one.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import torch
import torch.distributed as dist

from seqrnn.errors import InvalidInputError, SeqrnnRuntimeError

F = TypeVar("F", bound=Callable[..., Any])

# what the backends' errors say when the process at the other end is gone
_PEER_FAILURE_WORDS = ("connection reset", "connection closed", "connection refused", "broken pipe", "read error",
                       "write error", "socket timeout", "timed out", "remote process exited", "by peer",
                       "nccl communicator was aborted", "ncclremoteerror", "ncclsystemerror")


class PeerLost(SeqrnnRuntimeError):
    """Another process of a torchrun run ended or became unreachable: this one stops too.

    One line from this rank's point of view: which rank was lost (known in a run of two), `when`
    (e.g. ' at step 40') and `then` (what to do next)."""

    def __init__(self, ranks: "Ranks", when: str = "", then: str = ""):
        self.ranks = ranks
        who = f"rank {1 - ranks.rank}, the other process of the run," if ranks.world_size == 2 else \
            "another process of the run"
        super().__init__(f"rank {ranks.rank}: {who} was lost{when} (it ended or its connection broke)"
                         + (f"; {then}" if then else ""))


def is_peer_failure(exc: BaseException, ranks: "Ranks") -> bool:
    """True if `exc` is a collective failing because another rank is gone: a `PeerLost`, or the
    backend's own error (gloo's 'Connection reset by peer', NCCL's remote error, a timeout)."""
    if isinstance(exc, PeerLost):
        return True
    if not ranks.distributed or not isinstance(exc, RuntimeError):
        return False
    text = str(exc).lower()
    return isinstance(exc, dist.DistNetworkError) or any(word in text for word in _PEER_FAILURE_WORDS)


@contextlib.contextmanager
def peer_failures(ranks: "Ranks") -> Iterator[None]:
    """Turn a collective's failure caused by a lost rank into `PeerLost` (one line)."""
    try:
        yield
    except RuntimeError as exc:
        if not is_peer_failure(exc, ranks):
            raise
        raise PeerLost(ranks) from None


def _collective(function: F) -> F:
    """A collective of this module, whose failure for a lost rank is `PeerLost` (`ranks` is its last
    argument)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with peer_failures(kwargs.get("ranks", args[-1] if args else Ranks())):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def from_environment() -> Ranks:
    """The ranks torchrun gave this process (world size 1 without torchrun)."""
    env = os.environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return Ranks()
    return Ranks(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)),
                 int(env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])))


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device a `--device` value names, checked to exist here; a one-line error otherwise.

    'auto' is CUDA when present (this rank's GPU), else the CPU; 'cuda' is this rank's GPU; any other
    torch device string ('cpu', 'cuda:1', 'mps', ...) is taken as it is.
    """
    name = str(name).strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InvalidInputError(f"device {name!r}: not a torch device (auto, cpu, cuda, cuda:N, mps, ...)") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise InvalidInputError(f"device {name}: no CUDA device is available here (use --device cpu or auto)")
        index = local_rank if device.index is None else device.index
        if index >= count:
            raise InvalidInputError(f"device {name}: this machine has {count} CUDA device(s), cuda:0 to "
                                    f"cuda:{count - 1}")
        return torch.device("cuda", index)
    backend = getattr(torch, device.type, None) or getattr(torch.backends, device.type, None)
    if not (backend is not None and hasattr(backend, "is_available") and backend.is_available()):
        raise InvalidInputError(f"device {name}: not available in this PyTorch build or on this machine "
                                "(use --device cpu or auto)")
    return device


def init(device: str) -> tuple[Ranks, torch.device]:
    """Join the process group if torchrun started this process; this rank's device
    ('auto' = CUDA when present; see `resolve_device`)."""
    ranks = from_environment()
    chosen = resolve_device(device, ranks.local_rank)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if ranks.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
        # leave the group before the interpreter tears down: a group destroyed only by the C++
        # destructors at exit can abort a rank ("terminate called without an active exception")
        atexit.register(_leave_group)
    return ranks, chosen


def _leave_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def finish(status: int) -> None:
    """End a command that succeeded on this rank, under torchrun; a no-op in one process.

    Every rank waits for the others at a barrier first, so that none tears down its connections
    while another (rank 0 writing the model) is still at work, then leaves the group. The process
    then ends here with `status`, its output flushed and its exit handlers run, without the
    interpreter's teardown: DistributedDataParallel keeps the group's C++ backend (and gloo's
    worker threads) alive past `destroy_process_group`, and releasing them while the interpreter
    finalizes can abort a rank that has done all its work ("terminate called without an active
    exception", SIGABRT), failing a run that succeeded. A rank that fails instead is stopped by
    torchrun, and the group is then destroyed at exit."""
    if not dist.is_initialized():
        return
    with peer_failures(from_environment()):
        dist.barrier()
    _leave_group()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


@_collective
def any_of(flags: list[bool], ranks: Ranks) -> list[bool]:
    """Each flag, true if it is true on any rank (an all-reduce of one small tensor)."""
    if not ranks.distributed:
        return flags
    tensor = torch.tensor([float(f) for f in flags])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [bool(v) for v in tensor.tolist()]


@_collective
def mean(value: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The mean of a tensor over the ranks."""
    if not ranks.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / ranks.world_size


@_collective
def broadcast(obj: Any, ranks: Ranks) -> Any:
    """Rank 0's object, on every rank."""
    if not ranks.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@_collective
def gather(obj: Any, ranks: Ranks) -> list[Any]:
    """Every rank's object, in rank order, on every rank."""
    if not ranks.distributed:
        return [obj]
    out: list[Any] = [None] * ranks.world_size
    dist.all_gather_object(out, obj)
    return out


@_collective
def barrier(ranks: Ranks) -> None:
    if ranks.distributed:
        dist.barrier()


@contextlib.contextmanager
def main_first(ranks: Ranks) -> Iterator[None]:
    """Run the body on rank 0 first, then on the other ranks (one barrier): what rank 0 writes to a
    shared cache, the others then read instead of making their own copy."""
    if not ranks.is_main:
        barrier(ranks)
    yield
    if ranks.is_main:
        barrier(ranks)


def share(rows: int, ranks: Ranks) -> tuple[int, int]:
    """The rows [start, stop) of a global batch of `rows` that this rank trains on (contiguous,
    sizes differing by at most one; a rank's share is empty when the batch has fewer rows than ranks)."""
    return ranks.rank * rows // ranks.world_size, (ranks.rank + 1) * rows // ranks.world_size


def take_rows(batch: Any, start: int, stop: int) -> Any:
    """Rows [start, stop) of a batch: a tensor, or a tuple of tensors and None, batch first."""
    if torch.is_tensor(batch):
        return batch[start:stop]
    if isinstance(batch, (tuple, list)):
        return type(batch)(take_rows(part, start, stop) for part in batch)
    return batch


def batch_rows(batch: Any) -> int:
    """The number of rows of a batch (its first tensor's first dimension)."""
    if torch.is_tensor(batch):
        return batch.shape[0]
    return next(batch_rows(part) for part in batch if part is not None)
