"""The ``sampt`` command line. Sub-commands come from the ``register_commands`` hook, so sampt's own
commands (``sampt.commands``, ``sampt.evaluation.commands``) and third-party ones are added the same way."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from sampt import __version__

log = logging.getLogger("sampt")


def build_parser(registry=None) -> argparse.ArgumentParser:
    from sampt.plugins import Registry

    registry = registry or Registry()
    parser = argparse.ArgumentParser(prog="sampt", description="SAM-PT: video object segmentation by point tracking.")
    parser.add_argument("--version", action="version", version=f"sampt {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registry.pm.hook.register_commands(cli=sub)
    parser.set_defaults(registry=registry)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (2 for a usage error, printed as one line)."""
    from sampt.errors import UsageError
    from sampt.plugins import UnknownComponentError
    from sampt.weights import WeightsError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        # KEY=VALUE overrides may sit anywhere among the options (argparse alone would stop at the first)
        args, extra = parser.parse_known_args(argv)
        if extra:
            if not hasattr(args, "overrides") or any(e.startswith("-") or "=" not in e for e in extra):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.overrides = list(args.overrides) + extra
        logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                            format="%(levelname)s %(name)s: %(message)s")
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
