#!/usr/bin/env python
"""Per-frame encode and per-prompt decode time of the SAM 2.1 segmenters (sampt-sam2) next to MobileSAM and
SAM ViT-B (sampt-sam), with keyed weights (no checkpoint needed; speed does not depend on weight values).

For each model: image-encoder seconds per 480p frame (wall clock and process CPU), and mask-decoder
milliseconds per prompt (3 points each, as SAM-PT sends per object) decoded one call each versus ``N`` in one
batched call. The load average is recorded beside the figures: on a shared machine wall-clock times move
with other work, CPU seconds less so.

    OMP_NUM_THREADS=2 python benchmarks/bench_sam2.py --models sam2.1_hiera_tiny mobile_sam --json out.json
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time
import warnings
from typing import Any

import numpy as np
import torch

SAM2_MODELS = ("sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large")
SAM_MODELS = ("mobile_sam", "sam_vit_b")


def build(name: str) -> Any:
    """The sampt segmenter ``name`` with keyed weights, on the CPU."""
    if name in SAM_MODELS:
        from sampt_sam.segmenter import SEGMENTERS, build_model
        from sampt_sam.testing import keyed_state

        model = build_model(name)
        model.load_state_dict(keyed_state(model), strict=True)
        return SEGMENTERS[name].from_model(model)
    from sampt_sam2.builders import build_image_model
    from sampt_sam2.segmenter import Sam2Segmenter
    from sampt_sam2.testing import keyed_state

    model = build_image_model(name)
    model.load_state_dict(keyed_state(name), strict=True)
    return Sam2Segmenter.from_model(model, name)


def timed(fn: Any) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def bench_model(name: str, frames: int, prompts: int, repeats: int) -> dict:
    from sampt.types import Prompt

    t0 = time.perf_counter()
    segmenter = build(name)
    setup_s = time.perf_counter() - t0
    params = sum(p.numel() for p in segmenter.model.parameters())
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(frames, 480, 854, 3), dtype=np.uint8)  # a DAVIS 480p frame
    embedding = segmenter.encode(images[0])  # warm-up
    enc = [timed(lambda im=im: segmenter.encode(im)) for im in images]
    batch = [Prompt(rng.uniform([0, 0], [853, 479], (3, 2)), [1, 1, 1]) for _ in range(prompts)]
    segmenter.decode(embedding, batch[:2])  # warm-up
    unbatched, batched = [], []
    for _ in range(repeats):
        unbatched.append(timed(lambda: [segmenter.decode(embedding, [p]) for p in batch])[0] / prompts)
        batched.append(timed(lambda: segmenter.decode(embedding, batch))[0] / prompts)
    return {"model": name, "params_M": params / 1e6, "setup_s": setup_s,
            "encode_s_per_frame": min(w for w, _ in enc), "encode_cpu_s_per_frame": min(c for _, c in enc),
            "decode_ms_per_prompt_unbatched": 1e3 * min(unbatched), "decode_ms_per_prompt_batched": 1e3 * min(batched),
            "prompts": prompts, "frames": frames, "threads": torch.get_num_threads(),
            "loadavg_1min": os.getloadavg()[0], "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[*SAM2_MODELS, *SAM_MODELS], choices=[*SAM2_MODELS, *SAM_MODELS])
    parser.add_argument("--frames", type=int, default=2, help="frames encoded per model (after a warm-up); best kept")
    parser.add_argument("--prompts", type=int, default=8, help="prompts (objects) decoded on one embedding")
    parser.add_argument("--repeats", type=int, default=2, help="decode timings repeated, best kept")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    rows = []
    print(f"{'model':<24} {'params':>8} {'encode s/frame':>15} {'(CPU s)':>8} {'decode ms/prompt':>17} "
          f"{'batched':>8} {'load':>5}   (torch threads {torch.get_num_threads()}, {args.prompts} prompts x 3 points)")
    for name in args.models:
        r = bench_model(name, args.frames, args.prompts, args.repeats)
        rows.append(r)
        print(f"{name:<24} {r['params_M']:>7.1f}M {r['encode_s_per_frame']:>15.2f} {r['encode_cpu_s_per_frame']:>8.2f} "
              f"{r['decode_ms_per_prompt_unbatched']:>17.1f} {r['decode_ms_per_prompt_batched']:>8.1f} "
              f"{r['loadavg_1min']:>5.1f}", flush=True)
        if args.json:  # written after every model, atomically, so an interrupted run keeps what it measured
            tmp = args.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(rows, f, indent=2)
            os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
