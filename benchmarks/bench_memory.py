"""Peak resident memory of ``sampt run`` against video length (480p, weightless components).

Writes a synthetic 854x480 MP4 of N frames (a textured disc drifting over a textured background) and its
first-frame mask, runs ``sampt run`` on it in a child process per length, and reports the child's peak RSS
(``wait4``'s ``ru_maxrss``) and wall time. Decoded frames beyond ``$SAMPT_VIDEO_MEMORY_MB`` are kept in a
temporary file, the trackers hold two frames at a time and label PNGs are streamed, so peak RSS should
stay roughly flat with length.

    .venv/bin/python benchmarks/bench_memory.py --frames 300 3000 10000
    .venv/bin/python benchmarks/bench_memory.py --frames 300 --no-overlay -- pipeline.refinement_iterations=0
    .venv/bin/python benchmarks/bench_memory.py --frames 3000 10000 --object-frames 48   # GrabCut-light

Options after ``--`` are passed to ``sampt run`` as config overrides (default: cheap settings: lk +
grabcut with 1 GrabCut iteration, 4 positive points, no refinement passes, so the run is dominated by
I/O and memory rather than by GrabCut's speed).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHEAP = ["tracker=lk", "segmenter=grabcut", "segmenter.iterations=1", "pipeline.positive_points=4",
         "pipeline.negative_points=1", "pipeline.refinement_iterations=0", "segmenter.margin=0.2"]


def write_clip(folder: Path, frames: int, width: int = 854, height: int = 480, seed: int = 0,
               object_frames: int | None = None) -> tuple[Path, Path]:
    """An MP4 of ``frames`` frames and the first frame's mask PNG (object 1). With ``object_frames`` the
    object leaves the scene after that many frames (the rest shows the moving background only)."""
    from sampt.io import write_label_png

    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 255, (height * 2, width * 2, 3), np.uint8), (0, 0), 3)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), np.uint8), (0, 0), 2)
    yy, xx = np.mgrid[:height, :width]
    radius = height // 20  # a small object keeps GrabCut's crop (and the run) cheap
    video = folder / f"clip{frames}.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (width, height))
    first_mask = None
    for t in range(frames):
        phase = 2 * np.pi * t / 240
        bx, by = int(width / 2 + width / 4 * np.sin(phase)), int(height / 2 + height / 4 * np.sin(phase / 2))
        cx, cy = width / 2 + width / 4 * np.cos(phase), height / 2 + height / 5 * np.sin(phase)
        frame = background[by:by + height, bx:bx + width].copy()
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2
        if object_frames is None or t < object_frames:
            frame[disc] = texture[disc]
        if first_mask is None:
            first_mask = disc
        writer.write(frame)
    writer.release()
    mask = folder / f"mask{frames}.png"
    write_label_png(mask, first_mask.astype(np.uint8))
    return video, mask


def measure(video: Path, mask: Path, out: Path, overrides: list[str], overlay: bool) -> dict:
    cmd = [sys.executable, "-m", "sampt.cli", "run", str(video), "--mask", str(mask), "-o", str(out),
           "--no-progress", *([] if overlay else ["--no-overlay"]), *overrides]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    err = proc.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"sampt run failed ({code}): {err}")
    return {"peak_rss_mib": usage.ru_maxrss / 1024, "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, nargs="+", default=[300, 3000, 10000])
    p.add_argument("--no-overlay", action="store_true", help="pass --no-overlay to sampt run")
    p.add_argument("--workdir", default=None, help="where the clips go (default: a temporary folder)")
    p.add_argument("--object-frames", type=int, default=None,
                   help="the object leaves after this many frames, so GrabCut runs on those only and a long "
                        "clip measures decoding, caching, tracking and writing rather than GrabCut's speed")
    p.add_argument("overrides", nargs="*", help="config overrides for sampt run (default: cheap settings)")
    args = p.parse_args()
    overrides = args.overrides or CHEAP
    rows = []
    with tempfile.TemporaryDirectory(prefix="sampt-mem-", dir=args.workdir) as work:
        work_dir = Path(work)
        for n in args.frames:
            t0 = time.perf_counter()
            video, mask = write_clip(work_dir, n, object_frames=args.object_frames)
            made = time.perf_counter() - t0
            row = {"frames": n, "size": "854x480", "overlay": not args.no_overlay, "object_frames": args.object_frames,
                   "clip_seconds": round(made, 1),
                   **measure(video, mask, work_dir / f"out{n}", overrides, not args.no_overlay)}
            row["peak_rss_mib"] = round(row["peak_rss_mib"], 1)
            row["seconds"] = round(row["seconds"], 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            video.unlink()
    print(f"overrides: {' '.join(overrides)}")


if __name__ == "__main__":
    main()
