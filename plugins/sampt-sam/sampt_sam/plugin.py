"""sampt hook implementations of the SAM plugin (registration only; torch is imported lazily).

Checkpoint facts (URL, file name, size, SHA-256):

* SAM (facebookresearch/segment-anything README, "Model Checkpoints"): the three ``dl.fbaipublicfiles.com``
  files. Sizes and SHA-256 digests as published alongside those URLs by many independent users.
* HQ-SAM and Light HQ-SAM (SysCV/sam-hq README): the ``lkeab/hq-sam`` HuggingFace files. No size or
  SHA-256 was found as a published fact, so both stay unset (the file is then accepted as downloaded
  and checked only by loading it strictly into the model).
* MobileSAM (ChaoningZhang/MobileSAM README): ``weights/mobile_sam.pt`` in the repository.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import sampt
from sampt.weights import WeightsSpec

SAMPT_PLUGIN_API = "2.0"
"""The sampt plugin interface this plugin is written for (:mod:`sampt.plugin_api`)."""


@dataclass(frozen=True)
class Variant:
    """One segmenter variant: which published package builds it, and from which registry key."""

    name: str
    package: str
    """``segment_anything``, ``segment_anything_hq`` or ``mobile_sam``."""
    arch: str
    """Key of the package's ``sam_model_registry``."""
    checkpoint: str
    """Name of the default :class:`~sampt.weights.WeightsSpec`."""
    hq: bool
    """HQ-SAM decoder (extra ``hq_token_only`` / ``interm_embeddings`` arguments)."""
    encoder_dim: int
    """Width of the image encoder's (first global block) features."""
    description: str
    unused_prefixes: tuple[str, ...] = ()
    """State-dict prefixes the forward pass never uses (a file may omit them)."""


_TINYVIT_HEAD = ("image_encoder.head.", "image_encoder.norm_head.")

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("sam_vit_b", "segment_anything", "vit_b", "sam_vit_b", False, 768,
                "SAM ViT-B (Kirillov et al. 2023), 91M-parameter image encoder"),
        Variant("sam_vit_l", "segment_anything", "vit_l", "sam_vit_l", False, 1024,
                "SAM ViT-L, 308M-parameter image encoder"),
        Variant("sam_vit_h", "segment_anything", "vit_h", "sam_vit_h", False, 1280,
                "SAM ViT-H, 636M-parameter image encoder (the SAM-PT default)"),
        Variant("hq_sam_vit_b", "segment_anything_hq", "vit_b", "hq_sam_vit_b", True, 768,
                "HQ-SAM ViT-B (Ke et al. 2023): SAM with a high-quality output token"),
        Variant("hq_sam_vit_l", "segment_anything_hq", "vit_l", "hq_sam_vit_l", True, 1024,
                "HQ-SAM ViT-L"),
        Variant("hq_sam_vit_h", "segment_anything_hq", "vit_h", "hq_sam_vit_h", True, 1280,
                "HQ-SAM ViT-H"),
        Variant("light_hq_sam", "segment_anything_hq", "vit_tiny", "light_hq_sam", True, 160,
                "Light HQ-SAM: HQ-SAM decoder on MobileSAM's TinyViT encoder", _TINYVIT_HEAD),
        Variant("mobile_sam", "mobile_sam", "vit_t", "mobile_sam", False, 320,
                "MobileSAM (Zhang et al. 2023): SAM's decoder on a distilled TinyViT encoder", _TINYVIT_HEAD),
    )
}
"""Every segmenter this plugin provides, by name."""

_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
_HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/"


def _spec(name: str, url: str, filename: str, sha256: Optional[str], size: Optional[int], family: str,
          description: str) -> WeightsSpec:
    return WeightsSpec(name, url, filename, sha256, size, family, description)


CHECKPOINTS: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        _spec("sam_vit_b", _SAM_URL + "sam_vit_b_01ec64.pth", "sam_vit_b_01ec64.pth",
              "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375042383, "sam",
              "SAM ViT-B (segment-anything release)"),
        _spec("sam_vit_l", _SAM_URL + "sam_vit_l_0b3195.pth", "sam_vit_l_0b3195.pth",
              "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1249524607, "sam",
              "SAM ViT-L (segment-anything release)"),
        _spec("sam_vit_h", _SAM_URL + "sam_vit_h_4b8939.pth", "sam_vit_h_4b8939.pth",
              "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2564550879, "sam",
              "SAM ViT-H (segment-anything release)"),
        _spec("hq_sam_vit_b", _HQ_URL + "sam_hq_vit_b.pth", "sam_hq_vit_b.pth", None, None, "hq_sam",
              "HQ-SAM ViT-B (SysCV/sam-hq; no published size/SHA-256)"),
        _spec("hq_sam_vit_l", _HQ_URL + "sam_hq_vit_l.pth", "sam_hq_vit_l.pth", None, None, "hq_sam",
              "HQ-SAM ViT-L (SysCV/sam-hq; no published size/SHA-256)"),
        _spec("hq_sam_vit_h", _HQ_URL + "sam_hq_vit_h.pth", "sam_hq_vit_h.pth", None, None, "hq_sam",
              "HQ-SAM ViT-H (SysCV/sam-hq; no published size/SHA-256)"),
        _spec("light_hq_sam", _HQ_URL + "sam_hq_vit_tiny.pth", "sam_hq_vit_tiny.pth", None, None, "hq_sam",
              "Light HQ-SAM, TinyViT encoder (SysCV/sam-hq; no published size/SHA-256)"),
        _spec("mobile_sam", "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
              "mobile_sam.pt", "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f", 40728226,
              "mobile_sam", "MobileSAM, TinyViT encoder (ChaoningZhang/MobileSAM repository)"),
    )
}
"""Every official checkpoint of the SAM family, by name (the names match the segmenters')."""


@sampt.hookimpl
def register_segmenters(register: Callable) -> None:
    for v in VARIANTS.values():
        aliases = ("sam",) if v.name == "sam_vit_h" else ()
        factory = "sampt_sam.segmenter:HqSamSegmenter" if v.hq else "sampt_sam.segmenter:SamSegmenter"
        register(v.name, factory, description=v.description, aliases=aliases, defaults={"variant": v.name})


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
