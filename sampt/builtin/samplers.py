"""The four point samplers of the SAM-PT paper: random, K-Medoids, Shi-Tomasi corners, and mixed.

All are seeded and deterministic for a given seed. A mask with fewer pixels than requested gives every
one of its pixels (fewer points than asked); an empty mask raises ``ValueError``.
"""
from __future__ import annotations

from typing import Annotated, Optional

import cv2
import numpy as np

from sampt.constraints import Range
from sampt.hookspecs import hookimpl
from sampt.interfaces import PointSampler


def _mask_pixels(mask: np.ndarray) -> np.ndarray:
    """``(N, 2)`` float32 ``(x, y)`` of the mask's pixels; raises on an empty mask."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("cannot sample points from an empty mask: the object has no pixels on its query frame")
    return np.stack([xs, ys], axis=1).astype(np.float32)


class MaskPixelSampler(PointSampler):
    """Shared rules of the samplers: an empty mask is an error, ``n <= 0`` gives no point, a mask with at
    most ``n`` pixels gives all of them; otherwise :meth:`choose` picks ``n`` of the mask's ``pixels``."""

    def sample(self, mask: np.ndarray, n: int, seed: int = 0, image: Optional[np.ndarray] = None) -> np.ndarray:
        pixels = _mask_pixels(mask)
        if n <= 0:
            return np.zeros((0, 2), np.float32)
        if len(pixels) <= n:
            return pixels
        return self.choose(np.asarray(mask, bool), pixels, n, seed, image)

    def choose(self, mask: np.ndarray, pixels: np.ndarray, n: int, seed: int, image: Optional[np.ndarray]) -> np.ndarray:
        """``n`` points for a mask with more than ``n`` pixels (``pixels``: its ``(x, y)`` coordinates)."""
        raise NotImplementedError


class RandomSampler(MaskPixelSampler):
    """Points drawn uniformly without replacement from the mask's pixels."""

    def choose(self, mask, pixels, n, seed, image):
        rng = np.random.default_rng(seed)
        return pixels[rng.choice(len(pixels), size=n, replace=False)]


class KMedoidsSampler(MaskPixelSampler):
    """The medoids of a K-Medoids clustering (FasterPAM) of the mask's pixels: points spread over the
    object, each a real mask pixel. Large masks are subsampled to ``subsample_size`` pixels first."""

    def __init__(self, subsample_size: Annotated[int, Range(1, None)] = 1800):
        self.subsample_size = subsample_size

    def choose(self, mask, pixels, n, seed, image):
        import kmedoids

        rng = np.random.default_rng(seed)
        if len(pixels) > self.subsample_size:
            pixels = pixels[rng.choice(len(pixels), size=self.subsample_size, replace=False)]
        diff = pixels[:, None, :].astype(np.float64) - pixels[None, :, :]
        dist = np.sqrt((diff ** 2).sum(-1))
        result = kmedoids.fasterpam(dist, n, random_state=int(rng.integers(2**31 - 1)), n_cpu=1)
        return pixels[np.sort(np.asarray(result.medoids))]


def erode_by_diameter(mask: np.ndarray, fraction: float) -> np.ndarray:
    """Erode ``mask`` with a square kernel of ``fraction`` of its bounding-box diagonal."""
    ys, xs = np.nonzero(mask)
    diameter = float(np.hypot(xs.max() - xs.min(), ys.max() - ys.min()))
    size = int(diameter * fraction)
    if size < 1:
        return mask.astype(bool)
    return cv2.erode(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)


class ShiTomasiSampler(MaskPixelSampler):
    """Shi-Tomasi corners of the image inside the mask, eroded so points keep away from the object's
    edges (6%, then 2%, 1% of its diameter if too little is left). Missing corners are filled with
    K-Medoids points. Without an image, corners of the mask itself are used."""

    def __init__(self, quality_level: Annotated[float, Range(0, 1, low_open=True)] = 0.001,
                 erosions: Annotated[tuple, Range(0, 0.5)] = (0.06, 0.02, 0.01),
                 subsample_size: Annotated[int, Range(1, None)] = 2000):
        self.quality_level = quality_level
        self.erosions = tuple(erosions)
        self.fill = KMedoidsSampler(subsample_size)

    def choose(self, mask, pixels, n, seed, image):
        eroded = mask
        for fraction in self.erosions:
            candidate = erode_by_diameter(mask, fraction)
            if candidate.sum() >= 10:
                eroded = candidate
                break
        ys, xs = np.nonzero(eroded)
        diameter = float(np.hypot(xs.max() - xs.min(), ys.max() - ys.min()))
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image is not None else mask.astype(np.uint8) * 255
        corners = cv2.goodFeaturesToTrack(gray, maxCorners=n, qualityLevel=self.quality_level,
                                          minDistance=max(1.0, diameter / n), mask=eroded.astype(np.uint8),
                                          blockSize=3, gradientSize=3)
        points = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2).astype(np.float32)
        if len(points) < n:
            rest = self.fill.choose(mask, pixels, n - len(points), seed, None)
            points = np.concatenate([points, rest], axis=0)
        return points[:n]


class MixedSampler(MaskPixelSampler):
    """A quarter K-Medoids, a third Shi-Tomasi corners, the rest random points (as in SAM-PT)."""

    def __init__(self) -> None:
        self.kmedoids, self.corners, self.random = KMedoidsSampler(), ShiTomasiSampler(), RandomSampler()

    def choose(self, mask, pixels, n, seed, image):
        n_kmedoids, n_corners = n // 4, n // 3
        # each part draws with its own seed (seed, seed + 1, seed + 2) so the parts are independent
        shares = [(self.kmedoids, n_kmedoids, seed), (self.corners, n_corners, seed + 1),
                  (self.random, n - n_kmedoids - n_corners, seed + 2)]
        parts = [sampler.choose(mask, pixels, k, s, image) for sampler, k, s in shares if k > 0]
        return np.concatenate(parts, axis=0).astype(np.float32)


@hookimpl
def register_samplers(register):
    register("random", RandomSampler, description="uniform random mask pixels")
    register("kmedoids", KMedoidsSampler, description="K-Medoids (FasterPAM) cluster centres of the mask")
    register("shi_tomasi", ShiTomasiSampler, description="Shi-Tomasi corners inside the eroded mask",
             aliases=("corners",))
    register("mixed", MixedSampler, description="1/4 K-Medoids, 1/3 Shi-Tomasi, rest random")
