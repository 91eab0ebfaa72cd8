"""With the official checkpoints (``SAMPT_REAL_CHECKPOINTS=1``; fetched into the cache by the weights
manager when missing): each variant segments a synthetic object from a box and a point. The keyed-weights
tests (test_sam_tiny_parity.py, test_sam_vit.py) cover the same code path without checkpoints."""
from __future__ import annotations

import os

import numpy as np
import pytest

from sampt_sam.plugin import VARIANTS

pytestmark = [
    pytest.mark.checkpoint,
    pytest.mark.skipif(os.environ.get("SAMPT_REAL_CHECKPOINTS") != "1",
                       reason="needs the official SAM-family checkpoints (set SAMPT_REAL_CHECKPOINTS=1)"),
]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_segments_synthetic_object(name):
    from sampt.data.synthetic import make_clip
    from sampt.plugins import Registry
    from sampt.types import Prompt

    clip = make_clip(seed=4, num_frames=1, height=240, width=320, num_objects=1, object_size=0.4)
    gt = clip.masks[0, 0]
    ys, xs = np.nonzero(gt)
    segmenter = Registry().create("segmenter", name)
    embedding = segmenter.encode(clip.video.frames[0])
    centre = np.array([[xs.mean(), ys.mean()]], np.float32)
    if not gt[int(round(centre[0, 1])), int(round(centre[0, 0]))]:
        centre = np.array([[xs[len(xs) // 2], ys[len(ys) // 2]]], np.float32)
    prompt = Prompt(centre, [1], box=[xs.min() - 2, ys.min() - 2, xs.max() + 2, ys.max() + 2])
    mask = segmenter.predict(embedding, prompt).mask
    iou = (mask & gt).sum() / (mask | gt).sum()
    assert iou > 0.6, f"{name}: IoU {iou:.2f} with the synthetic object"
