"""``sampt bench --predict``: estimate a combination's speed from its components' timings, measured once.

A run of SAM-PT costs, per video of ``T`` frames with ``K`` objects:

* tracking: each tracker call (``tracker_batch_objects`` objects at once) costs ``a + b * points`` seconds
  per frame, where ``points`` are the call's query points (positive + negative per object);
* encoding: ``e`` seconds per frame (each frame is encoded once);
* decoding: per frame ``passes = (2 if negative_points else 1) + refinement_iterations`` decoder calls, each
  with one prompt per object: ``c + d * K`` seconds (refinement can stop early, so this is an upper bound).

``a, b`` are measured per tracker (two point counts on one clip), ``e, c, d`` per segmenter (one and
several prompts per call), at the dataset's resolution, once, and kept in a JSON file keyed by component
and options, so predicting a new combination of measured components costs nothing.
"""
from __future__ import annotations

import json
import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.measure import Stopwatch
from sampt.outputs import atomic_file

log = logging.getLogger(__name__)

TRACKER_POINTS = (8, 32)
"""Query-point counts the tracker is timed with (the per-point cost is the slope between them)."""
DECODER_PROMPTS = (1, 4)
"""Prompts per decoder call the segmenter is timed with."""
TIMINGS_NAME = "component_timings.json"
"""The timings file in a benchmark's output folder."""


def component_key(node: Any) -> str:
    """A component's name with its options, as it keys the timings file (``lk`` or ``lk {"win": 21}``)."""
    from omegaconf import OmegaConf

    options = dict(OmegaConf.to_container(node, resolve=True)) if not isinstance(node, dict) else dict(node)
    name = str(options.pop("name"))
    return name + (" " + json.dumps(options, sort_keys=True) if options else "")


@dataclass
class ComponentTimings:
    """Seconds per unit of each measured component at one resolution: trackers ``{"per_frame": a,
    "per_frame_per_point": b}``, segmenters ``{"encode_per_frame": e, "decode_per_call": c,
    "decode_per_prompt": d}``."""

    size: tuple[int, int]
    frames: int
    trackers: dict[str, dict] = field(default_factory=dict)
    segmenters: dict[str, dict] = field(default_factory=dict)
    machine: str = ""

    @classmethod
    def load(cls, path: Path) -> Optional["ComponentTimings"]:
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(tuple(data["size"]), int(data["frames"]), data["trackers"], data["segmenters"],
                       data.get("machine", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"component timings {path} cannot be read ({exc}); delete it to measure again") from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps({"size": list(self.size), "frames": self.frames, "machine": self.machine,
                                       "trackers": self.trackers, "segmenters": self.segmenters}, indent=2) + "\n")


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        with Stopwatch() as sw:
            fn()
        times.append(sw.seconds)
    return statistics.median(times)


def measure_tracker(tracker: Any, video: Any, seed: int = 0, repeats: int = 2) -> dict:
    """``a`` (seconds per frame of a call) and ``b`` (per frame per point) of ``tracker`` on ``video``."""
    rng = np.random.default_rng(seed)
    H, W = video.height, video.width
    per_frame = []
    for n in TRACKER_POINTS:
        xy = rng.uniform([W * 0.2, H * 0.2], [W * 0.8, H * 0.8], size=(n, 2)).astype(np.float32)
        queries = np.concatenate([np.zeros((n, 1), np.float32), xy], axis=1)
        tracker.track(video, queries)  # warm-up
        per_frame.append(_median_seconds(lambda: tracker.track(video, queries), repeats) / len(video))
    slope = max(0.0, (per_frame[1] - per_frame[0]) / (TRACKER_POINTS[1] - TRACKER_POINTS[0]))
    return {"per_frame": max(0.0, per_frame[0] - slope * TRACKER_POINTS[0]), "per_frame_per_point": slope}


def measure_segmenter(segmenter: Any, video: Any, seed: int = 0, repeats: int = 2) -> dict:
    """``e`` (encoder seconds per frame), ``c`` and ``d`` (decoder seconds per call and per prompt in it)."""
    from sampt.types import Prompt

    rng = np.random.default_rng(seed)
    H, W = video.height, video.width
    segmenter.encode(video[0])  # warm-up
    encode = _median_seconds(lambda: [segmenter.encode(f) for f in video], repeats) / len(video)
    embedding = segmenter.encode(video[0])

    def prompts(k: int) -> list:
        out = []
        for _ in range(k):
            centre = rng.uniform([W * 0.3, H * 0.3], [W * 0.7, H * 0.7])
            pts = (centre + rng.normal(0, min(H, W) * 0.05, size=(4, 2))).astype(np.float32)
            out.append(Prompt(np.clip(pts, 0, [W - 1, H - 1]), np.array([1, 1, 1, 0])))
        return out

    per_call = []
    for k in DECODER_PROMPTS:
        ps = prompts(k)
        segmenter.decode(embedding, ps)
        per_call.append(_median_seconds(lambda: segmenter.decode(embedding, ps), repeats * 2))
    slope = max(0.0, (per_call[1] - per_call[0]) / (DECODER_PROMPTS[1] - DECODER_PROMPTS[0]))
    return {"encode_per_frame": encode, "decode_per_call": max(0.0, per_call[0] - slope * DECODER_PROMPTS[0]),
            "decode_per_prompt": slope}


def ensure_timings(path: Optional[Path], cfgs: Sequence[Any], video: Any, registry: Any = None) -> ComponentTimings:
    """The timings of every tracker and segmenter the configs use: read from ``path`` when it holds them
    (at ``video``'s resolution), the missing ones measured on ``video`` (the caller saves the result)."""
    from sampt.config import build_component
    from sampt.provenance import machine_info, machine_label
    from sampt.plugins import Registry

    size = (video.height, video.width)
    timings = ComponentTimings.load(path) if path is not None else None
    if timings is not None and (tuple(timings.size) != size or timings.frames != len(video)):
        log.warning("component timings in %s are for %s frames of %s, not %s of %s: measuring again", path,
                    timings.frames, timings.size, len(video), size)
        timings = None
    timings = timings or ComponentTimings(size, len(video), machine=machine_label(machine_info()))
    registry = registry or Registry()
    for cfg in cfgs:
        key = component_key(cfg.tracker)
        if key not in timings.trackers:
            log.info("timing tracker %s", key)
            timings.trackers[key] = measure_tracker(build_component(cfg, "tracker", registry), video, int(cfg.seed))
        key = component_key(cfg.segmenter)
        if key not in timings.segmenters:
            log.info("timing segmenter %s", key)
            timings.segmenters[key] = measure_segmenter(build_component(cfg, "segmenter", registry), video,
                                                        int(cfg.seed))
    return timings


def predict_seconds(timings: ComponentTimings, cfg: Any, frames: int, objects: int) -> dict[str, float]:
    """Predicted seconds of one video of ``frames`` frames and ``objects`` objects under ``cfg``, by stage."""
    t = timings.trackers[component_key(cfg.tracker)]
    s = timings.segmenters[component_key(cfg.segmenter)]
    options = cfg.pipeline
    points = int(options.positive_points) + int(options.negative_points)
    calls = math.ceil(objects / max(1, int(options.tracker_batch_objects)))
    tracking = frames * (calls * t["per_frame"] + t["per_frame_per_point"] * points * objects)
    encoding = frames * s["encode_per_frame"]
    passes = (2 if int(options.negative_points) > 0 else 1) + int(options.refinement_iterations)
    decoding = frames * passes * (s["decode_per_call"] + s["decode_per_prompt"] * objects)
    return {"tracking": tracking, "encoding": encoding, "decoding": decoding,
            "total": tracking + encoding + decoding}


def predict_rows(cfgs: dict[str, Any], videos: Sequence[tuple[int, int]], timings: ComponentTimings) -> list[dict]:
    """One row per combination (``cfgs``: name -> composed config) over ``videos`` (frames, objects):
    predicted FPS and seconds per frame by stage."""
    frames = sum(f for f, _ in videos)
    rows = []
    for name, cfg in cfgs.items():
        total = {"tracking": 0.0, "encoding": 0.0, "decoding": 0.0, "total": 0.0}
        for f, k in videos:
            for stage, sec in predict_seconds(timings, cfg, f, k).items():
                total[stage] += sec
        rows.append({"name": name, "fps_predicted": frames / max(total["total"], 1e-12),
                     **{f"spf_{s}_predicted": total[s] / frames for s in ("tracking", "encoding", "decoding")}})
    return rows
