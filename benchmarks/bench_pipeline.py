"""SAM-PT pipeline speed and memory: MobileSAM + CoTracker 1 with keyed weights on a generated clip.

Each length runs in a child process so its peak RSS (``ru_maxrss``) is its own. Prints FPS, wall and CPU
seconds per stage, encoder and decoder calls and peak RSS per length, as a Markdown table row each.

    .venv/bin/python benchmarks/bench_pipeline.py --frames 24 96 --height 240 --width 427
    .venv/bin/python benchmarks/bench_pipeline.py --all-visible ...       # exercise encoder and decoder
    SAMPT_MALLOC_TUNING=0 .venv/bin/python benchmarks/bench_pipeline.py ...   # glibc defaults

``--all-visible`` is a benchmark-only setting: with keyed (random) CoTracker weights no tracked point is
visible after the query frame, so nothing is prompted and the segmenter never runs; this flag marks every
tracked point visible (the tracker still runs in full) so encoding and decoding are measured too, as in
the issue's "all points visible" reference measurements. ``--segmenter-precision`` /
``--channels-last`` / ``--compile`` try the segmenter options (see ``benchmarks/results/pipeline.md``);
``--save-masks`` writes the label maps to an ``.npy`` so runs can be compared (IoU) with ``--compare``.

The machine it was measured on is a shared, loaded 2-core CPU: interleave before/after runs and compare
ratios (and CPU seconds) rather than wall-clock figures.
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
from typing import Optional


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(frames: int, height: int, width: int, objects: int, threads: int, folder: Path, all_visible: bool,
          segmenter_options: list[str], save_masks: Optional[str]) -> dict:
    """One run in this process; returns its figures."""
    import numpy as np
    import torch

    from sampt.allocator import tune_malloc

    tune_malloc()
    torch.set_num_threads(threads)
    from sampt.config import build_pipeline, compose
    from sampt.data.synthetic import make_clip
    from sampt.pipeline import ObjectPrompt
    from sampt.testing import keyed_state_dict
    from sampt.types import Tracks
    from sampt_sam.testing import keyed_checkpoint

    sam, _ = keyed_checkpoint("mobile_sam", folder / "mobile_sam.pth")
    cot = folder / "cotracker1.pth"
    torch.save({"model": keyed_state_dict("cotracker1")}, cot)
    pipeline = build_pipeline(compose(["segmenter=mobile_sam", f"segmenter.checkpoint={sam}", "segmenter.device=cpu",
                                       "tracker=cotracker1", f"tracker.checkpoint={cot}", "tracker.device=cpu",
                                       *segmenter_options]))
    clip = make_clip(seed=0, num_frames=frames, height=height, width=width, num_objects=objects)
    video, first_masks = clip.video, clip.masks[0].copy()
    del clip  # the generator's (T, O, H, W) ground truth is not part of the pipeline's memory
    cpu = {"tracking": 0.0, "encoding": 0.0, "decoding": 0.0}
    calls = {"decoder": 0}

    def timed(stage: str, fn, transform=None):
        def wrapper(*args, **kwargs):
            start = _cpu()
            out = fn(*args, **kwargs)
            cpu[stage] += _cpu() - start
            if stage == "decoding":
                calls["decoder"] += 1
            return transform(out) if transform is not None else out
        return wrapper

    def visible(tracks: Tracks) -> Tracks:  # benchmark-only: every tracked point visible
        return Tracks(tracks.points, np.ones_like(tracks.visibility), tracks.confidence)

    pipeline.tracker.track = timed("tracking", pipeline.tracker.track, visible if all_visible else None)
    pipeline.segmenter.encode = timed("encoding", pipeline.segmenter.encode)
    pipeline.segmenter.decode = timed("decoding", pipeline.segmenter.decode)
    prompts = [ObjectPrompt(o + 1, 0, mask=first_masks[o]) for o in range(objects)]
    start, start_cpu = time.perf_counter(), _cpu()
    result = pipeline.run(video, prompts)
    total, total_cpu = time.perf_counter() - start, _cpu() - start_cpu
    if save_masks:
        np.save(save_masks, result.label_maps())
    return {"frames": frames, "fps": frames / total, "wall": round(total, 2), "cpu": round(total_cpu, 2),
            "seconds": {k: round(v, 2) for k, v in result.timings.items()},
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "encoder_calls": result.encoder_calls, "decoder_calls": calls["decoder"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def mask_iou(a: str, b: str) -> float:
    """Mean over frames and objects of the IoU between two saved label-map stacks (1 where both are empty)."""
    import numpy as np

    x, y = np.load(a), np.load(b)
    if x.shape != y.shape:
        raise SystemExit(f"label maps differ in shape: {x.shape} vs {y.shape}")
    ious = []
    for label in sorted(set(np.unique(x)) | set(np.unique(y)) - {0}):
        for t in range(len(x)):
            p, q = x[t] == label, y[t] == label
            union = np.logical_or(p, q).sum()
            ious.append(1.0 if union == 0 else np.logical_and(p, q).sum() / union)
    return float(np.mean(ious)) if ious else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[24, 96])
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=427)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--all-visible", action="store_true",
                        help="benchmark-only: mark every tracked point visible so the segmenter runs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override, e.g. segmenter.precision=bfloat16 (repeatable)")
    parser.add_argument("--save-masks", default=None, metavar="PREFIX",
                        help="write each run's label maps to PREFIX<frames>.npy")
    parser.add_argument("--compare", nargs=2, default=None, metavar="NPY", help="print the mask IoU of two saves")
    parser.add_argument("--label", default="", help="first column of the printed rows")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare:
        print(f"mean mask IoU: {mask_iou(*args.compare):.4f}")
        return
    if args.child is not None:
        save = f"{args.save_masks}{args.child}.npy" if args.save_masks else None
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(child(args.child, args.height, args.width, args.objects, args.threads, Path(tmp),
                                   args.all_visible, args.set, save)))
        return
    print("| run | frames | FPS | wall s | CPU s | tracking s (CPU) | encoding s (CPU) | decoding s (CPU) | other s "
          "| encoder calls | decoder calls | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.frames:
        cmd = [sys.executable, __file__, "--child", str(n), "--height", str(args.height), "--width", str(args.width),
               "--objects", str(args.objects), "--threads", str(args.threads)]
        cmd += ["--all-visible"] if args.all_visible else []
        cmd += [f"--set={s}" for s in args.set]
        cmd += ["--save-masks", args.save_masks] if args.save_masks else []
        out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if out.returncode:
            sys.exit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        s, c = r["seconds"], r["cpu_seconds"]
        stage = {k: f"{s.get(k, 0)} ({c.get(k, 0)})" for k in ("tracking", "encoding", "decoding")}
        print(f"| {args.label} | {n} | {r['fps']:.3f} | {r['wall']} | {r['cpu']} | {stage['tracking']} | "
              f"{stage['encoding']} | {stage['decoding']} | {s.get('other', 0)} | {r['encoder_calls']} | "
              f"{r['decoder_calls']} | {r['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
