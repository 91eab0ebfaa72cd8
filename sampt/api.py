"""The one-line Python API: :func:`segment` and :func:`load_result`.

    import sampt
    result = sampt.segment("video.mp4", mask="first.png", tracker="lk", segmenter="grabcut")
    result.label_map(0), result.scores, result.tracks[0]

``sampt run`` is this same path with command-line parsing in front.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence


from sampt.errors import UsageError, api_boundary, as_path, shown
from sampt.prompts import UserObject, gather_objects, to_object_prompts
from sampt.results import SavedResult, load_result
from sampt.types import Video

if TYPE_CHECKING:  # the pipeline and the run folder are imported when a run needs them
    from sampt.pipeline import SamPt, SamPtResult
    from sampt.results import RunOutput

log = logging.getLogger("sampt")

__all__ = ["segment", "load_result", "as_video", "run_to_folder", "SavedResult"]


def as_video(video: Any, stride: int = 1, max_frames: Optional[int] = None, progress: bool = False) -> Video:
    """A :class:`Video` from a path (video file or frame folder, read with ``stride``/``max_frames``), a
    ``(T, H, W, 3)`` uint8 array or a Video (:func:`sampt.io.as_video`)."""
    from sampt.io import as_video as _as_video, read_video

    if isinstance(video, (str, os.PathLike)):
        return read_video(video, stride=stride, max_frames=max_frames, progress=progress)
    if stride != 1 or max_frames is not None:
        raise UsageError("stride and max_frames apply to a path; slice an array or Video yourself")
    return _as_video(video)


def _config(tracker: Optional[str], segmenter: Optional[str], overrides: Sequence[str], config: Optional[str]):
    from sampt.config import compose

    picked = [f"tracker={tracker}"] if tracker else []
    picked += [f"segmenter={segmenter}"] if segmenter else []
    return compose([*picked, *overrides], config)


def run_to_folder(pipeline: SamPt, video: Video, objects: Sequence[UserObject], output: str | os.PathLike | RunOutput,
                  overlay: Optional[str] = "mp4", sequence: Optional[str] = None, progress: bool = False,
                  config: Optional[dict] = None, inputs: Optional[dict] = None,
                  extra: Optional[Mapping[str, Any] | Callable[[SamPtResult], Mapping[str, Any]]] = None,
                  keep_masks: bool = False) -> tuple[SamPtResult, Path, float]:
    """Run ``pipeline`` and write its result folder ``output`` (a path, or a :class:`~sampt.results.RunOutput`
    made earlier to check the destination before any work), label PNGs streamed as frames finish, the whole
    folder swapped in only on success. Returns the result, the folder and the seconds the run took. Masks
    stay in the result only when ``keep_masks`` or an overlay needs them. ``extra``: more result.json keys,
    or a function of the result giving them."""
    from sampt.results import RunOutput

    out = output if isinstance(output, RunOutput) else RunOutput(output)
    try:
        prompts = to_object_prompts(objects, video, pipeline.segmenter)
        out.begin(video, [o.object_id for o in objects], sequence)
        started = time.perf_counter()
        result = pipeline.run(video, prompts, progress=progress, on_frame=out, keep_masks=keep_masks or bool(overlay))
        elapsed = time.perf_counter() - started
        if callable(extra):
            extra = extra(result)
        path = out.finish(result, video, overlay=overlay, prompts=[o.describe(video.frame_names) for o in objects],
                          inputs=inputs, config=config, extra=extra, progress=progress)
    finally:
        out.discard()
    return result, path, elapsed


def _check_arguments(output: Any, tracker: Any, segmenter: Any, config: Any, overrides: Any, overlay: Any) -> None:
    """:func:`segment`'s arguments of the wrong type, refused naming the argument (before any work)."""
    for name, value in (("output", output), ("config", config)):
        if value is not None:
            as_path(value, name)
    for name, value in (("tracker", tracker), ("segmenter", segmenter)):
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a component name (a str, see `sampt plugins`), not {shown(value)}")
    if overlay not in (None, False, True, "mp4", "gif"):
        raise UsageError(f"overlay must be 'mp4', 'gif' or None, not {shown(overlay)}")
    items = [overrides] if isinstance(overrides, str) else overrides
    if not isinstance(items, (list, tuple)) or not all(isinstance(o, str) for o in items):
        raise UsageError(f"overrides must be a list of 'key=value' strings, not {shown(overrides)}")


@api_boundary(output="output")
def segment(video: Any, mask: Any = None, points: Any = None, box: Any = None, frame: int = 0,
            tracker: Optional[str] = None, segmenter: Optional[str] = None, overrides: Sequence[str] = (),
            config: Optional[str] = None, output: Optional[str | os.PathLike] = None, overlay: Optional[str] = "mp4",
            stride: int = 1, max_frames: Optional[int] = None, progress: bool = False) -> Any:
    """Segment objects through a video in one call; returns the :class:`~sampt.pipeline.SamPtResult`.

    ``video``: a video file, a folder of frames, a ``(T, H, W, 3)`` uint8 array or a :class:`Video`.
    Objects (at least one): ``mask`` a label-map PNG path or array (every label an object), ``points`` one
    object's ``(K, 2)`` clicks (``(K, 3)`` with a 1/0 label column) or a list of them, ``box`` ``(x0, y0, x1,
    y1)`` or ``(N, 4)``; all on ``frame``, or ``{frame: value}`` for objects on different frames.
    ``tracker`` / ``segmenter`` name components (``sampt plugins``); ``overrides`` are further
    ``key=value`` settings. With ``output`` the result folder of ``sampt run`` is written there too
    (masks, tracks.npz, the overlay, result.json).
    """
    _check_arguments(output, tracker, segmenter, config, overrides, overlay)
    objects = gather_objects(mask=mask, points=points, box=box, frame=frame)
    cfg = _config(tracker, segmenter, overrides, config)
    from omegaconf import OmegaConf

    from sampt.config import build_pipeline

    pipeline = build_pipeline(cfg)
    clip = as_video(video, stride=stride, max_frames=max_frames, progress=progress)
    if output is None:
        return pipeline.run(clip, to_object_prompts(objects, clip, pipeline.segmenter), progress=progress)
    inputs = {"path": str(video) if isinstance(video, (str, os.PathLike)) else None, "stride": stride,
              "max_frames": max_frames}
    result, _, _ = run_to_folder(pipeline, clip, objects, output, overlay=overlay, progress=progress,
                                 config=OmegaConf.to_container(cfg), inputs=inputs, keep_masks=True)
    return result
