"""CUDA: the float16 image encoder (``precision="half"``/``"auto"``) against float32, and device "auto"."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sampt.plugins import Registry
from sampt.types import Prompt


def test_auto_precision_is_float32_on_cpu(tmp_path):
    from sampt_sam.testing import keyed_checkpoint

    path, _ = keyed_checkpoint("mobile_sam", tmp_path / "mobile_sam.pth")
    seg = Registry().create("segmenter", "mobile_sam", checkpoint=str(path), device="cpu", precision="auto")
    assert seg.half is False and next(seg.model.image_encoder.parameters()).dtype == torch.float32
    with pytest.raises(ValueError, match=r"precision=.bf16. is out of range: it must be one of float32, half, bfloat16, auto"):
        Registry().create("segmenter", "mobile_sam", checkpoint=str(path), device="cpu", precision="bf16")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["mobile_sam", "light_hq_sam"])
def test_half_encoder_close_to_float32(name, tmp_path):
    from sampt.data.synthetic import make_clip
    from sampt_sam.testing import keyed_checkpoint

    path, _ = keyed_checkpoint(name, tmp_path / f"{name}.pth")
    full = Registry().create("segmenter", name, checkpoint=str(path), device="auto", precision="float32")
    half = Registry().create("segmenter", name, checkpoint=str(path), device="auto", precision="auto")
    assert full.device.type == "cuda" and half.half
    assert next(half.model.image_encoder.parameters()).dtype == torch.float16
    assert next(half.model.mask_decoder.parameters()).dtype == torch.float32
    image = make_clip(seed=1, num_frames=1, height=120, width=160, num_objects=1).video.frames[0]
    a, b = full.encode(image), half.encode(image)
    assert b.data.features.dtype == torch.float32
    rel = (a.data.features - b.data.features).abs().max() / a.data.features.abs().max()
    assert rel < 2e-2
    prompts = [Prompt([[60.0, 50.0], [10.0, 10.0]], [1, 0]), Prompt(box=[20.0, 20.0, 120.0, 100.0])]
    for p, q in zip(full.decode(a, prompts), half.decode(b, prompts)):
        scale = np.abs(p.logits).max()
        assert np.abs(p.logits - q.logits).max() <= 5e-2 * scale and abs(p.iou - q.iou) <= 5e-2 * max(1.0, abs(p.iou))
