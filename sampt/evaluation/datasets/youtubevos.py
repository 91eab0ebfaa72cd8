"""The YouTube-VOS 2018/2019 and MOSE reader: ``ROOT/<split>/JPEGImages/<seq>/``, ``ROOT/<split>/Annotations/<seq>/``
and ``ROOT/<split>/meta.json`` (MOSE: ``ROOT/meta_<split>.json``, or no meta file: objects found by scanning)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets.base import (VOID_LABEL, VOSDataset, VOSSequence, frames_in, image_size,
                                            read_sequence_annotation)
from sampt.evaluation.datasets.schema import FileFields, check_folder_name


def read_meta(path: Path) -> dict[str, dict]:
    """``meta.json``'s ``videos``, checked field by field: ``{"videos": {<seq>: {"objects": {"<id>": {"frames":
    ["<frame>", ...], "category": "<name>"}}}}}``; every other shape is refused naming the file and the field."""
    fields = FileFields(path)
    data = fields.mapping(fields.load_json(), "(the top level)")
    videos = fields.mapping(data.get("videos"), "videos")
    out: dict[str, dict] = {}
    for seq, video in videos.items():
        check_folder_name(seq, f"{path}: videos")
        video = fields.mapping(video, f"videos.{seq}")
        objects = fields.mapping(video.get("objects", {}), f"videos.{seq}.objects")
        checked = {}
        for key, obj in objects.items():
            where = f"videos.{seq}.objects.{key}"
            fields.integer(key, f"{where} (the object id)", minimum=1, key=True)
            obj = fields.mapping(obj, where)
            frames = [fields.text(f, f"{where}.frames[{i}]")
                      for i, f in enumerate(fields.items(obj.get("frames", []), f"{where}.frames"))]
            entry: dict = {"frames": frames}
            if "category" in obj:
                entry["category"] = fields.text(obj["category"], f"{where}.category")
            checked[str(int(key))] = entry
        out[seq] = {"objects": checked}
    return out


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
            self.meta = read_meta(meta_path)
            names = sorted(self.meta)
        elif name.startswith("youtubevos"):
            raise UsageError(f"{name} {split}: {split_dir / 'meta.json'} is missing")
        else:
            names = sorted(p.name for p in self.image_dir.iterdir() if p.is_dir())
        super().__init__(name, root, split, names, source=meta_path or self.image_dir)
        # valid/test add G over seen and unseen categories; MOSE and train are scored as DAVIS
        self.protocol = "youtubevos" if name.startswith("youtubevos") and split != "train" else "davis"
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
        frames = frames_in(self.image_dir / name, f"{self.name} sequence {name}")
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
            size = image_size(frames[0], name)
            for t in annotated:
                labels = read_sequence_annotation(ann_dir / f"{frames[t].stem}.png", name, size)
                for i in np.unique(labels):
                    if i not in (0, VOID_LABEL) and int(i) not in first:
                        first[int(i)] = t
            eval_frames = list(range(min(first.values()) if first else 0, len(frames)))
        if not first:
            raise UsageError(f"{self.name} sequence {name} has no annotated object")
        ids = sorted(first)
        return VOSSequence(name, frames, ann_dir, ids, first, eval_frames=eval_frames, annotated_frames=annotated)
