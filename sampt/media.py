"""Writing videos people can play: H.264 MP4, GIF and MJPG AVI, atomically.

MP4 is H.264 (``libx264``, ``yuv420p``, ``+faststart``) through PyAV, whose wheels ship FFmpeg, so it plays
in browsers and Jupyter. Where PyAV or its H.264 encoder is missing, MP4 falls back to OpenCV's ``mp4v``
(plays in desktop players only), with a warning. GIF (Pillow) is for READMEs and issue reports.
"""
from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from sampt.outputs import atomic_file
from sampt.progress import progress_bar

log = logging.getLogger(__name__)

VIDEO_FORMATS = {".mp4": "H.264 MP4", ".gif": "GIF", ".avi": "MJPG AVI"}
MIN_VIDEO_SIDE = 16
PRESET = "veryfast"
"""x264 preset: overlays are previews, so speed over the last percent of size (benchmarks/bench_overlay.py)."""


def encodable(frame: np.ndarray) -> np.ndarray:
    """Video encoders refuse tiny or odd-sized frames: enlarge tiny ones (nearest neighbour, so pixels stay
    visible) and pad odd sides by one edge pixel (H.264's 4:2:0 needs even sizes)."""
    import cv2

    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    if min(h, w) < MIN_VIDEO_SIDE:
        k = -(-MIN_VIDEO_SIDE // min(h, w))
        frame = cv2.resize(frame, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
        h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = cv2.copyMakeBorder(frame, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return frame


def h264_available() -> bool:
    """Whether PyAV with an H.264 encoder is installed."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available or "h264" in av.codecs_available


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, progress: bool = False,
                total: Optional[int] = None) -> Path:
    """Write ``(H, W, 3)`` uint8 RGB ``frames`` to ``path`` in the format its suffix names (``.mp4``,
    ``.gif``, ``.avi``), atomically; ``progress`` shows an "encoding" bar. Returns ``path``."""
    with VideoFile(path, fps) as video:
        for frame in progress_bar(frames, total=total, desc=f"writing {video.path.name}", unit="frame",
                                  enabled=progress):
            video.write(frame)
    return video.path


class VideoFile:
    """A video written one frame at a time (as a stream produces them), atomically: frames go to a
    temporary file beside ``path`` that :meth:`close` renames into place; :meth:`abort` (or leaving the
    ``with`` block by an exception) deletes it. The format follows the suffix, as in :func:`write_video`."""

    def __init__(self, path: str | os.PathLike, fps: float):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_FORMATS:
            raise ValueError(f"cannot write {self.path}: video formats are {', '.join(VIDEO_FORMATS)}")
        self.frames = 0
        self._atomic = atomic_file(self.path)
        tmp = self._atomic.__enter__()
        if suffix == ".gif":
            self._sink: Any = _GifSink(tmp, fps)
        elif suffix == ".mp4" and h264_available():
            self._sink = _H264Sink(tmp, fps)
        else:
            if suffix == ".mp4":
                log.warning("PyAV with H.264 is not installed; %s is written as mp4v, which browsers do not play "
                            "(pip install av)", self.path.name)
            self._sink = _OpenCVSink(tmp, fps, "MJPG" if suffix == ".avi" else "mp4v")

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame."""
        self._sink.write(frame)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and put it in place (an error when no frame was written)."""
        if self._atomic is None:
            return self.path
        try:
            if not self.frames:
                raise ValueError(f"no frames to write to {self.path}")
            self._sink.close()
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)
        return self.path

    def abort(self) -> None:
        """Throw the unfinished file away."""
        if self._atomic is None:
            return
        try:
            self._sink.close(abort=True)
        except Exception:  # already failing: the partial file is deleted anyway
            pass
        self._end(RuntimeError("aborted"))

    def _end(self, exc: Optional[BaseException]) -> None:
        atomic, self._atomic = self._atomic, None
        if exc is None:
            atomic.__exit__(None, None, None)
        else:
            atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> "VideoFile":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _rate(fps: float) -> Fraction:
    return Fraction(float(fps) if fps and fps > 0 else 24.0).limit_denominator(1001)


class _H264Sink:
    def __init__(self, path: Path, fps: float):
        import av

        self.av, self.path, self.fps = av, path, fps
        self.codec = "libx264" if "libx264" in av.codecs_available else "h264"
        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.stream = None

    def write(self, frame: np.ndarray) -> None:
        frame = encodable(frame)
        if self.stream is None:
            h, w = frame.shape[:2]
            self.stream = self.container.add_stream(self.codec, rate=_rate(self.fps))
            self.stream.width, self.stream.height = w, h
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": "20", "preset": PRESET}
        for packet in self.stream.encode(self.av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)

    def close(self, abort: bool = False) -> None:
        try:
            if self.stream is not None and not abort:
                for packet in self.stream.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()


class _OpenCVSink:
    def __init__(self, path: Path, fps: float, fourcc: str):
        self.path, self.fps, self.fourcc, self.writer = path, fps, fourcc, None

    def write(self, frame: np.ndarray) -> None:
        import cv2

        frame = encodable(frame)
        if self.writer is None:
            h, w = frame.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), float(self.fps), (w, h))
            if not self.writer.isOpened():
                raise OSError(f"OpenCV cannot write video {self.path}")
        self.writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))

    def close(self, abort: bool = False) -> None:
        if self.writer is not None:
            self.writer.release()


class _GifSink:
    """GIF frames are kept (paletted, one byte a pixel) until :meth:`close`: Pillow writes a GIF whole."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.images = path, fps, []

    def write(self, frame: np.ndarray) -> None:
        from PIL import Image

        # fast octree quantisation: ~20x faster than the median cut of convert("P", ADAPTIVE), same look here
        self.images.append(Image.fromarray(np.ascontiguousarray(frame)).quantize(colors=255,
                                                                                method=Image.Quantize.FASTOCTREE))

    def close(self, abort: bool = False) -> None:
        images, self.images = self.images, []
        if abort or not images:
            return
        duration = max(20, round(1000 / (self.fps if self.fps and self.fps > 0 else 24.0)))
        images[0].save(self.path, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0,
                       optimize=False, disposal=1)


def video_codec(path: str | os.PathLike) -> Optional[str]:
    """The codec name of the first video stream of ``path`` (``"h264"``, ``"mpeg4"``...), or None when
    PyAV is not installed."""
    try:
        import av
    except ImportError:
        return None
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name
