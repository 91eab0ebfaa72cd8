"""A run folder read back: the one owner of its schema (``result.json`` fields, masks, ``tracks.npz``).

Everything read from a run folder is checked here, once, and every error names the file and the field:
``result.json`` is validated field by field on :func:`load_result` (``RESULT_FIELDS``: add a field by
adding a row), the mask PNGs are checked to exist and share one size before anything uses them, a path
taken from the file (``files.masks``, ``input.frame_names``) must stay inside the folder, and
``tracks.npz`` is loaded without pickle and validated only when its tracks are first used.

Schema versions: ``result.json`` carries ``schema_version`` (folders written before it are version 1).
Unknown top-level keys of a known version are accepted (a newer sampt of the same version may add one);
a newer version is refused with "upgrade sampt".
"""
from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from sampt.errors import UsageError, api_boundary
from sampt.types import MAX_OBJECT_ID, Tracks

RESULT_JSON = "result.json"
TRACKS_NPZ = "tracks.npz"
RESULT_ENTRIES = (RESULT_JSON, "masks", TRACKS_NPZ, "overlay.mp4", "overlay.gif")
"""What a run's folder holds (an existing folder with none of these is someone else's; an export never
overwrites one of them)."""
SCHEMA_VERSION = 1
"""The run-folder schema this sampt writes and reads (``result.json``'s ``schema_version``)."""


class RunFolderError(UsageError):
    """A run folder (``result.json``, a mask, ``tracks.npz``) that does not follow the schema."""


def _bad(file: Path, key: str, problem: str) -> RunFolderError:
    where = f"{file}: field {key!r}" if key else str(file)
    return RunFolderError(f"{where} {problem}; re-run `sampt run` to write the folder again")


# -- field checks: each takes (value, file, key) and returns the value (normalised) or raises -----------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _int_at_least(low: int) -> Callable:
    def check(v: Any, file: Path, key: str) -> int:
        if not _is_int(v) or v < low:
            raise _bad(file, key, f"must be an integer >= {low}, not {v!r:.60}")
        return v
    return check


def _of_type(kind: type, what: str) -> Callable:
    """A check that a value is a ``kind`` (``what`` names it in the error)."""
    def check(v: Any, file: Path, key: str) -> Any:
        if not isinstance(v, kind):
            raise _bad(file, key, f"must be {what}, not {type(v).__name__}")
        return v
    return check


_text = _of_type(str, "a string")
_list = _of_type(list, "a list")


def _object_ids(v: Any, file: Path, key: str) -> list:
    if not isinstance(v, list) or not all(_is_int(i) and 1 <= i <= MAX_OBJECT_ID for i in v):
        raise _bad(file, key, f"must be a list of object ids (integers 1..{MAX_OBJECT_ID})")
    if len(set(v)) != len(v):
        raise _bad(file, key, "repeats an object id")
    return v


def _scores(v: Any, file: Path, key: str) -> list:
    if not isinstance(v, list) or not all(s is None or _is_number(s) for s in v):
        raise _bad(file, key, "must be a list of numbers (null for none)")
    return v


def _mapping(fields: dict) -> Callable:
    """A check of a JSON object whose keys ``fields`` are checked (others are kept as they are)."""
    def check(v: Any, file: Path, key: str) -> dict:
        if not isinstance(v, dict):
            raise _bad(file, key, f"must be an object, not {type(v).__name__}")
        return _check_fields(v, fields, file, key + ".")
    return check


def _plain_name(name: Any) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and len(name) <= 255)


def _frame_names(v: Any, file: Path, key: str) -> list:
    if not isinstance(v, list) or not all(_plain_name(n) for n in v):
        raise _bad(file, key, "must be a list of plain file names (no folders, no '..')")
    if len(set(v)) != len(v):
        raise _bad(file, key, "repeats a frame name")
    return v


def _inside_path(v: Any, file: Path, key: str) -> str:
    """A relative path that stays inside the run folder (checked again, resolved, when used)."""
    if not isinstance(v, str) or not v or os.path.isabs(v) or "\\" in v or ".." in Path(v).parts or "\0" in v:
        raise _bad(file, key, "must be a relative path inside the run folder")
    return v


def _per_frame_table(v: Any, file: Path, key: str) -> list:
    if not isinstance(v, list) or not all(isinstance(row, list) for row in v):
        raise _bad(file, key, "must be a list with one list per frame")
    return v


def _quality(v: Any, file: Path, key: str) -> dict:
    """The per-(frame, object) quality record (:class:`~sampt.pipeline.quality.FrameQuality`'s JSON form):
    read whole once here, so a damaged one is refused instead of failing on first use."""
    from sampt.pipeline.quality import FLAGS, FrameQuality

    problem = "must be a quality record as sampt writes it (object_ids, area, ratios, components, flags)"
    if not isinstance(v, dict) or not isinstance(v.get("flags", {}), dict):
        raise _bad(file, key, problem)
    for name in FLAGS:
        pairs = v.get("flags", {}).get(name, [])
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and all(_is_int(i) and i >= 0 for i in p)
                                                  for p in pairs):
            raise _bad(file, f"{key}.flags.{name}", "must be a list of [frame, object index] pairs")
    try:
        FrameQuality.from_json(v)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _bad(file, key, f"{problem} ({exc})") from None
    return v


Check = Callable[[Any, Path, str], Any]
RESULT_FIELDS: dict[str, tuple[bool, Check]] = {
    # key: (required, check). Keys not listed are accepted as they are.
    "schema_version": (False, _int_at_least(1)),
    "sampt_version": (False, _text),
    "created": (False, _text),
    "num_frames": (False, _int_at_least(0)),
    "object_ids": (True, _object_ids),
    "scores": (False, _scores),
    "input": (False, _mapping({"name": (False, _text), "width": (False, _int_at_least(1)),
                               "height": (False, _int_at_least(1)), "frame_names": (False, _frame_names)})),
    "files": (False, _mapping({"masks": (False, _inside_path), "tracks": (False, _inside_path)})),
    "per_frame": (False, _mapping({"area": (False, _per_frame_table), "box": (False, _per_frame_table)})),
    "objects": (False, _list),
    "quality": (False, _quality),
}
"""``result.json``'s schema (version 1), one row per top-level field."""


def _check_fields(data: dict, fields: dict, file: Path, prefix: str = "") -> dict:
    for key, (required, check) in fields.items():
        if key in data:
            data[key] = check(data[key], file, prefix + key)
        elif required:
            raise _bad(file, prefix + key, "is missing")
    return data


def read_info(run_dir: Path) -> dict:
    """``run_dir/result.json`` parsed and validated against :data:`RESULT_FIELDS`."""
    file = run_dir / RESULT_JSON
    if not file.is_file():
        raise RunFolderError(f"{run_dir} is not a sampt result folder: {RESULT_JSON} is missing "
                             "(run `sampt run` first)")
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise _bad(file, "", f"is not valid JSON ({str(e)[:80]})") from None
    except OSError as e:
        raise RunFolderError(f"{file} cannot be read: {e.strerror or e}") from None
    if not isinstance(info, dict):
        raise _bad(file, "", f"must hold a JSON object, not a {type(info).__name__}")
    version = info.get("schema_version", 1)
    if _is_int(version) and version > SCHEMA_VERSION:
        raise RunFolderError(f"{file} was made by a newer sampt (run-folder schema {version}; this sampt reads "
                             f"up to {SCHEMA_VERSION}): upgrade sampt (pip install -U sampt)")
    info = _check_fields(info, RESULT_FIELDS, file)
    scores = info.get("scores")
    if scores is not None and len(scores) != len(info["object_ids"]):
        raise _bad(file, "scores", f"has {len(scores)} entries for {len(info['object_ids'])} objects")
    return info


def inside(run_dir: Path, relative: str, file: Path, key: str) -> Path:
    """``run_dir/relative``, refused unless it resolves inside ``run_dir`` (a symlink out of it included)."""
    root = run_dir.resolve()
    path = (run_dir / relative).resolve()
    if path != root and root not in path.parents:
        raise _bad(file, key, f"points outside the run folder ({relative!r})")
    return run_dir / relative


def mask_folder(result_dir: str | os.PathLike) -> Path:
    """The ``masks/<sequence>`` folder of a result folder (checked to exist inside it)."""
    out = _as_dir(result_dir)
    info = read_info(out)
    return _mask_folder(out, info)


def _mask_folder(out: Path, info: dict) -> Path:
    folder = inside(out, info.get("files", {}).get("masks", "masks"), out / RESULT_JSON, "files.masks")
    if not folder.is_dir():
        raise RunFolderError(f"{out}: the masks folder {folder} is missing; re-run `sampt run`")
    return folder


def _as_dir(result_dir: Any) -> Path:
    if not isinstance(result_dir, (str, os.PathLike)):
        raise UsageError(f"result_dir must be the path of a result folder, not {type(result_dir).__name__}")
    return Path(result_dir)


def read_masks(out: Path, info: dict) -> np.ndarray:
    """Every frame's label PNG as ``(T, H, W)`` uint8: each one present, readable and of one size (the
    input's, when result.json records it)."""
    from sampt.io import natural_key, read_label_png

    folder = _mask_folder(out, info)
    file = out / RESULT_JSON
    names = info.get("input", {}).get("frame_names")
    if names is None:  # a folder written before frame names were recorded: its PNGs in natural order
        names = sorted((p.stem for p in folder.glob("*.png")), key=natural_key)
        info.setdefault("input", {})["frame_names"] = names
    if "num_frames" in info and info["num_frames"] != len(names):
        raise _bad(file, "num_frames", f"is {info['num_frames']} but {len(names)} frames are named")
    if not names:
        raise RunFolderError(f"{folder} holds no mask PNGs; re-run `sampt run`")
    size = (info["input"].get("height"), info["input"].get("width"))
    maps = []
    for n in names:
        png = inside(folder, f"{n}.png", file, "input.frame_names")
        if not png.is_file():
            raise RunFolderError(f"{out}: mask {png} is missing ({n!r} of {len(names)} frames); re-run `sampt run`")
        try:
            labels = read_label_png(png)
        except UsageError as e:
            raise RunFolderError(f"mask {png} cannot be read ({e}); re-run `sampt run`") from None
        if None in size:
            size = labels.shape
        if labels.shape != tuple(size):
            raise RunFolderError(f"mask {png} is {labels.shape[1]}x{labels.shape[0]}, the run's frames are "
                                 f"{size[1]}x{size[0]}; re-run `sampt run`")
        maps.append(labels)
    return np.stack(maps)


TRACK_ARRAYS = ("points", "visibility", "query_points", "object_ids", "labels")


def read_tracks(file: Path, num_frames: int) -> dict:
    """``tracks.npz``'s arrays (no pickle), their shapes checked against each other and ``num_frames``."""
    try:
        with np.load(file, allow_pickle=False) as z:
            missing = [k for k in TRACK_ARRAYS if k not in z.files]
            if missing:
                raise _bad(file, missing[0], "is missing")
            arrays = {k: z[k] for k in (*TRACK_ARRAYS, "confidence") if k in z.files}
    except RunFolderError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise _bad(file, "", f"is not a readable NumPy archive ({str(e)[:80]})") from None
    points = arrays["points"]
    if points.ndim != 3 or points.shape[0] != num_frames or points.shape[2] != 2 or points.dtype.kind != "f":
        raise _bad(file, "points", f"must be float ({num_frames}, N, 2), not {points.dtype} {points.shape}")
    n = points.shape[1]
    expected = {"visibility": (num_frames, n), "query_points": (n, 3), "object_ids": (n,), "labels": (n,),
                "confidence": (num_frames, n)}
    for key, shape in expected.items():
        if key in arrays and (arrays[key].shape != shape or arrays[key].dtype.kind not in "biuf"):
            raise _bad(file, key, f"must be numbers of shape {shape}, not {arrays[key].dtype} {arrays[key].shape}")
    return arrays


@dataclass
class SavedResult:
    """A result folder read back (:func:`load_result`): ``label_maps`` ``(T, H, W)`` uint8, ``tracks``
    (all points, ``point_object_ids`` and ``point_labels`` saying whose they are; ``tracks.npz`` is read
    and checked on first use), ``info`` the whole result.json. Names follow
    :class:`~sampt.pipeline.SamPtResult` where they overlap."""

    path: Path
    info: dict
    label_maps: np.ndarray
    _track_arrays: Optional[dict] = field(default=None, repr=False)

    def _tracks_file(self) -> Optional[Path]:
        rel = self.info.get("files", {}).get("tracks", TRACKS_NPZ)
        file = inside(self.path, rel, self.path / RESULT_JSON, "files.tracks")
        return file if file.is_file() else None

    def _arrays(self) -> Optional[dict]:
        if self._track_arrays is None:
            file = self._tracks_file()
            if file is None:
                return None
            self._track_arrays = read_tracks(file, self.num_frames)
        return self._track_arrays

    @property
    def tracks(self) -> Optional[Tracks]:
        a = self._arrays()
        return None if a is None else Tracks(a["points"], a["visibility"].astype(bool), a.get("confidence"))

    @property
    def query_points(self) -> Optional[np.ndarray]:
        a = self._arrays()
        return None if a is None else a["query_points"]

    @property
    def point_object_ids(self) -> Optional[np.ndarray]:
        a = self._arrays()
        return None if a is None else a["object_ids"]

    @property
    def point_labels(self) -> Optional[np.ndarray]:
        a = self._arrays()
        return None if a is None else a["labels"]

    @property
    def object_ids(self) -> list[int]:
        return list(self.info["object_ids"])

    @property
    def scores(self) -> np.ndarray:
        """Each object's score (NaN where none was recorded)."""
        scores = self.info.get("scores") or [None] * len(self.object_ids)
        return np.asarray([np.nan if s is None else s for s in scores], float)

    @property
    def frame_names(self) -> list[str]:
        return list(self.info["input"]["frame_names"])

    @property
    def quality(self) -> Any:
        """Each (frame, object) mask's measures and flags (a :class:`~sampt.pipeline.quality.FrameQuality`),
        None for a folder written before quality was recorded."""
        from sampt.pipeline.quality import FrameQuality

        data = self.info.get("quality")
        return None if data is None else FrameQuality.from_json(data)

    @property
    def num_frames(self) -> int:
        return int(self.label_maps.shape[0])

    @property
    def areas(self) -> np.ndarray:
        """``(T, O)`` pixels of each object on each frame (counted from the masks)."""
        return np.stack([(self.label_maps == i).sum(axis=(1, 2)) for i in self.object_ids], axis=1) \
            if self.object_ids else np.zeros((self.num_frames, 0), np.int64)

    @property
    def boxes(self) -> list:
        """``[t][o]`` ``[x0, y0, x1, y1]`` or None."""
        return self.info.get("per_frame", {}).get("box", [])

    @property
    def masks(self) -> np.ndarray:
        """``(T, O, H, W)`` bool."""
        return np.stack([self.label_maps == i for i in self.object_ids], axis=1)

    def mask(self, t: int, object_index: int) -> np.ndarray:
        return self.label_maps[t] == self.object_ids[object_index]

    def label_map(self, t: int) -> np.ndarray:
        return self.label_maps[t]

    def object_tracks(self, object_id: int) -> Tracks:
        """The tracks of one object's points."""
        tracks = self.tracks
        if tracks is None:
            raise UsageError(f"{self.path} has no {TRACKS_NPZ}")
        return tracks.select(np.flatnonzero(self.point_object_ids == object_id))


@api_boundary()
def load_result(result_dir: str | os.PathLike) -> SavedResult:
    """Read a result folder written by ``sampt run`` / :func:`sampt.segment`: result.json and the masks,
    validated (:class:`RunFolderError` naming the file and field otherwise); tracks on first use."""
    out = _as_dir(result_dir)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is a file; give the result folder that `sampt run -o` wrote")
    info = read_info(out)
    return SavedResult(out, info, read_masks(out, info))
