"""Writers of benchmark result files.

* DAVIS: ``OUT/<seq>/<frame>.png`` indexed PNGs (DAVIS palette), one per frame: what the official DAVIS
  evaluation and ``sampt score`` read.
* YouTube-VOS / MOSE: the submission layout ``OUT/Annotations/<seq>/<frame>.png`` for the frames listed in
  ``meta.json`` only, optionally zipped (``OUT/submission.zip`` holding ``Annotations/...``). These splits
  are scored by the challenge server (CodaLab), not locally.

A sequence is one output unit (:class:`sampt.outputs.OutputDir`): written into a hidden temporary folder and
swapped into place when complete, so an interrupted run never leaves a half-written sequence that a
resumed run would mistake for finished.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from sampt.io import write_label_png
from sampt.outputs import OutputDir, atomic_file

SERVER_NOTE = ("YouTube-VOS and MOSE validation/test sets are scored by the challenge server: upload the zip of "
               "the Annotations/ folder (https://youtube-vos.org, https://henghuiding.github.io/MOSE).")


def sequence_dir(out_dir: str | os.PathLike, layout: str, sequence: str) -> Path:
    """Where a sequence's PNGs go: ``OUT/<seq>`` (DAVIS) or ``OUT/Annotations/<seq>`` (YouTube-VOS)."""
    out = Path(out_dir)
    return out / "Annotations" / sequence if layout == "youtubevos" else out / sequence


def sequence_complete(out_dir: str | os.PathLike, layout: str, sequence: str, frame_names: Sequence[str]) -> bool:
    """Whether every expected PNG of ``sequence`` exists (a resumed run skips it)."""
    folder = sequence_dir(out_dir, layout, sequence)
    return folder.is_dir() and all((folder / f"{n}.png").is_file() for n in frame_names)


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a label map to ``(height, width)`` (no-op when it already fits)."""
    if labels.shape == (height, width):
        return labels
    return cv2.resize(labels.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)


def write_sequence(out_dir: str | os.PathLike, layout: str, sequence: str, frame_names: Sequence[str],
                   label_maps: Sequence[np.ndarray] | np.ndarray) -> Path:
    """Write ``label_maps[i]`` as ``<frame_names[i]>.png`` for one sequence, atomically as a folder."""
    if len(frame_names) != len(label_maps):
        raise ValueError(f"{sequence}: {len(frame_names)} frame names but {len(label_maps)} label maps")
    final = sequence_dir(out_dir, layout, sequence)
    with OutputDir(final, f"sequence folder {sequence!r}") as tmp:  # replaces an incomplete earlier attempt
        for name, labels in zip(frame_names, label_maps):
            write_label_png(tmp / f"{name}.png", np.asarray(labels, np.uint8))
    return final


def zip_submission(out_dir: str | os.PathLike, zip_name: str = "submission.zip") -> Path:
    """Zip ``OUT/Annotations`` into ``OUT/<zip_name>`` (entries ``Annotations/<seq>/<frame>.png``)."""
    out = Path(out_dir)
    ann = out / "Annotations"
    if not ann.is_dir():
        raise FileNotFoundError(f"{ann} does not exist; write the results first")
    target = out / zip_name
    with atomic_file(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(ann.rglob("*.png")):
                if any(part.startswith(".") for part in path.relative_to(ann).parts):
                    continue
                zf.write(path, path.relative_to(out).as_posix())
    return target
