"""Overlay frames: what a run did, drawn on the video.

Each object in its palette colour (the colour of its label in the mask PNGs): a light fill with its contour
drawn over it; its tracked points in the same colour, positive points as filled dots and negative points
as crosses, both with a white rim so they stand out on the fill; points the tracker reports occluded (or
lost) as red hollow rings / thin red crosses; the frame's name in the top-left corner.
"""
from __future__ import annotations

import functools
from typing import Any, Iterator, Optional, Sequence

import cv2
import numpy as np

from sampt.io import davis_palette
from sampt.types import Video

WHITE = (255, 255, 255)
OCCLUDED = (255, 0, 0)  # occluded points, whatever their object (DAVIS red, label 1, is darker: 128, 0, 0)


@functools.lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    palette = davis_palette()
    palette.setflags(write=False)
    return palette


def object_colour(object_id: int) -> tuple[int, int, int]:
    """An object's RGB colour: its label's colour in the DAVIS palette."""
    return tuple(int(c) for c in _palette()[int(object_id) % 256])


def draw_masks(frame: np.ndarray, label_map: np.ndarray, alpha: float = 0.35, thickness: int = 2) -> np.ndarray:
    """``frame`` with each label's pixels lightly filled and its contour drawn in full colour (a copy)."""
    out = frame.copy()
    ys, xs = np.nonzero(label_map)
    if not len(ys):
        return out
    labels = label_map[ys, xs]
    out[ys, xs] = ((1 - alpha) * out[ys, xs] + alpha * _palette()[labels]).astype(np.uint8)
    y0, x0 = ys.min(), xs.min()  # contours on the objects' bounding box only
    crop = label_map[y0:ys.max() + 1, x0:xs.max() + 1]
    for label in np.unique(labels):
        contours, _ = cv2.findContours((crop == label).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE, offset=(int(x0), int(y0)))
        cv2.drawContours(out, contours, -1, object_colour(label), thickness, lineType=cv2.LINE_AA)
    return out


def draw_points(out: np.ndarray, points: np.ndarray, labels: np.ndarray, visible: np.ndarray,
                colour: Sequence[int], radius: int) -> None:
    """Draw one object's points on ``out`` in place (see the module docstring for the marks)."""
    colour = tuple(int(c) for c in colour)
    for (x, y), label, vis in zip(np.asarray(points, np.float64), labels, visible):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        c = (int(round(x)), int(round(y)))
        if label == 1:
            if vis:
                cv2.circle(out, c, radius + 1, WHITE, thickness=-1, lineType=cv2.LINE_AA)
                cv2.circle(out, c, radius, colour, thickness=-1, lineType=cv2.LINE_AA)
            else:
                cv2.circle(out, c, radius, OCCLUDED, thickness=1, lineType=cv2.LINE_AA)
        else:
            size = 3 * radius
            if vis:
                cv2.drawMarker(out, c, WHITE, cv2.MARKER_TILTED_CROSS, size, thickness=4)
                cv2.drawMarker(out, c, colour, cv2.MARKER_TILTED_CROSS, size, thickness=2)
            else:
                cv2.drawMarker(out, c, OCCLUDED, cv2.MARKER_TILTED_CROSS, size, thickness=1)


def draw_label(out: np.ndarray, text: str) -> None:
    """White ``text`` on a dark box in the top-left corner of ``out``, in place."""
    h = out.shape[0]
    scale = max(0.3, h / 600)
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(th / 3))
    cv2.rectangle(out, (0, 0), (tw + 2 * pad, th + base + 2 * pad), (0, 0, 0), thickness=-1)
    cv2.putText(out, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE, thickness, cv2.LINE_AA)


def draw_frame(frame: np.ndarray, label_map: np.ndarray, objects: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = (),
               text: Optional[str] = None) -> np.ndarray:
    """One overlay frame: masks of ``label_map``, then each ``(object_id, points (N, 2), labels (N,),
    visible (N,))`` of ``objects``, then ``text`` in the corner."""
    out = draw_masks(frame, label_map)
    radius = max(2, round(max(frame.shape[:2]) / 160))
    for object_id, points, labels, visible in objects:
        draw_points(out, points, labels, visible, object_colour(object_id), radius)
    if text:
        draw_label(out, text)
    return out


def overlay_frames(result: Any, video: Video) -> Iterator[np.ndarray]:
    """The overlay frames of a :class:`~sampt.pipeline.SamPtResult` on ``video``: each object's mask and
    its tracked query points (only points known on that frame), and the frame's name."""
    names = video.frame_names
    for t in range(len(video)):
        objects = []
        for o, object_id in enumerate(result.object_ids):
            tracks, query_labels = result.tracks[o], np.asarray(result.queries[o].labels)
            n = min(len(query_labels), tracks.num_points)
            points, visible = tracks.points[t][:n], tracks.visibility[t][:n]
            known = np.isfinite(points).all(axis=1)
            objects.append((object_id, points[known], query_labels[:n][known], visible[known]))
        yield draw_frame(video[t], result.label_map(t), objects, text=f"frame {names[t]}")
