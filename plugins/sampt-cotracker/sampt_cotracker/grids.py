"""User conveniences: query points on a regular grid, or on the part of a grid that falls inside a mask.

The grid is the official CoTracker one (:func:`sampt_cotracker.predictor.grid_points`), laid out at
the model resolution and mapped to the original frame's pixels, so tracking these queries reproduces the
official predictor's ``grid_size`` / ``segm_mask`` options.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from sampt_cotracker.predictor import from_model_coords, grid_in_mask, grid_points


def grid_queries(height: int, width: int, grid_size: int, frame: int = 0, mask: Optional[np.ndarray] = None,
                 model_resolution: Sequence[int] = (384, 512)) -> np.ndarray:
    """Queries ``(N, 3)`` float32 ``(t, x, y)`` (sampt pixel coordinates of a ``height`` x ``width`` video) on
    a ``grid_size`` x ``grid_size`` grid at frame ``frame``; with ``mask`` (``(height, width)``, nonzero =
    inside), only the grid points inside it (tested at the model resolution, as the official predictor does).
    """
    if grid_size < 1:
        raise ValueError(f"grid_size must be >= 1, got {grid_size}")
    if mask is None:
        pts = grid_points(grid_size, model_resolution)
    else:
        mask = np.asarray(mask)
        if mask.shape != (height, width):
            raise ValueError(f"mask has shape {mask.shape} but the video is {height}x{width}")
        pts = grid_in_mask(grid_size, torch.from_numpy(mask.astype(np.float32)), model_resolution)
    xy = from_model_coords(pts[0].double(), model_resolution, (height, width)).numpy()
    out = np.empty((len(xy), 3), np.float32)
    out[:, 0] = frame
    out[:, 1:] = xy
    return out
