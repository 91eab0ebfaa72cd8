#!/usr/bin/env python3
"""Speed and memory of the TAPIR trackers (sampt-tapir) at the official 256x256 model resolution.

Each measurement runs in a fresh subprocess so peaks do not mix:
  * offline ``tapir`` / ``bootstapir`` and online ``bootstapir_online``: seconds per frame and peak memory
    (process peak RSS; on CUDA also ``torch.cuda.max_memory_allocated``) for 24 and 96 frames;
  * the online tracker streaming 100 vs 300 frames: its peak RSS should stay flat.

Usage:  python benchmarks/bench_tapir.py [--frames 24 96] [--online-frames 100 300] [--points 64]
        [--models tapir bootstapir bootstapir_online] [--device auto] [--threads 2]
        python benchmarks/bench_tapir.py --big   # 1,000 points on 200 frames (BootsTAPIR; use a GPU)
Weights are random (speed and memory do not depend on them), so no checkpoint is needed.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def frame_source(height: int, width: int, seed: int = 0):
    """A panning blocky texture, generated frame by frame (no whole video held for streaming)."""
    rng = np.random.RandomState(seed)
    tex = np.kron(rng.randint(0, 256, (height // 8 + 64, width // 8 + 64, 3)), np.ones((8, 8, 1))).astype(np.uint8)

    def frame(t: int) -> np.ndarray:
        dy, dx = (t // 2) % 256, t % 256
        return np.ascontiguousarray(tex[dy:dy + height, dx:dx + width])

    return frame


def rss_mb() -> float:
    """Current resident set size (Linux /proc), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class PeakRSS:
    """Samples the resident set size every few milliseconds in a thread; ``peak`` is the largest seen."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak, self._stop = interval, rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def worker(model: str, frames: int, points: int, device: str, threads: int, size: int) -> dict:
    import torch

    from sampt.types import Video
    from sampt_tapir.tracker import OnlineBootsTapirTracker, TapirTracker, build_model

    torch.set_num_threads(threads)
    cls = OnlineBootsTapirTracker if model == "bootstapir_online" else TapirTracker
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{model}_random.pt")
        torch.save(build_model(model).state_dict(), path)
        tracker = cls(variant=model, checkpoint=path, device=device)
    rng = np.random.RandomState(1)
    q = np.stack([rng.randint(0, frames, points) * (model != "bootstapir_online"),
                  rng.uniform(0, size - 1, points), rng.uniform(0, size - 1, points)], axis=-1).astype(np.float32)
    src = frame_source(size, size)
    cuda = tracker.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    gc.collect()
    base = rss_mb()
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        if model == "bootstapir_online":
            stream = tracker.open_stream(q, size, size)
            trace = {}
            for t in range(frames):
                stream.push(src(t))
                if (t + 1) % 50 == 0 or t + 1 in (1, 10):
                    trace[t + 1] = round(peak.peak, 1)  # peak RSS so far, after t + 1 frames
            stream.finish()
        else:
            tracker.track(Video(np.stack([src(t) for t in range(frames)])), q)
        if cuda:
            torch.cuda.synchronize()
        sec = time.perf_counter() - t0
    out = {"model": model, "frames": frames, "points": points, "device": str(tracker.device), "threads": threads,
           "seconds": round(sec, 2), "sec_per_frame": round(sec / frames, 3),
           "rss_before_mb": round(base, 1), "peak_rss_mb": round(peak.peak, 1),
           "peak_increase_mb": round(peak.peak - base, 1)}
    if model == "bootstapir_online":
        out["peak_rss_after_frames_mb"] = trace
    if cuda:
        out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
    return out


def run(args, model: str, frames: int, points: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", model, str(frames), str(points), "--device", args.device,
           "--threads", str(args.threads), "--size", str(args.size)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, nargs="+", default=[24, 96])
    p.add_argument("--online-frames", type=int, nargs="*", default=[100, 300])
    p.add_argument("--models", nargs="+", default=["tapir", "bootstapir", "bootstapir_online"])
    p.add_argument("--points", type=int, default=64)
    p.add_argument("--online-points", type=int, default=16)
    p.add_argument("--size", type=int, default=256, help="video side (the model input is 256x256)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    p.add_argument("--big", action="store_true", help="only: BootsTAPIR, 1,000 points on 200 frames")
    p.add_argument("--worker", nargs=3, metavar=("MODEL", "FRAMES", "POINTS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        m, f, n = args.worker
        print(json.dumps(worker(m, int(f), int(n), args.device, args.threads, args.size)))
        return
    if args.big:
        run(args, "bootstapir", 200, 1000)
        return
    for model in args.models:
        for frames in args.frames:
            run(args, model, frames, args.points)
    for frames in args.online_frames:
        run(args, "bootstapir_online", frames, args.online_points)


if __name__ == "__main__":
    main()
