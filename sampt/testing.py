"""Helpers for tests (sampt's and plugins'): locating ``../shared`` reference data and keyed weights."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

SHARED_ENV = "SAMPT_SHARED_DIR"


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """``$SAMPT_SHARED_DIR`` or the ``shared/`` folder beside the repository; fails (never skips) if absent."""
    env = os.environ.get(SHARED_ENV)
    path = Path(env) if env else repo_root().parent / "shared"
    if not (path / "reference").is_dir():
        raise FileNotFoundError(
            f"reference data not found at {path}/reference: clone sampt with its shared/ folder beside it "
            f"or set {SHARED_ENV}"
        )
    return path


def reference_file(*parts: str) -> Path:
    """A file under ``shared/reference``; a missing file is an error naming it."""
    path = shared_dir().joinpath("reference", *parts)
    if not path.exists():
        raise FileNotFoundError(f"reference file missing: {path}")
    return path


def keyed_init() -> ModuleType:
    """The ``shared/reference/keyed_init.py`` module."""
    path = reference_file("keyed_init.py")
    spec = importlib.util.spec_from_file_location("sampt_shared_keyed_init", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def manifest(name: str) -> dict[str, Any]:
    """The manifest ``shared/reference/manifests/<name>.json``."""
    return json.loads(reference_file("manifests", f"{name}.json").read_text())


def golden(name: str) -> Any:
    """The golden arrays ``shared/reference/golden/<name>.npz`` (a NumPy ``NpzFile``)."""
    import numpy as np

    return np.load(reference_file("golden", f"{name}.npz"), allow_pickle=False)


def keyed_state_dict(name: str, seed: int = 0) -> dict:
    """Keyed weights for manifest ``name`` as a torch state dict, each tensor in its manifest shape
    (``keyed_init`` turns 0-d tensors such as ``num_batches_tracked`` into shape ``(1,)``)."""
    spec = manifest(name)
    state = keyed_init().keyed_state(spec, seed=seed)
    return {k: v.reshape(spec[k]["shape"]) for k, v in state.items()}


def write_clip_inputs(folder: Path, seed: int = 0, num_frames: int = 6, height: int = 48, width: int = 64,
                      **options: Any) -> tuple[Path, Path, Any]:
    """A synthetic clip written as ``sampt run`` inputs: ``folder/frames/00000.jpg``... and its first-frame
    label PNG ``folder/mask.png``. Returns the frames folder, the mask path and the clip."""
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames, write_label_png

    clip = make_clip(seed=seed, num_frames=num_frames, height=height, width=width, **options)
    frames, mask = Path(folder) / "frames", Path(folder) / "mask.png"
    write_frames(frames, clip.video)
    write_label_png(mask, clip.label_map(0))
    return frames, mask, clip
