"""The run context: what the SAM-PT steps of one run share.

Every step function (:mod:`~sampt.pipeline.query_points`, :mod:`~sampt.pipeline.tracking`,
:mod:`~sampt.pipeline.prompting`, :mod:`~sampt.pipeline.reinit`) takes a :class:`RunContext` first. It
holds the run's components, options and seed, the embedding cache (each frame encoded at most once per
run) and the timings; it is the one place where

* the segmenter is called (:meth:`RunContext.decode`, timed as ``decoding``) and frames are encoded
  (:meth:`RunContext.embedding`, timed by the cache as ``encoding``);
* the tracker's time is measured (``timings.measure("tracking")``);
* the run's seed is turned into the seeds and generators of each random choice (``*_seed``, ``*_rng``),
  so every offset is named and documented once.

A context is created by :meth:`sampt.pipeline.SamPt.context` (or directly) for one video and lives as long
as the caller keeps it: a session that edits a video interactively keeps one context and its embeddings.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import numpy as np

from sampt.interfaces import ImageEmbedding, PointSampler, Segmenter, Tracker
from sampt.pipeline.embeddings import EmbeddingCache
from sampt.pipeline.options import SamPtOptions
from sampt.types import Prediction, Prompt, Video

QUERY_SEED_STRIDE = 1000
"""Seeds of consecutive objects' query points are this far apart: an object's positive sampler draws with
its seed and its negative sampler with seed + 1, so the objects' draws never share a seed."""
REINIT_SEED_STRIDE = 7919
"""Seeds of re-sampled query points are this far apart per horizon position (a prime, larger than any
object count, so (position, object) pairs never share a seed)."""


@dataclass
class Timings:
    """Seconds spent per stage (``tracking``, ``encoding``, ``decoding``, ...), accumulated over a run."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to ``stage`` (even when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def get(self, stage: str) -> float:
        return self.seconds.get(stage, 0.0)


@dataclass
class RunContext:
    """The state one SAM-PT run's steps share: components, options, seed, embeddings and timings.

    ``embeddings`` defaults to a cache over ``video`` sized for the options (one frame; the horizon plus
    one with re-initialisation). ``timings`` accumulates ``tracking`` and ``decoding`` seconds; encoding
    seconds are kept by the cache (:meth:`timing_report` merges them).
    """

    video: Video
    tracker: Tracker
    segmenter: Segmenter
    positive_sampler: PointSampler
    negative_sampler: PointSampler
    options: SamPtOptions = field(default_factory=SamPtOptions)
    seed: int = 0
    embeddings: Optional[EmbeddingCache] = None
    timings: Timings = field(default_factory=Timings)

    def __post_init__(self) -> None:
        if self.embeddings is None:
            self.embeddings = EmbeddingCache(self.segmenter, self.video, capacity=embedding_capacity(self.options))

    # -- the segmenter ------------------------------------------------------------------------------
    def embedding(self, t: int) -> ImageEmbedding:
        """Frame ``t``'s embedding (encoded once, then from the cache)."""
        return self.embeddings.get(t)

    def decode(self, embedding: ImageEmbedding, prompts: Sequence[Prompt]) -> list[Prediction]:
        """The segmenter's answers to ``prompts`` on ``embedding``, timed as ``decoding``."""
        with self.timings.measure("decoding"):
            return self.segmenter.decode(embedding, prompts)

    # -- seeds: every random choice of a run derives from ``seed`` here ------------------------------
    def frame_rng(self, t: int, horizon_start: Optional[int] = None) -> np.random.Generator:
        """The generator for frame ``t``'s choices (capping other objects' negatives); with
        re-initialisation also keyed by the horizon's start, since a frame is segmented once per horizon."""
        key = [self.seed, t] if horizon_start is None else [self.seed, t, horizon_start]
        return np.random.default_rng(key)

    def query_seed(self, object_index: int) -> int:
        """The sampler seed of object ``object_index``'s first query points (see :data:`QUERY_SEED_STRIDE`)."""
        return self.seed + QUERY_SEED_STRIDE * object_index

    def reinit_seed(self, position: int, object_index: int) -> int:
        """The sampler seed of an object's points re-sampled at horizon ``position`` (see
        :data:`REINIT_SEED_STRIDE`)."""
        return self.seed + REINIT_SEED_STRIDE * position + object_index

    def backward(self) -> "RunContext":
        """The same context for the backward half of a re-initialised run: seed + 1, so its draws differ
        from the forward half's; components, embeddings and timings are shared."""
        return dataclasses.replace(self, seed=self.seed + 1)

    # -- report -------------------------------------------------------------------------------------
    def timing_report(self, total: float) -> dict[str, float]:
        """Seconds per stage: ``tracking``, ``encoding``, ``decoding``, ``other`` (the rest of ``total``),
        ``total``, and any further stages measured (``query_points``)."""
        report = {"tracking": self.timings.get("tracking"), "encoding": self.embeddings.encode_seconds,
                  "decoding": self.timings.get("decoding")}
        report["other"] = max(0.0, total - sum(report.values()))
        report["total"] = total
        for stage, seconds in self.timings.seconds.items():
            report.setdefault(stage, seconds)
        return report


def embedding_capacity(options: SamPtOptions) -> int:
    """Embeddings a run keeps: one frame, or a re-initialisation horizon plus its query frame."""
    return options.reinit_horizon + 1 if options.reinit_variant else 1
