"""The ``sampt`` command line. Sub-commands come from the ``register_commands`` hook, so sampt's own
commands (``sampt.commands``, ``sampt.evaluation.commands``) and third-party ones are added the same way.

This module is the one error boundary of the command line: every expected error (a
:class:`~sampt.errors.SamptError`, an operating-system error on a file) becomes one line on stderr and exit
code 2; an unexpected exception is a bug and keeps its traceback; ``--debug`` shows tracebacks for all.
SIGTERM and SIGHUP are handled like Ctrl-C, so an interrupted run cleans up the same way.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import warnings
from typing import Optional, Sequence

from sampt import __version__

log = logging.getLogger("sampt")

EXIT_USAGE = 2


class Interrupted(KeyboardInterrupt):
    """A termination signal (SIGTERM, SIGHUP) turned into the same unwinding as Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


def _install_signal_handlers() -> dict:
    """Turn SIGTERM/SIGHUP into :class:`Interrupted` (where nobody else handles them); returns the old
    handlers, restored when :func:`main` returns (it may be called in-process, by tests)."""
    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                old[sig] = signal.signal(sig, _raise_interrupted)
        except (ValueError, OSError):  # not the main thread
            pass
    return old


def _quiet_third_parties(verbose: int) -> None:
    """Third-party chatter (FFmpeg's demuxer messages, OpenCV's log, library warnings) only under ``-v``."""
    if verbose:
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when FFmpeg starts
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    if "cv2" in sys.modules:
        try:
            sys.modules["cv2"].setLogLevel(2)  # ERROR
        except Exception:
            pass
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # worker processes too


class _SamptOrErrors(logging.Filter):
    """Without ``-v``: sampt's own warnings, other libraries' errors only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "sampt" or record.name.startswith("sampt.") or record.levelno >= logging.ERROR


def _configure_logging(verbose: int) -> None:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_SamptOrErrors())


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (``sampt run: error: ... (see sampt run --help)``), exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        from sampt.errors import one_line

        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser(registry=None) -> argparse.ArgumentParser:
    from sampt.plugins import Registry

    registry = registry or Registry()
    parser = ArgumentParser(prog="sampt", description="SAM-PT: video object segmentation by point tracking.")
    parser.add_argument("--version", action="version", version=f"sampt {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registry.pm.hook.register_commands(cli=sub)
    parser.set_defaults(registry=registry)
    return parser


def _error(message: object) -> int:
    from sampt.errors import one_line

    print(f"sampt: error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def _os_error_message(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    names = [n for n in (exc.filename, exc.filename2) if n]
    return f"{what}: {' -> '.join(map(str, names))}" if names else what


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (2 for an expected error, printed as one line)."""
    from sampt.errors import SamptError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    verbose = sum(a.count("v") for a in argv if a.startswith("-") and not a.startswith("--") and set(a[1:]) == {"v"})
    verbose += argv.count("--verbose")
    handlers = _install_signal_handlers()
    saved_filters = warnings.filters[:]
    _quiet_third_parties(verbose)
    try:
        return _main(argv, debug)
    finally:
        warnings.filters[:] = saved_filters
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _main(argv: list, debug: bool) -> int:
    from sampt.errors import SamptError

    try:
        parser = build_parser()
        # KEY=VALUE overrides may sit anywhere among the options (argparse alone would stop at the first)
        args, extra = parser.parse_known_args(argv)
        if extra:
            if not hasattr(args, "overrides") or any(e.startswith("-") or "=" not in e for e in extra):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.overrides = list(args.overrides) + extra
        _configure_logging(args.verbose)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return EXIT_USAGE
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the boundary
        return code
    except SystemExit as exc:  # argparse: --help, --version, usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except BrokenPipeError:
        # the reader went away (`sampt plugins | head`): not an error of ours; keep Python from
        # complaining again when it flushes stdout at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 128 + signal.SIGPIPE
    except SamptError as exc:
        if debug:
            raise
        return _error(exc)
    except OSError as exc:  # a file that cannot be read or written, a full disk, ...
        if debug:
            raise
        return _error(_os_error_message(exc))
    except MemoryError:
        if debug:
            raise
        return _error("out of memory; try a shorter or smaller video (--max-frames, --max-side, --stride)")
    except KeyboardInterrupt as exc:
        if debug:
            raise
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"sampt: interrupted ({signal.Signals(signum).name}); unfinished outputs were discarded",
              file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
