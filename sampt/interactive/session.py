"""The interactive session: edit points on any frame and re-do only the work the edit changed.

    session = Session.from_config(compose(), video)
    change = session.add_object(1, frame=0, mask=first_mask)          # query points sampled and tracked
    for frame in session.masks(change.frames): ...                      # masks, segmented as they are read
    change = session.add_point(1, frame=40, x=120, y=80, positive=False)  # tracked alone from frame 40
    session.undo(); session.redo()
    session.save("edit.sampt")                                          # one file; Session.load(...) again
    session.export("out/")                                              # masks/*.png, overlay.mp4, result.json

How little is redone:

* a new point is tracked alone (:func:`~sampt.pipeline.tracking.track_queries`), forward from its frame
  (and backward when asked); a moved point is re-tracked from the frame it was moved on; other points and
  their tracks are untouched (the state is immutable and shared between edits, see
  :mod:`sampt.interactive.state`);
* a frame's mask of an object is recomputed only when the prompt the segmenter would get there changed
  (its own visible points, and other objects' positives as negatives); prompts are built and the masks
  decoded by the pipeline's own step (:mod:`sampt.pipeline.prompting`); a result already computed for
  the same prompt on the same frame (before an undo, say) is taken from a memo instead;
* each frame is encoded at most once per session, under a memory budget, spilling to the session's cache
  folder (:class:`~sampt.interactive.cache.SpillingEmbeddingCache`).

With ``tracking=False`` a point lives on its own frame only: the "SAM per frame" baseline of the paper's
interactive benchmark.

A failed edit (unknown object or point, frame out of range, point outside the frame ...) raises
:class:`EditError` (a :class:`~sampt.errors.UsageError`) and leaves the session as it was.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import tempfile
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.interactive.cache import SpillingEmbeddingCache
from sampt.interactive.options import EditError, SessionOptions
from sampt.interactive.state import Change, HistoryEntry, ObjectState, Point, PointView, SegmentationMemo, State
from sampt.interfaces import PointSampler, Segmenter, Tracker
from sampt.pipeline.context import RunContext
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.prompting import ObjectFramePoints, build_prompt_points, segment_prompts
from sampt.pipeline.quality import QualityThresholds, measure_result
from sampt.pipeline.query_points import ObjectPrompt, ObjectQueries, query_points, sample_query_points, validate_prompt
from sampt.pipeline.store import MaskStore
from sampt.pipeline.tracking import track_objects, track_queries
from sampt.types import NEGATIVE, POSITIVE, Tracks, Video, check_points_inside

log = logging.getLogger(__name__)

SESSION_FORMAT = 1
MB = 1 << 20


@dataclass(frozen=True)
class FrameMasks:
    """One frame's masks: ``masks`` ``(O, H, W)`` bool in the order of ``object_ids``, and the combined
    ``label_map`` ``(H, W)`` uint8 (highest logit wins, as ``sampt run`` writes it)."""

    frame: int
    object_ids: tuple[int, ...]
    masks: np.ndarray
    label_map: np.ndarray


def _prompt_key(points: np.ndarray, labels: np.ndarray) -> bytes:
    """What identifies a prompt: its points and labels, bit for bit."""
    return hashlib.sha1(np.ascontiguousarray(points, np.float32).tobytes() + b"|"
                        + np.ascontiguousarray(labels, np.int64).tobytes()).digest()


class Session:
    """An interactive SAM-PT session over one video: objects, their points, masks and edit history.

    Build it from components (``Session(video, tracker, segmenter, options)``) or from a composed config
    (:meth:`from_config`). All frame indices are 0-based, points ``(x, y)`` in pixels of the frame
    (:mod:`sampt.types`). Each edit returns a :class:`~sampt.interactive.state.Change`.
    """

    def __init__(self, video: Video, tracker: Tracker, segmenter: Segmenter,
                 options: Optional[SessionOptions | SamPtOptions] = None, positive_sampler: Optional[PointSampler] = None,
                 negative_sampler: Optional[PointSampler] = None, config: Any = None):
        from sampt.builtin.samplers import KMedoidsSampler, MixedSampler

        if not isinstance(video, Video):
            raise EditError(f"a session needs a sampt.Video, got {type(video).__name__}")
        self.video = video
        if isinstance(options, SamPtOptions):  # the method's options alone: session defaults for the rest
            options = SessionOptions(pipeline=options)
        if options is not None and not isinstance(options, SessionOptions):
            raise EditError(f"session options must be a SessionOptions (or SamPtOptions), got {type(options).__name__}")
        self.options = options if options is not None else SessionOptions()
        self._config = config
        self._own_cache = self.options.cache_dir is None
        folder = Path(tempfile.mkdtemp(prefix="sampt-session-")) if self._own_cache else Path(self.options.cache_dir)
        self.cache_dir = folder
        # a temporary cache folder goes with the session, even one never closed
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True) if self._own_cache else None
        embeddings = SpillingEmbeddingCache(segmenter, video, folder, int(self.options.embedding_memory_mb * MB))
        self.ctx = RunContext(video, tracker, segmenter, positive_sampler or KMedoidsSampler(),
                              negative_sampler or MixedSampler(), self.options.pipeline, self.options.seed,
                              embeddings=embeddings)
        self._history: list[HistoryEntry] = [HistoryEntry({"action": "start"}, ())]
        self._position = 0
        self._next_point_id = 1
        self._results: dict[tuple[int, int], SegmentationMemo] = {}  # (frame, object id) -> the mask shown now
        self._memo: OrderedDict[tuple[int, bytes], SegmentationMemo] = OrderedDict()  # results of earlier prompts
        self._memo_bytes = 0
        self._dirty: set[int] = set()  # frames whose prompts may differ from those of their results
        self.segmented_pairs = 0  # (frame, object) masks computed by the segmenter
        self.reused_pairs = 0  # masks taken from the memo

    @classmethod
    def from_config(cls, cfg: Any, video: Video, registry: Any = None, **session_options: Any) -> "Session":
        """A session with the components, pipeline options and seed of a composed config
        (:func:`sampt.config.compose`); ``session_options`` are :class:`SessionOptions` fields."""
        from omegaconf import OmegaConf

        from sampt.config import build_component
        from sampt.plugins import Registry

        registry = registry or Registry()
        try:
            pipeline = SamPtOptions(**OmegaConf.to_container(cfg.pipeline, resolve=True))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        known = [f.name for f in dataclasses.fields(SessionOptions) if f.name not in ("pipeline", "seed")]
        unknown = set(session_options) - set(known)
        if unknown:
            raise EditError(f"unknown session option(s) {', '.join(sorted(unknown))} (the pipeline options and seed "
                            f"come from the config); known: {', '.join(known)}")
        options = SessionOptions(pipeline=pipeline, seed=int(cfg.seed), **session_options)
        return cls(video, build_component(cfg, "tracker", registry), build_component(cfg, "segmenter", registry),
                   options, build_component(cfg, "positive_sampler", registry),
                   build_component(cfg, "negative_sampler", registry), config=OmegaConf.to_container(cfg))

    # -- reading ------------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return len(self.video)

    @property
    def state(self) -> State:
        return self._history[self._position].state

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(o.object_id for o in self.state)

    @property
    def encoder_calls(self) -> int:
        """Frames encoded by the segmenter in this session (each at most once)."""
        return self.ctx.embeddings.encoder_calls

    @property
    def can_undo(self) -> bool:
        return self._position > 0

    @property
    def can_redo(self) -> bool:
        return self._position < len(self._history) - 1

    @property
    def history(self) -> list[dict]:
        """The actions done so far (up to the current position; undone ones are not listed)."""
        return [dict(e.action) for e in self._history[1:self._position + 1]]

    def points(self, object_id: Optional[int] = None, frame: Optional[int] = None) -> list[PointView]:
        """The points of one object (or all) as they are on ``frame`` (only those that live there), or
        where they were placed (``frame`` None)."""
        objects = self.state if object_id is None else (self._object(object_id),)
        if frame is not None:
            self._check_frame(frame)
        out = []
        for o in objects:
            for p in o.points:
                if frame is None:
                    out.append(PointView(p.point_id, o.object_id, p.label, p.x, p.y, True))
                elif p.active(frame):
                    x, y = p.track[frame]
                    out.append(PointView(p.point_id, o.object_id, p.label, float(x), float(y), bool(p.visible[frame])))
        return out

    def masks(self, frames: Optional[Iterable[int]] = None) -> Iterator[FrameMasks]:
        """Each frame's masks (default: every frame), brought up to date as they are read."""
        frames = range(self.num_frames) if frames is None else frames
        for t in frames:
            self._check_frame(t)
            self._update(t)
            yield self._frame_masks(t)

    def mask(self, frame: int, object_id: int) -> np.ndarray:
        """One object's ``(H, W)`` bool mask on ``frame`` (brought up to date)."""
        self._check_frame(frame)
        index = self.object_ids.index(self._object(object_id).object_id)
        self._update(frame)
        return self._frame_masks(frame).masks[index]

    def label_map(self, frame: int) -> np.ndarray:
        """Frame ``frame``'s ``(H, W)`` uint8 label map (brought up to date)."""
        return next(self.masks([frame])).label_map

    def propagate(self, progress: bool = False) -> list[int]:
        """Bring every frame up to date; returns the frames whose masks were looked at again."""
        frames = sorted(self._dirty)
        bar = None
        if progress and frames:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(frames), desc="propagating", unit="frame")
        try:
            for t in frames:
                self._update(t)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return frames

    # -- edits --------------------------------------------------------------------------------------
    def add_object(self, object_id: int, frame: int = 0, mask: Optional[np.ndarray] = None,
                   points: Optional[np.ndarray] = None, labels: Optional[np.ndarray] = None) -> Change:
        """Add an object from its ``mask`` on ``frame`` (query points sampled as in a run) or from clicked
        ``points`` ``(K, 2)`` with ``labels`` (1 positive, 0 negative); its points are tracked through the
        whole video (or, with tracking off, live on ``frame`` only)."""
        if not isinstance(object_id, (int, np.integer)) or not 1 <= int(object_id) <= 255:
            raise EditError(f"object id must be an integer in 1..255 (it is the label in the masks), got {object_id!r}")
        object_id = int(object_id)
        if object_id in self.object_ids:
            raise EditError(f"object {object_id} already exists; pick another id or edit its points")
        self._check_frame(frame)
        prompt = ObjectPrompt(object_id, frame, mask=mask, points=points, labels=labels)
        try:
            validate_prompt(prompt, self.num_frames, self.video.size)
        except UsageError as exc:
            raise EditError(str(exc)) from None
        index = len(self.state)
        if mask is not None:
            queries = sample_query_points(self.ctx, mask, frame, object_id, self.ctx.query_seed(index))
        else:
            queries = query_points(self.ctx, [prompt])[0]
        T = self.num_frames
        if self.options.tracking:
            tracks = track_objects(self.ctx, [queries])[0]
            start, end = 0, T
        else:
            tracks = self._still(queries.points, frame)
            start, end = frame, frame + 1
        new_points = tuple(self._new_point(object_id, int(lab), frame, xy, tracks.points[:, k], tracks.visibility[:, k],
                                           start, end)
                           for k, (xy, lab) in enumerate(zip(queries.points, queries.labels)))
        obj = ObjectState(object_id, frame, new_points, None if queries.mask is None else np.asarray(queries.mask, bool))
        return self._commit({"action": "add_object", "object_id": object_id, "frame": frame,
                             "from": "mask" if mask is not None else "clicks"},
                            self.state + (obj,), range(start, end), [p.point_id for p in new_points])

    def add_point(self, object_id: int, frame: int, x: float, y: float, positive: bool = True,
                  backward: Optional[bool] = None) -> Change:
        """Add a positive (or negative) point to an object on ``frame``, tracked alone from there to the
        end (and ``backward`` to the start; default :attr:`SessionOptions.backward`)."""
        obj = self._object(object_id)
        self._check_frame(frame)
        self._check_inside(x, y)
        backward = self.options.backward if backward is None else bool(backward)
        tracks, start, end = self._track_new(frame, x, y, backward)
        point = self._new_point(obj.object_id, POSITIVE if positive else NEGATIVE, frame, (x, y), tracks.points[:, 0],
                                tracks.visibility[:, 0], start, end)
        state = self._replace(obj, obj.points + (point,))
        return self._commit({"action": "add_point", "object_id": obj.object_id, "frame": frame, "x": float(x),
                             "y": float(y), "positive": bool(positive), "point_id": point.point_id},
                            state, range(start, end), [point.point_id])

    def remove_point(self, point_id: int, from_frame: Optional[int] = None) -> Change:
        """Remove a point entirely, or from ``from_frame`` onward (it keeps its earlier frames)."""
        obj, point = self._find_point(point_id)
        if from_frame is None or from_frame <= point.start:
            if from_frame is not None:
                self._check_frame(from_frame)
            points = tuple(p for p in obj.points if p.point_id != point_id)
            frames = range(point.start, point.end)
        else:
            self._check_frame(from_frame)
            if not point.active(from_frame):
                raise EditError(f"point {point_id} is not there on frame {from_frame}: it lives on frames "
                                f"{point.start}..{point.end - 1}")
            points = tuple(p.with_end(from_frame) if p.point_id == point_id else p for p in obj.points)
            frames = range(from_frame, point.end)
        return self._commit({"action": "remove_point", "point_id": point_id, "object_id": obj.object_id,
                             "from_frame": from_frame}, self._replace(obj, points), frames, [])

    def move_point(self, point_id: int, frame: int, x: float, y: float) -> Change:
        """Correct a point on ``frame`` (a drifted track): it is at ``(x, y)`` there and re-tracked from
        there on; its earlier frames are kept."""
        obj, point = self._find_point(point_id)
        self._check_frame(frame)
        self._check_inside(x, y)
        if not point.active(frame):
            raise EditError(f"point {point_id} is not there on frame {frame}: it lives on frames "
                            f"{point.start}..{point.end - 1}")
        track, visible = point.track.copy(), point.visible.copy()
        if self.options.tracking:
            new = track_queries(self.ctx, np.array([[frame, x, y]], np.float32), backward=False, stop=point.end)
            track[frame:point.end], visible[frame:point.end] = new.points[frame:point.end, 0], new.visibility[frame:point.end, 0]
        else:
            track[frame], visible[frame] = (x, y), True
        moved = Point(point.point_id, point.object_id, point.label, frame, float(x), float(y), track, visible,
                      point.start, point.end)
        points = tuple(moved if p.point_id == point_id else p for p in obj.points)
        return self._commit({"action": "move_point", "point_id": point_id, "object_id": obj.object_id,
                             "frame": frame, "x": float(x), "y": float(y)},
                            self._replace(obj, points), range(frame, point.end), [])

    def undo(self) -> Change:
        """Go back one edit; the masks it changed come back exactly as they were."""
        if not self.can_undo:
            raise EditError("nothing to undo")
        entry = self._history[self._position]
        self._position -= 1
        return self._moved_to(entry.state, "undo " + entry.action["action"], entry.frames)

    def redo(self) -> Change:
        """Do again the last edit undone."""
        if not self.can_redo:
            raise EditError("nothing to redo")
        previous = self.state
        self._position += 1
        entry = self._history[self._position]
        return self._moved_to(previous, "redo " + entry.action["action"], entry.frames)

    # -- outputs ------------------------------------------------------------------------------------
    def result(self) -> Any:
        """Every frame brought up to date, as a :class:`~sampt.pipeline.SamPtResult` (what ``SamPt.run``
        returns), so the run's writers apply."""
        from sampt.pipeline.sam_pt import SamPtResult

        self.propagate()
        T, ids = self.num_frames, list(self.object_ids)
        store = MaskStore(T, len(ids), self.video.size)
        iou = np.full((T, len(ids)), np.nan, np.float32)
        prompts = [[None] * len(ids) for _ in range(T)]
        for (t, oid), r in self._results.items():
            o = ids.index(oid)
            store.put_entry(t, o, r.entry)
            iou[t, o] = r.iou
            prompts[t][o] = r.prompt
        queries, tracks = [], []
        for obj in self.state:
            pts = obj.points
            queries.append(ObjectQueries(obj.object_id, obj.frame, np.array([[p.x, p.y] for p in pts], np.float32).reshape(-1, 2),
                                         np.array([p.label for p in pts], np.int64), obj.mask))
            points = np.full((T, len(pts), 2), np.nan, np.float32)
            visible = np.zeros((T, len(pts)), bool)
            for k, p in enumerate(pts):
                points[p.start:p.end, k] = p.track[p.start:p.end]
                visible[p.start:p.end, k] = p.visible[p.start:p.end]
            tracks.append(Tracks(points, visible))
        timings = self.ctx.timing_report(sum(self.ctx.timings.seconds.values()) + self.ctx.embeddings.encode_seconds)
        result = SamPtResult(ids, store, iou, queries, tracks, prompts, timings, self.encoder_calls)
        result.quality = measure_result(result, self.ctx.segmenter.predicts_iou,
                                        QualityThresholds.from_options(self.ctx.options))
        return result

    def export(self, out_dir: str, overlay: bool = True) -> Path:
        """Write the result folder ``sampt run`` writes (``masks/<video>/<frame>.png``, ``tracks.npz``,
        ``overlay.mp4``, ``result.json``), plus the session's edit history in ``result.json``."""
        from sampt.results import RunOutput

        if not self.state:
            raise EditError("the session has no object to export; add one first")
        output = RunOutput(out_dir)  # checks the destination before any work
        extra = {"session": {"history": self.history, "encoder_calls": self.encoder_calls,
                             "segmented_pairs": self.segmented_pairs}, "video": self.video.name}
        if self._config is not None:
            extra["config"] = self._config
        try:
            return output.finish(self.result(), self.video, overlay=overlay, extra=extra)
        finally:
            output.discard()

    def stats(self) -> dict:
        """Counters of the work done: frames encoded, masks segmented and reused, embedding spills."""
        cache = self.ctx.embeddings
        return {"encoder_calls": cache.encoder_calls, "segmented_pairs": self.segmented_pairs,
                "reused_pairs": self.reused_pairs, "embedding_disk_writes": cache.disk_writes,
                "embedding_disk_reads": cache.disk_reads, "embedding_memory_bytes": cache.memory_bytes,
                "tracking_seconds": self.ctx.timings.get("tracking"), "decoding_seconds": self.ctx.timings.get("decoding"),
                "encoding_seconds": cache.encode_seconds}

    def close(self) -> None:
        """Remove the cache folder if the session made it (a temporary one: give ``cache_dir`` to keep the
        embeddings for a session saved and loaded later)."""
        if self._own_cache and self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- save / load --------------------------------------------------------------------------------
    def save(self, path: str) -> Path:
        """Write the session to one file, atomically: points, tracks, labels, the edit history and the
        current masks; the embeddings stay in the cache folder (written there now), named by the file."""
        from sampt.interactive.persist import write_session

        self.ctx.embeddings.flush()
        return write_session(self, Path(path))

    @classmethod
    def load(cls, path: str, video: Video, tracker: Optional[Tracker] = None, segmenter: Optional[Segmenter] = None,
             positive_sampler: Optional[PointSampler] = None, negative_sampler: Optional[PointSampler] = None,
             registry: Any = None, **session_options: Any) -> "Session":
        """A session saved by :meth:`save`, over the same ``video``. Components not given are built from the
        config the session was made with (:meth:`from_config`); ``session_options`` override saved ones."""
        from sampt.interactive.persist import read_session

        return read_session(cls, Path(path), video, tracker, segmenter, positive_sampler, negative_sampler, registry,
                            session_options)

    # -- internals ----------------------------------------------------------------------------------
    def _check_frame(self, frame: Any) -> None:
        if not isinstance(frame, (int, np.integer)) or isinstance(frame, bool):
            raise EditError(f"frame must be an integer index, got {frame!r}")
        if not 0 <= frame < self.num_frames:
            raise EditError(f"frame {frame} is outside the video (0..{self.num_frames - 1})")

    def _check_inside(self, x: float, y: float) -> None:
        try:
            if not (np.isfinite(x) and np.isfinite(y)):
                raise ValueError(f"point ({x}, {y}) is not finite")
            check_points_inside(np.array([[x, y]], np.float64), self.video.height, self.video.width, "point")
        except (TypeError, ValueError) as exc:
            raise EditError(str(exc)) from None

    def _object(self, object_id: int) -> ObjectState:
        for o in self.state:
            if o.object_id == object_id:
                return o
        raise EditError(f"unknown object {object_id!r}; objects: {', '.join(map(str, self.object_ids)) or '(none yet)'}")

    def _find_point(self, point_id: int) -> tuple[ObjectState, Point]:
        for o in self.state:
            p = o.point(point_id)
            if p is not None:
                return o, p
        raise EditError(f"point {point_id!r} is not in the session (removed, undone, or never added); "
                        "see Session.points()")

    def _replace(self, obj: ObjectState, points: tuple[Point, ...]) -> State:
        return tuple(o.with_points(points) if o is obj else o for o in self.state)

    def _new_point(self, object_id: int, label: int, frame: int, xy: Sequence[float], track: np.ndarray,
                   visible: np.ndarray, start: int, end: int) -> Point:
        point = Point(self._next_point_id, object_id, label, frame, float(xy[0]), float(xy[1]),
                      np.array(track, np.float32), np.array(visible, bool), start, end)
        self._next_point_id += 1
        return point

    def _still(self, xy: np.ndarray, frame: int) -> Tracks:
        """Tracks of points that do not move and live on ``frame`` only (tracking off)."""
        T = self.num_frames
        points = np.broadcast_to(np.asarray(xy, np.float32).reshape(1, -1, 2), (T, len(xy), 2)).copy()
        visible = np.zeros((T, len(xy)), bool)
        visible[frame] = True
        return Tracks(points, visible)

    def _track_new(self, frame: int, x: float, y: float, backward: bool) -> tuple[Tracks, int, int]:
        if not self.options.tracking:
            return self._still(np.array([[x, y]], np.float32), frame), frame, frame + 1
        tracks = track_queries(self.ctx, np.array([[frame, x, y]], np.float32), backward=backward)
        return tracks, 0 if backward else frame, self.num_frames

    def _commit(self, action: dict, state: State, frames: range, new_points: Sequence[int]) -> Change:
        """Make ``state`` current (dropping undone edits) and say what it changed."""
        previous = self.state
        del self._history[self._position + 1:]
        self._history.append(HistoryEntry(action, state, frames))
        self._position += 1
        change = self._diff(previous, state, frames, action["action"])
        return dataclasses.replace(change, points=tuple(new_points))

    def _moved_to(self, other: State, action: str, frames: range) -> Change:
        return self._diff(other, self.state, frames, action)

    def _diff(self, before: State, after: State, frames: range, action: str) -> Change:
        """Which objects' prompts differ between two states on ``frames``; those frames become dirty."""
        changed: set[int] = set()
        first = last = None
        for t in frames:
            old = dict(zip([o.object_id for o in before], self._prompts(before, t)))
            new = dict(zip([o.object_id for o in after], self._prompts(after, t)))
            differ = {oid for oid in set(old) | set(new)
                      if oid not in old or oid not in new or _prompt_key(*old[oid]) != _prompt_key(*new[oid])}
            if differ:
                changed |= differ
                first = t if first is None else first
                last = t
                self._dirty.add(t)
        removed = {o.object_id for o in before} - {o.object_id for o in after}
        for key in [k for k in self._results if k[1] in removed]:
            self._forget(key)
        span = range(first, last + 1) if first is not None else range(0)
        return Change(action, tuple(sorted(changed)), span)

    def _prompts(self, state: State, t: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each object's prompt points and labels on frame ``t`` (the pipeline's rule, with the run's
        per-frame generator for capped negatives)."""
        if not state:
            return []
        objects = []
        for o in state:
            live = [p for p in o.points if p.active(t)]
            objects.append(ObjectFramePoints(np.array([p.track[t] for p in live], np.float32).reshape(-1, 2),
                                             np.array([p.label for p in live], np.int64),
                                             np.array([p.visible[t] for p in live], bool)))
        return build_prompt_points(objects, self.video.size, self.ctx.options, self.ctx.frame_rng(t))

    def _update(self, t: int) -> None:
        """Bring frame ``t``'s masks up to date: segment the objects whose prompt changed (or reuse the
        mask of that same prompt from the memo)."""
        if t not in self._dirty:
            return
        state = self.state
        prompts = self._prompts(state, t)
        todo = []
        for obj, prompt in zip(state, prompts):
            key = _prompt_key(*prompt)
            current = self._results.get((t, obj.object_id))
            if current is not None and current.key == key:
                continue
            if current is None and not np.any(prompt[1] == POSITIVE):
                continue  # no mask before, none now
            remembered = self._memo.pop((t, key), None)
            if remembered is not None:
                self._memo_bytes -= remembered.nbytes
                self._set(t, obj.object_id, remembered)
                self.reused_pairs += 1
            else:
                todo.append((obj.object_id, prompt, key))
        if todo:
            need_image = any(np.any(p[1] == POSITIVE) for _, p, _ in todo)
            embedding = self.ctx.embedding(t) if need_image else None
            results = segment_prompts(self.ctx, embedding, [p for _, p, _ in todo]) if need_image else None
            for k, (oid, prompt, key) in enumerate(todo):
                r = results[k] if results is not None else None
                entry = None
                if r is not None and r.logits is not None:
                    scratch = MaskStore(1, 1, self.video.size)
                    scratch.set(0, 0, r.logits)
                    entry = scratch.entry(0, 0)
                iou = np.nan if r is None or r.iou is None else float(r.iou)
                self._set(t, oid, SegmentationMemo(key, entry, iou, prompt))
                self.segmented_pairs += int(np.any(prompt[1] == POSITIVE))
        self._dirty.discard(t)

    def _set(self, t: int, object_id: int, result: SegmentationMemo) -> None:
        self._forget((t, object_id))
        self._results[(t, object_id)] = result

    def _forget(self, key: tuple[int, int]) -> None:
        """Move a shown result to the memo (bounded by ``result_memory_mb``, oldest dropped first)."""
        old = self._results.pop(key, None)
        if old is None:
            return
        memo_key = (key[0], old.key)
        if memo_key in self._memo:
            return
        self._memo[memo_key] = old
        self._memo_bytes += old.nbytes
        budget = self.options.result_memory_mb * MB
        while self._memo and self._memo_bytes > budget:
            _, dropped = self._memo.popitem(last=False)
            self._memo_bytes -= dropped.nbytes

    def _frame_masks(self, t: int) -> FrameMasks:
        ids = list(self.object_ids)
        store = MaskStore(1, len(ids), self.video.size)
        for o, oid in enumerate(ids):
            r = self._results.get((t, oid))
            if r is not None:
                store.put_entry(0, o, r.entry)
        masks = np.stack([store.mask(0, o) for o in range(len(ids))]) if ids else np.zeros((0, *self.video.size), bool)
        return FrameMasks(t, tuple(ids), masks, store.label_map(0, ids))
