"""Tiny generated dataset layouts with predictions, for tests and metric-parity checks.

Everything here is deterministic (explicit geometry and seeded NumPy generators), so the same files can be
fed once to an official evaluation and its numbers recorded next to the tests (``tests/data/``).

* :func:`write_bdd100k_fixture`: a BDD100K VOS layout (objects entering, leaving and returning at any frame,
  in all three visibility-duration buckets) and a results folder of label PNGs.
* :func:`uvo_fixture`: a UVO / YouTube-VIS style ground-truth JSON (RLE masks, frames without a mask, a
  crowd instance) and a results list with ties in score.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.types import Video


def _disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def _box(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    return m


def _frames(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


# -- BDD100K VOS --------------------------------------------------------------------------------------

def bdd100k_sequences(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (ground truth, prediction)}``, ``(T, H, W)`` uint8 label maps.

    ``road``: 36 frames; object 1 visible throughout (long), 2 on frames 3-5 (short), 3 on 10-19 (medium),
    4 only on the last frame. ``lane``: 8 frames; object 1 throughout, 2 on frames 2, 3 and 5.
    Predictions drift, lose objects, and keep objects after they left (non-visible frames scored 0).
    """
    rng = np.random.default_rng(seed)
    out = {}
    T, H, W = 36, 24, 32
    gt = np.zeros((T, H, W), np.uint8)
    pred = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        gt[t][_disc(H, W, 6 + t * 0.4, 12, 4)] = 1
        jitter = rng.integers(-2, 3, 2)
        if t % 7 != 3:  # lost now and then
            pred[t][_disc(H, W, 6 + t * 0.4 + jitter[0], 12 + jitter[1], 4 + (t % 3 == 0))] = 1
        if 3 <= t <= 5:
            gt[t][_box(H, W, 24, 2, 30, 7)] = 2
        if 3 <= t <= 8:  # kept after it left
            pred[t][_box(H, W, 24 + (t > 3), 2, 30, 7 + (t % 2))] = 2
        if 10 <= t <= 19:
            gt[t][_box(H, W, 2 + t // 4, 17, 9 + t // 4, 23)] = 3
        if 10 <= t <= 21:
            pred[t][_box(H, W, 2 + t // 4 + int(rng.integers(0, 2)), 17, 9 + t // 4, 23 - int(rng.integers(0, 2)))] = 3
        if t == T - 1:
            gt[t][_box(H, W, 20, 14, 27, 20)] = 4
            pred[t][_box(H, W, 20, 14, 27, 20)] = 4
    out["road"] = (gt, pred)
    T = 8
    gt = np.zeros((T, H, W), np.uint8)
    pred = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        gt[t][_box(H, W, 2 + t, 2, 12 + t, 10)] = 1
        pred[t][_box(H, W, 2 + t + int(rng.integers(-1, 2)), 2, 12 + t, 10 + int(rng.integers(-1, 2)))] = 1
        if t in (2, 3, 5):
            gt[t][_disc(H, W, 22, 16, 3 + (t == 5))] = 2
        if t in (2, 3, 4):
            pred[t][_disc(H, W, 22 + (t == 3), 16, 3)] = 2
    out["lane"] = (gt, pred)
    return out


def write_bdd100k_fixture(root: str | Path, seed: int = 0, split: str = "val") -> tuple[Path, Path]:
    """Write :func:`bdd100k_sequences` as ``root/<split>/{JPEGImages,Annotations}`` and the predictions as
    ``root/results/<seq>/<frame>.png``; returns ``(dataset root, results folder)``."""
    from sampt.io import write_frames, write_label_png

    root = Path(root)
    rng = np.random.default_rng(seed + 1)
    for name, (gt, pred) in bdd100k_sequences(seed).items():
        T, H, W = gt.shape
        write_frames(root / split / "JPEGImages" / name, Video(_frames(rng, T, H, W), fps=5.0, name=name))
        for t in range(T):
            write_label_png(root / split / "Annotations" / name / f"{t:05d}.png", gt[t])
            write_label_png(root / "results" / name / f"{t:05d}.png", pred[t])
    return root, root / "results"


# -- UVO / YouTube-VIS --------------------------------------------------------------------------------

def _rle(mask: np.ndarray, compressed: bool = True) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    if compressed:
        rle["counts"] = rle["counts"].decode("ascii")
        return rle
    # uncompressed RLE: run lengths in column-major order, starting with zeros
    flat = mask.astype(np.uint8).flatten(order="F")
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": [int(c) for c in counts]}


def uvo_fixture(seed: int = 0) -> tuple[dict, list[dict], dict[int, np.ndarray]]:
    """``(ground truth JSON, results list, frames)`` of three small videos in the UVO v1.0 VideoDenseSet
    format (class-agnostic: category 1 "object"); ``frames[video_id]`` is ``(T, H, W, 3)`` uint8.

    Video 1 has three instances (one absent on some frames, stored as null) and five predictions, two with
    equal scores; video 2 a crowd instance and a regular one; video 3 one instance and no prediction.
    """
    rng = np.random.default_rng(seed)
    T, H, W = 4, 20, 24
    videos, annotations, results, frames = [], [], [], {}
    ann_id = 1

    def add_video(vid: int) -> None:
        videos.append({"id": vid, "width": W, "height": H, "length": T,
                       "file_names": [f"video{vid}/{t}.png" for t in range(T)]})
        frames[vid] = _frames(rng, T, H, W)

    def add_gt(vid: int, masks: list[Optional[np.ndarray]], crowd: int = 0, compressed: bool = True) -> None:
        nonlocal ann_id
        segs = [None if m is None or not m.any() else _rle(m, compressed) for m in masks]
        areas = [None if m is None or not m.any() else int(m.sum()) for m in masks]
        bboxes = []
        for m in masks:
            if m is None or not m.any():
                bboxes.append(None)
                continue
            ys, xs = np.nonzero(m)
            bboxes.append([int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)])
        annotations.append({"id": ann_id, "video_id": vid, "category_id": 1, "iscrowd": crowd,
                            "segmentations": segs, "areas": areas, "bboxes": bboxes, "height": H, "width": W,
                            "length": 1})
        ann_id += 1

    def add_pred(vid: int, masks: list[np.ndarray], score: float) -> None:
        results.append({"video_id": vid, "category_id": 1, "score": score,
                        "segmentations": [_rle(m) for m in masks]})

    add_video(1)
    a = [_box(H, W, 2 + t, 2, 9 + t, 9) for t in range(T)]
    b = [_disc(H, W, 17, 14, 4) if t != 2 else None for t in range(T)]
    c = [_box(H, W, 1, 13, 7, 19) if t < 2 else None for t in range(T)]
    add_gt(1, a)
    add_gt(1, b, compressed=False)
    add_gt(1, c)
    add_pred(1, [_box(H, W, 2 + t + (t > 1), 2, 9 + t, 9 + (t % 2)) for t in range(T)], 0.9)
    add_pred(1, [_disc(H, W, 17, 14 + (t > 0), 4) for t in range(T)], 0.8)
    add_pred(1, [_box(H, W, 3 + t, 3, 9 + t, 9) for t in range(T)], 0.8)  # a duplicate of the first
    add_pred(1, [_box(H, W, 1, 13, 7, 19) if t < 3 else np.zeros((H, W), bool) for t in range(T)], 0.35)
    add_pred(1, [_box(H, W, 12, 0, 16, 4) for t in range(T)], 0.6)  # nothing there
    add_video(2)
    add_gt(2, [_box(H, W, 0, 0, 12, 10) for t in range(T)], crowd=1)
    add_gt(2, [_disc(H, W, 16 - t, 14, 3) for t in range(T)])
    add_pred(2, [_box(H, W, 1, 0, 12, 9) for t in range(T)], 0.7)
    add_pred(2, [_disc(H, W, 16 - t, 14 + (t == 3), 3) for t in range(T)], 0.5)
    add_pred(2, [_disc(H, W, 10, 5, 2) for t in range(T)], 0.95)  # inside the crowd region
    add_video(3)
    add_gt(3, [_box(H, W, 5, 5, 15, 15) for t in range(T)])
    gt = {"info": {"description": "sampt UVO fixture"}, "licenses": [], "videos": videos,
          "categories": [{"id": 1, "name": "object", "supercategory": "object"}], "annotations": annotations}
    return gt, results, frames


def write_uvo_fixture(root: str | Path, seed: int = 0, split: str = "val") -> Path:
    """Write :func:`uvo_fixture` in the UVO v1.0 layout: ``root/VideoDenseSet/UVO_video_<split>_dense.json``,
    frames under ``root/uvo_videos_dense_frames/`` and the predictions as ``root/results.json``."""
    import json

    import cv2

    from sampt.outputs import atomic_file

    root = Path(root)
    gt, results, frames = uvo_fixture(seed)
    for v in gt["videos"]:
        for t, name in enumerate(v["file_names"]):
            path = root / "uvo_videos_dense_frames" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(frames[v["id"]][t], cv2.COLOR_RGB2BGR))
    for path, data in ((root / "VideoDenseSet" / f"UVO_video_{split}_dense.json", gt), (root / "results.json", results)):
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(data))
    return root



def write_uvo_clips(root: str | Path, clips: Sequence[Any], split: str = "val") -> Path:
    """Write synthetic clips (:class:`sampt.data.synthetic.SyntheticClip`) in the UVO v1.0 layout, each
    object a ground-truth instance with RLE masks (null where it is not visible); video ids 1, 2, ..."""
    import json

    import cv2

    from sampt.outputs import atomic_file

    root = Path(root)
    videos, annotations = [], []
    for vid, clip in enumerate(clips, start=1):
        T, H, W = clip.masks.shape[0], clip.masks.shape[2], clip.masks.shape[3]
        names = [f"{clip.name}/{t}.png" for t in range(T)]
        for t, name in enumerate(names):
            path = root / "uvo_videos_dense_frames" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(clip.video.frames[t], cv2.COLOR_RGB2BGR))
        videos.append({"id": vid, "width": W, "height": H, "length": T, "file_names": names})
        for o in range(clip.masks.shape[1]):
            m = clip.masks[:, o]
            annotations.append({"id": len(annotations) + 1, "video_id": vid, "category_id": 1, "iscrowd": 0,
                                "segmentations": [_rle(m[t]) if m[t].any() else None for t in range(T)],
                                "areas": [int(m[t].sum()) or None for t in range(T)]})
    gt = {"videos": videos, "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}
    with atomic_file(root / "VideoDenseSet" / f"UVO_video_{split}_dense.json") as tmp:
        tmp.write_text(json.dumps(gt))
    return root
