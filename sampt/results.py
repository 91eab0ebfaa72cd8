"""A run's result folder, written and read back.

Layout (``OUT/``)::

    masks/<sequence>/<frame>.png   DAVIS-style indexed label PNGs named after the input's frames: the layout
                                   ``sampt score``, the DAVIS and YouTube-VOS tools read
    tracks.npz                     point trajectories: points (T, N, 2), visibility (T, N), query_points
                                   (N, 3) (t, x, y), object_ids (N,), labels (N,) (1 positive, 0 negative)
    overlay.mp4 | overlay.gif      masks, contours and tracked points drawn on the video (H.264 MP4)
    result.json                    version, git revision, input, frame names, prompts, per-frame areas and
                                   boxes, predicted IoU, scores, per-(frame, object) quality
                                   (:mod:`sampt.pipeline.quality`), composed config, timings (compact)

The folder is one atomic unit (:class:`sampt.outputs.OutputDir`): everything is written into a temporary
sibling that replaces the folder whole once the run completed, so an error or an interruption leaves the
previous result as it was. :func:`load_result` (:mod:`sampt.run_folder`, the owner of the folder's schema)
reads a folder back for analysis, validated.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.io import write_label_png
from sampt.outputs import OutputDir, atomic_file
from sampt.run_folder import (RESULT_ENTRIES, RESULT_JSON, SCHEMA_VERSION, TRACKS_NPZ, SavedResult,  # noqa: F401
                              load_result, mask_folder)
from sampt.testhooks import handshake
from sampt.types import Video

OVERLAY_FORMATS = ("mp4", "gif")


class MaskStats:
    """Each object's area (pixels) and box ``[x0, y0, x1, y1]`` (inclusive; None when absent) on each
    frame, gathered from label maps as they stream by (so nothing per frame needs to be kept)."""

    def __init__(self, object_ids: Sequence[int], num_frames: int):
        self.object_ids = [int(i) for i in object_ids]
        self._areas = np.zeros((num_frames, len(self.object_ids)), np.int64)
        self.boxes: list[list[Optional[list[int]]]] = [[None] * len(self.object_ids) for _ in range(num_frames)]

    @property
    def areas(self) -> np.ndarray:
        """``(T, O)`` pixels per frame and object."""
        return self._areas[: len(self.boxes)]

    def __call__(self, t: int, labels: np.ndarray) -> None:
        if t >= len(self.boxes):  # a stream of unknown length: grow (amortised doubling)
            if t >= len(self._areas):
                grown = np.zeros((max(2 * len(self._areas), t + 1), len(self.object_ids)), np.int64)
                grown[: len(self._areas)] = self._areas
                self._areas = grown
            self.boxes += [[None] * len(self.object_ids) for _ in range(t + 1 - len(self.boxes))]
        counts = np.bincount(labels.reshape(-1), minlength=256)
        for o, oid in enumerate(self.object_ids):
            self._areas[t, o] = counts[oid]
            if counts[oid]:
                rows, cols = np.flatnonzero((labels == oid).any(axis=1)), np.flatnonzero((labels == oid).any(axis=0))
                self.boxes[t][o] = [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]


def write_tracks(path: str | os.PathLike, result: Any) -> Path:
    """``tracks.npz`` of a :class:`~sampt.pipeline.SamPtResult`: every object's query points and their
    tracks, concatenated along points, with the object and label of each point."""
    points, visible, queries, objects, labels, conf = [], [], [], [], [], []
    for o, object_id in enumerate(result.object_ids):
        tracks, q = result.tracks[o], result.queries[o]
        n = tracks.num_points
        points.append(tracks.points)
        visible.append(tracks.visibility)
        conf.append(tracks.confidence)
        qp = q.as_tracker_queries
        if len(qp) != n:  # re-initialised tracks: the query points are those of the last re-initialisation
            qp = np.full((n, 3), np.nan, np.float32)
        queries.append(qp)
        lab = np.asarray(q.labels)[:n]
        labels.append(np.concatenate([lab, np.ones(n - len(lab), lab.dtype)]) if len(lab) < n else lab)
        objects.append(np.full(n, object_id, np.int64))
    T = result.num_frames
    arrays = {
        "points": np.concatenate(points, axis=1) if points else np.zeros((T, 0, 2), np.float32),
        "visibility": np.concatenate(visible, axis=1) if visible else np.zeros((T, 0), bool),
        "query_points": np.concatenate(queries) if queries else np.zeros((0, 3), np.float32),
        "object_ids": np.concatenate(objects) if objects else np.zeros(0, np.int64),
        "labels": np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64),
    }
    if conf and all(c is not None for c in conf):
        arrays["confidence"] = np.concatenate(conf, axis=1)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return Path(path)


def compact_json(obj: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON with mappings one key per line, every list of numbers on one line, and a list of such lists one
    line per item (a frame per line), so per-frame arrays stay readable and the file small."""
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))

    def has_dict(v: Any) -> bool:
        return isinstance(v, dict) or (isinstance(v, (list, tuple)) and any(has_dict(x) for x in v))

    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {compact_json(v, indent, _level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if not any(isinstance(x, (list, tuple, dict)) for x in obj):
            return json.dumps(list(obj))
        if not has_dict(obj):
            return "[\n" + ",\n".join(inner + json.dumps(x) for x in obj) + "\n" + pad + "]"
        return "[\n" + ",\n".join(inner + compact_json(x, indent, _level + 1) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def _clean(v: Any) -> Any:
    """NaN -> None, NumPy scalars -> Python, recursively."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else round(float(v), 4)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def build_summary(result: Any, video: Video, stats: MaskStats, prompts: Sequence[dict] = (),
                  inputs: Optional[dict] = None, config: Optional[dict] = None, files: Optional[dict] = None,
                  extra: Optional[dict] = None) -> dict:
    """The content of result.json (see the module docstring)."""
    from sampt._version import __version__
    from sampt.provenance import git_revision

    ids = list(map(int, result.object_ids))
    scores = [float(s) for s in result.scores]
    objects = []
    for o, oid in enumerate(ids):
        entry: dict = {"id": oid, "score": scores[o], "frames_present": int((stats.areas[:, o] > 0).sum())}
        if o < len(prompts):
            entry["prompt"] = prompts[o]
        objects.append(entry)
    summary = {
        "schema_version": SCHEMA_VERSION,
        "sampt_version": __version__,
        "git": git_revision(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {"name": video.name, "width": video.width, "height": video.height, "fps": video.fps,
                  "num_frames": len(video), **(inputs or {}), "frame_names": list(video.frame_names)},
        "num_frames": int(result.num_frames),
        "object_ids": ids,
        "scores": scores,
        "objects": objects,
        "per_frame": {"area": stats.areas.tolist(), "box": stats.boxes,
                      "predicted_iou": np.asarray(result.iou, float).tolist()},
        **({"quality": result.quality.to_json()} if getattr(result, "quality", None) is not None else {}),
        "encoder_calls": int(result.encoder_calls),
        "timings_seconds": {k: float(v) for k, v in result.timings.items()},
        "files": files or {},
        **({"config": config} if config is not None else {}),
        **(extra or {}),
    }
    return _clean(summary)


def _overlay_format(overlay: Any) -> Optional[str]:
    if overlay is True:
        return "mp4"
    if not overlay:
        return None
    if overlay not in OVERLAY_FORMATS:
        raise UsageError(f"overlay format {overlay!r} is not one of {', '.join(OVERLAY_FORMATS)}")
    return overlay


class RunOutput:
    """A run's output folder as one unit (:class:`sampt.outputs.OutputDir`): label PNGs streamed as frames
    finish (``SamPt.run``'s ``on_frame``) to ``masks/<sequence>/<frame name>.png`` (straight into ``masks/``
    before :meth:`begin`), then tracks, the overlay and ``result.json``, all into a temporary sibling that
    replaces ``out_dir`` whole in :meth:`finish`. Creating it checks the destination, so a bad ``--output``
    fails before any work; :meth:`discard` (on any error or interruption) leaves the previous result
    untouched."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out = Path(out_dir)
        self.unit = OutputDir(self.out, "output folder", owned=RESULT_ENTRIES)
        self.masks_written = 0
        self.frame_names: Optional[Sequence[str]] = None
        self.sequence: Optional[str] = None
        self.stats: Optional[MaskStats] = None

    def begin(self, video: Video, object_ids: Sequence[int], sequence: Optional[str] = None) -> "RunOutput":
        """Name the masks after ``video``'s frames, under ``masks/<sequence>`` (default: the video's name),
        and gather each object's area and box as they stream by."""
        return self._begin(sequence or video.name, list(video.frame_names), MaskStats(object_ids, len(video)))

    def begin_stream(self, name: str, object_ids: Sequence[int], sequence: Optional[str] = None) -> "RunOutput":
        """:meth:`begin` for a stream named ``name``: its length is unknown, each frame's name comes with it
        (``__call__``'s ``name``) and the per-object statistics grow frame by frame."""
        return self._begin(sequence or name, None, MaskStats(object_ids, 0))

    def _begin(self, sequence: str, frame_names: Optional[list], stats: "MaskStats") -> "RunOutput":
        if not sequence or "/" in sequence or "\\" in sequence or sequence.startswith("."):
            raise UsageError(f"sequence name {sequence!r} cannot be a folder name; give --sequence NAME")
        self.frame_names, self.sequence, self.stats = frame_names, sequence, stats
        return self

    @property
    def path(self) -> Path:
        """The staging folder (inside it: ``masks/``, ``tracks.npz``, the overlay, ``result.json``)."""
        return self.unit.path

    def __call__(self, t: int, labels: np.ndarray, name: Optional[str] = None) -> None:
        """Write frame ``t``'s label PNG, named ``name`` (default: after the video's frames, or ``00000``...)."""
        folder = self.path / "masks" / self.sequence if self.sequence else self.path / "masks"
        if not self.masks_written:
            folder.mkdir(parents=True, exist_ok=True)
        if name is None:
            name = self.frame_names[t] if self.frame_names is not None else f"{t:05d}"
        write_label_png(folder / f"{name}.png", labels)
        if self.stats is not None:
            self.stats(t, labels)
        self.masks_written += 1
        handshake("mask-written")  # tests only: see sampt.testhooks

    def finish(self, result: Any, video: Video, overlay: Any = "mp4", prompts: Sequence[dict] = (),
               inputs: Optional[dict] = None, config: Optional[dict] = None, extra: Optional[dict] = None,
               progress: bool = False) -> Path:
        """Write what is left (masks not streamed, ``tracks.npz``, the overlay: ``"mp4"``, ``"gif"`` or
        None, ``result.json``) and swap the folder in."""
        from sampt.media import write_video
        from sampt.overlay import overlay_frames
        from sampt.progress import progress_bar

        overlay = _overlay_format(overlay)
        if self.stats is None:
            self.begin(video, result.object_ids, self.sequence)
        staged = self.path
        if not self.masks_written:
            for t in progress_bar(range(result.num_frames), desc="writing masks", unit="frame", enabled=progress):
                self(t, result.label_map(t))
        files = {"masks": f"masks/{self.sequence}", "tracks": TRACKS_NPZ}
        write_tracks(staged / TRACKS_NPZ, result)
        if overlay:
            name = f"overlay.{overlay}"
            write_video(staged / name, overlay_frames(result, video), fps=video.fps, progress=progress,
                        total=len(video))
            files["overlay"] = name
        summary = build_summary(result, video, self.stats, prompts, inputs, config, files, extra)
        with atomic_file(staged / RESULT_JSON) as path:
            path.write_text(compact_json(summary) + "\n")
        return self.unit.commit()

    def discard(self) -> None:
        self.unit.discard()


def save_result(result: Any, video: Video, out_dir: str | os.PathLike, overlay: Any = "mp4",
                extra: Optional[dict] = None, sequence: Optional[str] = None, prompts: Sequence[dict] = (),
                inputs: Optional[dict] = None, config: Optional[dict] = None, progress: bool = False) -> Path:
    """Write a result as the folder ``out_dir`` (see the module docstring), atomically: the previous content
    of ``out_dir`` stays until the new one is complete. ``overlay``: ``"mp4"``, ``"gif"`` or None."""
    output = RunOutput(out_dir)
    try:
        output.begin(video, result.object_ids, sequence)
        return output.finish(result, video, overlay=overlay, prompts=prompts, inputs=inputs, config=config,
                             extra=extra, progress=progress)
    finally:
        output.discard()
