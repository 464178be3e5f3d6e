"""A progress bar for long work (reading headers, writing associations) on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """A progress bar on a terminal (files done, rate, time left); silent otherwise.

    :meth:`summary` is the one line to print at the end when there was no bar.
    """

    def __init__(self, total: int, stream: TextIO | None = None, *, enabled: bool | None = None,
                 label: str = "reading headers", unit: str = "files") -> None:
        self.total, self.done, self.label, self.unit = total, 0, label, unit
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled and total > 0
        self.start = self._last = time.perf_counter()
        self._end: float | None = None
        self._width = 0

    def update(self, count: int = 1) -> None:
        """Count ``count`` more done; redraw the bar at most ten times a second (and at the end)."""
        self.done += count
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last >= 0.1 or self.done >= self.total:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(24 * self.done / self.total)
        line = (f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] {self.done}/{self.total} {self.unit}"
                f"  {rate:,.0f}/s  {_clock(left)} left")
        pad = " " * max(self._width - len(line), 0)
        self._width = len(line)
        self.stream.write(f"\r{line}{pad}")
        self.stream.flush()

    def close(self) -> None:
        """Stop the clock and end the bar's line (call once, when the work is over)."""
        self._end = time.perf_counter()
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()

    @property
    def seconds(self) -> float:
        """Seconds from the start to :meth:`close` (or to now)."""
        return (self._end or time.perf_counter()) - self.start

    def summary(self) -> str:
        """One line: how many done, seconds and rate, e.g. ``reading headers: 6 files in 0.1 s (60 files/s)``."""
        seconds = self.seconds
        rate = self.done / seconds if seconds > 0 else 0.0
        return f"{self.label}: {self.done} {self.unit} in {seconds:.1f} s ({rate:,.0f} {self.unit}/s)"


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
