"""Speed and mask effect of the SAM-family segmenter's encoder options (MobileSAM, keyed weights).

For each setting (float32, bfloat16 autocast, channels-last, torch.compile) encodes the same frames of a
generated clip and decodes the same prompts (each object's box and centre point), then reports CPU and
wall seconds per frame (after one warm-up frame, which also pays any compilation) and the masks' mean IoU
against the float32 run: the accuracy effect of each option on identical weights.

    .venv/bin/python benchmarks/bench_encoder_options.py --frames 3 --threads 2

Each setting runs in its own child process (sequentially). The machine it was measured on is a shared,
loaded 2-core CPU: CPU seconds are the figure to compare.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "float32": [],
    "bfloat16": ["segmenter.precision=bfloat16"],
    "channels_last": ["segmenter.channels_last=true"],
    "compile": ["segmenter.compile=true"],
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(setting: str, frames: int, threads: int, out: Path) -> dict:
    import numpy as np
    import torch

    from sampt.allocator import tune_malloc

    tune_malloc()
    torch.set_num_threads(threads)
    from sampt.config import build_component, compose
    from sampt.data.synthetic import make_clip
    from sampt.types import Prompt
    from sampt_sam.testing import keyed_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        sam, _ = keyed_checkpoint("mobile_sam", Path(tmp) / "mobile_sam.pth")
        cfg = compose(["segmenter=mobile_sam", f"segmenter.checkpoint={sam}", "segmenter.device=cpu",
                       *SETTINGS[setting]])
        segmenter = build_component(cfg, "segmenter")
    clip = make_clip(seed=0, num_frames=frames + 1, height=240, width=427, num_objects=3)
    masks, cpu, wall = [], [], []
    for t in range(frames + 1):
        start, start_cpu = time.perf_counter(), _cpu()
        emb = segmenter.encode(clip.video[t])
        if t > 0:  # the first frame warms up (and compiles)
            wall.append(time.perf_counter() - start)
            cpu.append(_cpu() - start_cpu)
        prompts = []
        for o in range(clip.masks.shape[1]):
            ys, xs = np.nonzero(clip.masks[t, o])
            box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)
            prompts.append(Prompt(np.array([[xs.mean(), ys.mean()]], np.float32), np.array([1]), box=box))
        masks.append(np.stack([p.logits > 0 for p in segmenter.decode(emb, prompts)]))
    np.save(out, np.stack(masks))
    return {"cpu_per_frame": float(np.mean(cpu)), "wall_per_frame": float(np.mean(wall)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.frames, args.threads, Path(args.out))))
        return
    import numpy as np

    print("| encoder setting | CPU s / frame | wall s / frame | mask IoU vs float32 | peak RSS MB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        ref = None
        for setting in ["float32"] + [s for s in args.settings if s != "float32"]:
            out = Path(tmp) / f"{setting}.npy"
            run = subprocess.run([sys.executable, __file__, "--child", setting, "--frames", str(args.frames),
                                  "--threads", str(args.threads), "--out", str(out)],
                                 capture_output=True, text=True, env=os.environ.copy())
            if run.returncode:
                print(f"| {setting} | failed: {run.stderr.strip().splitlines()[-1]} | | | |", flush=True)
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            masks = np.load(out)
            ref = masks if ref is None else ref
            inter = np.logical_and(masks, ref).sum(axis=(-2, -1))
            union = np.logical_or(masks, ref).sum(axis=(-2, -1))
            iou = float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))
            print(f"| {setting} | {r['cpu_per_frame']:.2f} | {r['wall_per_frame']:.2f} | {iou:.4f} | "
                  f"{r['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
