"""CoTracker 2 behind sampt's :class:`~sampt.interfaces.Tracker` interface: ``cotracker2`` / ``cotracker2v1``.

The network is in :mod:`sampt_cotracker.model_v2`, its variants and checkpoints in
:mod:`sampt_cotracker.plugin`, the sliding-window inference in :mod:`sampt_cotracker.windowed`.
Coordinates: sampt points are mapped to the model resolution by ``x * (W' - 1) / (W - 1)`` (the official
predictor's scaling, exact for frames resized with ``align_corners=True``) and back.

CoTracker 2 by default does what the official ``CoTrackerPredictor(v2=True)`` does with
``backward_tracking=True``: frames resized to 384x512 (``align_corners=True``), a 6x6 support grid at frame 0, 6 refinement
iterations, a backward pass on the reversed video for frames before each query, visibility > 0.9, and
each query point written at its query frame. Clips shorter than a window are padded with their last
frame (the official model returns nothing for clips of at most half a window) and the result trimmed.
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


class CoTracker2Tracker(Tracker):
    """CoTracker 2 (sliding windows of 8 frames; ``variant="cotracker2v1"``: 16).

    Options: ``checkpoint`` (path or known name; default: the variant's official checkpoint), ``device``
    (``"auto"``: CUDA if available), ``iters`` (refinement iterations, official 6), ``support_grid_size``
    (support points on a grid at frame 0, 0 for none), ``backward_tracking`` (track frames before each
    query's frame on the reversed video; off: those frames report the query position, invisible),
    ``visibility_threshold``, ``interp_height`` / ``interp_width`` (the resolution the network runs at;
    the checkpoints were trained at 384x512, other sizes trade accuracy for speed).
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=True, has_confidence=False)

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", variant: str = "cotracker2",
                 iters: Annotated[int, Range(1, None)] = 6, support_grid_size: Annotated[int, Range(0, None)] = 6, backward_tracking: bool = True,
                 visibility_threshold: Annotated[float, Range(0, 1)] = 0.9, interp_height: Annotated[int, Range(1, None)] = 384, interp_width: Annotated[int, Range(1, None)] = 512):
        from sampt_cotracker.model_v2 import CoTracker2

        v = variant_of(variant, 2)
        if iters < 1:
            raise ValueError("iters must be at least 1")
        self.variant = variant
        self.window_len = v.window
        self.iters = int(iters)
        self.support_grid_size = int(support_grid_size)
        self.backward_tracking = bool(backward_tracking)
        self.visibility_threshold = float(visibility_threshold)
        self.model_size = (int(interp_height), int(interp_width))
        self.device = pick_device(device)
        if not self.backward_tracking:  # the pipeline then tracks backward itself
            self.capabilities = dataclasses.replace(self.capabilities, bidirectional=False)
        self.model = CoTracker2(window_len=self.window_len)  # buffers sized for the trained 384x512
        load_checkpoint(self.model, checkpoint, v.weights.name, CHECKPOINTS, what=f"CoTracker 2 ({variant})")
        self.model.to(self.device).eval()

    def settings(self):
        """The :class:`~sampt_cotracker.windowed.PredictorSettings` these options stand for."""
        from sampt_cotracker.predictor import grid_points
        from sampt_cotracker.windowed import PredictorSettings

        grids = [(0, grid_points(self.support_grid_size, self.model_size))] if self.support_grid_size > 0 else []
        return PredictorSettings(model_size=self.model_size, iters=self.iters, align_corners=True, grids=grids,
                                 backward=self.backward_tracking, merge="before_query",
                                 threshold=self.visibility_threshold, write_queries=True,
                                 min_frames=self.window_len)

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        from sampt_cotracker.windowed import run_predictor

        return run_predictor(self.model, video, queries, self.settings(), self.device)
