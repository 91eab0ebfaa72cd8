"""Step 2 of SAM-PT: track every object's query points through the video.

Objects go to the tracker in batches (``tracker_batch_objects``) so memory stays bounded. Queries after
frame 0 are tracked both forward and backward: by the tracker itself when its capabilities say it can,
otherwise here, by running it forward on the frames from the query on and on the reversed frames before.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from sampt.interfaces import Tracker
from sampt.pipeline.context import RunContext
from sampt.pipeline.query_points import ObjectQueries
from sampt.types import Tracks, Video


def _track_missing_directions(tracker: Tracker, video: Video, queries: np.ndarray) -> Tracks:
    """Track with a tracker that lacks queries after frame 0 or backward tracking: forward from each query
    frame (in one call when the tracker takes queries at any frame), backward on the reversed frames."""
    T, N = len(video), len(queries)
    points = np.broadcast_to(queries[:, 1:], (T, N, 2)).astype(np.float32).copy()
    visible = np.zeros((T, N), bool)
    starts = queries[:, 0].astype(int)
    if tracker.capabilities.any_query_frame:
        forward = tracker.track(video, queries)
        after = np.arange(T)[:, None] >= starts[None, :]
        points[after], visible[after] = forward.points[after], forward.visibility[after]
    for start in np.unique(starts):
        idx = np.flatnonzero(starts == start)
        local = queries[idx].copy()
        local[:, 0] = 0
        if not tracker.capabilities.any_query_frame:
            forward = tracker.track(Video(video.frames[start:], video.fps), local)
            points[start:, idx], visible[start:, idx] = forward.points, forward.visibility
        if start > 0:
            backward = tracker.track(Video(video.frames[start::-1], video.fps), local)
            points[:start, idx] = backward.points[1:][::-1]
            visible[:start, idx] = backward.visibility[1:][::-1]
    return Tracks(points, visible)


def _resized_for(tracker: Tracker, video: Video) -> tuple[Video, float]:
    """The video shrunk to the tracker's ``max_side`` if it is larger, and the scale applied."""
    max_side = tracker.capabilities.max_side
    if not max_side or max(video.size) <= max_side:
        return video, 1.0
    scale = max_side / max(video.size)
    size = (max(1, round(video.width * scale)), max(1, round(video.height * scale)))
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in video])
    return Video(frames, video.fps, video.name), scale


def track_points(tracker: Tracker, video: Video, queries: np.ndarray) -> Tracks:
    """Track ``(N, 3)`` queries in both directions from their frames, whatever the tracker supports
    (shrinking the video first when it is larger than the tracker's ``max_side``)."""
    caps = tracker.capabilities
    small, scale = _resized_for(tracker, video)
    if scale != 1.0:  # pixel centres on integers: x' = (x + 0.5) * s - 0.5
        queries = np.asarray(queries, np.float32).copy()
        queries[:, 1:] = (queries[:, 1:] + 0.5) * scale - 0.5
    if caps.any_query_frame and caps.bidirectional:
        tracks = tracker.track(small, queries)
    else:
        tracks = _track_missing_directions(tracker, small, queries)
    if scale != 1.0:
        tracks = Tracks((tracks.points + 0.5) / scale - 0.5, tracks.visibility, tracks.confidence)
    return tracks


def track_objects(ctx: RunContext, objects: Sequence[ObjectQueries], video: Optional[Video] = None,
                  progress=None) -> list[Tracks]:
    """Tracks for each object's query points (one :class:`Tracks` per object) through ``video`` (default:
    the context's), ``options.tracker_batch_objects`` objects per call, timed as ``tracking``; ``progress``
    (a bar) advances by the objects of each finished batch."""
    video = ctx.video if video is None else video
    batch_objects = ctx.options.tracker_batch_objects
    results: list[Tracks] = []
    with ctx.timings.measure("tracking"):
        for first in range(0, len(objects), batch_objects):
            batch = objects[first:first + batch_objects]
            queries = np.concatenate([o.as_tracker_queries for o in batch], axis=0)
            tracks = track_points(ctx.tracker, video, queries)
            offset = 0
            for o in batch:
                results.append(tracks.select(slice(offset, offset + len(o.points))))
                offset += len(o.points)
            if progress is not None:
                progress.update(len(batch))
    return results


def track_queries(ctx: RunContext, queries: np.ndarray, backward: bool = True, stop: Optional[int] = None) -> Tracks:
    """Tracks of a set of points alone, ``(N, 3)`` ``(t, x, y)`` queries, through the context's video,
    timed as ``tracking``: what an interactive edit needs (a new point is tracked without the others).

    With ``backward`` the points are tracked both ways from their frames (as :func:`track_objects`);
    without, only forward from each query frame up to ``stop`` (exclusive, default the video's end): the
    tracker sees just those frames, and elsewhere a point is at its query position and invisible.
    """
    queries = np.asarray(queries, np.float32).reshape(-1, 3)
    with ctx.timings.measure("tracking"):
        if backward:
            return track_points(ctx.tracker, ctx.video, queries)
        T, N = len(ctx.video), len(queries)
        stop = T if stop is None else min(stop, T)
        points = np.broadcast_to(queries[:, None, 1:], (N, T, 2)).transpose(1, 0, 2).astype(np.float32).copy()
        visible = np.zeros((T, N), bool)
        starts = queries[:, 0].astype(int)
        for start in np.unique(starts):
            if start >= stop:
                continue
            idx = np.flatnonzero(starts == start)
            local = queries[idx].copy()
            local[:, 0] = 0
            part = track_points(ctx.tracker, Video(ctx.video.frames[start:stop], ctx.video.fps), local)
            points[start:stop, idx], visible[start:stop, idx] = part.points, part.visibility
        return Tracks(points, visible)
