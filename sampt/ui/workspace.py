"""One browser session's server-side state: its folder (uploads and outputs, nothing else is read or
served), the video and the :class:`~sampt.interactive.Session` over it. The Gradio page holds one
:class:`Workspace` per browser session and removes it (folder included) when the session expires."""
from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import InputError, UsageError
from sampt.io import VIDEO_SUFFIXES, read_video
from sampt.overlay import draw_frame

log = logging.getLogger("sampt.ui")

MB = 1 << 20
SESSION_SUFFIX = ".npz"


class Workspace:
    """Per-browser-session state; every file it reads or writes lives under ``self.folder``."""

    def __init__(self, root: Path, overrides: Sequence[str] = (), max_upload_mb: float = 200.0,
                 max_frames: Optional[int] = None, max_side: Optional[int] = None, registry: Any = None):
        self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=root))
        self.uploads = self.folder / "uploads"
        self.outputs = self.folder / "outputs"
        self.uploads.mkdir()
        self.outputs.mkdir()
        self.overrides = list(overrides)
        self.max_upload = int(max_upload_mb * MB)
        self.max_frames, self.max_side = max_frames, max_side
        self.registry = registry
        self.video = None
        self.session = None
        self.move_from: Optional[int] = None  # point picked by the first click of a move

    # -- files ----------------------------------------------------------------------------------------
    def take_upload(self, src: str, allowed: Sequence[str]) -> Path:
        """Copy an uploaded file into this session's upload folder under a name of ours, after checking
        its size and suffix; the original name is never used as a path."""
        path = Path(src)
        suffix = path.suffix.lower()
        if suffix not in allowed:
            raise InputError(f"{path.name!r} is not one of {', '.join(sorted(allowed))}; upload a file of that kind")
        size = path.stat().st_size
        if size > self.max_upload:
            raise InputError(f"{path.name!r} is {size / MB:.1f} MB, over the {self.max_upload / MB:.0f} MB upload limit")
        dest = self.uploads / f"{uuid.uuid4().hex}{suffix}"
        shutil.copyfile(path, dest)
        return dest

    def output_path(self, name: str) -> Path:
        """A fresh path under the outputs folder (``name`` is ours, never the user's)."""
        return self.outputs / f"{uuid.uuid4().hex[:8]}-{name}"

    def remove(self) -> None:
        """Close the session and delete the folder (uploads and outputs)."""
        self.close_session()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- session --------------------------------------------------------------------------------------
    def close_session(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None

    def open_video(self, path: Path, overrides: Optional[Sequence[str]] = None) -> None:
        """Decode ``path`` and start a fresh session over it with ``overrides`` (tracker=..., ...)."""
        video = read_video(path, max_frames=self.max_frames, max_side=self.max_side)
        if len(video) == 0:
            raise InputError(f"{path.name} holds no frame")
        self.video = video
        self.new_session(overrides)

    def new_session(self, overrides: Optional[Sequence[str]] = None) -> None:
        from sampt.config import compose
        from sampt.interactive import Session

        if self.video is None:
            raise UsageError("open a video first")
        if overrides is not None:
            self.overrides = list(overrides)
        cfg = compose(self.overrides, registry=self.registry)
        self.close_session()
        self.session = Session.from_config(cfg, self.video, registry=self.registry)
        self.move_from = None

    def load_session(self, path: Path) -> None:
        from sampt.interactive import Session

        if self.video is None:
            raise UsageError("open the session's video first, then load the session file")
        loaded = Session.load(str(path), self.video, registry=self.registry)
        self.close_session()
        self.session = loaded

    def require(self):
        if self.session is None:
            raise UsageError("open a video first")
        return self.session

    # -- drawing --------------------------------------------------------------------------------------
    def render(self, frame: int) -> Optional[np.ndarray]:
        """Frame ``frame`` with masks and the points living there (io.draw_overlay)."""
        if self.video is None:
            return None
        frame = int(np.clip(frame, 0, len(self.video) - 1))
        if self.session is None or not self.session.object_ids:
            return self.video[frame]
        views = self.session.points(frame=frame)
        objects = []
        for oid in self.session.object_ids:
            mine = [v for v in views if v.object_id == oid]
            objects.append((oid, np.array([[v.x, v.y] for v in mine], np.float32).reshape(-1, 2),
                            np.array([v.label for v in mine], int), np.array([v.visible for v in mine], bool)))
        return draw_frame(self.video[frame], self.session.label_map(frame), objects)

    def nearest_point(self, frame: int, x: float, y: float, within: float) -> Optional[int]:
        views = self.require().points(frame=frame)
        if not views:
            return None
        d = [np.hypot(v.x - x, v.y - y) for v in views]
        k = int(np.argmin(d))
        return views[k].point_id if d[k] <= within else None


VIDEO_UPLOADS = tuple(sorted(VIDEO_SUFFIXES))
