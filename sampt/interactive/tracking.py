"""How a session's points are tracked: a new point alone from its frame, a moved point again from the frame
it was moved on, or (tracking off) not at all: a point then lives on its own frame only."""
from __future__ import annotations

import numpy as np

from sampt.interactive.state import Point
from sampt.pipeline.context import RunContext
from sampt.pipeline.tracking import track_queries
from sampt.types import Tracks


def still_tracks(xy: np.ndarray, frame: int, num_frames: int) -> Tracks:
    """Tracks of points that do not move and live on ``frame`` only (a session with tracking off)."""
    points = np.broadcast_to(np.asarray(xy, np.float32).reshape(1, -1, 2), (num_frames, len(xy), 2)).copy()
    visible = np.zeros((num_frames, len(xy)), bool)
    visible[frame] = True
    return Tracks(points, visible)


def new_point_tracks(ctx: RunContext, frame: int, x: float, y: float, backward: bool,
                     tracking: bool) -> tuple[Tracks, int, int]:
    """The track of a new point put at ``(x, y)`` on ``frame`` and the frames ``start, end`` it lives on:
    forward to the end (and ``backward`` to the start), or that frame alone with tracking off."""
    T = len(ctx.video)
    if not tracking:
        return still_tracks(np.array([[x, y]], np.float32), frame, T), frame, frame + 1
    tracks = track_queries(ctx, np.array([[frame, x, y]], np.float32), backward=backward)
    return tracks, 0 if backward else frame, T


def moved_point(ctx: RunContext, point: Point, frame: int, x: float, y: float, tracking: bool) -> Point:
    """``point`` put at ``(x, y)`` on ``frame`` and re-tracked from there to its end (its earlier frames kept)."""
    track, visible = point.track.copy(), point.visible.copy()
    if tracking:
        new = track_queries(ctx, np.array([[frame, x, y]], np.float32), backward=False, stop=point.end)
        track[frame:point.end], visible[frame:point.end] = new.points[frame:point.end, 0], new.visibility[frame:point.end, 0]
    else:
        track[frame], visible[frame] = (x, y), True
    return Point(point.point_id, point.object_id, point.label, frame, float(x), float(y), track, visible,
                 point.start, point.end)
