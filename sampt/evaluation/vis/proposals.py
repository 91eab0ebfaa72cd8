"""First-frame instance proposals for video instance segmentation.

* :func:`propose`: automatic mask generation by grid prompting, the way SAM's ``SamAutomaticMaskGenerator``
  works (one image, no crops): a regular ``points_per_side`` x ``points_per_side`` grid of single positive
  clicks is decoded in batches through sampt's :class:`~sampt.interfaces.Segmenter` (so any SAM-family
  plugin, or the weightless GrabCut, can propose), every candidate mask of a click
  (:meth:`~sampt.interfaces.Segmenter.decode_candidates`: SAM's three) considered; masks are kept when the segmenter's predicted IoU
  reaches ``pred_iou_thresh`` and their stability score (IoU of the mask thresholded at +offset and at
  -offset of the logits) reaches ``stability_score_thresh``; duplicates are removed by box non-maximum
  suppression (``box_nms_thresh``), best predicted IoU first.
* :func:`read_proposals`: proposals given as a file (to compare trackers under the same proposals, as the
  paper does with TAM): a JSON list of ``{"video_id", "segmentation": RLE, "frame": 0, "score": 1.0}``
  (``video`` by name also accepted; ``segmentations``, one RLE per frame, prompts on the first non-empty).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.io import read_json_records
from sampt.types import Prompt


@dataclass
class Proposal:
    """One instance to track: its ``mask`` ``(H, W)`` bool on ``frame``, and the proposer's ``score``."""

    mask: np.ndarray
    score: float = 1.0
    frame: int = 0


@dataclass
class ProposalOptions:
    """Automatic mask generation settings (SAM's ``SamAutomaticMaskGenerator`` defaults)."""

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_mask_area: int = 1
    max_proposals: int = 100
    multimask: bool = True  #: every candidate of an ambiguous click (SAM: three), as SAM's generator

    def validate(self) -> "ProposalOptions":
        if self.points_per_side < 1 or self.points_per_batch < 1 or self.max_proposals < 1:
            raise UsageError("points_per_side, points_per_batch and max_proposals must be >= 1 "
                             f"(got {self.points_per_side}, {self.points_per_batch}, {self.max_proposals})")
        for name in ("box_nms_thresh",):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        return self

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def grid_points(points_per_side: int, height: int, width: int) -> np.ndarray:
    """``(n*n, 2)`` float32 ``(x, y)`` pixel points: cell centres of an ``n`` x ``n`` grid over the image."""
    n = int(points_per_side)
    centres = (np.arange(n, dtype=np.float64) + 0.5) / n
    xs, ys = np.meshgrid(centres * width, centres * height)
    return np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1).astype(np.float32)


def stability_score(logits: np.ndarray, offset: float = 1.0, threshold: float = 0.0) -> float:
    """IoU of the masks ``logits > threshold + offset`` and ``logits > threshold - offset`` (1 when both
    are empty: no pixel is near the decision boundary)."""
    high = int(np.count_nonzero(logits > threshold + offset))
    low = int(np.count_nonzero(logits > threshold - offset))
    return high / low if low else 1.0


def mask_box(mask: np.ndarray) -> np.ndarray:
    """``(x0, y0, x1, y1)`` of a non-empty mask: its first and last occupied column and row (inclusive, as
    SAM's ``batched_mask_to_box``; with the box area ``(x1 - x0) * (y1 - y0)`` of the NMS below this is
    the box IoU SAM's automatic mask generator suppresses on)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return np.array([xs[0], ys[0], xs[-1], ys[-1]], np.float64)


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float) -> list[int]:
    """Greedy non-maximum suppression: indices kept, best score first (ties in input order); a box is
    dropped when its IoU with a kept box exceeds ``iou_thresh``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    for i in order:
        if keep:
            k = np.array(keep)
            w = np.clip(np.minimum(boxes[k, 2], boxes[i, 2]) - np.maximum(boxes[k, 0], boxes[i, 0]), 0, None)
            h = np.clip(np.minimum(boxes[k, 3], boxes[i, 3]) - np.maximum(boxes[k, 1], boxes[i, 1]), 0, None)
            inter = w * h
            iou = inter / np.maximum(areas[k] + areas[i] - inter, 1e-12)
            if np.any(iou > iou_thresh):
                continue
        keep.append(int(i))
    return keep


def propose(segmenter: Any, image: np.ndarray, options: Optional[ProposalOptions] = None,
            frame: int = 0) -> list[Proposal]:
    """Instance proposals on one ``(H, W, 3)`` uint8 RGB image by grid prompting ``segmenter``, best first."""
    options = (options or ProposalOptions()).validate()
    H, W = image.shape[:2]
    embedding = segmenter.encode(image)
    points = grid_points(options.points_per_side, H, W)
    masks, scores, boxes = [], [], []
    for start in range(0, len(points), options.points_per_batch):
        batch = [Prompt(points=p[None], labels=np.ones(1, np.int64)) for p in points[start:start + options.points_per_batch]]
        if options.multimask and hasattr(segmenter, "decode_candidates"):
            candidates = [c for per_prompt in segmenter.decode_candidates(embedding, batch) for c in per_prompt]
        else:
            candidates = segmenter.decode(embedding, batch)
        for pred in candidates:
            if not np.isfinite(pred.iou) or pred.iou < options.pred_iou_thresh:
                continue
            logits = np.asarray(pred.logits)
            if stability_score(logits, options.stability_score_offset) < options.stability_score_thresh:
                continue
            mask = logits > 0
            if int(mask.sum()) < options.min_mask_area:
                continue
            masks.append(mask)
            scores.append(float(pred.iou))
            boxes.append(mask_box(mask))
    if not masks:
        return []
    keep = box_nms(np.stack(boxes), np.array(scores), options.box_nms_thresh)[:options.max_proposals]
    return [Proposal(masks[i], scores[i], frame) for i in keep]


def read_proposals(path: str | os.PathLike) -> dict[str, list[dict]]:
    """Read a proposals file; returns ``{video key: [entry, ...]}`` keyed by ``str(video_id)`` or ``video``
    name, decoded per video by :func:`proposals_for`."""
    data = read_json_records(path, "proposals file", [{"video_id", "video"}, {"segmentation", "segmentations"}],
                             "a list of {video_id (or video), segmentation (an RLE of the prompt frame) or "
                             "segmentations (one per frame), score}")
    out: dict[str, list[dict]] = {}
    for entry in data:
        out.setdefault(str(entry.get("video_id", entry.get("video"))), []).append(entry)
    return out


def proposals_for(entries: Sequence[dict], height: int, width: int, num_frames: int) -> list[Proposal]:
    """Decode one video's proposal entries, best score first (ties in file order)."""
    from sampt.evaluation.datasets.uvo import decode_rle

    out = []
    for entry in entries:
        if "segmentation" in entry:
            frame = int(entry.get("frame", 0))
            mask = decode_rle(entry["segmentation"], height, width)
        else:
            segs = entry["segmentations"]
            frame = next((t for t, s in enumerate(segs) if s), -1)
            mask = decode_rle(segs[frame], height, width) if frame >= 0 else np.zeros((height, width), bool)
        if not 0 <= frame < num_frames:
            raise UsageError(f"a proposal's frame {frame} is outside its video (0..{num_frames - 1})")
        if mask.any():
            out.append(Proposal(mask, float(entry.get("score", 1.0)), frame))
    order = np.argsort([-p.score for p in out], kind="stable")
    return [out[i] for i in order]
