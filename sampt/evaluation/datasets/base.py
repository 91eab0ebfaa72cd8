"""What every dataset reader shares: the sequence and dataset types, reading a label PNG, listing frames."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets.schema import check_folder_name
from sampt.io import IMAGE_SUFFIXES, natural_key, read_video
from sampt.labels import VOID_LABEL
from sampt.types import Video

log = logging.getLogger(__name__)


@dataclass
class InitialMask:
    """An object's prompt: its ``mask`` ``(H, W)`` bool on frame index ``frame`` of the sequence."""

    object_id: int
    frame: int
    mask: np.ndarray


def read_annotation(path: str | os.PathLike) -> np.ndarray:
    """Read a label PNG as ``(H, W)`` uint8 as the official tools do: palette indices for indexed PNGs,
    grey values for greyscale ones. Colour PNGs are refused (results must be indexed PNGs)."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"mask {path} does not exist")
    try:
        with Image.open(path) as im:
            if im.mode in ("P", "L", "1"):
                return np.array(im.convert("L") if im.mode == "1" else im, dtype=np.uint8)
            if im.mode in ("I", "I;16", "I;16B", "I;16L"):
                arr = np.array(im)
                if arr.max(initial=0) > 255:
                    raise UsageError(f"mask {path} has labels above 255; labels must fit in 8 bits")
                return arr.astype(np.uint8)
            mode = im.mode
    except OSError as exc:
        raise UsageError(f"mask {path} cannot be read as an image ({exc})") from exc
    raise UsageError(f"mask {path} is a {mode} image; label masks must be indexed (palette) or greyscale PNGs")


def image_size(path: Path, sequence: str) -> tuple[int, int]:
    """``(width, height)`` of an image file, from its header."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError as exc:
        raise UsageError(f"sequence {sequence}: frame {path} cannot be read ({exc})") from None


def read_sequence_annotation(path: Path, sequence: str, frame_size: tuple[int, int]) -> np.ndarray:
    """An annotation of ``sequence``, refused (naming the sequence and the file) unless it has the frames' size
    ``(width, height)``: a sequence's label maps are stacked and compared with same-size predictions."""
    labels = read_annotation(path)
    width, height = frame_size
    if labels.shape != (height, width):
        raise UsageError(f"sequence {sequence}: annotation {path} is {labels.shape[1]}x{labels.shape[0]} but the "
                         f"sequence's frames are {width}x{height}; every annotation must have the frames' size")
    return labels


class VOSSequence:
    """One sequence of a dataset. Frame ``names`` are file stems (``00000``); ``eval_frames`` are the
    indices of the frames predictions are written for (every frame for DAVIS, the frames listed in
    ``meta.json`` for YouTube-VOS); ``protocol`` names how it is scored (``davis``: the objects' frames after
    their prompt, DAVIS statistics; ``bdd100k``: every frame, with visibility-duration buckets)."""

    protocol = "davis"

    def __init__(self, name: str, frame_files: Sequence[Path], annotation_dir: Path, object_ids: Sequence[int],
                 first_frames: dict[int, int], eval_frames: Optional[Sequence[int]] = None,
                 merge_objects: bool = False, annotated_frames: Optional[Sequence[int]] = None):
        self.name = name
        self.frame_files = list(frame_files)
        self.frame_names = [p.stem for p in self.frame_files]
        self.annotation_dir = annotation_dir
        self.object_ids = [int(i) for i in object_ids]
        self.first_frames = {int(k): int(v) for k, v in first_frames.items()}
        self.eval_frames = list(range(len(self.frame_files))) if eval_frames is None else list(eval_frames)
        self.merge_objects = merge_objects
        self._frame_size: Optional[tuple[int, int]] = None
        self.annotated_frames = (list(range(len(self.frame_files))) if annotated_frames is None
                                 else list(annotated_frames))

    def __len__(self) -> int:
        return len(self.frame_files)

    def __repr__(self) -> str:
        return f"VOSSequence({self.name!r}, frames={len(self)}, objects={self.object_ids})"

    def video(self, max_frames: Optional[int] = None) -> Video:
        """Decode the frames (all of them, in order)."""
        folder = self.frame_files[0].parent
        video = read_video(folder, max_frames=max_frames)
        if max_frames is None and len(video) != len(self.frame_files):
            raise UsageError(f"sequence {self.name}: decoded {len(video)} frames, expected {len(self.frame_files)}")
        video.name = self.name  # (a long sequence stays in its on-disk cache: no copy)
        return video

    def annotation(self, index: int) -> np.ndarray:
        """The annotation label map of frame ``index`` (void 255 set to 0; merged to 0/1 for DAVIS 2016)."""
        path = self.annotation_dir / f"{self.frame_names[index]}.png"
        if not path.is_file():
            raise UsageError(f"sequence {self.name}: annotation {path} is missing")
        labels = self.read_checked(path)
        labels = np.where(labels == VOID_LABEL, 0, labels).astype(np.uint8)
        if self.merge_objects:
            labels = (labels > 0).astype(np.uint8)
        return labels

    def void(self, index: int) -> np.ndarray:
        """Void (255, "don't care") pixels of frame ``index``'s annotation."""
        return self.read_checked(self.annotation_dir / f"{self.frame_names[index]}.png") == VOID_LABEL

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(width, height)`` of the sequence's frames, read from the first frame's header."""
        if self._frame_size is None:
            self._frame_size = image_size(self.frame_files[0], self.name)
        return self._frame_size

    def read_checked(self, path: Path) -> np.ndarray:
        """An annotation of this sequence, refused unless it has the frames' size."""
        return read_sequence_annotation(path, self.name, self.frame_size)

    def initial_masks(self) -> list[InitialMask]:
        """Each object's mask on its first-appearance frame."""
        out, cache = [], {}
        for oid in self.object_ids:
            t = self.first_frames[oid]
            if t not in cache:
                cache[t] = self.annotation(t)
            mask = cache[t] == oid
            if not mask.any():
                raise UsageError(f"sequence {self.name}: object {oid} is absent from its first annotated frame "
                                 f"{self.frame_names[t]}")
            out.append(InitialMask(oid, t, mask))
        return out

    @property
    def has_ground_truth(self) -> bool:
        """Whether every frame that is scored has an annotation PNG."""
        return all((self.annotation_dir / f"{self.frame_names[t]}.png").is_file() for t in self.eval_frames)

    def ground_truth(self) -> np.ndarray:
        """``(len(eval_frames), H, W)`` uint8 annotation label maps of the scored frames."""
        return np.stack([self.annotation(t) for t in self.eval_frames])


class VOSDataset:
    """A dataset split: ``sequences`` names, indexing by name or position, iteration in order."""

    kind = "davis"  #: result layout: "davis" (``<seq>/<frame>.png``) or "youtubevos" (``Annotations/...``)
    #: how results are scored (:mod:`sampt.evaluation.scorers`): "davis", "youtubevos" (plus G over seen and
    #: unseen categories) or "bdd100k" (every frame, visibility-duration buckets)
    protocol = "davis"
    scored_locally = True  #: whether ``sampt score`` can score it (YouTube-VOS val/test: server only)
    exclude_first_last = True

    def __init__(self, name: str, root: Path, split: str, sequences: Sequence[str], source: Optional[Path] = None):
        """``sequences`` as listed by ``source`` (the split file, or the folder scanned): an empty list, or a
        name that is not one folder name, is refused naming it."""
        self.name, self.root, self.split = name, root, split
        where = str(source or root)
        self.sequences = [check_folder_name(n, where) for n in sequences]
        if not self.sequences:
            raise UsageError(f"{name} {split}: {where} lists no sequence; nothing would be evaluated "
                             "(check the split name and the dataset files)")

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[VOSSequence]:
        for name in self.sequences:
            yield self.sequence(name)

    def __getitem__(self, key: int | str) -> VOSSequence:
        return self.sequence(self.sequences[key] if isinstance(key, int) else key)

    def sequence(self, name: str) -> VOSSequence:
        raise NotImplementedError

    def select(self, names: Optional[Sequence[str]]) -> "VOSDataset":
        """Keep only ``names`` (in that order); an unknown name is an error naming it."""
        if not names:
            return self
        unknown = [n for n in names if n not in self.sequences]
        if unknown:
            raise UsageError(f"sequence {unknown[0]!r} is not in {self.name} {self.split} "
                             f"({len(self.sequences)} sequences under {self.root})")
        self.sequences = list(names)
        return self


def frames_in(folder: Path, what: str) -> list[Path]:
    """The image files of a sequence's frame folder, in the order sampt.io reads them; ``what`` names it in errors."""
    if not folder.is_dir():
        raise UsageError(f"{what}: frame folder {folder} does not exist")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
                   key=lambda p: natural_key(p.name))  # the order sampt.io reads frame folders in
    if not files:
        raise UsageError(f"{what}: frame folder {folder} holds no images")
    return files
