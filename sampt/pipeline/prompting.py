"""Step 3 of SAM-PT: prompt the segmenter with each object's tracked, visible points on every frame.

Per frame the image is encoded once and the embedding is shared by every object and every pass:

* a point is used when the tracker says it is visible and it lies inside the frame, away from the border
  (``border_margin`` of the width/height, 0.01 as in the reference);
* the prompt is the object's visible points (positive 1, negative 0) plus, with several objects, the
  visible positive points of every other object as negatives (optionally capped, drawn with the seed);
* an object with no visible positive point of its own has an empty mask on that frame (the reference
  would prompt with negatives only, which cannot describe an object);
* with negative points in use (``negative_points > 0``): pass 1 prompts with the positives only, pass 2
  with all points and pass 1's low-resolution logits; otherwise a single pass with the points;
* then ``refinement_iterations`` passes with all points, the current mask's bounding box and the previous
  low-resolution logits, stopping early when the mask has fewer than 2 pixels;
* single-mask output; a predicted IoU below ``iou_threshold`` empties the mask (the IoU is still recorded).

Prompts of all objects of a frame go to the segmenter together in each pass, so a batching segmenter
decodes them in one call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from sampt.interfaces import ImageEmbedding
from sampt.pipeline.context import RunContext
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.store import SegmentationOutput
from sampt.types import NEGATIVE, POSITIVE, Prediction, Prompt, Tracks


@dataclass
class ObjectFramePoints:
    """One object's points on one frame: ``points`` ``(K, 2)``, ``labels`` ``(K,)``, ``visible`` ``(K,)``."""

    points: np.ndarray
    labels: np.ndarray
    visible: np.ndarray


@dataclass
class ObjectFrameResult:
    """The outcome for one object on one frame. ``logits`` None means an empty mask; ``iou`` None means
    the object had no prompt; ``prompt`` the points and labels actually used (for visualisation)."""

    logits: Optional[np.ndarray]
    iou: Optional[float]
    prompt_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    prompt_labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))


def usable_points(points: np.ndarray, visible: np.ndarray, size: tuple[int, int], margin: float) -> np.ndarray:
    """Which points are visible and inside the frame, away from the border (reference rule)."""
    H, W = size
    x, y = points[:, 0] / W, points[:, 1] / H
    inside = (x >= margin) & (x <= 1 - margin) & (y >= margin) & (y <= 1 - margin)
    return np.asarray(visible, bool) & inside & np.all(np.isfinite(points), axis=1)


def build_prompt_points(objects: Sequence[ObjectFramePoints], size: tuple[int, int], options: SamPtOptions,
                        rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each object's prompt points and labels on a frame (own visible points, then others' positives)."""
    usable = [usable_points(o.points, o.visible, size, options.border_margin) for o in objects]
    own = [(o.points[u], o.labels[u]) for o, u in zip(objects, usable)]
    prompts = []
    for i, (points, labels) in enumerate(own):
        if len(objects) > 1 and options.others_as_negatives:
            others = [p[lab == POSITIVE] for j, (p, lab) in enumerate(own) if j != i]
            extra = np.concatenate(others, axis=0) if others else np.zeros((0, 2), np.float32)
            cap = options.max_other_negatives
            if cap is not None and len(extra) > cap:
                extra = extra[np.sort(rng.choice(len(extra), size=cap, replace=False))]
            points = np.concatenate([points, extra], axis=0)
            labels = np.concatenate([labels, np.full(len(extra), NEGATIVE, np.int64)])
        prompts.append((points.astype(np.float32), labels.astype(np.int64)))
    return prompts


def mask_box(mask: np.ndarray) -> np.ndarray:
    """``(x0, y0, x1, y1)`` of a mask's pixels, in point coordinates (pixel centres)."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)


def segment_frame(ctx: RunContext, embedding: ImageEmbedding, objects: Sequence[ObjectFramePoints],
                  rng: np.random.Generator) -> list[ObjectFrameResult]:
    """Masks of ``objects`` on one frame, following the protocol in this module's docstring."""
    return segment_prompts(ctx, embedding, build_prompt_points(objects, embedding.size, ctx.options, rng))


def segment_prompts(ctx: RunContext, embedding: ImageEmbedding,
                    prompt_points: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[ObjectFrameResult]:
    """Masks for prompts already built by :func:`build_prompt_points` (two passes, refinement, IoU
    threshold). Each object's answer depends on its own prompt only, so a caller that knows which objects'
    prompts changed (an interactive session) can pass just those and get the same masks."""
    options = ctx.options
    size = embedding.size
    results = [ObjectFrameResult(None, None, p, lab) for p, lab in prompt_points]
    # only the object's own points can be positive: others' points were added as negatives
    active = [i for i, (_, labels) in enumerate(prompt_points) if np.any(labels == POSITIVE)]
    if not active:
        return results

    def decode(prompts: list[Prompt]) -> list[Prediction]:
        return ctx.decode(embedding, prompts)

    if options.negative_points > 0:
        first = decode([Prompt(prompt_points[i][0][prompt_points[i][1] == POSITIVE],
                               prompt_points[i][1][prompt_points[i][1] == POSITIVE]) for i in active])
        current = decode([Prompt(prompt_points[i][0], prompt_points[i][1], mask_logits=p.low_res_logits)
                          for i, p in zip(active, first)])
    else:
        current = decode([Prompt(prompt_points[i][0], prompt_points[i][1]) for i in active])
    predictions = dict(zip(active, current))

    # the reference passes the box to SAM's model without SAM's coordinate map: give the segmenter the box
    # that its map sends exactly onto the original pixel values
    to_box = ctx.segmenter.coordinate_transform(size).from_model if options.reference_box else None
    refining = list(active)
    for _ in range(options.refinement_iterations):
        refining = [i for i in refining if np.count_nonzero(predictions[i].logits > 0) >= 2]
        if not refining:
            break
        prompts = []
        for i in refining:
            box = mask_box(predictions[i].logits > 0)
            box = to_box(box) if to_box is not None else box
            prompts.append(Prompt(prompt_points[i][0], prompt_points[i][1], box=box,
                                  mask_logits=predictions[i].low_res_logits))
        for i, p in zip(refining, decode(prompts)):
            predictions[i] = p

    for i in active:
        p = predictions[i]
        results[i].iou = float(p.iou)
        results[i].logits = p.logits if p.iou >= options.iou_threshold else None
    return results


def segment_video(ctx: RunContext, objects_labels: Sequence[np.ndarray], tracks: Sequence[Tracks],
                  frames: Sequence[int], output: Optional[SegmentationOutput] = None,
                  object_index: Optional[Sequence[int]] = None, progress: Any = None,
                  on_frame: Optional[Callable[[int, SegmentationOutput], None]] = None) -> SegmentationOutput:
    """Segment ``frames`` given each object's track ``labels`` and :class:`~sampt.types.Tracks`.

    ``tracks[i]`` covers the frames listed in ``frames`` in order (``tracks[i].points[k]`` is frame
    ``frames[k]``). Results go to ``output`` (created if None) at objects ``object_index`` (default 0..O-1).
    ``on_frame(t, output)`` is called once frame ``t`` is final (to stream results to disk); ``progress``
    is a progress bar (``update(1)`` per frame) or None.
    """
    num_objects = len(tracks)
    object_index = list(range(num_objects)) if object_index is None else list(object_index)
    if output is None:
        output = SegmentationOutput.empty(len(ctx.video), num_objects, ctx.video.size)
    for k, t in enumerate(frames):
        frame_points = [ObjectFramePoints(tr.points[k], lab, tr.visibility[k]) for tr, lab in zip(tracks, objects_labels)]
        results = segment_frame(ctx, ctx.embedding(t), frame_points, ctx.frame_rng(t))
        for o, r in zip(object_index, results):
            output.record(t, o, r)
        if on_frame is not None:
            on_frame(t, output)
        if progress is not None:
            progress.update(1)
    return output
