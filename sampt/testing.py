"""Helpers for tests (sampt's and plugins'): the reference data the tests compare against, keyed weights and
synthetic ``sampt run`` inputs.

Reference data (state-dict manifests and golden outputs of official code) lives in the repository, beside the
tests of the distribution that uses it: ``<distribution>/tests/reference/{manifests,golden}/``. Each plugin
keeps its own (``plugins/sampt-pips/tests/reference/`` ...), so a plugin stays self-contained; the helpers
below search every such folder (see :func:`reference_dirs`). Nothing here reads the team's ``../shared``
folder except :func:`shared_dir`, which only the consistency tests use to prove the copies have not drifted.

Keyed weights (:func:`keyed_state`) are implementation-independent weights for checking a model against a
reference without a checkpoint: every tensor is drawn from NumPy's legacy ``RandomState`` seeded by the CRC-32
of its state-dict key XOR-ed with a run seed, then shaped by a fixed rule on the key's last name part.
Two implementations that agree on key names and shapes therefore get bit-identical weights.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sampt.keyed import keyed_array, keyed_state, manifest_of

SHARED_ENV = "SAMPT_SHARED_DIR"
REFERENCE_ENV = "SAMPT_REFERENCE_DIRS"
REFERENCE_SUBDIR = ("tests", "reference")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------- reference data

@functools.lru_cache(maxsize=1)
def _plugin_reference_dirs() -> tuple[Path, ...]:
    """``tests/reference`` beside the package of every distribution registered in the ``sampt`` entry-point
    group (found without importing the plugins); only source checkouts (editable installs) have one."""
    from importlib.metadata import entry_points

    found: list[Path] = []
    for ep in entry_points(group="sampt"):
        top = ep.value.split(":", 1)[0].split(".", 1)[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        locations = list(spec.submodule_search_locations or []) if spec else []
        if spec and not locations and spec.origin:
            locations = [str(Path(spec.origin).parent)]
        for location in locations:
            path = _project_root(Path(location).resolve()).joinpath(*REFERENCE_SUBDIR)
            if path not in found:
                found.append(path)
    return tuple(found)


def _project_root(package_dir: Path) -> Path:
    """The source checkout holding ``package_dir``: the nearest of its parent and grandparent (``src`` layout)
    with a ``pyproject.toml`` or ``setup.py``, else its parent."""
    for parent in package_dir.parents[:2]:
        if (parent / "pyproject.toml").is_file() or (parent / "setup.py").is_file():
            return parent
    return package_dir.parent


def reference_dirs() -> list[Path]:
    """The folders searched for reference data, each holding ``manifests/`` and/or ``golden/``, in order:
    the folders listed in ``$SAMPT_REFERENCE_DIRS`` (``os.pathsep``-separated), the core's ``tests/reference``,
    ``plugins/*/tests/reference`` of this checkout, and ``tests/reference`` beside the package of every
    installed sampt plugin (so a plugin checked out on its own, flat or ``src`` layout, finds its data too).
    Only existing folders are returned, each once."""
    candidates: list[Path] = [Path(p) for p in os.environ.get(REFERENCE_ENV, "").split(os.pathsep) if p]
    root = repo_root()
    candidates.append(root.joinpath(*REFERENCE_SUBDIR))
    candidates.extend(sorted(root.glob("plugins/*/" + "/".join(REFERENCE_SUBDIR))))
    candidates.extend(_plugin_reference_dirs())
    dirs: list[Path] = []
    for path in candidates:
        path = path.resolve()
        if path.is_dir() and path not in dirs:
            dirs.append(path)
    return dirs


def reference_file(*parts: str) -> Path:
    """The reference file ``parts`` (e.g. ``"golden", "pips.npz"``) from :func:`reference_dirs`. A missing
    file, or one found in two folders, is an error naming the folders searched."""
    dirs = reference_dirs()
    hits = [d.joinpath(*parts) for d in dirs if d.joinpath(*parts).is_file()]
    rel = "/".join(parts)
    if not hits:
        searched = "\n  ".join(str(d) for d in dirs) or "(none exist)"
        raise FileNotFoundError(
            f"reference file {rel!r} not found in any reference folder:\n  {searched}\n"
            f"it belongs in <distribution>/tests/reference/{rel} of the plugin whose tests use it "
            f"(or list its folder in ${REFERENCE_ENV})"
        )
    if len(hits) > 1:
        raise FileExistsError(f"reference file {rel!r} is ambiguous, found in: " + ", ".join(map(str, hits)))
    return hits[0]


def reference_files(kind: str, suffix: str) -> dict[str, Path]:
    """Every reference file ``<dir>/<kind>/*<suffix>`` of every reference folder, by name without suffix."""
    files: dict[str, Path] = {}
    for d in reference_dirs():
        for path in sorted(d.joinpath(kind).glob(f"*{suffix}")):
            name = path.name[: -len(suffix)]
            if name in files:
                raise FileExistsError(f"reference {kind} {name!r} is ambiguous: {files[name]} and {path}")
            files[name] = path
    return files


def manifest(name: str) -> dict[str, Any]:
    """The manifest ``manifests/<name>.json``: ``{key: {"shape": [...], "dtype": ...}}`` in state-dict order."""
    return json.loads(reference_file("manifests", f"{name}.json").read_text())


def golden(name: str) -> Any:
    """The golden arrays ``golden/<name>.npz`` (a NumPy ``NpzFile``); ``golden/README-<name>.md`` beside it
    says what produced them and the tolerances."""
    import numpy as np

    return np.load(reference_file("golden", f"{name}.npz"), allow_pickle=False)


def shared_dir() -> Path:
    """``$SAMPT_SHARED_DIR`` or the team's ``shared/`` folder beside the repository. Only the consistency
    tests use it (repository copies vs. the originals); it is an error if absent."""
    env = os.environ.get(SHARED_ENV)
    path = Path(env) if env else repo_root().parent / "shared"
    if not (path / "reference").is_dir():
        raise FileNotFoundError(f"no reference folder at {path}/reference (set {SHARED_ENV} to where it is)")
    return path


# ------------------------------------------------------------------------------------------------ keyed weights

KEYED_CACHE_ENV = "SAMPT_KEYED_CACHE"


def keyed_state_dict(name: str, seed: int = 0) -> dict:
    """Keyed weights for the reference manifest ``name`` as a torch state dict.

    Drawing them takes seconds to a minute per model on 2 cores, and several test modules load the same
    one, so where ``$SAMPT_KEYED_CACHE`` names a folder (the test suite sets one per run, shared by its
    workers) each model's arrays are kept there as ``.npz`` (no pickle), named by manifest, seed and the
    manifest's hash, and read back instead of drawn again."""
    import torch

    folder = os.environ.get(KEYED_CACHE_ENV)
    if not folder:
        return keyed_state(manifest(name), seed=seed)
    return {k: torch.from_numpy(a) for k, a in _cached_keyed_arrays(Path(folder), name, seed).items()}


def _cached_keyed_arrays(folder: Path, name: str, seed: int) -> dict:
    import hashlib

    import numpy as np

    entries = manifest(name)
    digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()[:16]
    path = folder / f"{name}-{seed}-{digest}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in entries}
    arrays = {key: keyed_array(key, e["shape"], e.get("dtype", "float32"), seed) for key, e in entries.items()}
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{path.name}.{os.getpid()}.partial"
    with open(partial, "wb") as out:
        np.savez(out, **arrays)
    os.replace(partial, path)  # whole or absent: another worker may be writing the same file
    return arrays


def keyed_init() -> SimpleNamespace:
    """The keyed-weight functions (``keyed_array``, ``keyed_state``, ``manifest_of``) under the names of the
    reference ``keyed_init.py`` module, for tests written against that interface."""
    return SimpleNamespace(keyed_array=keyed_array, keyed_state=keyed_state, manifest_of=manifest_of)


# ------------------------------------------------------------------------------------------------ clip inputs

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


class FakeCamera:
    """A camera stand-in for streaming tests and benchmarks: yields ``num_frames`` frames (the given
    ``(T, H, W, 3)`` uint8 frames, looped) at a fixed rate of ``fps`` frames per second (None: as fast as
    they are asked for). ``delivered`` counts the frames handed out so far, so a test can see what the
    consumer had received when a result came out."""

    def __init__(self, frames: Any, fps: Any = 30.0, num_frames: Any = None, name: str = "fake-camera"):
        import numpy as np

        self.frames = np.asarray(frames)
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(f"FakeCamera needs (T, H, W, 3) uint8 frames, got {self.frames.shape} {self.frames.dtype}")
        if fps is not None and not fps > 0:
            raise ValueError(f"FakeCamera fps must be > 0 (or None), got {fps!r}")
        self.fps, self.name = fps, name
        self.num_frames = len(self.frames) if num_frames is None else int(num_frames)
        self.delivered = 0

    def __iter__(self):
        import time

        start = time.perf_counter()
        for i in range(self.num_frames):
            if self.fps is not None:
                delay = start + i / self.fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            self.delivered += 1
            yield self.frames[i % len(self.frames)]
