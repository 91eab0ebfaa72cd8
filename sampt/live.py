"""Streamed runs into a result folder: ``sampt run --stream`` (a video file or frame folder) and ``sampt run
--camera 0`` (a camera index or URL), through :meth:`SamPt.stream <sampt.pipeline.SamPt.stream>`; the
frames come from :mod:`sampt.sources`.

Each frame is written as soon as the stream emits it: its label PNG (``masks/<sequence>/``) and its overlay
frame, into the staging folder of a :class:`~sampt.results.RunOutput` (``result.json`` and the overlay file
are completed at the end; ``tracks.npz`` is not written, since a stream keeps no tracks of emitted frames).
A frame's outputs are written with SIGINT/SIGTERM held back, so an interruption falls between frames.
An MP4 overlay is encoded as frames come; a GIF overlay is kept (paletted) until the end, as GIFs are
written whole. What is kept per emitted frame is only its row of result.json (name, areas, boxes, IoU).

Stopping: the source ends, ``q``/Esc in the live window, or Ctrl-C / SIGTERM / SIGHUP. On an interruption
the frames emitted so far are kept: the overlay is closed, ``result.json`` records ``"stopped"``, and the
folder is committed. A camera has no end, so stopping it is its normal end (exit code 0); an interrupted
video file exits 130 / 143 as any interrupted run, with its finished frames kept. Completing the folder
(closing the overlay, result.json, the swap) holds signals back too, so a second Ctrl-C cannot lose it.

The live window (camera mode) is OpenCV's ``imshow``; it is skipped where no display exists (no
``DISPLAY``/``WAYLAND_DISPLAY`` on Linux, or a headless OpenCV build), and the files are written either way.
"""
from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.testhooks import handshake
from sampt.sources import StreamSource, camera_target, open_stream_source  # noqa: F401 (the stream sources)

log = logging.getLogger("sampt")

WINDOW_TITLE = "sampt (q: stop)"


# -- the live window -----------------------------------------------------------------------------------
def display_available() -> bool:
    """Whether a window can be shown (on Linux: an X11 or Wayland display is set)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class LiveWindow:
    """An OpenCV window showing each overlay frame; turns itself off (files are still written) when OpenCV
    cannot open it. :meth:`show` returns False once the user asks to stop (``q``, Esc, window closed)."""

    def __init__(self, title: str = WINDOW_TITLE):
        self.title, self.enabled, self.opened = title, True, False

    def show(self, rgb: np.ndarray) -> bool:
        if not self.enabled:
            return True
        import cv2

        try:
            cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            self.opened = True
            key = cv2.waitKey(1) & 0xFF
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE)
        except cv2.error as exc:
            from sampt.errors import one_line

            log.warning("no live window (%s); writing the files only", one_line(exc))
            self.enabled = False
            return True
        return key not in (ord("q"), 27) and visible >= 1

    def close(self) -> None:
        if self.opened:
            import cv2

            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
            self.opened = False


# -- the run -------------------------------------------------------------------------------------------
@dataclass
class _StreamInfo:
    """What result.json says about the input of a stream (the fields of a :class:`~sampt.types.Video` it reads)."""

    name: str
    height: int
    width: int
    fps: float
    frame_names: list
    count: int = 0

    def __len__(self) -> int:
        return self.count


@dataclass
class StreamSummary:
    """How a streamed run went: frames emitted, seconds, the largest latency seen (frames), the declared
    latency, why it stopped (None: the source ended) and the result folder."""

    frames: int
    seconds: float
    max_latency: int
    declared_latency: int
    stopped: Optional[str]
    path: Path
    scores: list = field(default_factory=list)


def _prefix(source: StreamSource, frames_needed: int) -> list[tuple[Optional[str], np.ndarray]]:
    head = list(itertools.islice(source.frames, frames_needed))
    if not head:
        raise UsageError(f"the {'camera' if source.endless else 'video'} gave no frames")
    if len(head) < frames_needed:
        raise UsageError(f"an object is marked on frame {frames_needed - 1} but the stream ended after "
                         f"{len(head)} frame(s)")
    return head


def stream_to_folder(pipeline: Any, source: StreamSource, objects: Sequence[Any], output: Any,
                     overlay: Optional[str] = "mp4", sequence: Optional[str] = None, display: bool = False,
                     progress: bool = False, config: Optional[dict] = None, inputs: Optional[dict] = None) -> StreamSummary:
    """Stream ``objects`` (:class:`~sampt.prompts.UserObject`, on frames of the stream) through ``source``
    into the result folder ``output`` (a :class:`~sampt.results.RunOutput`), frame by frame (see the module
    docstring); ``display`` shows the overlay in a live window. Returns the :class:`StreamSummary`."""
    from sampt.media import VideoFile
    from sampt.outputs import atomic_file
    from sampt.signals import signals_held
    from sampt.overlay import draw_frame
    from sampt.pipeline import SamPtResult
    from sampt.pipeline.store import MaskStore
    from sampt.progress import progress_bar
    from sampt.prompts import to_object_prompts
    from sampt.results import RESULT_JSON, build_summary, compact_json
    from sampt.types import Video

    ids = [o.object_id for o in objects]
    head = _prefix(source, max(o.frame for o in objects) + 1)
    names = [n if n is not None else f"{t:05d}" for t, (n, _) in enumerate(head)]
    prefix = Video(np.stack([f for _, f in head]), source.fps, source.name, names)
    prompts = to_object_prompts(objects, prefix, pipeline.segmenter)  # checks them; boxes become masks
    described = [o.describe(names) for o in objects]
    height, width = prefix.size
    del prefix

    stats = output.begin_stream(source.name, ids, sequence).stats
    info = _StreamInfo(source.name, height, width, source.fps, [])
    pending: deque = deque()  # (name, frame) handed to the pipeline and not emitted yet: at most the latency
    head_count, waiting = len(head), deque(head)
    del head  # from here on only the pipeline and ``pending`` hold frames

    def feed() -> Iterator[np.ndarray]:
        while waiting:
            pending.append(waiting.popleft())
            yield pending[-1][1]
        for name, frame in source.frames:
            pending.append((name, frame))
            yield frame

    if overlay == "gif" and source.endless:
        log.warning("a GIF overlay keeps every frame until the stream stops (GIFs are written whole); "
                    "use --overlay mp4 or none for a long camera stream")
    overlay_file = VideoFile(output.path / f"overlay.{overlay}", source.fps) if overlay else None
    window = LiveWindow() if display else None
    iou_rows: list = []
    encoder_calls = getattr(pipeline.segmenter, "encoder_calls", 0)
    stopped, max_latency, count = None, 0, 0
    started = time.perf_counter()
    frames = pipeline.stream(feed(), prompts)
    bar = progress_bar(total=None, desc="streaming", unit="frame", enabled=progress)
    try:
        try:
            for result in frames:
                name, image = pending.popleft()
                t = result.t
                name = name if name is not None else f"{t:05d}"
                shown = None
                if overlay_file is not None or window is not None:
                    drawn = [(oid, o.points, o.labels, np.ones(len(o.points), bool)) for oid, o in result.objects.items()]
                    shown = draw_frame(image, result.label_map, drawn, text=f"frame {name}")
                with signals_held():  # a frame's outputs are written whole or not at all
                    output(t, result.label_map, name)
                    if overlay_file is not None:
                        overlay_file.write(shown)
                    info.frame_names.append(name)
                    iou_rows.append([np.nan if result.objects[i].iou is None else result.objects[i].iou for i in ids])
                    count = t + 1
                handshake("stream-frame")  # tests only: see sampt.testhooks
                max_latency = max(max_latency, result.latency)
                bar.update(1)
                if window is not None and not window.show(shown):
                    stopped = "window closed"
                    break
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP through sampt.cli
            stopped = getattr(exc, "signum", None)
            stopped = signal.Signals(stopped).name if stopped else "SIGINT"
            if not count:
                raise
            log.warning("stopped (%s) after %d frame(s); keeping them", stopped, count)
        finally:
            frames.close()  # releases the camera
            bar.close()
            if window is not None:
                window.close()
        if not count:
            raise UsageError("the stream gave no frame to write")
        elapsed = time.perf_counter() - started
        info.count = count
        files = {"masks": f"masks/{output.sequence}"}
        iou = np.asarray(iou_rows, np.float32).reshape(count, len(ids))
        result = SamPtResult(ids, MaskStore(count, len(ids), (height, width)), iou, [], [], [], {"total": elapsed},
                             getattr(pipeline.segmenter, "encoder_calls", 0) - encoder_calls)
        declared = pipeline.stream_latency(query_frame=head_count - 1, size=(height, width))
        extra = {"stream": {"latency_frames_max": max_latency, "latency_frames_declared": declared,
                            "fps": round(count / max(elapsed, 1e-9), 3), "stopped": stopped}}
        committed = None
        try:
            with signals_held():  # a stream stopped by a signal is completed even if another one comes now
                if overlay_file is not None:
                    overlay_file.close()
                    files["overlay"] = overlay_file.path.name
                summary = build_summary(result, info, stats, described, inputs, config, files, extra)
                with atomic_file(output.path / RESULT_JSON) as path:
                    path.write_text(compact_json(summary) + "\n")
                committed = output.unit.commit()
        except KeyboardInterrupt:  # delivered once the signals are let through again
            if committed is None:
                raise
            log.warning("interrupted again after the results were written; they are kept")
    finally:
        if overlay_file is not None:
            overlay_file.abort()  # no-op once closed
        output.discard()
    return StreamSummary(count, elapsed, max_latency, declared, stopped, committed, [float(s) for s in result.scores])
