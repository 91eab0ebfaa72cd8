"""Saving a run's results: DAVIS-style label PNGs, an overlay video and a JSON summary, all atomic."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sampt.io import atomic_write, draw_overlay, write_label_png, write_video
from sampt.types import Video


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place, replacing an older one without a window where neither exists whole."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


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


class LabelPngWriter:
    """Streams label maps to ``out_dir/masks/00000.png``... as a run produces them (``SamPt.run``'s
    ``on_frame``): they go to a hidden folder that replaces ``masks/`` only on :meth:`commit`, so a run that
    fails leaves no half-written results. Nothing is created before the first frame arrives."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out = Path(out_dir)
        self.tmp: Optional[Path] = None
        self._created_out = False

    def __call__(self, t: int, labels: np.ndarray) -> None:
        if self.tmp is None:
            self._created_out = not self.out.exists()
            self.out.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=".masks-", dir=self.out))
        write_label_png(self.tmp / f"{t:05d}.png", labels)

    def commit(self) -> None:
        if self.tmp is not None:
            _replace_dir(self.tmp, self.out / "masks")
            self.tmp = None

    def discard(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
            if self._created_out and not any(self.out.iterdir()):
                self.out.rmdir()


def save_result(result: Any, video: Video, out_dir: str | os.PathLike, overlay: bool = True,
                extra: Optional[dict] = None, masks_written: bool = False) -> Path:
    """Write ``masks/00000.png``... (label maps, unless ``masks_written`` by a :class:`LabelPngWriter`),
    ``overlay.mp4`` and ``result.json`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not masks_written:
        writer = LabelPngWriter(out)
        try:
            for t in range(result.num_frames):
                writer(t, result.label_map(t))
            writer.commit()
        finally:
            writer.discard()
    if overlay:
        write_video(out / "overlay.mp4", overlay_frames(result, video), fps=video.fps)
    summary = {
        "object_ids": list(map(int, result.object_ids)),
        "scores": [float(s) for s in result.scores],
        "iou_per_frame": [[None if np.isnan(v) else float(v) for v in row] for row in result.iou],
        "encoder_calls": int(result.encoder_calls),
        "timings_seconds": {k: float(v) for k, v in result.timings.items()},
        "num_frames": int(result.num_frames),
        **(extra or {}),
    }
    with atomic_write(out / "result.json") as path:
        path.write_text(json.dumps(summary, indent=2))
    return out
