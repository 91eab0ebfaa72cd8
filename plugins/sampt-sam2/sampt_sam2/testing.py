"""Helpers for this plugin's tests and benchmarks: manifests, keyed (checkpoint-free) weights, reference predictors.

A manifest (``manifests/<model>.json``, committed) lists the key names and shapes of the ``sam2`` package's own
model's state dict, written by :func:`write_manifest`. Keyed weights are drawn per key by
``shared/reference/keyed_init.py`` (through :func:`sampt.testing.keyed_init`), so the package's reference
predictor and the plugin's segmenter get identical weights without a real checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from sampt.testing import keyed_init
from sampt_sam2.builders import build_image_model, variant_of

MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"


def manifest_path(variant: str) -> Path:
    """Where the committed manifest of ``variant`` lives."""
    return MANIFEST_DIR / f"{variant_of(variant).name}.json"


def manifest(variant: str) -> dict[str, Any]:
    """The committed manifest of ``variant`` (``{key: {"shape": [...], "dtype": ...}}`` in state-dict order)."""
    path = manifest_path(variant)
    if not path.is_file():
        raise FileNotFoundError(f"no manifest for {variant} at {path}; write it with "
                                f"`python -m sampt_sam2.testing {variant}`")
    return json.loads(path.read_text())


def write_manifest(variant: str) -> Path:
    """Write the manifest of the ``sam2`` package's own model of ``variant`` (atomically)."""
    path = manifest_path(variant)
    text = json.dumps(keyed_init().manifest_of(build_image_model(variant)), indent=0)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)
    return path


def keyed_state(variant: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Keyed weights for ``variant`` from its committed manifest (0-d tensors keep their shape)."""
    spec = manifest(variant)
    return {k: v.reshape(spec[k]["shape"]) for k, v in keyed_init().keyed_state(spec, seed=seed).items()}


def keyed_checkpoint(variant: str, path: Path, seed: int = 0) -> tuple[Path, dict[str, torch.Tensor]]:
    """Write a keyed checkpoint of ``variant`` nested as the official files are (``{"model": state}``)."""
    state = keyed_state(variant, seed)
    torch.save({"model": state}, path)
    return Path(path), state


def reference_predictor(variant: str, state: dict[str, torch.Tensor], postprocessing: bool = True) -> Any:
    """The package's own ``SAM2ImagePredictor`` for ``variant`` with ``state`` loaded strictly."""
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    model = build_image_model(variant, postprocessing=postprocessing)
    model.load_state_dict(state, strict=True)
    return SAM2ImagePredictor(model.eval())


if __name__ == "__main__":
    import sys

    from sampt_sam2.plugin import VARIANTS

    for name in sys.argv[1:] or list(VARIANTS):
        print(write_manifest(name))
