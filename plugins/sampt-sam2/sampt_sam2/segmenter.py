"""SAM 2 / SAM 2.1 as a sampt :class:`~sampt.interfaces.Segmenter`, driven as ``SAM2ImagePredictor`` drives it.

Per image, :meth:`Sam2Segmenter.encode` runs the image encoder once and keeps what the mask decoder reads:
the lowest-resolution embedding (with the ``no_mem_embed`` a single image gets) and the two higher-resolution
feature maps. :meth:`~Sam2Segmenter.decode` then answers prompts in batches: prompts with the same number of
points and the same presence of box and mask prompt go through the prompt encoder and mask decoder together.
Each prompt gets the single-mask output (``multimask_output=False``) as full-resolution logits, the
low-resolution logits (clamped to [-32, 32], as the predictor returns them, ready to be fed back as a mask
prompt) and the predicted IoU.

Coordinates: sampt's points and boxes are pixels of the original frame, which is what the predictor takes;
they are mapped to the model's square input by the package's own ``SAM2Transforms`` (normalised by the
frame's width and height, scaled to the model resolution), and the masks come back at the original size
through the same transforms.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Sequence

import numpy as np
import torch

from sampt.constraints import Choices, Range
from sampt.devices import check_precision, pick_device
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import Prediction, Prompt

from sampt_sam2.builders import build_image_model, load_weights, model_device, variant_of

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "bfloat16", "auto")
BOX_LABELS = (2, 3)
"""Point labels SAM 2's prompt encoder gives a box's two corners (a box is two leading points)."""
LOW_RES_CLAMP = 32.0


def use_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether to run under bfloat16 autocast: ``"bfloat16"`` (CUDA only) or ``"auto"`` (bfloat16 on CUDA)."""
    check_precision(precision, PRECISIONS, device, cuda_only="bfloat16")
    return precision == "bfloat16" or (precision == "auto" and device.type == "cuda")


def transforms_for(model: torch.nn.Module) -> Any:
    """The package's ``SAM2Transforms`` exactly as ``SAM2ImagePredictor`` makes it (no hole/sprinkle filling)."""
    from sam2.utils.transforms import SAM2Transforms

    return SAM2Transforms(resolution=model.image_size, mask_threshold=0.0, max_hole_area=0.0, max_sprinkle_area=0.0)


@dataclass
class Sam2Embedding:
    """What :meth:`Sam2Segmenter.encode` keeps per image."""

    image_embed: torch.Tensor
    """``(1, 256, S/16, S/16)`` lowest-resolution features, ``no_mem_embed`` added (S: model resolution)."""
    high_res_feats: list[torch.Tensor]
    """``[(1, 32, S/4, S/4), (1, 64, S/8, S/8)]``: the high-resolution features the decoder upsamples with."""
    original_size: tuple[int, int]


class Sam2Segmenter(Segmenter):
    """A SAM 2 / SAM 2.1 image model as a sampt segmenter; registered once per model name.

    Options: ``checkpoint`` a file path or a registered checkpoint name (default: the model's official
    checkpoint, from the cache or downloaded into it); ``device`` ``"auto"`` (CUDA when available) or a torch
    device; ``precision`` ``"float32"``, ``"bfloat16"`` (autocast, CUDA only, as SAM 2's own examples run)
    or ``"auto"`` (bfloat16 on CUDA, float32 on CPU); ``max_batch`` the most prompts decoded in one call;
    ``dynamic_multimask`` ``build_sam2``'s ``apply_postprocessing`` (on there too): an unstable single mask
    falls back to the best of the decoder's multimask outputs.
    """

    low_res_size = (256, 256)
    embedding_type = Sam2Embedding

    def __init__(self, variant: str, checkpoint: Optional[str] = None, device: str = "auto",
                 precision: Annotated[str, Choices(*PRECISIONS)] = "float32",
                 max_batch: Annotated[int, Range(1, None)] = 64, dynamic_multimask: bool = True):
        super().__init__()
        v = variant_of(variant)
        dev = pick_device(device)
        bf16 = use_bfloat16(precision, dev)
        model = build_image_model(v, "cpu", postprocessing=bool(dynamic_multimask))
        path = load_weights(model, v, checkpoint)
        log.info("%s: loaded %s on %s (%s)", v.name, path, dev, "bfloat16 autocast" if bf16 else "float32")
        self._setup(v.name, model.to(dev), bf16, max_batch)

    @classmethod
    def from_model(cls, model: torch.nn.Module, variant: str, precision: str = "float32",
                   max_batch: int = 64) -> "Sam2Segmenter":
        """Wrap an already built and loaded ``SAM2Base`` (on its current device) without a checkpoint."""
        self = cls.__new__(cls)
        Segmenter.__init__(self)
        self._setup(variant_of(variant).name, model, use_bfloat16(precision, model_device(model)), max_batch)
        return self

    def _setup(self, variant: str, model: torch.nn.Module, bf16: bool, max_batch: int) -> None:
        self.variant = variant
        self.model = model.eval()
        self.device = model_device(model)
        self.bf16 = bf16
        self.max_batch = max(1, int(max_batch))
        self.transforms = transforms_for(model)
        mask_size = tuple(int(s) for s in model.sam_prompt_encoder.mask_input_size)
        if mask_size != self.low_res_size:
            self.low_res_size = mask_size  # type: ignore[misc]  # per instance for a non-1024 config

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # --- encoding ---------------------------------------------------------------------------------
    @torch.no_grad()
    def _encode(self, image: np.ndarray) -> ImageEmbedding:
        original_size = (int(image.shape[0]), int(image.shape[1]))
        x = self.transforms(image)[None].to(self.device)
        with self._autocast():
            backbone_out = self.model.forward_image(x)
            _, vision_feats, _, feat_sizes = self.model._prepare_backbone_features(backbone_out)
            if self.model.directly_add_no_mem_embed:
                vision_feats[-1] = vision_feats[-1] + self.model.no_mem_embed
        # (HW, 1, C) sequences back to (1, C, H, W) maps, highest resolution first.
        feats = [f.permute(1, 2, 0).reshape(1, -1, h, w) for f, (h, w) in zip(vision_feats, feat_sizes)]
        return ImageEmbedding(Sam2Embedding(feats[-1], feats[:-1], original_size), original_size)

    def input_scale(self, size: tuple[int, int]) -> float:
        """SAM 2 stretches a frame to a square; the longest side's scale is reported (the one SAM's
        reference box reproduction assumes)."""
        return float(self.model.image_size) / float(max(size))

    # --- decoding (grouping, chunking and the prompt checks: Segmenter.decode) --------------------------
    @torch.no_grad()
    def _decode_batch(self, data: Sam2Embedding, prompts: Sequence[Prompt]) -> list[Prediction]:
        """One prompt-encoder + mask-decoder call for prompts of one shape (same point count, box, mask)."""
        dev, first, n = self.device, prompts[0], len(prompts)
        coords: list[torch.Tensor] = []
        labels: list[torch.Tensor] = []
        if first.box is not None:  # the box's corners lead, labelled 2 and 3, as the predictor puts them
            boxes = torch.as_tensor(np.stack([p.box for p in prompts]), dtype=torch.float, device=dev)
            coords.append(self.transforms.transform_boxes(boxes, normalize=True, orig_hw=data.original_size))
            labels.append(torch.tensor([BOX_LABELS], dtype=torch.int, device=dev).repeat(n, 1))
        if len(first.points):
            pts = torch.as_tensor(np.stack([p.points for p in prompts]), dtype=torch.float, device=dev)
            coords.append(self.transforms.transform_coords(pts, normalize=True, orig_hw=data.original_size))
            labels.append(torch.as_tensor(np.stack([p.labels for p in prompts]), dtype=torch.int, device=dev))
        points = (torch.cat(coords, dim=1), torch.cat(labels, dim=1)) if coords else None
        masks = None
        if first.mask_logits is not None:
            masks = torch.as_tensor(np.stack([p.mask_logits for p in prompts]), dtype=torch.float, device=dev)
        with self._autocast():
            sparse, dense = self.model.sam_prompt_encoder(points=points, boxes=None, masks=masks)
            low_res, iou, _, _ = self.model.sam_mask_decoder(
                image_embeddings=data.image_embed,
                image_pe=self.model.sam_prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
                repeat_image=n > 1,
                high_res_features=data.high_res_feats,
            )
        full = self.transforms.postprocess_masks(low_res, data.original_size)
        low_res = torch.clamp(low_res.float(), -LOW_RES_CLAMP, LOW_RES_CLAMP)
        full_np = full[:, 0].float().cpu().numpy()
        low_np = low_res[:, 0].cpu().numpy()
        iou_np = iou[:, 0].float().cpu().numpy()
        return [Prediction(full_np[k], low_np[k], float(iou_np[k])) for k in range(n)]
