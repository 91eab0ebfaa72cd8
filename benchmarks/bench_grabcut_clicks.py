"""The weightless default segmenter from clicks: frame-0 J (IoU with the true mask) of the mask SAM-PT makes
from 3 positive clicks per object (its query mask), on generated clips with textured objects, for GrabCut's
``from_clicks`` modes: ``discs`` (the former seeding: the clicks' hull and discs as probable foreground) and
``box`` (the default: a rectangle around the clicks grown by a margin, components holding a click kept).

    .venv/bin/python benchmarks/bench_grabcut_clicks.py [--clips 12] [--height 240] [--width 320]

Two kinds of clip: ``make_clip``'s (saturated objects on a grey background: easy) and "camouflaged" scenes
(one textured object whose colours differ from the textured background's by ``--delta`` only, as on real
footage). Clicks are 3 k-medoids points of the true mask (spread over the object, as a person clicks),
seeded per clip.
"""
from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import cv2
import numpy as np

from sampt.builtin.samplers import KMedoidsSampler
from sampt.config import build_pipeline, compose
from sampt.data.synthetic import make_clip
from sampt.pipeline.query_points import ObjectPrompt
from sampt.types import Prompt, Video


def _texture(rng: np.random.Generator, h: int, w: int, tint: np.ndarray) -> np.ndarray:
    """Float RGB texture around ``tint``: noise at two scales, +-0.25."""
    noise = sum(wt * cv2.resize(rng.random((max(2, h // s), max(2, w // s), 3)).astype(np.float32), (w, h),
                                interpolation=cv2.INTER_CUBIC) for s, wt in ((4, 0.6), (12, 0.4)))
    return tint + 0.5 * (noise - 0.5)


def camouflaged_scene(seed: int, height: int, width: int, delta: float) -> SimpleNamespace:
    """One frame, one textured blob (ellipse or polygon) whose mean colour is ``delta`` from the background's."""
    rng = np.random.default_rng(seed)
    base = np.full(3, 0.5, np.float32)
    direction = rng.normal(size=3).astype(np.float32)
    image = _texture(rng, height, width, base)
    size = int(min(height, width) * rng.uniform(0.3, 0.5))
    mask = np.zeros((height, width), np.uint8)
    cx, cy = rng.uniform(size / 2 + 4, width - size / 2 - 4), rng.uniform(size / 2 + 4, height - size / 2 - 4)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (int(cx), int(cy)), (int(size / 2), int(size / 2 * rng.uniform(0.5, 0.9))),
                    float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        ang = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 9))))
        rad = size / 2 * rng.uniform(0.6, 1.0, len(ang))
        cv2.fillPoly(mask, [np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)], 1)
    obj = _texture(rng, height, width, base + delta * direction / np.linalg.norm(direction))
    image = np.where(mask[..., None] > 0, obj, image)
    frame = np.clip(image * 255, 0, 255).astype(np.uint8)
    return SimpleNamespace(video=frame[None], masks=mask.astype(bool)[None, None])


def frame0_j(mode: str, clips: list, clicks: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-object J with ``from_clicks=mode`` of the segmenter's first answer to the clicks and of SAM-PT's
    query mask made from them (two passes and refinement), and seconds per object (query mask)."""
    pipeline = build_pipeline(compose(["tracker=lk", "segmenter=grabcut", f"segmenter.from_clicks={mode}"]))
    first, query, seconds = [], [], 0.0
    for seed, clip in enumerate(clips):
        video = Video(clip.video[:1])
        embedding = pipeline.segmenter.encode(clip.video[0])
        for o in range(clip.masks.shape[1]):
            truth = clip.masks[0, o]
            points = KMedoidsSampler().sample(truth, clicks, seed=seed)
            answer = pipeline.segmenter.decode(embedding, [Prompt(points, np.ones(len(points)))])[0].mask
            started = time.perf_counter()
            mask = pipeline.query_points(video, [ObjectPrompt(o + 1, 0, points=points)])[0].mask
            seconds += time.perf_counter() - started
            first.append(_j(answer, truth))
            query.append(_j(mask, truth))
    return np.array(first), np.array(query), seconds / max(len(query), 1)


def _j(mask: np.ndarray, truth: np.ndarray) -> float:
    return float((mask & truth).sum() / max((mask | truth).sum(), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--clicks", type=int, default=3)
    ap.add_argument("--delta", type=float, default=0.15, help="camouflaged scenes: object-background colour distance")
    args = ap.parse_args()
    kinds = {
        "make_clip": [make_clip(seed=s, num_frames=1, height=args.height, width=args.width, num_objects=2)
                      for s in range(args.clips)],
        "camouflaged": [camouflaged_scene(s, args.height, args.width, args.delta) for s in range(args.clips)],
    }
    print(f"{args.clips} clips per kind, {args.width}x{args.height}, {args.clicks} positive clicks per object")
    print("first: the segmenter's answer to the clicks; query: SAM-PT's frame-0 mask (2 passes + refinement)")
    print(f"{'clips':<12} {'from_clicks':<12} {'first J':>8} {'J<0.5':>6} {'query J':>8} {'J<0.5':>6} {'ms/object':>10}")
    for kind, clips in kinds.items():
        for mode in ("discs", "box"):
            first, query, spo = frame0_j(mode, clips, args.clicks)
            print(f"{kind:<12} {mode:<12} {first.mean():>8.3f} {int((first < 0.5).sum()):>6} {query.mean():>8.3f} "
                  f"{int((query < 0.5).sum()):>6} {spo * 1000:>10.1f}")


if __name__ == "__main__":
    main()
