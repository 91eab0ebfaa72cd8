"""The page's timeline: per object a strip over all frames saying where its mask is present, flagged by the
quality record (:mod:`sampt.pipeline.quality`) or absent, and the choice of the next frame to check."""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from sampt.overlay import object_colour

ROW = 14  # pixels per object row
GAP = 2  # pixels between rows
ABSENT = (60, 60, 60)
NOT_YET = (30, 30, 30)  # a frame not brought up to date yet
FLAGGED = (255, 215, 0)  # gold: unlike any object colour of the DAVIS palette's first labels
CURSOR = (255, 255, 255)


def timeline_image(quality, computed: Iterable[int], current: int, width: int = 640) -> np.ndarray:
    """``(rows, width, 3)`` uint8: one strip per object, frames left to right: the object's colour where its
    mask is present and unflagged, red where some flag is raised, grey where absent, dark where not computed
    yet; a white tick marks ``current``."""
    T, O = quality.area.shape
    height = max(1, O) * (ROW + GAP)
    image = np.zeros((height, width, 3), np.uint8)
    columns = np.minimum((np.arange(width) * T) // width, T - 1)  # the frame under each pixel column
    done = np.zeros(T, bool)
    done[[t for t in computed if 0 <= t < T]] = True
    flagged = quality.flagged
    for o, oid in enumerate(quality.object_ids):
        colours = np.empty((T, 3), np.uint8)
        colours[:] = ABSENT
        colours[quality.area[:, o] > 0] = object_colour(oid)
        colours[flagged[:, o]] = FLAGGED
        colours[~done] = NOT_YET
        top = o * (ROW + GAP)
        image[top:top + ROW] = colours[columns][None]
    cursor = [c for c in range(width) if columns[c] == current]
    if cursor:
        image[:, cursor[0]] = CURSOR
    return image


def frame_at(x: float, width: int, num_frames: int) -> int:
    """The frame under pixel column ``x`` of a timeline ``width`` pixels wide."""
    return int(np.clip(int(x) * num_frames // max(width, 1), 0, num_frames - 1))


def next_to_check(quality, visited: Iterable[int], computed: Iterable[int]) -> Optional[int]:
    """The most doubtful computed frame not visited yet: the most (object, flag) pairs raised, then the
    smallest area ratio; None when no such frame is flagged."""
    T = quality.area.shape[0]
    seen = set(visited)
    candidates = [t for t in sorted(set(computed)) if 0 <= t < T and t not in seen]
    counts = sum(flags.sum(axis=1) for flags in quality.flags.values())
    ratio = np.nan_to_num(np.nanmin(np.where(quality.area > 0, quality.area_ratio, np.inf), axis=1)
                          if quality.area.shape[1] else np.zeros(T), posinf=np.inf)
    flagged = [t for t in candidates if counts[t] > 0]
    if not flagged:
        return None
    return min(flagged, key=lambda t: (-int(counts[t]), float(ratio[t]), t))
