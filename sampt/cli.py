"""The ``sampt`` command line. Sub-commands come from the ``register_commands`` hook, so sampt's own
commands (``sampt.commands``, ``sampt.evaluation.commands``) and third-party ones are added the same way.

Output: results and summaries go to stdout (log level INFO, silenced by ``-q``); warnings and errors to
stderr; third-party warnings (Python warnings, OpenCV/FFmpeg chatter, other libraries' loggers) only with
``-v``. ``-v``/``-q`` may stand before or after the sub-command.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import warnings
from typing import Optional, Sequence

from sampt import __version__

log = logging.getLogger("sampt")

EXIT_CODES = """exit codes:
  0    success
  1    unexpected failure (a bug: rerun with -vv and report the traceback)
  2    bad input or usage (a one-line error says what to fix)
  130  interrupted"""

EXAMPLES = """examples:
  sampt demo                                        # offline, a few seconds
  sampt run video.mp4 --mask first.png -o out/      # masks/, tracks.npz, overlay.mp4, result.json
  sampt run frames/ --points '120,80;140,95' --overlay gif -o out/
  sampt export out/ --format coco
  sampt score out/ DAVIS_ROOT
  sampt COMMAND --help"""

# "-12,30;..." after an option is a coordinate list, not an option (argparse would take it for one)
_COORDINATES = re.compile(r"^-\d+(\.\d*)?\s*[,;]")


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


def build_parser(registry=None) -> argparse.ArgumentParser:
    from sampt.plugins import Registry

    registry = registry or Registry()
    parser = argparse.ArgumentParser(prog="sampt", description="SAM-PT: video object segmentation by point tracking.",
                                     epilog=f"{EXAMPLES}\n\n{EXIT_CODES}", formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"sampt {__version__}")
    _add_verbosity(parser, 0)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registry.pm.hook.register_commands(cli=sub)
    for command in sub.choices.values():  # every command, a plugin's too: -v/-q after it, exit codes in --help
        command.formatter_class = _HelpFormatter
        command.epilog = f"{command.epilog}\n\n{EXIT_CODES}" if command.epilog else EXIT_CODES
        option_strings = {s for a in command._actions for s in a.option_strings}
        if not option_strings & {"-v", "--verbose", "-q", "--quiet"}:
            _add_verbosity(command, argparse.SUPPRESS)
    parser.set_defaults(registry=registry)
    return parser


def join_coordinate_values(argv: Sequence[str]) -> list[str]:
    """``--points -12,30`` -> ``--points=-12,30``, so negative coordinates need no ``=`` from the user."""
    out: list[str] = []
    for token in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _COORDINATES.match(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


class _ConsoleHandler(logging.Handler):
    """INFO to stdout as plain lines (results, summaries); warnings and errors to stderr, prefixed."""

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
    """Other libraries' log records (and, with -v, Python warnings) on the current stderr."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Set up sampt's console output for one command (idempotent: main may be called repeatedly)."""
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
    root.setLevel(min(root.level or logging.WARNING, logging.WARNING))
    logging.captureWarnings(bool(verbose))
    if not verbose:
        warnings.simplefilter("ignore")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg quiet inside OpenCV
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        try:
            import cv2

            cv2.setLogLevel(2)  # errors only
        except (ImportError, AttributeError):
            pass


def _verbosity_of(argv: Sequence[str]) -> tuple[int, bool]:
    """``-v``/``-vv``/``--verbose`` count and ``-q``/``--quiet`` among raw arguments (before parsing)."""
    verbose, quiet = 0, False
    for token in argv:
        if token == "--":
            break
        if token == "--verbose" or re.fullmatch(r"-v+", token):
            verbose += max(1, len(token) - 1) if token != "--verbose" else 1
        quiet |= token in ("-q", "--quiet")
    return verbose, quiet


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (2 for a usage error, printed as one line)."""
    from sampt.errors import UsageError
    from sampt.plugins import UnknownComponentError
    from sampt.weights import WeightsError

    argv = join_coordinate_values(sys.argv[1:] if argv is None else argv)
    # quiet third parties before plugins are imported (building the parser loads them)
    configure_logging(*_verbosity_of(argv))
    try:
        parser = build_parser()
        # KEY=VALUE overrides may sit anywhere among the options (argparse alone would stop at the first)
        args, extra = parser.parse_known_args(argv)
        if extra:
            if not hasattr(args, "overrides") or any(e.startswith("-") or "=" not in e for e in extra):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.overrides = list(args.overrides) + extra
        configure_logging(args.verbose, args.quiet)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except (UsageError, UnknownComponentError, WeightsError) as exc:
        print(f"sampt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sampt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
