"""Video instance segmentation with SAM-PT: first-frame proposals, one track per proposal, ranked and
de-duplicated, written as YouTube-VIS results.

For a video: proposals come from :func:`sampt.evaluation.vis.proposals.propose` (the pipeline's own segmenter,
grid prompted) or a proposals file; SAM-PT tracks every proposal through the video, each prompted with its
mask on its frame; a track's score is its mean predicted IoU over the frames it was prompted on
(``SamPtResult.scores``); tracks are ranked by score and non-maximum suppression over video-level mask IoU
drops a track overlapping a better one by more than ``track_nms_thresh``; at most ``max_tracks`` remain.
Masks are run-length encoded frame by frame (pycocotools) as soon as a run ends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.vis.proposals import Proposal, ProposalOptions, propose
from sampt.types import Video

CATEGORY = 1  #: class-agnostic: every track is category 1 ("object")


@dataclass
class VISOptions:
    """VIS settings: ``proposals`` (automatic generation), track NMS and how many tracks to keep."""

    proposals: ProposalOptions = field(default_factory=ProposalOptions)
    track_nms_thresh: float = 0.7
    max_tracks: int = 100

    def validate(self) -> "VISOptions":
        self.proposals.validate()
        if not 0 < self.track_nms_thresh <= 1:
            raise UsageError(f"vis.track_nms_thresh must be in (0, 1], got {self.track_nms_thresh}")
        if self.max_tracks < 1:
            raise UsageError(f"vis.max_tracks must be >= 1, got {self.max_tracks}")
        return self

    @classmethod
    def from_overrides(cls, items: dict[str, str]) -> "VISOptions":
        """From ``vis.KEY=VALUE`` pairs (``KEY`` without the prefix): any :class:`ProposalOptions` field,
        ``track_nms_thresh`` or ``max_tracks``."""
        own = {f.name: f.type for f in fields(cls) if f.name != "proposals"}
        prop = {f.name: f.type for f in fields(ProposalOptions)}
        opts, popts = {}, {}
        for key, value in items.items():
            target, types = (opts, own) if key in own else (popts, prop) if key in prop else (None, None)
            if target is None:
                raise UsageError(f"unknown VIS option vis.{key} (options: "
                                 f"{', '.join('vis.' + k for k in [*own, *prop])})")
            if "bool" in str(types[key]):
                flag = value.strip().lower()
                if flag not in ("true", "false", "1", "0", "yes", "no"):
                    raise UsageError(f"vis.{key} must be true or false, got {value!r}")
                target[key] = flag in ("true", "1", "yes")
                continue
            kind = int if "int" in str(types[key]) else float
            try:
                target[key] = kind(value)
            except ValueError:
                raise UsageError(f"vis.{key} must be a number, got {value!r}") from None
        return cls(ProposalOptions(**popts), **opts).validate()


@dataclass
class Track:
    """One tracked instance: ``score`` and per-frame compressed RLE ``segmentations``, with the per-frame
    mask ``areas`` (for the overlap computations)."""

    score: float
    segmentations: list[dict]
    areas: np.ndarray

    def result(self, video_id: int) -> dict:
        """The YouTube-VIS results entry."""
        return {"video_id": int(video_id), "score": float(self.score), "category_id": CATEGORY,
                "segmentations": self.segmentations}


@dataclass
class VISPrediction:
    """A video's kept ``tracks`` (best first), how many proposals there were, and the seconds spent
    proposing and tracking."""

    tracks: list[Track]
    num_proposals: int
    propose_seconds: float
    track_seconds: float
    timings: dict = field(default_factory=dict)  #: the SAM-PT run's seconds per stage

    def results(self, video_id: int) -> list[dict]:
        return [t.result(video_id) for t in self.tracks]


def track_proposals(pipeline: Any, video: Video, proposals: Sequence[Proposal],
                    progress: bool = False) -> tuple[list[Track], dict]:
    """Track every proposal through ``video`` with SAM-PT (object ids 1..N, in proposal order); also
    returns the run's seconds per stage."""
    import cv2

    from sampt.evaluation.datasets.uvo import encode_rle
    from sampt.pipeline import ObjectPrompt

    if not proposals:
        return [], {}
    prompts = [ObjectPrompt(object_id=i + 1, frame=p.frame, mask=p.mask) for i, p in enumerate(proposals)]
    cv2.setRNGSeed(int(getattr(pipeline, "seed", 0) or 0))  # as predict_sequence: order-independent results
    result = pipeline.run(video, prompts, progress=progress)
    scores = np.asarray(result.scores, np.float64)
    T, N = len(video), len(proposals)
    segs: list[list[dict]] = [[] for _ in range(N)]
    areas = np.zeros((N, T), np.int64)
    for t in range(T):
        for i, p in enumerate(proposals):
            mask = result.mask(t, i)
            if t < p.frame:  # nothing before its prompt frame
                mask = np.zeros_like(mask)
            elif t == p.frame:  # on its prompt frame it is its given mask
                mask = p.mask
            segs[i].append(encode_rle(mask))
            areas[i, t] = int(np.count_nonzero(mask))
        result.store.release(t)
    return [Track(float(scores[i]), segs[i], areas[i]) for i in range(N)], dict(result.timings)


def track_ious(tracks: Sequence[Track]) -> np.ndarray:
    """``(N, N)`` video-level mask IoU between tracks (intersections and unions summed over frames)."""
    from sampt.evaluation.datasets.uvo import require_pycocotools

    mask_utils = require_pycocotools()
    N = len(tracks)
    if N == 0:
        return np.zeros((0, 0))
    T = len(tracks[0].segmentations)
    inter = np.zeros((N, N))
    for t in range(T):
        present = [i for i in range(N) if tracks[i].areas[t] > 0]
        if len(present) < 2:
            continue
        rles = [tracks[i].segmentations[t] for i in present]
        iou = np.asarray(mask_utils.iou(rles, rles, [0] * len(rles)), np.float64).reshape(len(present), len(present))
        a = np.array([tracks[i].areas[t] for i in present], np.float64)
        # |A n B| = IoU * (|A| + |B|) / (1 + IoU)
        frame_inter = iou * (a[:, None] + a[None, :]) / (1.0 + iou)
        idx = np.array(present)
        inter[np.ix_(idx, idx)] += frame_inter
    total = np.array([t.areas.sum() for t in tracks], np.float64)
    union = total[:, None] + total[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def track_nms(tracks: Sequence[Track], iou_thresh: float, max_tracks: Optional[int] = None) -> list[Track]:
    """Tracks best score first (ties in order), dropping any whose video IoU with a kept one exceeds
    ``iou_thresh``; empty tracks are dropped; at most ``max_tracks`` kept."""
    order = [int(i) for i in np.argsort([-t.score for t in tracks], kind="stable") if tracks[i].areas.sum() > 0]
    ious = track_ious(tracks)
    keep: list[int] = []
    for i in order:
        if any(ious[i, k] > iou_thresh for k in keep):
            continue
        keep.append(i)
        if max_tracks is not None and len(keep) >= max_tracks:
            break
    return [tracks[i] for i in keep]


def predict_vis_video(pipeline: Any, video: Video, options: Optional[VISOptions] = None,
                      proposals: Optional[Sequence[Proposal]] = None, progress: bool = False) -> VISPrediction:
    """Proposals (given, or generated on frame 0 by the pipeline's segmenter), tracking, NMS."""
    options = (options or VISOptions()).validate()
    start = time.perf_counter()
    if proposals is None:
        proposals = propose(pipeline.segmenter, video[0], options.proposals)
    propose_seconds = time.perf_counter() - start
    start = time.perf_counter()
    tracks, timings = track_proposals(pipeline, video, proposals, progress)
    kept = track_nms(tracks, options.track_nms_thresh, options.max_tracks)
    return VISPrediction(kept, len(proposals), propose_seconds, time.perf_counter() - start, timings)
