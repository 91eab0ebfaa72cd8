"""glibc malloc thresholds for sampt's own processes (the ``sampt`` command, sampt's benchmarks).

With glibc's defaults every large tensor buffer above the (dynamic) mmap threshold is ``mmap``-ed and
``munmap``-ed again, and freed heap memory above 128 KiB is trimmed back to the kernel at once; a model
that allocates and frees the same large activations per frame then pays fresh page faults on every
layer. Raising ``M_MMAP_THRESHOLD`` (to glibc's maximum on 64-bit, 32 MiB) and ``M_TRIM_THRESHOLD`` keeps
those buffers in the heap for reuse. :func:`tune_malloc` is called once at start-up by :func:`sampt.cli.main`;
a library user's process is left alone (call it yourself if wanted). It is a no-op where the C library is
not glibc, when ``SAMPT_MALLOC_TUNING=0``, and for each threshold the user already set through glibc's own
environment variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``).

The measured effect on speed and peak memory is in ``benchmarks/results/pipeline.md``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
from typing import Optional

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter numbers from glibc's ``malloc.h``."""

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
"""Allocations below this come from the heap (glibc accepts at most half its 64 MiB heap size)."""
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
"""Free memory at the heap's top kept for reuse before it is returned to the kernel."""

_applied: Optional[dict[str, int]] = None


def _glibc() -> Optional[ctypes.CDLL]:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def tune_malloc(mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int = TRIM_THRESHOLD_BYTES) -> dict[str, int]:
    """Set glibc's mmap and trim thresholds for this process; returns what was set (empty when nothing
    was: not glibc, disabled by ``SAMPT_MALLOC_TUNING=0``, or both set by the user's environment).
    Calling it again is harmless (the first call's answer is returned)."""
    global _applied
    if _applied is not None:
        return dict(_applied)
    applied: dict[str, int] = {}
    libc = _glibc() if os.environ.get("SAMPT_MALLOC_TUNING", "1") not in ("0", "false", "off") else None
    if libc is not None:
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        for name, param, value, env in (("mmap_threshold", M_MMAP_THRESHOLD, mmap_threshold, "MALLOC_MMAP_THRESHOLD_"),
                                        ("trim_threshold", M_TRIM_THRESHOLD, trim_threshold, "MALLOC_TRIM_THRESHOLD_")):
            if env in os.environ:
                continue
            if libc.mallopt(param, int(value)) == 1:
                applied[name] = int(value)
            else:
                log.debug("mallopt(%s, %d) refused", name, value)
    _applied = applied
    log.debug("malloc tuning: %s", applied or "none")
    return dict(applied)
