"""Streaming SAM-PT: frames in, masks out, with bounded latency and memory.

:func:`stream` takes frames one at a time from a source (:func:`sampt.sources.open_source`: a video file or frame folder
read lazily, a camera index or URL through OpenCV, a :class:`~sampt.types.Video`, an array or any iterator of
``(H, W, 3)`` uint8 frames) and yields each frame's result as soon as it is final:

* with an online tracker (``capabilities.online``) every frame is pushed to one
  :class:`~sampt.interfaces.TrackStream`; a frame is final when the stream returns its tracks, at most
  ``capabilities.latency`` frames later;
* with an offline tracker the frames are tracked in chunks of ``stream_chunk_length`` frames, of which all
  but the last ``stream_chunk_overlap`` are emitted (the overlap is the tracker's look-ahead); the next
  chunk starts at the first frame not emitted, from the points still visible there (a point lost or
  occluded at a hand-over is dropped, as a frame-to-frame tracker would drop it). Latency: the chunk
  length minus one;
* with re-initialisation (``reinit_variant``, any tracker) the horizons of
  :class:`~sampt.pipeline.reinit.ReinitDirection` run as frames arrive, each once the frames of its
  tracker horizon (and one more, to know whether the stream goes on) are in; the frames before the next
  horizon's start are then final. Latency: ``max(reinit_tracker_horizon, reinit_horizon + 1) - 1``.
  The masks equal an offline run's when every object is marked on frame 0. With objects marked later,
  their backward half (frames before their frame) runs first, over the frames held so far; the offline
  run keys that half's random draws by positions counted from the video's last frame, which a stream
  does not know, so there the draws (re-sampled points, capped negatives) may differ.

Objects may be marked on a later frame: frames are held until the last object's frame arrives (that
frame count adds to the latency of the first frames), and an object has no mask before its frame unless
the tracker tracks backward within the first chunk. Only frames not yet emitted, their embeddings and
tracks are held: memory does not grow with the stream's length.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from sampt.errors import InputError, UsageError
from sampt.pipeline.context import RunContext
from sampt.pipeline.prompting import ObjectFramePoints, segment_frame
from sampt.pipeline.query_points import ObjectPrompt, ObjectQueries, query_points
from sampt.pipeline.reinit import ReinitDirection, run_direction
from sampt.pipeline.store import MaskStore
from sampt.pipeline.tracking import track_points
from sampt.sources import CAMERA_FPS, CameraOpener, camera_frames, open_source  # noqa: F401 (sources live there)
from sampt.types import Tracks, Video

log = logging.getLogger(__name__)


class FrameWindow(Video):
    """The frames of a stream that the pipeline still needs, by absolute index: a :class:`Video` whose
    ``len`` is the number of frames received so far, and from which emitted frames are released."""

    def __init__(self, height: int, width: int, fps: float = 24.0, name: str = "stream"):
        self._height, self._width, self.fps, self.name = int(height), int(width), fps, name
        self._held: dict[int, np.ndarray] = {}
        self.received = 0

    def add(self, frame: Any) -> int:
        """Take the next frame (checked: ``(H, W, 3)`` uint8 of the stream's size); returns its index."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(f"stream frame {self.received} must be an (H, W, 3) uint8 RGB image, got "
                             f"{frame.shape} {frame.dtype}")
        if frame.shape[:2] != (self._height, self._width):
            raise InputError(f"stream frame {self.received} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is "
                             f"{self._width}x{self._height}; all frames of a stream must have the same size")
        self._held[self.received] = frame
        self.received += 1
        return self.received - 1

    def release(self, t: int) -> None:
        self._held.pop(t, None)

    @property
    def held(self) -> int:
        """How many frames are held (not yet released)."""
        return len(self._held)

    @property
    def frames(self) -> np.ndarray:  # type: ignore[override]
        return np.stack([self._held[t] for t in sorted(self._held)])

    def clip(self, start: int, stop: int) -> Video:
        """Frames ``start..stop-1`` as a :class:`Video` (all must still be held)."""
        return Video(np.stack([self[t] for t in range(start, stop)]), self.fps, self.name)

    def __len__(self) -> int:
        return self.received

    def __getitem__(self, t):
        try:
            return self._held[int(t)]
        except KeyError:
            raise IndexError(f"stream frame {t} is not held (already emitted and released, or not yet "
                             f"received: {self.received} so far)") from None

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self._held[t] for t in sorted(self._held))

    @property
    def height(self) -> int:
        return self._height

    @property
    def width(self) -> int:
        return self._width

    __eq__ = object.__eq__
    __hash__ = object.__hash__


# -- results -------------------------------------------------------------------------------------------
@dataclass
class ObjectFrameInfo:
    """One object on one streamed frame: predicted ``iou`` (None: no prompt), mask ``area`` in pixels, and
    the prompt ``points`` ``(K, 2)`` / ``labels`` ``(K,)`` given to the segmenter."""

    iou: Optional[float]
    area: int
    points: np.ndarray
    labels: np.ndarray


@dataclass
class StreamedFrame:
    """A final frame: unpacks as ``t, label_map, objects`` (``objects``: object id -> :class:`ObjectFrameInfo`);
    ``received`` is how many frames had arrived when it was emitted, so ``received - 1 - t`` is its
    latency in frames."""

    t: int
    label_map: np.ndarray
    objects: dict[int, ObjectFrameInfo]
    received: int

    def __iter__(self):
        return iter((self.t, self.label_map, self.objects))

    @property
    def latency(self) -> int:
        return self.received - 1 - self.t


# -- the stream ----------------------------------------------------------------------------------------
class _Pull:
    """Frames from a source into a :class:`FrameWindow`, one at a time."""

    def __init__(self, frames: Iterator[np.ndarray], window: Optional[FrameWindow], fps: float, name: str):
        self.frames, self.window, self.fps, self.name, self.done = frames, window, fps, name, False

    def one(self) -> bool:
        if self.done:
            return False
        try:
            frame = next(self.frames)
        except StopIteration:
            self.done = True
            return False
        if self.window is None:
            frame = np.asarray(frame)
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise InputError(f"stream frame 0 must be an (H, W, 3) uint8 RGB image, got {frame.shape} {frame.dtype}")
            self.window = FrameWindow(frame.shape[0], frame.shape[1], self.fps, self.name)
        self.window.add(frame)
        return True

    def until(self, count: int) -> None:
        while (self.window is None or len(self.window) < count) and self.one():
            pass


def declared_latency(ctx_tracker: Any, options: Any, query_frame: int = 0,
                     size: Optional[tuple[int, int]] = None) -> int:
    """Frames of delay :func:`stream` promises: with re-initialisation one tracker horizon (and one frame
    more to know whether the stream goes on) minus one; else the online tracker's ``capabilities.latency``
    (frames of ``size`` within its ``max_side``), or the chunk length minus one; at least the last
    object's frame (frames before it wait for it)."""
    if options.reinit_variant is not None:
        base = max(options.reinit_tracker_horizon, options.reinit_horizon + 1) - 1
    elif ctx_tracker.capabilities.online and (size is None or uses_online_tracking(ctx_tracker, size)):
        base = ctx_tracker.capabilities.latency
    else:
        base = options.stream_chunk_length - 1
    return max(int(base), int(query_frame))


def uses_online_tracking(tracker: Any, size: tuple[int, int]) -> bool:
    """Whether a stream pushes frames to the tracker's own stream (online tracker, frames within its
    ``max_side``) rather than tracking chunks."""
    caps = tracker.capabilities
    return bool(caps.online) and (not caps.max_side or max(size) <= caps.max_side)


def stream(make_context: Any, source: Any, objects: Sequence[ObjectPrompt],
           open_camera: Optional[CameraOpener] = None) -> Iterator[StreamedFrame]:
    """Segment ``objects`` through the frames of ``source`` (see :func:`sampt.sources.open_source`; a camera
    through ``open_camera``), yielding each frame as a :class:`StreamedFrame` once it is final.
    ``make_context(video)`` gives the run's :class:`RunContext` over the stream's :class:`FrameWindow`."""
    if isinstance(objects, ObjectPrompt):
        objects = [objects]
    if not objects:
        raise UsageError("no objects to segment: give a mask or clicked points")
    frames, fps, name = open_source(source, open_camera)
    try:
        yield from _stream(make_context, frames, fps, name, objects)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:  # a camera is released even when the consumer stops early
            close()


def _stream(make_context: Any, frames: Iterator[np.ndarray], fps: float, name: str,
            objects: Sequence[ObjectPrompt]) -> Iterator[StreamedFrame]:
    pull = _Pull(frames, None, fps, name)
    query_frame = max(int(o.frame) if isinstance(o, ObjectPrompt) else 0 for o in objects)
    pull.until(query_frame + 1)
    if pull.window is None:
        raise InputError("the stream has no frames")
    window = pull.window
    if len(window) <= query_frame:
        raise UsageError(f"an object is marked on frame {query_frame} but the stream ended after "
                         f"{len(window)} frame(s)")
    ctx: RunContext = make_context(window)
    with ctx.timings.measure("query_points"):
        queries = query_points(ctx, objects)
    emitter = _Emitter(ctx, window, queries, query_frame)
    if ctx.options.reinit_variant is not None:
        log.info("streaming with re-initialisation (%s): horizons of %d frames, latency %d frames",
                 ctx.options.reinit_variant, ctx.options.reinit_horizon,
                 declared_latency(ctx.tracker, ctx.options, query_frame, window.size))
        yield from _reinit(ctx, pull, emitter, queries, query_frame)
    elif uses_online_tracking(ctx.tracker, window.size):
        log.info("streaming with online tracker %s: latency %d frame(s)", type(ctx.tracker).__name__,
                 declared_latency(ctx.tracker, ctx.options, query_frame, window.size))
        yield from _online(ctx, pull, emitter)
    else:
        log.info("tracker %s is offline: streaming in chunks of %d frames with %d frames of overlap "
                 "(latency %d frames)", type(ctx.tracker).__name__, ctx.options.stream_chunk_length,
                 ctx.options.stream_chunk_overlap, declared_latency(ctx.tracker, ctx.options, query_frame, window.size))
        yield from _chunked(ctx, pull, emitter, query_frame)


class _HeldResults:
    """Results of frames not yet emitted, by absolute frame index, stored as a run stores them (cropped
    float16 logits in a :class:`MaskStore`), so a streamed label map equals the offline one bit for bit."""

    def __init__(self, num_objects: int, size: tuple[int, int]):
        self.store = MaskStore(0, num_objects, size)
        self.iou: dict[tuple[int, int], Optional[float]] = {}
        self.prompts: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def record(self, t: int, o: int, result: Any) -> None:
        """Keep object ``o``'s outcome on frame ``t`` (a later record of the same frame replaces it)."""
        self.store.set(t, o, result.logits)
        self.iou[t, o] = result.iou
        self.prompts[t, o] = (result.prompt_points, result.prompt_labels)

    def pop(self, t: int, o: int) -> tuple[Optional[float], int, tuple[np.ndarray, np.ndarray]]:
        empty = (np.zeros((0, 2), np.float32), np.zeros((0,), np.int64))
        return self.iou.pop((t, o), None), self.store.area(t, o), self.prompts.pop((t, o), empty)


class _Emitter:
    """Builds a final frame's result from what was recorded for it, and releases everything held for it."""

    def __init__(self, ctx: RunContext, window: FrameWindow, queries: Sequence[ObjectQueries], query_frame: int):
        self.ctx, self.window, self.queries, self.query_frame = ctx, window, list(queries), query_frame
        self.ids = [q.object_id for q in queries]
        counts = [len(q.points) for q in queries]
        self.slices = [slice(a, a + n) for a, n in zip(np.cumsum([0] + counts[:-1]), counts)]
        self.all_queries = np.concatenate([q.as_tracker_queries for q in queries], axis=0)
        self.held = _HeldResults(len(queries), window.size)
        self.next = 0

    def __call__(self, t: int, points: np.ndarray, visible: np.ndarray) -> StreamedFrame:
        """Segment frame ``t`` from its tracks (all objects' points, in query order) and emit it."""
        ctx = self.ctx
        frame_points = [ObjectFramePoints(points[s], q.labels, visible[s]) for q, s in zip(self.queries, self.slices)]
        for o, r in enumerate(segment_frame(ctx, ctx.embedding(t), frame_points, ctx.frame_rng(t))):
            self.held.record(t, o, r)
        return self.emit(t)

    def emit(self, t: int) -> StreamedFrame:
        """Frame ``t``'s result from what was recorded for it (nothing: empty masks), then forget the frame."""
        assert t == self.next, (t, self.next)
        info = {}
        for o, oid in enumerate(self.ids):
            iou, area, (points, labels) = self.held.pop(t, o)
            info[oid] = ObjectFrameInfo(iou, area, points, labels)
        out = StreamedFrame(t, self.held.store.label_map(t, self.ids), info, self.window.received)
        self.held.store.release(t)
        self.window.release(t)
        self.ctx.embeddings.release([t])
        if t == self.query_frame:
            self.ctx.embeddings.unpin()  # the clicked frames' embeddings are no longer needed
        self.next += 1
        return out


def _reinit(ctx: RunContext, pull: _Pull, emit: _Emitter, queries: Sequence[ObjectQueries],
            query_frame: int) -> Iterator[StreamedFrame]:
    """Re-initialised SAM-PT through :class:`~sampt.pipeline.reinit.ReinitDirection`, one horizon at a time:
    frames before the next horizon's start are final and emitted; at most one tracker horizon is held."""
    window = pull.window
    query_frames = [q.frame for q in queries]
    if query_frame > 0:  # objects marked later: their backward half lies in the frames held so far
        ctx.embeddings.pin(range(min(query_frames), query_frame + 1))
        starts = [query_frame - q if q > 0 else None for q in query_frames]
        run_direction(ctx.backward(), list(range(query_frame, -1, -1)), queries, starts, emit.held,
                      owns=lambda i, t: t < query_frames[i])
    forward = ReinitDirection(ctx, range(sys.maxsize), queries, query_frames, emit.held,
                              owns=lambda i, t: t >= query_frames[i])
    while forward.next_start is not None:
        pull.until(forward.next_start + forward.lookahead)
        if forward.next_start >= len(window):
            break
        forward.step(len(window))
        final = forward.next_start if forward.next_start is not None else len(window)
        for t in range(emit.next, final):
            yield emit.emit(t)
    while True:  # every object is done: the rest of the stream has empty masks
        for t in range(emit.next, len(window)):
            yield emit.emit(t)
        if not pull.one():
            break


def _online(ctx: RunContext, pull: _Pull, emit: _Emitter) -> Iterator[StreamedFrame]:
    window = pull.window
    with ctx.timings.measure("tracking"):
        session = ctx.tracker.open_stream(emit.all_queries, window.height, window.width)
    pushed = 0

    def results(tracks: Tracks) -> Iterator[StreamedFrame]:
        for k in range(tracks.num_frames):
            yield emit(emit.next, tracks.points[k], tracks.visibility[k])

    while True:
        while pushed < len(window):
            with ctx.timings.measure("tracking"):
                out = session.push(window[pushed])
            pushed += 1
            yield from results(out)
        if not pull.one():
            break
    with ctx.timings.measure("tracking"):
        out = session.finish()
    yield from results(out)
    if emit.next != len(window):
        raise RuntimeError(f"{type(ctx.tracker).__name__}'s stream returned tracks for {emit.next} of "
                           f"{len(window)} frames")


def _chunked(ctx: RunContext, pull: _Pull, emit: _Emitter, query_frame: int) -> Iterator[StreamedFrame]:
    window = pull.window
    length, overlap = ctx.options.stream_chunk_length, ctx.options.stream_chunk_overlap
    N = len(emit.all_queries)
    start, first = 0, True
    position = emit.all_queries[:, 1:].copy()
    alive = np.ones(N, bool)
    while True:
        stop = start + (max(length, query_frame + 1) if first else length)
        pull.until(stop)
        stop = min(stop, len(window))
        clip = window.clip(start, stop)
        points = np.broadcast_to(position, (stop - start, N, 2)).astype(np.float32).copy()
        visible = np.zeros((stop - start, N), bool)
        if first:
            idx = np.arange(N)
            queries = emit.all_queries.copy()
            queries[:, 0] -= start
        else:
            idx = np.flatnonzero(alive)
            queries = np.concatenate([np.zeros((len(idx), 1), np.float32), position[idx]], axis=1)
        if len(idx):
            with ctx.timings.measure("tracking"):
                tracks = track_points(ctx.tracker, clip, queries)
            points[:, idx], visible[:, idx] = tracks.points, tracks.visibility
        ended = pull.done and stop == len(window)
        last = stop if ended else stop - overlap
        for t in range(start, last):
            yield emit(t, points[t - start], visible[t - start])
        if ended:
            return
        # hand over the points at the first frame not emitted (overlap >= 1: it is still held)
        k = last - start
        position, alive = points[k].copy(), visible[k].copy()
        position[:, 0] = np.clip(position[:, 0], 0, window.width - 1)
        position[:, 1] = np.clip(position[:, 1], 0, window.height - 1)
        start, first = last, False
