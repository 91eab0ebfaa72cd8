"""The ViT variants (SAM and HQ-SAM, B/L/H) versus the packages' own SamPredictor, with keyed weights.

A ViT-B encoding takes ~30 s on one CPU core, so the suite runs exactly one ViT image encoding (ViT-B,
through the plugin) and is explicit about how the rest is covered:

* ``sam_vit_b``: the plugin loads a keyed checkpoint file through the weights manager and encodes the image
  for real. The reference SamPredictor's encoder (same package class, same keyed weights - asserted) is
  replaced by a *replay* that asserts its input tensor is bit-identical to the one the plugin fed its
  encoder and returns the recorded output; everything the plugin does around the encoder (resize,
  normalisation, padding, sizes) and every decode is then compared with the predictor.
* ``hq_sam_vit_b``: HQ-SAM's keyed ViT-B encoder has the same keys, hence the same weights, as SAM's
  (asserted). Both the plugin's and HQ-SAM's predictor's encoders replay the recorded SAM ViT-B run
  (output and, as HQ-SAM's intermediate features, the outputs of the global-attention blocks) after
  asserting the same bit-identical input; HQ-SAM's decoding path is compared in full.
* ViT-L / ViT-H (SAM and HQ-SAM): no encoding. The architecture the plugin builds is checked against the
  published configuration (depth, width, global-attention blocks, HQ feature width), a ViT-B checkpoint is
  rejected, and decoding on a shared synthetic embedding is compared with the predictor (the decoder side
  is what differs between variants: HQ-SAM's ``compress_vit_feat`` takes the encoder width).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sampt.interfaces import ImageEmbedding
from sampt.plugins import Registry
from sampt.testing import keyed_init
from sampt.types import Prompt
from sampt.weights import WeightsError, load_into
from sampt_sam.plugin import VARIANTS
from sampt_sam.segmenter import SamEmbedding, package, segmenter_class
from sampt_sam.testing import keyed_checkpoint, reference_predictor

TOL = 1e-5
H, W = 36, 52

# Published ViT configurations (segment-anything build_sam.py): depth, width, global-attention blocks.
ARCH = {"vit_b": (12, 768, [2, 5, 8, 11]), "vit_l": (24, 1024, [5, 11, 17, 23]),
        "vit_h": (32, 1280, [7, 15, 23, 31])}

PROMPTS = [
    Prompt([[20.0, 14.0]], [1]),
    Prompt([[20.0, 14.0], [40.5, 30.25], [5.0, 33.0]], [1, 1, 0]),
    Prompt(box=[8.0, 6.0, 44.0, 30.0]),
    Prompt([[21.0, 15.0], [3.0, 3.0]], [1, 0], box=[8.0, 6.0, 44.0, 30.0]),
    Prompt([[30.0, 10.0], [2.0, 30.0], [50.0, 1.0]], [1, 0, 1]),
]


def _image() -> np.ndarray:
    from sampt.data.synthetic import make_clip

    return make_clip(seed=6, num_frames=1, height=H, width=W, num_objects=1).video.frames[0]


def _reference(predictor, prompt: Prompt, hq: bool, hq_token_only: bool = False):
    kwargs = {"hq_token_only": hq_token_only} if hq else {}
    mask = None if prompt.mask_logits is None else np.asarray(prompt.mask_logits).reshape(1, 256, 256)
    masks, iou, low = predictor.predict(
        point_coords=prompt.points if len(prompt.points) else None,
        point_labels=prompt.labels if len(prompt.points) else None,
        box=prompt.box, mask_input=mask, multimask_output=False, return_logits=True, **kwargs)
    return masks[0], low[0], float(iou[0])


def _error(prediction, reference) -> tuple[float, float]:
    """Largest absolute difference to the predictor's answer, and the scale of that answer."""
    full, low, iou = reference
    assert prediction.logits.shape == full.shape and prediction.low_res_logits.shape == low.shape == (256, 256)
    err = max(np.abs(prediction.logits - full).max(), np.abs(prediction.low_res_logits - low).max(),
              abs(prediction.iou - iou))
    return float(err), float(max(1.0, np.abs(low).max(), np.abs(full).max(), abs(iou)))


def _compare_decoding(segmenter, embedding, predictor, hq: bool, prompts: list[Prompt] = PROMPTS) -> float:
    """The prompts one by one (absolute tolerance), then all at once in batches (the batched matrix
    products sum in another order: tolerance relative to the logits' scale), plus mask prompts and, for
    HQ-SAM, ``hq_token_only``, against the predictor. Returns the worst absolute error."""
    single = segmenter.predict(embedding, PROMPTS[1])
    err, _ = _error(single, _reference(predictor, PROMPTS[1], hq))
    assert err <= TOL, f"single prompt: max abs difference {err:.3g} > {TOL}"
    worst = err
    predictions = segmenter.decode(embedding, prompts)
    mask_prompts = [Prompt(p.points, p.labels, p.box, mask_logits=q.low_res_logits)
                    for p, q in zip(prompts[:2], predictions)]
    for prompt, prediction in zip(prompts + mask_prompts, predictions + segmenter.decode(embedding, mask_prompts)):
        err, scale = _error(prediction, _reference(predictor, prompt, hq))
        assert err <= TOL * scale, f"batched: max abs difference {err:.3g} > {TOL} x {scale:.3g}"
        worst = max(worst, err)
    if hq:
        segmenter.hq_token_only = True
        try:
            prediction = segmenter.predict(embedding, PROMPTS[3])
        finally:
            segmenter.hq_token_only = False
        err, _ = _error(prediction, _reference(predictor, PROMPTS[3], hq, hq_token_only=True))
        assert err <= TOL
    return worst


class _Replay:
    """Stands in for an image encoder's forward: checks the input is bit-identical to the recorded one and
    returns the recorded output (a clone)."""

    def __init__(self, expected_input: torch.Tensor, output, hq: bool, interm: list[torch.Tensor]):
        self.expected_input, self.output, self.hq, self.interm, self.calls = expected_input, output, hq, interm, 0

    def __call__(self, x: torch.Tensor):
        assert x.dtype == self.expected_input.dtype and torch.equal(x, self.expected_input), \
            "encoder input differs from the plugin's"
        self.calls += 1
        out = self.output.clone()
        return (out, [t.clone() for t in self.interm]) if self.hq else out


@pytest.fixture(scope="module")
def vit_b(tmp_path_factory):
    """The suite's one ViT encoding: sam_vit_b through the plugin, recording its encoder's input/output."""
    folder = tmp_path_factory.mktemp("vit_b")
    path, state = keyed_checkpoint("sam_vit_b", folder / "sam_vit_b.pth")
    segmenter = Registry().create("segmenter", "sam_vit_b", checkpoint=str(path), device="cpu")
    encoder = segmenter.model.image_encoder
    record: dict = {"interm": []}
    hooks = [encoder.register_forward_hook(lambda m, a, o: record.update(input=a[0].clone(), output=o.clone()))]
    hooks += [encoder.blocks[i].register_forward_hook(lambda m, a, o: record["interm"].append(o.clone()))
              for i in ARCH["vit_b"][2]]
    image = _image()
    embedding = segmenter.encode(image)
    for h in hooks:
        h.remove()
    return SimpleNamespace(path=path, state=state, segmenter=segmenter, image=image, embedding=embedding, **record)


def test_sam_vit_b_matches_predictor(vit_b):
    seg, emb = vit_b.segmenter, vit_b.embedding
    assert seg.encoder_calls == 1 and torch.equal(emb.data.features, vit_b.output)
    assert vit_b.input.shape == (1, 3, 1024, 1024)
    predictor = reference_predictor("sam_vit_b", vit_b.state)
    ours = seg.model.image_encoder.state_dict()
    assert all(torch.equal(v, ours[k]) for k, v in predictor.model.image_encoder.state_dict().items())
    replay = _Replay(vit_b.input, vit_b.output, False, [])
    predictor.model.image_encoder.forward = replay
    predictor.set_image(vit_b.image)
    assert replay.calls == 1 and torch.equal(predictor.features, emb.data.features)
    assert emb.data.input_size == tuple(predictor.input_size) and emb.size == (H, W)
    _compare_decoding(seg, emb, predictor, hq=False)


def test_hq_sam_vit_b_matches_predictor(vit_b, tmp_path):
    path, state = keyed_checkpoint("hq_sam_vit_b", tmp_path / "hq_sam_vit_b.pth")
    encoder_keys = [k for k in state if k.startswith("image_encoder.")]
    assert encoder_keys and all(torch.equal(state[k], vit_b.state[k]) for k in encoder_keys)
    seg = Registry().create("segmenter", "hq_sam_vit_b", checkpoint=str(path), device="cpu")
    predictor = reference_predictor("hq_sam_vit_b", state)
    for model in (seg.model, predictor.model):
        model.image_encoder.forward = _Replay(vit_b.input, vit_b.output, True, vit_b.interm)
    emb = seg.encode(vit_b.image)
    predictor.set_image(vit_b.image)
    assert seg.model.image_encoder.forward.calls == predictor.model.image_encoder.forward.calls == 1
    assert torch.equal(emb.data.features, predictor.features)
    assert len(predictor.interm_features) == 4 and len(emb.data.interm) == 1  # the decoder reads [0] only
    assert emb.data.interm[0].shape == (1, 64, 64, 768)
    assert torch.equal(emb.data.interm[0], predictor.interm_features[0])
    _compare_decoding(seg, emb, predictor, hq=True)


@pytest.mark.parametrize("name", ["sam_vit_l", "sam_vit_h", "hq_sam_vit_l", "hq_sam_vit_h"])
def test_large_variants_wiring_and_decoding(name, vit_b):
    variant = VARIANTS[name]
    depth, width, global_blocks = ARCH[variant.arch]
    with torch.device("meta"):  # the package's model, without allocating the encoder
        model = package(variant).sam_model_registry[variant.arch](checkpoint=None)
    blocks = model.image_encoder.blocks
    assert len(blocks) == depth and model.image_encoder.patch_embed.proj.out_channels == width == variant.encoder_dim
    assert [i for i, b in enumerate(blocks) if b.window_size == 0] == global_blocks
    if variant.hq:
        assert model.mask_decoder.compress_vit_feat[0].in_channels == width
    with pytest.raises(WeightsError, match=f"does not match {name}.*(missing keys|shape mismatches)"):
        load_into(model, vit_b.path, what=name)

    # Decoder side on CPU with keyed weights; the encoder stays on the meta device (never called).
    model.prompt_encoder.to_empty(device="cpu")
    model.mask_decoder.to_empty(device="cpu")
    model.pixel_mean = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    model.pixel_std = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    ki = keyed_init()
    manifest = {k: v for k, v in ki.manifest_of(model).items() if not k.startswith("image_encoder.")}
    state = {k: v.reshape(manifest[k]["shape"]) for k, v in ki.keyed_state(manifest).items()}
    result = model.load_state_dict(state, strict=False)
    assert not result.unexpected_keys and all(k.startswith("image_encoder.") for k in result.missing_keys)

    seg = segmenter_class(name).from_model(model, name)
    predictor = package(variant).SamPredictor(model)
    g = torch.Generator().manual_seed(1)
    features = torch.randn(1, 256, 64, 64, generator=g)
    interm = [torch.randn(1, 64, 64, width, generator=g) for _ in global_blocks] if variant.hq else None
    input_size = predictor.transform.get_preprocess_shape(H, W, 1024)
    predictor.features, predictor.interm_features = features, interm
    predictor.original_size, predictor.input_size, predictor.is_image_set = (H, W), input_size, True
    embedding = ImageEmbedding(SamEmbedding(features, interm, tuple(input_size), (H, W)), (H, W))
    # Fewer prompts than for ViT-B: the decoding code path is the same, the variant's dimensions differ.
    _compare_decoding(seg, embedding, predictor, hq=variant.hq, prompts=[PROMPTS[1], PROMPTS[3], PROMPTS[4]])
