"""A weightless promptable segmenter: GrabCut (OpenCV) seeded from the prompt.

It implements the full :class:`~sampt.interfaces.Segmenter` protocol so the SAM-PT pipeline runs on any
machine with no checkpoint. Seeds: positive points are sure foreground, negative points sure background;
a previous mask prompt (low-resolution logits) is probable foreground; outside the box (when given) is sure
background. Clicks alone (no box, no mask prompt) are seeded as ``from_clicks`` says: ``box`` (default) takes
a rectangle around the positive clicks grown by ``click_margin`` as GrabCut's rectangle (probable
foreground inside, sure background outside) and keeps only the mask's components that hold a positive
click, so two or three clicks give the object, not discs around them; ``discs`` makes the clicks' hull and
discs around them probable foreground (the former behaviour, kept for comparison:
``benchmarks/bench_grabcut_clicks.py``). GrabCut runs on a crop around the prompt, so cost scales with the
object, not the frame.

Its "predicted IoU" is the fraction of prompt points the mask agrees with (positives inside, negatives
outside), scaled down for masks that swallow most of the crop: GrabCut has no learned quality head, and
this proxy is what lets the pipeline's IoU threshold reject degenerate masks.
"""
from __future__ import annotations

from typing import Annotated, Sequence

import cv2
import numpy as np

from sampt.constraints import Choices, Range
from sampt.hookspecs import hookimpl
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import Prediction, Prompt


class GrabCutSegmenter(Segmenter):
    """GrabCut seeded from points, box and previous mask. ``point_radius`` is the seed disc radius in
    pixels (0: scale with the image), ``margin`` the crop margin as a fraction of the prompt's extent;
    ``from_clicks`` how clicks alone are seeded (see the module docstring) and ``click_margin`` how far the
    clicks' rectangle is grown on each side, as a fraction of its larger side (at least a tenth of the
    frame's longer side)."""

    low_res_size = (256, 256)
    predicts_iou = False  # the score below is a proxy, not a predicted IoU

    def __init__(self, iterations: Annotated[int, Range(1, None)] = 3, point_radius: Annotated[int, Range(0, None)] = 0,
                 margin: Annotated[float, Range(0, None)] = 0.5, smoothing: Annotated[float, Range(0, None)] = 1.5,
                 seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
                 from_clicks: Annotated[str, Choices("box", "discs")] = "box",
                 click_margin: Annotated[float, Range(0, None)] = 0.6):
        super().__init__()
        self.from_clicks, self.click_margin = from_clicks, click_margin
        self.iterations, self.point_radius, self.margin, self.smoothing = iterations, point_radius, margin, smoothing
        self.seed = seed  # GrabCut's GMM initialisation draws from OpenCV's RNG: reseeded before every call

    def _encode(self, image: np.ndarray) -> ImageEmbedding:
        # GrabCut needs no embedding: keep a BGR copy for cv2.grabCut.
        return ImageEmbedding(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), image.shape[:2])

    def decode(self, embedding: ImageEmbedding, prompts: Sequence[Prompt]) -> list[Prediction]:
        return [self._one(embedding, p) for p in prompts]

    def _one(self, embedding: ImageEmbedding, prompt: Prompt) -> Prediction:
        image: np.ndarray = embedding.data
        H, W = embedding.size
        radius = self.point_radius or max(1, round(max(H, W) / 100))
        seeds = np.full((H, W), cv2.GC_PR_BGD, np.uint8)
        positives = prompt.points[prompt.labels == 1]
        negatives = prompt.points[prompt.labels == 0]
        prior = None
        if prompt.mask_logits is not None:
            low = np.asarray(prompt.mask_logits, np.float32).reshape(self.low_res_size)
            prior = cv2.resize(low, (W, H), interpolation=cv2.INTER_LINEAR) > 0
        clicks_only = (prior is None or not prior.any()) and prompt.box is None and len(positives) > 0
        if prior is not None and prior.any():
            seeds[prior] = cv2.GC_PR_FGD
        elif clicks_only and self.from_clicks == "box":
            x0, y0, x1, y1 = self._click_rectangle(positives, H, W)
            seeds[:] = cv2.GC_BGD
            seeds[y0:y1 + 1, x0:x1 + 1] = cv2.GC_PR_FGD
        elif len(positives):
            hull = cv2.convexHull(np.round(positives).astype(np.int32).reshape(-1, 1, 2))
            cv2.fillConvexPoly(seeds, hull, cv2.GC_PR_FGD)
            for x, y in positives:  # a hull of one or two points is thin: widen it
                cv2.circle(seeds, (int(round(x)), int(round(y))), 3 * radius, cv2.GC_PR_FGD, -1)
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            outside = np.ones((H, W), bool)
            outside[max(0, int(np.floor(y0))): int(np.ceil(y1)) + 1, max(0, int(np.floor(x0))): int(np.ceil(x1)) + 1] = False
            if not (seeds == cv2.GC_PR_FGD).any() and not len(positives):  # a box alone: GrabCut's rectangle
                seeds[~outside] = cv2.GC_PR_FGD
            seeds[outside] = cv2.GC_BGD
        for x, y in positives:
            cv2.circle(seeds, (int(round(x)), int(round(y))), radius, cv2.GC_FGD, -1)
        for x, y in negatives:
            cv2.circle(seeds, (int(round(x)), int(round(y))), radius, cv2.GC_BGD, -1)

        fg_like = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
        mask = np.zeros((H, W), bool)
        if fg_like.any():
            ys, xs = np.nonzero(fg_like)
            extent = max(xs.max() - xs.min(), ys.max() - ys.min(), 4)
            pad = int(self.margin * extent) + 2 * radius
            cx0, cy0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
            cx1, cy1 = min(W, xs.max() + pad + 1), min(H, ys.max() + pad + 1)
            crop = seeds[cy0:cy1, cx0:cx1].copy()
            has_bg = np.isin(crop, (cv2.GC_BGD, cv2.GC_PR_BGD)).any()
            if has_bg:
                bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
                cv2.setRNGSeed(self.seed)  # same prompt, same mask, whatever ran before
                try:
                    cv2.grabCut(np.ascontiguousarray(image[cy0:cy1, cx0:cx1]), crop, None, bgd, fgd,
                                self.iterations, cv2.GC_INIT_WITH_MASK)
                except cv2.error:  # GrabCut refuses seeds with a single class of colour samples
                    pass
            mask[cy0:cy1, cx0:cx1] = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
        if clicks_only and self.from_clicks == "box":
            mask = _components_holding(mask, positives)
        logits = mask.astype(np.float32) * 2 - 1
        if self.smoothing > 0:
            logits = cv2.GaussianBlur(logits, (0, 0), self.smoothing)
            logits[mask & (logits <= 0)] = 1e-3  # keep the mask exactly as GrabCut found it
            logits[~mask & (logits > 0)] = -1e-3
        low_res = cv2.resize(logits, self.low_res_size[::-1], interpolation=cv2.INTER_AREA)
        return Prediction(logits, low_res, self._score(mask, positives, negatives))

    def _click_rectangle(self, positives: np.ndarray, H: int, W: int) -> tuple[int, int, int, int]:
        """The positive clicks' bounding box grown by ``click_margin`` on each side, inside the frame."""
        x0, y0 = positives.min(axis=0)
        x1, y1 = positives.max(axis=0)
        grow = self.click_margin * max(x1 - x0, y1 - y0, 0.1 * max(H, W))
        return (max(0, int(np.floor(x0 - grow))), max(0, int(np.floor(y0 - grow))),
                min(W - 1, int(np.ceil(x1 + grow))), min(H - 1, int(np.ceil(y1 + grow))))

    @staticmethod
    def _score(mask: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
        if not mask.any():
            return 0.0
        H, W = mask.shape

        def inside(points: np.ndarray) -> np.ndarray:
            xi = np.clip(np.round(points[:, 0]).astype(int), 0, W - 1)
            yi = np.clip(np.round(points[:, 1]).astype(int), 0, H - 1)
            return mask[yi, xi]

        agree = np.concatenate([inside(positives), ~inside(negatives)]) if len(positives) + len(negatives) else np.ones(1, bool)
        return float(agree.mean())


def _components_holding(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The connected components (8-connectivity) of ``mask`` that hold at least one of ``points``."""
    if not mask.any():
        return mask
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    H, W = mask.shape
    xi = np.clip(np.round(points[:, 0]).astype(int), 0, W - 1)
    yi = np.clip(np.round(points[:, 1]).astype(int), 0, H - 1)
    keep = np.unique(labels[yi, xi])
    keep = keep[keep > 0]
    return np.isin(labels, keep) if len(keep) else mask


@hookimpl
def register_segmenters(register):
    register("grabcut", GrabCutSegmenter, description="GrabCut (OpenCV) seeded from points, box and previous mask; no weights")
