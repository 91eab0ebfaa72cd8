"""``sampt ui``: its arguments and the URL it prints; the page is :mod:`sampt.ui.app`."""
from __future__ import annotations

import argparse

from sampt.hookspecs import hookimpl
from sampt.ui.admission import DEFAULT_MAX_SESSIONS, DEFAULT_MEMORY_BUDGET_MB


def cmd_ui(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sampt.arguments import split_positional_override
    from sampt.ui.app import build_app, launch, require_gradio

    require_gradio()  # the one-line fix before anything else
    video, overrides = split_positional_override(args.video, args.overrides)
    if video is not None and not Path(video).exists():
        from sampt.errors import InputError

        raise InputError(f"video {video} does not exist; give a video file or a folder of frames")
    demo = build_app(video, overrides, root=args.workdir, max_upload_mb=args.max_upload_mb,
                     session_ttl_s=args.session_ttl, max_frames=args.max_frames, max_side=args.max_side,
                     registry=args.registry, max_sessions=args.max_sessions,
                     memory_budget_mb=args.memory_budget_mb)
    url = launch(demo, args.host, args.port, args.max_upload_mb, args.concurrency)
    print(f"sampt ui: serving on {url} (Ctrl+C to stop)", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.sampt_shutdown()  # stop serving and remove every session's folder, --workdir or not
    return 0


@hookimpl
def register_commands(cli) -> None:
    """Add ``ui`` to the ``sampt`` command line."""
    p = cli.add_parser("ui", help="web page for interactive annotation (needs sampt[ui])",
                       description="Serve a web page to annotate a video interactively: click positive/negative "
                                   "points, edit them on any frame, undo/redo, propagate, export DAVIS masks, the "
                                   "overlay video and the session file. Listens on 127.0.0.1 unless --host is given.",
                       epilog="examples:\n  sampt ui\n  sampt ui video.mp4 tracker=lk segmenter=grabcut\n"
                              "  sampt ui clip/ tracker=cotracker3_offline segmenter=mobile_sam --port 7861")
    p.add_argument("video", nargs="?", default=None, metavar="VIDEO", help="video opened in every new page (optional)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides: tracker=lk segmenter=grabcut ...")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    p.add_argument("--workdir", default=None, help="folder for per-session uploads and outputs (default: a temp folder)")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload accepted (default 200)")
    p.add_argument("--session-ttl", type=int, default=3600, help="seconds before an idle session and its files go")
    p.add_argument("--max-frames", type=int, default=None, help="read at most this many frames of a video")
    p.add_argument("--max-side", type=int, default=None, help="resize frames so the longer side is at most this")
    p.add_argument("--concurrency", type=int, default=1, help="requests processed at once, across browser sessions; each session's own run one "
                        "at a time (default 1)")
    p.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS,
                   help=f"browser sessions open at once; the next is refused (default {DEFAULT_MAX_SESSIONS})")
    p.add_argument("--memory-budget-mb", type=float, default=DEFAULT_MEMORY_BUDGET_MB,
                   help="memory the sessions' videos, embeddings and masks may take; a video that would go past "
                        f"it is refused (default {DEFAULT_MEMORY_BUDGET_MB:g}, for 8 GB)")
    p.set_defaults(func=cmd_ui)
