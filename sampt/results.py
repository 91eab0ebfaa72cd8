"""Saving a run's results: DAVIS-style label PNGs, an overlay video and a JSON summary, written as one
atomic unit (:mod:`sampt.outputs`)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sampt.io import draw_overlay, write_label_png, write_video
from sampt.outputs import OutputDir, atomic_file
from sampt.types import Video


def overlay_frames(result: Any, video: Video):
    """Frames with masks and each object's tracked query points drawn on them: positive points as circles,
    negative points as crosses, points the tracker reports occluded (or outside the frame) in red."""
    for t in range(len(video)):
        points, labels, visible = [], [], []
        for o in range(len(result.object_ids)):
            tracks, query_labels = result.tracks[o], np.asarray(result.queries[o].labels)
            known = np.isfinite(tracks.points[t]).all(axis=1)
            n = min(len(query_labels), tracks.num_points)
            points.append(tracks.points[t][:n][known[:n]])
            labels.append(query_labels[:n][known[:n]])
            visible.append(tracks.visibility[t][:n][known[:n]])
        yield draw_overlay(video[t], result.label_map(t), np.concatenate(points), np.concatenate(labels).astype(int),
                           np.concatenate(visible).astype(bool))


RESULT_ENTRIES = ("result.json", "masks", "overlay.mp4")
"""What a run's folder holds: an existing folder with none of these is not replaced (it is someone else's)."""


class RunOutput:
    """A run's output folder as one unit (:class:`sampt.outputs.OutputDir`): label PNGs streamed as frames
    finish (``SamPt.run``'s ``on_frame``), then the overlay and ``result.json``, all into a temporary
    sibling that replaces ``out_dir`` whole in :meth:`finish`. Creating it checks the destination, so a bad
    ``--output`` fails before any work; :meth:`discard` (on any error or interruption) leaves the previous
    result untouched."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out = Path(out_dir)
        self.unit = OutputDir(self.out, "output folder", owned=RESULT_ENTRIES)
        self.masks_written = 0

    @property
    def path(self) -> Path:
        """The staging folder (inside it: ``masks/``, ``overlay.mp4``, ``result.json``)."""
        return self.unit.path

    def __call__(self, t: int, labels: np.ndarray) -> None:
        masks = self.path / "masks"
        if not self.masks_written:
            masks.mkdir(exist_ok=True)
        write_label_png(masks / f"{t:05d}.png", labels)
        self.masks_written += 1

    def finish(self, result: Any, video: Video, overlay: bool = True, extra: Optional[dict] = None) -> Path:
        """Write what is left (masks not streamed, overlay, ``result.json``) and swap the folder in."""
        staged = self.path
        if not self.masks_written:
            for t in range(result.num_frames):
                self(t, result.label_map(t))
        if overlay:
            write_video(staged / "overlay.mp4", overlay_frames(result, video), fps=video.fps)
        write_summary(staged / "result.json", result, extra)
        return self.unit.commit()

    def discard(self) -> None:
        self.unit.discard()


def write_summary(path: Path, result: Any, extra: Optional[dict] = None) -> None:
    """``result.json``: object ids, scores, per-frame IoU, encoder calls, timings, frames (+ ``extra``)."""
    summary = {
        "object_ids": list(map(int, result.object_ids)),
        "scores": [float(s) for s in result.scores],
        "iou_per_frame": [[None if np.isnan(v) else float(v) for v in row] for row in result.iou],
        "encoder_calls": int(result.encoder_calls),
        "timings_seconds": {k: float(v) for k, v in result.timings.items()},
        "num_frames": int(result.num_frames),
        **(extra or {}),
    }
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))


def save_result(result: Any, video: Video, out_dir: str | os.PathLike, overlay: bool = True,
                extra: Optional[dict] = None) -> Path:
    """Write ``masks/00000.png``... (label maps), ``overlay.mp4`` and ``result.json`` as the folder
    ``out_dir``, atomically: the previous content of ``out_dir`` stays until the new one is complete."""
    output = RunOutput(out_dir)
    try:
        return output.finish(result, video, overlay=overlay, extra=extra)
    finally:
        output.discard()
