"""sampt :class:`~sampt.interfaces.Tracker` implementations of TAPIR, BootsTAPIR and online BootsTAPIR.

The official demos' inference path (``colabs/torch_tapir_demo.ipynb``, ``torch_causal_tapir_demo.ipynb``):
frames resized to the model resolution (256x256) with PIL's Lanczos filter on uint8 (``mediapy``), scaled
to ``[-1, 1]``; queries and tracks rescaled by the size ratio; a point is visible when
``(1 - sigmoid(occlusion)) * (1 - sigmoid(expected_dist)) > 0.5``.

Coordinates: sampt puts pixel centres on integers, TAPIR on ``+0.5`` (raster). At the boundary a point
``x`` of a ``W``-wide frame becomes ``(x + 0.5) * w / W`` at model width ``w``, and back by the inverse.
"""
from __future__ import annotations

import logging
from typing import Annotated, ClassVar, Optional, Sequence

import numpy as np
import torch

from sampt.constraints import Range
from sampt.interfaces import Tracker, TrackerCapabilities, TrackStream
from sampt.types import Tracks, Video
from sampt.weights import load_checkpoint

from sampt_tapir.model import TAPIR, QueryFeatures
from sampt_tapir.plugin import CHECKPOINTS, VARIANTS
from sampt.devices import pick_device

log = logging.getLogger(__name__)

def build_model(variant: str, **options) -> TAPIR:
    """An untrained network of ``variant`` (``tapir``, ``bootstapir``, ``bootstapir_online``)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown TAPIR variant {variant!r}; known: {', '.join(VARIANTS)}")
    return TAPIR(**VARIANTS[variant].network, **options)


def resize_frames(frames: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> ``(T, h, w, 3)`` uint8 with PIL's Lanczos filter (as ``mediapy``)."""
    from PIL import Image

    h, w = int(size[0]), int(size[1])
    frames = np.asarray(frames)
    if frames.shape[1:3] == (h, w):
        return frames
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(f)).resize((w, h), Image.Resampling.LANCZOS))
                     for f in frames])


def to_model_queries(queries: np.ndarray, src: Sequence[int], dst: Sequence[int]) -> np.ndarray:
    """sampt ``(N, 3)`` (t, x, y) of an ``src`` (H, W) frame -> TAPIR ``(N, 3)`` (t, y, x) raster pixels of
    a ``dst`` (h, w) frame, float32."""
    q = np.asarray(queries, np.float64)
    out = np.stack([q[:, 0], (q[:, 2] + 0.5) * dst[0] / src[0], (q[:, 1] + 0.5) * dst[1] / src[1]], axis=-1)
    return out.astype(np.float32)


def from_model_points(xy: np.ndarray, src: Sequence[int], dst: Sequence[int]) -> np.ndarray:
    """TAPIR (x, y) raster of a ``dst`` (h, w) frame -> sampt (x, y) of the ``src`` (H, W) frame."""
    xy = np.asarray(xy, np.float64)
    return np.stack([xy[..., 0] * src[1] / dst[1] - 0.5, xy[..., 1] * src[0] / dst[0] - 0.5], axis=-1)


def visibility_score(occlusion: torch.Tensor, expected_dist: torch.Tensor) -> torch.Tensor:
    """The official visibility score ``(1 - sigmoid(occ)) * (1 - sigmoid(expected_dist))``."""
    return (1 - torch.sigmoid(occlusion)) * (1 - torch.sigmoid(expected_dist))


def to_unit_range(frames_u8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 frames -> float32 in [-1, 1] (the demo's ``frames / 255 * 2 - 1``)."""
    return torch.from_numpy(np.ascontiguousarray(frames_u8)).to(device).float() / 255 * 2 - 1


def causal_loop(model: TAPIR, frames: torch.Tensor, query_points: torch.Tensor, query_chunk_size: int = 64
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The causal demo's loop: query features from ALL ``frames`` ``(T, h, w, 3)`` (in [-1, 1]) at
    ``query_points`` ``(N, 3)`` (t, y, x raster), then one causal step per frame from a zero state.

    Returns tracks ``(N, T, 2)`` (x, y raster), occlusion and expected-distance logits ``(N, T)``. Needs
    the whole video: :class:`TapirStream` is the streaming form.
    """
    video = frames[None]
    grids = model.get_feature_grids(video)
    qfeats = model.get_query_features(video.shape, query_points[None], grids)
    state = model.initial_state(query_points.shape[0], len(qfeats.resolutions) - 1, device=frames.device)
    tracks, occ, expd = [], [], []
    for t in range(frames.shape[0]):
        step = model.get_feature_grids(video[:, t:t + 1])
        out = model.estimate_trajectories(frames.shape[1:3], step, qfeats, None, query_chunk_size, state=state)
        state = out["state"]
        tracks.append(out["tracks"][-1][0])
        occ.append(out["occlusion"][-1][0])
        expd.append(out["expected_dist"][-1][0])
    return torch.cat(tracks, dim=1), torch.cat(occ, dim=1), torch.cat(expd, dim=1)


class _TapirTracker(Tracker):
    """What the offline and online trackers share: options, loading, resizing and coordinate conversion.
    ``variants`` are the variants a class runs (the plugin registers one name per variant as a preset)."""

    variants: ClassVar[tuple[str, ...]] = ()

    def __init__(self, variant: Optional[str] = None, checkpoint: Optional[str] = None, device: str = "auto",
                 query_chunk_size: Annotated[int, Range(1, None)] = 64,
                 feature_chunk: Annotated[int, Range(1, None)] = 10, resolution: tuple[int, int] = (256, 256),
                 visibility_threshold: Annotated[float, Range(0, 1)] = 0.5):
        variant = self.variants[0] if variant is None else variant
        if variant not in self.variants:
            raise ValueError(f"{type(self).__name__} runs variant {' or '.join(map(repr, self.variants))}, not "
                             f"{variant!r}" + ("; online BootsTAPIR is the tracker bootstapir_online"
                                               if variant == "bootstapir_online" else ""))
        self.variant = variant
        self.device = pick_device(device)
        self.query_chunk_size = max(1, int(query_chunk_size))
        self.resolution = (int(resolution[0]), int(resolution[1]))
        if self.resolution[0] % 8 or self.resolution[1] % 8 or min(self.resolution) < 64:
            raise ValueError(f"resolution must be multiples of 8 of at least 64 px, got {resolution}")
        self.visibility_threshold = float(visibility_threshold)
        self.model = build_model(variant, feature_chunk=int(feature_chunk))
        load_checkpoint(self.model, checkpoint, VARIANTS[variant].weights.name, CHECKPOINTS,
                        what=f"{variant} (sampt_tapir.model.TAPIR{VARIANTS[variant].network})", family=variant)
        self.model = self.model.to(self.device).eval()

    def _finish(self, tracks_xy: np.ndarray, score: np.ndarray, queries: np.ndarray, size: tuple[int, int],
                first_frame: int = 0) -> Tracks:
        """Model outputs ``(N, T, 2)`` / ``(N, T)`` for frames ``first_frame...`` -> sampt Tracks, with each
        point pinned (position and visibility) at its own query frame."""
        points = from_model_points(tracks_xy, size, self.resolution).transpose(1, 0, 2).astype(np.float32)
        score = np.ascontiguousarray(score.T).astype(np.float32)
        visible = score > self.visibility_threshold
        t = queries[:, 0].astype(np.int64) - first_frame
        inside = (t >= 0) & (t < points.shape[0])
        idx = np.flatnonzero(inside)
        points[t[idx], idx] = queries[idx, 1:]
        visible[t[idx], idx] = True
        return Tracks(points, visible, score)


class TapirTracker(_TapirTracker):
    """TAPIR (``variant="tapir"``, ``tapir_checkpoint_panning.pt``) or BootsTAPIR (``variant="bootstapir"``,
    ``bootstapir_checkpoint_v2.pt``), offline: any query frame, both directions in one pass.

    Options: ``checkpoint`` (a file or a registered name; default: the variant's official checkpoint),
    ``device``, ``query_chunk_size`` (queries per cost-volume chunk, official 64), ``feature_chunk`` (frames
    per encoder call, official 10), ``resolution`` (model input (H, W), official (256, 256)),
    ``visibility_threshold`` (official 0.5 on the visibility score, which is also reported as confidence).
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=True, has_confidence=True)
    variants = ("tapir", "bootstapir")

    def model_outputs(self, frames_u8: np.ndarray, model_queries: np.ndarray) -> dict:
        """The demo's ``inference()``: ``frames_u8`` already at the model resolution, ``model_queries``
        ``(N, 3)`` (t, y, x raster). Returns the model's output dict (batch of one)."""
        video = to_unit_range(frames_u8, self.device)[None]
        q = torch.from_numpy(np.asarray(model_queries, np.float32)).to(self.device)[None]
        with torch.inference_mode():
            return self.model(video, q, query_chunk_size=self.query_chunk_size)

    def predict(self, video: Video, queries: np.ndarray) -> tuple[Tracks, dict]:
        """:meth:`track` plus the raw model outputs (``tracks`` ``(N, T, 2)`` x, y raster pixels at the
        model resolution, ``occlusion`` / ``expected_dist`` logits ``(N, T)``, NumPy)."""
        T, H, W = len(video), video.height, video.width
        queries = self.check_queries(queries, H, W, T)
        if len(queries) == 0:
            empty = Tracks(np.zeros((T, 0, 2), np.float32), np.zeros((T, 0), bool), np.zeros((T, 0), np.float32))
            return empty, {"tracks": np.zeros((0, T, 2), np.float32), "occlusion": np.zeros((0, T), np.float32),
                           "expected_dist": np.zeros((0, T), np.float32)}
        return self._predict(video, queries)

    def _predict(self, video: Video, queries: np.ndarray) -> tuple[Tracks, dict]:
        H, W = video.height, video.width
        frames = resize_frames(video.frames, self.resolution)
        out = self.model_outputs(frames, to_model_queries(queries, (H, W), self.resolution))
        raw = {k: out[k][0].cpu().numpy() for k in ("tracks", "occlusion", "expected_dist")}
        score = visibility_score(out["occlusion"][0], out["expected_dist"][0]).cpu().numpy()
        return self._finish(raw["tracks"], score, queries, (H, W)), raw

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        return self._predict(video, queries)[0]


class OnlineBootsTapirTracker(_TapirTracker):
    """Online (causal) BootsTAPIR (``causal_bootstapir_checkpoint.pt``): frames are processed one at a
    time with a fixed-size causal state per point, so memory does not grow with the video.

    A query joins at its own frame (features sampled there, state reset, as the live demo's
    ``update_query_features``); before it, the point is reported at its query position, invisible.
    :meth:`track` streams the video through :meth:`open_stream`. Options as :class:`TapirTracker`.
    """

    capabilities = TrackerCapabilities(online=True, any_query_frame=True, bidirectional=False,
                                       has_visibility=True, has_confidence=True)
    variants = ("bootstapir_online",)

    def open_stream(self, queries: np.ndarray, height: int, width: int) -> "TapirStream":
        return TapirStream(self, self.check_queries(queries, height, width), int(height), int(width))

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        stream = TapirStream(self, queries, video.height, video.width)
        parts = [stream.push(frame) for frame in video.frames]
        parts.append(stream.finish())
        return Tracks.concatenate(parts, axis=0)

    def demo_outputs(self, frames_u8: np.ndarray, model_queries: np.ndarray
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The causal demo's loop (:func:`causal_loop`) on frames already at the model resolution."""
        with torch.inference_mode():
            return causal_loop(self.model, to_unit_range(frames_u8, self.device),
                               torch.from_numpy(np.asarray(model_queries, np.float32)).to(self.device),
                               self.query_chunk_size)


class TapirStream(TrackStream):
    """A streaming session of :class:`OnlineBootsTapirTracker`: each pushed frame is final at once."""

    def __init__(self, tracker: OnlineBootsTapirTracker, queries: np.ndarray, height: int, width: int):
        self.tracker = tracker
        self.model = tracker.model
        self.queries = queries
        self.size = (height, width)
        self.frame_index = 0
        n = len(queries)
        dev = tracker.device
        self.model_queries = torch.from_numpy(to_model_queries(queries, self.size, tracker.resolution)).to(dev)
        self.starts = queries[:, 0].astype(np.int64)
        self.active = np.zeros(n, bool)
        self.query_lowres: Optional[list[torch.Tensor]] = None  # per resolution level, (1, N, 256)
        self.query_hires: Optional[list[torch.Tensor]] = None
        self.state: Optional[list[dict]] = None

    def _allocate(self, grids) -> None:
        n, dev = len(self.queries), self.tracker.device
        levels = len(grids.resolutions)
        self.query_lowres = [torch.zeros(1, n, grids.lowres[i].shape[-1], device=dev) for i in range(levels)]
        self.query_hires = [torch.zeros(1, n, grids.hires[i].shape[-1], device=dev) for i in range(levels)]
        self.state = self.model.initial_state(n, levels - 1, device=dev)

    def push(self, frame: np.ndarray) -> Tracks:
        frame = np.asarray(frame)
        if frame.shape != (*self.size, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self.size[0]}x{self.size[1]}x3 uint8 frame, got {frame.shape} {frame.dtype}")
        t = self.frame_index
        self.frame_index += 1
        n = len(self.queries)
        res = self.tracker.resolution
        xy = np.zeros((n, 1, 2), np.float32)
        score = np.zeros((n, 1), np.float32)
        if n:
            with torch.no_grad():
                video = to_unit_range(resize_frames(frame[None], res), self.tracker.device)[None]
                grids = self.model.get_feature_grids(video)
                if self.state is None:
                    self._allocate(grids)
                new = np.flatnonzero(self.starts == t)
                if len(new):
                    idx = torch.as_tensor(new, device=video.device)
                    q = self.model_queries[idx].clone()
                    q[:, 0] = 0  # sampled in this single frame
                    feats = self.model.get_query_features(video.shape, q[None], grids)
                    for level in range(len(self.query_lowres)):
                        self.query_lowres[level][:, idx] = feats.lowres[level]
                        self.query_hires[level][:, idx] = feats.hires[level]
                    for s in self.state:
                        for v in s.values():
                            v[:, idx] = 0
                    self.active[new] = True
                act = np.flatnonzero(self.active)
                if len(act):
                    idx = torch.as_tensor(act, device=video.device)
                    qf = QueryFeatures(tuple(x[:, idx] for x in self.query_lowres),
                                       tuple(x[:, idx] for x in self.query_hires), grids.resolutions)
                    state = [{k: v[:, idx] for k, v in s.items()} for s in self.state]
                    out = self.model.estimate_trajectories(res, grids, qf, None, self.tracker.query_chunk_size,
                                                           state=state)
                    for s, new_s in zip(self.state, out["state"]):
                        for k in s:
                            s[k][:, idx] = new_s[k]
                    xy[act] = out["tracks"][-1][0].cpu().numpy()
                    score[act] = visibility_score(out["occlusion"][-1][0], out["expected_dist"][-1][0]).cpu().numpy()
        tracks = self.tracker._finish(xy, score, self.queries, self.size, first_frame=t)
        waiting = self.starts > t
        tracks.points[0, waiting] = self.queries[waiting, 1:]
        tracks.visibility[0, waiting] = False
        tracks.confidence[0, waiting] = 0.0
        return tracks

    def finish(self) -> Tracks:
        n = len(self.queries)
        return Tracks(np.zeros((0, n, 2), np.float32), np.zeros((0, n), bool), np.zeros((0, n), np.float32))
