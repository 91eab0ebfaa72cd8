#!/usr/bin/env python
"""Speed of the SAM-family segmenters (sampt-sam) with keyed weights (no checkpoint needed).

For each variant: image-encoder seconds per frame, and mask-decoder milliseconds per prompt when ``N``
prompts (3 points each, as SAM-PT sends per object) are decoded one call each (unbatched) versus in one
batched ``decode`` call. Weights come from ``sampt.testing.keyed_state``; speed does not depend on
their values.

    OMP_NUM_THREADS=2 python benchmarks/bench_sam.py --variants mobile_sam light_hq_sam --prompts 16
"""
from __future__ import annotations

import argparse
import json
import logging
import time
import warnings

import numpy as np
import torch


def bench_variant(name: str, frames: int, prompts: int, repeats: int, device: str, precision: str) -> dict:
    from sampt.types import Prompt
    from sampt.devices import pick_device
    from sampt_sam.segmenter import build_model, segmenter_class
    from sampt_sam.testing import keyed_state

    t0 = time.perf_counter()
    model = build_model(name)
    model.load_state_dict(keyed_state(model), strict=True)
    model.to(pick_device(device))
    segmenter = segmenter_class(name).from_model(model, name, precision=precision)
    setup_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(frames, 480, 854, 3), dtype=np.uint8)  # a DAVIS 480p frame
    embedding = segmenter.encode(images[0])  # warm-up
    sync = torch.cuda.synchronize if segmenter.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for image in images:
        embedding = segmenter.encode(image)
    sync()
    encode_s = (time.perf_counter() - t0) / frames

    batch = [Prompt(rng.uniform([0, 0], [853, 479], (3, 2)), [1, 1, 1]) for _ in range(prompts)]
    segmenter.decode(embedding, batch[:2])  # warm-up
    unbatched, batched = [], []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for p in batch:
            segmenter.decode(embedding, [p])
        sync()
        unbatched.append((time.perf_counter() - t0) / prompts)
        t0 = time.perf_counter()
        segmenter.decode(embedding, batch)
        sync()
        batched.append((time.perf_counter() - t0) / prompts)
    return {"variant": name, "params_M": params / 1e6, "setup_s": setup_s, "encode_s_per_frame": encode_s,
            "decode_ms_per_prompt_unbatched": 1e3 * min(unbatched),
            "decode_ms_per_prompt_batched": 1e3 * min(batched), "prompts": prompts,
            "device": str(segmenter.device), "threads": torch.get_num_threads()}


def main() -> None:
    from sampt_sam.plugin import VARIANTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--frames", type=int, default=1, help="frames encoded per variant (after a warm-up)")
    parser.add_argument("--prompts", type=int, default=8, help="prompts (objects) decoded on one embedding")
    parser.add_argument("--repeats", type=int, default=1, help="decode timings repeated, best kept")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)

    rows = []
    print(f"{'variant':<14} {'params':>8} {'encode s/frame':>15} {'decode ms/prompt':>17} {'batched':>9} "
          f"{'speed-up':>8}   (torch threads {torch.get_num_threads()}, {args.prompts} prompts x 3 points)")
    for name in args.variants:
        r = bench_variant(name, args.frames, args.prompts, args.repeats, args.device, args.precision)
        rows.append(r)
        print(f"{name:<14} {r['params_M']:>7.1f}M {r['encode_s_per_frame']:>15.2f} "
              f"{r['decode_ms_per_prompt_unbatched']:>17.1f} {r['decode_ms_per_prompt_batched']:>9.1f} "
              f"{r['decode_ms_per_prompt_unbatched'] / r['decode_ms_per_prompt_batched']:>7.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
