"""The ``sampt`` command line. Sub-commands come from the ``register_commands`` hook, so sampt's own
commands (``sampt.commands``, ``sampt.evaluation.commands``) and third-party ones are added the same way.

This module is the one error boundary of the command line: every expected error (a
:class:`~sampt.errors.SamptError`, an operating-system error on a file) becomes one line on stderr and exit
code 2; an unexpected exception is a bug and keeps its traceback; ``--debug`` shows tracebacks for all.
SIGTERM and SIGHUP are handled like Ctrl-C, so an interrupted run cleans up the same way.

Output: results and summaries go to stdout (log level INFO; ``-q`` keeps only warnings and errors);
warnings and errors to stderr; third-party chatter (library warnings, FFmpeg/OpenCV logs, other libraries'
loggers) only with ``-v``. ``-v``/``-q`` may stand before or after the sub-command, and coordinates after an
option may be negative (``--points -0.4,10``) without ``--points=``.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import warnings
from typing import Any, Callable, Iterator, Optional, Sequence

from sampt._version import __version__

log = logging.getLogger("sampt")

EXIT_USAGE = 2

EXIT_CODES = """exit codes:
  0    success
  1    unexpected failure (a bug: rerun with --debug and report the traceback)
  2    bad input or usage (a one-line error says what to fix)
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): unfinished outputs are discarded
       (streamed runs keep the frames finished; stopping a camera is its normal end: 0)"""

EXAMPLES = """examples:
  sampt demo                                        # offline, a few seconds
  sampt run video.mp4 --mask first.png -o out/      # masks/, tracks.npz, overlay.mp4, result.json
  sampt run frames/ --points '120,80;140,95' --overlay gif -o out/
  sampt export out/ --format coco
  sampt score out/ DAVIS_ROOT
  sampt COMMAND --help"""

# "-12,30;..." after an option is a coordinate list, not an option (argparse would take it for one)
_COORDINATES = re.compile(r"^-\d+(\.\d*)?\s*[,;]")


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


class _ConsoleHandler(logging.Handler):
    """sampt's own records: INFO to stdout as plain lines (results, summaries); warnings and errors to
    stderr, prefixed; debug records (``-vv``) to stderr with their logger's name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if record.levelno >= logging.WARNING:
                sys.stderr.write(f"sampt: {record.levelname.lower()}: {msg}\n")
            elif record.levelno >= logging.INFO:
                sys.stdout.write(msg + "\n")
            else:
                sys.stderr.write(f"debug {record.name}: {msg}\n")
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


class _ThirdPartyHandler(logging.StreamHandler):
    """Other libraries' log records (and, with -v, Python warnings) on the current stderr: errors only,
    warnings too under ``-v``."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Set up console output for one command (idempotent: :func:`main` may be called repeatedly)."""
    for handler in [h for h in log.handlers if isinstance(h, _ConsoleHandler)]:
        log.removeHandler(handler)
    log.addHandler(_ConsoleHandler())
    log.propagate = False
    log.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose >= 2 else logging.INFO)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ThirdPartyHandler)]:
        root.removeHandler(handler)
    third = _ThirdPartyHandler()
    third.setLevel(logging.WARNING if verbose else logging.ERROR)
    third.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(third)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    logging.captureWarnings(bool(verbose))


def _logging_state() -> tuple:
    root = logging.getLogger()
    return list(log.handlers), log.propagate, log.level, list(root.handlers), root.level


def _restore_logging(state: tuple) -> None:
    handlers, propagate, level, root_handlers, root_level = state
    root = logging.getLogger()
    log.handlers[:], log.propagate, root.handlers[:] = handlers, propagate, root_handlers
    log.setLevel(level)
    root.setLevel(root_level)
    logging.captureWarnings(False)


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps multi-line texts (examples, exit codes) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def _add_verbosity(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("-v", "--verbose", action="count", default=default,
                   help="more output: third-party warnings; -vv debug logging")
    p.add_argument("-q", "--quiet", action="store_true", default=False if default == 0 else default,
                   help="print only warnings and errors")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (``sampt run: error: ... (see sampt run --help)``), exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        from sampt.errors import one_line

        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser(registry=None) -> argparse.ArgumentParser:
    from sampt.plugins import Registry

    registry = registry or Registry()
    parser = ArgumentParser(prog="sampt", description="SAM-PT: video object segmentation by point tracking.",
                            epilog=f"{EXAMPLES}\n\n{EXIT_CODES}", formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"sampt {__version__}")
    _add_verbosity(parser, 0)
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registry.pm.hook.register_commands(cli=sub)
    for command in sub.choices.values():  # every command, a plugin's too: -v/-q after it, exit codes in --help
        command.formatter_class = _HelpFormatter
        command.epilog = f"{command.epilog}\n\n{EXIT_CODES}" if command.epilog else EXIT_CODES
        option_strings = {o for a in command._actions for o in a.option_strings}
        if not option_strings & {"-v", "--verbose", "-q", "--quiet"}:
            _add_verbosity(command, argparse.SUPPRESS)
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


def join_coordinate_values(argv: Sequence[str]) -> list[str]:
    """``--points -12,30`` -> ``--points=-12,30``, so negative coordinates need no ``=`` from the user."""
    out: list[str] = []
    for token in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _COORDINATES.match(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def _verbosity_of(argv: Sequence[str]) -> tuple[int, bool]:
    """``-v``/``-vv``/``--verbose`` count and ``-q``/``--quiet`` among raw arguments (before parsing)."""
    verbose, quiet = 0, False
    for token in argv:
        if token == "--":
            break
        if token == "--verbose":
            verbose += 1
        elif re.fullmatch(r"-v+", token):
            verbose += len(token) - 1
        quiet |= token in ("-q", "--quiet")
    return verbose, quiet


def main(argv: Optional[Sequence[str]] = None, open_camera: Optional[Callable[[Any], Iterator[Any]]] = None) -> int:
    """Run the command line; returns the exit code (2 for an expected error, printed as one line).
    ``open_camera`` opens ``--camera`` sources (default: OpenCV; see :mod:`sampt.sources`)."""
    argv = join_coordinate_values(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    verbose, quiet = _verbosity_of(argv)
    from sampt.allocator import tune_malloc

    tune_malloc()  # sampt's own process: glibc thresholds that suit per-frame model buffers
    handlers = _install_signal_handlers()
    saved_filters = warnings.filters[:]
    saved_logging = _logging_state()
    _quiet_third_parties(verbose)
    configure_logging(verbose, quiet)  # before plugins are imported (building the parser loads them)
    try:
        return _main(argv, debug, open_camera)
    finally:
        warnings.filters[:] = saved_filters
        _restore_logging(saved_logging)  # main may run in-process (tests, notebooks): leave logging as found
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _main(argv: list, debug: bool, open_camera: Any = None) -> int:
    from sampt.errors import SamptError

    try:
        parser = build_parser()
        # KEY=VALUE overrides may sit anywhere among the options (argparse alone would stop at the first)
        args, extra = parser.parse_known_args(argv)
        if extra:
            if not hasattr(args, "overrides") or any(e.startswith("-") or "=" not in e for e in extra):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.overrides = list(args.overrides) + extra
        configure_logging(args.verbose, args.quiet)
        args.open_camera = open_camera
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
