"""A weightless promptable segmenter: GrabCut (OpenCV) seeded from the prompt.

It implements the full :class:`~sampt.interfaces.Segmenter` protocol so the SAM-PT pipeline runs on any
machine with no checkpoint. Seeds: positive points are sure foreground, negative points sure background;
a previous mask prompt (low-resolution logits) or, failing that, the hull of the positive points is
probable foreground; outside the box (when given) is sure background. GrabCut runs on a crop around the
prompt, so cost scales with the object, not the frame.

Its "predicted IoU" is the fraction of prompt points the mask agrees with (positives inside, negatives
outside), scaled down for masks that swallow most of the crop: GrabCut has no learned quality head, and
this proxy is what lets the pipeline's IoU threshold reject degenerate masks.
"""
from __future__ import annotations

from typing import Annotated, Sequence

import cv2
import numpy as np

import sampt
from sampt.constraints import Range
from sampt.interfaces import ImageEmbedding, Segmenter
from sampt.types import Prediction, Prompt


class GrabCutSegmenter(Segmenter):
    """GrabCut seeded from points, box and previous mask. ``point_radius`` is the seed disc radius in
    pixels (0: scale with the image), ``margin`` the crop margin as a fraction of the prompt's extent."""

    low_res_size = (256, 256)
    predicts_iou = False  # the score below is a proxy, not a predicted IoU

    def __init__(self, iterations: Annotated[int, Range(1, None)] = 3, point_radius: Annotated[int, Range(0, None)] = 0,
                 margin: Annotated[float, Range(0, None)] = 0.5, smoothing: Annotated[float, Range(0, None)] = 1.5,
                 seed: Annotated[int, Range(0, 2**31 - 1)] = 0):
        super().__init__()
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
        if prior is not None and prior.any():
            seeds[prior] = cv2.GC_PR_FGD
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
        logits = mask.astype(np.float32) * 2 - 1
        if self.smoothing > 0:
            logits = cv2.GaussianBlur(logits, (0, 0), self.smoothing)
            logits[mask & (logits <= 0)] = 1e-3  # keep the mask exactly as GrabCut found it
            logits[~mask & (logits > 0)] = -1e-3
        low_res = cv2.resize(logits, self.low_res_size[::-1], interpolation=cv2.INTER_AREA)
        return Prediction(logits, low_res, self._score(mask, positives, negatives))

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


@sampt.hookimpl
def register_segmenters(register):
    register("grabcut", GrabCutSegmenter, description="GrabCut (OpenCV) seeded from points, box and previous mask; no weights")
