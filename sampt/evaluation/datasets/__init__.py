"""Readers for video object segmentation benchmarks: DAVIS 2016/2017, YouTube-VOS 2018/2019 and MOSE.

Every reader yields :class:`VOSSequence` objects that load nothing until asked: ``video()`` decodes the
frames, ``initial_masks()`` gives each object's mask on the frame where it first appears (the
semi-supervised prompt), ``ground_truth()`` the annotation label maps of the frames that are scored.

Layouts::

    DAVIS      ROOT/JPEGImages/480p/<seq>/00000.jpg  ROOT/Annotations/480p/<seq>/00000.png (indexed)
               ROOT/ImageSets/<year>/<split>.txt      (2016: every non-zero label is object 1)
    YouTube-VOS ROOT/<split>/JPEGImages/<seq>/<frame>.jpg  ROOT/<split>/Annotations/<seq>/<frame>.png
               ROOT/<split>/meta.json  {"videos": {seq: {"objects": {"1": {"frames": [...]}}}}}
    MOSE       as YouTube-VOS, with the split files ROOT/meta_<split>.json (or <split>/meta.json); without
               one the objects are found by scanning the annotations.
    BDD100K    ROOT[/<split>]/JPEGImages/<seq>/<frame>.jpg  ROOT[/<split>]/Annotations/<seq>/<frame>.png, every
               frame annotated (the VOS set SAM-PT builds from the seg_track_20 bitmasks); objects enter at
               any frame and are prompted on the first frame they appear.
    UVO        video instance segmentation, see :mod:`sampt.evaluation.datasets.uvo`.
"""
from __future__ import annotations

import os
from typing import Optional

from sampt.errors import UsageError
from sampt.evaluation.datasets.base import (VOID_LABEL, InitialMask, VOSDataset, VOSSequence, frames_in,
                                            read_annotation)
from sampt.evaluation.datasets.bdd100k import BDD100KDataset
from sampt.evaluation.datasets.davis import DAVISDataset
from sampt.evaluation.datasets.youtubevos import YouTubeVOSDataset

DATASETS = ("davis2016", "davis2017", "youtubevos2018", "youtubevos2019", "mose", "bdd100k", "uvo")

__all__ = ["DATASETS", "VOID_LABEL", "InitialMask", "VOSDataset", "VOSSequence", "DAVISDataset", "YouTubeVOSDataset",
           "BDD100KDataset", "frames_in", "read_annotation", "open_dataset"]


def open_dataset(dataset: str, root: str | os.PathLike, split: Optional[str] = None,
                 year: Optional[int | str] = None) -> VOSDataset:
    """Open ``dataset`` (``davis2016``, ``davis2017``, ``davis`` + ``year``, ``youtubevos2018``,
    ``youtubevos2019``, ``mose``) at ``root``. ``split`` defaults to ``val`` (DAVIS) or ``valid``."""
    key = dataset.lower().replace("-", "").replace("_", "")
    if key == "davis":
        key = f"davis{year or 2017}"
    if key in ("davis2016", "davis2017"):
        return DAVISDataset(root, year=key[-4:], split=split or "val")
    if key in ("youtubevos", "ytvos", "youtubevos2018", "youtubevos2019", "ytvos2018", "ytvos2019"):
        y = key[-4:] if key[-4:].isdigit() else str(year or 2019)
        return YouTubeVOSDataset(root, split=split or "valid", name=f"youtubevos{y}")
    if key == "mose":
        return YouTubeVOSDataset(root, split=split or "valid", name="mose")
    if key == "bdd100k":
        return BDD100KDataset(root, split=split or "val")
    if key == "uvo":
        from sampt.evaluation.datasets.uvo import UVODataset

        return UVODataset(root, split=split or "val")  # type: ignore[return-value]
    raise UsageError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
