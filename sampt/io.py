"""Video and mask input/output.

Reads MP4/WebM/AVI (OpenCV/FFmpeg) and folders of JPEG/PNG frames (the DAVIS ``JPEGImages/480p/<seq>``
layout included) as RGB; writes DAVIS-style indexed palette PNGs and overlay videos. Every output is
written atomically: to a temporary file in the destination folder, then renamed into place.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import cv2
import numpy as np

from sampt.errors import InputError, UsageError
from sampt.labels import LOSSY_FORMATS, VOID_LABEL, davis_palette, read_label_png, write_label_png  # noqa: F401 (sampt.io's API)
from sampt.outputs import atomic_file
from sampt.types import Video

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def natural_key(name: str) -> list:
    """Sort key putting ``2.png`` before ``10.png`` (numbers compared as numbers, text case-insensitively)."""
    return [(0, int(tok), "") if tok.isdigit() else (1, 0, tok.lower()) for tok in re.split(r"(\d+)", name) if tok]


def _frame_files(folder: Path) -> list[Path]:
    try:
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
                       key=lambda p: natural_key(p.name))
    except PermissionError:
        raise InputError(f"folder {folder} cannot be read (no permission)") from None
    if not files:
        raise InputError(f"folder {folder} holds no JPEG/PNG frames; give a video file or a folder of frames")
    return files


def resize_longest(frame: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    """``frame`` scaled down so that its longest side is at most ``max_side`` (None or 0: unchanged)."""
    if not max_side:
        return frame
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _positive(name: str, value: Optional[int], allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")


MEMORY_BUDGET_ENV = "SAMPT_VIDEO_MEMORY_MB"
"""Decoded videos larger than this many MiB (default 256) are kept in a temporary file, not in memory."""


def _memory_budget() -> int:
    try:
        return int(float(os.environ.get(MEMORY_BUDGET_ENV, "256")) * 2**20)
    except ValueError:
        return 256 * 2**20


class CachedVideo(Video):
    """A :class:`Video` whose decoded frames live in an (already unlinked) temporary file and are read
    back one at a time, so a long video costs disk, not memory. ``video[t]`` and iteration read single
    frames; ``frames`` is a read-only memory map of all of them for code that slices the clip. The file
    disappears with the object (or the process, however it ends)."""

    def __init__(self, file: Any, shape: tuple[int, int, int, int], fps: float = 24.0, name: str = "video",
                 frame_names: Optional[Sequence[str]] = None):
        self._file, self._shape = file, tuple(int(v) for v in shape)
        self._frame_bytes = self._shape[1] * self._shape[2] * 3
        self._map: Optional[np.ndarray] = None
        self.fps, self.name = fps, name
        if self._shape[0] == 0:
            raise InputError("video has no frames")
        self.frame_names = [str(n) for n in frame_names] if frame_names is not None else \
            [f"{t:05d}" for t in range(self._shape[0])]
        if len(self.frame_names) != self._shape[0]:
            raise ValueError(f"video has {self._shape[0]} frames but {len(self.frame_names)} frame names")

    @property
    def frames(self) -> np.ndarray:  # type: ignore[override]
        if self._map is None:
            self._map = np.memmap(self._file, np.uint8, mode="r", shape=self._shape)
        return self._map

    def __len__(self) -> int:
        return self._shape[0]

    def __getitem__(self, t):
        if isinstance(t, (int, np.integer)):
            T = self._shape[0]
            if not -T <= t < T:
                raise IndexError(f"frame {t} is outside the video (0..{T - 1})")
            t = int(t) % T
            data = os.pread(self._file.fileno(), self._frame_bytes, t * self._frame_bytes)
            return np.frombuffer(data, np.uint8).reshape(self._shape[1:]).copy()
        return np.array(self.frames[t])

    def __iter__(self) -> Iterator[np.ndarray]:
        for t in range(len(self)):
            yield self[t]

    @property
    def height(self) -> int:
        return self._shape[1]

    @property
    def width(self) -> int:
        return self._shape[2]

    def __repr__(self) -> str:
        return f"CachedVideo(name={self.name!r}, frames={self._shape[0]}, size={self.width}x{self.height}, fps={self.fps:g})"

    __eq__ = object.__eq__
    __hash__ = object.__hash__


class _FrameSink:
    """Collects decoded frames in memory until they pass the memory budget, then in a temporary file."""

    def __init__(self, budget: int):
        self.budget, self.frames, self.file, self.count, self.shape = budget, [], None, 0, None

    def add(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame, np.uint8)
        if self.shape is None:
            self.shape = frame.shape
        if self.file is None and (self.count + 1) * frame.nbytes > self.budget:
            self.file = tempfile.TemporaryFile(prefix="sampt-frames-", dir=os.environ.get("SAMPT_CACHE_DIR"))
            for f in self.frames:
                self.file.write(f.tobytes())
            self.frames = []
        if self.file is not None:
            self.file.write(frame.tobytes())
        else:
            self.frames.append(frame)
        self.count += 1

    def video(self, fps: float, name: str, frame_names: Optional[Sequence[str]] = None) -> Video:
        if self.file is not None:
            self.file.flush()
            return CachedVideo(self.file, (self.count, *self.shape), fps=fps, name=name, frame_names=frame_names)
        return Video(np.stack(self.frames), fps=fps, name=name, frame_names=frame_names)


class VideoReader:
    """Reads a video file or a folder of frames (sorted in natural order: ``2.png`` before ``10.png``).

    ``stride`` keeps every ``stride``-th frame, ``max_frames`` stops early, ``max_side`` shrinks frames so
    their longest side is at most that many pixels (never enlarges). Frames are decoded on iteration;
    :meth:`read` keeps a long video in a temporary file rather than in memory (:class:`CachedVideo`).
    """

    def __init__(self, path: str | os.PathLike, stride: int = 1, max_frames: Optional[int] = None,
                 max_side: Optional[int] = None):
        if isinstance(path, np.ndarray):
            raise InputError("give a video path here; an array of frames is already a video: sampt.Video(frames)")
        self.path = Path(path)
        _positive("stride", stride, allow_none=False)
        _positive("max_frames", max_frames)
        _positive("max_side", max_side)
        self.stride, self.max_frames, self.max_side = stride, max_frames, max_side
        if not self.path.exists():
            raise InputError(f"video {self.path} does not exist; give a video file or a folder of frames")
        self.fps = 24.0
        self.announced: Optional[int] = None  # the frame count a video file's header announces
        if self.path.is_dir():
            self._files: Optional[list[Path]] = _frame_files(self.path)
        else:
            if self.path.suffix.lower() not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
                raise InputError(
                    f"{self.path} is not a video (expected one of {', '.join(sorted(VIDEO_SUFFIXES))}) "
                    "or a folder of frames"
                )
            self._files = [self.path] if self.path.suffix.lower() in IMAGE_SUFFIXES else None
            if self._files is None:
                cap = cv2.VideoCapture(str(self.path))
                ok = cap.isOpened()
                fps = cap.get(cv2.CAP_PROP_FPS) if ok else 0
                count = cap.get(cv2.CAP_PROP_FRAME_COUNT) if ok else 0
                cap.release()
                if not ok:
                    raise InputError(f"video {self.path} cannot be decoded; is it a valid MP4/WebM/AVI file?")
                self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 24.0
                self.announced = int(count) if count and np.isfinite(count) and count > 0 else None
        self.fps /= stride

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, frame in self.named_frames():
            yield frame

    def named_frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, frame)`` of every selected frame: a folder's file stem, or a video's frame index
        (``00000``, ``00002``... with ``stride=2``), so outputs can keep the input's frame names."""
        count = 0
        for i, frame in enumerate(self._raw_frames()):
            if i % self.stride:
                continue
            if self.max_frames is not None and count >= self.max_frames:
                return
            count += 1
            name = self._files[i].stem if self._files is not None else f"{i:05d}"
            yield name, resize_longest(frame, self.max_side)
        if count == 0:
            raise InputError(f"video {self.path} has no decodable frames")

    def __len__(self) -> int:
        """How many frames iteration yields (for a video file, from its header: an estimate)."""
        total = len(self._files) if self._files is not None else (self.announced or 0)
        n = -(-total // self.stride)
        return min(n, self.max_frames) if self.max_frames is not None else n

    def _raw_frames(self) -> Iterator[np.ndarray]:
        if self._files is not None:
            for f in self._files:
                bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise InputError(f"frame {f} cannot be decoded as an image")
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return
        cap = cv2.VideoCapture(str(self.path))
        decoded = 0
        try:
            while self.max_frames is None or decoded < self.max_frames * self.stride:
                ok, bgr = cap.read()
                if not ok:
                    if decoded and self.announced and decoded < self.announced - 1:  # none: the error below
                        log.warning("video %s: only %d of the %d frames its header announces could be decoded "
                                    "(a truncated or damaged file?); using those %d", self.path, decoded,
                                    self.announced, decoded)
                    break
                decoded += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def read(self, progress: bool = False) -> Video:
        """Decode every selected frame into a :class:`Video` (a :class:`CachedVideo` when it is larger than
        ``$SAMPT_VIDEO_MEMORY_MB``, 256 by default), named as its source names them; ``progress`` shows a
        "reading frames" bar."""
        from sampt.progress import progress_bar

        sink = _FrameSink(_memory_budget())
        names = []
        frames = progress_bar(self.named_frames(), total=len(self) or None, desc="reading frames", unit="frame",
                              enabled=progress)
        for t, (name, frame) in enumerate(frames):
            if sink.shape is not None and frame.shape != sink.shape:
                raise InputError(f"frame {t} of {self.path} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is "
                                 f"{sink.shape[1]}x{sink.shape[0]}; all frames of a video must have the same size")
            sink.add(frame)
            names.append(name)
        if hasattr(frames, "close"):
            frames.close()
        return sink.video(self.fps, self.path.name if self.path.is_dir() else self.path.stem, names)


def read_video(path: str | os.PathLike, stride: int = 1, max_frames: Optional[int] = None,
               max_side: Optional[int] = None, progress: bool = False) -> Video:
    """Read a video file or a folder of frames (see :class:`VideoReader`); long videos are kept on disk."""
    return VideoReader(path, stride, max_frames, max_side).read(progress=progress)


def as_video(video: Any) -> Video:
    """A :class:`Video` from what a caller obviously means: a Video, a path (file or folder of frames), or
    a ``(T, H, W, 3)`` uint8 array (a single ``(H, W, 3)`` image is a one-frame video)."""
    if isinstance(video, Video):
        return video
    if isinstance(video, (str, os.PathLike)):
        return read_video(video)
    if isinstance(video, np.ndarray) or isinstance(video, (list, tuple)):
        frames = np.asarray(video)
        if frames.ndim == 3 and frames.shape[-1] == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(f"video frames must be a (T, H, W, 3) array, got shape {frames.shape}")
        if frames.dtype != np.uint8:
            if frames.size and (np.issubdtype(frames.dtype, np.floating) and 0 <= np.nanmin(frames)
                                and np.nanmax(frames) <= 1):
                raise InputError("video frames must be uint8 RGB (0..255); convert with (frames * 255).astype(np.uint8)")
            raise InputError(f"video frames must be uint8 RGB, got {frames.dtype}")
        if len(frames) == 0:
            raise InputError("video has no frames")
        return Video(frames)
    raise InputError(f"cannot use a {type(video).__name__} as a video; give a sampt.Video, a path or a (T, H, W, 3) uint8 array")


def read_json_records(path: str | os.PathLike, what: str, required: Sequence[set[str]], layout: str) -> list[dict]:
    """A JSON file holding a list of objects (results, proposals), checked once for users' files: each entry
    must have at least one key of every set in ``required``. ``what`` names the file in messages, ``layout``
    describes the expected content (``"a list of {video_id, score, segmentations}"``)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{what} {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not JSON ({exc})") from exc
    if not isinstance(data, list):
        raise UsageError(f"{what} {path} must be {layout}")
    for k, entry in enumerate(data):
        if not isinstance(entry, dict) or any(not (keys & set(entry)) for keys in required):
            raise UsageError(f"{what} {path}: entry {k} does not fit; it must be {layout}")
    return data


def write_frames(folder: str | os.PathLike, video: Video, suffix: str = ".jpg") -> None:
    """Write a video as numbered frames ``00000.jpg``... (the DAVIS ``JPEGImages`` layout)."""
    folder = Path(folder)
    for t, frame in enumerate(video):
        with atomic_file(folder / f"{t:05d}{suffix}") as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {tmp}")


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray] | Iterator[np.ndarray], fps: float) -> None:
    """Write RGB frames as a video, atomically: H.264 MP4, GIF or MJPG AVI (see :mod:`sampt.media`)."""
    from sampt.media import write_video as _write

    _write(path, frames, fps)
