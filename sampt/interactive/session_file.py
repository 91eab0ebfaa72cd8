"""The one check of a session file read from disk (:func:`check_session_file`): everything the loader uses.

A session file comes from anywhere (an upload to the UI, a colleague's mail), so nothing in it is trusted
before this check: the JSON description's types, the format version, the option keys and values, the
config (validated by :func:`sampt.config.check_config`, exactly as a command line's), every index (history
position, points, masks), and every array's dtype and shape against the video it is loaded over. A file
that fails is refused with one :class:`~sampt.interactive.options.EditError` naming the file and the field.

A session file never chooses where sampt reads or writes: the cache folder it records (``cache_dir``, in
files written before this check existed) is ignored, and a config option naming a path is refused.
"""
from __future__ import annotations

import logging
import math
import typing
from pathlib import Path
from typing import Any

import numpy as np

from sampt.interactive.options import EditError, SessionOptions
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.query_points import MAX_OBJECT_ID
from sampt.types import NEGATIVE, POSITIVE

log = logging.getLogger(__name__)


class _Bad(Exception):
    """A field that fails the check: ``field`` names it, the message says what is wrong."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")


def _int(value: Any, field: str, low: int = 0, high: float = math.inf) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        bound = f"in [{low}, {high}]" if high != math.inf else f">= {low}"
        raise _Bad(field, f"must be a whole number {bound}, got {value!r:.40}")
    return value


def _number(value: Any, field: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise _Bad(field, f"must be a finite number, got {value!r:.40}")
    return float(value)


def _of(value: Any, kind: type, field: str) -> Any:
    if not isinstance(value, kind):
        raise _Bad(field, f"must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _array(arrays: dict, name: str, shape: tuple, kind: str) -> np.ndarray:
    """``arrays[name]`` with numpy dtype kind ``kind`` ('u', 'f', 'S'...) and ``shape`` (None: any size)."""
    array = arrays[name]
    if array.dtype.kind != kind or array.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(array.shape, shape)):
        want = "x".join("*" if s is None else str(s) for s in shape)
        raise _Bad(f"array {name!r}", f"must be {want} of kind {kind!r}, got {'x'.join(map(str, array.shape))} {array.dtype}")
    return array


def _check_options(options: Any) -> dict:
    """The saved :class:`SessionOptions` as keyword arguments, every key known and of its field's type."""
    from sampt.plugins import type_name, type_ok

    options = dict(_of(options, dict, "options"))
    hints = typing.get_type_hints(SessionOptions)
    for key, value in options.items():
        if key not in hints:
            raise _Bad(f"options.{key}", f"is not a session option (known: {', '.join(hints)})")
        if key not in ("pipeline", "cache_dir") and not type_ok(value, hints[key]):
            raise _Bad(f"options.{key}", f"must be {type_name(hints[key])}, got {value!r:.40}")
    if options.pop("cache_dir", None) is not None:
        log.warning("the session file names a cache folder; it is ignored (the loading process chooses its own)")
    for key in ("embedding_memory_mb", "result_memory_mb"):
        if key in options and not (math.isfinite(options[key]) and options[key] >= 0):
            raise _Bad(f"options.{key}", f"must be a finite number >= 0, got {options[key]!r}")
    pipeline = dict(_of(options.get("pipeline", {}), dict, "options.pipeline"))
    pipeline_hints = typing.get_type_hints(SamPtOptions)
    for key, value in pipeline.items():
        if key not in pipeline_hints:
            raise _Bad(f"options.pipeline.{key}", f"is not a pipeline option (known: {', '.join(pipeline_hints)})")
        if not type_ok(value, pipeline_hints[key]):
            raise _Bad(f"options.pipeline.{key}", f"must be {type_name(pipeline_hints[key])}, got {value!r:.40}")
    try:
        options["pipeline"] = SamPtOptions(**pipeline)
    except (ValueError, TypeError) as exc:
        raise _Bad("options.pipeline", f"is refused: {exc}") from None
    return options


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and ("/" in value or "\\" in value or value.startswith(("~", ".")))


def _check_config(config: Any, registry: Any) -> Any:
    """The saved config, checked as a command line's would be; None stays None (components given)."""
    if config is None:
        return None
    from omegaconf import OmegaConf

    from sampt.config import COMPONENT_NODES, check_config, compose
    from sampt.errors import UsageError

    config = _of(config, dict, "config")
    known = set(compose([], registry=registry).keys())
    for key in config:
        if key not in known:
            raise _Bad(f"config.{key}", f"is not a config key (known: {', '.join(sorted(known))})")
    for node in COMPONENT_NODES:
        for key, value in _of(config.get(node, {}), dict, f"config.{node}").items():
            if _looks_like_path(value):
                raise _Bad(f"config.{node}.{key}", "names a path; a session file does not choose files to read "
                           f"(build the {node} yourself and pass it to Session.load)")

    def walk(value: Any, field: str) -> None:
        if isinstance(value, str) and "${" in value:
            raise _Bad(field, "holds an interpolation; a session file's config holds plain values only")
        if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
            raise _Bad(field, "is a whole number out of range (64 bits)")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad(field, f"must be a finite number, got {value}")
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()):
            walk(item, f"{field}.{key}")

    walk(config, "config")
    try:
        return OmegaConf.to_container(check_config(OmegaConf.create(config), registry), resolve=True)
    except UsageError as exc:
        raise _Bad("config", f"is refused: {exc}") from None
    except Exception as exc:  # OmegaConf's own errors for a structure it cannot hold
        raise _Bad("config", f"is not a config ({type(exc).__name__})") from None


def check_session_file(path: Path, meta: Any, arrays: dict, video: Any, fmt: int, registry: Any = None) -> dict:
    """Check a session file's description ``meta`` and ``arrays`` against ``video``; return the checked
    options (``options``, a :class:`SessionOptions` keyword dict without ``cache_dir``) and ``config``.
    Raise :class:`EditError` naming ``path`` and the field at the first fault."""
    from sampt.interactive.cache import video_fingerprint

    try:
        meta = _of(meta, dict, "the description")
        if meta.get("format") != fmt:
            raise _Bad("format", f"{meta.get('format')!r:.20} is not supported (this sampt reads {fmt})")
        saved_video = _of(meta.get("video"), dict, "video")
        if video_fingerprint(video) != saved_video.get("fingerprint"):
            raise EditError(f"{path} was saved over another video ({str(saved_video.get('name'))[:80]}, "
                            f"{saved_video.get('frames')!r:.12} frames {saved_video.get('width')!r:.12}x"
                            f"{saved_video.get('height')!r:.12}); load it with that video")
        T, (H, W) = len(video), video.size
        for key, want in (("frames", T), ("height", H), ("width", W)):
            if saved_video.get(key) != want or isinstance(saved_video.get(key), bool):
                raise _Bad(f"video.{key}", f"must be {want} (the video's), got {saved_video.get(key)!r:.20}")
        options = _check_options(meta.get("options"))
        config = _check_config(meta.get("config"), registry)
        _check_content(meta, arrays, T, H, W)
    except _Bad as exc:
        raise EditError(f"session file {path}: {exc}; save the session again (or fix that field)") from None
    return {"options": options, "config": config}


def _check_content(meta: dict, arrays: dict, T: int, H: int, W: int) -> None:
    """Points, history, masks, results and counters: types, indices and array shapes against the video."""
    points = _of(meta.get("points"), list, "points")
    ids = set()
    for i, p in enumerate(points):
        f = f"points[{i}]"
        _of(p, dict, f)
        ids.add(_int(p.get("point_id"), f"{f}.point_id", 1))
        _int(p.get("object_id"), f"{f}.object_id", 1, MAX_OBJECT_ID)
        if p.get("label") not in (POSITIVE, NEGATIVE) or isinstance(p.get("label"), bool):
            raise _Bad(f"{f}.label", f"must be {POSITIVE} or {NEGATIVE}, got {p.get('label')!r:.20}")
        _int(p.get("frame"), f"{f}.frame", 0, T - 1)
        if not 0 <= _number(p.get("x"), f"{f}.x") <= W or not 0 <= _number(p.get("y"), f"{f}.y") <= H:
            raise _Bad(f"{f}", f"lies outside the {W}x{H} frame")
        start = _int(p.get("start"), f"{f}.start", 0, T)
        _int(p.get("end"), f"{f}.end", start, T)
    n = len(points)
    _array(arrays, "tracks", (n, T, 2), "f")
    if n:
        _array(arrays, "visible", (n, (T + 7) // 8), "u")
    masks = arrays["masks"]
    n_masks = len(masks) if masks.ndim else 0
    if n_masks:
        _array(arrays, "masks", (None, H, (W + 7) // 8), "u")
    history = _of(meta.get("history"), list, "history")
    if not history:
        raise _Bad("history", "is empty")
    for i, entry in enumerate(history):
        f = f"history[{i}]"
        _of(entry, dict, f)
        _of(entry.get("action"), dict, f"{f}.action")
        frames = _of(entry.get("frames"), list, f"{f}.frames")
        if len(frames) != 2:
            raise _Bad(f"{f}.frames", "must be [start, stop]")
        _int(frames[1], f"{f}.frames[1]", _int(frames[0], f"{f}.frames[0]", 0, T), T)
        for j, o in enumerate(_of(entry.get("state"), list, f"{f}.state")):
            g = f"{f}.state[{j}]"
            _of(o, dict, g)
            _int(o.get("object_id"), f"{g}.object_id", 1, MAX_OBJECT_ID)
            _int(o.get("frame"), f"{g}.frame", 0, T - 1)
            if o.get("mask") is not None:
                _int(o.get("mask"), f"{g}.mask", 0, n_masks - 1)
            for k, index in enumerate(_of(o.get("points"), list, f"{g}.points")):
                _int(index, f"{g}.points[{k}]", 0, n - 1)
    _int(meta.get("position"), "position", 0, len(history) - 1)
    _int(meta.get("next_point_id"), "next_point_id", max(ids, default=0) + 1)
    results = _of(meta.get("results"), list, "results")
    crop_size = prompt_size = 0
    for i, r in enumerate(results):
        f = f"results[{i}]"
        _of(r, dict, f)
        _int(r.get("frame"), f"{f}.frame", 0, T - 1)
        _int(r.get("object_id"), f"{f}.object_id", 1, MAX_OBJECT_ID)
        if r.get("iou") is not None:
            _number(r.get("iou"), f"{f}.iou")
        if r.get("crop") is not None:
            crop = _of(r.get("crop"), list, f"{f}.crop")
            if len(crop) != 4:
                raise _Bad(f"{f}.crop", "must be [y0, x0, height, width]")
            y0, x0 = _int(crop[0], f"{f}.crop[0]", 0, H - 1), _int(crop[1], f"{f}.crop[1]", 0, W - 1)
            h, w = _int(crop[2], f"{f}.crop[2]", 1, H - y0), _int(crop[3], f"{f}.crop[3]", 1, W - x0)
            crop_size += h * w
        prompt_size += _int(r.get("prompt"), f"{f}.prompt", 0)
    _array(arrays, "crops", (crop_size,), "f")
    _array(arrays, "result_keys", (len(results),), "S")
    _array(arrays, "prompt_points", (prompt_size, 2), "f")
    if arrays["prompt_labels"].dtype.kind not in "iu" or arrays["prompt_labels"].shape != (prompt_size,):
        raise _Bad("array 'prompt_labels'", f"must be {prompt_size} integers, got {arrays['prompt_labels'].shape}")
    for i, t in enumerate(_of(meta.get("dirty"), list, "dirty")):
        _int(t, f"dirty[{i}]", 0, T - 1)
    counters = _of(meta.get("counters"), dict, "counters")
    for key in ("segmented_pairs", "reused_pairs"):
        _int(counters.get(key), f"counters.{key}", 0)

