"""Signals held back around a unit of output: an interruption (Ctrl-C, SIGTERM, SIGHUP) is delivered right
after the unit, never in the middle of it. Used by :mod:`sampt.outputs`' swaps and by the streaming writer for
each frame's files."""
from __future__ import annotations

import contextlib
import signal
from typing import Iterator, Optional


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back while a unit of output is written (a frame's files, a few renames) and
    deliver them right after, so an interruption never splits the unit.

    Blocking the signals at the OS level is not enough: a signal that arrived just before the block may
    already be pending for Python's handler, which would then run (and raise) in the middle of it. So the
    handlers are swapped for recorders for the block's duration (in the main thread, where Python runs
    them), and every recorded signal is raised again once the previous handlers are back. The swaps are
    made so that no handler is left behind: a signal whose own handler raises while the handlers are being
    installed or put back (it arrived in between) does not stop the others from being put back."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only: nothing can interrupt this one
        return
    caught: list[int] = []
    previous: dict = {}

    def record(signum: int, frame) -> None:
        caught.append(signum)

    try:
        for sig in HELD_SIGNALS:
            handler = signal.getsignal(sig)
            if handler is not None:  # None: installed outside Python, left alone
                previous[sig] = handler  # noted before the swap: put back even if interrupted right after it
                signal.signal(sig, record)
        yield
    finally:
        try:
            _put_back(previous)
        finally:
            _deliver(list(dict.fromkeys(caught)))  # even when putting back raised: no signal is lost


def _put_back(handlers: dict) -> None:
    """Reinstall ``handlers``; one that runs and raises on the way (its signal arrived just as it was put
    back) is raised after all of them are back, never leaving a recorder installed."""
    remaining = list(handlers.items())
    error: Optional[BaseException] = None
    while remaining:
        try:
            while remaining:
                sig, handler = remaining[0]
                signal.signal(sig, handler)  # idempotent: retried if interrupted after the swap
                remaining.pop(0)
        except BaseException as exc:  # noqa: BLE001 - a signal handler's exception, raised below
            error = error or exc
    if error is not None:
        raise error


def _deliver(signums: list[int]) -> None:
    """Raise the recorded signals again, each once. Where the OS allows, they are made pending together and
    released at once, so a handler that raises (Ctrl-C's) does not swallow the ones after it: those stay
    pending for Python and run at its next check."""
    if not signums:
        return
    if not hasattr(signal, "pthread_sigmask"):
        for signum in signums:
            signal.raise_signal(signum)
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signums)
    try:
        for signum in signums:
            signal.raise_signal(signum)  # pending: raise() targets this thread, which blocks it
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # delivered here, all of them
