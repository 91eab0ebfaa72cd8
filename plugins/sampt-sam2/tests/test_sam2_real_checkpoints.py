"""With the official checkpoints (``SAMPT_REAL_CHECKPOINTS=1``; fetched into the cache by the weights manager
when missing): each SAM 2.1 model segments a synthetic object from a box and a point, and ``sam2_video``
follows it. The keyed-weights tests (test_sam2_parity.py, test_sam2_video_bench.py) cover the same code
paths without checkpoints."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = [
    pytest.mark.checkpoint,
    pytest.mark.skipif(os.environ.get("SAMPT_REAL_CHECKPOINTS") != "1",
                       reason="needs the official SAM 2.1 checkpoints (set SAMPT_REAL_CHECKPOINTS=1)"),
]

MODELS = ["sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large"]


def _clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=4, num_frames=4, height=240, width=320, num_objects=1, object_size=0.4)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("name", MODELS)
def test_segments_synthetic_object(name):
    from sampt.plugins import Registry
    from sampt.types import Prompt

    clip = _clip()
    gt = clip.masks[0, 0]
    ys, xs = np.nonzero(gt)
    segmenter = Registry().create("segmenter", name)
    embedding = segmenter.encode(clip.video.frames[0])
    point = np.array([[xs[len(xs) // 2], ys[len(ys) // 2]]], np.float32)
    prompt = Prompt(point, [1], box=[xs.min() - 2, ys.min() - 2, xs.max() + 2, ys.max() + 2])
    assert _iou(segmenter.predict(embedding, prompt).mask, gt) > 0.6


def test_video_method_follows_the_object():
    from sampt.pipeline import ObjectPrompt
    from sampt_sam2.video import Sam2VideoMethod

    clip = _clip()
    result = Sam2VideoMethod(model="sam2.1_hiera_tiny").run(clip.video, [ObjectPrompt(1, 0, mask=clip.masks[0, 0])])
    assert min(_iou(result.mask(t, 0), clip.masks[t, 0]) for t in range(1, 4)) > 0.5
