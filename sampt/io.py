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
from sampt.types import Video

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow the umask like any file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
            yield name, _resize_longest(frame, self.max_side)
        if count == 0:
            raise UsageError(f"video {self.path} has no decodable frames")

    def __len__(self) -> int:
        """How many frames iteration yields (for a video file, from its header: an estimate)."""
        if self._files is not None:
            total = len(self._files)
        else:
            cap = cv2.VideoCapture(str(self.path))
            total = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
            cap.release()
        n = -(-total // self.stride)
        return min(n, self.max_frames) if self.max_frames is not None else n

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

    def read(self, progress: bool = False) -> Video:
        """Decode every selected frame into a :class:`Video` (with a progress bar if ``progress``)."""
        from sampt.progress import progress_bar

        names, frames = [], []
        for name, frame in progress_bar(self.named_frames(), total=len(self), desc="reading frames",
                                        unit="frame", enabled=progress):
            names.append(name)
            frames.append(frame)
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise UsageError(f"frames of {self.path} differ in size ({sorted(shapes)[:2]}); all frames must match")
        name = self.path.name if self.path.is_dir() else self.path.stem
        return Video(np.stack(frames), fps=self.fps, name=name, frame_names=names)


def read_video(path: str | os.PathLike, stride: int = 1, max_frames: Optional[int] = None,
               max_side: Optional[int] = None, progress: bool = False) -> Video:
    """Read a video file or a folder of frames into memory (see :class:`VideoReader`)."""
    return VideoReader(path, stride, max_frames, max_side).read(progress=progress)


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
    """Write RGB frames as a video, atomically: H.264 MP4, GIF or MJPG AVI (see :mod:`sampt.media`)."""
    from sampt.media import write_video as _write

    _write(path, frames, fps)
