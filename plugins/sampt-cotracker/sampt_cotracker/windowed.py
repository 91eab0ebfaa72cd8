"""Windowed inference of the CoTracker 1 and 2 networks (sliding windows over the video), used by
the CoTracker 1 and 2 trackers (:mod:`sampt_cotracker.tracker_v1`, :mod:`sampt_cotracker.tracker_v2`): resizing, coordinate conversion, support grids, the backward pass and
thresholding, configurable to reproduce either the official predictor or SAM-PT's own wrapper.

Frames are resized on demand, window by window, so memory does not grow with the video's length beyond
the uint8 frames themselves and the tracks. The backward pass runs only when it can change the output
(see :func:`run_predictor`), and the features kept for it are bounded (:class:`RecentFeatures`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sampt.types import Tracks, Video
from sampt_cotracker.predictor import coord_scale, flip_queries, merge_backward, write_query_points
from sampt_cotracker.model_v2 import FrameSource

log = logging.getLogger(__name__)


class ResizedFrames(FrameSource):
    """uint8 ``(T, H, W, 3)`` frames served as float ``(n, 3, h, w)`` 0..255 at the model resolution.

    ``reverse`` serves them in reverse time order; ``min_len`` pads a short clip by repeating its last
    frame (as SAM-PT's wrapper for short videos does).
    """

    def __init__(self, frames: np.ndarray, size: Sequence[int], align_corners: bool, device: torch.device,
                 reverse: bool = False, min_len: int = 0):
        self.frames = frames
        self.out_size = (int(size[0]), int(size[1]))
        self.align_corners = align_corners
        self.device = device
        self.reverse = reverse
        self.length = max(len(frames), int(min_len))

    def __len__(self) -> int:
        return self.length

    @property
    def size(self) -> tuple[int, int]:
        return self.out_size

    def key(self, index: int) -> int:
        T = len(self.frames)
        i = min(int(index), T - 1)
        return T - 1 - i if self.reverse else i

    def get(self, indices: Sequence[int]) -> torch.Tensor:
        real = [self.key(i) for i in indices]
        x = torch.from_numpy(np.ascontiguousarray(self.frames[real])).to(self.device)
        x = x.permute(0, 3, 1, 2).float()
        return F.interpolate(x, self.out_size, mode="bilinear", align_corners=self.align_corners)


class RecentFeatures(dict):
    """A feature store (see :class:`~sampt_cotracker.v2_model.FeatureCache`) holding at most ``capacity``
    frames, forgetting the least recently used first. A capacity of one window suffices for the windows
    to find their frames; the backward pass reads the video in reverse, so it finds the last frames the
    forward pass stored and encodes the others again."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = max(1, int(capacity))

    def __getitem__(self, key):
        value = super().pop(key)
        super().__setitem__(key, value)  # most recently used last
        return value

    def __setitem__(self, key, value) -> None:
        super().pop(key, None)
        super().__setitem__(key, value)
        while len(self) > self.capacity:
            del self[next(iter(self))]

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


@dataclass
class PredictorSettings:
    """How the tracker wraps the network.

    ``align_corners``: resize with ``align_corners=True`` and scale points by ``(w-1)/(W-1)`` (the official
    CoTracker 2/3 predictors; consistent with pixel centres on integers); False: resize with
    ``align_corners=False`` and scale by ``w/W`` (the CoTracker 1.0 predictor and SAM-PT's wrapper).
    ``grids``: support grids ``(frame, points (M, 2))`` in model pixels appended to the queries.
    ``merge``: how the backward pass fills the forward result: ``"before_query"`` (frames before each
    query's frame) or ``"zeros"`` (every coordinate that is exactly 0, CoTracker 1's not-yet-tracked value).
    ``write_queries``: put each query point at its query frame, visible, as the official predictors do.
    ``feature_memory_mb``: with a backward pass, keep up to this many MiB of the forward pass's frame
    features (the last frames, which the backward pass reads first) so they are not encoded again; the
    rest is encoded again. Memory stays bounded whatever the video's length.
    ``skip_needless_backward``: run the backward pass only when it can change the output (False: always,
    as the reference wrappers do; the same output, slower).
    """

    model_size: tuple[int, int] = (384, 512)
    iters: int = 6
    align_corners: bool = True
    grids: list = field(default_factory=list)
    backward: bool = True
    merge: str = "before_query"
    threshold: float = 0.9
    write_queries: bool = True
    min_frames: int = 0
    feature_memory_mb: float = 256.0
    skip_needless_backward: bool = True


def run_predictor(model: nn.Module, video: Video, queries: np.ndarray, settings: PredictorSettings,
                  device: torch.device, feature_store: Optional[dict] = None) -> Tracks:
    """Track ``queries`` ``(N, 3)`` (sampt coordinates, already checked by :meth:`sampt.Tracker.track`, at
    least one) through ``video`` with a CoTracker 1/2 ``model``.

    ``feature_store``: a dict of frame features (by frame index) to reuse and fill, for several calls on
    the same frames with the same resizing; by default a bounded one (``settings.feature_memory_mb``) is
    kept for the two passes of this call when the backward pass is expected to run.
    """
    queries = np.asarray(queries, np.float32)
    T, H, W = len(video), video.height, video.width
    N = len(queries)
    mh, mw = settings.model_size
    if settings.align_corners:
        (sx, sy), (bx, by) = coord_scale((H, W), (mh, mw)), coord_scale((mh, mw), (H, W))
    else:
        (sx, sy), (bx, by) = (mw / W, mh / H), (W / mw, H / mh)
    q = torch.from_numpy(queries).to(device)[None].clone()
    q[..., 1:] *= q.new_tensor([sx, sy])
    parts = [q]
    for frame, pts in settings.grids:
        if frame < T:
            pts = pts.to(device=device, dtype=q.dtype).reshape(1, -1, 2)
            parts.append(torch.cat([torch.full_like(pts[..., :1], float(frame)), pts], dim=-1))
    q_all = torch.cat(parts, dim=1)

    def run(reverse: bool, qq: torch.Tensor, store: Optional[dict]) -> tuple[torch.Tensor, torch.Tensor]:
        src = ResizedFrames(video.frames, (mh, mw), settings.align_corners, device, reverse=reverse,
                            min_len=settings.min_frames)
        with torch.no_grad():
            tr, vi = model(src, qq, iters=settings.iters, feature_store=store)
        return tr[:, :T], vi[:, :T]

    # The backward pass only changes the queries' results on frames before each query's frame ("before_query")
    # or where the forward pass left a coordinate at exactly 0 ("zeros": before a query's first window). With
    # every query on frame 0 the first never happens and the second (almost) never: the backward pass is
    # then run only if the forward result asks for it, and no features are kept for it.
    later_queries = bool((queries[:, 0] > 0).any()) or not settings.skip_needless_backward
    store = feature_store
    if store is None and settings.backward and later_queries:
        stride = int(getattr(model, "stride", 4))
        per_frame = 128 * (mh // stride) * (mw // stride) * 4 / 2**20
        window = int(getattr(model, "window_len", settings.min_frames))
        store = RecentFeatures(max(int(settings.feature_memory_mb // per_frame), window, 1))

    log.debug("CoTracker predictor: %d frames %dx%d, %d queries + %d support points, %s", T, H, W, N,
              q_all.shape[1] - N, settings)
    tracks, vis = run(False, q_all, store)
    if settings.merge == "zeros":
        zero = tracks == 0
        backward = settings.backward and (later_queries or bool(zero[:, :, :N].any()))
    else:
        backward = settings.backward and later_queries
    if backward:
        back_tracks, back_vis = run(True, flip_queries(q_all, T), store)
        back_tracks, back_vis = back_tracks.flip(1), back_vis.flip(1)
        if settings.merge == "zeros":
            tracks = torch.where(zero, back_tracks, tracks)
            vis = torch.where(zero[..., 0], back_vis, vis)
        else:
            tracks, vis = merge_backward(tracks, vis, back_tracks, back_vis, q_all)
    log.debug("CoTracker predictor: backward pass %s", "run" if backward else "skipped (cannot change the output)")
    tracks = tracks[:, :, :N].clone()
    visible = vis[:, :, :N] > settings.threshold
    if settings.write_queries:
        write_query_points(tracks, visible, q)
    tracks = tracks * tracks.new_tensor([bx, by])
    points = tracks[0].cpu().numpy().astype(np.float32)
    visible = visible[0].cpu().numpy()
    if not settings.backward:
        # the contract for trackers without a backward pass: before its query frame a point sits at its
        # query position, invisible
        before = np.arange(T)[:, None] < queries[None, :, 0]
        points[before] = np.broadcast_to(queries[:, 1:], (T, N, 2))[before]
        visible[before] = False
    return Tracks(points, visible)
