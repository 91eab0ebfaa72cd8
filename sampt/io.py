"""Video and mask input/output.

Reads MP4/WebM/AVI (OpenCV/FFmpeg) and folders of JPEG/PNG frames (the DAVIS ``JPEGImages/480p/<seq>``
layout included) as RGB; writes DAVIS-style indexed palette PNGs and overlay videos. Every output is
written atomically: to a temporary file in the destination folder, then renamed into place.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Sequence

import cv2
import numpy as np
from PIL import Image

from sampt.errors import UsageError
from sampt.outputs import atomic_file
from sampt.types import Video

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


atomic_write = atomic_file
"""Write one file atomically (see :mod:`sampt.outputs`, where every output mechanism lives)."""


def davis_palette() -> np.ndarray:
    """The 256x3 uint8 palette of DAVIS/YouTube-VOS annotation PNGs (the PASCAL VOC colour map)."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


def _frame_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"folder {folder} holds no JPEG/PNG frames; give a video file or a folder of frames")
    return files


def _resize_longest(frame: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    if not max_side:
        return frame
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class VideoReader:
    """A lazy reader: frames are decoded on iteration, so long videos need not fit in memory.

    ``stride`` keeps every ``stride``-th frame, ``max_frames`` stops early, ``max_side`` shrinks frames so
    their longest side is at most that many pixels (never enlarges).
    """

    def __init__(self, path: str | os.PathLike, stride: int = 1, max_frames: Optional[int] = None,
                 max_side: Optional[int] = None):
        self.path = Path(path)
        if stride < 1:
            raise UsageError(f"frame stride must be >= 1, got {stride}")
        self.stride, self.max_frames, self.max_side = stride, max_frames, max_side
        if not self.path.exists():
            raise UsageError(f"video {self.path} does not exist; give a video file or a folder of frames")
        self.fps = 24.0
        if self.path.is_dir():
            self._files: Optional[list[Path]] = _frame_files(self.path)
        else:
            if self.path.suffix.lower() not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
                raise UsageError(
                    f"{self.path} is not a video (expected one of {', '.join(sorted(VIDEO_SUFFIXES))}) "
                    "or a folder of frames"
                )
            self._files = [self.path] if self.path.suffix.lower() in IMAGE_SUFFIXES else None
            if self._files is None:
                cap = cv2.VideoCapture(str(self.path))
                ok = cap.isOpened()
                fps = cap.get(cv2.CAP_PROP_FPS) if ok else 0
                cap.release()
                if not ok:
                    raise UsageError(f"video {self.path} cannot be decoded; is it a valid MP4/WebM/AVI file?")
                self.fps = float(fps) if fps and fps > 0 else 24.0
        self.fps /= stride

    def __iter__(self) -> Iterator[np.ndarray]:
        count = 0
        for i, frame in enumerate(self._raw_frames()):
            if i % self.stride:
                continue
            if self.max_frames is not None and count >= self.max_frames:
                return
            count += 1
            yield _resize_longest(frame, self.max_side)
        if count == 0:
            raise UsageError(f"video {self.path} has no decodable frames")

    def _raw_frames(self) -> Iterator[np.ndarray]:
        if self._files is not None:
            for f in self._files:
                bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise UsageError(f"frame {f} cannot be decoded as an image")
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def read(self) -> Video:
        """Decode every selected frame into a :class:`Video`."""
        frames = list(self)
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise UsageError(f"frames of {self.path} differ in size ({sorted(shapes)[:2]}); all frames must match")
        return Video(np.stack(frames), fps=self.fps, name=self.path.stem)


def read_video(path: str | os.PathLike, stride: int = 1, max_frames: Optional[int] = None,
               max_side: Optional[int] = None) -> Video:
    """Read a video file or a folder of frames into memory (see :class:`VideoReader`)."""
    return VideoReader(path, stride, max_frames, max_side).read()


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a mask PNG as ``(H, W)`` uint8 labels: palette indices for indexed PNGs (DAVIS), else
    any non-zero pixel is object 1."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"mask {path} does not exist")
    try:
        with Image.open(path) as im:
            if im.mode == "P":
                return np.array(im, dtype=np.uint8)
            arr = np.array(im.convert("L"))
    except OSError as exc:
        raise UsageError(f"mask {path} cannot be read as an image ({exc})") from exc
    return (arr > 0).astype(np.uint8)


def write_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write ``(H, W)`` uint8 labels as a DAVIS-style indexed PNG, atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"label map must be (H, W), got {labels.shape}")
    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette(davis_palette().reshape(-1).tolist())
    with atomic_write(path) as tmp:
        im.save(tmp, format="PNG")


def write_frames(folder: str | os.PathLike, video: Video, suffix: str = ".jpg") -> None:
    """Write a video as numbered frames ``00000.jpg``... (the DAVIS ``JPEGImages`` layout)."""
    folder = Path(folder)
    for t, frame in enumerate(video):
        with atomic_write(folder / f"{t:05d}{suffix}") as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {tmp}")


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray] | Iterator[np.ndarray], fps: float) -> None:
    """Write RGB frames as an MP4 (mp4v) or AVI (MJPG) video, atomically."""
    path = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    with atomic_write(path) as tmp:
        writer = None
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), fourcc, float(fps), (w, h))
                    if not writer.isOpened():
                        raise OSError(f"OpenCV cannot write video {path}")
                writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        finally:
            if writer is not None:
                writer.release()


def draw_overlay(frame: np.ndarray, label_map: np.ndarray, points: Optional[np.ndarray] = None,
                 labels: Optional[np.ndarray] = None, visible: Optional[np.ndarray] = None,
                 alpha: float = 0.5) -> np.ndarray:
    """Draw masks (palette colours), positive points as circles, negative points as crosses, and
    occluded points in red, on a copy of ``frame``."""
    out = frame.copy()
    palette = davis_palette()
    fg = label_map > 0
    if fg.any():
        out[fg] = ((1 - alpha) * out[fg] + alpha * palette[label_map[fg]]).astype(np.uint8)
    if points is None:
        return out
    labels = np.ones(len(points), int) if labels is None else labels
    visible = np.ones(len(points), bool) if visible is None else visible
    radius = max(2, round(max(frame.shape[:2]) / 160))
    for (x, y), lab, vis in zip(np.asarray(points), labels, visible):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        color = (0, 255, 0) if lab == 1 else (0, 128, 255)
        if not vis:
            color = (255, 0, 0)
        c = (int(round(x)), int(round(y)))
        if lab == 1:
            cv2.circle(out, c, radius, color, thickness=-1 if vis else 1, lineType=cv2.LINE_AA)
        else:
            cv2.drawMarker(out, c, color, markerType=cv2.MARKER_TILTED_CROSS, markerSize=3 * radius, thickness=2)
    return out
