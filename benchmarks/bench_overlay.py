"""Overlay encoding: H.264 (PyAV) against OpenCV's mp4v fallback and GIF, on overlay frames of a synthetic
clip at 480p: seconds per frame and file size. Drawing is timed separately (the same for every format).

    .venv/bin/python benchmarks/bench_overlay.py [--frames 48] [--width 854] [--height 480]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import sampt.media as media
from sampt.data.synthetic import make_clip
from sampt.overlay import draw_frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--height", type=int, default=480)
    args = ap.parse_args()
    clip = make_clip(seed=0, num_frames=args.frames, height=args.height, width=args.width, num_objects=2)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    frames = []
    for t in range(args.frames):
        objects = [(o + 1, rng.uniform(0, [args.width, args.height], (8, 2)), np.array([1] * 7 + [0]),
                    rng.random(8) > 0.2) for o in range(2)]
        frames.append(draw_frame(clip.video[t], clip.label_map(t), objects, text=f"frame {t:05d}"))
    draw_spf = (time.perf_counter() - started) / args.frames
    print(f"{args.frames} frames {args.width}x{args.height}; drawing {draw_spf * 1000:.1f} ms/frame")
    print(f"{'format':<12} {'ms/frame':>9} {'KiB':>8}  codec")
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, h264 in [("H.264", "o.mp4", True), ("mp4v", "o.mp4", False), ("GIF", "o.gif", True)]:
            path = Path(tmp) / f"{label}-{name}"
            original = media.h264_available
            if not h264:
                media.h264_available = lambda: False
            try:
                started = time.perf_counter()
                media.write_video(path, frames, fps=24)
                spf = (time.perf_counter() - started) / args.frames
            finally:
                media.h264_available = original
            codec = media.video_codec(path) if path.suffix == ".mp4" else "gif"
            print(f"{label:<12} {spf * 1000:>9.1f} {path.stat().st_size / 1024:>8.0f}  {codec}")


if __name__ == "__main__":
    main()
