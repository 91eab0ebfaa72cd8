"""PIPS (Particle Video Revisited, Harley et al. 2022): an 8-frame point-trajectory refiner.

Module and parameter names match the official ``nets/pips.py`` so the released ``reference_model``
checkpoint loads with ``strict=True``. The computation follows the official forward pass (inference
mode: frame 0 of every iteration locked to the query); parts that only serve training losses or
visualisation are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from sampt_pips.model_blocks import BasicEncoder, CorrPyramid, normalize_rgb, sample_points


class PreNormResidual(nn.Module):
    """x + fn(LayerNorm(x))."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x)) + x


def _feed_forward(dim: int, expansion: int, layer: type) -> nn.Sequential:
    return nn.Sequential(layer(dim, dim * expansion), nn.GELU(), nn.Dropout(0.0),
                         layer(dim * expansion, dim), nn.Dropout(0.0))


class _Conv1x1(nn.Conv1d):
    """A kernel-1 Conv1d mixing along the token (time) axis."""

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout, kernel_size=1)


class _MeanOverTokens(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


def mlp_mixer(S: int, input_dim: int, dim: int, output_dim: int, depth: int, expansion: int = 4) -> nn.Sequential:
    """The MLP-Mixer of the PIPS update block: token mixing over the S frames, channel mixing, a
    final norm, a mean over frames and a linear head."""
    blocks = [nn.Sequential(PreNormResidual(dim, _feed_forward(S, expansion, _Conv1x1)),
                            PreNormResidual(dim, _feed_forward(dim, expansion, nn.Linear)))
              for _ in range(depth)]
    return nn.Sequential(nn.Linear(input_dim, dim), *blocks, nn.LayerNorm(dim), _MeanOverTokens(),
                         nn.Linear(dim, output_dim))


def sincos_3d(xyz: torch.Tensor, C: int) -> torch.Tensor:
    """PIPS's 3-D sin/cos embedding of (dx, dy, t): C channels per coordinate (interleaved sin, cos at
    frequencies k*1000/C, k = 0, 2, ...), followed by the raw coordinates. (B, S, 3) -> (B, S, 3C+3)."""
    B, S, _ = xyz.shape
    freqs = (torch.arange(0, C, 2, device=xyz.device, dtype=xyz.dtype) * (1000.0 / C)).reshape(1, 1, C // 2)
    parts = []
    for i in range(3):
        a = xyz[:, :, i:i + 1] * freqs
        parts.append(torch.stack([torch.sin(a), torch.cos(a)], dim=-1).reshape(B, S, C))
    return torch.cat(parts + [xyz], dim=2)


class DeltaBlock(nn.Module):
    """Predicts coordinate and feature updates for all S frames of a trajectory at once."""

    def __init__(self, input_dim: int = 128, corr_levels: int = 4, corr_radius: int = 3, S: int = 8):
        super().__init__()
        self.input_dim = input_dim
        self.S = S
        kitchen_dim = corr_levels * (2 * corr_radius + 1) ** 2 + input_dim + 64 * 3 + 3
        self.to_delta = mlp_mixer(S, kitchen_dim, 512, S * (input_dim + 2), depth=12)

    def forward(self, fhid: torch.Tensor, fcorr: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        B, S, _ = flow.shape
        x = torch.cat([fhid, fcorr, sincos_3d(flow, 64)], dim=2)
        return self.to_delta(x).reshape(B, self.S, self.input_dim + 2)


@dataclass
class PipsOutput:
    """``coords``: trajectories after each iteration, each (B, S, N, 2) pixels (x, y); ``vis``: the
    visibility logits (B, S, N) after the last iteration; ``vis_iters``: the visibility logits the model
    would return with ``iters = 1, 2, ...`` (one per iteration); ``feat_init``: the (B, N, C) point
    features the trajectories were initialised with (the official chain reuses them)."""

    coords: list
    vis: torch.Tensor
    vis_iters: list
    feat_init: torch.Tensor


class Pips(nn.Module):
    """The PIPS model (``S`` frames per clip, feature ``stride`` 4 in the official demos)."""

    def __init__(self, S: int = 8, stride: int = 4):
        super().__init__()
        self.S = S
        self.stride = stride
        self.latent_dim = 128
        self.corr_levels = 4
        self.corr_radius = 3
        self.fnet = BasicEncoder(output_dim=self.latent_dim, stride=stride)
        self.delta_block = DeltaBlock(self.latent_dim, self.corr_levels, self.corr_radius, S)
        self.norm = nn.GroupNorm(1, self.latent_dim)
        self.ffeat_updater = nn.Sequential(nn.Linear(self.latent_dim, self.latent_dim), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(self.latent_dim, 1))

    def encode(self, rgbs: torch.Tensor) -> torch.Tensor:
        """Feature maps of (B, S, 3, H, W) 0..255 frames -> (B, S, C, H // stride, W // stride)."""
        B, S, C, H, W = rgbs.shape
        f = self.fnet(normalize_rgb(rgbs).reshape(B * S, C, H, W))
        return f.reshape(B, S, self.latent_dim, H // self.stride, W // self.stride)

    def point_features(self, fmap0: torch.Tensor, xys: torch.Tensor) -> torch.Tensor:
        """The features (B, N, C) of points ``xys`` (B, N, 2) pixels on one frame's feature map."""
        c = xys / float(self.stride)
        return sample_points(fmap0, c[..., 0], c[..., 1])

    def forward(self, xys: torch.Tensor, rgbs: Optional[torch.Tensor] = None, iters: int = 6,
                feat_init: Optional[torch.Tensor] = None, fmaps: Optional[torch.Tensor] = None,
                coords_init: Optional[torch.Tensor] = None) -> PipsOutput:
        """Track points ``xys`` (B, N, 2) pixels, given on frame 0, through the S frames ``rgbs``
        (B, S, 3, H, W) float 0..255 (or precomputed ``fmaps`` from :meth:`encode`)."""
        if fmaps is None:
            fmaps = self.encode(rgbs)
        B, S, C, H8, W8 = fmaps.shape
        N = xys.shape[1]
        if coords_init is None:
            coords = (xys / float(self.stride)).reshape(B, 1, N, 2).repeat(1, S, 1, 1)
        else:
            coords = coords_init / self.stride
        corr = CorrPyramid(fmaps, self.corr_levels, self.corr_radius)
        if feat_init is None:
            feat_init = sample_points(fmaps[:, 0], coords[:, 0, :, 0], coords[:, 0, :, 1])
        ffeats = feat_init.unsqueeze(1).repeat(1, S, 1, 1)  # B, S, N, C
        coords0 = coords[:, 0].clone()
        times = torch.linspace(0, S, S, device=fmaps.device, dtype=fmaps.dtype).reshape(1, S, 1).repeat(B * N, 1, 1)
        preds, vis_iters = [], []
        for _ in range(iters):
            coords = coords.detach()
            corr.correlate(ffeats)
            fcorrs = corr.sample(coords)
            LRR = fcorrs.shape[3]
            fcorrs_ = fcorrs.permute(0, 2, 1, 3).reshape(B * N, S, LRR)
            flows = (coords - coords[:, 0:1]).permute(0, 2, 1, 3).reshape(B * N, S, 2)
            flows = torch.cat([flows, times], dim=2)
            ffeats_ = ffeats.permute(0, 2, 1, 3).reshape(B * N, S, C)
            delta = self.delta_block(ffeats_, fcorrs_, flows)
            delta_coords = delta[:, :, :2]
            delta_feats = delta[:, :, 2:].reshape(B * N * S, C)
            ffeats_ = self.ffeat_updater(self.norm(delta_feats)) + ffeats_.reshape(B * N * S, C)
            ffeats = ffeats_.reshape(B, N, S, C).permute(0, 2, 1, 3)
            coords = coords + delta_coords.reshape(B, N, S, 2).permute(0, 2, 1, 3)
            coords[:, 0] = coords0  # frame 0 is the query
            preds.append(coords * self.stride)
            vis_iters.append(self.vis_predictor(ffeats.reshape(B * S * N, C)).reshape(B, S, N))
        vis = vis_iters[-1] if vis_iters else self.vis_predictor(ffeats.reshape(B * S * N, C)).reshape(B, S, N)
        return PipsOutput(preds, vis, vis_iters, feat_init)
