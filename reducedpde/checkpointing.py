"""Long runs: deferred Ctrl-C/SIGTERM, periodic checkpoints and resumption.

Solvers (the SGD ensemble driver, the radial PDE solver) take a :class:`Checkpointing`:
they hand a *checkpoint* (a nested dict of arrays, numbers and strings, see the solver)
to its ``save`` callback every ``every_s`` seconds of wall time and when stopped by a
signal, and continue from ``resume`` when given one. They know nothing about files; the
callback does (the command line writes each checkpoint into the output HDF5 file).

A long run must stop at a point where its state is consistent (between two compiled
calls) so that what it writes can be resumed bit for bit. Inside :func:`deferred_interrupts`
the first SIGINT or SIGTERM only sets :attr:`StopRequest.requested`; the run polls it
between calls and stops cleanly. A second signal raises :class:`KeyboardInterrupt` at once
(the usual "press Ctrl-C twice to abort"). Outside the main thread signal handlers cannot
be installed and the context manager does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Checkpointing", "StopRequest", "deferred_interrupts"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first SIGINT/SIGTERM received inside :func:`deferred_interrupts`."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name


@contextmanager
def deferred_interrupts() -> Iterator[StopRequest]:
    """Defer SIGINT and SIGTERM to the next point where the caller polls the request.

    Yields
    ------
    StopRequest
        ``requested`` becomes ``True`` at the first signal; the previous handlers are
        restored on exit.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, stop._handle)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@dataclass
class Checkpointing:
    """Periodic checkpoints and resumption of a long run.

    Attributes
    ----------
    every_s : float or None
        Wall-time interval between periodic checkpoints (checked at the solver's natural
        pauses: after each compiled block or output time); ``None``: only when the run
        is stopped by a signal.
    save : callable, optional
        ``save(state, partial)`` receives each checkpoint and the solver's partial result
        (e.g. to write both into a result file).
    resume : dict, optional
        A checkpoint of an earlier run of the same problem; the run continues from it and
        returns exactly what the uninterrupted run would have.
    """

    every_s: float | None = 300.0
    save: Callable[[dict, Any], None] | None = None
    resume: dict | None = None

    def __post_init__(self):
        if self.every_s is not None and not self.every_s >= 0:
            raise ValueError(f"checkpoint interval must be >= 0 seconds, got {self.every_s}")
