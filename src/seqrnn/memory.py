"""Memory a piece of work needs, against what the machine has.

Settings within their ranges (`seqrnn.config`) can still ask for more memory than the machine has:
a 30000-unit LSTM, 10^9 tokens per review, 10^8 samples drawn together. Allocating that fails in
the allocator with an exception of its own, or worse, succeeds lazily and gets the process killed
by the kernel later. So the work that allocates by size first adds up what it will need, a lower
bound (the model's parameters counted on PyTorch's `meta` device, where nothing is allocated, times
four for the gradients and AdamW's two moments; the token matrix; one batch's activations) and
refuses it with a one-line error naming the option and the memory, when that is more than is
available: on the CPU, Linux's MemAvailable within the process's cgroup limit; on CUDA, the free
memory of the device. Where that cannot be known, nothing is refused.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from seqrnn.errors import InvalidInputError

FLOAT_BYTES = 4  # parameters, gradients and activations are float32
TRAINING_COPIES = 4  # weights, gradients, AdamW's exp_avg and exp_avg_sq


def available_bytes(device: torch.device | str = "cpu") -> int | None:
    """Memory available for new allocations on `device`, or None when it cannot be known."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    if device.type != "cpu":
        return None
    known = [n for n in (_meminfo_available(), _cgroup_available()) if n is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other POSIX systems: the free pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    """What the process's cgroup (v2) still allows, e.g. in a container; None without a limit."""
    try:
        root = Path("/sys/fs/cgroup")
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((root / "memory.current").read_text()))
    except (OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    """'512 MB', '58 GB', '4.0e+12 GB'."""
    if not math.isfinite(n):
        return "more than any machine has"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            value = n / size
            if unit == "GB" and value >= 1e6:
                return f"{value:.1e} GB"
            return f"{value:,.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{n:.0f} bytes"


def require(needs: Sequence[tuple], device: torch.device | str = "cpu") -> None:
    """Refuse, with one line, work whose `needs` add up to more than the memory available on
    `device`. Each need is (what, naming the option; bytes, a lower bound[; advice]); the message
    names the biggest, with its advice."""
    total = float(sum(need[1] for need in needs))
    available = available_bytes(device)
    if not needs or available is None or total <= available:
        return
    what, biggest, *advice = max(needs, key=lambda need: need[1])
    device = torch.device(device)
    where = "on this machine" if device.type == "cpu" else f"on {device}"
    in_all = f" ({format_bytes(total)} in all)" if math.isfinite(total) and total > biggest * 1.05 else ""
    amount = (f"about {format_bytes(biggest)} of memory" if math.isfinite(biggest)
              else "more memory than any machine has")
    raise InvalidInputError(f"{what} needs {amount}{in_all}, more than the {format_bytes(available)} available "
                            f"{where}" + (f"; {advice[0]}" if advice else ""))


def parameter_count(build: Callable[[], torch.nn.Module]) -> float:
    """The parameters of the module `build()` makes, built on the meta device (nothing is allocated);
    infinity when its sizes overflow PyTorch's."""
    try:
        with torch.device("meta"):
            model = build()
    except (RuntimeError, OverflowError, ValueError) as exc:
        if "overflow" in str(exc).lower() or isinstance(exc, OverflowError):
            return math.inf
        raise
    return float(sum(p.numel() for p in model.parameters()))


def activation_floats(cell: str, hidden_size: int, num_layers: int, directions: int = 1) -> int:
    """Floats a recurrent stack keeps per token for the backward pass (its gates), a lower bound."""
    return {"lstm": 4, "gru": 3}.get(cell, 1) * hidden_size * num_layers * directions


def require_model(build: Callable[[], torch.nn.Module], options: Mapping[str, Any], device: torch.device | str,
                  others: Sequence[tuple[str, float]] = (), training: bool = True) -> None:
    """Refuse a model (made by `build`; `options`: the settings that size it, named in the message)
    whose weights (and, when `training`, gradients and AdamW's moments), with `others`, do not fit."""
    count = parameter_count(build)
    copies = TRAINING_COPIES if training else 1
    sizes = ", ".join(f"{name} {value}" for name, value in options.items())
    shown = f"{count:,.0f} parameters" if math.isfinite(count) else "too many parameters to count"
    what = f"the model ({sizes}: {shown}{', counting gradients and AdamW moments' if training else ''})"
    names = list(options)
    names = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    require([(what, count * copies * FLOAT_BYTES, f"lower {names}"), *others], device)
