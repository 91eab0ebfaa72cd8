"""Segmenter.decode is a template method: the base class checks the embedding and mask prompts, groups
prompts by shape and chunks them by max_batch; a segmenter writes only _encode and _decode_batch."""
from __future__ import annotations

import numpy as np
import pytest

import sampt
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import Prediction, Prompt


class Tagged:
    """What the toy segmenter's encode puts in an embedding."""


class BatchRecorder(Segmenter):
    """Answers each prompt with its own point count as IoU; records every batch it is given."""

    low_res_size = (4, 6)
    max_batch = 2
    embedding_type = Tagged

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[int, bool, bool]]] = []

    def _encode(self, image: np.ndarray) -> ImageEmbedding:
        return ImageEmbedding(Tagged(), image.shape[:2])

    def _decode_batch(self, data: Tagged, prompts):
        assert isinstance(data, Tagged)
        self.batches.append([(len(p.points), p.box is not None, p.mask_logits is not None) for p in prompts])
        for p in prompts:
            assert p.mask_logits is None or (p.mask_logits.shape == (1, 4, 6) and p.mask_logits.dtype == np.float32)
        return [Prediction(np.zeros((8, 8), np.float32), np.zeros((4, 6), np.float32), float(len(p.points)))
                for p in prompts]


def _click(n: int, **extra) -> Prompt:
    return Prompt(np.ones((n, 2)), np.ones(n), **extra)


def test_prompts_are_grouped_by_shape_chunked_and_answered_in_order():
    segmenter = BatchRecorder()
    embedding = segmenter.encode(np.zeros((8, 8, 3), np.uint8))
    prompts = [_click(1), _click(2), _click(1), _click(1), _click(1, box=np.array([0, 0, 3, 3])),
               _click(2, mask_logits=np.zeros((4, 6))), _click(1)]
    answers = segmenter.decode(embedding, prompts)
    assert [a.iou for a in answers] == [1, 2, 1, 1, 1, 2, 1]
    assert sorted(map(len, segmenter.batches)) == [1, 1, 1, 2, 2]  # four plain 1-point clicks in chunks of 2
    assert all(len(set(batch)) == 1 for batch in segmenter.batches)  # one shape a batch
    assert sampt.Segmenter.predict(segmenter, embedding, _click(3)).iou == 3


def test_bad_embeddings_and_mask_prompts_are_refused_before_the_model():
    segmenter = BatchRecorder()
    with pytest.raises(TypeError, match="BatchRecorder can only decode embeddings made by its own encode"):
        segmenter.decode(ImageEmbedding(object(), (8, 8)), [_click(1)])
    embedding = segmenter.encode(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"mask prompt must be low-resolution logits of shape \(4, 6\) or \(1, 4, 6\)"):
        segmenter.decode(embedding, [_click(1), _click(1, mask_logits=np.zeros((6, 4)))])
    assert segmenter.batches == []


def test_a_segmenter_overriding_decode_keeps_working():
    class Whole(Segmenter):
        def _encode(self, image):
            return ImageEmbedding(None, image.shape[:2])

        def decode(self, embedding, prompts):
            return [Prediction(np.zeros((2, 2)), np.zeros((256, 256)), 0.5) for _ in prompts]

    segmenter = Whole()
    assert segmenter.predict(segmenter.encode(np.zeros((2, 2, 3), np.uint8)), _click(1)).iou == 0.5
