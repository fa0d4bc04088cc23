"""Progress of a long phase (reading, encoding, validating, evaluating, predicting) on stderr.

On a terminal: a tqdm bar. Elsewhere (a log file, `nohup`, a notebook's `!`): a plain line at least
every `PLAIN_LINE_EVERY_S` seconds while the phase runs, e.g. `encode: 412 MB of 1.0 GB (41%), 0.6
min`, so a long phase is never silent; a phase shorter than that prints nothing. `quiet` silences
both.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

PLAIN_LINE_EVERY_S = 60.0


class Progress:
    """Progress of one phase: `update(n)` after each piece of work, `update_to(done)` with a running
    total; a context manager that closes the bar."""

    def __init__(self, desc: str, total: float | None = None, unit: str = "it", *, quiet: bool = False,
                 every_s: float | None = None):
        self.desc, self.total, self.unit = desc, total, unit
        terminal = sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit in ("B", "char"), dynamic_ncols=True,
                        file=sys.stderr, disable=quiet or not terminal, leave=False)
        self.plain = not quiet and not terminal
        self.every_s = PLAIN_LINE_EVERY_S if every_s is None else every_s
        self.started = self.last_line = time.perf_counter()
        self.done = 0.0

    def update(self, n: float = 1) -> None:
        self.update_to(self.done + n)

    def update_to(self, done: float) -> None:
        self.bar.update(done - self.done)
        self.done = done
        now = time.perf_counter()
        if self.plain and now - self.last_line >= self.every_s:
            self.last_line = now
            print(f"{self.desc}: {self._amount(done)}{self._share(done)}, {(now - self.started) / 60:.1f} min",
                  file=sys.stderr, flush=True)

    def _amount(self, value: float) -> str:
        if self.unit == "B":
            return _bytes(value) + (f" of {_bytes(self.total)}" if self.total else "")
        return f"{value:,.0f}" + (f" of {self.total:,.0f}" if self.total else "") + f" {self.unit}"

    def _share(self, done: float) -> str:
        return f" ({100 * done / self.total:.0f}%)" if self.total else ""

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} GB"
