"""SAM-PT pipeline speed and memory: MobileSAM + CoTracker 1 with keyed weights on a generated clip.

Each length runs in a child process so its peak RSS (``ru_maxrss``) is its own. Prints FPS, seconds per
stage, encoder and decoder calls and peak RSS per length, as a Markdown table row each.

    .venv/bin/python benchmarks/bench_pipeline.py --frames 24 96 --height 240 --width 427
    SAMPT_MALLOC_TUNING=0 .venv/bin/python benchmarks/bench_pipeline.py ...   # glibc defaults

The machine it was measured on is a shared, loaded 2-core CPU: interleave before/after runs and compare
ratios rather than absolute figures.
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


def child(frames: int, height: int, width: int, objects: int, threads: int, folder: Path) -> dict:
    """One run in this process; returns its figures."""
    import torch

    from sampt.allocator import tune_malloc

    tune_malloc()
    torch.set_num_threads(threads)
    from sampt.config import build_pipeline, compose
    from sampt.data.synthetic import make_clip
    from sampt.pipeline import ObjectPrompt
    from sampt.testing import keyed_state_dict
    from sampt_sam.testing import keyed_checkpoint

    sam, _ = keyed_checkpoint("mobile_sam", folder / "mobile_sam.pth")
    cot = folder / "cotracker1.pth"
    torch.save({"model": keyed_state_dict("cotracker1")}, cot)
    pipeline = build_pipeline(compose(["segmenter=mobile_sam", f"segmenter.checkpoint={sam}", "segmenter.device=cpu",
                                       "tracker=cotracker1", f"tracker.checkpoint={cot}", "tracker.device=cpu"]))
    clip = make_clip(seed=0, num_frames=frames, height=height, width=width, num_objects=objects)
    decoder_calls = 0
    decode = pipeline.segmenter.decode

    def counting(*args, **kwargs):
        nonlocal decoder_calls
        decoder_calls += 1
        return decode(*args, **kwargs)

    pipeline.segmenter.decode = counting
    prompts = [ObjectPrompt(o + 1, 0, mask=clip.masks[0, o]) for o in range(objects)]
    start = time.perf_counter()
    result = pipeline.run(clip.video, prompts)
    total = time.perf_counter() - start
    return {"frames": frames, "fps": frames / total, "seconds": {k: round(v, 2) for k, v in result.timings.items()},
            "encoder_calls": result.encoder_calls, "decoder_calls": decoder_calls,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[24, 96])
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=427)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(child(args.child, args.height, args.width, args.objects, args.threads, Path(tmp))))
        return
    print("| frames | FPS | tracking s | encoding s | decoding s | other s | encoder calls | decoder calls | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.frames:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--height", str(args.height), "--width",
                              str(args.width), "--objects", str(args.objects), "--threads", str(args.threads)],
                             capture_output=True, text=True, env=os.environ.copy())
        if out.returncode:
            sys.exit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        s = r["seconds"]
        print(f"| {n} | {r['fps']:.3f} | {s.get('tracking', 0)} | {s.get('encoding', 0)} | {s.get('decoding', 0)} | "
              f"{s.get('other', 0)} | {r['encoder_calls']} | {r['decoder_calls']} | {r['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
