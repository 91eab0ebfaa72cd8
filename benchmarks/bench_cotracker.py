#!/usr/bin/env python3
"""Seconds per frame and peak memory of the CoTracker trackers on this machine's CPU.

Every (tracker, frames) case runs in a fresh process so its peak RSS is its own. Weights are keyed
(the plugin's ``tests/reference`` manifests; speed does not depend on weight values). The clip is synthetic,
``--source`` pixels, resized by each tracker to the official input resolution 384x512; ``--points`` queries
at frame 0 on a grid, official settings (6 refinement iterations, support grid where the official predictor
uses one, CoTracker 3 offline: one window over the whole video; online: 16-frame windows moving by 8).

Usage: python benchmarks/bench_cotracker.py [--trackers cotracker3_offline cotracker3_online ...]
       [--frames 24 96] [--points 32] [--threads 1] [--json results.jsonl]
Trackers whose classes are not installed are skipped with a note.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MANIFEST = {"cotracker3_offline": "cotracker3_offline", "cotracker3_online": "cotracker3_online",
            "cotracker2": "cotracker2", "cotracker1": "cotracker1"}
DEFAULT_TRACKERS = ["cotracker3_offline", "cotracker3_online", "cotracker2", "cotracker1"]


def run_case(name: str, frames: int, points: int, threads: int, source: tuple[int, int], ckpt_dir: str) -> dict:
    import resource

    import numpy as np
    import torch

    from sampt.data.synthetic import make_clip
    from sampt.plugins import Registry
    from sampt.testing import keyed_state_dict

    torch.set_num_threads(threads)
    ckpt = Path(ckpt_dir) / f"{name}.pth"
    if not ckpt.exists():
        torch.save(keyed_state_dict(MANIFEST[name]), ckpt)
    clip = make_clip(seed=0, num_frames=frames, height=source[0], width=source[1])
    tracker = Registry().create("tracker", name, checkpoint=str(ckpt), device="cpu")
    side = int(np.ceil(np.sqrt(points)))
    ys, xs = np.meshgrid(np.linspace(8, source[0] - 9, side), np.linspace(8, source[1] - 9, side), indexing="ij")
    queries = np.stack([np.zeros(side * side), xs.ravel(), ys.ravel()], axis=1)[:points].astype(np.float32)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with torch.no_grad():
        tracks = tracker.track(clip.video, queries)
    seconds = time.perf_counter() - start
    assert tracks.points.shape == (frames, points, 2)
    return {"tracker": name, "frames": frames, "points": points, "threads": threads, "source": list(source),
            "seconds": round(seconds, 2), "seconds_per_frame": round(seconds / frames, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_after_loading_mb": round(rss_loaded, 1)}


def installed(name: str) -> bool:
    from sampt.plugins import Registry

    try:
        Registry().entry("tracker", name).resolve()
        return True
    except Exception:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trackers", nargs="+", default=DEFAULT_TRACKERS, choices=sorted(MANIFEST))
    ap.add_argument("--frames", nargs="+", type=int, default=[24, 96])
    ap.add_argument("--points", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--source", type=int, nargs=2, default=[480, 854], metavar=("H", "W"))
    ap.add_argument("--json", help="append one JSON line per case to this file")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        name, frames, ckpt_dir = args.case.split(",")
        print(json.dumps(run_case(name, int(frames), args.points, args.threads, tuple(args.source), ckpt_dir)))
        return
    with tempfile.TemporaryDirectory() as ckpt_dir:
        for name in args.trackers:
            if not installed(name):
                print(f"{name}: not installed, skipped", flush=True)
                continue
            for frames in args.frames:
                cmd = [sys.executable, __file__, "--case", f"{name},{frames},{ckpt_dir}", "--points", str(args.points),
                       "--threads", str(args.threads), "--source", *map(str, args.source)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{name} {frames} frames FAILED:\n{out.stderr[-2000:]}", file=sys.stderr, flush=True)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{r['tracker']:<18} {r['frames']:>3} frames, {r['points']} points, {r['threads']} thread(s): "
                      f"{r['seconds_per_frame']:.3f} s/frame ({r['seconds']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB "
                      f"(after loading {r['rss_after_loading_mb']:.0f} MB)", flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
