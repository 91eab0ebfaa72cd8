"""MobileSAM and Light HQ-SAM through the plugin versus the packages' own SamPredictor (keyed weights).

Each variant's keyed checkpoint is written to a temporary file and loaded through the weights manager's
local-path route; the plugin and the package predictor each encode the same small image once, then every
prompt kind (points, box, mask prompt, combinations, batches) is compared. Tolerance: 1e-5.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sampt.interfaces import ImageEmbedding
from sampt.plugins import Registry
from sampt.types import Prompt
from sampt.weights import WeightsError
from sampt_sam.plugin import CHECKPOINTS, VARIANTS
from sampt_sam.testing import keyed_checkpoint, reference_predictor

TOL = 1e-5
H, W = 40, 56


def _image() -> np.ndarray:
    from sampt.data.synthetic import make_clip

    return make_clip(seed=5, num_frames=1, height=H, width=W, num_objects=1).video.frames[0]


class Setup:
    """One variant: the plugin segmenter and the reference predictor, each with the image encoded once."""

    def __init__(self, variant: str, tmp_path_factory):
        self.variant = variant
        self.path, self.state = keyed_checkpoint(variant, tmp_path_factory.mktemp(variant) / f"{variant}.pth")
        self.segmenter = Registry().create("segmenter", variant, checkpoint=str(self.path), device="cpu")
        self.image = _image()
        self.embedding = self.segmenter.encode(self.image)
        self.predictor = reference_predictor(variant, self.state)
        self.predictor.set_image(self.image)
        self.hq = VARIANTS[variant].hq

    def reference(self, prompt: Prompt, hq_token_only: bool = False):
        """The predictor's single-mask answer: (full logits, low-res logits, iou)."""
        mask = None if prompt.mask_logits is None else np.asarray(prompt.mask_logits).reshape(1, 256, 256)
        kwargs = {"hq_token_only": hq_token_only} if self.hq else {}
        masks, iou, low = self.predictor.predict(
            point_coords=prompt.points if len(prompt.points) else None,
            point_labels=prompt.labels if len(prompt.points) else None,
            box=prompt.box, mask_input=mask, multimask_output=False, return_logits=True, **kwargs)
        return masks[0], low[0], float(iou[0])

    def check(self, prompt: Prompt, prediction, hq_token_only: bool = False, batched: bool = False) -> float:
        """Compare with the predictor: absolute tolerance for a prompt decoded alone; for a batched one the
        batched matrix products sum in another order, so the tolerance is relative to the logits' scale."""
        full, low, iou = self.reference(prompt, hq_token_only)
        assert prediction.logits.shape == (H, W) and prediction.low_res_logits.shape == (256, 256)
        err = max(np.abs(prediction.logits - full).max(), np.abs(prediction.low_res_logits - low).max(),
                  abs(prediction.iou - iou))
        scale = max(1.0, np.abs(full).max(), np.abs(low).max(), abs(iou)) if batched else 1.0
        assert err <= TOL * scale, f"{self.variant}: max abs difference {err:.3g} > {TOL} x {scale:.3g}"
        return err


@pytest.fixture(scope="module", params=["mobile_sam", "light_hq_sam"])
def setup(request, tmp_path_factory) -> Setup:
    return Setup(request.param, tmp_path_factory)


def _count_decoder_calls(segmenter) -> list[int]:
    calls = []
    segmenter.model.mask_decoder.register_forward_hook(lambda m, i, o: calls.append(o[0].shape[0]))
    return calls


PROMPTS = {
    "one_point": lambda: Prompt([[20.0, 14.0]], [1]),
    "points_pos_neg": lambda: Prompt([[20.0, 14.0], [40.5, 30.25], [5.0, 35.0]], [1, 1, 0]),
    "box": lambda: Prompt(box=[8.0, 6.0, 44.0, 33.0]),
    "points_and_box": lambda: Prompt([[20.0, 14.0], [3.0, 3.0]], [1, 0], box=[8.0, 6.0, 44.0, 33.0]),
}


def test_registered(setup):
    reg = Registry()
    assert set(VARIANTS) <= set(reg.names("segmenter"))
    assert set(CHECKPOINTS) <= set(reg.weights)
    params = reg.entry("segmenter", setup.variant).parameters()
    assert {"checkpoint", "device", "precision", "max_batch"} <= set(params)
    assert ("hq_token_only" in params) == setup.hq


def test_encode_matches_predictor(setup):
    data = setup.embedding.data
    assert setup.segmenter.encoder_calls == 1
    assert setup.embedding.size == (H, W) and data.original_size == (H, W)
    assert data.input_size == tuple(setup.predictor.input_size)
    assert torch.equal(data.features, setup.predictor.features)
    if setup.hq:
        assert len(data.interm) == 1  # HQ-SAM's decoder reads interm_embeddings[0] only
        assert torch.equal(data.interm[0], setup.predictor.interm_features[0])
    # the segmenter's coordinate map is exactly SamPredictor's, per axis (40x56 -> 731x1024)
    transform = setup.segmenter.coordinate_transform((H, W))
    box = np.array([[3.0, 5.0, 41.0, 37.0]])
    np.testing.assert_array_equal(transform.to_model(box), setup.predictor.transform.apply_boxes(box, (H, W)))
    assert transform.scale_x == 1024 / W and transform.scale_y == 731 / H != transform.scale_x


@pytest.mark.parametrize("kind", sorted(PROMPTS))
def test_prompt_matches_predictor(setup, kind):
    prompt = PROMPTS[kind]()
    prediction = setup.segmenter.predict(setup.embedding, prompt)
    setup.check(prompt, prediction)
    assert np.abs(prediction.logits).max() > 1e-3  # a real answer, not zeros


def test_mask_prompt_matches_predictor(setup):
    first = setup.segmenter.predict(setup.embedding, PROMPTS["points_pos_neg"]())
    low = first.low_res_logits
    for prompt in (Prompt([[20.0, 14.0], [5.0, 35.0]], [1, 0], mask_logits=low),
                   Prompt(mask_logits=low.reshape(1, 256, 256)),  # both accepted shapes
                   Prompt([[20.0, 14.0]], [1], box=[8.0, 6.0, 44.0, 33.0], mask_logits=low)):
        setup.check(prompt, setup.segmenter.predict(setup.embedding, prompt))


def test_batched_decoding_matches_predictor_and_groups_calls(setup):
    rng = np.random.default_rng(0)
    mask = setup.segmenter.predict(setup.embedding, PROMPTS["one_point"]()).low_res_logits
    prompts = []
    for _ in range(3):  # group A: 3 points
        prompts.append(Prompt(rng.uniform([0, 0], [W - 1, H - 1], (3, 2)), [1, 1, 0]))
    for _ in range(2):  # group B: 2 points + box
        x0, y0 = rng.uniform(0, 20, 2)
        prompts.append(Prompt(rng.uniform([0, 0], [W - 1, H - 1], (2, 2)), [1, 0], box=[x0, y0, x0 + 30, y0 + 18]))
    for _ in range(2):  # group C: 3 points + mask
        prompts.append(Prompt(rng.uniform([0, 0], [W - 1, H - 1], (3, 2)), [1, 0, 1], mask_logits=mask))
    order = rng.permutation(len(prompts))
    prompts = [prompts[i] for i in order]
    calls = _count_decoder_calls(setup.segmenter)
    predictions = setup.segmenter.decode(setup.embedding, prompts)
    assert sorted(calls) == [2, 2, 3]  # one decoder call per prompt shape, whatever the order
    assert len(predictions) == len(prompts)
    for prompt, prediction in zip(prompts, predictions):
        setup.check(prompt, prediction, batched=True)
    # max_batch splits a group into chunks; answers do not change
    setup.segmenter.max_batch, calls[:] = 2, []
    try:
        again = setup.segmenter.decode(setup.embedding, prompts)
    finally:
        setup.segmenter.max_batch = 64
    assert sorted(calls) == [1, 2, 2, 2]
    for a, b in zip(predictions, again):
        scale = max(1.0, np.abs(a.logits).max())
        assert np.abs(a.logits - b.logits).max() <= TOL * scale and abs(a.iou - b.iou) <= TOL * scale
    assert setup.segmenter.decode(setup.embedding, []) == []


def test_hq_token_only_matches_predictor(setup):
    if not setup.hq:
        pytest.skip("hq_token_only exists only for HQ-SAM variants")
    prompt = PROMPTS["points_and_box"]()
    setup.segmenter.hq_token_only = True
    try:
        hq_only = setup.segmenter.predict(setup.embedding, prompt)
    finally:
        setup.segmenter.hq_token_only = False
    setup.check(prompt, hq_only, hq_token_only=True)
    default = setup.segmenter.predict(setup.embedding, prompt)
    assert np.abs(default.logits - hq_only.logits).max() > 1e-3  # the option changes the answer


def test_bad_inputs_rejected(setup):
    with pytest.raises(ValueError, match="mask prompt"):
        setup.segmenter.predict(setup.embedding, Prompt(mask_logits=np.zeros((64, 64), np.float32)))
    with pytest.raises(TypeError, match="own encode"):
        setup.segmenter.predict(ImageEmbedding(None, (H, W)), PROMPTS["one_point"]())
    with pytest.raises(ValueError, match="CUDA"):
        Registry().create("segmenter", setup.variant, checkpoint=str(setup.path), device="cpu", precision="half")


def test_checkpoint_without_unused_tinyvit_head_loads(setup, tmp_path):
    """A file without the TinyViT classification head (never used by SAM's forward) is accepted."""
    state = {k: v for k, v in setup.state.items() if not k.startswith(("image_encoder.head.", "image_encoder.norm_head."))}
    assert len(state) < len(setup.state)
    torch.save(state, tmp_path / "nohead.pth")
    seg = Registry().create("segmenter", setup.variant, checkpoint=str(tmp_path / "nohead.pth"), device="cpu")
    loaded = seg.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_wrong_variant_checkpoint_rejected(setup):
    other = "light_hq_sam" if setup.variant == "mobile_sam" else "mobile_sam"
    with pytest.raises(WeightsError, match=rf"does not match {other}.*(missing|unexpected) keys"):
        Registry().create("segmenter", other, checkpoint=str(setup.path), device="cpu")


def test_missing_default_checkpoint_offline_error(setup, tmp_path, monkeypatch):
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    spec = CHECKPOINTS[VARIANTS[setup.variant].checkpoint]
    with pytest.raises(WeightsError) as err:
        Registry().create("segmenter", setup.variant, device="cpu")
    msg = str(err.value)
    assert spec.filename in msg and spec.url in msg and str(tmp_path / "empty-cache") in msg


def test_candidates_match_predictor_multimask(setup):
    """``decode_candidates``: the multimask answers of ``SamPredictor.predict(multimask_output=True)``: SAM's
    three; HQ-SAM's decoder keeps SAM's best one (plus its HQ mask), so one."""
    prompts = [PROMPTS["one_point"](), PROMPTS["box"]()]
    candidates = setup.segmenter.decode_candidates(setup.embedding, prompts)
    assert [len(c) for c in candidates] == [1 if setup.hq else 3] * 2
    kwargs = {"hq_token_only": False} if setup.hq else {}
    for prompt, cands in zip(prompts, candidates):
        masks, iou, low = setup.predictor.predict(
            point_coords=prompt.points if len(prompt.points) else None,
            point_labels=prompt.labels if len(prompt.points) else None,
            box=prompt.box, multimask_output=True, return_logits=True, **kwargs)
        assert len(masks) == len(cands)
        for k, c in enumerate(cands):
            err = max(np.abs(c.logits - masks[k]).max(), np.abs(c.low_res_logits - low[k]).max(), abs(c.iou - iou[k]))
            assert err <= TOL, f"{setup.variant} candidate {k}: {err:.3g}"
    single = setup.segmenter.decode(setup.embedding, prompts[:1])[0]  # decode stays the single-mask answer
    setup.check(prompts[0], single)
