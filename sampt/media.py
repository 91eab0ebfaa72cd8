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
from typing import Iterable, Optional

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
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise ValueError(f"cannot write {path}: video formats are {', '.join(VIDEO_FORMATS)}")
    frames = progress_bar(frames, total=total, desc=f"writing {path.name}", unit="frame", enabled=progress)
    with atomic_file(path) as tmp:
        if suffix == ".gif":
            _write_gif(tmp, frames, fps)
        elif suffix == ".mp4" and h264_available():
            _write_h264(tmp, frames, fps)
        else:
            if suffix == ".mp4":
                log.warning("PyAV with H.264 is not installed; %s is written as mp4v, which browsers do not play "
                            "(pip install av)", path.name)
            _write_opencv(tmp, frames, fps, "MJPG" if suffix == ".avi" else "mp4v")
    return path


def _rate(fps: float) -> Fraction:
    return Fraction(float(fps) if fps and fps > 0 else 24.0).limit_denominator(1001)


def _write_h264(path: Path, frames: Iterable[np.ndarray], fps: float) -> None:
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "h264"
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = None
        for frame in frames:
            frame = encodable(frame)
            if stream is None:
                h, w = frame.shape[:2]
                stream = container.add_stream(codec, rate=_rate(fps))
                stream.width, stream.height = w, h
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "20", "preset": PRESET}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"no frames to write to {path}")
        for packet in stream.encode():
            container.mux(packet)


def _write_opencv(path: Path, frames: Iterable[np.ndarray], fps: float, fourcc: str) -> None:
    import cv2

    writer = None
    try:
        for frame in frames:
            frame = encodable(frame)
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write video {path}")
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        if writer is None:
            raise ValueError(f"no frames to write to {path}")
    finally:
        if writer is not None:
            writer.release()


def _write_gif(path: Path, frames: Iterable[np.ndarray], fps: float) -> None:
    from PIL import Image

    # fast octree quantisation: ~20x faster than the median cut of convert("P", ADAPTIVE), same look here
    images = [Image.fromarray(np.ascontiguousarray(f)).quantize(colors=255, method=Image.Quantize.FASTOCTREE)
              for f in frames]
    if not images:
        raise ValueError(f"no frames to write to {path}")
    duration = max(20, round(1000 / (fps if fps and fps > 0 else 24.0)))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0,
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
