"""CoTracker 1 behind sampt's :class:`~sampt.interfaces.Tracker` interface: ``cotracker1``.

The network is in :mod:`sampt_cotracker.model_v1`, its variants and checkpoints in
:mod:`sampt_cotracker.plugin`, the sliding-window inference in :mod:`sampt_cotracker.windowed`.

Coordinates: sampt points (integer pixel centres) are mapped to the model resolution and back at this
module's boundary as the preset says (below).

CoTracker 1 presets (``preset=...``):

* ``sampt_reference`` (default): SAM-PT's own CoTracker wrapper with its configuration
  (``configs/model/point_tracker/cotracker.yaml``): frames resized to 384x512 with bilinear interpolation
  (``align_corners=False``) and points scaled by ``512/W``, ``384/H``; a 2x2 support grid added at frames
  0, 12, 24, ...; a backward pass on the reversed video filling every coordinate CoTracker 1 left at 0 (the
  frames before a point's first window); visibility > 0.7; the query points are not written back.
* ``official``: the v1.0 ``CoTrackerPredictor`` with ``backward_tracking=True``: the same resizing, a 6x6
  support grid at frame 0, visibility > 0.9, each query point written at its query frame, visible.

Any of ``support_grid_size``, ``support_grid_every``, ``visibility_threshold`` and ``write_query_points``
given explicitly overrides the preset.
"""
from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

import numpy as np

from sampt.constraints import Range
from sampt.devices import pick_device
from sampt.interfaces import Tracker, TrackerCapabilities
from sampt.types import Tracks, Video
from sampt.weights import load_checkpoint
from sampt_cotracker.plugin import CHECKPOINTS, variant_of


COTRACKER1_PRESETS: dict[str, dict] = {
    "sampt_reference": dict(support_grid_size=2, support_grid_every=12, visibility_threshold=0.7,
                            write_query_points=False),
    "official": dict(support_grid_size=6, support_grid_every=0, visibility_threshold=0.9,
                     write_query_points=True),
}
"""Predictor settings of SAM-PT's wrapper (``sampt_reference``) and of the v1.0 predictor (``official``)."""


def v1_grid_points(size: int, extent: tuple[int, int]):
    """CoTracker 1's support grid: ``size`` x ``size`` ``(x, y)`` points, ``(1, size**2, 2)``, row-major,
    with a margin of ``W // 64`` pixels (an integer, unlike later versions) on every side."""
    import torch

    H, W = extent
    if size == 1:
        return torch.tensor([[[W / 2, H / 2]]])
    ys = torch.linspace(0.0, size - 1, size).reshape(size, 1).expand(size, size).reshape(1, -1)
    xs = torch.linspace(0.0, size - 1, size).reshape(1, size).expand(size, size).reshape(1, -1)
    margin = W // 64
    gy = margin + ys / float(size - 1) * (H - margin * 2)
    gx = margin + xs / float(size - 1) * (W - margin * 2)
    return torch.stack([gx, gy], dim=-1)


class CoTracker1Tracker(Tracker):
    """CoTracker 1 (``variant``: ``stride_4_wind_8`` [paper], ``stride_4_wind_12``, ``stride_8_wind_16``).

    Options: ``checkpoint`` (path or known name; default: the variant's official checkpoint), ``device``,
    ``preset`` (``sampt_reference`` or ``official``, see the module doc), ``iters`` (refinement iterations,
    official 6), ``support_grid_size`` / ``support_grid_every`` (a grid every that many frames; 0: only at
    frame 0), ``backward_tracking``, ``visibility_threshold``, ``write_query_points``.
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=True, has_confidence=False)

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", variant: str = "stride_4_wind_8",
                 preset: str = "sampt_reference", iters: Annotated[int, Range(1, None)] = 6,
                 support_grid_size: Annotated[Optional[int], Range(0, None)] = None,
                 support_grid_every: Optional[int] = None, backward_tracking: bool = True,
                 visibility_threshold: Annotated[Optional[float], Range(0, 1)] = None, write_query_points: Optional[bool] = None,
                 interp_height: int = 384, interp_width: int = 512):
        from sampt_cotracker.model_v1 import CoTracker1

        v = variant_of(variant, 1)
        if preset not in COTRACKER1_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(COTRACKER1_PRESETS)}")
        if iters < 1:
            raise ValueError("iters must be at least 1")
        base = COTRACKER1_PRESETS[preset]
        self.variant, self.preset = variant, preset
        self.stride, self.window_len = v.stride, v.window
        self.iters = int(iters)
        self.support_grid_size = int(base["support_grid_size"] if support_grid_size is None else support_grid_size)
        self.support_grid_every = int(base["support_grid_every"] if support_grid_every is None else support_grid_every)
        self.visibility_threshold = float(
            base["visibility_threshold"] if visibility_threshold is None else visibility_threshold)
        self.write_query_points = bool(base["write_query_points"] if write_query_points is None else write_query_points)
        self.backward_tracking = bool(backward_tracking)
        self.model_size = (int(interp_height), int(interp_width))
        self.device = pick_device(device)
        if not self.backward_tracking:  # the pipeline then tracks backward itself
            self.capabilities = dataclasses.replace(self.capabilities, bidirectional=False)
        self.model = CoTracker1(window_len=self.window_len, stride=self.stride)
        load_checkpoint(self.model, checkpoint, v.weights.name, CHECKPOINTS,
                        what=f"CoTracker 1 ({variant})")
        self.model.to(self.device).eval()

    def settings(self, num_frames: int):
        """The :class:`~sampt_cotracker.windowed.PredictorSettings` for a ``num_frames`` clip."""
        from sampt_cotracker.windowed import PredictorSettings

        grids = []
        if self.support_grid_size > 0:
            pts = v1_grid_points(self.support_grid_size, self.model_size)
            every = self.support_grid_every if self.support_grid_every > 0 else max(num_frames, 1)
            grids = [(t, pts) for t in range(0, num_frames, every)]
        return PredictorSettings(model_size=self.model_size, iters=self.iters, align_corners=False, grids=grids,
                                 backward=self.backward_tracking, merge="zeros",
                                 threshold=self.visibility_threshold, write_queries=self.write_query_points,
                                 min_frames=self.window_len)

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        from sampt_cotracker.windowed import run_predictor

        return run_predictor(self.model, video, queries, self.settings(len(video)), self.device)
