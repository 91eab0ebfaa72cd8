"""UVO v1.0 VideoDenseSet (and any YouTube-VIS style JSON): the reader and the RLE helpers (scoring:
:mod:`sampt.evaluation.vis.scoring`).

Layout (as SAM-PT's evaluation uses it)::

    ROOT/VideoDenseSet/UVO_video_<split>_dense.json   {"videos": [{"id", "width", "height", "length",
                                                        "file_names": ["<video>/<t>.png", ...]}],
                                                        "annotations": [{"id", "video_id", "iscrowd",
                                                        "segmentations": [RLE or null per frame], ...}]}
    ROOT/uvo_videos_dense_frames/<video>/<t>.png       the frames, named as ``file_names`` says

Masks are COCO run-length encodings (compressed strings or uncompressed count lists), decoded with
pycocotools (``pip install 'sampt[vis]'``). Categories are ignored: UVO is scored class-agnostic.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets.schema import FileFields
from sampt.types import Video

log = logging.getLogger(__name__)

FRAME_FOLDERS = ("uvo_videos_dense_frames", "JPEGImages", "frames")


def require_pycocotools() -> Any:
    """``pycocotools.mask``, or a clear error saying how to install it."""
    try:
        from pycocotools import mask as mask_utils
    except ImportError:
        raise UsageError("UVO / YouTube-VIS masks are COCO RLE and need pycocotools: "
                         "pip install 'sampt[vis]' (or pip install pycocotools)") from None
    return mask_utils


def decode_rle(segmentation: Any, height: int, width: int) -> np.ndarray:
    """One frame's ``(H, W)`` bool mask from a COCO segmentation (RLE dict, uncompressed RLE or polygons);
    ``None`` / empty is an empty mask."""
    if not segmentation:
        return np.zeros((height, width), bool)
    mask_utils = require_pycocotools()
    if isinstance(segmentation, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    try:
        with warnings.catch_warnings():  # pycocotools' Cython arrays predate NumPy 2's copy keyword
            warnings.simplefilter("ignore", DeprecationWarning)
            mask = np.asarray(mask_utils.decode([rle]))[:, :, 0].astype(bool)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise UsageError(f"an RLE mask cannot be decoded ({exc}); its counts are not a COCO run-length encoding") \
            from None
    if mask.shape != (height, width):
        raise UsageError(f"an RLE mask is {mask.shape[1]}x{mask.shape[0]} but its video is {width}x{height}")
    return mask


def encode_rle(mask: np.ndarray) -> dict:
    """A ``(H, W)`` bool mask as a compressed COCO RLE with a JSON-ready string ``counts``."""
    mask_utils = require_pycocotools()
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


@dataclass
class VISInstance:
    """A true instance: ``id``, per-frame ``segmentations`` (RLE or None) and whether it is a crowd region."""

    id: int
    segmentations: list
    iscrowd: bool = False


class VISVideo:
    """One video of a VIS dataset: frames named by ``file_names`` under ``frame_root``, and its instances."""

    def __init__(self, video_id: int, file_names: Sequence[str], height: int, width: int, frame_root: Path,
                 instances: Sequence[VISInstance] = ()):
        self.id = int(video_id)
        self.file_names = list(file_names)
        self.height, self.width = int(height), int(width)
        self.frame_root = frame_root
        self.instances = list(instances)
        self.name = Path(self.file_names[0]).parent.name if self.file_names else str(self.id)

    def __len__(self) -> int:
        return len(self.file_names)

    def __repr__(self) -> str:
        return f"VISVideo({self.id}, {self.name!r}, frames={len(self)}, instances={len(self.instances)})"

    def video(self) -> Video:
        """Decode the frames listed in ``file_names`` (RGB)."""
        import cv2

        frames = []
        for name in self.file_names:
            path = self.frame_root / name
            if not path.is_file():
                raise UsageError(f"UVO video {self.id}: frame {path} is missing (frames are read from "
                                 f"{self.frame_root}; extract them from the videos first)")
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise UsageError(f"UVO video {self.id}: frame {path} cannot be decoded")
            if image.shape[:2] != (self.height, self.width):
                raise UsageError(f"UVO video {self.id}: frame {path} is {image.shape[1]}x{image.shape[0]}, the "
                                 f"annotations say {self.width}x{self.height}")
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return Video(np.stack(frames), fps=30.0, name=self.name)

    def instance_masks(self, instance: VISInstance) -> np.ndarray:
        """``(T, H, W)`` bool masks of one instance."""
        return np.stack([decode_rle(s, self.height, self.width) for s in instance.segmentations])


def compressed_rle_total(counts: str) -> Optional[int]:
    """The number of pixels a COCO compressed RLE string covers (the sum of its run lengths), or None when the
    string is not one (a character out of range, a run cut short, a negative run)."""
    runs: list[int] = []
    pos = 0
    while pos < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(counts):
                return None
            c = ord(counts[pos]) - 48
            if not 0 <= c < 64:
                return None
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            return None
        runs.append(value)
    return sum(runs)


def _segmentation(fields: FileFields, value: Any, where: str, height: int, width: int) -> Any:
    """One frame's segmentation as the YouTube-VIS format allows it: null, an RLE object (``counts`` a string or
    a list of run lengths, ``size`` the video's), or polygons (lists of numbers)."""
    if value is None or value == []:
        return None
    if isinstance(value, list):
        for i, poly in enumerate(value):
            for j, x in enumerate(fields.items(poly, f"{where}[{i}]")):
                fields.number(x, f"{where}[{i}][{j}]")
        return value
    rle = fields.mapping(value, where)
    counts = rle.get("counts")
    if isinstance(counts, list):
        total = sum(fields.integer(c, f"{where}.counts[{i}]", minimum=0) for i, c in enumerate(counts))
        if total != height * width:
            raise fields.fail(f"{where}.counts", f"run lengths summing to the video's {height}x{width} pixels",
                              f"a sum of {total}")
    else:
        total = compressed_rle_total(fields.text(counts, f"{where}.counts"))
        if total != height * width:  # (pycocotools would write past the mask's end)
            raise fields.fail(f"{where}.counts", f"a COCO compressed RLE of the video's {height}x{width} pixels",
                              counts if total is None else f"runs summing to {total}")
    size = fields.items(rle.get("size", [height, width]), f"{where}.size")
    if [fields.integer(x, f"{where}.size") for x in size] != [height, width]:
        raise fields.fail(f"{where}.size", f"the video's size [{height}, {width}]", size)
    return rle


def read_vis_file(json_path: Path, frame_root: Path) -> tuple[dict, list["VISVideo"]]:
    """A YouTube-VIS style annotation file, checked field by field (errors name the file and the field): its
    parsed content and its videos, each with its instances. Frame paths must stay inside ``frame_root``."""
    fields = FileFields(json_path)
    data = fields.mapping(fields.load_json(), "(the top level)")
    per_video: dict[int, list[VISInstance]] = {}
    for k, ann in enumerate(fields.items(data.get("annotations") or [], "annotations")):
        where = f"annotations[{k}]"
        ann = fields.mapping(ann, where)
        segmentations = fields.items(ann.get("segmentations"), f"{where}.segmentations")
        iscrowd = ann.get("iscrowd", 0)
        if iscrowd not in (0, 1, True, False):
            raise fields.fail(f"{where}.iscrowd", "0 or 1", iscrowd)
        per_video.setdefault(fields.integer(ann.get("video_id"), f"{where}.video_id"), []).append(
            VISInstance(fields.integer(ann.get("id", k + 1), f"{where}.id"), list(segmentations), bool(iscrowd)))
    videos = []
    for n, v in enumerate(fields.items(data.get("videos"), "videos")):
        where = f"videos[{n}]"
        v = fields.mapping(v, where)
        video_id = fields.integer(v.get("id"), f"{where}.id")
        names = [fields.relative_path(f, f"{where}.file_names[{i}]")
                 for i, f in enumerate(fields.items(v.get("file_names"), f"{where}.file_names"))]
        if not names:
            raise fields.fail(f"{where}.file_names", "a non-empty list of frame files", names)
        height = fields.integer(v.get("height"), f"{where}.height", minimum=1)
        width = fields.integer(v.get("width"), f"{where}.width", minimum=1)
        video = VISVideo(video_id, names, height, width, frame_root, per_video.get(video_id, []))
        for k, inst in enumerate(video.instances):
            if len(inst.segmentations) != len(video):
                raise UsageError(f"{json_path}: instance {inst.id} of video {video.id} has "
                                 f"{len(inst.segmentations)} segmentations for {len(video)} frames")
            inst.segmentations = [_segmentation(fields, seg, f"instance {inst.id}.segmentations[{t}]", height, width)
                                  for t, seg in enumerate(inst.segmentations)]
        videos.append(video)
    if not videos:
        raise UsageError(f"{json_path} lists no video; nothing would be evaluated (check the split and the file)")
    return data, videos


class UVODataset:
    """A UVO (or YouTube-VIS style) split: videos in JSON order, indexable by position or video id."""

    kind = "vis"
    name = "uvo"

    def __init__(self, root: str | os.PathLike, split: str = "val", annotations: Optional[str | os.PathLike] = None,
                 frames: Optional[str | os.PathLike] = None):
        root = Path(root)
        if not root.is_dir():
            raise UsageError(f"UVO root {root} does not exist (expected VideoDenseSet/UVO_video_<split>_dense.json "
                             "and uvo_videos_dense_frames/ inside)")
        self.root, self.split = root, split
        json_path = Path(annotations) if annotations else root / "VideoDenseSet" / f"UVO_video_{split}_dense.json"
        if not json_path.is_file():
            have = sorted(p.name for p in (root / "VideoDenseSet").glob("*.json")) if (root / "VideoDenseSet").is_dir() else []
            raise UsageError(f"UVO {split}: annotation file {json_path} is missing"
                             + (f" (found: {', '.join(have)})" if have else
                                " (expected ROOT/VideoDenseSet/UVO_video_<split>_dense.json)"))
        frame_root = Path(frames) if frames else next((root / f for f in FRAME_FOLDERS if (root / f).is_dir()), None)
        if frame_root is None or not frame_root.is_dir():
            raise UsageError(f"UVO {split}: no frame folder in {root} (expected one of {', '.join(FRAME_FOLDERS)}; "
                             "extract the video frames there)")
        self.json_path, self.frame_root = json_path, frame_root
        data, self.videos = read_vis_file(json_path, frame_root)
        self.has_ground_truth = "annotations" in data
        self._by_id = {v.id: v for v in self.videos}

    @property
    def all_video_ids(self) -> set[int]:
        """Every video id of the annotation file (also those :meth:`select` left out)."""
        return set(self._by_id)

    @property
    def sequences(self) -> list[str]:
        """Video ids as strings (the interface the VOS readers share)."""
        return [str(v.id) for v in self.videos]

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[VISVideo]:
        return iter(self.videos)

    def __getitem__(self, key: int | str) -> VISVideo:
        if isinstance(key, str):
            return self.video(key)
        return self.videos[key]

    def video(self, key: int | str) -> VISVideo:
        """A video by id (or by its frame folder name)."""
        try:
            return self._by_id[int(key)]
        except (ValueError, KeyError):
            pass
        for v in self.videos:
            if v.name == str(key):
                return v
        raise UsageError(f"video {key!r} is not in UVO {self.split} ({len(self.videos)} videos in {self.json_path})")

    def select(self, names: Optional[Sequence[str]]) -> "UVODataset":
        """Keep only the videos ``names`` (ids or folder names), in that order."""
        if names:
            self.videos = [self.video(n) for n in names]
        return self
