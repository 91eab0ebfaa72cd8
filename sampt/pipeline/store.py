"""Compact storage of per-object, per-frame results.

Full-resolution float logits for every object and frame would not fit in memory for long videos; this
keeps, for each (frame, object), only the logits inside the bounding box of the positive region, as
float16. That is enough to give each object's boolean mask and to combine objects into one label map by
highest positive logit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np


class MaskStore:
    """Per-(frame, object) cropped positive logits; an absent entry means an empty mask."""

    def __init__(self, num_frames: int, num_objects: int, size: tuple[int, int]):
        self.num_frames, self.num_objects, self.size = num_frames, num_objects, size
        self._crops: dict[tuple[int, int], tuple[int, int, np.ndarray]] = {}

    def set(self, t: int, o: int, logits: Optional[np.ndarray]) -> None:
        """Store object ``o``'s logits on frame ``t`` (None or no positive pixel: empty)."""
        self._crops.pop((t, o), None)
        if logits is None:
            return
        positive = logits > 0
        if not positive.any():
            return
        ys, xs = np.nonzero(positive)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        self._crops[(t, o)] = (int(y0), int(x0), logits[y0:y1, x0:x1].astype(np.float16))

    def entry(self, t: int, o: int) -> Optional[tuple[int, int, np.ndarray]]:
        """Object ``o``'s stored crop on frame ``t`` as ``(y0, x0, float16 logits)``, None when empty
        (with :meth:`put_entry`, lets a caller keep and restore results without re-cropping them)."""
        return self._crops.get((t, o))

    def put_entry(self, t: int, o: int, entry: Optional[tuple[int, int, np.ndarray]]) -> None:
        """Store a crop returned by :meth:`entry` (None: empty mask)."""
        if entry is None:
            self._crops.pop((t, o), None)
        else:
            self._crops[(t, o)] = entry

    def release(self, t: int) -> None:
        """Forget frame ``t`` (its results were streamed elsewhere): its masks read as empty afterwards."""
        for o in range(self.num_objects):
            self._crops.pop((t, o), None)

    def mask(self, t: int, o: int) -> np.ndarray:
        out = np.zeros(self.size, bool)
        entry = self._crops.get((t, o))
        if entry is not None:
            y0, x0, crop = entry
            out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop > 0
        return out

    def area(self, t: int, o: int) -> int:
        entry = self._crops.get((t, o))
        return 0 if entry is None else int((entry[2] > 0).sum())

    def label_map(self, t: int, object_ids: list[int]) -> np.ndarray:
        """``(H, W)`` uint8: each pixel to the object with the highest positive logit, else 0."""
        best = np.zeros(self.size, np.float32)
        labels = np.zeros(self.size, np.uint8)
        for o in range(self.num_objects):
            entry = self._crops.get((t, o))
            if entry is None:
                continue
            y0, x0, crop = entry
            region = (slice(y0, y0 + crop.shape[0]), slice(x0, x0 + crop.shape[1]))
            crop32 = crop.astype(np.float32)
            win = crop32 > best[region]
            best[region][win] = crop32[win]
            labels[region][win] = object_ids[o]
        return labels

    def masks(self) -> np.ndarray:
        """Every mask as one ``(T, O, H, W)`` bool array (materialised: for short clips and tests)."""
        out = np.zeros((self.num_frames, self.num_objects, *self.size), bool)
        for (t, o) in self._crops:
            out[t, o] = self.mask(t, o)
        return out


@dataclass
class SegmentationOutput:
    """Segmentation results over frames: masks in ``store``, ``iou`` ``(T, O)`` (NaN: no prompt), and the
    prompt points used on each frame per object (``prompts[t][o] = (points, labels)``)."""

    store: MaskStore
    iou: np.ndarray
    prompts: list

    @classmethod
    def empty(cls, num_frames: int, num_objects: int, size: tuple[int, int]) -> "SegmentationOutput":
        """No result yet: empty masks, NaN IoUs, no prompts."""
        return cls(MaskStore(num_frames, num_objects, size), np.full((num_frames, num_objects), np.nan, np.float32),
                   [[None] * num_objects for _ in range(num_frames)])

    def record(self, t: int, o: int, result: Any) -> None:
        """Keep object ``o``'s outcome on frame ``t`` (a :class:`~sampt.pipeline.prompting.ObjectFrameResult`)."""
        self.store.set(t, o, result.logits)
        self.iou[t, o] = np.nan if result.iou is None else result.iou
        self.prompts[t][o] = (result.prompt_points, result.prompt_labels)


class StoredMasksView:
    """Read access to a result's masks, for result classes holding a :class:`MaskStore` as ``store`` and
    their objects' ids as ``object_ids`` (SAM-PT's result and any VOS method's)."""

    store: MaskStore
    object_ids: list[int]

    @property
    def num_frames(self) -> int:
        return self.store.num_frames

    def mask(self, t: int, object_index: int) -> np.ndarray:
        return self.store.mask(t, object_index)

    def label_map(self, t: int) -> np.ndarray:
        """Frame ``t``'s objects in one ``(H, W)`` uint8 map: highest positive logit wins, else 0."""
        return self.store.label_map(t, self.object_ids)

    def label_maps(self) -> np.ndarray:
        """Every frame's label map, ``(T, H, W)`` uint8."""
        return np.stack([self.label_map(t) for t in range(self.num_frames)])
