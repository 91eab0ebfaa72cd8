"""The SAM-PT pipeline object: composes the four steps, each in its own module.

    query_points.py  ->  tracking.py  ->  prompting.py   (or reinit.py, which loops over all three)

It is created from config (:meth:`SamPt.from_config`) or directly from components, and holds no state
between runs besides its components.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.interfaces import ImageEmbedding, PointSampler, Segmenter, Tracker
from sampt.pipeline.embeddings import EmbeddingCache
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.prompting import (ObjectFramePoints, SegmentationOutput, segment_frame, segment_video)
from sampt.pipeline.query_points import (ObjectPrompt, ObjectQueries, queries_from_clicks, sample_query_points,
                                         validate_prompt)
from sampt.pipeline.reinit import run_reinit
from sampt.pipeline.store import MaskStore
from sampt.pipeline.tracking import track_objects
from sampt.types import Prediction, Prompt, Tracks, Video

log = logging.getLogger(__name__)


class _TimedSegmenter:
    """Wraps a segmenter's ``decode`` to measure decoding time (encoding is timed by the cache)."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter, self.decode_seconds = segmenter, 0.0

    def decode(self, embedding: ImageEmbedding, prompts: Sequence[Prompt]) -> list[Prediction]:
        start = time.perf_counter()
        try:
            return self.segmenter.decode(embedding, prompts)
        finally:
            self.decode_seconds += time.perf_counter() - start

    def input_scale(self, size: tuple[int, int]) -> float:
        return self.segmenter.input_scale(size)


class _TimedTracker:
    """Wraps a tracker to measure tracking time (also inside the re-initialisation loop)."""

    def __init__(self, tracker: Tracker):
        self.tracker, self.capabilities, self.seconds = tracker, tracker.capabilities, 0.0

    def track(self, video: Video, queries: np.ndarray) -> Tracks:
        start = time.perf_counter()
        try:
            return self.tracker.track(video, queries)
        finally:
            self.seconds += time.perf_counter() - start


@dataclass
class SamPtResult:
    """What a run produced.

    ``store`` holds each object's mask on each frame (:meth:`mask`, :meth:`label_map`, :attr:`masks`);
    ``iou`` ``(T, O)`` the segmenter's predicted IoU (NaN where the object had no prompt); ``scores``
    ``(O,)`` the mean of those over prompted frames (rejected frames included), for ranking objects;
    ``queries`` the objects' (first) query points; ``tracks`` per object, the tracks of the query points
    in use; ``prompts[t][o]`` the ``(points, labels)`` actually given to the segmenter on frame t;
    ``timings`` seconds per stage; ``encoder_calls`` how many frames were encoded.
    """

    object_ids: list[int]
    store: MaskStore
    iou: np.ndarray
    queries: list[ObjectQueries]
    tracks: list[Tracks]
    prompts: list
    timings: dict[str, float] = field(default_factory=dict)
    encoder_calls: int = 0

    @property
    def num_frames(self) -> int:
        return self.store.num_frames

    @property
    def scores(self) -> np.ndarray:
        iou = self.iou
        counts = np.sum(~np.isnan(iou), axis=0)
        return np.where(counts > 0, np.nansum(iou, axis=0) / np.maximum(counts, 1), 0.0)

    @property
    def masks(self) -> np.ndarray:
        """``(T, O, H, W)`` bool (materialised)."""
        return self.store.masks()

    def mask(self, t: int, object_index: int) -> np.ndarray:
        return self.store.mask(t, object_index)

    def label_map(self, t: int) -> np.ndarray:
        """Frame ``t``'s objects in one ``(H, W)`` uint8 map: highest positive logit wins, else 0."""
        return self.store.label_map(t, self.object_ids)

    def label_maps(self) -> np.ndarray:
        return np.stack([self.label_map(t) for t in range(self.num_frames)])


class SamPt:
    """SAM-PT: query points -> tracking -> prompting (-> re-initialisation)."""

    def __init__(self, tracker: Tracker, segmenter: Segmenter, positive_sampler: PointSampler,
                 negative_sampler: PointSampler, options: Optional[SamPtOptions] = None, seed: int = 0):
        self.tracker, self.segmenter = tracker, segmenter
        self.positive_sampler, self.negative_sampler = positive_sampler, negative_sampler
        self.options = (options or SamPtOptions()).validate()
        self.seed = seed

    @classmethod
    def from_config(cls, cfg: Any, registry: Any = None) -> "SamPt":
        """Build from a composed config (:func:`sampt.config.compose`)."""
        from sampt.config import build_pipeline

        return build_pipeline(cfg, registry)

    # -- step 1 -------------------------------------------------------------------------------------
    def query_points(self, video: Video, objects: Sequence[ObjectPrompt],
                     embeddings: Optional[EmbeddingCache] = None) -> list[ObjectQueries]:
        """Each object's query points (and query mask); clicked objects get their mask from the segmenter."""
        ids = [o.object_id for o in objects]
        if len(set(ids)) != len(ids):
            raise UsageError(f"object ids must be unique, got {ids}")
        for o in objects:
            validate_prompt(o, len(video), video.size)
        embeddings = embeddings or EmbeddingCache(self.segmenter, video)
        queries = []
        for i, o in enumerate(objects):
            if o.mask is not None:
                queries.append(sample_query_points(o.mask, video[o.frame], o.frame, o.object_id, self.positive_sampler,
                                                   self.negative_sampler, self.options.positive_points,
                                                   self.options.negative_points, seed=self.seed + 1000 * i))
            else:
                q = queries_from_clicks(o)
                points = ObjectFramePoints(q.points, q.labels, np.ones(len(q.points), bool))
                rng = np.random.default_rng([self.seed, o.frame])
                result = segment_frame(self.segmenter, embeddings.get(o.frame), [points], self.options, rng)[0]
                q.mask = (result.logits > 0) if result.logits is not None else np.zeros(video.size, bool)
                queries.append(q)
        return queries

    # -- step 2 -------------------------------------------------------------------------------------
    def track(self, video: Video, queries: Sequence[ObjectQueries], tracker: Any = None,
              progress: bool = False) -> list[Tracks]:
        """Tracks of every object's query points through the whole video."""
        with _progress(len(queries), "tracking", progress, unit="object") as bar:
            return track_objects(tracker or self.tracker, video, queries, self.options.tracker_batch_objects,
                                 progress=bar)

    # -- step 3 -------------------------------------------------------------------------------------
    def segment(self, video: Video, queries: Sequence[ObjectQueries], tracks: Sequence[Tracks],
                embeddings: Optional[EmbeddingCache] = None, progress: bool = False,
                segmenter: Any = None, on_frame: Optional[Callable] = None) -> SegmentationOutput:
        """Masks on every frame from given tracks and visibilities (``tracks[i]`` covers all frames)."""
        embeddings = embeddings or EmbeddingCache(self.segmenter, video)
        segmenter = segmenter or self.segmenter
        with _progress(len(video), "segmenting", progress) as bar:
            out = segment_video(segmenter, embeddings, [q.labels for q in queries], tracks, self.options, self.seed,
                                frames=range(len(video)), progress=bar, on_frame=on_frame)
            embeddings.release(range(len(video)))
        return out

    # -- step 4 -------------------------------------------------------------------------------------
    def reinit(self, video: Video, queries: Sequence[ObjectQueries], embeddings: Optional[EmbeddingCache] = None,
               progress: bool = False, segmenter: Any = None, tracker: Any = None) -> tuple[SegmentationOutput, list[Tracks]]:
        """Re-initialised tracking and segmentation (``options.reinit_variant`` must be set)."""
        if self.options.reinit_variant is None:
            raise ValueError("pipeline.reinit_variant is not set")
        embeddings = embeddings or EmbeddingCache(self.segmenter, video, capacity=self.options.reinit_horizon + 1)
        segmenter = segmenter or self.segmenter
        T = len(video)
        output = SegmentationOutput(MaskStore(T, len(queries), video.size), np.full((T, len(queries)), np.nan, np.float32),
                                    [[None] * len(queries) for _ in range(T)])

        def segment(embedding, points, rng):
            return segment_frame(segmenter, embedding, points, self.options, rng)

        def resample(mask, frame, index, seed):
            q = sample_query_points(mask, video[frame], frame, queries[index].object_id, self.positive_sampler,
                                    self.negative_sampler, self.options.positive_points, self.options.negative_points, seed)
            return q

        with _progress(None, "segmenting (re-initialised)", progress) as bar:
            tracks = run_reinit(video, queries, tracker or self.tracker, embeddings, segment, resample, self.options, self.seed,
                                output, progress=bar)
        return output, tracks

    # -- everything ---------------------------------------------------------------------------------
    def run(self, video: Video, objects: Sequence[ObjectPrompt], progress: bool = False,
            on_frame: Optional[Callable[[int, np.ndarray], None]] = None, keep_masks: bool = True) -> SamPtResult:
        """Segment ``objects`` through ``video``.

        ``on_frame(t, label_map)`` receives each frame's label map, in frame order, as soon as it is final
        (during segmentation; with re-initialisation, whose horizons revisit frames, after it). With
        ``keep_masks=False`` a streamed frame's masks are then dropped, so memory does not grow with the
        video's length (the result keeps scores, tracks and prompts, and its masks read as empty).
        """
        if not objects:
            raise UsageError("no objects to segment: give a mask or clicked points")
        timed = _TimedSegmenter(self.segmenter)
        capacity = self.options.reinit_horizon + 1 if self.options.reinit_variant else 1
        embeddings = EmbeddingCache(self.segmenter, video, capacity=capacity)
        started = time.perf_counter()
        queries = self.query_points(video, objects, embeddings)
        query_seconds = time.perf_counter() - started
        tracker = _TimedTracker(self.tracker)
        ids = [o.object_id for o in objects]

        def stream(t: int, out: SegmentationOutput) -> None:
            on_frame(t, out.store.label_map(t, ids))
            if not keep_masks:
                out.store.release(t)

        if self.options.reinit_variant is None:
            tracks = self.track(video, queries, tracker, progress)
            output = self.segment(video, queries, tracks, embeddings, progress, segmenter=timed,
                                  on_frame=stream if on_frame is not None else None)
        else:
            output, tracks = self.reinit(video, queries, embeddings, progress, segmenter=timed, tracker=tracker)
            if on_frame is not None:
                for t in range(len(video)):
                    stream(t, output)
        total = time.perf_counter() - started
        timings = {"tracking": tracker.seconds, "encoding": embeddings.encode_seconds, "decoding": timed.decode_seconds}
        timings["other"] = max(0.0, total - sum(timings.values()))
        timings["total"] = total
        timings["query_points"] = query_seconds
        return SamPtResult([o.object_id for o in objects], output.store, output.iou, list(queries), list(tracks),
                           output.prompts, timings, embeddings.encoder_calls)


def _progress(total: Optional[int], desc: str, enabled: bool, unit: str = "frame"):
    """A progress bar (:func:`sampt.progress.progress_bar`) used as a context manager."""
    from sampt.progress import progress_bar

    return progress_bar(total=total, desc=desc, unit=unit, enabled=enabled)
