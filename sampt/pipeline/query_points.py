"""Step 1 of SAM-PT: query points for each object.

From a mask: positive points inside it (positive sampler), negative points on its complement (negative
sampler). From clicks: the clicked points are the queries, and the segmenter turns them into the
object's query mask on its frame (used later to re-initialise points).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.pipeline.context import RunContext
from sampt.pipeline.prompting import ObjectFramePoints, segment_frame
from sampt.types import MAX_OBJECT_ID, NEGATIVE, POSITIVE, check_click_labels, check_points_inside


@dataclass
class ObjectPrompt:
    """How the user marks one object: a ``mask`` ``(H, W)`` bool on ``frame``, or clicked ``points``
    ``(K, 2)`` ``(x, y)`` with ``labels`` (1 positive, 0 negative; default all positive) on ``frame``."""

    object_id: int
    frame: int = 0
    mask: Optional[np.ndarray] = None
    points: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None


@dataclass
class ObjectQueries:
    """An object's query points: ``points`` ``(K, 2)`` on ``frame`` with ``labels`` ``(K,)``, positives
    first, and its query ``mask`` on that frame (None until known)."""

    object_id: int
    frame: int
    points: np.ndarray
    labels: np.ndarray
    mask: Optional[np.ndarray] = None

    @property
    def as_tracker_queries(self) -> np.ndarray:
        """``(K, 3)`` ``(t, x, y)`` rows for a tracker."""
        return np.concatenate([np.full((len(self.points), 1), self.frame, np.float32), self.points], axis=1)


def validate_prompt(prompt: ObjectPrompt, num_frames: int, size: tuple[int, int]) -> None:
    """Raise :class:`UsageError` for a prompt that cannot work: bad frame, empty mask, wrong mask size,
    points outside the frame, no positive click."""
    H, W = size
    if not isinstance(prompt, ObjectPrompt):
        raise UsageError(f"objects must be ObjectPrompt(object_id, frame, mask=... or points=...), got {type(prompt).__name__}")
    oid = prompt.object_id
    if isinstance(oid, bool) or not isinstance(oid, (int, np.integer)) or not 1 <= oid <= MAX_OBJECT_ID:
        raise UsageError(f"object id {oid!r} is not allowed: ids are whole numbers 1..{MAX_OBJECT_ID} "
                         "(they are the label values of the output masks; 0 is background)")
    what = f"object {prompt.object_id}"
    frame = prompt.frame
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise UsageError(f"{what}: frame {frame!r} is not a frame index; give a whole number 0..{num_frames - 1}")
    if not 0 <= prompt.frame < num_frames:
        raise UsageError(f"{what}: frame {prompt.frame} is outside the video (0..{num_frames - 1})")
    if (prompt.mask is None) == (prompt.points is None):
        raise UsageError(f"{what}: give either a mask or clicked points, not {'both' if prompt.mask is not None else 'neither'}")
    if prompt.mask is not None:
        mask = np.asarray(prompt.mask)
        if mask.dtype.kind not in "biuf":
            raise UsageError(f"{what}: the mask must be a boolean (H, W) array, got dtype {mask.dtype}")
        if mask.dtype.kind == "f" and not np.all(np.isfinite(mask)):
            raise UsageError(f"{what}: the mask holds NaN or infinite values")
        if mask.shape != (H, W):
            got = f"is {mask.shape[1]}x{mask.shape[0]}" if mask.ndim == 2 else f"has shape {mask.shape}, not (H, W),"
            raise UsageError(f"{what}: mask {got} but the video is {W}x{H}; resize the mask or the video so they match")
        if not mask.any():
            raise UsageError(f"{what}: the mask on frame {prompt.frame} is empty; give a mask with at least one pixel")
    else:
        try:
            points = np.asarray(prompt.points, np.float64)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"{what}: clicked points must be numbers (K, 2) (x, y)") from None
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise UsageError(f"{what}: clicked points must be a (K, 2) array of (x, y), got shape {points.shape}")
        if not np.all(np.isfinite(points)):
            raise UsageError(f"{what}: clicked points hold NaN or infinity")
        try:
            check_points_inside(points, H, W, f"{what}: clicked points")
            check_click_labels(prompt.labels, len(points), f"{what}: clicked points")
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def validate_box(box: np.ndarray, frame: int, num_frames: int, size: tuple[int, int], what: str = "box") -> None:
    """Raise :class:`UsageError` for a box prompt ``(x0, y0, x1, y1)`` the video cannot take: its frame
    outside the video or the box outside the frame (its values are the prompt's own rule)."""
    H, W = size
    if not 0 <= frame < num_frames:
        raise UsageError(f"{what}: frame {frame} is outside the video (0..{num_frames - 1})")
    x0, y0, x1, y1 = (float(v) for v in box)
    if x0 < -0.5 or y0 < -0.5 or x1 > W - 0.5 or y1 > H - 0.5:
        raise UsageError(f"{what}: box {np.asarray(box).tolist()} on frame {frame} lies outside the {W}x{H} frame")


def query_points(ctx: RunContext, objects: Sequence[ObjectPrompt]) -> list[ObjectQueries]:
    """Each object's query points and query mask: sampled from its mask, or its clicks with the mask the
    segmenter answers them with on their frame (through the same prompting as step 3)."""
    for o in objects:
        validate_prompt(o, len(ctx.video), ctx.video.size)
    ids = [o.object_id for o in objects]
    if len(set(ids)) != len(ids):
        raise UsageError(f"object ids must be unique, got {ids}")
    queries = []
    for i, o in enumerate(objects):
        if o.mask is not None:
            queries.append(sample_query_points(ctx, o.mask, o.frame, o.object_id, ctx.query_seed(i)))
        else:
            queries.append(_queries_from_clicks(ctx, o))
    return queries


def sample_query_points(ctx: RunContext, mask: np.ndarray, frame: int, object_id: int, seed: int) -> ObjectQueries:
    """Sample an object's query points from its mask on ``frame`` with the context's samplers: positive
    points inside (``seed``), negative points on the complement (``seed + 1``). An empty mask (reachable
    only through ``reference_reinit``) gives every positive point at (0, 0), as the reference does."""
    mask = np.asarray(mask, bool)
    image = ctx.video[frame]
    if mask.any():
        positives = ctx.positive_sampler.sample(mask, ctx.options.positive_points, seed=seed, image=image)
    else:  # only in reference re-initialisation: the reference's samplers answer an empty mask with (0, 0)s
        positives = np.zeros((ctx.options.positive_points, 2), np.float32)
    parts, labels = [positives], [np.full(len(positives), POSITIVE, np.int64)]
    if ctx.options.negative_points > 0 and (~mask).any():
        negatives = ctx.negative_sampler.sample(~mask, ctx.options.negative_points, seed=seed + 1, image=image)
        parts.append(negatives)
        labels.append(np.full(len(negatives), NEGATIVE, np.int64))
    return ObjectQueries(object_id, frame, np.concatenate(parts).astype(np.float32), np.concatenate(labels), mask)


def _queries_from_clicks(ctx: RunContext, prompt: ObjectPrompt) -> ObjectQueries:
    """The clicked points as queries, positives first, with the segmenter's mask of them as query mask."""
    points = np.asarray(prompt.points, np.float32).reshape(-1, 2)
    labels = check_click_labels(prompt.labels, len(points))
    order = np.argsort(labels != POSITIVE, kind="stable")
    points, labels = points[order], labels[order]
    clicked = ObjectFramePoints(points, labels, np.ones(len(points), bool))
    ctx.embeddings.pin([prompt.frame])  # step 3 segments this frame again: keep its embedding for the run
    result = segment_frame(ctx, prompt.frame, [clicked], ctx.frame_rng(prompt.frame))[0]
    mask = (result.logits > 0) if result.logits is not None else np.zeros(ctx.video.size, bool)
    return ObjectQueries(prompt.object_id, prompt.frame, points, labels, mask)
