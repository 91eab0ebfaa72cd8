"""The BDD100K VOS reader: ``ROOT[/<split>]/JPEGImages/<seq>/`` and ``ROOT[/<split>]/Annotations/<seq>/``, every
frame annotated (the VOS set SAM-PT builds from the seg_track_20 bitmasks)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets.base import (VOID_LABEL, VOSDataset, VOSSequence, frames_in, image_size,
                                            read_sequence_annotation)


class BDD100KDataset(VOSDataset):
    """BDD100K VOS as SAM-PT's evaluation builds it from the seg_track_20 bitmasks: every frame annotated,
    objects entering at any frame (each prompted on its first frame), scored on every later frame with
    J&F split by how long the object is visible (:mod:`sampt.evaluation.bdd100k.metrics`)."""

    exclude_first_last = False
    protocol = "bdd100k"

    def __init__(self, root: str | os.PathLike, split: str = "val"):
        root = Path(root)
        if not root.is_dir():
            raise UsageError(f"BDD100K root {root} does not exist (expected [<split>/]JPEGImages/<seq>/ and "
                             "[<split>/]Annotations/<seq>/ inside, as SAM-PT's "
                             "bdd100k_from_instance_seg_to_vos_annotations script writes them)")
        base = root / split if (root / split / "Annotations").is_dir() else root
        self.image_dir, self.annotation_root = base / "JPEGImages", base / "Annotations"
        for d in (self.image_dir, self.annotation_root):
            if not d.is_dir():
                have = sorted(p.name for p in root.iterdir() if (p / "Annotations").is_dir())
                raise UsageError(f"BDD100K {split}: folder {d} is missing (expected {root}/{split}/JPEGImages and "
                                 f"{root}/{split}/Annotations, or JPEGImages/ and Annotations/ directly in {root})"
                                 + (f"; splits found: {', '.join(have)}" if have else ""))
        names = sorted(p.name for p in self.annotation_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not names:
            raise UsageError(f"BDD100K {split}: {self.annotation_root} holds no sequence folders")
        super().__init__("bdd100k", root, split, names, source=self.annotation_root)

    def sequence(self, name: str) -> VOSSequence:
        if name not in self.sequences:
            raise UsageError(f"sequence {name!r} is not in BDD100K {self.split}")
        frames = frames_in(self.image_dir / name, f"BDD100K sequence {name}")
        ann_dir = self.annotation_root / name
        missing = [p.stem for p in frames if not (ann_dir / f"{p.stem}.png").is_file()]
        if missing:
            raise UsageError(f"BDD100K sequence {name}: annotation {ann_dir / missing[0]}.png is missing (every "
                             f"frame must be annotated; {len(missing)} of {len(frames)} are missing)")
        first: dict[int, int] = {}
        size = image_size(frames[0], name)
        for t, p in enumerate(frames):
            for i in np.unique(read_sequence_annotation(ann_dir / f"{p.stem}.png", name, size)):
                if i not in (0, VOID_LABEL) and int(i) not in first:
                    first[int(i)] = t
        if not first:
            raise UsageError(f"BDD100K sequence {name} has no annotated object")
        ids = sorted(first)
        seq = VOSSequence(name, frames, ann_dir, ids, first)
        seq.protocol = self.protocol
        return seq
