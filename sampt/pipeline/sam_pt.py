"""The SAM-PT pipeline object: composes the four steps, each in its own module.

    query_points.py  ->  tracking.py  ->  prompting.py   (or reinit.py, which loops over all three)

The steps share one :class:`~sampt.pipeline.context.RunContext` per run (:meth:`SamPt.context`). A
:class:`SamPt` is built from config (:func:`sampt.config.build_pipeline`) or directly from components, and
holds no state between runs besides its components.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.interfaces import PointSampler, Segmenter, Tracker
from sampt.pipeline.context import RunContext
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.prompting import segment_video
from sampt.pipeline.quality import FrameQuality, QualityMeter, QualityThresholds
from sampt.pipeline.query_points import ObjectPrompt, ObjectQueries, query_points
from sampt.pipeline.reinit import run_reinit
from sampt.pipeline.store import MaskStore, SegmentationOutput, StoredMasksView
from sampt.pipeline.streaming import StreamedFrame, declared_latency
from sampt.pipeline.streaming import stream as stream_frames
from sampt.pipeline.tracking import track_objects
from sampt.types import POSITIVE, Tracks, Video

log = logging.getLogger(__name__)


@dataclass
class SamPtResult(StoredMasksView):
    """What a run produced.

    ``store`` holds each object's mask on each frame (:meth:`mask`, :meth:`label_map`, :attr:`masks`);
    ``iou`` ``(T, O)`` the segmenter's predicted IoU (NaN where the object had no prompt); ``scores``
    ``(O,)`` the mean of those over prompted frames (rejected frames included), for ranking objects;
    ``queries`` the objects' (first) query points; ``tracks`` per object, the tracks of the query points
    in use; ``prompts[t][o]`` the ``(points, labels)`` actually given to the segmenter on frame t;
    ``timings`` seconds per stage; ``encoder_calls`` how many frames were encoded; ``quality`` each
    (frame, object) mask's measures and flags (:class:`~sampt.pipeline.quality.FrameQuality`).
    """

    object_ids: list[int]
    store: MaskStore
    iou: np.ndarray
    queries: list[ObjectQueries]
    tracks: list[Tracks]
    prompts: list
    timings: dict[str, float] = field(default_factory=dict)
    encoder_calls: int = 0
    quality: Optional[FrameQuality] = None

    @property
    def scores(self) -> np.ndarray:
        iou = self.iou
        counts = np.sum(~np.isnan(iou), axis=0)
        return np.where(counts > 0, np.nansum(iou, axis=0) / np.maximum(counts, 1), 0.0)

    @property
    def masks(self) -> np.ndarray:
        """``(T, O, H, W)`` bool (materialised)."""
        return self.store.masks()


class SamPt:
    """SAM-PT: query points -> tracking -> prompting (-> re-initialisation).

    ``options`` are taken as given (a :class:`SamPtOptions` checks its values when it is created).
    Each step method runs on a fresh :class:`RunContext`; :meth:`run` shares one across all steps.
    """

    def __init__(self, tracker: Tracker, segmenter: Segmenter, positive_sampler: PointSampler,
                 negative_sampler: PointSampler, options: Optional[SamPtOptions] = None, seed: int = 0):
        self.tracker, self.segmenter = tracker, segmenter
        self.positive_sampler, self.negative_sampler = positive_sampler, negative_sampler
        self.options = options if options is not None else SamPtOptions()
        self.seed = seed

    def context(self, video: Video) -> RunContext:
        """A fresh run context for ``video``: this pipeline's components, options and seed, an empty
        embedding cache and zeroed timings."""
        return RunContext(video, self.tracker, self.segmenter, self.positive_sampler, self.negative_sampler,
                          self.options, self.seed)

    # -- step 1 -------------------------------------------------------------------------------------
    def query_points(self, video: Video, objects: Sequence[ObjectPrompt]) -> list[ObjectQueries]:
        """Each object's query points (and query mask); clicked objects get their mask from the segmenter."""
        return query_points(self.context(video), objects)

    # -- step 2 -------------------------------------------------------------------------------------
    def track(self, video: Video, queries: Sequence[ObjectQueries]) -> list[Tracks]:
        """Tracks of every object's query points through the whole video."""
        return track_objects(self.context(video), queries)

    # -- step 3 -------------------------------------------------------------------------------------
    def segment(self, video: Video, queries: Sequence[ObjectQueries], tracks: Sequence[Tracks],
                progress: bool = False) -> SegmentationOutput:
        """Masks on every frame from given tracks and visibilities (``tracks[i]`` covers all frames)."""
        return _segment(self.context(video), queries, tracks, progress)

    # -- step 4 -------------------------------------------------------------------------------------
    def reinit(self, video: Video, queries: Sequence[ObjectQueries],
               progress: bool = False) -> tuple[SegmentationOutput, list[Tracks]]:
        """Re-initialised tracking and segmentation (``options.reinit_variant`` must be set)."""
        return _reinit(self.context(video), queries, progress)

    # -- streaming ----------------------------------------------------------------------------------
    def stream(self, source: Any, objects: Sequence[ObjectPrompt],
               open_camera: Optional[Callable[[Any], Iterator[np.ndarray]]] = None) -> Iterator[StreamedFrame]:
        """Segment ``objects`` through a stream of frames, yielding ``(t, label_map, objects_info)`` (a
        :class:`~sampt.pipeline.streaming.StreamedFrame`) as soon as frame t is final.

        ``source``: a video path or frame folder (decoded lazily), a camera index or URL, a :class:`Video`, a
        ``(T, H, W, 3)`` array or any iterator of ``(H, W, 3)`` uint8 frames. Online trackers stream with
        their declared latency; offline trackers are run on overlapping chunks; with re-initialisation the
        horizons run as their frames arrive (see :mod:`sampt.pipeline.streaming`). Nothing is kept for frames
        already yielded. ``open_camera(target)`` opens a camera source (default: OpenCV; see
        :mod:`sampt.sources`).
        """
        return stream_frames(self.context, source, objects, open_camera)

    def stream_latency(self, query_frame: int = 0, size: Optional[tuple[int, int]] = None) -> int:
        """The most frames :meth:`stream` holds a frame back (see :func:`~sampt.pipeline.streaming.declared_latency`)."""
        return declared_latency(self.tracker, self.options, query_frame, size)

    # -- everything ---------------------------------------------------------------------------------
    def run(self, video: Video | str | np.ndarray, objects: Sequence[ObjectPrompt], progress: bool = False,
            on_frame: Optional[Callable[[int, np.ndarray], None]] = None, keep_masks: bool = True) -> SamPtResult:
        """Segment ``objects`` through ``video`` (a :class:`Video`, a path to a video file or folder of frames,
        or a ``(T, H, W, 3)`` uint8 array).

        ``on_frame(t, label_map)`` receives each frame's label map, in frame order, as soon as it is final
        (during segmentation; with re-initialisation, whose horizons revisit frames, after it). With
        ``keep_masks=False`` a streamed frame's masks are then dropped, so memory does not grow with the
        video's length (the result keeps scores, tracks and prompts, and its masks read as empty).
        """
        from sampt.io import as_video

        video = as_video(video)
        objects = [objects] if isinstance(objects, ObjectPrompt) else list(objects)
        if not objects:
            raise UsageError("no objects to segment: give a mask or clicked points")
        ctx = self.context(video)
        started = time.perf_counter()
        with ctx.timings.measure("query_points"):
            queries = query_points(ctx, objects)
        ids = [o.object_id for o in objects]
        meter = QualityMeter(len(video), [int(np.sum(q.labels == POSITIVE)) for q in queries])

        def stream(t: int, out: SegmentationOutput) -> None:
            meter.measure(t, out.store, out.prompts[t])
            if on_frame is not None:
                on_frame(t, out.store.label_map(t, ids))
                if not keep_masks:
                    out.store.release(t)

        if self.options.reinit_variant is None:
            with _progress(len(queries), "tracking", progress, unit="object") as bar:
                tracks = track_objects(ctx, queries, progress=bar)
            output = _segment(ctx, queries, tracks, progress, on_frame=stream)
        else:
            output, tracks = _reinit(ctx, queries, progress)
            for t in range(len(video)):
                stream(t, output)
        ctx.embeddings.unpin()
        timings = ctx.timing_report(time.perf_counter() - started)
        quality = meter.report(ids, output.iou, self.segmenter.predicts_iou, QualityThresholds.from_options(self.options))
        return SamPtResult(ids, output.store, output.iou, list(queries), list(tracks), output.prompts, timings,
                           ctx.embeddings.encoder_calls, quality)


def _segment(ctx: RunContext, queries: Sequence[ObjectQueries], tracks: Sequence[Tracks], progress: bool,
             on_frame: Optional[Callable[[int, SegmentationOutput], None]] = None) -> SegmentationOutput:
    T = len(ctx.video)
    with _progress(T, "segmenting", progress) as bar:
        out = segment_video(ctx, [q.labels for q in queries], tracks, frames=range(T), progress=bar, on_frame=on_frame)
        ctx.embeddings.release(range(T))
    return out


def _reinit(ctx: RunContext, queries: Sequence[ObjectQueries], progress: bool) -> tuple[SegmentationOutput, list[Tracks]]:
    if ctx.options.reinit_variant is None:
        raise ValueError("pipeline.reinit_variant is not set")
    with _progress(None, "segmenting (re-initialised)", progress) as bar:
        return run_reinit(ctx, queries, progress=bar)


def _progress(total: Optional[int], desc: str, enabled: bool, unit: str = "frame"):
    """A progress bar (:func:`sampt.progress.progress_bar`: off when disabled or stderr is no terminal)."""
    from sampt.progress import progress_bar

    return progress_bar(total=total, desc=desc, unit=unit, enabled=enabled)
