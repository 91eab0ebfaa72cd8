"""CoTracker 1 network (the model of the CoTracker v1.0 release, used by the SAM-PT paper), checkpoint-
compatible with ``cotracker_stride_4_wind_8.pth``, ``cotracker_stride_4_wind_12.pth`` and
``cotracker_stride_8_wind_16.pth``.

Coordinates inside the network are model-resolution pixels, pixel centres on integers.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from sampt_cotracker.model_v2 import (
    CORR_LEVELS,
    CORR_RADIUS,
    HIDDEN_SIZE,
    INPUT_DIM,
    LATENT_DIM,
    BasicEncoder,
    CorrPyramid,
    FeatureCache,
    FrameSource,
    Mlp,
    VideoLike,
    flow_embedding,
    sample_at,
    sincos_1d,
    sincos_2d_grid,
)

@lru_cache(maxsize=8)
def _pos_grid(height: int, width: int) -> torch.Tensor:
    return sincos_2d_grid(INPUT_DIM, height, width)


@lru_cache(maxsize=8)
def _time_emb(window: int) -> torch.Tensor:
    return sincos_1d(INPUT_DIM, torch.arange(window)).float()[None]


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm's ``Attention`` layout)."""

    def __init__(self, dim: int, heads: int = 8):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class AttnBlock(nn.Module):
    """Pre-norm self-attention + MLP block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class UpdateFormer(nn.Module):
    """Alternating attention along each track (time) and across all tracks of a frame (space)."""

    def __init__(self, depth: int = 6, input_dim: int = INPUT_DIM, hidden: int = HIDDEN_SIZE, heads: int = 8,
                 output_dim: int = LATENT_DIM + 2):
        super().__init__()
        self.input_transform = nn.Linear(input_dim, hidden)
        self.flow_head = nn.Linear(hidden, output_dim)
        self.time_blocks = nn.ModuleList([AttnBlock(hidden, heads) for _ in range(depth)])
        self.space_blocks = nn.ModuleList([AttnBlock(hidden, heads) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, N, T, D)`` -> ``(B, N, T, out)``."""
        x = self.input_transform(x)
        B, N, T, C = x.shape
        every = len(self.time_blocks) // len(self.space_blocks)
        j = 0
        for i, block in enumerate(self.time_blocks):
            x = block(x.reshape(B * N, T, C)).view(B, N, T, C)
            if i % every == 0:
                space = x.permute(0, 2, 1, 3).reshape(B * T, N, C)
                x = self.space_blocks[j](space).view(B, T, N, C).permute(0, 2, 1, 3)
                j += 1
        return self.flow_head(x)


class CoTracker1(nn.Module):
    """CoTracker 1: windows of ``window_len`` frames moving by half a window; a point joins the windows
    from the first one that contains its query frame."""

    def __init__(self, window_len: int = 8, stride: int = 4):
        super().__init__()
        self.window_len = window_len
        self.stride = stride
        self.fnet = BasicEncoder(LATENT_DIM, stride)
        self.updateformer = UpdateFormer()
        self.norm = nn.GroupNorm(1, LATENT_DIM)
        self.ffeat_updater = nn.Sequential(nn.Linear(LATENT_DIM, LATENT_DIM), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(LATENT_DIM, 1))

    def forward_window(self, fmaps: torch.Tensor, coords: torch.Tensor, feats: torch.Tensor, vis: torch.Tensor,
                       track_mask: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine one window: ``fmaps`` ``(1, S, C, h, w)``, ``coords`` ``(1, S, n, 2)`` feature pixels,
        ``feats`` ``(1, S, n, C)``, ``vis`` ``(1, S, n, 1)`` logits, ``track_mask`` ``(1, s, n, 1)`` with
        ``s <= S``. Returns final coords (model pixels) and visibility logits ``(1, S, n)``."""
        B, S, N, _ = coords.shape
        h, w = fmaps.shape[-2:]
        corr = CorrPyramid(fmaps, CORR_LEVELS, CORR_RADIUS, padding_mode="zeros")
        pos = sample_at(_pos_grid(h, w).to(fmaps.device), coords[:, 0]).reshape(B * N, 1, INPUT_DIM)
        times = _time_emb(S).to(fmaps.device)
        if track_mask.shape[1] < S:
            track_mask = torch.cat([track_mask, track_mask.new_zeros(B, S - track_mask.shape[1], N, 1)], dim=1)
        # (sic) the official model joins mask and visibility along the *point* axis and then reshapes, so
        # each point's two extra channels hold interleaved entries of two consecutive rows of that stack.
        mask_vis = torch.cat([track_mask, vis], dim=2).permute(0, 2, 1, 3).reshape(B * N, S, 2)
        for _ in range(iters):
            coords = coords.detach()
            corr.correlate(feats)
            fcorrs = corr.sample(coords).permute(0, 2, 1, 3).reshape(B * N, S, -1)
            flows = (coords - coords[:, 0:1]).permute(0, 2, 1, 3).reshape(B * N, S, 2)
            feat_ = feats.permute(0, 2, 1, 3).reshape(B * N, S, LATENT_DIM)
            x = torch.cat([flow_embedding(flows, 64), fcorrs, feat_, mask_vis], dim=2) + pos + times
            delta = self.updateformer(x.view(B, N, S, -1)).reshape(B * N, S, -1)
            dfeat = delta[:, :, 2:].reshape(B * N * S, LATENT_DIM)
            feat_ = feats.permute(0, 2, 1, 3).reshape(B * N * S, LATENT_DIM)
            feat_ = self.ffeat_updater(self.norm(dfeat)) + feat_
            feats = feat_.reshape(B, N, S, LATENT_DIM).permute(0, 2, 1, 3)
            coords = coords + delta[:, :, :2].reshape(B, N, S, 2).permute(0, 2, 1, 3)
        vis_logits = self.vis_predictor(feats.reshape(B * S * N, LATENT_DIM)).reshape(B, S, N)
        return coords * self.stride, vis_logits

    def forward(self, video: VideoLike, queries: torch.Tensor, iters: int = 4,
                feature_store: Optional[dict] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Track ``queries`` ``(1, N, 3)`` ``(t, x, y)`` (model pixels) through ``video`` (``(1, T, 3, h, w)``
        float 0..255 at model resolution, or a :class:`FrameSource`). ``feature_store``: see
        :class:`~sampt_cotracker.model_v2.FeatureCache`.

        Returns ``tracks`` ``(1, T, N, 2)`` (model pixels) and ``visibility`` ``(1, T, N)`` probabilities.
        Frames no window reached for a point (before its first window) are 0, as in the official model.
        """
        source = video if isinstance(video, FrameSource) else FrameSource(video)
        T = len(source)
        device = queries.device
        B, N, _ = queries.shape
        S, half = self.window_len, self.window_len // 2
        if B != 1:
            raise ValueError("CoTracker 1 supports batch size 1 only")
        first = queries[0, :, 0].long()
        order = torch.sort(first, stable=True).indices
        inverse = torch.argsort(order)
        first_sorted = first[order]
        coords_init = (queries[:, order, 1:] / float(self.stride)).reshape(B, 1, N, 2).repeat(1, S, 1, 1)
        vis_init = torch.ones((B, S, N, 1), device=device) * 10
        track_mask = (torch.arange(T, device=device)[None, :, None] >= first_sorted[None, None, :]).unsqueeze(-1)
        tracks = torch.zeros((B, T, N, 2), device=device)
        vis_logits = torch.zeros((B, T, N), device=device)
        feats_cache = FeatureCache(self.fnet, source, device, feature_store)
        feat_init = torch.zeros((B, S, 0, LATENT_DIM), device=device)
        prev = 0
        coords = vis = None
        ind = 0
        while ind < T - half:
            n_local = min(S, T - ind)
            fmaps = feats_cache.window([min(i, T - 1) for i in range(ind, ind + S)])[None]
            active = int((first_sorted < ind + S).sum())
            if active == 0:
                ind += half
                continue
            if active > prev:
                new_frames = first_sorted[prev:active] - ind
                xy = coords_init[0, 0, prev:active]
                f = sample_at(fmaps[0, new_frames], xy[:, None])[:, 0]  # n C
                feat_init = torch.cat([feat_init, f[None, None].repeat(1, S, 1, 1)], dim=2)
            if prev > 0:
                new_coords = coords[:, half:] / float(self.stride)
                coords_init[:, :half, :prev] = new_coords
                coords_init[:, half:, :prev] = new_coords[:, -1:].repeat(1, S - half, 1, 1)
                new_vis = vis[:, half:].unsqueeze(-1)
                vis_init[:, :half, :prev] = new_vis
                vis_init[:, half:, :prev] = new_vis[:, -1:].repeat(1, S - half, 1, 1)
            coords, vis = self.forward_window(fmaps, coords_init[:, :, :active], feat_init[:, :, :active],
                                              vis_init[:, :, :active], track_mask[:, ind : ind + S, :active], iters)
            tracks[:, ind : ind + n_local, :active] = coords[:, :n_local]
            vis_logits[:, ind : ind + n_local, :active] = vis[:, :n_local]
            track_mask[:, : ind + S, :active] = False
            ind += half
            prev = active
        return tracks[:, :, inverse], torch.sigmoid(vis_logits[:, :, inverse])
