"""Errors a user can cause and fix: the CLI prints them as one line, with no traceback."""


class UsageError(Exception):
    """Bad input (a missing file, an undecodable video, a point outside the frame, an unknown name...).

    The message names the problem and how to fix it.
    """
