"""Building SAM 2 networks with the published ``sam2`` package (its own Hydra configs and builders).

The image model is what ``sam2.build_sam.build_sam2`` builds, the video predictor what
``build_sam2_video_predictor`` builds, both without a checkpoint (``ckpt_path=None``); weights are then
loaded strictly through sampt's weights manager (:func:`load_weights`), which unwraps the official files'
``{"model": state_dict}`` nesting.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from sampt.weights import load_checkpoint

from sampt_sam2.plugin import CHECKPOINTS, VARIANTS, Variant


def variant_of(name: str | Variant) -> Variant:
    """The :class:`Variant` called ``name``; an unknown name lists the known ones."""
    if isinstance(name, Variant):
        return name
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown SAM 2 model {name!r}; known: {', '.join(VARIANTS)}") from None


def build_image_model(variant: str | Variant, device: str | torch.device = "cpu",
                      postprocessing: bool = True) -> torch.nn.Module:
    """An untrained SAM 2 image model (``SAM2Base``, eval mode) as ``build_sam2`` builds it.

    ``postprocessing`` is ``build_sam2``'s ``apply_postprocessing`` (default True there too): in single-mask
    mode the decoder falls back to the best of its multimask outputs when the single mask is unstable.
    """
    from sam2.build_sam import build_sam2

    v = variant_of(variant)
    return build_sam2(v.config, ckpt_path=None, device=str(device), apply_postprocessing=postprocessing).eval()


def build_video_predictor(variant: str | Variant, device: str | torch.device = "cpu",
                          postprocessing: bool = True) -> torch.nn.Module:
    """An untrained ``SAM2VideoPredictor`` (eval mode) as ``build_sam2_video_predictor`` builds it."""
    from sam2.build_sam import build_sam2_video_predictor

    v = variant_of(variant)
    return build_sam2_video_predictor(v.config, ckpt_path=None, device=str(device),
                                      apply_postprocessing=postprocessing).eval()


def load_weights(model: torch.nn.Module, variant: str | Variant, checkpoint: Optional[str]) -> Optional[Path]:
    """Resolve ``checkpoint`` (a path, a registered name, or None for the variant's official file) and load it
    into ``model`` strictly. Returns the file's path (None: keyed weights, see :func:`sampt.keyed.keyed_weights_if_missing`)."""
    v = variant_of(variant)
    return load_checkpoint(model, checkpoint, v.checkpoint, CHECKPOINTS, what=f"{v.name} (sam2 {v.config})")


def model_device(model: Any) -> torch.device:
    """The device a SAM 2 model's parameters live on."""
    return next(model.parameters()).device
