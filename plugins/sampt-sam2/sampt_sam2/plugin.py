"""sampt hook implementations of the SAM 2 plugin (registration and checkpoint facts; torch is imported lazily).

Checkpoint facts (facebookresearch/sam2 README, "Download Checkpoints", and its
``checkpoints/download_ckpts.sh``): SAM 2.1 files under ``dl.fbaipublicfiles.com/segment_anything_2/092824/``,
SAM 2.0 files under ``.../072824/``. Neither a byte size nor a SHA-256 digest is published for any of them,
so both stay None: a file is accepted as downloaded and checked by loading it strictly into the model
(every key and shape must match).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sampt
from sampt.weights import WeightsSpec

SAMPT_PLUGIN_API = "2.0"
"""The sampt plugin interface this plugin is written for (:mod:`sampt.plugin_api`)."""


@dataclass(frozen=True)
class Variant:
    """One SAM 2 model: the package's own Hydra config that builds it and its official checkpoint."""

    name: str
    config: str
    """Config name inside the ``sam2`` package (``configs/sam2.1/sam2.1_hiera_t.yaml``...)."""
    checkpoint: str
    """Name of the default :class:`~sampt.weights.WeightsSpec`."""
    description: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("sam2.1_hiera_tiny", "configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny",
                "SAM 2.1 (Ravi et al. 2024), Hiera-T image encoder, 38.9M parameters"),
        Variant("sam2.1_hiera_small", "configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small",
                "SAM 2.1, Hiera-S image encoder, 46M parameters"),
        Variant("sam2.1_hiera_base_plus", "configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus",
                "SAM 2.1, Hiera-B+ image encoder, 80.8M parameters"),
        Variant("sam2.1_hiera_large", "configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large",
                "SAM 2.1, Hiera-L image encoder, 224.4M parameters"),
        Variant("sam2_hiera_tiny", "configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny",
                "SAM 2.0 (July 2024 release), Hiera-T image encoder"),
        Variant("sam2_hiera_small", "configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small",
                "SAM 2.0, Hiera-S image encoder"),
        Variant("sam2_hiera_base_plus", "configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_base_plus",
                "SAM 2.0, Hiera-B+ image encoder"),
        Variant("sam2_hiera_large", "configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large",
                "SAM 2.0, Hiera-L image encoder"),
    )
}
"""Every SAM 2 model this plugin provides, by name (segmenter names; the video method takes them as ``model``)."""

_URL_21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
_URL_20 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"


def _spec(name: str, base: str, about: str) -> WeightsSpec:
    filename = f"{name}.pt"
    return WeightsSpec(name, base + filename, filename, None, None, "sam2",
                       f"{about} (facebookresearch/sam2; no published size/SHA-256)")


CHECKPOINTS: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        _spec("sam2.1_hiera_tiny", _URL_21, "SAM 2.1 Hiera-T, about 149 MiB"),
        _spec("sam2.1_hiera_small", _URL_21, "SAM 2.1 Hiera-S, about 176 MiB"),
        _spec("sam2.1_hiera_base_plus", _URL_21, "SAM 2.1 Hiera-B+, about 309 MiB"),
        _spec("sam2.1_hiera_large", _URL_21, "SAM 2.1 Hiera-L, about 857 MiB"),
        _spec("sam2_hiera_tiny", _URL_20, "SAM 2.0 Hiera-T"),
        _spec("sam2_hiera_small", _URL_20, "SAM 2.0 Hiera-S"),
        _spec("sam2_hiera_base_plus", _URL_20, "SAM 2.0 Hiera-B+"),
        _spec("sam2_hiera_large", _URL_20, "SAM 2.0 Hiera-L"),
    )
}
"""Every official SAM 2 / 2.1 checkpoint, by name (the names match the segmenters')."""


@sampt.hookimpl
def register_segmenters(register: Callable) -> None:
    for v in VARIANTS.values():
        aliases = ("sam2",) if v.name == "sam2.1_hiera_large" else ()
        register(v.name, "sampt_sam2.segmenter:Sam2Segmenter", description=v.description, aliases=aliases,
                 defaults={"variant": v.name})


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)


@sampt.hookimpl
def register_methods(register: Callable) -> None:
    register("sam2_video", "sampt_sam2.video:Sam2VideoMethod",
             description="SAM 2's own video predictor: first masks to add_new_mask, then propagate_in_video")
