"""sampt :class:`~sampt.interfaces.Tracker` implementations of PIPS and PIPS++.

Coordinates: sampt's points have pixel centres on integer coordinates of the original frame. The
models see the video resized to ``resolution`` (bilinear, corners not aligned, as the official demos
do); a point maps to ``x' = (x + 0.5) * W' / W - 0.5`` (same for y) and back by the inverse. The official
scripts scale by ``W' / W`` alone, which is off by ``0.5 * (W' / W - 1)`` pixels; this is the exact map.

Queries may start on any frame: each point is tracked forward from its query frame and, when that is
not frame 0, backward through the reversed video from the same frame.
"""
from __future__ import annotations

import logging
from typing import Annotated, Optional, Sequence

import numpy as np
import torch

from sampt.constraints import Range
from sampt.interfaces import Tracker, TrackerCapabilities
from sampt.types import Tracks, Video
from sampt.weights import load_checkpoint

from sampt_pips.model_blocks import as_size, check_input_size
from sampt_pips.plugin import CHECKPOINTS
from sampt_pips.inference import FrameFeatures, pips2_windows, pips_chain
from sampt.devices import pick_device

log = logging.getLogger(__name__)

NESTED_KEYS = ("model_state_dict", "model", "state_dict")
"""The official training code saves {'model_state_dict': ..., 'optimizer_state_dict': ...}."""


def to_model_xy(xy: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Original-frame (x, y) -> model-input (x, y) for a frame resized from ``src`` to ``dst`` (H, W)."""
    sx, sy = dst[1] / src[1], dst[0] / src[0]
    out = np.asarray(xy, np.float64).copy()
    out[..., 0] = (out[..., 0] + 0.5) * sx - 0.5
    out[..., 1] = (out[..., 1] + 0.5) * sy - 0.5
    return out


def from_model_xy(xy: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`to_model_xy`."""
    sx, sy = dst[1] / src[1], dst[0] / src[0]
    out = np.asarray(xy, np.float64).copy()
    out[..., 0] = (out[..., 0] + 0.5) / sx - 0.5
    out[..., 1] = (out[..., 1] + 0.5) / sy - 0.5
    return out


class _PipsFamilyTracker(Tracker):
    """What PIPS and PIPS++ share: loading, resizing, coordinates and the forward/backward split."""

    name = ""
    stride = 8

    def _setup(self, model: torch.nn.Module, checkpoint: Optional[str], default: str, device: str,
               resolution: Optional[Sequence[int]], max_points: int) -> None:
        self.device = pick_device(device)
        self.resolution = as_size(resolution)
        if self.resolution is not None:
            check_input_size(*self.resolution, self.stride, self.name)
        self.max_points = max(1, int(max_points))
        load_checkpoint(model, checkpoint, default, CHECKPOINTS, what=self.name, nested_keys=NESTED_KEYS)
        self.model = model.eval().to(self.device)
        # frames per encoder call: on CPU larger batches only cost memory (~140 MB per 512x896 frame)
        self._encode_batch = 8 if self.device.type == "cuda" else 2
        log.info("%s on %s, model input %s", self.name, self.device,
                 "native size" if self.resolution is None else "%dx%d" % self.resolution)

    def _input_size(self, video: Video) -> tuple[int, int]:
        size = self.resolution or (video.height, video.width)
        check_input_size(*size, self.stride, self.name)
        return size

    def _run(self, frames: np.ndarray, starts: np.ndarray, xy: torch.Tensor, size: tuple[int, int]
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions (T, N, 2) and visibility logits (T, N) from each start frame to the end."""
        raise NotImplementedError

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        T, H, W = len(video), video.height, video.width
        N = len(queries)
        size = self._input_size(video)
        t0 = queries[:, 0].astype(np.int64)
        xy = torch.from_numpy(to_model_xy(queries[:, 1:], (H, W), size)).float().to(self.device)
        points = np.zeros((T, N, 2), np.float64)
        logits = np.zeros((T, N), np.float32)
        with torch.no_grad():
            pos, vis = self._run(video.frames, t0, xy, size)
            fwd = np.arange(T)[:, None] >= t0[None, :]
            points[fwd] = pos.cpu().double().numpy()[fwd]
            logits[fwd] = vis.cpu().numpy()[fwd]
            back = np.flatnonzero(t0 > 0)
            if len(back):
                rev_start = (T - 1) - t0[back]
                pos, vis = self._run(video.frames[::-1], rev_start, xy[torch.as_tensor(back)], size)
                pos = pos.cpu().double().numpy()[::-1]
                vis = vis.cpu().numpy()[::-1]
                before = np.arange(T)[:, None] < t0[None, back]
                sub_p, sub_l = points[:, back], logits[:, back]
                sub_p[before] = pos[before]
                sub_l[before] = vis[before]
                points[:, back], logits[:, back] = sub_p, sub_l
        points = from_model_xy(points, (H, W), size).astype(np.float32)
        visible = self._visible(logits)
        points[t0, np.arange(N)] = queries[:, 1:]
        visible[t0, np.arange(N)] = True
        return Tracks(points, visible)

    def _visible(self, logits: np.ndarray) -> np.ndarray:
        return np.ones(logits.shape, bool)


class PipsTracker(_PipsFamilyTracker):
    """PIPS with the official re-anchoring chain (``chain_demo.py``) for videos of any length.

    Options: ``checkpoint`` (a file or ``pips_reference_model``), ``device``, ``iters`` (refinement
    iterations per 8-frame window, official 6), ``resolution`` (model input (H, W), official demo
    (360, 640); None: native size; at least 64 px per side), ``visibility_threshold`` (a frame is visible
    when sigmoid(logit) exceeds it), ``anchor_threshold`` (the chain's 0.9), ``max_points`` (points per
    model call, bounds memory).
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=True, has_confidence=False)
    name = "PIPS"
    stride = 4

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", iters: Annotated[int, Range(1, None)] = 6,
                 resolution: Optional[tuple[int, int]] = (360, 640), visibility_threshold: Annotated[float, Range(0, 1)] = 0.5,
                 anchor_threshold: Annotated[float, Range(0, 1)] = 0.9, max_points: Annotated[int, Range(1, None)] = 256):
        from sampt_pips.model_pips import Pips

        self.iters = int(iters)
        self.visibility_threshold = float(visibility_threshold)
        self.anchor_threshold = float(anchor_threshold)
        self._setup(Pips(S=8, stride=4), checkpoint, "pips_reference_model", device, resolution, max_points)

    def _run(self, frames, starts, xy, size):
        feats = FrameFeatures(self.model.encode, frames, size, self.device, batch=self._encode_batch,
                              capacity=2 * self.model.S)
        pos, vis, _ = pips_chain(self.model, feats.get, len(frames), starts, xy, self.iters,
                                 self.anchor_threshold, self.max_points)
        return pos, vis

    def _visible(self, logits):
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64))) > self.visibility_threshold


class Pips2Tracker(_PipsFamilyTracker):
    """PIPS++ with the official window loop (``test_on_*.py``) for videos of any length.

    PIPS++ has no visibility head: every point is reported visible on every frame.
    Options: ``checkpoint`` (a file, the official tarball, or ``pips2_reference_model``), ``device``,
    ``iters`` (official 16), ``resolution`` (model input (H, W), official (512, 896); None: native size;
    at least 128 px per side), ``window`` (frames per window, official 128), ``beautify`` (halve the
    last quarter's updates, the demo's setting; the evaluation scripts leave it off), ``max_points``.
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=False, has_confidence=False)
    name = "PIPS++"
    stride = 8

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", iters: Annotated[int, Range(1, None)] = 16,
                 resolution: Optional[tuple[int, int]] = (512, 896), window: Annotated[int, Range(2, None)] = 128,
                 beautify: bool = False, max_points: Annotated[int, Range(1, None)] = 256):
        from sampt_pips.model_pips2 import Pips2

        self.iters = int(iters)
        self.window = int(window)
        if self.window < 2:
            raise ValueError(f"PIPS++ window must be at least 2 frames, got {window}")
        self.beautify = bool(beautify)
        self._setup(Pips2(stride=8), checkpoint, "pips2_reference_model", device, resolution, max_points)

    def _run(self, frames, starts, xy, size):
        T = len(frames)
        N = xy.shape[0]
        pos = torch.zeros((T, N, 2), dtype=torch.float32, device=self.device)
        feats = FrameFeatures(self.model.encode, frames, size, self.device, batch=self._encode_batch,
                              capacity=self.window + 1)
        for s in np.unique(starts):
            idx = np.flatnonzero(starts == s)
            s = int(s)
            sub, _ = pips2_windows(self.model, lambda ii, s=s: feats.get([s + i for i in ii]), T - s,
                                   xy[torch.as_tensor(idx, device=self.device)], self.iters, self.window,
                                   self.beautify, self.max_points)
            pos[s:, torch.as_tensor(idx, device=self.device)] = sub
        return pos, torch.zeros((T, N), device=self.device)
