"""A small progress bar on stderr: ``[####....] done/total elapsed ETA``, switchable off."""

from __future__ import annotations

import math
import sys
import time
from typing import IO


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """One line of stderr, redrawn in place on a terminal and every few seconds otherwise.

    Parameters
    ----------
    total : int
        Steps to do in all.
    label : str
        Prefix of the line.
    enabled : bool
        Draw nothing when False.
    done : int
        Steps already done before this run (resumed work); counted, not timed.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(self, total: int, label: str = "", *, enabled: bool = True, done: int = 0,
                 stream: IO[str] | None = None) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = bool(enabled)
        self.already = int(done)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.last = -math.inf
        self.note = ""

    def update(self, steps: int = 1, note: str = "") -> None:
        """Count ``steps`` more and redraw if due."""
        self.done += steps
        if note:
            self.note = note
        self.draw()

    def draw(self, final: bool = False) -> None:
        if not self.enabled or self.total == 0:
            return
        now = time.perf_counter()
        n = self.already + self.done
        if not final and n < self.total and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = now - self.t0
        eta = elapsed / self.done * (self.total - n) if self.done else float("nan")
        frac = min(n / self.total, 1.0)
        bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
        eta_text = _clock(eta) if math.isfinite(eta) else "--:--"
        note = f" {self.note}" if self.note else ""
        line = f"{self.label}[{bar}] {n}/{self.total} elapsed {_clock(elapsed)} ETA {eta_text}{note}"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final or n >= self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state (once) if anything was drawn or done."""
        if self.enabled and self.done:
            if self.tty and self.already + self.done >= self.total:
                return  # the last update already ended the line
            self.draw(final=True)
