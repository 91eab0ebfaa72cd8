"""Predictor-level utilities shared by the CoTracker trackers (versions 1, 2 and 3).

Everything here works on torch tensors in the layout of the official predictors:

* videos are ``(B, T, 3, H, W)`` float frames with values 0..255;
* queries are ``(B, N, 3)`` rows ``(t, x, y)``; points are ``(..., 2)`` ``(x, y)``;
* "model resolution" is the ``(height, width)`` the network runs at (``(384, 512)`` for the official models).

Coordinates: sampt's convention puts pixel centres on integer coordinates, so a frame of width ``W`` has its
first and last pixel centres at ``x = 0`` and ``x = W - 1``. Resizing a frame with bilinear interpolation and
``align_corners=True`` maps those centres onto the first and last centres of the resized frame, hence points
are scaled by ``(W' - 1) / (W - 1)`` (and ``(H' - 1) / (H - 1)``): :func:`to_model_coords` and
:func:`from_model_coords` do exactly that, as the official CoTracker 2/3 predictors do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def resize_video(video: Tensor, size: Sequence[int], align_corners: bool = True) -> Tensor:
    """Resize every frame of ``video`` ``(B, T, C, H, W)`` to ``size = (H', W')`` with bilinear
    interpolation (``align_corners=True`` by default, matching the CoTracker 2/3 predictors)."""
    B, T, C, H, W = video.shape
    if (H, W) == tuple(size):
        return video
    out = F.interpolate(video.reshape(B * T, C, H, W), size=tuple(int(s) for s in size), mode="bilinear",
                        align_corners=align_corners)
    return out.reshape(B, T, C, int(size[0]), int(size[1]))


def coord_scale(src_hw: Sequence[int], dst_hw: Sequence[int]) -> tuple[float, float]:
    """The ``(sx, sy)`` factors taking pixel-centre coordinates of a ``src_hw`` frame to a ``dst_hw`` frame
    (``(W_dst - 1) / (W_src - 1)``, ``(H_dst - 1) / (H_src - 1)``; 1 where a side has a single pixel)."""
    (hs, ws), (hd, wd) = src_hw, dst_hw
    sx = (wd - 1) / (ws - 1) if ws > 1 else 1.0
    sy = (hd - 1) / (hs - 1) if hs > 1 else 1.0
    return sx, sy


def to_model_coords(queries: Tensor, src_hw: Sequence[int], model_hw: Sequence[int]) -> Tensor:
    """Scale ``(t, x, y)`` queries (``(..., 3)``) from a ``src_hw`` frame to the model resolution (a copy)."""
    sx, sy = coord_scale(src_hw, model_hw)
    out = queries.clone()
    out[..., 1:] *= out.new_tensor([sx, sy])
    return out


def from_model_coords(points: Tensor, model_hw: Sequence[int], dst_hw: Sequence[int]) -> Tensor:
    """Scale ``(x, y)`` points (``(..., 2)``) from the model resolution back to a ``dst_hw`` frame."""
    sx, sy = coord_scale(model_hw, dst_hw)
    return points * points.new_tensor([sx, sy])


def grid_points(size: int, extent: Sequence[int], device: Optional[torch.device | str] = None) -> Tensor:
    """A ``size`` x ``size`` grid of ``(x, y)`` points covering an ``extent = (H, W)`` frame, ``(1, size**2, 2)``,
    row-major (x fastest). A margin of ``W / 64`` is left on every side (the official CoTracker grid);
    ``size == 1`` gives the single point ``(W / 2, H / 2)``."""
    H, W = float(extent[0]), float(extent[1])
    if size == 1:
        return torch.tensor([[[W / 2, H / 2]]], device=device)
    margin = W / 64
    ys = torch.linspace(margin, H - margin, size, device=device)
    xs = torch.linspace(margin, W - margin, size, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).reshape(1, -1, 2)


def resize_mask_nearest(mask: Tensor, size: Sequence[int]) -> Tensor:
    """Resize an ``(H, W)`` mask to ``size`` with nearest-neighbour sampling (``F.interpolate(mode="nearest")``)."""
    m = mask.float()[None, None]
    return F.interpolate(m, size=tuple(int(s) for s in size), mode="nearest")[0, 0]


def points_in_mask(points: Tensor, mask: Tensor) -> Tensor:
    """Boolean ``(N,)``: whether each ``(x, y)`` point of ``points`` ``(N, 2)`` falls on a nonzero pixel of
    ``mask`` ``(H, W)`` (the pixel nearest to the point, coordinates rounded; points off the mask are clamped)."""
    H, W = mask.shape[-2:]
    xi = points[:, 0].round().long().clamp(0, W - 1)
    yi = points[:, 1].round().long().clamp(0, H - 1)
    return mask[yi.cpu(), xi.cpu()].to(points.device) != 0


def grid_in_mask(size: int, mask: Tensor, model_hw: Sequence[int]) -> Tensor:
    """The official predictor's "grid restricted to a mask": a ``size`` x ``size`` :func:`grid_points` at the
    model resolution ``model_hw``, kept where ``mask`` (``(H, W)``, any resolution, resized nearest to
    ``model_hw``) is nonzero. Returns ``(1, M, 2)`` ``(x, y)`` points at the model resolution."""
    pts = grid_points(size, model_hw, device=mask.device)
    keep = points_in_mask(pts[0], resize_mask_nearest(mask, model_hw))
    return pts[:, keep]


def add_support_grid(queries: Tensor, size: int, model_hw: Sequence[int], frame: int = 0) -> Tensor:
    """Append a ``size`` x ``size`` support grid at frame ``frame`` to model-resolution queries ``(B, N, 3)``
    (the official predictors' ``add_support_grid``); the grid points are the last ``size**2`` queries."""
    if size <= 0:
        return queries
    pts = grid_points(size, model_hw, device=queries.device).to(queries.dtype)
    grid = torch.cat([torch.full_like(pts[..., :1], float(frame)), pts], dim=-1)
    return torch.cat([queries, grid.expand(queries.shape[0], -1, -1)], dim=1)


def flip_queries(queries: Tensor, num_frames: int) -> Tensor:
    """Queries for the time-reversed video: frame ``t`` becomes ``num_frames - 1 - t`` (a copy)."""
    out = queries.clone()
    out[..., 0] = num_frames - 1 - out[..., 0]
    return out


def merge_backward(tracks: Tensor, vis: Tensor, back_tracks: Tensor, back_vis: Tensor, queries: Tensor
                   ) -> tuple[Tensor, Tensor]:
    """Take the backward pass's results for every frame before each query's frame.

    ``tracks`` ``(B, T, N, 2)`` / ``vis`` ``(B, T, N)`` come from the forward pass; ``back_tracks`` /
    ``back_vis`` from the model run on the time-reversed video and already flipped back to forward time;
    ``queries`` ``(B, N, 3)``. Returns new tensors (frames ``t < t_query`` from the backward pass).
    """
    T = tracks.shape[1]
    before = torch.arange(T, device=tracks.device)[None, :, None] < queries[:, None, : tracks.shape[2], 0]
    return (torch.where(before[..., None], back_tracks, tracks), torch.where(before, back_vis, vis))


def write_query_points(tracks: Tensor, vis: Tensor, queries: Tensor) -> tuple[Tensor, Tensor]:
    """Put each query point itself at its query frame, visible (in place; ``queries`` in the same
    coordinates as ``tracks``, ``(B, N, 3)`` with at least ``tracks.shape[2]`` rows)."""
    N = tracks.shape[2]
    for b in range(tracks.shape[0]):
        t = queries[b, :N, 0].long()
        n = torch.arange(N, device=tracks.device)
        tracks[b, t, n] = queries[b, :N, 1:].to(tracks.dtype)
        vis[b, t, n] = True
    return tracks, vis


ModelFn = Callable[..., tuple]
"""A model call for :func:`offline_predict`: ``(video (B,T,3,H',W') 0..255, queries (B,N,3) model pixels)`` ->
``(tracks (B,T,N,2) model pixels, visibility probability (B,T,N))``, optionally followed by a confidence
probability ``(B,T,N)``. With ``backward_tracking`` it is called a second time on the reversed video."""


@dataclass
class OfflineResult:
    """What :func:`offline_predict_full` returns: ``tracks`` ``(B, T, N, 2)`` in original pixels, boolean
    ``visible`` ``(B, T, N)``, the visibility probability it was thresholded from, and the confidence
    probability when the model gives one (else None). Query frames hold the query points, visible, prob. 1."""

    tracks: Tensor
    visible: Tensor
    vis_prob: Tensor
    confidence: Optional[Tensor]


def offline_predict_full(model_fn: ModelFn, video: Tensor, queries: Tensor, model_hw: Sequence[int],
                         support_grid_size: int = 6, backward_tracking: bool = False, threshold: float = 0.9,
                         queries_in_model_coords: bool = False, resize_align_corners: bool = True,
                         original_size: Optional[Sequence[int]] = None) -> OfflineResult:
    """The official CoTracker 2/3 offline predictor around ``model_fn``.

    Resizes ``video`` ``(B, T, 3, H, W)`` (0..255) to ``model_hw``, scales ``queries`` ``(B, N, 3)`` (unless
    they are already at the model resolution), appends a ``support_grid_size`` x ``support_grid_size``
    support grid at frame 0 (0: none), runs the model (and, with ``backward_tracking``, the model on the
    reversed video, used for the frames before each query's frame), drops the grid, thresholds visibility
    (``> threshold``), writes each query point at its query frame (visible) and scales the tracks back to
    ``(H, W)`` pixels. When every query starts at frame 0 the backward pass changes nothing and is skipped.
    With ``original_size = (H, W)``, ``video`` is already resized to ``model_hw`` (e.g. chunk by chunk, to
    save memory) and ``(H, W)`` is the size the queries and results refer to.
    """
    B, T = video.shape[:2]
    if original_size is None:
        H, W = video.shape[-2:]
        frames = resize_video(video, model_hw, align_corners=resize_align_corners)
    else:
        (H, W), frames = original_size, video
    q = queries.clone().float() if queries_in_model_coords else to_model_coords(queries.float(), (H, W), model_hw)
    N = q.shape[1]
    q_all = add_support_grid(q, support_grid_size, model_hw)
    out = list(model_fn(frames, q_all))
    if backward_tracking and bool((q_all[..., 0] > 0).any()):
        back = list(model_fn(frames.flip(1), flip_queries(q_all, T)))
        before = torch.arange(T, device=q.device)[None, :, None] < q_all[:, None, :, 0]
        out[0] = torch.where(before[..., None], back[0].flip(1), out[0])
        out[1:] = [torch.where(before, b.flip(1), o) for o, b in zip(out[1:], back[1:])]
    tracks = out[0][:, :, :N].clone()
    vis_prob = out[1][:, :, :N].clone()
    conf = out[2][:, :, :N].clone() if len(out) > 2 else None
    visible = vis_prob > threshold
    write_query_points(tracks, visible, q)
    n = torch.arange(N, device=q.device)
    for b in range(B):
        t = q[b, :, 0].long()
        vis_prob[b, t, n] = 1.0
        if conf is not None:
            conf[b, t, n] = 1.0
    return OfflineResult(from_model_coords(tracks, model_hw, (H, W)), visible, vis_prob, conf)


def offline_predict(model_fn: ModelFn, video: Tensor, queries: Tensor, model_hw: Sequence[int],
                    support_grid_size: int = 6, backward_tracking: bool = False, threshold: float = 0.9,
                    queries_in_model_coords: bool = False, resize_align_corners: bool = True,
                    ) -> tuple[Tensor, Tensor]:
    """:func:`offline_predict_full` returning only ``(tracks (B, T, N, 2), visibility (B, T, N) bool)``, the
    official predictor's outputs."""
    r = offline_predict_full(model_fn, video, queries, model_hw, support_grid_size, backward_tracking, threshold,
                             queries_in_model_coords, resize_align_corners)
    return r.tracks, r.visible
