"""Helpers for this plugin's tests and benchmark: keyed (checkpoint-free) weights and reference predictors.

Keyed weights come from :func:`sampt.testing.keyed_state`: every tensor is drawn from a generator seeded by
its state-dict key, so the package's reference model and the plugin's model get identical weights without a
real checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sampt.testing import keyed_state as keyed_state_of_manifest, manifest_of
from sampt_sam.plugin import VARIANTS
from sampt_sam.segmenter import build_model, package


def keyed_state(model: torch.nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """Keyed weights for ``model``'s state dict (scalars keep their 0-d shape)."""
    return keyed_state_of_manifest(manifest_of(model), seed=seed)


def keyed_checkpoint(variant: str, path: Path, seed: int = 0) -> tuple[Path, dict[str, torch.Tensor]]:
    """Write a keyed checkpoint of ``variant`` (a plain state dict, as the official files are) to ``path``."""
    state = keyed_state(build_model(variant), seed)
    torch.save(state, path)
    return Path(path), state


def reference_predictor(variant: str, state: dict[str, torch.Tensor]) -> Any:
    """The package's own ``SamPredictor`` for ``variant`` with ``state`` loaded (built, loaded, then put in
    eval mode, as the packages' READMEs do)."""
    v = VARIANTS[variant]
    pkg = package(v)
    model = pkg.sam_model_registry[v.arch](checkpoint=None)
    model.load_state_dict(state, strict=True)
    model.eval()
    return pkg.SamPredictor(model)
