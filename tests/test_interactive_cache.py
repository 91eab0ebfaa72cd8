"""The session's embedding cache: spilled as float16 under a memory budget, read back in its own shape."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sampt.interactive.cache import SpillingEmbeddingCache, embedding_bytes
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import Video


@dataclass
class Features:
    image: np.ndarray
    interm: tuple
    size: tuple


class DataclassSegmenter(Segmenter):
    def _encode(self, image):
        base = image.astype(np.float32) / 7.0
        return ImageEmbedding(Features(base, (base[:2] * 3, np.arange(4, dtype=np.int32)), (1, 2)), image.shape[:2])

    def decode(self, embedding, prompts):
        raise NotImplementedError


def _video(n=5):
    rng = np.random.default_rng(0)
    return Video(rng.integers(0, 255, (n, 6, 8, 3), dtype=np.uint8))


def test_interactive_cache_spills_float16_and_rebuilds_the_structure(tmp_path):
    video = _video()
    seg = DataclassSegmenter()
    per_frame = embedding_bytes(seg._encode(video[0]).data)
    cache = SpillingEmbeddingCache(seg, video, tmp_path, budget_bytes=2 * per_frame)
    first = [cache.get(t).data.image.copy() for t in range(5)]
    assert seg.encoder_calls == 5 and cache.memory_bytes <= 2 * per_frame and cache.disk_writes == 3
    back = cache.get(0).data
    assert isinstance(back, Features) and back.image.dtype == np.float32 and back.interm[1].dtype == np.int32
    np.testing.assert_array_equal(back.image, first[0].astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(back.interm[1], np.arange(4))
    assert back.size == (1, 2) and seg.encoder_calls == 5 and cache.disk_reads == 1
    # a new cache over the same folder, video and segmenter encodes nothing; another video clears it
    cache.flush()
    again = SpillingEmbeddingCache(seg, video, tmp_path, budget_bytes=0)
    [again.get(t) for t in range(5)]
    assert again.encoder_calls == 0
    other = SpillingEmbeddingCache(seg, _video(3), tmp_path, budget_bytes=0)
    other.get(0)
    assert other.encoder_calls == 1
    with pytest.raises(IndexError, match="outside the video"):
        other.get(3)


def test_interactive_cache_restores_torch_tensors_with_their_dtype(tmp_path):
    torch = pytest.importorskip("torch")

    class TorchSegmenter(DataclassSegmenter):
        def _encode(self, image):
            return ImageEmbedding({"f": torch.from_numpy(image.astype(np.float32)), "n": torch.arange(3)}, image.shape[:2])

    video = _video(2)
    cache = SpillingEmbeddingCache(TorchSegmenter(), video, tmp_path, budget_bytes=0)
    cache.get(0)
    cache.get(1)
    data = cache.get(0).data
    assert data["f"].dtype == torch.float32 and data["n"].dtype == torch.int64
    np.testing.assert_array_equal(data["f"].numpy(), video[0].astype(np.float32))  # integers survive float16


def test_an_embedding_file_names_no_code_to_run(tmp_path):
    """A spilled embedding is arrays plus a JSON description: a description naming a function, a class
    that is not a loaded dataclass, an object array or a torch attribute that is not a dtype is refused."""
    import json

    from sampt.interactive.embedding_file import EmbeddingFileError, read_embedding, write_embedding

    write_embedding(tmp_path / "ok.npz", (6, 8), Features(np.ones((2, 2), np.float32), (np.arange(3),), (1, 2)))
    size, back = read_embedding(tmp_path / "ok.npz")
    assert size == (6, 8) and isinstance(back, Features) and back.image.dtype == np.float32
    for data in [{"dataclass": "os:system", "fields": {}}, {"dataclass": "subprocess:Popen", "fields": {}},
                 {"dataclass": f"{__name__}:Features.__init__", "fields": {}},
                 {"array": 0, "dtype": "O"}, {"array": 0, "dtype": "load", "device": "cpu"},
                 {"value": {"a": 1}}, {"nope": 1}]:
        head = np.frombuffer(json.dumps({"format": 2, "size": [6, 8], "data": data}).encode(), np.uint8)
        np.savez(tmp_path / "bad.npz", head=head, a0=np.zeros(2))
        with pytest.raises(EmbeddingFileError):
            read_embedding(tmp_path / "bad.npz")
    with pytest.raises(EmbeddingFileError, match="cannot be stored"):
        write_embedding(tmp_path / "obj.npz", (6, 8), {"f": object()})
