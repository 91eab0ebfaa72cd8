"""From what a user gives (mask files or arrays, clicks, boxes, each on some frame) to the pipeline's
:class:`~sampt.pipeline.ObjectPrompt` list. The command line and :func:`sampt.segment` both come here.

* a mask is a label map (every non-zero label is an object, ids kept) or a boolean mask (one object);
* clicks are ``(K, 2)`` ``(x, y)`` or ``(K, 3)`` ``(x, y, label)`` rows (label 1 positive, 0 negative), one
  object per array; on the command line ``'x,y;x,y,0'``, optionally prefixed ``frame=N:``;
* a box ``(x0, y0, x1, y1)`` becomes its object's mask through the segmenter on its frame (as SAM users
  start), and that mask gives the query points.
Objects from masks keep their labels as ids; clicked and boxed objects are numbered after them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from sampt.constraints import is_whole
from sampt.errors import UsageError, shown

_FRAME_PREFIX = re.compile(r"^\s*frame\s*=\s*(-?\d+)\s*:(.*)$", re.S)


@dataclass
class UserObject:
    """One object as the user gave it: ``kind`` is ``mask``, ``points`` or ``box``; ``value`` the (H, W)
    bool mask, ``(points, labels)``, or the ``(4,)`` box; ``source`` where it came from (a file, "array")."""

    object_id: int
    frame: int
    kind: str
    value: Any
    source: str = "array"
    mask: Optional[np.ndarray] = field(default=None, repr=False)

    def describe(self, frame_names: Optional[Sequence[str]] = None) -> dict:
        """A JSON-able record of the prompt (for result.json)."""
        out: dict = {"kind": self.kind, "frame": int(self.frame)}
        if frame_names is not None and 0 <= self.frame < len(frame_names):
            out["frame_name"] = frame_names[self.frame]
        if self.kind == "mask":
            out["source"] = self.source
        elif self.kind == "points":
            points, labels = self.value
            out["points"] = np.round(np.asarray(points, float), 2).tolist()
            out["labels"] = np.asarray(labels, int).tolist()
        else:
            out["box"] = np.round(np.asarray(self.value, float), 2).tolist()
        mask = self.value if self.kind == "mask" else self.mask
        if mask is not None:
            ys, xs = np.nonzero(mask)
            out["area"] = int(len(ys))
            if len(ys):
                out["mask_box"] = [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]
        return out


def split_frame(text: str, default: int) -> tuple[int, str]:
    """``"frame=10:rest"`` -> ``(10, "rest")``; without the prefix ``(default, text)``."""
    m = _FRAME_PREFIX.match(text)
    if not m:
        return default, text
    return int(m.group(1)), m.group(2)


def parse_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``"x,y;x,y,0"`` -> points ``(K, 2)`` and labels ``(K,)`` (third value: 1 positive, 0 negative)."""
    points, labels = [], []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        parts = item.split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            raise UsageError(f"point {item!r} is not x,y or x,y,label (e.g. --points '120,80;140,90,0', "
                             "or 'frame=10:120,80' for clicks on frame 10)") from None
        if len(values) not in (2, 3) or (len(values) == 3 and values[2] not in (0, 1)):
            raise UsageError(f"point {item!r} is not x,y or x,y,label with label 1 (positive) or 0 (negative)")
        if not all(np.isfinite(values)):
            raise UsageError(f"point {item!r} is not a finite position; give pixel coordinates x,y")
        points.append(values[:2])
        labels.append(int(values[2]) if len(values) == 3 else 1)
    if not points:
        raise UsageError(f"--points {text!r} holds no point")
    if not any(lab == 1 for lab in labels):
        raise UsageError(f"--points {text!r} has no positive point; mark the object with at least one x,y")
    return np.array(points, np.float32), np.array(labels, np.int64)


def parse_box(text: str) -> np.ndarray:
    """``"x0,y0,x1,y1"`` -> a ``(4,)`` float32 box."""
    try:
        box = np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        box = np.zeros(0)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise UsageError(f"box {text!r} is not x0,y0,x1,y1 (e.g. --box '10,20,80,90' or 'frame=5:10,20,80,90')")
    return box


def _check_box(box: np.ndarray, frame: int, size: tuple[int, int]) -> None:
    H, W = size
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise UsageError(f"box {box.tolist()} on frame {frame} is empty: give x0,y0,x1,y1 with x1 > x0 and y1 > y0")
    if x0 < -0.5 or y0 < -0.5 or x1 > W - 0.5 or y1 > H - 0.5:
        raise UsageError(f"box {box.tolist()} on frame {frame} lies outside the {W}x{H} frame")


def _load_mask(value: Any) -> tuple[np.ndarray, str]:
    """A label map from a path or an array (bool -> labels 0/1)."""
    if isinstance(value, (str, os.PathLike)):
        from sampt.io import read_label_png

        return read_label_png(value), str(value)
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise UsageError(f"a mask must be an (H, W) array or a PNG path, got an array of shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.uint8), "array"
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
        raise UsageError("a mask array must be boolean or hold integer labels 0..255 (0 = background)")
    return arr.astype(np.uint8), "array"


def _is_frame_pair(item: Any) -> bool:
    return (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], (int, np.integer))
            and not np.isscalar(item[1]))


def _by_frame(value: Any, frame: int, name: str = "prompt") -> list[tuple[int, Any]]:
    """``{frame: v}`` or ``[(frame, v), ...]`` -> ``(frame, v)`` items; anything else belongs to ``frame``."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        bad = [f for f in value if not is_whole(f)]
        if bad:
            raise UsageError(f"{name}: {{frame: value}} keys must be frame indices (whole numbers), not "
                             f"{shown(bad[0])}")
        return [(int(f), v) for f, v in value.items()]
    if isinstance(value, list) and value and all(_is_frame_pair(v) for v in value):
        return [(int(f), v) for f, v in value]
    return [(frame, value)]


def _point_objects(value: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """One object's ``(K, 2|3)`` rows, or a list of them -> ``[(points, labels)]``."""
    try:
        arr = np.asarray(value, np.float32)
        single = arr.ndim == 2 and arr.shape[1] in (2, 3)
    except (ValueError, TypeError):
        single = False
    items = [value] if single else _as_list(value, "points")
    out = []
    for item in items:
        arr = _numbers(item, "points")
        if arr.ndim == 1 and arr.shape[0] in (2, 3):
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] not in (2, 3) or len(arr) == 0:
            raise UsageError(f"clicked points must be (K, 2) x,y or (K, 3) x,y,label rows, got shape {arr.shape}")
        labels = arr[:, 2].astype(np.int64) if arr.shape[1] == 3 else np.ones(len(arr), np.int64)
        if not np.isin(labels, (0, 1)).all():
            raise UsageError("point labels must be 1 (positive) or 0 (negative)")
        out.append((arr[:, :2].copy(), labels))
    return out


def _as_list(value: Any, name: str) -> list:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise UsageError(f"{name} must be an array of numbers, not {shown(value)}")
    return list(value)


def _numbers(value: Any, name: str) -> np.ndarray:
    """``value`` as a float32 array, or a :class:`UsageError` naming ``name`` (words, ragged rows...)."""
    try:
        return np.asarray(value, np.float32)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{name} must be an array of numbers, not {shown(value)}") from None


def _box_objects(value: Any) -> list[np.ndarray]:
    arr = _numbers(value, "box")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise UsageError(f"a box is (x0, y0, x1, y1); boxes are (N, 4), got shape {arr.shape}")
    return list(arr)


def gather_objects(mask: Any = None, points: Any = None, box: Any = None, frame: int = 0) -> list[UserObject]:
    """The objects of user prompts, ids assigned (see the module docstring).

    Each of ``mask``, ``points``, ``box`` may also be a ``{frame: value}`` mapping or a list of
    ``(frame, value)`` pairs, for objects on different frames."""
    objects: list[UserObject] = []
    seen: dict[int, str] = {}
    for f, value in _by_frame(mask, frame, "mask"):
        labels, source = _load_mask(value)
        ids = [int(i) for i in np.unique(labels) if i != 0]
        if not ids:
            raise UsageError(f"mask {source} is empty: no object pixels (non-zero) in it")
        for i in ids:
            if i in seen:
                raise UsageError(f"object {i} is labelled in both {seen[i]} and {source}; give each object its own "
                                 "label (an object keeps one id across masks)")
            seen[i] = source
            objects.append(UserObject(i, f, "mask", labels == i, source))
    next_id = max(seen, default=0) + 1
    for f, value in _by_frame(points, frame, "points"):
        for pts, labels in _point_objects(value):
            objects.append(UserObject(next_id, f, "points", (pts, labels)))
            next_id += 1
    for f, value in _by_frame(box, frame, "box"):
        for b in _box_objects(value):
            objects.append(UserObject(next_id, f, "box", b))
            next_id += 1
    if not objects:
        raise UsageError("no object to segment: give a mask, clicked points or a box")
    if max(o.object_id for o in objects) > 255:
        raise UsageError(f"{len(objects)} objects (ids up to {max(o.object_id for o in objects)}); at most 255 fit "
                         "in a label map")
    return objects


def check_against_video(objects: Sequence[UserObject], video: Any) -> None:
    """Check every prompt against the video before any work (frame, mask size, points and boxes inside)."""
    from sampt.pipeline.query_points import validate_prompt

    for o in objects:
        if o.kind == "box":
            if not 0 <= o.frame < len(video):
                raise UsageError(f"object {o.object_id}: frame {o.frame} is outside the video (0..{len(video) - 1})")
            _check_box(o.value, o.frame, video.size)
        else:
            validate_prompt(_object_prompt(o), len(video), video.size)


def _object_prompt(o: UserObject):
    from sampt.pipeline import ObjectPrompt

    if o.kind == "mask":
        return ObjectPrompt(o.object_id, o.frame, mask=o.value)
    if o.kind == "points":
        return ObjectPrompt(o.object_id, o.frame, points=o.value[0], labels=o.value[1])
    return ObjectPrompt(o.object_id, o.frame, mask=o.mask)


def to_object_prompts(objects: Sequence[UserObject], video: Any, segmenter: Any = None) -> list:
    """:class:`~sampt.pipeline.ObjectPrompt` for each object; boxes become masks through ``segmenter`` on
    their frame (each such frame encoded once)."""
    from sampt.types import Prompt

    check_against_video(objects, video)
    prompts, embeddings = [], {}
    for o in objects:
        if o.kind != "box":
            prompts.append(_object_prompt(o))
        else:
            if segmenter is None:
                raise ValueError("a box prompt needs the segmenter to turn it into a mask")
            if o.frame not in embeddings:
                embeddings[o.frame] = segmenter.encode(video[o.frame])
            o.mask = segmenter.decode(embeddings[o.frame], [Prompt(box=o.value)])[0].mask
            if not o.mask.any():
                raise UsageError(f"object {o.object_id}: the segmenter found nothing in box {o.value.tolist()} "
                                 f"on frame {o.frame}; give a box around the object, or a mask or clicks")
            prompts.append(_object_prompt(o))
    return prompts


def objects_from_arguments(masks: Sequence[str], points: Sequence[str], boxes: Sequence[str], frame: int) -> list[UserObject]:
    """Objects of ``--mask``, ``--points`` and ``--box`` values (each may start with ``frame=N:``), in the
    order given."""
    mask_items = [(f, Path(p.strip())) for f, p in (split_frame(m, frame) for m in masks or ())]
    point_items = []
    for text in points or ():
        f, rest = split_frame(text, frame)
        pts, labels = parse_points(rest)
        point_items.append((f, [np.concatenate([pts, labels[:, None].astype(np.float32)], axis=1)]))
    box_items = [(f, parse_box(rest)) for f, rest in (split_frame(b, frame) for b in boxes or ())]
    return gather_objects(mask=mask_items or None, points=point_items or None, box=box_items or None, frame=frame)
