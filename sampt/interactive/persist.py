"""One file per session: ``.npz`` holding a JSON description and the arrays, written atomically.

The file keeps every point the history refers to (each stored once, however many states share it), the
states of the history as lists of those points, the current masks (cropped float16 logits, as the run's
:class:`~sampt.pipeline.store.MaskStore` keeps them) with the prompt each was computed from. It names no
folder: a loaded session has the same masks and the same history (undo works) and, given the same
``cache_dir`` as the saved one, encodes no frame again. Everything read is checked first, in one place
(:func:`~sampt.interactive.session_file.check_session_file`). The video itself is not stored: it is given again and
checked against the fingerprint saved with the session.
"""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sampt.interactive.cache import video_fingerprint
from sampt.interactive.session_file import check_session_file
from sampt.interactive.options import EditError, SessionOptions
from sampt.interactive.state import HistoryEntry, ObjectState, Point, SegmentationMemo
from sampt.outputs import atomic_file

FORMAT = 1
ARRAYS = ("meta", "tracks", "visible", "masks", "crops", "result_keys", "prompt_points", "prompt_labels")


def write_session(session: Any, path: Path) -> Path:
    """Write ``session`` (a :class:`~sampt.interactive.session.Session`) to ``path`` atomically."""
    points: dict[int, int] = {}  # id(Point) -> storage index
    stored: list[Point] = []
    masks: list[np.ndarray] = []

    def point_index(p: Point) -> int:
        if id(p) not in points:
            points[id(p)] = len(stored)
            stored.append(p)
        return points[id(p)]

    def mask_index(m: Optional[np.ndarray]) -> Optional[int]:
        if m is None:
            return None
        for i, known in enumerate(masks):
            if known is m:
                return i
        masks.append(m)
        return len(masks) - 1

    history = []
    for entry in session._history:
        history.append({"action": entry.action, "frames": [entry.frames.start, entry.frames.stop],
                        "state": [{"object_id": o.object_id, "frame": o.frame, "mask": mask_index(o.mask),
                                   "points": [point_index(p) for p in o.points]} for o in entry.state]})
    T = session.num_frames
    results = sorted(session._masks.results.items())
    crops = [r.entry[2].reshape(-1) for _, r in results if r.entry is not None]
    prompt_points = [r.prompt[0].reshape(-1, 2) for _, r in results]
    prompt_labels = [r.prompt[1].reshape(-1) for _, r in results]
    options = dataclasses.asdict(session.options)
    options.pop("cache_dir")  # a session file names no folder: the loading process chooses its own
    meta = {
        "format": FORMAT,
        "video": {"fingerprint": video_fingerprint(session.video), "frames": T, "height": session.video.height,
                  "width": session.video.width, "name": session.video.name},
        "options": options, "config": session.config,
        "position": session._position, "next_point_id": session._next_point_id, "history": history,
        "points": [{"point_id": p.point_id, "object_id": p.object_id, "label": p.label, "frame": p.frame,
                    "x": p.x, "y": p.y, "start": p.start, "end": p.end} for p in stored],
        "results": [{"frame": t, "object_id": oid, "iou": None if np.isnan(r.iou) else r.iou,
                     "crop": None if r.entry is None else [r.entry[0], r.entry[1], *r.entry[2].shape],
                     "prompt": len(r.prompt[1])} for (t, oid), r in results],
        "dirty": sorted(session._masks.dirty),
        "counters": {"segmented_pairs": session.segmented_pairs, "reused_pairs": session.reused_pairs},
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
        "tracks": np.stack([p.track for p in stored]) if stored else np.zeros((0, T, 2), np.float32),
        "visible": np.packbits(np.stack([p.visible for p in stored]), axis=1) if stored else np.zeros((0, 0), np.uint8),
        "masks": np.packbits(np.stack(masks), axis=-1) if masks else np.zeros((0, 0, 0), np.uint8),
        "crops": np.concatenate(crops) if crops else np.zeros(0, np.float16),
        "result_keys": np.array([r.key for _, r in results], dtype="S20") if results else np.zeros(0, "S20"),
        "prompt_points": np.concatenate(prompt_points) if prompt_points else np.zeros((0, 2), np.float32),
        "prompt_labels": np.concatenate(prompt_labels) if prompt_labels else np.zeros(0, np.int64),
    }
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path


def read_session(cls: Any, path: Path, video: Any, tracker: Any, segmenter: Any, positive_sampler: Any,
                 negative_sampler: Any, registry: Any, overrides: dict) -> Any:
    """The session saved at ``path`` (see :meth:`~sampt.interactive.session.Session.load`)."""
    if not path.is_file():
        raise EditError(f"session file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays["meta"].tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # never numpy's unpickling hint
        raise EditError(f"{path} is not a sampt session file, or it is damaged "
                        f"({type(exc).__name__}{'; sampt never unpickles a file' if 'pickle' in str(exc) else ''})") from None
    missing = sorted(set(ARRAYS) - set(arrays))
    if missing:
        raise EditError(f"{path} is damaged: it lacks {', '.join(missing)}; save the session again")
    checked = check_session_file(path, meta, arrays, video, FORMAT, registry)
    saved = checked["options"]
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(SessionOptions)})
    if unknown:
        raise EditError(f"Session.load got unknown session option {unknown[0]!r}; session options: "
                        f"{', '.join(f.name for f in dataclasses.fields(SessionOptions))}")
    saved.update(overrides)  # the cache folder, like every override, is the loading process's choice
    options = SessionOptions(**saved)
    config = checked["config"]
    if tracker is None or segmenter is None or positive_sampler is None or negative_sampler is None:
        if config is None and (tracker is None or segmenter is None):
            raise EditError(f"{path} was made from components, not a config: pass tracker= and segmenter= to load it")
        if config is not None:
            from omegaconf import OmegaConf

            from sampt.config import build_component
            from sampt.plugins import Registry

            cfg, registry = OmegaConf.create(config), registry or Registry()
            tracker = tracker or build_component(cfg, "tracker", registry)
            segmenter = segmenter or build_component(cfg, "segmenter", registry)
            positive_sampler = positive_sampler or build_component(cfg, "positive_sampler", registry)
            negative_sampler = negative_sampler or build_component(cfg, "negative_sampler", registry)
    session = cls(video, tracker, segmenter, options, positive_sampler, negative_sampler, config=config)
    try:
        _restore(session, meta, arrays, video)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        session.close()
        raise EditError(f"{path} is damaged ({type(exc).__name__}: {exc}); save the session again") from None
    return session


def _restore(session: Any, meta: dict, arrays: dict, video: Any) -> None:
    """Put the saved points, history, masks and counters into a fresh ``session``."""
    T = meta["video"]["frames"]
    visible = np.unpackbits(arrays["visible"], axis=1, count=T).astype(bool) if len(meta["points"]) else None
    points = []
    for k, p in enumerate(meta["points"]):
        points.append(Point(p["point_id"], p["object_id"], p["label"], p["frame"], p["x"], p["y"],
                            arrays["tracks"][k].astype(np.float32), visible[k], p["start"], p["end"]))
    H, W = video.size
    masks = [np.unpackbits(m, axis=-1, count=W).astype(bool) for m in arrays["masks"]] if len(arrays["masks"]) else []
    history = []
    for entry in meta["history"]:
        state = tuple(ObjectState(o["object_id"], o["frame"], tuple(points[i] for i in o["points"]),
                                  None if o["mask"] is None else masks[o["mask"]]) for o in entry["state"])
        history.append(HistoryEntry(entry["action"], state, range(*entry["frames"])))
    session._history, session._position = history, meta["position"]
    session._next_point_id = meta["next_point_id"]
    crop_offset = prompt_offset = 0
    for k, r in enumerate(meta["results"]):
        entry = None
        if r["crop"] is not None:
            y0, x0, h, w = r["crop"]
            entry = (y0, x0, arrays["crops"][crop_offset:crop_offset + h * w].reshape(h, w))
            crop_offset += h * w
        n = r["prompt"]
        prompt = (arrays["prompt_points"][prompt_offset:prompt_offset + n], arrays["prompt_labels"][prompt_offset:prompt_offset + n])
        prompt_offset += n
        session._masks.results[(r["frame"], r["object_id"])] = SegmentationMemo(bytes(arrays["result_keys"][k]), entry,
                                                                 np.nan if r["iou"] is None else r["iou"], prompt)
    session._masks.dirty = set(meta["dirty"])
    session._masks.segmented_pairs = meta["counters"]["segmented_pairs"]
    session._masks.reused_pairs = meta["counters"]["reused_pairs"]
