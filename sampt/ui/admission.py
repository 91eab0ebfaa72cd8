"""How many browser sessions ``sampt ui`` holds, and how much memory they may take.

Each browser session keeps its video, embeddings and masks in the server's memory. :class:`Admission`
refuses a new session once ``max_sessions`` are open, and refuses to open a video whose estimated memory
(:func:`video_cost`) would take the sessions past ``memory_budget_mb`` (counting what the open sessions
reserved, and the process's resident memory as measured now), with a message the page shows, rather
than letting the server run out of memory. The defaults fit a machine with 8 GB.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional

from sampt.errors import UsageError

MB = 1 << 20
DEFAULT_MAX_SESSIONS = 8
DEFAULT_MEMORY_BUDGET_MB = 6144.0
"""Defaults for an 8 GB machine: 6 GB for the sessions, the rest for the system and the models."""
COST_FACTOR = 3
"""A session's memory per byte of decoded video: the frames, the segmenter's per-frame embeddings (bounded
by the session's own budget) and the masks and rendered frames."""


class SessionRefused(UsageError):
    """The server is full (sessions or memory); the message says what to do."""


def resident_bytes() -> int:
    """This process's resident memory now (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except Exception:  # no /proc and no psutil: reservations alone decide
            return 0


def video_cost(video: Any) -> int:
    """Estimated bytes a session over ``video`` holds (:data:`COST_FACTOR` times its decoded frames)."""
    height, width = video.size if hasattr(video, "size") else (video.height, video.width)
    return COST_FACTOR * len(video) * int(height) * int(width) * 3


class Admission:
    """The open sessions of one ``sampt ui`` server and their memory reservations (thread-safe)."""

    def __init__(self, max_sessions: int = DEFAULT_MAX_SESSIONS, memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
                 measure: Callable[[], int] = resident_bytes):
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise UsageError(f"--max-sessions must be a whole number >= 1, got {max_sessions!r}")
        if not isinstance(memory_budget_mb, (int, float)) or isinstance(memory_budget_mb, bool) \
                or not 0 < memory_budget_mb < float("inf"):
            raise UsageError(f"--memory-budget-mb must be a positive number, got {memory_budget_mb!r}")
        self.max_sessions, self.budget = max_sessions, int(memory_budget_mb * MB)
        self.measure = measure
        self._reserved: dict[int, int] = {}
        self._lock = threading.Lock()
        self.baseline = measure()  # the server's own memory before any session (models, libraries)

    @property
    def sessions(self) -> int:
        return len(self._reserved)

    def admit(self, make: Callable[[], Any]) -> Any:
        """A new session from ``make()``, or :class:`SessionRefused` when ``max_sessions`` are open."""
        with self._lock:
            if len(self._reserved) >= self.max_sessions:
                raise SessionRefused(f"the server is busy: {self.max_sessions} sessions are open, its limit; "
                                     "try again when one is closed (or start sampt ui with a higher --max-sessions)")
            workspace = make()
            self._reserved[id(workspace)] = 0
        workspace.admission = self
        return workspace

    def reserve(self, workspace: Any, nbytes: int, what: str = "this video") -> None:
        """Reserve ``nbytes`` for ``workspace`` (replacing what it held), or :class:`SessionRefused` when the
        sessions would go past the memory budget."""
        with self._lock:
            others = sum(v for k, v in self._reserved.items() if k != id(workspace))
            grown = max(0, self.measure() - self.baseline)  # what the sessions actually hold now
            need = max(others, grown - self._reserved.get(id(workspace), 0)) + nbytes
            if need > self.budget:
                raise SessionRefused(f"not enough memory for {what} (about {nbytes // MB} MB; the server's sessions "
                                     f"may use {self.budget // MB} MB and hold about {max(others, grown) // MB} MB): "
                                     "try a shorter or smaller video, or again later")
            self._reserved[id(workspace)] = int(nbytes)

    def release(self, workspace: Any) -> None:
        """Forget a closed session (its count and its memory)."""
        with self._lock:
            self._reserved.pop(id(workspace), None)


def reserve_for(workspace: Any, video: Any, what: Optional[str] = None) -> None:
    """Reserve ``video``'s memory for ``workspace`` when it belongs to an :class:`Admission`."""
    admission = getattr(workspace, "admission", None)
    if admission is not None:
        admission.reserve(workspace, video_cost(video), what or "this video")
