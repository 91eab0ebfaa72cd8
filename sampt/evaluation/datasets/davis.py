"""The DAVIS 2016/2017 reader: ``ROOT/JPEGImages/480p/<seq>/``, ``ROOT/Annotations/480p/<seq>/`` (indexed
PNGs) and the split lists ``ROOT/ImageSets/<year>/<split>.txt`` (2016: every non-zero label is object 1)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets.base import (VOID_LABEL, VOSDataset, VOSSequence, frames_in, image_size,
                                            read_sequence_annotation)


class DAVISDataset(VOSDataset):
    """DAVIS 2016 (single object) or 2017 (multi-object), 480p."""

    def __init__(self, root: str | os.PathLike, year: int | str = 2017, split: str = "val",
                 resolution: str = "480p"):
        root = Path(root)
        year = str(year)
        if year not in ("2016", "2017"):
            raise UsageError(f"DAVIS year must be 2016 or 2017, got {year}")
        if not root.is_dir():
            raise UsageError(f"DAVIS root {root} does not exist (expected JPEGImages/, Annotations/, ImageSets/ "
                             "inside; download from https://davischallenge.org)")
        self.image_dir = root / "JPEGImages" / resolution
        self.annotation_root = root / "Annotations" / resolution
        if not self.image_dir.is_dir():
            raise UsageError(f"DAVIS root {root} has no JPEGImages/{resolution} folder")
        listing = root / "ImageSets" / year / f"{split}.txt"
        if not listing.is_file():
            have = sorted(p.stem for p in (root / "ImageSets" / year).glob("*.txt"))
            raise UsageError(f"DAVIS {year} split {split!r} not found: {listing} is missing"
                             + (f" (available: {', '.join(have)})" if have else ""))
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        super().__init__(f"davis{year}", root, split, names, source=listing)
        self.year = year
        self.scored_locally = split not in ("test-dev", "test-challenge")  # only first frames are public

    def sequence(self, name: str) -> VOSSequence:
        if name not in self.sequences:
            raise UsageError(f"sequence {name!r} is not in DAVIS {self.year} {self.split}")
        frames = frames_in(self.image_dir / name, f"DAVIS sequence {name}")
        ann_dir = self.annotation_root / name
        first = ann_dir / f"{frames[0].stem}.png"
        if not first.is_file():
            raise UsageError(f"DAVIS sequence {name}: first-frame annotation {first} is missing")
        labels = read_sequence_annotation(first, name, image_size(frames[0], name))
        labels[labels == VOID_LABEL] = 0
        if self.year == "2016":
            ids = [1] if labels.any() else []
        else:
            ids = [int(i) for i in np.unique(labels) if i != 0]
        if not ids:
            raise UsageError(f"DAVIS sequence {name}: the first-frame annotation {first} has no object")
        return VOSSequence(name, frames, ann_dir, ids, {i: 0 for i in ids}, merge_objects=self.year == "2016")
