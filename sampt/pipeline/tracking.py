"""Step 2 of SAM-PT: track every object's query points through the video.

Objects go to the tracker in batches (``tracker_batch_objects``) so memory stays bounded. Queries after
frame 0 are tracked both forward and backward: by the tracker itself when its capabilities say it can,
otherwise here, by running it forward on the frames from the query on and on the reversed frames before.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sampt.interfaces import Tracker
from sampt.pipeline.query_points import ObjectQueries
from sampt.types import Tracks, Video


def _track_one_direction_per_frame(tracker: Tracker, video: Video, queries: np.ndarray) -> Tracks:
    """Track with a tracker that only follows queries forward from frame 0 of what it is given."""
    T, N = len(video), len(queries)
    points = np.broadcast_to(queries[:, 1:], (T, N, 2)).astype(np.float32).copy()
    visible = np.zeros((T, N), bool)
    starts = queries[:, 0].astype(int)
    for start in np.unique(starts):
        idx = np.flatnonzero(starts == start)
        local = queries[idx].copy()
        local[:, 0] = 0
        forward = tracker.track(Video(video.frames[start:], video.fps), local)
        points[start:, idx], visible[start:, idx] = forward.points, forward.visibility
        if start > 0:
            backward = tracker.track(Video(video.frames[start::-1], video.fps), local)
            points[:start, idx] = backward.points[1:][::-1]
            visible[:start, idx] = backward.visibility[1:][::-1]
    return Tracks(points, visible)


def track_points(tracker: Tracker, video: Video, queries: np.ndarray) -> Tracks:
    """Track ``(N, 3)`` queries in both directions from their frames, whatever the tracker supports."""
    caps = tracker.capabilities
    if caps.any_query_frame and caps.bidirectional:
        return tracker.track(video, queries)
    return _track_one_direction_per_frame(tracker, video, queries)


def track_objects(tracker: Tracker, video: Video, objects: Sequence[ObjectQueries], batch_objects: int) -> list[Tracks]:
    """Tracks for each object's query points (one :class:`Tracks` per object), ``batch_objects`` per call."""
    results: list[Tracks] = []
    for first in range(0, len(objects), batch_objects):
        batch = objects[first:first + batch_objects]
        queries = np.concatenate([o.as_tracker_queries for o in batch], axis=0)
        tracks = track_points(tracker, video, queries)
        offset = 0
        for o in batch:
            results.append(tracks.select(slice(offset, offset + len(o.points))))
            offset += len(o.points)
    return results
