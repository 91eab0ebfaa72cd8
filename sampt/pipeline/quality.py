"""How good each mask looks: a per-(frame, object) quality record, and flags for the doubtful ones.

A SAM-PT run can fail silently: a mask shrinks to a speck, breaks into pieces or disappears while the
tracker still says the object is there. This module measures every (frame, object) mask as it is made and
flags the frames an annotator should look at. Measures (``(T, O)`` arrays, objects in the order of their ids):

* ``area``: the mask's pixels; ``area_ratio``: that over the object's median area on the frames where it
  is present (NaN where the object is never present);
* ``components``: the mask's connected components (8-connectivity; 0 for an empty mask);
* ``visible_points``: the fraction of the object's positive points that were visible and usable on the
  frame (NaN for an object with no positive point);
* ``predicted_iou``: the segmenter's own estimate of the mask's IoU, NaN where it has none (a segmenter
  declaring ``predicts_iou = False``, such as GrabCut) or where the object had no prompt.

Flags (thresholds are pipeline options, :class:`~sampt.pipeline.options.SamPtOptions`):

* ``vanished``: the mask is empty although the object was prompted on the frame (it had visible positive
  points: the tracker says it is there, the segmenter found nothing or its mask was rejected);
* ``collapsed``: the mask is non-empty but its ``area_ratio`` is below ``quality_collapse_ratio``;
* ``fragmented``: the mask has more than ``quality_max_components`` connected components;
* ``few_points``: fewer than ``quality_min_visible_points`` of the object's positive points are visible
  (the prompt rests on little evidence, or the object left the view).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import cv2
import numpy as np

from sampt.types import POSITIVE

FLAGS = ("vanished", "collapsed", "fragmented", "few_points")
"""The quality flags, in the order they are reported."""


@dataclass(frozen=True)
class QualityThresholds:
    """When a frame is flagged (see the module docstring); read from the pipeline options."""

    collapse_ratio: float = 0.25
    max_components: int = 3
    min_visible_points: float = 0.5

    @classmethod
    def from_options(cls, options: Any) -> "QualityThresholds":
        """The thresholds held by a :class:`~sampt.pipeline.options.SamPtOptions`."""
        return cls(float(options.quality_collapse_ratio), int(options.quality_max_components),
                   float(options.quality_min_visible_points))


def crop_measures(entry: Optional[tuple[int, int, np.ndarray]]) -> tuple[int, int]:
    """``(area, components)`` of a mask stored as a :class:`~sampt.pipeline.store.MaskStore` crop (None: empty)."""
    if entry is None:
        return 0, 0
    mask = (entry[2] > 0).astype(np.uint8)
    area = int(mask.sum())
    if area == 0:
        return 0, 0
    count, _ = cv2.connectedComponents(mask, connectivity=8)
    return area, int(count) - 1


class QualityMeter:
    """Collects the raw measures frame by frame (before a streamed frame's masks are dropped).

    ``positive_counts[o]``: how many positive points object o has (the denominator of ``visible_points``).
    """

    def __init__(self, num_frames: int, positive_counts: Sequence[int]):
        shape = (num_frames, len(positive_counts))
        self.positive_counts = np.asarray(positive_counts, np.float64)
        self.area = np.zeros(shape, np.int64)
        self.components = np.zeros(shape, np.int64)
        self.positives_used = np.zeros(shape, np.int64)

    def measure(self, t: int, store: Any, prompts: Sequence[Any]) -> None:
        """Measure frame ``t`` of every object from a mask store and that frame's prompts
        (``prompts[o] = (points, labels)`` or None)."""
        for o in range(self.area.shape[1]):
            self.area[t, o], self.components[t, o] = crop_measures(store.entry(t, o))
            prompt = prompts[o] if o < len(prompts) else None
            self.positives_used[t, o] = 0 if prompt is None else int(np.sum(np.asarray(prompt[1]) == POSITIVE))

    def report(self, object_ids: Sequence[int], iou: np.ndarray, predicts_iou: bool,
               thresholds: QualityThresholds) -> "FrameQuality":
        """The quality record: measures, ratios and flags."""
        area = self.area.astype(np.float64)
        ratio = np.full(area.shape, np.nan)
        for o in range(area.shape[1]):
            present = area[:, o] > 0
            if present.any():
                ratio[:, o] = area[:, o] / np.median(area[present, o])
        with np.errstate(invalid="ignore", divide="ignore"):
            visible = np.where(self.positive_counts > 0, np.minimum(self.positives_used / self.positive_counts, 1.0), np.nan)
        predicted = np.asarray(iou, np.float64).copy() if predicts_iou else np.full(area.shape, np.nan)
        prompted = self.positives_used > 0
        flags = {
            "vanished": prompted & (self.area == 0),
            "collapsed": (self.area > 0) & (ratio < thresholds.collapse_ratio),
            "fragmented": self.components > thresholds.max_components,
            "few_points": np.nan_to_num(visible, nan=0.0) < thresholds.min_visible_points,
        }
        return FrameQuality([int(i) for i in object_ids], self.area.copy(), ratio, self.components.copy(), visible,
                            predicted, flags, thresholds)


def measure_result(result: Any, predicts_iou: bool, thresholds: QualityThresholds) -> "FrameQuality":
    """The quality record of a result whose masks are all still held (an interactive session's result)."""
    counts = [int(np.sum(np.asarray(q.labels) == POSITIVE)) for q in result.queries]
    meter = QualityMeter(result.store.num_frames, counts)
    for t in range(result.store.num_frames):
        meter.measure(t, result.store, result.prompts[t])
    return meter.report(result.object_ids, result.iou, predicts_iou, thresholds)


@dataclass
class FrameQuality:
    """Every (frame, object) mask's measures and flags (see the module docstring); arrays are ``(T, O)``."""

    object_ids: list[int]
    area: np.ndarray
    area_ratio: np.ndarray
    components: np.ndarray
    visible_points: np.ndarray
    predicted_iou: np.ndarray
    flags: dict[str, np.ndarray]
    thresholds: QualityThresholds = QualityThresholds()

    @property
    def flagged(self) -> np.ndarray:
        """``(T, O)`` bool: some flag is raised."""
        return np.logical_or.reduce([self.flags[f] for f in FLAGS])

    def frame(self, t: int, object_id: int) -> dict:
        """One (frame, object) record as plain values (NaN as None): what a UI shows for it."""
        o = self.object_ids.index(object_id)

        def number(v: float) -> Optional[float]:
            return None if np.isnan(v) else round(float(v), 4)

        return {"area": int(self.area[t, o]), "area_ratio": number(self.area_ratio[t, o]),
                "components": int(self.components[t, o]), "visible_points": number(self.visible_points[t, o]),
                "predicted_iou": number(self.predicted_iou[t, o]),
                "flags": [f for f in FLAGS if self.flags[f][t, o]]}

    def summary_lines(self) -> list[str]:
        """One line per object naming its flagged frames in ranges, e.g. ``object 1: 23 of 120 frames
        flagged: collapsed 85-104, 117-119``."""
        T = self.area.shape[0]
        lines = []
        for o, oid in enumerate(self.object_ids):
            count = int(self.flagged[:, o].sum())
            if not count:
                lines.append(f"object {oid}: no frame flagged")
                continue
            parts = [f"{f} {frame_ranges(np.flatnonzero(self.flags[f][:, o]))}" for f in FLAGS if self.flags[f][:, o].any()]
            lines.append(f"object {oid}: {count} of {T} frames flagged: " + "; ".join(parts))
        return lines

    def to_json(self) -> dict:
        """The ``quality`` entry of result.json (NaN written as null)."""
        def listed(a: np.ndarray) -> list:
            return [[None if isinstance(v, float) and np.isnan(v) else v for v in row] for row in a.tolist()]

        return {"object_ids": list(self.object_ids), "thresholds": dict(vars(self.thresholds)),
                "area": self.area.tolist(), "area_ratio": listed(np.round(self.area_ratio, 4)),
                "components": self.components.tolist(), "visible_points": listed(np.round(self.visible_points, 4)),
                "predicted_iou": listed(np.round(self.predicted_iou, 4)),
                "flags": {f: [[int(t), int(o)] for t, o in zip(*np.nonzero(self.flags[f]))] for f in FLAGS}}

    @classmethod
    def from_json(cls, data: dict) -> "FrameQuality":
        """Read back :meth:`to_json`'s form (a result.json's ``quality`` entry)."""
        def floats(key: str) -> np.ndarray:
            return np.array([[np.nan if v is None else v for v in row] for row in data[key]], np.float64).reshape(area.shape)

        area = np.asarray(data["area"], np.int64)
        if area.ndim != 2:
            area = area.reshape(-1, len(data["object_ids"]))
        flags = {}
        for f in FLAGS:
            mask = np.zeros(area.shape, bool)
            for t, o in data["flags"].get(f, []):
                mask[t, o] = True
            flags[f] = mask
        return cls(list(data["object_ids"]), area, floats("area_ratio"), np.asarray(data["components"], np.int64).reshape(area.shape),
                   floats("visible_points"), floats("predicted_iou"), flags, QualityThresholds(**data.get("thresholds", {})))


def frame_ranges(frames: Sequence[int]) -> str:
    """``[85, 86, 87, 117]`` -> ``"85-87, 117"``."""
    frames = sorted(int(f) for f in frames)
    parts: list[str] = []
    start = prev = None
    for f in frames:
        if start is None:
            start = prev = f
        elif f == prev + 1:
            prev = f
        else:
            parts.append(f"{start}-{prev}" if prev > start else f"{start}")
            start = prev = f
    if start is not None:
        parts.append(f"{start}-{prev}" if prev > start else f"{start}")
    return ", ".join(parts)
