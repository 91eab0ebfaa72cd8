"""SAM-family segmenters (:class:`sampt.interfaces.Segmenter`) built with the published packages.

The models come from the packages' own builders (``segment_anything``, ``segment_anything_hq``,
``mobile_sam``: ``sam_model_registry``); this module only drives them, reproducing what each package's
``SamPredictor`` does, with two differences:

* prompts are answered in batches: prompts on one image with the same number of points and the same
  presence of box and mask prompt go through the prompt encoder and mask decoder in one call;
* a prompt always gets the single-mask output (``multimask_output=False``) as full-resolution logits,
  low-resolution logits and predicted IoU.

Coordinates: sampt's points and boxes are pixels of the original frame, which is also what SamPredictor
takes; they are mapped to the 1024-pixel model input by the package's ``ResizeLongestSide`` exactly as
SamPredictor maps them (``apply_coords`` / ``apply_boxes``), and the masks come back at the original size.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Sequence

import numpy as np
import torch

from sampt.constraints import Choices, Range
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import PointTransform, Prediction, Prompt
from sampt.weights import load_checkpoint

from sampt_sam.plugin import CHECKPOINTS, VARIANTS, Variant
from sampt.devices import check_precision, pick_device

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "half", "bfloat16", "auto")


def use_half(precision: str, device: torch.device) -> bool:
    """Whether the image encoder runs in float16: ``"half"`` (CUDA only), ``"auto"`` (half on CUDA)."""
    check_precision(precision, PRECISIONS, device, cuda_only="half")
    return precision == "half" or (precision == "auto" and device.type == "cuda")


def use_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether the image encoder runs under bfloat16 autocast (``"bfloat16"``: on CPU or CUDA; weights stay
    float32). On a CPU without native bfloat16 (AVX512-BF16 / AMX) it is emulated, and usually slower."""
    if precision != "bfloat16":
        return False
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision='bfloat16' is not supported by {device}; use 'float32' or 'half'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"precision='bfloat16' needs a CPU or CUDA device (device is {device})")
    if device.type == "cpu":
        native = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()
        if not native:
            log.warning("this CPU has no native bfloat16 support: the bfloat16 encoder is emulated (slower)")
    return True


def package(variant: Variant) -> Any:
    """The published package that builds ``variant`` (imported on first use)."""
    return importlib.import_module(variant.package)


def build_model(variant: str | Variant) -> torch.nn.Module:
    """An untrained model of ``variant`` from its package's ``sam_model_registry`` (eval mode)."""
    v = VARIANTS[variant] if isinstance(variant, str) else variant
    return package(v).sam_model_registry[v.arch](checkpoint=None).eval()


def resize_transform(variant: Variant, target_length: int) -> Any:
    """The package's own ``ResizeLongestSide`` (the image, point and box mapping SamPredictor uses)."""
    module = importlib.import_module(f"{variant.package}.utils.transforms")
    return module.ResizeLongestSide(target_length)


@dataclass
class SamEmbedding:
    """What :meth:`SamSegmenter.encode` keeps per image."""

    features: torch.Tensor
    """``(1, 256, 64, 64)`` float32 image embedding."""
    interm: Optional[list[torch.Tensor]]
    """HQ-SAM only: ``[first global-attention block's output]`` (``(1, 64, 64, C)``, float32) - the only
    intermediate feature HQ-SAM's decoder reads (``interm_embeddings[0]``); the others are not kept."""
    input_size: tuple[int, int]
    """Size of the resized image inside the 1024x1024 model input."""
    original_size: tuple[int, int]


def variant_named(name: str, hq: bool) -> Variant:
    """The :class:`Variant` called ``name``; an unknown name, or one of the other decoder family, is an
    error listing the names that fit."""
    fitting = [n for n, v in VARIANTS.items() if v.hq == hq]
    if name not in VARIANTS or VARIANTS[name].hq != hq:
        family = "HQ-SAM" if hq else "SAM / MobileSAM"
        raise ValueError(f"unknown {family} variant {name!r}; known: {', '.join(fitting)}"
                         + (" (HQ-SAM variants are built by HqSamSegmenter)" if not hq and name in VARIANTS else "")
                         + (" (SAM variants are built by SamSegmenter)" if hq and name in VARIANTS else ""))
    return VARIANTS[name]


class SamSegmenter(Segmenter):
    """A SAM-family model as a sampt segmenter. The plugin registers one name per variant
    (``sam_vit_b`` is this class with ``variant="sam_vit_b"``).

    Options: ``checkpoint`` a file path or a registered checkpoint name (default: the variant's official
    checkpoint, fetched into the cache if needed); ``device`` ``"auto"`` (CUDA when available) or a torch
    device; ``precision`` ``"float32"``, ``"half"`` (image encoder in float16, CUDA only), ``"bfloat16"``
    (image encoder under bfloat16 autocast, CPU or CUDA) or ``"auto"`` (half on CUDA, float32 on CPU) - the
    prompt encoder and mask decoder always run in float32; ``channels_last`` runs the image encoder in the
    channels-last memory format; ``compile`` wraps it in ``torch.compile`` (the first frames pay the
    compilation); ``max_batch`` the most prompts decoded in one call. The measured speed and mask effect of
    each is in the repository's ``benchmarks/results/pipeline.md``.
    """

    hq = False
    """Whether this class drives HQ-SAM's decoder (:class:`HqSamSegmenter`)."""
    hq_token_only = False
    low_res_size = (256, 256)
    embedding_type = SamEmbedding

    def __init__(self, variant: str = "sam_vit_h", checkpoint: Optional[str] = None, device: str = "auto",
                 precision: Annotated[str, Choices(*PRECISIONS)] = "float32", max_batch: Annotated[int, Range(1, None)] = 64,
                 channels_last: bool = False, compile: bool = False):
        super().__init__()
        v = variant_named(variant, self.hq)
        dev = pick_device(device)
        half = use_half(precision, dev)
        model = build_model(v)
        load_checkpoint(model, checkpoint, v.checkpoint, CHECKPOINTS, what=f"{v.name} ({v.package} {v.arch})",
                        optional_prefixes=v.unused_prefixes)
        bf16 = use_bfloat16(precision, dev)
        log.info("%s on %s (%s encoder)", v.name, dev, "float16" if half else "bfloat16 autocast" if bf16 else "float32")
        self._setup(v, model.to(dev), half, max_batch, bf16, channels_last, compile)

    @classmethod
    def from_model(cls, model: torch.nn.Module, variant: str, precision: str = "float32", max_batch: int = 64,
                   channels_last: bool = False, compile: bool = False, **options: Any) -> "SamSegmenter":
        """Wrap an already built and loaded package model of ``variant`` (on its current device) without a
        checkpoint; for HQ variants use :class:`HqSamSegmenter` (``hq_token_only=...`` among ``options``)."""
        self = cls.__new__(cls)
        Segmenter.__init__(self)
        for key, value in options.items():
            setattr(self, key, value)
        dev = model.pixel_mean.device
        self._setup(variant_named(variant, cls.hq), model, use_half(precision, dev), max_batch,
                    use_bfloat16(precision, dev), channels_last, compile)
        return self

    def _setup(self, variant: Variant, model: torch.nn.Module, half: bool, max_batch: int, bfloat16: bool = False,
               channels_last: bool = False, compile: bool = False) -> None:
        self.variant = variant
        self.model = model
        self.device = model.pixel_mean.device
        self.half, self.bfloat16, self.channels_last = half, bool(bfloat16), bool(channels_last)
        if half:
            model.image_encoder.half()
        if self.channels_last:
            model.image_encoder.to(memory_format=torch.channels_last)
        # Last: TinyViT caches its attention biases (as a plain tensor) when switched to eval mode, so
        # this must follow loading the weights, moving to the device and any dtype change.
        model.eval()
        self.max_batch = max(1, int(max_batch))
        self.transform = resize_transform(variant, model.image_encoder.img_size)
        self.image_encoder = torch.compile(model.image_encoder) if compile else model.image_encoder

    # --- encoding ---------------------------------------------------------------------------------
    @torch.no_grad()
    def _encode(self, image: np.ndarray) -> ImageEmbedding:
        original_size = (int(image.shape[0]), int(image.shape[1]))
        resized = self.transform.apply_image(image)
        x = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        input_size = (int(x.shape[-2]), int(x.shape[-1]))
        x = self.model.preprocess(x)
        if self.half:
            x = x.half()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bfloat16):
            out = self.image_encoder(x)
        interm = None
        if self.variant.hq:
            features, interm = out
            interm = [interm[0].float()]
        else:
            features = out
        return ImageEmbedding(SamEmbedding(features.float(), interm, input_size, original_size), original_size)

    def coordinate_transform(self, size: tuple[int, int]) -> PointTransform:
        """SamPredictor's point/box map for an ``(H, W)`` image: ``ResizeLongestSide`` scales x by
        ``W' / W`` and y by ``H' / H``, with ``(H', W')`` its rounded preprocess shape."""
        H, W = int(size[0]), int(size[1])
        new_h, new_w = self.transform.get_preprocess_shape(H, W, self.transform.target_length)
        return PointTransform(new_w / W, new_h / H)

    # --- decoding (grouping, chunking and the prompt checks: Segmenter.decode) --------------------------
    def decode_candidates(self, embedding: ImageEmbedding, prompts: Sequence[Prompt]) -> list[list[Prediction]]:
        """SAM's three multimask outputs per prompt (``multimask_output=True``)."""
        return self.in_batches(embedding, prompts, self._decode_candidates_batch)

    def _decode_batch(self, data: SamEmbedding, prompts: Sequence[Prompt]) -> list[Prediction]:
        return [answers[0] for answers in self._run_decoder(data, prompts, multimask=False)]

    def _decode_candidates_batch(self, data: SamEmbedding, prompts: Sequence[Prompt]) -> list[list[Prediction]]:
        return self._run_decoder(data, prompts, multimask=True)

    @torch.no_grad()
    def _run_decoder(self, data: SamEmbedding, prompts: Sequence[Prompt], multimask: bool) -> list[list[Prediction]]:
        """One prompt-encoder + mask-decoder call for prompts of one shape (same point count, box, mask);
        each prompt's answers (one, or SAM's three with ``multimask``)."""
        dev, first = self.device, prompts[0]
        points = boxes = masks = None
        if len(first.points):
            coords = self.transform.apply_coords(np.stack([p.points for p in prompts]), data.original_size)
            points = (torch.as_tensor(coords, dtype=torch.float, device=dev),
                      torch.as_tensor(np.stack([p.labels for p in prompts]), dtype=torch.int, device=dev))
        if first.box is not None:
            b = self.transform.apply_boxes(np.stack([p.box for p in prompts]), data.original_size)
            boxes = torch.as_tensor(b, dtype=torch.float, device=dev)
        if first.mask_logits is not None:
            masks = torch.as_tensor(np.stack([p.mask_logits for p in prompts]), dtype=torch.float, device=dev)
        sparse, dense = self.model.prompt_encoder(points=points, boxes=boxes, masks=masks)
        kwargs: dict[str, Any] = dict(
            image_embeddings=data.features,
            image_pe=self.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
        )
        if self.variant.hq:
            kwargs.update(hq_token_only=self.hq_token_only, interm_embeddings=data.interm)
        low_res, iou = self.model.mask_decoder(**kwargs)
        full = self.model.postprocess_masks(low_res, data.input_size, data.original_size)
        full_np = full.float().cpu().numpy()
        low_np = low_res.float().cpu().numpy()
        iou_np = iou.float().cpu().numpy()
        return [[Prediction(full_np[k, m], low_np[k, m], float(iou_np[k, m])) for m in range(full_np.shape[1])]
                for k in range(len(prompts))]


class HqSamSegmenter(SamSegmenter):
    """An HQ-SAM model (``variant`` one of the HQ-SAM names). ``hq_token_only`` (HQ-SAM's own predictor
    default: False) returns the HQ token's mask alone instead of the sum of SAM's and the HQ token's masks."""

    hq = True

    def __init__(self, variant: str = "hq_sam_vit_h", checkpoint: Optional[str] = None, device: str = "auto",
                 precision: Annotated[str, Choices(*PRECISIONS)] = "float32", max_batch: Annotated[int, Range(1, None)] = 64,
                 hq_token_only: bool = False, channels_last: bool = False, compile: bool = False):
        self.hq_token_only = bool(hq_token_only)
        super().__init__(variant, checkpoint=checkpoint, device=device, precision=precision, max_batch=max_batch,
                         channels_last=channels_last, compile=compile)


def segmenter_class(variant: str) -> type[SamSegmenter]:
    """The class that builds ``variant``: :class:`HqSamSegmenter` for HQ-SAM, else :class:`SamSegmenter`."""
    return HqSamSegmenter if VARIANTS[variant].hq else SamSegmenter
