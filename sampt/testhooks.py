"""A test-only handshake, so tests of races (a signal mid-run) create the race instead of timing it.

``SAMPT_TEST_HANDSHAKE=POINT[#N]@FIFO`` (set only by tests; unset, :func:`handshake` does nothing): the N-th
time (default the first) the process reaches ``handshake(POINT)`` it writes ``POINT #N`` as a line to the
named pipe ``FIFO``, then blocks opening ``FIFO.go`` for reading until the test opens that for writing (to let
it go on) or a signal's handler raises (the test's interruption lands exactly there). Both pipes are the
test's (see ``tests/conftest.py``'s ``child_process``); sampt never creates them.

The points, each reached outside any :func:`sampt.signals.signals_held` block (a held signal would not
unblock the wait): ``mask-written`` (a run's frame mask is written into its staging folder),
``stream-frame`` (a streamed frame's outputs are all written).
"""
from __future__ import annotations

import os

HANDSHAKE_ENV = "SAMPT_TEST_HANDSHAKE"
_reached: dict[str, int] = {}


def handshake(point: str) -> None:
    """Announce reaching ``point`` and wait for the test, where the test asked for it (see the module)."""
    spec = os.environ.get(HANDSHAKE_ENV)
    if not spec:
        return
    wanted, _, fifo = spec.partition("@")
    name, _, nth = wanted.partition("#")
    if name != point or not fifo:
        return
    _reached[point] = count = _reached.get(point, 0) + 1
    if count != int(nth or 1):
        return
    with open(fifo, "w") as announce:
        announce.write(f"{point} #{count}\n")
    with open(fifo + ".go"):  # blocks until the test says go, or a signal's handler raises
        pass
