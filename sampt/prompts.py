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
from sampt.types import MAX_OBJECT_ID, check_click_labels

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

    def __post_init__(self) -> None:
        """The prompt's own value rules, checked once here (the video's rules - frame index, inside the
        frame - are the pipeline's: :func:`check_against_video`). Clicks are kept as ``(points (K, 2)
        float32, labels (K,) int64)`` from here to the segmenter."""
        what = f"object {self.object_id}"
        if isinstance(self.object_id, bool) or not 1 <= int(self.object_id) <= MAX_OBJECT_ID:
            raise UsageError(f"object id {self.object_id!r} is not allowed: ids are whole numbers 1..{MAX_OBJECT_ID} "
                             "(they are the label values of the output masks; 0 is background)")
        if self.kind == "points":
            points, labels = self.value
            points = np.asarray(points, np.float32).reshape(-1, 2)
            if not len(points) or not np.isfinite(points).all():
                raise UsageError(f"{what}: clicked points must be finite pixel positions x,y, got {points.tolist()}")
            try:
                labels = check_click_labels(labels, len(points), f"{what}: clicked points")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            self.value = (points, labels)
        elif self.kind == "box":
            box = np.asarray(self.value, np.float32).reshape(-1)
            if box.shape != (4,) or not np.isfinite(box).all():
                raise UsageError(f"{what}: a box is four finite numbers x0,y0,x1,y1, got {box.tolist()}")
            x0, y0, x1, y1 = (float(v) for v in box)
            if not (x1 > x0 and y1 > y0):
                raise UsageError(f"{what}: box {box.tolist()} on frame {self.frame} is empty: give x0,y0,x1,y1 "
                                 "with x1 > x0 and y1 > y0")
            self.value = box

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
    """``"x,y;x,y,0"`` -> points ``(K, 2)`` and labels ``(K,)`` (a missing third value: 1, positive).
    Syntax only: the values' rules (labels 1 or 0, one positive at least) are :class:`UserObject`'s."""
    points, labels = [], []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        try:
            values = [float(v) for v in item.split(",")]
        except ValueError:
            values = []
        if len(values) not in (2, 3):
            raise UsageError(f"point {item!r} is not x,y or x,y,label (e.g. --points '120,80;140,90,0', "
                             "or 'frame=10:120,80' for clicks on frame 10)")
        points.append(values[:2])
        labels.append(values[2] if len(values) == 3 else 1)
    if not points:
        raise UsageError(f"--points {text!r} holds no point")
    return np.array(points, np.float32), np.array(labels, np.float64)


def parse_box(text: str) -> np.ndarray:
    """``"x0,y0,x1,y1"`` -> a ``(4,)`` float32 box (syntax only: its values are :class:`UserObject`'s rule)."""
    try:
        box = np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        box = np.zeros(0)
    if box.shape != (4,):
        raise UsageError(f"box {text!r} is not x0,y0,x1,y1 (e.g. --box '10,20,80,90' or 'frame=5:10,20,80,90')")
    return box


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
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > MAX_OBJECT_ID:
        raise UsageError(f"a mask array must be boolean or hold integer labels 0..{MAX_OBJECT_ID} (0 = background)")
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


def _point_objects(value: Any) -> list[tuple[np.ndarray, Optional[np.ndarray]]]:
    """One object's ``(K, 2|3)`` rows, or a list of them -> ``[(points, labels or None)]`` (shapes only)."""
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
        out.append((arr[:, :2].copy(), arr[:, 2] if arr.shape[1] == 3 else None))
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
    clicks = [(f, pts, labels) for f, value in _by_frame(points, frame, "points") for pts, labels in _point_objects(value)]
    boxes = [(f, b) for f, value in _by_frame(box, frame, "box") for b in _box_objects(value)]
    return _number_objects(_by_frame(mask, frame, "mask"), clicks, boxes)


def _number_objects(masks: Sequence[tuple[int, Any]], clicks: Sequence[tuple[int, np.ndarray, Any]],
                    boxes: Sequence[tuple[int, np.ndarray]]) -> list[UserObject]:
    """Objects from ``(frame, mask)``, ``(frame, points, labels)`` and ``(frame, box)`` items: masks keep
    their labels as ids, clicked and boxed objects are numbered after them."""
    objects: list[UserObject] = []
    seen: dict[int, str] = {}
    for f, value in masks:
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
    last_id = max(seen, default=0) + len(clicks) + len(boxes)
    if last_id > MAX_OBJECT_ID:
        raise UsageError(f"{len(objects) + len(clicks) + len(boxes)} objects (ids up to {last_id}); at most "
                         f"{MAX_OBJECT_ID} fit in a label map")
    next_id = max(seen, default=0) + 1
    for f, pts, labels in clicks:
        objects.append(UserObject(next_id, f, "points", (pts, labels)))
        next_id += 1
    for f, b in boxes:
        objects.append(UserObject(next_id, f, "box", b))
        next_id += 1
    if not objects:
        raise UsageError("no object to segment: give a mask, clicked points or a box")
    return objects


def check_against_video(objects: Sequence[UserObject], video: Any) -> None:
    """Check every prompt against the video before any work (frame, mask size, points and boxes inside)."""
    from sampt.pipeline.query_points import validate_box, validate_prompt

    for o in objects:
        if o.kind == "box":
            validate_box(o.value, o.frame, len(video), video.size, f"object {o.object_id}")
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
    clicks = [(f, *parse_points(rest)) for f, rest in (split_frame(p, frame) for p in points or ())]
    box_items = [(f, parse_box(rest)) for f, rest in (split_frame(b, frame) for b in boxes or ())]
    return _number_objects(mask_items, clicks, box_items)
