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

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.io import IMAGE_SUFFIXES, natural_key, read_video
from sampt.types import Video

log = logging.getLogger(__name__)

VOID_LABEL = 255
DATASETS = ("davis2016", "davis2017", "youtubevos2018", "youtubevos2019", "mose", "bdd100k", "uvo")


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
        labels = read_annotation(path)
        labels = np.where(labels == VOID_LABEL, 0, labels).astype(np.uint8)
        if self.merge_objects:
            labels = (labels > 0).astype(np.uint8)
        return labels

    def void(self, index: int) -> np.ndarray:
        """Void (255, "don't care") pixels of frame ``index``'s annotation."""
        return read_annotation(self.annotation_dir / f"{self.frame_names[index]}.png") == VOID_LABEL

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
    scored_locally = True  #: whether ``sampt score`` can score it (YouTube-VOS val/test: server only)
    exclude_first_last = True

    def __init__(self, name: str, root: Path, split: str, sequences: Sequence[str]):
        self.name, self.root, self.split = name, root, split
        self.sequences = list(sequences)

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


def _frames_in(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise UsageError(f"{what}: frame folder {folder} does not exist")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
                   key=lambda p: natural_key(p.name))  # the order sampt.io reads frame folders in
    if not files:
        raise UsageError(f"{what}: frame folder {folder} holds no images")
    return files


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
        super().__init__(f"davis{year}", root, split, names)
        self.year = year
        self.scored_locally = split not in ("test-dev", "test-challenge")  # only first frames are public

    def sequence(self, name: str) -> VOSSequence:
        if name not in self.sequences:
            raise UsageError(f"sequence {name!r} is not in DAVIS {self.year} {self.split}")
        frames = _frames_in(self.image_dir / name, f"DAVIS sequence {name}")
        ann_dir = self.annotation_root / name
        first = ann_dir / f"{frames[0].stem}.png"
        if not first.is_file():
            raise UsageError(f"DAVIS sequence {name}: first-frame annotation {first} is missing")
        labels = read_annotation(first)
        labels[labels == VOID_LABEL] = 0
        if self.year == "2016":
            ids = [1] if labels.any() else []
        else:
            ids = [int(i) for i in np.unique(labels) if i != 0]
        if not ids:
            raise UsageError(f"DAVIS sequence {name}: the first-frame annotation {first} has no object")
        return VOSSequence(name, frames, ann_dir, ids, {i: 0 for i in ids}, merge_objects=self.year == "2016")


class YouTubeVOSDataset(VOSDataset):
    """YouTube-VOS 2018/2019 (and MOSE, which shares the layout). Objects may first appear after frame 0;
    predictions are written (and scored) only for the frames ``meta.json`` lists."""

    kind = "youtubevos"

    def __init__(self, root: str | os.PathLike, split: str = "valid", name: str = "youtubevos2019"):
        root = Path(root)
        if not root.is_dir():
            raise UsageError(f"{name} root {root} does not exist (expected <split>/JPEGImages, "
                             "<split>/Annotations and <split>/meta.json inside)")
        split_dir = root / split
        if not split_dir.is_dir():
            have = sorted(p.name for p in root.iterdir() if (p / "JPEGImages").is_dir())
            raise UsageError(f"{name} split {split!r} not found: {split_dir} is missing"
                             + (f" (available: {', '.join(have)})" if have else ""))
        self.image_dir = split_dir / "JPEGImages"
        self.annotation_root = split_dir / "Annotations"
        for d in (self.image_dir, self.annotation_root):
            if not d.is_dir():
                raise UsageError(f"{name} {split}: folder {d} is missing")
        meta_path = next((p for p in (split_dir / "meta.json", root / f"meta_{split}.json") if p.is_file()), None)
        self.meta: Optional[dict] = None
        if meta_path is not None:
            try:
                self.meta = json.loads(meta_path.read_text())["videos"]
            except (ValueError, KeyError) as exc:
                raise UsageError(f"{meta_path} is not a YouTube-VOS meta file ({exc})") from exc
            names = sorted(self.meta)
        elif name.startswith("youtubevos"):
            raise UsageError(f"{name} {split}: {split_dir / 'meta.json'} is missing")
        else:
            names = sorted(p.name for p in self.image_dir.iterdir() if p.is_dir())
        super().__init__(name, root, split, names)
        # the server scores valid/test; a split with full annotations (train, or a user's local copy of the
        # valid annotations) can be scored here
        self.scored_locally = split == "train" or self._has_full_annotations()
        self.exclude_first_last = False

    def _has_full_annotations(self) -> bool:
        """Whether the first sequence has annotation PNGs beyond its objects' first frames (the public
        valid/test splits annotate only those)."""
        if not self.meta or not self.sequences:
            return False
        name = self.sequences[0]
        firsts = {min(o["frames"]) for o in self.meta[name].get("objects", {}).values() if o.get("frames")}
        folder = self.annotation_root / name
        return folder.is_dir() and len(list(folder.glob("*.png"))) > len(firsts)

    def categories(self) -> dict[tuple[str, int], str]:
        """``(sequence, object id) -> category`` from ``meta.json`` (empty without one)."""
        out = {}
        for seq, v in (self.meta or {}).items():
            for key, obj in v.get("objects", {}).items():
                if "category" in obj:
                    out[(seq, int(key))] = str(obj["category"])
        return out

    def sequence(self, name: str) -> VOSSequence:
        if name not in self.sequences:
            raise UsageError(f"sequence {name!r} is not in {self.name} {self.split}")
        frames = _frames_in(self.image_dir / name, f"{self.name} sequence {name}")
        index = {p.stem: i for i, p in enumerate(frames)}
        ann_dir = self.annotation_root / name
        if self.meta is not None:
            objects = self.meta[name].get("objects", {})
            first, listed = {}, set()
            for key, obj in objects.items():
                obj_frames = obj.get("frames", [])
                missing = [f for f in obj_frames if f not in index]
                if missing:
                    raise UsageError(f"{self.name} sequence {name}: meta lists frame {missing[0]} of object {key} "
                                     f"but {self.image_dir / name / missing[0]}.jpg is missing")
                if not obj_frames:
                    continue
                first[int(key)] = min(index[f] for f in obj_frames)
                listed.update(index[f] for f in obj_frames)
            eval_frames = sorted(listed) if listed else list(range(len(frames)))
            annotated = eval_frames
        else:  # scan the annotations for first appearances
            first = {}
            annotated = sorted(index[p.stem] for p in ann_dir.glob("*.png") if p.stem in index)
            for t in annotated:
                labels = read_annotation(ann_dir / f"{frames[t].stem}.png")
                for i in np.unique(labels):
                    if i not in (0, VOID_LABEL) and int(i) not in first:
                        first[int(i)] = t
            eval_frames = list(range(min(first.values()) if first else 0, len(frames)))
        if not first:
            raise UsageError(f"{self.name} sequence {name} has no annotated object")
        ids = sorted(first)
        return VOSSequence(name, frames, ann_dir, ids, first, eval_frames=eval_frames, annotated_frames=annotated)


class BDD100KDataset(VOSDataset):
    """BDD100K VOS as SAM-PT's evaluation builds it from the seg_track_20 bitmasks: every frame annotated,
    objects entering at any frame (each prompted on its first frame), scored on every later frame with
    J&F split by how long the object is visible (:mod:`sampt.evaluation.bdd100k.metrics`)."""

    exclude_first_last = False

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
        super().__init__("bdd100k", root, split, names)

    def sequence(self, name: str) -> VOSSequence:
        if name not in self.sequences:
            raise UsageError(f"sequence {name!r} is not in BDD100K {self.split}")
        frames = _frames_in(self.image_dir / name, f"BDD100K sequence {name}")
        ann_dir = self.annotation_root / name
        missing = [p.stem for p in frames if not (ann_dir / f"{p.stem}.png").is_file()]
        if missing:
            raise UsageError(f"BDD100K sequence {name}: annotation {ann_dir / missing[0]}.png is missing (every "
                             f"frame must be annotated; {len(missing)} of {len(frames)} are missing)")
        first: dict[int, int] = {}
        for t, p in enumerate(frames):
            for i in np.unique(read_annotation(ann_dir / f"{p.stem}.png")):
                if i not in (0, VOID_LABEL) and int(i) not in first:
                    first[int(i)] = t
        if not first:
            raise UsageError(f"BDD100K sequence {name} has no annotated object")
        ids = sorted(first)
        seq = VOSSequence(name, frames, ann_dir, ids, first)
        seq.protocol = "bdd100k"
        return seq


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
