"""A cache of image embeddings so each frame is encoded at most once per run.

The plain pipeline visits frames in order and needs one embedding at a time; re-initialisation revisits
the frames of the current horizon, and a bidirectional run visits the frames between the objects'
query frames in both directions. Callers say which frames may be needed again (``pin``) and which never
will (``release_before``), so memory stays bounded by the horizon plus the pinned frames.
"""
from __future__ import annotations

import time
from typing import Iterable

from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import Video


class EmbeddingCache:
    """Encodes frames of ``video`` on demand with ``segmenter``; counts calls and encoding time."""

    def __init__(self, segmenter: Segmenter, video: Video, capacity: int = 1):
        self.segmenter, self.video, self.capacity = segmenter, video, max(1, capacity)
        self._cache: dict[int, ImageEmbedding] = {}
        self._pinned: set[int] = set()
        self.encoder_calls = 0
        self.encode_seconds = 0.0

    @property
    def num_frames(self) -> int:
        return len(self.video)

    @property
    def size(self) -> tuple[int, int]:
        return self.video.size

    def pin(self, frames: Iterable[int]) -> None:
        """Keep these frames' embeddings once computed, until :meth:`unpin`."""
        self._pinned.update(frames)

    def unpin(self) -> None:
        self._pinned.clear()
        self._evict()

    def release(self, frames: Iterable[int]) -> None:
        """Drop the unpinned embeddings of ``frames``: the caller will not ask for them again."""
        for t in frames:
            if t not in self._pinned:
                self._cache.pop(t, None)

    def get(self, t: int) -> ImageEmbedding:
        embedding = self._cache.pop(t, None)
        if embedding is None:
            embedding = self._encode(t)
        self._cache[t] = embedding  # most recently used last
        self._evict()
        return embedding

    def _encode(self, t: int) -> ImageEmbedding:
        """Frame ``t``'s embedding from the segmenter, counted and timed."""
        start = time.perf_counter()
        embedding = self.segmenter.encode(self.video[t])
        self.encode_seconds += time.perf_counter() - start
        self.encoder_calls += 1
        return embedding

    def _evict(self) -> None:
        unpinned = [t for t in self._cache if t not in self._pinned]
        while len(unpinned) > self.capacity:
            del self._cache[unpinned.pop(0)]
