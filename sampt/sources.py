"""Stream sources: the one place a stream's frames come from, for :meth:`SamPt.stream
<sampt.pipeline.SamPt.stream>` (:func:`open_source`) and ``sampt run --stream`` / ``--camera``
(:func:`open_stream_source`).

A camera is opened through a *camera opener*, ``open_camera(target) -> iterator of RGB frames``, passed in
as a parameter (default :func:`opencv_camera`), so a caller (or a test) can put another camera in its
place. A camera target is checked before OpenCV sees it (:func:`camera_target`): a device index in
``0..MAX_CAMERA_INDEX``, a URL or an existing device path; OpenCV crashes on some others (a negative
index kills the process).
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from sampt.errors import InputError, UsageError, shown

CAMERA_FPS = 30.0
"""The frame rate assumed for a camera or URL (used only for the overlay video written from it)."""
MAX_CAMERA_INDEX = 99
"""The largest camera device index accepted (OpenCV reads larger numbers as backend selectors)."""

CameraOpener = Callable[[Any], Iterator[np.ndarray]]


@dataclass
class StreamSource:
    """Named frames of a stream: ``frames`` yields ``(name or None, (H, W, 3) uint8)``; ``endless`` for a
    camera or URL (stopping it is its normal end)."""

    frames: Iterator[tuple[Optional[str], np.ndarray]]
    fps: float
    name: str
    endless: bool
    described: dict = field(default_factory=dict)


def camera_target(value: Any) -> int | str:
    """A camera to open: a device index (``0``, ``"1"``), a stream URL (``rtsp://...``) or a device path
    (``/dev/video0``); anything else is refused here, before OpenCV opens it."""
    if isinstance(value, (bool, np.bool_)):
        raise UsageError("a camera cannot be a bool; give a camera index (0, 1, ...) or a stream URL")
    if isinstance(value, (int, np.integer)):
        index = int(value)
    else:
        if not isinstance(value, (str, os.PathLike)):
            raise UsageError(f"a camera must be an index or a URL, not a {type(value).__name__}")
        text = os.fspath(value).strip()
        if not text:
            raise UsageError("--camera needs a camera index (0, 1, ...) or a stream URL (rtsp://..., http://...)")
        if "://" in text:
            return text
        if not re.fullmatch(r"[+-]?\d+", text):
            if Path(text).exists() and not Path(text).is_dir():  # /dev/video0, a named pipe
                return text
            raise UsageError(f"camera {shown(text)} is not a camera index (0..{MAX_CAMERA_INDEX}), a stream URL "
                             "(rtsp://..., http://...) or an existing device path")
        if len(text.lstrip("+-")) > 6:
            raise UsageError(f"camera index {shown(text)} is out of range; give 0..{MAX_CAMERA_INDEX}")
        index = int(text)
    if not 0 <= index <= MAX_CAMERA_INDEX:
        raise UsageError(f"camera index {index} is out of range; give 0..{MAX_CAMERA_INDEX} (0 is the first camera)")
    return index


def opencv_camera(target: int | str) -> Iterator[np.ndarray]:
    """RGB frames of a camera (index) or network stream (URL) through OpenCV, until it stops delivering;
    the device is opened on the first frame asked for and released when the iterator is closed."""
    import cv2

    try:
        cap = cv2.VideoCapture(target)
        opened = cap.isOpened()
    except cv2.error as exc:
        from sampt.errors import one_line

        raise InputError(f"camera {target!r} cannot be opened ({one_line(exc)[:120]}); check the index or "
                         "URL") from None
    if not opened:
        cap.release()
        raise InputError(f"camera {target!r} cannot be opened; check the index or URL (and that no other "
                         "program holds the camera)")
    try:
        while True:
            try:
                ok, bgr = cap.read()
            except cv2.error:
                ok = False
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def camera_frames(target: Any, open_camera: Optional[CameraOpener] = None) -> Iterator[np.ndarray]:
    """The frames of the camera ``target`` (checked by :func:`camera_target`) through ``open_camera``
    (default :func:`opencv_camera`)."""
    return (open_camera or opencv_camera)(camera_target(target))


def open_source(source: Any, open_camera: Optional[CameraOpener] = None) -> tuple[Iterator[np.ndarray], float, str]:
    """``(frames, fps, name)`` for :meth:`SamPt.stream`'s ``source``: a :class:`~sampt.types.Video`, a
    ``(T, H, W, 3)`` array, a path to a video file or frame folder (decoded lazily), a camera index
    (``int``) or URL (``rtsp://``, ``http://``, ...) opened with ``open_camera``, or any iterable of
    ``(H, W, 3)`` uint8 frames."""
    from sampt.io import VideoReader
    from sampt.types import Video

    if isinstance(source, Video):
        return iter(source), source.fps, source.name
    if isinstance(source, np.ndarray):
        if source.ndim != 4 or source.shape[-1] != 3:
            raise InputError(f"stream frames must be a (T, H, W, 3) array, got shape {source.shape}")
        return iter(source), 24.0, "frames"
    if isinstance(source, (bool, np.bool_)):
        raise InputError("a stream source cannot be a bool; give a camera index, a path or frames")
    if isinstance(source, (int, np.integer)):
        target = camera_target(source)
        return camera_frames(target, open_camera), CAMERA_FPS, f"camera{target}"
    if isinstance(source, str) and "://" in source:
        return camera_frames(source, open_camera), CAMERA_FPS, "stream"
    if isinstance(source, (str, os.PathLike)):
        reader = VideoReader(source)
        return iter(reader), reader.fps, reader.path.stem
    if isinstance(source, Iterable):
        return iter(source), float(getattr(source, "fps", None) or 24.0), str(getattr(source, "name", "stream"))
    raise InputError(f"cannot stream from a {type(source).__name__}; give a video path, a camera index or URL, "
                     "a sampt.Video or an iterator of (H, W, 3) uint8 frames")


def open_stream_source(video: Optional[str], camera: Optional[str], stride: int = 1,
                       max_frames: Optional[int] = None, max_side: Optional[int] = None,
                       open_camera: Optional[CameraOpener] = None) -> StreamSource:
    """``sampt run --stream`` / ``--camera``: the named frames of ``video`` (a file or frame folder,
    decoded lazily, named as ``sampt run`` names them) or of ``camera`` (through ``open_camera``), with
    ``stride`` / ``max_frames`` / ``max_side`` applied as for a video."""
    from sampt.io import VideoReader, resize_longest

    if camera is None:
        reader = VideoReader(video, stride, max_frames, max_side)
        name = reader.path.name if reader.path.is_dir() else reader.path.stem
        return StreamSource(reader.named_frames(), reader.fps, name, False, {"path": str(video)})
    target = camera_target(camera)
    raw = camera_frames(target, open_camera)

    def frames() -> Iterator[tuple[Optional[str], np.ndarray]]:
        try:
            selected = itertools.islice(raw, 0, None, stride)
            for frame in itertools.islice(selected, max_frames):
                yield None, resize_longest(np.asarray(frame), max_side)
        finally:
            close = getattr(raw, "close", None)
            if close is not None:
                close()

    name = f"camera{target}" if isinstance(target, int) else "stream"
    return StreamSource(frames(), CAMERA_FPS / stride, name, True, {"camera": str(target)})
