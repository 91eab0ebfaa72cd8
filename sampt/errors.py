"""Errors a user can cause and fix: the CLI prints them as one line, with no traceback, and exits 2.

Every expected error derives from :class:`SamptError`; anything else reaching the command line is a bug
and keeps its traceback. The subclasses say which part of the input is wrong; they are also
``ValueError`` (bad values) so API users can catch them the usual way.
"""


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
