"""The interactive session: edit points on any frame and re-do only the work the edit changed.

    session = Session.from_config(compose(), video)
    change = session.add_object(1, frame=0, mask=first_mask)          # query points sampled and tracked
    for frame in session.masks(change.frames): ...                      # masks, segmented as they are read
    change = session.add_point(1, frame=40, x=120, y=80, positive=False)  # tracked alone from frame 40
    change.masks.label_map                                              # frame 40's masks, at once
    session.undo(); session.redo()
    session.save("edit.sampt")                                          # one file; Session.load(...) again
    session.export("out/")                                              # masks/*.png, overlay.mp4, result.json

How little is redone:

* a new point is tracked alone, forward from its frame (and backward when asked); a moved point is
  re-tracked from the frame it was moved on (:mod:`sampt.interactive.tracking`); other points and their
  tracks are untouched (the state is immutable and shared between edits, :mod:`sampt.interactive.state`);
* a frame's mask of an object is recomputed only when the prompt the segmenter would get there changed,
  or taken from a memo of earlier prompts' masks (:mod:`sampt.interactive.masks`);
* each frame is encoded at most once per session, under a memory budget, spilling to the session's cache
  folder (:class:`~sampt.interactive.cache.SpillingEmbeddingCache`).

With ``tracking=False`` a point lives on its own frame only (the paper's "SAM per frame" baseline). A
failed edit (unknown object or point, frame out of range, point outside the frame ...) raises
:class:`EditError` (a :class:`~sampt.errors.UsageError`) and leaves the session as it was.
"""
from __future__ import annotations

import dataclasses
import logging
import weakref
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np

from sampt.constraints import is_whole
from sampt.errors import UsageError, as_path
from sampt.interactive.cache import SpillingEmbeddingCache
from sampt.interactive.masks import FrameMasks, SessionMasks
from sampt.interactive.options import EditError, SessionOptions, check_frame, check_inside
from sampt.interactive.state import Change, HistoryEntry, ObjectState, Point, PointView, State, point_views
from sampt.interactive.tracking import moved_point, new_point_tracks, still_tracks
from sampt.interfaces import PointSampler, Segmenter, Tracker
from sampt.outputs import private_temp_dir, remove_private
from sampt.pipeline.context import RunContext
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.query_points import ObjectPrompt, query_points, sample_query_points, validate_prompt
from sampt.pipeline.tracking import track_objects
from sampt.types import MAX_OBJECT_ID, NEGATIVE, POSITIVE, Video

log = logging.getLogger(__name__)

SESSION_FORMAT = 1
MB = 1 << 20


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
        self.config = config  # the composed config the session was built from (None: from components)
        self._own_cache = self.options.cache_dir is None
        folder = private_temp_dir("session") if self._own_cache else Path(self.options.cache_dir)
        self.cache_dir = folder
        # a temporary cache folder goes with the session, even one never closed (or at exit, or after a kill)
        self._cleanup = weakref.finalize(self, remove_private, folder) if self._own_cache else None
        embeddings = SpillingEmbeddingCache(segmenter, video, folder, int(self.options.embedding_memory_mb * MB))
        self.ctx = RunContext(video, tracker, segmenter, positive_sampler or KMedoidsSampler(),
                              negative_sampler or MixedSampler(), self.options.pipeline, self.options.seed,
                              embeddings=embeddings)
        self._history: list[HistoryEntry] = [HistoryEntry({"action": "start"}, ())]
        self._position = 0
        self._next_point_id = 1
        self._masks = SessionMasks(self.ctx, int(self.options.result_memory_mb * MB))

    @classmethod
    def from_config(cls, cfg: Any, video: Video, registry: Any = None, **session_options: Any) -> "Session":
        """A session with the components, pipeline options and seed of a composed config
        (:func:`sampt.config.compose`); ``session_options`` are :class:`SessionOptions` fields."""
        from sampt.interactive.convert import session_parts_from_config

        return cls(video, **session_parts_from_config(cfg, registry, session_options))

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
        if frame is not None:
            check_frame(frame, self.num_frames)
        return point_views(self.state if object_id is None else (self._object(object_id),), frame)

    def masks(self, frames: Optional[Iterable[int]] = None) -> Iterator[FrameMasks]:
        """Each frame's masks (default: every frame), brought up to date as they are read."""
        frames = range(self.num_frames) if frames is None else frames
        for t in frames:
            check_frame(t, self.num_frames)
            self._update(t)
            yield self._frame_masks(t)

    def mask(self, frame: int, object_id: int) -> np.ndarray:
        """One object's ``(H, W)`` bool mask on ``frame`` (brought up to date)."""
        check_frame(frame, self.num_frames)
        index = self.object_ids.index(self._object(object_id).object_id)
        self._update(frame)
        return self._frame_masks(frame).masks[index]

    def label_map(self, frame: int) -> np.ndarray:
        """Frame ``frame``'s ``(H, W)`` uint8 label map (brought up to date)."""
        return next(self.masks([frame])).label_map

    def quality(self) -> Any:
        """Each (frame, object) mask's measures and flags as the masks stand now (frames not brought up to
        date count as they are): a :class:`~sampt.pipeline.quality.FrameQuality`."""
        from sampt.interactive.convert import session_result

        return session_result(self, *self._masks.outputs(self.object_ids)).quality

    def propagate(self, progress: bool = False) -> list[int]:
        """Bring every frame up to date; returns the frames whose masks were looked at again."""
        from sampt.progress import progress_bar

        frames = sorted(self._masks.dirty)
        for t in progress_bar(frames, total=len(frames), desc="propagating", unit="frame", enabled=progress):
            self._update(t)
        return frames

    # -- edits --------------------------------------------------------------------------------------
    def add_object(self, object_id: int, frame: int = 0, mask: Optional[np.ndarray] = None,
                   points: Optional[np.ndarray] = None, labels: Optional[np.ndarray] = None) -> Change:
        """Add an object from its ``mask`` on ``frame`` (query points sampled as in a run) or from clicked
        ``points`` ``(K, 2)`` with ``labels`` (1 positive, 0 negative); its points are tracked through the
        whole video (or, with tracking off, live on ``frame`` only)."""
        if not is_whole(object_id) or not 1 <= int(object_id) <= MAX_OBJECT_ID:  # a bool is not an id
            raise EditError(f"object id must be an integer in 1..{MAX_OBJECT_ID} (the label in the masks), got {object_id!r}")
        object_id = int(object_id)
        if object_id in self.object_ids:
            raise EditError(f"object {object_id} already exists; pick another id or edit its points")
        check_frame(frame, self.num_frames)
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
            tracks = still_tracks(queries.points, frame, self.num_frames)
            start, end = frame, frame + 1
        new_points = tuple(self._new_point(object_id, int(lab), frame, xy, tracks.points[:, k], tracks.visibility[:, k],
                                           start, end)
                           for k, (xy, lab) in enumerate(zip(queries.points, queries.labels)))
        obj = ObjectState(object_id, frame, new_points, None if queries.mask is None else np.asarray(queries.mask, bool))
        change = self._commit({"action": "add_object", "object_id": object_id, "frame": frame,
                               "from": "mask" if mask is not None else "clicks"},
                              self.state + (obj,), range(start, end), [p.point_id for p in new_points])
        return change if mask is not None else self._answer(change, frame)  # clicks: that frame is encoded already

    def add_point(self, object_id: int, frame: int, x: float, y: float, positive: bool = True,
                  backward: Optional[bool] = None) -> Change:
        """Add a positive (or negative) point to an object on ``frame``, tracked alone from there to the
        end (and ``backward`` to the start; default :attr:`SessionOptions.backward`). The change holds
        ``frame``'s masks (``change.masks``), computed at once."""
        obj = self._object(object_id)
        check_frame(frame, self.num_frames)
        check_inside(x, y, self.video.size)
        backward = self.options.backward if backward is None else bool(backward)
        tracks, start, end = new_point_tracks(self.ctx, frame, x, y, backward, self.options.tracking)
        point = self._new_point(obj.object_id, POSITIVE if positive else NEGATIVE, frame, (x, y), tracks.points[:, 0],
                                tracks.visibility[:, 0], start, end)
        state = self._replace(obj, obj.points + (point,))
        change = self._commit({"action": "add_point", "object_id": obj.object_id, "frame": frame, "x": float(x),
                               "y": float(y), "positive": bool(positive), "point_id": point.point_id},
                              state, range(start, end), [point.point_id])
        return self._answer(change, frame)

    def remove_point(self, point_id: int, from_frame: Optional[int] = None) -> Change:
        """Remove a point entirely, or from ``from_frame`` onward (it keeps its earlier frames). Removing an
        object's last point removes the object (``object_removed`` in the history's action)."""
        obj, point = self._find_point(point_id)
        if from_frame is None or from_frame <= point.start:
            if from_frame is not None:
                check_frame(from_frame, self.num_frames)
            points = tuple(p for p in obj.points if p.point_id != point_id)
            frames = range(point.start, point.end)
        else:
            check_frame(from_frame, self.num_frames)
            if not point.active(from_frame):
                raise EditError(f"point {point_id} is not there on frame {from_frame}: it lives on frames "
                                f"{point.start}..{point.end - 1}")
            points = tuple(p.with_end(from_frame) if p.point_id == point_id else p for p in obj.points)
            frames = range(from_frame, point.end)
        action = {"action": "remove_point", "point_id": point_id, "object_id": obj.object_id, "from_frame": from_frame}
        if not points:  # its last point: an object with no point has no mask anywhere, so it goes
            return self._commit(dict(action, object_removed=True), tuple(o for o in self.state if o is not obj),
                                range(self.num_frames), [])
        return self._commit(action, self._replace(obj, points), frames, [])

    def remove_object(self, object_id: int) -> Change:
        """Remove an object with all its points (undo brings it back)."""
        obj = self._object(object_id)
        return self._commit({"action": "remove_object", "object_id": obj.object_id},
                            tuple(o for o in self.state if o is not obj), range(self.num_frames), [])

    def move_point(self, point_id: int, frame: int, x: float, y: float) -> Change:
        """Correct a point on ``frame`` (a drifted track): it is at ``(x, y)`` there and re-tracked from
        there on; its earlier frames are kept. The change holds ``frame``'s masks, computed at once."""
        obj, point = self._find_point(point_id)
        check_frame(frame, self.num_frames)
        check_inside(x, y, self.video.size)
        if not point.active(frame):
            raise EditError(f"point {point_id} is not there on frame {frame}: it lives on frames "
                            f"{point.start}..{point.end - 1}")
        moved = moved_point(self.ctx, point, frame, x, y, self.options.tracking)
        points = tuple(moved if p.point_id == point_id else p for p in obj.points)
        change = self._commit({"action": "move_point", "point_id": point_id, "object_id": obj.object_id,
                               "frame": frame, "x": float(x), "y": float(y)},
                              self._replace(obj, points), range(frame, point.end), [])
        return self._answer(change, frame)

    def undo(self) -> Change:
        """Go back one edit; the masks it changed come back exactly as they were."""
        if not self.can_undo:
            raise EditError("nothing to undo")
        entry = self._history[self._position]
        self._position -= 1
        return self._diff(entry.state, self.state, entry.frames, "undo " + entry.action["action"])

    def redo(self) -> Change:
        """Do again the last edit undone."""
        if not self.can_redo:
            raise EditError("nothing to redo")
        previous = self.state
        self._position += 1
        entry = self._history[self._position]
        return self._diff(previous, self.state, entry.frames, "redo " + entry.action["action"])

    # -- outputs ------------------------------------------------------------------------------------
    def result(self) -> Any:
        """Every frame brought up to date, as a :class:`~sampt.pipeline.SamPtResult` (what ``SamPt.run``
        returns), so the run's writers apply."""
        from sampt.interactive.convert import session_result

        self.propagate()
        return session_result(self, *self._masks.outputs(self.object_ids))

    def export(self, out_dir: str, overlay: bool = True) -> Path:
        """Write the result folder ``sampt run`` writes (``masks/<video>/<frame>.png``, ``tracks.npz``,
        ``overlay.mp4``, ``result.json``), plus the session's edit history in ``result.json``."""
        from sampt.interactive.convert import export_session

        return export_session(self, str(as_path(out_dir, "out_dir", EditError)), overlay)

    def stats(self) -> dict:
        """Counters of the work done: frames encoded, masks segmented and reused, embedding spills."""
        from sampt.interactive.convert import session_stats

        return session_stats(self)

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
        current masks. Embeddings stay in the cache folder (the file names none): load with its ``cache_dir``."""
        from sampt.interactive.persist import write_session

        self.ctx.embeddings.flush()
        return write_session(self, as_path(path, "path", EditError))

    @classmethod
    def load(cls, path: str, video: Video, tracker: Optional[Tracker] = None, segmenter: Optional[Segmenter] = None,
             positive_sampler: Optional[PointSampler] = None, negative_sampler: Optional[PointSampler] = None,
             registry: Any = None, **session_options: Any) -> "Session":
        """A session saved by :meth:`save`, over the same ``video``. Components not given are built from the
        config the session was made with; ``session_options`` override saved ones and alone choose the cache
        folder (default: a new private one). The file is checked whole first (``check_session_file``)."""
        from sampt.interactive.persist import read_session

        return read_session(cls, as_path(path, "path", EditError), video, tracker, segmenter, positive_sampler, negative_sampler, registry,
                            session_options)

    # -- internals ----------------------------------------------------------------------------------
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

    def _commit(self, action: dict, state: State, frames: range, new_points: Sequence[int]) -> Change:
        """Make ``state`` current (dropping undone edits) and say what it changed."""
        previous = self.state
        del self._history[self._position + 1:]
        self._history.append(HistoryEntry(action, state, frames))
        self._position += 1
        change = self._diff(previous, state, frames, action["action"])
        return dataclasses.replace(change, points=tuple(new_points))

    def _diff(self, before: State, after: State, frames: range, action: str) -> Change:
        """Which objects' prompts differ between two states on ``frames``; those frames become dirty."""
        changed, span = self._masks.mark_changes(before, after, frames)
        return Change(action, tuple(sorted(changed)), span)

    def _update(self, t: int) -> None:
        self._masks.update(self.state, t)

    def _frame_masks(self, t: int) -> FrameMasks:
        return self._masks.frame_masks(t, self.object_ids)

    def _answer(self, change: Change, frame: int) -> Change:
        """``change`` with frame ``frame``'s masks, brought up to date (an edit answers at once)."""
        self._update(frame)
        return dataclasses.replace(change, masks=self._frame_masks(frame))

    segmented_pairs = property(lambda self: self._masks.segmented_pairs,
                               doc="(frame, object) masks computed by the segmenter in this session.")
    pending_frames = property(lambda self: frozenset(self._masks.dirty), doc="Frames not brought up to date yet.")
    reused_pairs = property(lambda self: self._masks.reused_pairs,
                            doc="Masks taken from the memo of earlier prompts (undo, redo, back-and-forth edits).")
