"""SAM 2.1 Hiera-T through the plugin versus the package's own SAM2ImagePredictor (keyed weights).

A keyed checkpoint made from the committed manifest is loaded strictly through the weights manager's
local-path route; the plugin and the predictor each encode the same small image once, then points,
points + box and points + mask prompts are compared, alone and batched. Tolerance: low-res logits within
1e-5 (absolute), masks equal.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sam2.sam2_image_predictor import SAM2ImagePredictor

from sampt.plugins import Registry
from sampt.types import Prompt
from sampt_sam2.testing import keyed_checkpoint

TOL = 1e-5
H, W = 40, 56
VARIANT = "sam2.1_hiera_tiny"


class Setup:
    def __init__(self, tmp_path_factory):
        from sampt.data.synthetic import make_clip

        self.path, self.state = keyed_checkpoint(VARIANT, tmp_path_factory.mktemp("sam2") / "tiny.pt")
        self.segmenter = Registry().create("segmenter", VARIANT, checkpoint=str(self.path), device="cpu")
        self.image = make_clip(seed=5, num_frames=1, height=H, width=W, num_objects=1).video.frames[0]
        self.embedding = self.segmenter.encode(self.image)
        # The predictor drives the very network the plugin loaded (one 39M-parameter model, not two); the
        # loading itself is checked against the keyed state just below.
        self.predictor = SAM2ImagePredictor(self.segmenter.model)
        self.predictor.set_image(self.image)

    def reference(self, prompt: Prompt):
        """The predictor's single-mask answer: (full logits, low-res logits, iou)."""
        mask = None if prompt.mask_logits is None else np.asarray(prompt.mask_logits).reshape(1, 256, 256)
        masks, iou, low = self.predictor.predict(
            point_coords=prompt.points if len(prompt.points) else None,
            point_labels=prompt.labels if len(prompt.points) else None,
            box=prompt.box, mask_input=mask, multimask_output=False, return_logits=True)
        return masks[0], low[0], float(iou[0])

    def check(self, prompt: Prompt, prediction) -> None:
        full, low, iou = self.reference(prompt)
        assert prediction.logits.shape == (H, W) and prediction.low_res_logits.shape == (256, 256)
        err = np.abs(prediction.low_res_logits - low).max()
        assert err <= TOL, f"low-res logits differ by {err:.3g} > {TOL}"
        assert np.array_equal(prediction.mask, full > 0), "masks differ"
        assert abs(prediction.iou - iou) <= TOL


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    return Setup(tmp_path_factory)


def test_checkpoint_loaded_strictly(setup):
    loaded = setup.segmenter.model.state_dict()
    assert loaded.keys() == setup.state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in setup.state.items())


def _points() -> Prompt:
    return Prompt([[20.0, 14.0], [40.5, 30.25], [5.0, 35.0]], [1, 1, 0])


def _points_box() -> Prompt:
    return Prompt([[20.0, 14.0], [3.0, 3.0]], [1, 0], box=[8.0, 6.0, 44.0, 33.0])


def test_points(setup):
    setup.check(_points(), setup.segmenter.predict(setup.embedding, _points()))


def test_points_and_box(setup):
    setup.check(_points_box(), setup.segmenter.predict(setup.embedding, _points_box()))


def test_points_and_mask_input(setup):
    first = setup.segmenter.predict(setup.embedding, _points())
    prompt = Prompt([[20.0, 14.0], [50.0, 5.0]], [1, 0], mask_logits=first.low_res_logits)
    setup.check(prompt, setup.segmenter.predict(setup.embedding, prompt))
    # the fed-back logits are the predictor's own clamped low-res output
    assert np.abs(first.low_res_logits).max() <= 32.0


def test_several_objects_in_one_batch(setup):
    """Three objects of one prompt shape decode in one decoder call and each equals the predictor alone."""
    calls = []
    handle = setup.segmenter.model.sam_mask_decoder.register_forward_hook(
        lambda m, i, o: calls.append(o[0].shape[0]))
    try:
        prompts = [Prompt([[20.0, 14.0], [5.0, 5.0]], [1, 0]),
                   Prompt([[40.0, 30.0], [50.0, 2.0]], [1, 0]),
                   Prompt([[10.0, 30.0], [30.0, 20.0]], [1, 1])]
        preds = setup.segmenter.decode(setup.embedding, prompts)
    finally:
        handle.remove()
    assert calls == [3]
    for p, pred in zip(prompts, preds):
        setup.check(p, pred)
    assert not np.array_equal(preds[0].mask, preds[1].mask) or not np.array_equal(
        preds[0].low_res_logits, preds[1].low_res_logits)


def test_batched_with_box_and_mask(setup):
    """Mixed prompt shapes in one call: each group batched, every answer equal to the predictor's."""
    first = setup.segmenter.predict(setup.embedding, _points())
    prompts = [_points_box(), Prompt([[30.0, 10.0], [3.0, 3.0]], [1, 0], box=[2.0, 2.0, 30.0, 30.0]),
               Prompt([[20.0, 14.0]], [1], mask_logits=first.low_res_logits),
               Prompt([[30.0, 20.0]], [1], mask_logits=first.low_res_logits)]
    for p, pred in zip(prompts, setup.segmenter.decode(setup.embedding, prompts)):
        setup.check(p, pred)


def test_encode_once_keeps_high_res_features(setup):
    data = setup.embedding.data
    assert [tuple(f.shape) for f in data.high_res_feats] == [(1, 32, 256, 256), (1, 64, 128, 128)]
    assert tuple(data.image_embed.shape) == (1, 256, 64, 64)
    ref = setup.predictor._features
    assert torch.equal(data.image_embed, ref["image_embed"])
    for a, b in zip(data.high_res_feats, ref["high_res_feats"]):
        assert torch.equal(a, b)


def test_bad_mask_prompt_is_named(setup):
    with pytest.raises(ValueError, match="low-resolution logits of shape"):
        setup.segmenter.predict(setup.embedding, Prompt([[1.0, 1.0]], [1], mask_logits=np.zeros((64, 64))))
