"""One browser session's server-side state: its folder (uploads and outputs, nothing else is read or
served), the video and the :class:`~sampt.interactive.Session` over it. The Gradio page holds one
:class:`Workspace` per browser session and removes it (folder included) when the session expires."""
from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import threading
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import cv2
import numpy as np

from sampt.errors import InputError, UsageError
from sampt.io import VIDEO_SUFFIXES, read_video
from sampt.overlay import draw_frame
from sampt.ui.admission import reserve_for

log = logging.getLogger("sampt.ui")

MB = 1 << 20
SESSION_SUFFIX = ".npz"
DISPLAY_SIDE = 640  # a small video is shown enlarged (by a whole factor) to about this many pixels
MODES = ("positive", "negative", "remove", "move")
PICK_RADIUS = 8.0  # screen pixels: how near a click must be to a point to remove or move it


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` (links resolved) lies in one of the folders ``roots``."""
    real = Path(path).resolve()
    return any(real.is_relative_to(Path(r).resolve()) for r in roots)


def _serial(method):
    """Run ``method`` holding the workspace's lock: with ``sampt ui --concurrency`` above 1 the page's events
    run in several threads, and one browser session's events must not change its session at once."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return locked


class Workspace:
    """Per-browser-session state; every file it reads or writes lives under ``self.folder``. Its methods
    that read or change the session hold :attr:`lock` (one event of a browser session at a time)."""

    def __init__(self, root: Path, overrides: Sequence[str] = (), max_upload_mb: float = 200.0,
                 max_frames: Optional[int] = None, max_side: Optional[int] = None, registry: Any = None,
                 upload_roots: Sequence[Path] = ()):
        self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=root))
        self.uploads = self.folder / "uploads"
        self.outputs = self.folder / "outputs"
        self.uploads.mkdir()
        self.outputs.mkdir()
        self.overrides = list(overrides)
        self.max_upload = int(max_upload_mb * MB)
        self.max_frames, self.max_side = max_frames, max_side
        self.registry = registry
        # where uploads may come from (the web server's upload folder); empty: anywhere (local use)
        self.upload_roots = [Path(r) for r in upload_roots]
        self.video = None
        self.session = None
        self.move_from: Optional[int] = None  # point picked by the first click of a move
        self.shown_frame = 0  # the frame the page's slider is on (a propagation redraws this one)
        self.visited: set[int] = set()  # frames shown to the user (the next frame to check is another)
        self.propagation_finished = False  # the last propagation ran to its end (a late cancel changes nothing)
        self.lock = threading.RLock()
        self.admission: Any = None  # the server's session limit and memory budget (sampt.ui.admission)

    # -- files ----------------------------------------------------------------------------------------
    def take_upload(self, src: str, allowed: Sequence[str]) -> Path:
        """Copy an uploaded file into this session's upload folder under a name of ours, after checking
        its size and suffix; the original name is never used as a path."""
        path = Path(src)
        if self.upload_roots and not inside(path, self.upload_roots):
            raise InputError(f"{path.name!r} is not an upload of this page; upload the file through the page")
        suffix = path.suffix.lower()
        if suffix not in allowed:
            raise InputError(f"{path.name!r} is not one of {', '.join(sorted(allowed))}; upload a file of that kind")
        size = path.stat().st_size
        if size > self.max_upload:
            raise InputError(f"{path.name!r} is {size / MB:.1f} MB, over the {self.max_upload / MB:.0f} MB upload limit")
        dest = self.uploads / f"{uuid.uuid4().hex}{suffix}"
        try:
            shutil.copyfile(path, dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest

    @contextlib.contextmanager
    def upload(self, src: str, allowed: Sequence[str], keep: bool = True) -> Iterator[Path]:
        """:meth:`take_upload`'s copy for the block to use; deleted if the block refuses it (raises), and
        after the block unless ``keep``: no copy of a refused upload stays on disk."""
        path = self.take_upload(src, allowed)
        try:
            yield path
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if not keep:
            path.unlink(missing_ok=True)

    def output_path(self, name: str) -> Path:
        """A fresh path ``outputs/<random>/<name>`` (``name`` is ours, never the user's): each export in a
        folder of its own, so the files keep their plain names when downloaded."""
        folder = self.outputs / uuid.uuid4().hex[:12]
        folder.mkdir()
        return folder / name

    @_serial
    def remove(self) -> None:
        """Close the session and delete the folder (uploads and outputs)."""
        self.close_session()
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.admission is not None:
            self.admission.release(self)

    # -- session --------------------------------------------------------------------------------------
    def close_session(self) -> None:
        """Close the open session (its caches go with it)."""
        if self.session is not None:
            self.session.close()
        self.session = None

    @_serial
    def open_video(self, path: Path, overrides: Optional[Sequence[str]] = None) -> None:
        """Decode ``path`` and start a fresh session over it with ``overrides`` (tracker=..., ...); on any
        error the video and session open before stay as they were."""
        video = read_video(path, max_frames=self.max_frames, max_side=self.max_side)
        if len(video) == 0:
            raise InputError(f"{path.name} holds no frame")
        reserve_for(self, video, f"{len(video)} frames of {video.width}x{video.height}")  # the memory budget
        self._start(video, overrides)

    @_serial
    def new_session(self, overrides: Optional[Sequence[str]] = None) -> None:
        """A fresh session over the open video, from the config composed with ``overrides`` (kept for the
        next one); on a bad override the current session stays."""
        if self.video is None:
            raise UsageError("open a video first")
        self._start(self.video, overrides)

    def _start(self, video: Any, overrides: Optional[Sequence[str]]) -> None:
        from sampt.config import compose
        from sampt.interactive import Session

        overrides = self.overrides if overrides is None else list(overrides)
        session = Session.from_config(compose(overrides, registry=self.registry), video, registry=self.registry)
        self.close_session()
        self.video, self.session, self.overrides, self.move_from = video, session, overrides, None

    @_serial
    def load_session(self, path: Path) -> None:
        """Continue the session saved in ``path`` (over the video open now)."""
        from sampt.interactive import Session

        if self.video is None:
            raise UsageError("open the session's video first, then load the session file")
        loaded = Session.load(str(path), self.video, registry=self.registry)
        self.close_session()
        self.session = loaded

    def require(self):
        """The open session, or a message saying to open a video."""
        if self.session is None:
            raise UsageError("open a video first")
        return self.session

    # -- drawing --------------------------------------------------------------------------------------
    @property
    def scale(self) -> int:
        """Whole factor the frames are enlarged by on the page (1 for videos of ``DISPLAY_SIDE`` or more)."""
        if self.video is None:
            return 1
        return max(1, DISPLAY_SIDE // max(self.video.height, self.video.width))

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """Frame pixel coordinates of pixel ``(x, y)`` of the shown (enlarged) image."""
        k = self.scale
        return (x + 0.5) / k - 0.5, (y + 0.5) / k - 0.5

    @_serial
    def render(self, frame: int) -> Optional[np.ndarray]:
        """Frame ``frame`` with masks and the points living there (:func:`sampt.overlay.draw_frame`),
        enlarged by :attr:`scale` so that marks and clicks on a small video stay usable."""
        if self.video is None:
            return None
        frame = int(np.clip(frame, 0, len(self.video) - 1))
        self.visited.add(frame)
        k = self.scale
        image = self.video[frame]
        if k > 1:
            image = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
        if self.session is None or not self.session.object_ids:
            return image
        labels = self.session.label_map(frame)
        if k > 1:
            labels = cv2.resize(labels, None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST)
        views = self.session.points(frame=frame)
        objects = []
        for oid in self.session.object_ids:
            mine = [v for v in views if v.object_id == oid]
            xy = (np.array([[v.x, v.y] for v in mine], np.float32).reshape(-1, 2) + 0.5) * k - 0.5
            objects.append((oid, xy, np.array([v.label for v in mine], int), np.array([v.visible for v in mine], bool)))
        return draw_frame(image, labels, objects)

    @_serial
    def timeline(self, width: int = 640) -> Optional[np.ndarray]:
        """The timeline strip (:func:`sampt.ui.timeline.timeline_image`) of the masks as they stand."""
        from sampt.ui.timeline import timeline_image

        if self.session is None or not self.session.object_ids:
            return None
        pending = self.session.pending_frames
        computed = [t for t in range(self.session.num_frames) if t not in pending]
        return timeline_image(self.session.quality(), computed, self.shown_frame, width)

    @_serial
    def next_to_check(self) -> Optional[int]:
        """The most doubtful frame not shown yet (:func:`sampt.ui.timeline.next_to_check`), None if none."""
        from sampt.ui.timeline import next_to_check

        session = self.require()
        if not session.object_ids:
            return None
        pending = session.pending_frames
        computed = [t for t in range(session.num_frames) if t not in pending]
        return next_to_check(session.quality(), self.visited, computed)

    def nearest_point(self, frame: int, x: float, y: float, within: float) -> Optional[int]:
        """The point on ``frame`` nearest to frame pixel ``(x, y)``, if within ``within`` pixels."""
        views = self.require().points(frame=frame)
        if not views:
            return None
        d = [np.hypot(v.x - x, v.y - y) for v in views]
        k = int(np.argmin(d))
        return views[k].point_id if d[k] <= within else None

    # -- edits ----------------------------------------------------------------------------------------
    @_serial
    def click(self, mode: str, object_id: int, frame: int, x: float, y: float) -> str:
        """Apply one click at frame pixel ``(x, y)`` of ``frame``: add a positive/negative point (the first
        positive one starts the object), remove the point clicked on (from this frame on when it was placed
        on an earlier frame), or move one (first click picks the
        point, the second places it). Returns the message for the page."""
        session = self.require()
        if mode not in MODES:
            raise UsageError(f"unknown click mode {mode!r}; one of {', '.join(MODES)}")
        object_id, frame = int(object_id), int(frame)
        if mode in ("positive", "negative"):
            self.move_from = None
            positive = mode == "positive"
            if object_id not in session.object_ids:
                if not positive:
                    raise InputError(f"object {object_id} does not exist yet; start it with a positive click")
                session.add_object(object_id, frame, points=[[x, y]], labels=[1])
                return f"Added object {object_id} with a positive point at ({x:.4g}, {y:.4g}) on frame {frame}."
            session.add_point(object_id, frame, x, y, positive=positive)
            return f"Added a {mode} point at ({x:.4g}, {y:.4g}) on frame {frame} to object {object_id}."
        if mode == "move" and self.move_from is not None:
            point, self.move_from = self.move_from, None
            session.move_point(point, frame, x, y)
            return f"Moved point {point} to ({x:.4g}, {y:.4g}) on frame {frame}."
        within = PICK_RADIUS / self.scale
        point = self.nearest_point(frame, x, y, within)
        if point is None:
            raise InputError(f"no point within {within:.3g} px of ({x:.4g}, {y:.4g}) on frame {frame}; click on a point")
        if mode == "remove":  # clicked on a later frame than it was placed on: gone from there on
            self.move_from = None
            placed = next(p.frame for o in session.state for p in o.points if p.point_id == point)
            if frame > placed:
                session.remove_point(point, from_frame=frame)
                return f"Removed point {point} from frame {frame} on (it stays on frames before)."
            session.remove_point(point)
            return f"Removed point {point}."
        self.move_from = point
        return f"Point {point} picked: click where it should go."

    @_serial
    def undo(self) -> str:
        """Undo the last edit (Session.undo); the message for the page."""
        session = self.require()
        if not session.can_undo:
            raise UsageError("nothing to undo")
        self.move_from = None
        session.undo()
        return "Undone."

    @_serial
    def redo(self) -> str:
        """Redo the last edit undone (Session.redo); the message for the page."""
        session = self.require()
        if not session.can_redo:
            raise UsageError("nothing to redo")
        self.move_from = None
        session.redo()
        return "Redone."

    def propagate(self) -> Iterator[int]:
        """Bring every frame's masks up to date, yielding after each frame (so the page can show progress
        and stop between frames when cancelled)."""
        session = self.require()
        if not session.object_ids:
            raise UsageError("add an object first (click on it)")
        self.propagation_finished = False
        frames = session.masks()
        for t in range(session.num_frames):
            with self.lock:  # a frame at a time: the page's other events may come between two frames
                next(frames)
            yield t
        self.propagation_finished = True

VIDEO_UPLOADS = tuple(sorted(VIDEO_SUFFIXES))
