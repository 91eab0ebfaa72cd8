"""The image encoder's speed options (bfloat16 autocast, channels-last) on keyed MobileSAM: float32 stays
the default, channels-last computes the same embedding, bfloat16 a close one (its mask effect is measured
in benchmarks/bench_encoder_options.py)."""
import numpy as np
import pytest
import torch

from sampt_sam.segmenter import SamSegmenter
from sampt_sam.testing import keyed_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path, _ = keyed_checkpoint("mobile_sam", tmp_path_factory.mktemp("sam") / "mobile_sam.pth")
    return str(path)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _features(checkpoint, image, **options):
    seg = SamSegmenter("mobile_sam", checkpoint=checkpoint, device="cpu", **options)
    return seg, seg.encode(image).data.features


def test_options_change_the_encoder_only_as_documented(checkpoint, image):
    default, ref = _features(checkpoint, image)
    assert not default.bfloat16 and not default.channels_last and not default.half
    cl_seg, cl = _features(checkpoint, image, channels_last=True)
    assert cl_seg.channels_last
    torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-4)
    bf_seg, bf = _features(checkpoint, image, precision="bfloat16")
    assert bf_seg.bfloat16 and bf.dtype == torch.float32
    assert next(bf_seg.model.image_encoder.parameters()).dtype == torch.float32  # autocast, not a cast
    assert not torch.equal(bf, ref), "bfloat16 autocast had no effect"
    assert float((bf - ref).norm() / ref.norm()) < 0.05


def test_unknown_precision_is_refused(checkpoint):
    with pytest.raises(ValueError, match="precision must be one of"):
        SamSegmenter("mobile_sam", checkpoint=checkpoint, device="cpu", precision="int8")
