"""Measuring a run: wall-clock and CPU time (:class:`Stopwatch`) and peak memory (:class:`PeakMemory`)."""
from __future__ import annotations

import os
import resource
import sys
import threading
import time
from typing import Any, Optional

STAGES = ("tracking", "encoding", "decoding", "other")
"""The pipeline's timed stages (keys of ``SamPtResult.timings``)."""


class Stopwatch:
    """Wall-clock (``perf_counter``) and process CPU (``process_time``, all threads) seconds of a block::

        with Stopwatch() as sw:
            ...
        sw.seconds, sw.cpu_seconds
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self._start = self._cpu_start = 0.0

    def __enter__(self) -> "Stopwatch":
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start


def rss_bytes() -> Optional[int]:
    """This process's resident memory now (``/proc/self/statm``), or None where ``/proc`` is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _cuda() -> Any:
    """torch, when it is already imported and CUDA is available (torch is never imported here)."""
    torch = sys.modules.get("torch")
    try:
        return torch if torch is not None and torch.cuda.is_available() else None
    except Exception:  # pragma: no cover - broken CUDA setups
        return None


class PeakMemory:
    """Peak resident memory while active: samples :func:`rss_bytes` every ``interval`` seconds (falls back
    to ``ru_maxrss``, the process's lifetime peak, where ``/proc`` is missing), and the peak CUDA memory
    allocated through torch when torch is in use with CUDA. ``start``, ``peak`` in bytes; ``gpu_peak`` None
    without CUDA."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.gpu_peak: Optional[int] = None

    def __enter__(self) -> "PeakMemory":
        self.peak = self.start = rss_bytes() or 0
        torch = _cuda()
        if torch is not None:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = rss_bytes()
            if rss is not None and rss > self.peak:
                self.peak = rss

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        rss = rss_bytes()
        if rss is None:
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        else:
            self.peak = max(self.peak, rss)
        torch = _cuda()
        if torch is not None:
            torch.cuda.synchronize()
            self.gpu_peak = int(torch.cuda.max_memory_allocated())
