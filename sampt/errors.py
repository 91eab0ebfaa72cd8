"""Errors a user can cause and fix: the CLI prints them as one line, with no traceback, and exits 2.

Every expected error derives from :class:`SamptError`; anything else reaching the command line is a bug
and keeps its traceback. The subclasses say which part of the input is wrong; they are also
``ValueError`` (bad values) so API users can catch them the usual way.
"""
from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path
from typing import Any, Callable, Optional


class SamptError(Exception):
    """Base of every error caused by the user's input, files or environment (message: problem and fix)."""


class UsageError(SamptError, ValueError):
    """Bad input (a missing file, an undecodable video, a point outside the frame, an unknown name...).

    The message names the problem and how to fix it.
    """


class ConfigError(UsageError):
    """A configuration that does not parse, names an unknown key or has a value out of range."""


class InputError(UsageError):
    """An input video, frame folder, mask or prompt that cannot be used."""


class OutputError(UsageError):
    """An output destination that cannot be written (a file where a folder is needed, no permission...)."""


def one_line(message: object) -> str:
    """``message`` on one line (an error message spanning lines is hard to read in a log)."""
    return " ".join(str(message).split())


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a message quoting a user's value (a 5,000-digit
    integer, which ``repr`` refuses, or a long string included)."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit for str()
        text = f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_path(value: Any, name: str, error: type = None) -> Path:
    """``value`` as a :class:`~pathlib.Path`, or ``error`` (default :class:`UsageError`) naming the argument
    when it is not a path (a str or os.PathLike)."""
    if isinstance(value, (str, os.PathLike)) and str(value):
        return Path(value)
    raise (error or UsageError)(f"{name} must be a path (str or os.PathLike), not {shown(value)}")


def api_boundary(output: Optional[str] = None) -> Callable:
    """The error boundary of a public entry point: an ``OSError`` escaping it (a path that cannot be read or
    written: FileExistsError, PermissionError, NotADirectoryError, a full disk...) becomes an
    :class:`OutputError` when it concerns the ``output`` argument's destination, else an :class:`InputError`,
    naming the path; sampt's own errors pass unchanged. Bad argument types are refused by the entry
    point's own checks, not here (a TypeError from inside is a bug and keeps its traceback)."""
    def wrap(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def entry(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except SamptError:
                raise
            except OSError as exc:
                target = None
                if output is not None:
                    bound = signature.bind_partial(*args, **kwargs).arguments
                    target = bound.get(output)
                raise os_error(exc, target, output or "output") from None
        return entry
    return wrap


def _at_destination(path: Path, dest: Path) -> bool:
    """``path`` is the destination, inside it, above it, or its temporary sibling (``.NAME.sampt-tmp-...``)."""
    if path == dest or dest in path.parents or path in dest.parents:
        return True
    return any(p.parent == dest.parent and p.name.startswith(f".{dest.name}.") for p in (path, *path.parents))


def os_error(exc: OSError, output: Any = None, name: str = "output") -> UsageError:
    """The :class:`OutputError` (a path at or beside the ``output`` destination) or :class:`InputError`
    for an ``OSError``, naming the path and the reason."""
    path = exc.filename
    reason = exc.strerror or type(exc).__name__
    if output is not None and isinstance(output, (str, os.PathLike)):
        dest = Path(os.path.abspath(output))
        if path is None or _at_destination(Path(os.path.abspath(path)), dest):
            return OutputError(f"{name} {output} cannot be written: {path or dest}: {reason}; give another path or "
                               "fix its permissions")
    return InputError(f"{path or 'a file'} cannot be read or written: {reason}")
