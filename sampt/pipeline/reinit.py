"""Step 4 of SAM-PT: periodic re-initialisation of the query points (off by default, as in the reference).

Each object is tracked over a horizon of ``reinit_horizon`` frames from its current query frame (the
tracker may look ``reinit_tracker_horizon`` frames ahead), segmented there, and then gets new query
points sampled from one of its predicted masks in that horizon; the old points are dropped and tracking
restarts from the chosen frame. The variants choose that frame as the reference does:

* ``horizon_sync`` (A): the horizon's last frame, moved earlier to the next frame where another object
  starts, so objects stay synchronised;
* ``median_area_diff`` (B): the frame whose mask area is the (lower) median of the horizon's mask areas
  (the reference takes the median of the areas themselves, despite its name);
* ``similar_area`` (C): the frame whose mask area is closest to the horizon's first mask;
* ``similar_area_sync`` (D): one frame for all objects: the smallest summed relative area difference,
  with a bonus for the next frame where another object starts.

Masks of at most ``min_reinit_area`` pixels, and the first ``horizon // 4`` frames, are never chosen. An
object with no usable mask in its horizon is marked absent for the rest of the video in that direction
(``reference_reinit``: re-sampled from the reference's choice of frame anyway, as the reference does).
With queries after frame 0 the video is run in both directions from each object's query frame and the
halves are joined there. Frames are segmented again when horizons overlap (the method needs it) but are
encoded only once, through the shared :class:`~sampt.pipeline.embeddings.EmbeddingCache`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence

import numpy as np

from sampt.pipeline.context import RunContext
from sampt.pipeline.prompting import ObjectFramePoints, segment_frame
from sampt.pipeline.query_points import ObjectQueries, sample_query_points
from sampt.pipeline.store import SegmentationOutput
from sampt.pipeline.tracking import track_objects
from sampt.types import Tracks, Video

log = logging.getLogger(__name__)

def choose_reinit_offsets(variant: str, areas: np.ndarray, first_areas: np.ndarray, horizon: int,
                          sync_offset: Optional[int], min_area: int, reference: bool = False) -> np.ndarray:
    """Pick each object's re-initialisation frame within a horizon.

    ``areas`` ``(O, L)``: mask areas on the horizon's frames 1..L (frame 0 is its query frame);
    ``first_areas`` ``(O,)``: areas on frame 0; ``sync_offset``: index into ``areas`` of the frame before
    the next start of another object, if any. Returns indices into ``areas``, ``-1`` where no frame is
    usable; with ``reference``, the frame the reference picks even then (never ``-1``): the variant's
    frame for A and D, the first frame for C, the middle frame for B (the reference takes whatever index
    torch's ``nanmedian`` gives for an all-NaN row).
    """
    areas = areas.astype(np.float64).copy()
    areas[areas <= min_area] = np.nan
    if horizon // 4 < areas.shape[1]:
        areas[:, : horizon // 4] = np.nan
    O, L = areas.shape
    if variant == "horizon_sync":
        index = min(horizon - 2, L - 1)
        if sync_offset is not None:
            index = min(index, sync_offset)
        chosen = np.full(O, index)
    elif variant == "median_area_diff":
        chosen = np.full(O, -1)
        for o in range(O):
            valid = np.flatnonzero(~np.isnan(areas[o]))
            if len(valid):
                values = areas[o, valid]
                median = np.sort(values)[(len(values) - 1) // 2]
                chosen[o] = valid[np.flatnonzero(values == median)[0]]
    elif variant == "similar_area":
        diff = np.abs(areas - first_areas[:, None])
        diff[np.isnan(diff)] = np.inf
        chosen = np.where(np.isinf(diff).all(axis=1), -1, diff.argmin(axis=1))
    elif variant == "similar_area_sync":
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.abs(areas - first_areas[:, None]) / first_areas[:, None]
        diff[~np.isfinite(diff)] = 720.0  # an unusable frame costs far more than any real difference
        total = diff.sum(axis=0)
        if sync_offset is not None and 0 <= sync_offset < L:
            total[sync_offset] -= 36.0  # prefer staying in sync with the other objects, but not at any cost
        chosen = np.full(O, int(total.argmin()))
    else:
        raise ValueError(f"unknown re-initialisation variant {variant!r}")
    if reference:
        fallback = (L - 1) // 2 if variant == "median_area_diff" else 0
        return np.where(chosen >= 0, chosen, fallback)
    usable = np.array([c >= 0 and not np.isnan(areas[o, c]) for o, c in enumerate(chosen)])
    return np.where(usable, chosen, -1)


class ReinitDirection:
    """Re-initialised tracking over the frames ``order`` (forward or reversed), one horizon at a time.

    ``starts[i]`` is object i's query position in ``order`` (None: not run in this direction); results for
    frame t of object i are recorded in ``output`` (anything with ``record(t, i, result)``) and, unless
    ``tracks_out`` is None, ``tracks_out[i][t]``, only where ``owns(i, t)``. :meth:`step` runs the horizons
    that start at :attr:`next_start`; positions before the new :attr:`next_start` are then final (no later
    horizon revisits them), which is what lets :mod:`~sampt.pipeline.streaming` emit them and hold only
    the frames of one tracker horizon.
    """

    def __init__(self, ctx: RunContext, order: Sequence[int], objects: Sequence[ObjectQueries],
                 starts: Sequence[Optional[int]], output: Any, owns: Callable[[int, int], bool],
                 tracks_out: Optional[list[dict]] = None, progress: Any = None):
        self.ctx, self.order, self.objects, self.output, self.owns = ctx, order, objects, output, owns
        self.tracks_out, self.progress = tracks_out, progress
        self.current = [None if s is None else objects[i] for i, s in enumerate(starts)]
        self.start_pos = list(starts)
        self._released = 0

    @property
    def next_start(self) -> Optional[int]:
        """The position of the next horizon (None: every object is done or absent in this direction)."""
        positions = [s for s in self.start_pos if s is not None]
        return min(positions) if positions else None

    @property
    def lookahead(self) -> int:
        """Positions :meth:`step` needs from :attr:`next_start` on to give the same result as over the whole
        order: the tracker's horizon, and one past the horizon to know whether re-initialisation follows."""
        options = self.ctx.options
        return max(options.reinit_tracker_horizon, options.reinit_horizon + 1)

    def step(self, n: int) -> None:
        """Track, segment and re-initialise the objects whose horizon starts at :attr:`next_start`, over
        positions up to ``n`` (the order's length, or for a stream the positions known so far, at least
        ``next_start + lookahead`` unless the stream has ended)."""
        ctx, order, objects, current, start_pos = self.ctx, self.order, self.objects, self.current, self.start_pos
        video, options, output, owns = ctx.video, ctx.options, self.output, self.owns
        h, h_track = options.reinit_horizon, options.reinit_tracker_horizon
        s = self.next_start
        group = [i for i in range(len(objects)) if start_pos[i] == s]
        end, end_track = min(s + h, n), min(s + h_track, n)
        frames = [order[k] for k in range(s, end_track)]
        sub_video = Video(np.stack([video[t] for t in frames]), video.fps)
        local = [ObjectQueries(current[i].object_id, 0, current[i].points, current[i].labels, current[i].mask) for i in group]
        group_tracks = track_objects(ctx, local, sub_video)
        length = end - s
        horizon_masks = np.zeros((len(group), length, *video.size), bool)
        for k in range(length):
            t = order[s + k]
            points = [ObjectFramePoints(tr.points[k], current[i].labels, tr.visibility[k]) for i, tr in zip(group, group_tracks)]
            results = segment_frame(ctx, t, points, ctx.frame_rng(t, horizon_start=s))
            for g, (i, r) in enumerate(zip(group, results)):
                if r.logits is not None:
                    horizon_masks[g, k] = r.logits > 0
                if owns(i, t):
                    output.record(t, i, r)
                    if self.tracks_out is not None:
                        self.tracks_out[i][t] = (group_tracks[g].points[k], group_tracks[g].visibility[k])
            if self.progress is not None:
                self.progress.update(1)
        for i in group:
            start_pos[i] = None
        if end < n:
            later = [p for p in start_pos if p is not None and p > s]
            sync = (min(later) - s - 1) if later else None
            areas = horizon_masks[:, 1:].sum(axis=(2, 3))
            first = horizon_masks[:, 0].sum(axis=(1, 2)).astype(np.float64)
            chosen = choose_reinit_offsets(options.reinit_variant, areas, first, h, sync, options.min_reinit_area,
                                           reference=options.reference_reinit)
            for g, i in enumerate(group):
                if chosen[g] < 0:
                    log.info("object %s: no usable mask to re-initialise from after frame %d; absent from then on",
                             objects[i].object_id, order[end - 1])
                    continue
                k = int(chosen[g]) + 1
                new_pos = s + k
                current[i] = sample_query_points(ctx, horizon_masks[g, k], order[new_pos], objects[i].object_id,
                                                 ctx.reinit_seed(new_pos, i))
                start_pos[i] = new_pos
        ctx.embeddings.release(order[self._released: s + 1])  # no later horizon of this direction needs them
        self._released = s + 1


def run_direction(ctx: RunContext, order: Sequence[int], objects: Sequence[ObjectQueries],
                  starts: Sequence[Optional[int]], output: SegmentationOutput, owns: Callable[[int, int], bool],
                  tracks_out: Optional[list[dict]] = None, progress: Any = None) -> None:
    """Run re-initialised tracking over the whole of ``order`` (see :class:`ReinitDirection`)."""
    run = ReinitDirection(ctx, order, objects, starts, output, owns, tracks_out, progress)
    n = len(order)
    while run.next_start is not None and run.next_start < n:
        run.step(n)


def run_reinit(ctx: RunContext, objects: Sequence[ObjectQueries],
               progress: Any = None) -> tuple[SegmentationOutput, list[Tracks]]:
    """Re-initialised SAM-PT over the whole video, both directions from each object's query frame.

    Returns the segmentation and, per object, the tracks of the query points in use on each frame
    (padded with invisible points where an object's point count changes).
    """
    T = len(ctx.video)
    output = SegmentationOutput.empty(T, len(objects), ctx.video.size)
    query_frames = [o.frame for o in objects]
    tracks_out: list[dict] = [dict() for _ in objects]
    backward_needed = max(query_frames) > 0
    if backward_needed:  # frames between the query frames are needed in both directions: encode them once
        ctx.embeddings.pin(range(min(query_frames), max(query_frames) + 1))
    run_direction(ctx, list(range(T)), objects, query_frames, output, owns=lambda i, t: t >= query_frames[i],
                  tracks_out=tracks_out, progress=progress)
    if backward_needed:
        order = list(range(T - 1, -1, -1))
        starts = [T - 1 - q if q > 0 else None for q in query_frames]
        run_direction(ctx.backward(), order, objects, starts, output, owns=lambda i, t: t < query_frames[i],
                      tracks_out=tracks_out, progress=progress)
        ctx.embeddings.unpin()
    return output, [_assemble_tracks(per_frame, T) for per_frame in tracks_out]


def _assemble_tracks(per_frame: dict, T: int) -> Tracks:
    K = max((len(p) for p, _ in per_frame.values()), default=0)
    points = np.full((T, K, 2), np.nan, np.float32)
    visible = np.zeros((T, K), bool)
    for t, (p, v) in per_frame.items():
        points[t, : len(p)], visible[t, : len(v)] = p, v
    return Tracks(points, visible)
