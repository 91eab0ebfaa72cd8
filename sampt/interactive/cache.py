"""Image embeddings of an interactive session: each frame encoded at most once, under a memory budget.

A session revisits frames in any order for as long as it lives, so unlike a run it cannot release an
embedding once a frame is done. :class:`SpillingEmbeddingCache` keeps the most recently used embeddings
in memory up to ``budget_bytes`` and spills the others to its folder as float16 (SAM's 4 MB per frame
becomes 2 MB on disk, one ``.npz`` per frame, no pickle: :mod:`sampt.interactive.embedding_file`), reading them back when a frame is needed again: a 1,000-frame video then costs a
few GB of disk, and the segmenter's encoder runs once per frame.

The folder holds a ``cache.json`` naming the format, video and segmenter it belongs to; a folder of
another video, segmenter or format is cleared. A new folder is private (0700): embeddings are data the
user did not ask to share. The folder is the loading process's choice, never a session file's.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from sampt.interactive.embedding_file import EmbeddingFileError, is_tensor, read_embedding, write_embedding
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.outputs import atomic_file
from sampt.pipeline.embeddings import EmbeddingCache
from sampt.types import Video

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
"""Version of the folder's layout (1 held pickles: such a folder is cleared, its files never read)."""


def video_fingerprint(video: Video) -> str:
    """A short digest of the frames (shape and pixels): a cache folder or a saved session names the video
    it belongs to by this."""
    digest = hashlib.sha1(str(video.frames.shape).encode())
    step = max(1, len(video) // 64)  # a sample of frames keeps this fast for long videos, all pixels of each
    for t in range(0, len(video), step):
        digest.update(np.ascontiguousarray(video.frames[t]).tobytes())
    digest.update(np.ascontiguousarray(video.frames[-1]).tobytes())
    return digest.hexdigest()[:16]


def embedding_bytes(data: Any) -> int:
    """Memory held by an embedding's arrays and tensors (what the budget counts)."""
    total = 0
    for leaf in _leaves(data):
        if isinstance(leaf, np.ndarray):
            total += leaf.nbytes
        elif is_tensor(leaf):
            total += leaf.element_size() * leaf.nelement()
    return total


class SpillingEmbeddingCache(EmbeddingCache):
    """An :class:`EmbeddingCache` for a whole session: frames are never forgotten, only moved to disk.

    ``budget_bytes`` bounds the embeddings kept in memory (at least the one in use is kept); the rest are
    written to ``folder`` as float16. ``encoder_calls`` counts encodings, ``disk_reads`` / ``disk_writes``
    the spills. :meth:`flush` writes every in-memory embedding too (before a session is saved), so a
    session loaded later over the same folder encodes nothing again.
    """

    def __init__(self, segmenter: Segmenter, video: Video, folder: str | os.PathLike, budget_bytes: int):
        super().__init__(segmenter, video, capacity=1)
        if budget_bytes < 0:
            raise ValueError(f"embedding memory budget must be >= 0 bytes, got {budget_bytes}")
        self.folder = Path(folder)
        self.budget_bytes = int(budget_bytes)
        self.disk_reads = self.disk_writes = 0
        self._bytes: dict[int, int] = {}
        self._on_disk: set[int] = set()
        self._open_folder()

    # -- the folder ---------------------------------------------------------------------------------
    def _identity(self) -> dict:
        return {"format": CACHE_FORMAT, "video": video_fingerprint(self.video),
                "segmenter": f"{type(self.segmenter).__module__}.{type(self.segmenter).__qualname__}"}

    def _open_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        manifest = self.folder / "cache.json"
        identity = self._identity()
        if manifest.is_file():
            try:
                found = json.loads(manifest.read_text())
            except ValueError:
                found = None
            if found == identity:
                self._on_disk = {int(p.name[6:12]) for p in self.folder.glob("frame-[0-9][0-9][0-9][0-9][0-9][0-9].npz")}
                return
            log.warning("embedding cache %s belongs to another video, segmenter or format; clearing it", self.folder)
        for old in [*self.folder.glob("frame-*.npz"), *self.folder.glob("frame-*.pkl")]:  # .pkl: format 1, unread
            old.unlink()
        with atomic_file(manifest) as tmp:
            tmp.write_text(json.dumps(identity))

    def _path(self, t: int) -> Path:
        return self.folder / f"frame-{t:06d}.npz"

    @property
    def memory_bytes(self) -> int:
        """Bytes of the embeddings held in memory now."""
        return sum(self._bytes.values())

    @property
    def cached_frames(self) -> set[int]:
        """Frames whose embedding exists, in memory or on disk (never to be encoded again)."""
        return set(self._cache) | self._on_disk

    # -- the cache ----------------------------------------------------------------------------------
    def get(self, t: int) -> ImageEmbedding:
        if not 0 <= t < len(self.video):
            raise IndexError(f"frame {t} is outside the video (0..{len(self.video) - 1})")
        embedding = self._cache.pop(t, None)
        if embedding is None and t in self._on_disk:
            embedding = self._read(t)
        if embedding is None:
            embedding = self._encode(t)
        self._cache[t] = embedding  # most recently used last
        self._bytes[t] = embedding_bytes(embedding.data)
        self._evict()
        return embedding

    def release(self, frames: Iterable[int]) -> None:
        """A session may come back to any frame: nothing is dropped (the budget moves frames to disk)."""

    def _evict(self) -> None:
        while len(self._cache) > 1 and self.memory_bytes > self.budget_bytes:
            t = next(iter(self._cache))
            embedding = self._cache.pop(t)
            self._bytes.pop(t, None)
            if t not in self._on_disk:
                self._write(t, embedding)

    def flush(self) -> None:
        """Write every in-memory embedding not yet on disk (they stay in memory too)."""
        for t, embedding in self._cache.items():
            if t not in self._on_disk:
                self._write(t, embedding)

    def _write(self, t: int, embedding: ImageEmbedding) -> None:
        try:
            with atomic_file(self._path(t)) as tmp:
                write_embedding(tmp, tuple(embedding.size), embedding.data)
        except EmbeddingFileError as exc:
            log.warning("embedding of frame %d cannot be spilled (%s); it will be encoded again when needed", t, exc)
            return
        self._on_disk.add(t)
        self.disk_writes += 1

    def _read(self, t: int) -> Optional[ImageEmbedding]:
        try:
            size, data = read_embedding(self._path(t))
        except EmbeddingFileError as exc:
            log.warning("embedding of frame %d in %s is unreadable (%s); encoding it again", t, self.folder, exc)
            self._on_disk.discard(t)
            return None
        self.disk_reads += 1
        return ImageEmbedding(data, size)


def _leaves(data: Any):
    if isinstance(data, np.ndarray) or is_tensor(data):
        yield data
    elif isinstance(data, dict):
        for v in data.values():
            yield from _leaves(v)
    elif isinstance(data, (list, tuple)):
        for v in data:
            yield from _leaves(v)
    elif dataclasses.is_dataclass(data) and not isinstance(data, type):
        for f in dataclasses.fields(data):
            yield from _leaves(getattr(data, f.name))
