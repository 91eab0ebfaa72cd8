#!/usr/bin/env python3
"""Speed and peak memory of the PIPS and PIPS++ trackers on this machine's CPU.

Each (model, frames) case runs in its own process (so peak memory is that case's alone): keyed weights
(the plugin's tests/reference manifests; the speed does not depend on the weight values), a synthetic clip of
``--source`` size resized by the tracker to the official demo resolution (PIPS 360x640, PIPS++
512x896), ``--points`` queries on frame 0, official settings (PIPS: iters 6, chain of 8-frame windows;
PIPS++: iters 16, 128-frame windows).

Usage: python benchmarks/bench_pips.py [--frames 24 96] [--models pips pips2] [--points 32] [--threads 1]
Prints one line per case: seconds per frame (tracking only, model load excluded) and peak RSS.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_case(model: str, frames: int, points: int, threads: int, source: tuple[int, int], ckpt_dir: str) -> dict:
    import resource

    import numpy as np
    import torch

    from sampt.data.synthetic import make_clip
    from sampt.plugins import Registry
    from sampt.testing import keyed_state_dict

    torch.set_num_threads(threads)
    ckpt = Path(ckpt_dir) / f"{model}.pth"
    if not ckpt.exists():
        torch.save({"model_state_dict": keyed_state_dict(model)}, ckpt)
    clip = make_clip(seed=0, num_frames=frames, height=source[0], width=source[1])
    tracker = Registry().create("tracker", model, checkpoint=str(ckpt), device="cpu")
    side = int(np.ceil(np.sqrt(points)))
    ys, xs = np.meshgrid(np.linspace(8, source[0] - 9, side), np.linspace(8, source[1] - 9, side), indexing="ij")
    queries = np.stack([np.zeros(side * side), xs.ravel(), ys.ravel()], axis=1)[:points].astype(np.float32)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with torch.no_grad():
        tracks = tracker.track(clip.video, queries)
    seconds = time.perf_counter() - start
    assert tracks.points.shape == (frames, points, 2)
    return {"model": model, "frames": frames, "points": points, "threads": threads,
            "resolution": list(tracker.resolution), "seconds": round(seconds, 2),
            "seconds_per_frame": round(seconds / frames, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_tracking_mb": round(rss_before, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["pips", "pips2"])
    ap.add_argument("--frames", nargs="+", type=int, default=[24, 96])
    ap.add_argument("--points", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--source", type=int, nargs=2, default=[480, 854], metavar=("H", "W"),
                    help="size of the synthetic clip before the tracker resizes it")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        model, frames, ckpt_dir = args.case.split(",")
        print(json.dumps(run_case(model, int(frames), args.points, args.threads, tuple(args.source), ckpt_dir)))
        return
    with tempfile.TemporaryDirectory() as ckpt_dir:
        for model in args.models:
            for frames in args.frames:
                cmd = [sys.executable, __file__, "--case", f"{model},{frames},{ckpt_dir}", "--points", str(args.points),
                       "--threads", str(args.threads), "--source", *map(str, args.source)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{model} {frames} frames FAILED:\n{out.stderr}", file=sys.stderr)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{r['model']:<6} {r['frames']:>3} frames at {r['resolution'][0]}x{r['resolution'][1]}, "
                      f"{r['points']} points, {r['threads']} threads: {r['seconds_per_frame']:.3f} s/frame "
                      f"({r['seconds']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
