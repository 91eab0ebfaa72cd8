"""Latency of the ``sampt ui`` page's work, server side (the handlers the page calls, without a browser):
open the page (build the app and open the video), a click to its mask (the first click of an object, then a
second point), propagation per frame, and a slider step (drawing one frame), on a generated 480p clip with
lk + grabcut.

    .venv/bin/python benchmarks/bench_ui.py [--frames 100] [--width 854] [--height 480]

The browser's own drawing and the network are not included (both local and small next to these).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from sampt.data.synthetic import make_clip
from sampt.io import write_frames

OVERRIDES = ["tracker=lk", "segmenter=grabcut"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--height", type=int, default=480)
    args = ap.parse_args()
    from sampt.ui.app import build_app

    clip = make_clip(seed=0, num_frames=args.frames, height=args.height, width=args.width, num_objects=2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        write_frames(folder, clip.video, suffix=".png")
        started = time.perf_counter()
        demo = build_app(str(folder), OVERRIDES, root=str(Path(tmp) / "ui"))
        app = demo.sampt_handlers
        ws, *_ = app["on_start"](None)
        open_s = time.perf_counter() - started
        ys, xs = np.nonzero(clip.masks[0, 0])
        order = np.lexsort((xs, ys))
        clicks = [(int(xs[order[len(order) * k // 4]]), int(ys[order[len(order) * k // 4]])) for k in (1, 3)]
        k = ws.scale
        timings = []
        for x, y in clicks:
            started = time.perf_counter()
            _, image, status = app["on_click"](ws, 0, "positive", 1, SimpleNamespace(index=[x * k, y * k]))
            timings.append(time.perf_counter() - started)
            assert image is not None and not status.startswith("**Error"), status
        started = time.perf_counter()
        steps = list(app["on_propagate"](ws, 0))
        propagate_s = time.perf_counter() - started
        assert steps[-1][2].startswith("Propagated"), steps[-1][2]
        slider = []
        for t in range(1, min(args.frames, 21)):
            started = time.perf_counter()
            app["on_frame"](ws, t)
            slider.append(time.perf_counter() - started)
        demo.sampt_shutdown()
    print(f"{args.frames} frames {args.width}x{args.height}, lk + grabcut, 1 object from 2 clicks")
    print(f"open page (app + video):     {open_s * 1000:8.0f} ms")
    print(f"first click to mask:         {timings[0] * 1000:8.0f} ms")
    print(f"second click to mask:        {timings[1] * 1000:8.0f} ms")
    print(f"propagation per frame:       {propagate_s / args.frames * 1000:8.0f} ms")
    print(f"slider step (median of {len(slider)}):  {np.median(slider) * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
