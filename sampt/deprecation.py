"""Old import paths kept working for a while: a module that moved leaves a shim that forwards every name to
its new home with a :class:`DeprecationWarning` naming that home."""
from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable


def forward_moved_module(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the shim left at ``old``: each name is read from ``new``, with a warning
    saying what to import instead."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        warnings.warn(f"{old} moved to {new}: import {name} from {new} instead", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), name)

    return __getattr__
