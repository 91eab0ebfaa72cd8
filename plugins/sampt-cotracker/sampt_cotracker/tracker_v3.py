"""CoTracker 3 behind sampt's :class:`~sampt.interfaces.Tracker` interface: ``cotracker3_offline`` and
``cotracker3_online`` (streaming).

The network is in :mod:`sampt_cotracker.model_v3`, its variants and checkpoints in
:mod:`sampt_cotracker.plugin`, the official predictor's steps (resizing, coordinates, support grids, the
backward pass) in :mod:`sampt_cotracker.predictor`. Coordinates: sampt points are mapped to the model
resolution by ``x * (W' - 1) / (W - 1)`` (the official predictor's scaling) and back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
from typing import Annotated, Optional, Sequence

import numpy as np
import torch

from sampt.constraints import Range
from sampt.devices import pick_device
from sampt.interfaces import Tracker, TrackerCapabilities, TrackStream
from sampt.types import Tracks, Video
from sampt.weights import load_checkpoint
from sampt_cotracker.grids import grid_queries
from sampt_cotracker.model_v3 import CoTracker3, OnlineState
from sampt_cotracker.plugin import CHECKPOINTS, VARIANTS
from sampt_cotracker.predictor import (
    add_support_grid,
    from_model_coords,
    offline_predict_full,
    resize_video,
    to_model_coords,
)

log = logging.getLogger(__name__)


OFFLINE_WINDOW = VARIANTS["cotracker3_offline"].window
"""Length of the offline checkpoint's time embedding (``scaled_offline.pth``)."""
ONLINE_WINDOW = VARIANTS["cotracker3_online"].window
"""Sliding-window length of the online checkpoint (``scaled_online.pth``)."""


def build_model(checkpoint: Optional[str], default: str, window_len: int, model_resolution: Sequence[int],
                device: torch.device) -> CoTracker3:
    """A :class:`CoTracker3` with ``checkpoint`` (path or known name; None: ``default``) loaded strictly."""
    model = CoTracker3(window_len=window_len, model_resolution=tuple(model_resolution))
    load_checkpoint(model, checkpoint, default, CHECKPOINTS, what=f"CoTracker 3 ({default})")
    return model.to(device).eval()


def _video_key(frames: np.ndarray, size: Sequence[int]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((frames.shape, tuple(size))).encode())
    h.update(np.ascontiguousarray(frames).data)
    return h.hexdigest()


def _to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> ``(1, T, 3, H, W)`` float 0..255."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2)[None].float()


def resized_frames(frames: np.ndarray, size: Sequence[int], device: torch.device, chunk: int = 16) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 frames -> ``(1, T, 3, H', W')`` float 0..255 at ``size``, resized (bilinear,
    ``align_corners=True``) ``chunk`` frames at a time so the float copy at the original size stays small."""
    parts = [resize_video(_to_tensor(frames[i:i + chunk], device), size) for i in range(0, len(frames), chunk)]
    return torch.cat(parts, dim=1)


def offline_memory_bytes(num_frames: int, num_points: int, model_resolution: Sequence[int] = (384, 512),
                         stride: int = 4, latent_dim: int = 128, corr_radius: int = 3, num_virtual: int = 64,
                         hidden: int = 384, heads: int = 8, encode_chunk: int = 8) -> int:
    """A rough estimate of the peak memory (bytes, float32) the offline model needs to track
    ``num_points`` points (support grid included) through ``num_frames`` frames at ``model_resolution``.

    It counts the resized video, the feature pyramid of every frame, the encoder's activations for one
    chunk of frames, one pyramid level's correlation volume, and the transformer's tokens and time attention.
    """
    T, N = num_frames, num_points
    H, W = model_resolution
    f = 4
    video = T * 3 * H * W * f
    pyramid = T * latent_dim * (H // stride) * (W // stride) * f * 4 // 3
    encoder = encode_chunk * 64 * (H // 2) * (W // 2) * f * 6
    p = (2 * corr_radius + 1) ** 2
    corr = T * N * p * (latent_dim + p) * f * 2 + T * N * 256 * 4 * f
    M = N + num_virtual
    tokens = M * T * hidden * f * 12
    attention = M * heads * T * T * f * 2
    return int(video + pyramid + encoder + corr + tokens + attention)


class _CoTracker3Base(Tracker):
    """Shared loading, device and iteration settings."""

    default_checkpoint = ""
    window = 0

    def __init__(self, checkpoint: Optional[str], device: str, iters: int, model_resolution: Sequence[int],
                 support_grid_size: int, visibility_threshold: float):
        if iters < 1:
            raise ValueError(f"iters must be >= 1, got {iters}")
        if len(model_resolution) != 2 or any(int(s) % 4 or int(s) < 32 for s in model_resolution):
            raise ValueError(f"model_resolution must be [height, width], multiples of 4 and >= 32 (the feature "
                             f"pyramid has 4 levels at strides 4..32), got {list(model_resolution)}")
        self.device = pick_device(device)
        self.iters = int(iters)
        self.model_resolution = (int(model_resolution[0]), int(model_resolution[1]))
        self.support_grid_size = int(support_grid_size)
        self.visibility_threshold = float(visibility_threshold)
        self.model = build_model(checkpoint, self.default_checkpoint, self.window, self.model_resolution, self.device)

    def track_grid(self, video: Video, grid_size: int, frame: int = 0, mask: Optional[np.ndarray] = None) -> Tracks:
        """Track a ``grid_size`` x ``grid_size`` grid starting at ``frame`` (only the points inside ``mask``
        when given), the official predictor's ``grid_size`` / ``segm_mask`` options."""
        q = grid_queries(video.height, video.width, grid_size, frame, mask, self.model_resolution)
        return self.track(video, q)


class CoTracker3OfflineTracker(_CoTracker3Base):
    """CoTracker 3 offline: the whole video in one window (the official ``CoTrackerPredictor``).

    Options: ``checkpoint`` (path or known name, default ``cotracker3_offline``), ``device`` (``"auto"``),
    ``iters`` (refinement iterations, official 6), ``model_resolution`` (``(384, 512)``),
    ``support_grid_size`` (extra grid of points tracked jointly then dropped; official 6, 0 for none),
    ``backward_tracking`` (track queries after frame 0 backward too; default True),
    ``visibility_threshold`` (on the visibility probability, official 0.9), ``max_memory_gb`` (the
    offline model's limit: a video whose estimated footprint, see :func:`offline_memory_bytes`, exceeds it is
    refused with a message suggesting ``cotracker3_online``), ``cache_features`` (keep the last video's
    features so that tracking new queries on the same video, and the backward pass, skip the encoder).

    Limit: memory grows with frames x resolution (feature pyramid ~8.4 MB per frame at 384x512) plus
    frames^2 x points (attention along time). With the default 8 GB that is a few hundred frames.
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=True, has_confidence=True)
    default_checkpoint = "cotracker3_offline"
    window = OFFLINE_WINDOW

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", iters: Annotated[int, Range(1, None)] = 6,
                 model_resolution: Sequence[int] = (384, 512), support_grid_size: Annotated[int, Range(0, None)] = 6,
                 backward_tracking: bool = True, visibility_threshold: Annotated[float, Range(0, 1)] = 0.9,
                 max_memory_gb: Annotated[float, Range(0, None, low_open=True)] = 8.0,
                 cache_features: bool = True):
        super().__init__(checkpoint, device, iters, model_resolution, support_grid_size, visibility_threshold)
        self.backward_tracking = bool(backward_tracking)
        self.max_memory_gb = float(max_memory_gb)
        self.cache_features = bool(cache_features)
        self._cache: Optional[tuple[str, list[torch.Tensor]]] = None

    def check_fits(self, num_frames: int, num_points: int) -> None:
        """Raise ``MemoryError`` with advice when a video would not fit in ``max_memory_gb``."""
        need = offline_memory_bytes(num_frames, num_points + self.support_grid_size ** 2, self.model_resolution)
        if need > self.max_memory_gb * 2 ** 30:
            raise MemoryError(
                f"cotracker3_offline would need about {need / 2 ** 30:.1f} GB to track {num_points} points through "
                f"{num_frames} frames at {self.model_resolution[0]}x{self.model_resolution[1]} (limit "
                f"max_memory_gb={self.max_memory_gb:g}). Use tracker=cotracker3_online (bounded memory, streams "
                f"any length), a shorter clip, a lower tracker.model_resolution, or raise tracker.max_memory_gb."
            )

    def _pyramid(self, frames: torch.Tensor, key: Optional[str]) -> list[torch.Tensor]:
        if key is not None and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        pyramid = self.model.encode(frames)
        self._cache = (key, pyramid) if key is not None else None
        return pyramid

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, queries: torch.Tensor, backward_tracking: Optional[bool] = None,
                key: Optional[str] = None, original_size: Optional[Sequence[int]] = None):
        """The official offline predictor on ``frames`` ``(1, T, 3, H, W)`` 0..255 and ``queries``
        ``(1, N, 3)`` in original pixels; returns an :class:`~sampt_cotracker.predictor.OfflineResult`.
        ``key`` identifies the video for the feature cache (None: no caching); with ``original_size``,
        ``frames`` are already at the model resolution."""
        bwd = self.backward_tracking if backward_tracking is None else backward_tracking
        fwd_key = key

        def model_fn(video: torch.Tensor, q: torch.Tensor):
            nonlocal fwd_key
            if fwd_key is not None:  # first call: the video itself; second call: the reversed video
                pyramid = self._pyramid(video, fwd_key)
                fwd_key = None
            elif key is not None:
                pyramid = [p.flip(1) for p in self._pyramid(video.flip(1), key)]
            else:
                pyramid = self.model.encode(video)
            return self.model(None, q, iters=self.iters, pyramid=pyramid)

        return offline_predict_full(model_fn, frames, queries, self.model_resolution, self.support_grid_size,
                                    bwd, self.visibility_threshold, original_size=original_size)

    def _track(self, video: Video, q: np.ndarray) -> Tracks:
        T, H, W = len(video), video.height, video.width
        self.check_fits(T, len(q))
        key = _video_key(video.frames, self.model_resolution) if self.cache_features else None
        if not self.cache_features:
            self._cache = None
        frames = resized_frames(video.frames, self.model_resolution, self.device)
        r = self.predict(frames, torch.from_numpy(q)[None].to(self.device), key=key, original_size=(H, W))
        points = r.tracks[0].cpu().numpy()
        for i, (t, x, y) in enumerate(q):  # the query itself, exactly (no round trip through the model scale)
            points[int(t), i] = (x, y)
        return Tracks(points, r.visible[0].cpu().numpy(), r.confidence[0].cpu().numpy())


class OnlineSession:
    """The official online predictor's window loop, frame by frame, at the model resolution.

    ``queries`` ``(1, N, 3)`` in model pixels (support grid included). :meth:`push` takes one resized frame
    ``(1, 3, H', W')`` 0..255 and returns the raw predictions of frames that became final (coords in model
    pixels, vis and conf logits, each ``(1, k, N, ...)``, possibly ``k = 0``); :meth:`finish` returns the rest.
    Each frame is encoded once; at most one window of frame features is held (bounded memory).
    """

    def __init__(self, model: CoTracker3, queries: torch.Tensor, iters: int = 6, window_len: int = ONLINE_WINDOW):
        if window_len < 2 or window_len % 2:
            raise ValueError(f"window_len must be an even number >= 2, got {window_len}")
        self.model, self.queries, self.iters = model, queries, iters
        self.S, self.step = window_len, window_len // 2
        self.state = OnlineState()
        self.buffer: list[list[torch.Tensor]] = []  # per buffered frame: its pyramid levels (1, 1, C, h, w)
        self.buffer_start = 0  # absolute index of buffer[0] (== state.ind)
        self.pushed = 0
        self.pending: Optional[tuple[torch.Tensor, ...]] = None  # last window's not-yet-final frames

    def _empty(self) -> tuple[torch.Tensor, ...]:
        N = self.queries.shape[1]
        d = self.queries.device
        return torch.zeros(1, 0, N, 2, device=d), torch.zeros(1, 0, N, device=d), torch.zeros(1, 0, N, device=d)

    def _run(self, num: int) -> tuple[torch.Tensor, ...]:
        frames = self.buffer[:num] + [self.buffer[num - 1]] * (self.S - num)  # pad with the last frame
        pyramid = [torch.cat([f[i] for f in frames], dim=1) for i in range(len(frames[0]))]
        out = self.model.online_step(pyramid, num, self.queries, self.state, self.iters, window=self.S)
        self.buffer = self.buffer[self.step:]
        self.buffer_start += self.step
        return out

    @torch.no_grad()
    def push(self, frame: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.buffer.append(self.model.encode(frame[:, None]))
        self.pushed += 1
        if len(self.buffer) < self.S:
            return self._empty()
        c, v, f = self._run(self.S)
        self.pending = (c[:, self.step:], v[:, self.step:], f[:, self.step:])
        return c[:, : self.step], v[:, : self.step], f[:, : self.step]

    @torch.no_grad()
    def finish(self) -> tuple[torch.Tensor, ...]:
        covered = self.buffer_start + (self.S - self.step) if self.pending is not None else 0
        if self.pushed > covered:  # frames beyond the last full window: one shorter window at its start
            out = self._run(self.pushed - self.buffer_start)
        else:
            out = self.pending if self.pending is not None else self._empty()
        self.pending, self.buffer = None, []
        return out


class CoTracker3Stream(TrackStream):
    """A :class:`~sampt.interfaces.TrackStream` over :class:`OnlineSession`, in sampt coordinates."""

    def __init__(self, tracker: "CoTracker3OnlineTracker", queries: np.ndarray, height: int, width: int):
        self.tracker = tracker
        self.queries = np.asarray(queries, np.float32)  # checked by the tracker (open_stream / track)
        self.height, self.width = height, width
        mh = tracker.model_resolution
        q = to_model_coords(torch.from_numpy(self.queries)[None].to(tracker.device), (height, width), mh)
        self.num_queries = len(self.queries)
        q = add_support_grid(q, tracker.support_grid_size, mh)
        self.session = OnlineSession(tracker.model, q, tracker.iters, tracker.window_len) if self.num_queries else None
        self.next_frame = 0

    def _tracks(self, out: tuple[torch.Tensor, ...], count: int) -> Tracks:
        N = self.num_queries
        T0 = self.next_frame
        if self.session is None:
            self.next_frame += count
            return Tracks(np.zeros((count, 0, 2), np.float32), np.zeros((count, 0), bool), np.zeros((count, 0), np.float32))
        c, v, f = (o[0, :, :N] for o in out)
        k = c.shape[0]
        points = from_model_coords(c, self.tracker.model_resolution, (self.height, self.width)).cpu().numpy()
        conf = (torch.sigmoid(f)).cpu().numpy()
        prob = (torch.sigmoid(v) * torch.sigmoid(f)).cpu().numpy()
        visible = prob > self.tracker.visibility_threshold
        # sampt's contract: before its query frame a point is invisible at its query position; on it, visible there
        t = np.arange(T0, T0 + k)[:, None]
        qt = self.queries[:, 0][None]
        before, at = t < qt, t == qt
        qxy = np.broadcast_to(self.queries[None, :, 1:], points.shape)
        points = np.where((before | at)[..., None], qxy, points)
        visible = np.where(before, False, np.where(at, True, visible))
        conf = np.where(before, 0.0, np.where(at, 1.0, conf))
        self.next_frame += k
        return Tracks(points.astype(np.float32), visible, conf.astype(np.float32))

    def push(self, frame: np.ndarray) -> Tracks:
        frame = np.asarray(frame)
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected an ({self.height}, {self.width}, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        if self.session is None:
            return self._tracks((), 1)
        x = _to_tensor(frame[None], self.tracker.device)[:, 0]
        x = resize_video(x[:, None], self.tracker.model_resolution)[:, 0]
        return self._tracks(self.session.push(x), 0)

    def finish(self) -> Tracks:
        if self.session is None:
            return self._tracks((), 0)
        return self._tracks(self.session.finish(), 0)


class CoTracker3OnlineTracker(_CoTracker3Base):
    """CoTracker 3 online: sliding windows of ``window_len`` frames moving by half a window (the official
    ``CoTrackerOnlinePredictor`` and its demo loop). Streams frames with bounded memory (:meth:`open_stream`).

    Options: ``checkpoint`` (default ``cotracker3_online``), ``device``, ``iters`` (official 6),
    ``model_resolution`` (``(384, 512)``), ``support_grid_size`` (official default 0: none),
    ``visibility_threshold`` (on visibility x confidence, official 0.6), ``window_len`` (official 16; the
    time embedding is interpolated when it differs from the checkpoint's 16).
    Queries may start at any frame; a point is reported invisible at its query position before its frame.
    """

    capabilities = TrackerCapabilities(online=True, any_query_frame=True, bidirectional=False,
                                       has_visibility=True, has_confidence=True)
    default_checkpoint = "cotracker3_online"
    window = ONLINE_WINDOW

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", iters: Annotated[int, Range(1, None)] = 6,
                 model_resolution: Sequence[int] = (384, 512), support_grid_size: Annotated[int, Range(0, None)] = 0,
                 visibility_threshold: Annotated[float, Range(0, 1)] = 0.6, window_len: Annotated[int, Range(2, None)] = ONLINE_WINDOW):
        super().__init__(checkpoint, device, iters, model_resolution, support_grid_size, visibility_threshold)
        if window_len < 2 or window_len % 2:
            raise ValueError(f"window_len must be an even number >= 2, got {window_len}")
        self.window_len = int(window_len)
        # frame t is final once the window holding it in its first half is full: at most window_len - 1 later
        self.capabilities = dataclasses.replace(type(self).capabilities, latency=self.window_len - 1)

    def open_stream(self, queries: np.ndarray, height: int, width: int) -> CoTracker3Stream:
        return CoTracker3Stream(self, self.check_queries(queries, height, width), height, width)

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        stream = CoTracker3Stream(self, queries, video.height, video.width)
        parts = [stream.push(frame) for frame in video]
        parts.append(stream.finish())
        return Tracks.concatenate(parts, axis=0)
