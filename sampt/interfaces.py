"""The three component interfaces: :class:`Tracker`, :class:`Segmenter` and :class:`PointSampler`.

Components are plain objects built from config (their ``__init__`` keyword arguments are their config
keys); they hold no global state. All arrays follow :mod:`sampt.types`' conventions.
"""
from __future__ import annotations

import dataclasses
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional, Sequence, TypeVar

import numpy as np

from sampt.types import PointTransform, Prediction, Prompt, Tracks, Video, check_queries


@dataclass(frozen=True)
class TrackerCapabilities:
    """What a tracker supports, so the pipeline can adapt instead of failing deep inside a model.

    ``online``: the tracker can stream frames (:meth:`Tracker.open_stream`), memory independent of length.
    ``any_query_frame``: queries may start after frame 0 (else the pipeline splits/reverses the video).
    ``bidirectional``: a query after frame 0 is also tracked *backward* to the frames before it.
    ``max_side``: the longest frame side the tracker accepts (None: any); larger videos must be resized.
    ``has_visibility`` / ``has_confidence``: whether visibility / confidence are predicted (else all
    points are reported visible / confidence is None).
    ``latency``: for an online tracker, the most frames a stream holds back: frame t's tracks come out of
    :meth:`TrackStream.push` at the latest when frame ``t + latency`` is pushed (0: at once).
    """

    online: bool = False
    any_query_frame: bool = True
    bidirectional: bool = True
    max_side: Optional[int] = None
    has_visibility: bool = True
    has_confidence: bool = False
    latency: int = 0


class TrackStream(ABC):
    """A streaming tracking session: push frames one at a time, receive finished frames' tracks.

    Concatenating (along frames) everything :meth:`push` and :meth:`finish` return gives the tracks of
    every pushed frame, in order. Queries whose frame has not arrived yet are reported invisible.
    """

    @abstractmethod
    def push(self, frame: np.ndarray) -> Tracks:
        """Add one ``(H, W, 3)`` uint8 frame; return the tracks of frames that became final (maybe none)."""

    @abstractmethod
    def finish(self) -> Tracks:
        """Flush: return the tracks of every pushed frame not yet returned."""


class Tracker(ABC):
    """A point tracker: carries query points ``(t, x, y)`` through a video.

    :meth:`track` is a template method: it validates the queries (shape, finite values, query frame inside
    the video, points inside the frame), answers zero queries itself, and calls :meth:`_track`, the
    model's part, with valid float32 queries only. A tracker implements :meth:`_track` (and
    :meth:`open_stream` when it is online, validating there with :meth:`check_queries`).

    ``capabilities`` is a class attribute by default; a tracker whose abilities depend on its options
    (e.g. ``backward_tracking=False``) sets ``self.capabilities`` per instance, and the pipeline reads the
    instance's value.
    """

    capabilities: TrackerCapabilities = TrackerCapabilities()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Adapt a tracker written for plugin API 1 (it overrides :meth:`track` and has no :meth:`_track`):
        its ``track`` becomes its ``_track`` behind the validating template, with a DeprecationWarning."""
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("track")
        if legacy is None or "_track" in cls.__dict__ or not getattr(cls._track, "__isabstractmethod__", False):
            return
        warnings.warn(f"{cls.__module__}.{cls.__qualname__} overrides Tracker.track (sampt plugin API 1, "
                      f"deprecated): rename its track method to _track, which receives validated queries, and "
                      f"declare SAMPT_PLUGIN_API = \"2.0\" in the plugin module", DeprecationWarning, stacklevel=3)
        cls._track = legacy  # type: ignore[method-assign]
        cls.track = Tracker.track  # type: ignore[method-assign]

    def track(self, video: Video, queries: np.ndarray) -> Tracks:
        """Track ``queries`` ``(N, 3)`` through ``video``.

        Returns :class:`Tracks` with ``T = len(video)`` frames. At its query frame a point is at its query
        position and visible. Before the query frame, a tracker with ``bidirectional`` capability reports
        the backward-tracked positions; one without reports the query position, invisible. Invalid
        queries raise ``ValueError`` naming the problem.
        """
        queries = self.check_queries(queries, video.height, video.width, len(video))
        T, N = len(video), len(queries)
        if N == 0:
            confidence = np.zeros((T, 0), np.float32) if self.capabilities.has_confidence else None
            return Tracks(np.zeros((T, 0, 2), np.float32), np.zeros((T, 0), bool), confidence)
        tracks = self._track(video, queries)
        if tracks.points.shape[:2] != (T, N):
            raise RuntimeError(f"{type(self).__name__} returned tracks of shape {tracks.points.shape[:2]} for "
                               f"{N} queries on {T} frames; expected ({T}, {N})")
        return tracks

    @staticmethod
    def check_queries(queries: np.ndarray, height: int, width: int, num_frames: Optional[int] = None) -> np.ndarray:
        """The validation :meth:`track` applies (:func:`sampt.types.check_queries`), for a tracker's other
        entry points (a stream's queries, with ``num_frames=None``)."""
        return check_queries(queries, height, width, num_frames)

    @abstractmethod
    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        """Model-specific tracking of valid queries: float32 ``(N, 3)``, ``N >= 1``, every query frame in
        the video and every point inside the frame. Returns the tracks as :meth:`track` describes."""

    def open_stream(self, queries: np.ndarray, height: int, width: int) -> TrackStream:
        """Start a streaming session (only for trackers whose capabilities say ``online``)."""
        raise NotImplementedError(f"{type(self).__name__} is not an online tracker")


class ImageEmbedding:
    """An opaque per-image embedding returned by :meth:`Segmenter.encode`; ``size`` is ``(H, W)``."""

    def __init__(self, data: Any, size: tuple[int, int]):
        self.data = data
        self.size = size


Answer = TypeVar("Answer")


class Segmenter(ABC):
    """A promptable segmenter: encode an image once, then decode many prompts on that embedding.

    :meth:`encode` counts its calls in ``encoder_calls``, so a run can prove each frame was encoded once.
    :meth:`decode` is a template method: it checks the embedding and the mask prompts, groups the prompts
    by shape and answers each group in chunks of ``max_batch`` through :meth:`_decode_batch`, the model's
    part. A segmenter implements :meth:`_encode` and :meth:`_decode_batch` (a segmenter that cannot batch
    may override :meth:`decode` instead).
    """

    low_res_size: ClassVar[tuple[int, int]] = (256, 256)
    """Shape of ``Prediction.low_res_logits`` (and of a mask prompt)."""
    max_batch: int = 64
    """The most prompts :meth:`_decode_batch` receives in one call."""
    embedding_type: ClassVar[Optional[type]] = None
    """The type :meth:`_encode` puts in ``ImageEmbedding.data``; :meth:`decode` refuses any other (None:
    no check)."""
    predicts_iou: ClassVar[bool] = True
    """Whether ``Prediction.iou`` is a learned estimate of the mask's IoU (SAM's head). False for a segmenter
    whose ``iou`` is only a proxy for the pipeline's threshold: quality records then report NaN, never it."""

    def __init__(self) -> None:
        self.encoder_calls = 0

    def encode(self, image: np.ndarray) -> ImageEmbedding:
        """Compute the embedding of one ``(H, W, 3)`` uint8 RGB image."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"segmenter input must be an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        self.encoder_calls = getattr(self, "encoder_calls", 0) + 1
        return self._encode(image)

    @abstractmethod
    def _encode(self, image: np.ndarray) -> ImageEmbedding:
        """Model-specific encoding."""

    def decode(self, embedding: ImageEmbedding, prompts: Sequence[Prompt]) -> list[Prediction]:
        """Answer each prompt with a single mask (no multimask choice), in batches of one shape."""
        return self.in_batches(embedding, prompts, self._decode_batch)

    def _decode_batch(self, data: Any, prompts: Sequence[Prompt]) -> list[Prediction]:
        """Model-specific decoding of 1 to ``max_batch`` prompts of one shape (the same number of points,
        the same presence of box and mask prompt; a mask prompt ``(1, h, w)`` float32 of
        ``low_res_size``) on ``data``, the embedding's own data: one answer per prompt, in order."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _decode_batch nor decode")

    def in_batches(self, embedding: ImageEmbedding, prompts: Sequence[Prompt],
                   decode_batch: Callable[[Any, list[Prompt]], list[Answer]]) -> list[Answer]:
        """``decode_batch(data, prompts)`` over ``prompts`` grouped by shape and chunked by ``max_batch``,
        after checking the embedding's type and every mask prompt; the answers in the prompts' order."""
        data = embedding.data
        if self.embedding_type is not None and not isinstance(data, self.embedding_type):
            raise TypeError(f"{type(self).__name__} can only decode embeddings made by its own encode(), "
                            f"got {type(data).__name__}")
        checked = [self.check_mask_prompt(p) for p in prompts]
        groups: dict[tuple[int, bool, bool], list[int]] = {}
        for i, p in enumerate(checked):
            groups.setdefault((len(p.points), p.box is not None, p.mask_logits is not None), []).append(i)
        answers: list[Any] = [None] * len(checked)
        size = max(1, int(self.max_batch))
        for members in groups.values():
            for start in range(0, len(members), size):
                chunk = members[start:start + size]
                for i, answer in zip(chunk, decode_batch(data, [checked[i] for i in chunk])):
                    answers[i] = answer
        return answers

    def check_mask_prompt(self, prompt: Prompt) -> Prompt:
        """``prompt`` with its mask prompt as ``(1, h, w)`` float32 logits of ``low_res_size``; a mask of
        another shape raises ``ValueError`` naming the shape expected."""
        if prompt.mask_logits is None:
            return prompt
        h, w = self.low_res_size
        logits = np.asarray(prompt.mask_logits, np.float32)
        if logits.shape not in ((h, w), (1, h, w)):
            raise ValueError(f"a mask prompt must be low-resolution logits of shape {(h, w)} or (1, {h}, {w}) "
                             f"(an earlier Prediction's low_res_logits), got {logits.shape}")
        return dataclasses.replace(prompt, mask_logits=logits.reshape(1, h, w))

    def decode_candidates(self, embedding: ImageEmbedding, prompts: Sequence[Prompt]) -> list[list[Prediction]]:
        """Several candidate masks per prompt where the model has them (SAM's three outputs for an ambiguous
        click, which automatic mask generation keeps or drops one by one); by default :meth:`decode`'s one
        answer per prompt."""
        return [[p] for p in self.decode(embedding, prompts)]

    def coordinate_transform(self, size: tuple[int, int]) -> PointTransform:
        """The exact map from an ``(H, W)`` image's point and box coordinates to the model's input
        coordinates (SAM: its ``ResizeLongestSide`` factors, one per axis); identity by default. Only used to
        reproduce the SAM-PT reference's refinement box, which skips this map, on purpose."""
        return PointTransform()

    def predict(self, embedding: ImageEmbedding, prompt: Prompt) -> Prediction:
        """Decode one prompt."""
        return self.decode(embedding, [prompt])[0]


class PointSampler(ABC):
    """Chooses query points inside a boolean mask. Every choice is driven by ``seed``."""

    @abstractmethod
    def sample(self, mask: np.ndarray, n: int, seed: int = 0, image: Optional[np.ndarray] = None) -> np.ndarray:
        """Return up to ``n`` points ``(k, 2)`` float32 ``(x, y)`` lying in ``mask`` (``(H, W)`` bool).

        ``image`` is the ``(H, W, 3)`` uint8 frame the mask belongs to (samplers that look at image
        content, such as corner detection, need it). Fewer than ``n`` points come back only when the mask
        has fewer than ``n`` pixels. An empty mask raises ``ValueError``.
        """
