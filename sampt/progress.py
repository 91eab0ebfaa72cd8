"""Progress bars for long steps, one way everywhere.

Every step that can take more than a second (reading frames, tracking, segmenting, writing outputs,
encoding the overlay, scoring, evaluating, benchmarking) reports through :func:`progress_bar`. A bar is shown
only when it is enabled (``--no-progress`` turns it off) *and* stderr is a terminal, so CI logs and piped
output stay clean.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable, Optional


class _NoBar:
    """What a disabled bar is: iterates its iterable, ignores updates."""

    def __init__(self, iterable: Optional[Iterable] = None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable: Optional[Iterable] = None, total: Optional[int] = None, desc: str = "",
                 unit: str = "it", enabled: bool = True, leave: bool = False) -> Any:
    """A tqdm bar over ``iterable`` (or to ``update()`` by hand), or a silent stand-in when ``enabled`` is
    false or stderr is not a terminal. Usable as an iterable and as a context manager."""
    if not enabled or not stderr_is_terminal():
        return _NoBar(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
