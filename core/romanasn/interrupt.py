"""Signals that stop a run: SIGINT, SIGTERM and SIGHUP all interrupt it the same way.

While :func:`handled` is in force (the command line's whole run), each of them raises
:class:`Interrupted`, a ``KeyboardInterrupt`` naming the signal, so that a run undoes its
changes whichever arrives. A ``KeyboardInterrupt`` that is not an :class:`Interrupted` was then
raised by code (a plugin's), not by a signal: :func:`by_signal` tells them apart.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

__all__ = ["SIGNALS", "Interrupted", "handled", "by_signal"]

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """The run was stopped by the signal ``number``."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number

    @property
    def name(self) -> str:
        """The signal's name, ``SIGTERM`` say."""
        return signal.Signals(self.number).name

    @property
    def status(self) -> int:
        """The exit status of a command stopped by the signal (128 + its number)."""
        return 128 + self.number


def _raise(number: int, frame: object) -> None:
    raise Interrupted(number)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Make each of :data:`SIGNALS` raise :class:`Interrupted` inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _raise) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def by_signal(exc: BaseException) -> bool:
    """Whether ``exc`` is a signal's interrupt (not raised by code while :func:`handled` is in force)."""
    return isinstance(exc, Interrupted) or (
        isinstance(exc, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is not _raise)
