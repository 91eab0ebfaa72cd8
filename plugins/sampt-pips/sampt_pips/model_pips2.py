"""PIPS++ (PointOdyssey, Zheng et al. 2023): long-window point-trajectory refinement with a 1-D
ResNet over time and correlations against features from 0, 2 and 4 frames back.

Module and parameter names match the official ``nets/pips2.py`` so the released ``reference_model``
checkpoint loads with ``strict=True`` (its unused ``norm`` and ``first_block_norm`` are kept for that).
There is no visibility head.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sampt_pips.model_blocks import BasicEncoder, CorrPyramid, normalize_rgb, sample_points


class Conv1dPad(nn.Module):
    """Conv1d with "same" zero padding (stride 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.kernel_size - 1
        return self.conv(F.pad(x, (p // 2, p - p // 2), "constant", 0))


class ResidualBlock1d(nn.Module):
    """Pre-activation residual block over time; extra output channels of the identity are zero-padded
    symmetrically."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, is_first_block: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.is_first_block = is_first_block
        self.norm1 = nn.InstanceNorm1d(in_channels)
        self.conv1 = Conv1dPad(in_channels, out_channels, kernel_size)
        self.norm2 = nn.InstanceNorm1d(out_channels)
        self.conv2 = Conv1dPad(out_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if not self.is_first_block:
            out = F.relu(self.norm1(out))
        out = self.conv1(out)
        out = F.relu(self.norm2(out))
        out = self.conv2(out)
        identity = x
        if self.out_channels != self.in_channels:
            extra = self.out_channels - self.in_channels
            identity = F.pad(x, (0, 0, extra // 2, extra - extra // 2), "constant", 0)
        return out + identity


def sincos_2d(xy: torch.Tensor, C: int, temperature: float = 10000.0) -> torch.Tensor:
    """PIPS++'s 2-D sin/cos embedding of (dx, dy): [sin x, cos x, sin y, cos y] at C/4 frequencies
    ``temperature ** -(k / (C/4 - 1))``, then the raw (dx, dy). (B, S, 2) -> (B, S, C+2)."""
    B, S, _ = xy.shape
    omega = torch.arange(C // 4, device=xy.device) / (C // 4 - 1)
    omega = 1.0 / (temperature ** omega)
    x = xy[:, :, 0].flatten()[:, None] * omega[None, :]
    y = xy[:, :, 1].flatten()[:, None] * omega[None, :]
    pe = torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1).reshape(B, S, C).type(xy.dtype)
    return torch.cat([pe, xy], dim=2)


class DeltaBlock(nn.Module):
    """1-D ResNet (8 blocks, 128 -> 1024 channels) mapping per-frame correlations and motion to
    coordinate updates."""

    def __init__(self, latent_dim: int = 128, corr_levels: int = 4, corr_radius: int = 3):
        super().__init__()
        self.latent_dim = latent_dim
        in_channels = corr_levels * (2 * corr_radius + 1) ** 2 * 3 + latent_dim + 2
        base, k, gap, n_block = 128, 3, 2, 8
        self.first_block_conv = Conv1dPad(in_channels, base, k)
        self.first_block_norm = nn.InstanceNorm1d(base)  # unused by the official forward
        blocks = []
        out_ch = base
        for i in range(n_block):
            if i == 0:
                in_ch = out_ch = base
            else:
                in_ch = int(base * 2 ** ((i - 1) // gap))
                out_ch = in_ch * 2 if i % gap == 0 else in_ch
            blocks.append(ResidualBlock1d(in_ch, out_ch, k, is_first_block=(i == 0)))
        self.basicblock_list = nn.ModuleList(blocks)
        self.final_norm = nn.InstanceNorm1d(out_ch)  # unused by the official forward
        self.dense = nn.Linear(out_ch, 2)

    def forward(self, fcorr: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        x = torch.cat([fcorr, sincos_2d(flow, self.latent_dim)], dim=2)
        out = F.relu(self.first_block_conv(x.permute(0, 2, 1)))
        for block in self.basicblock_list:
            out = block(out)
        out = F.relu(out).permute(0, 2, 1)
        return self.dense(out)


@dataclass
class Pips2Output:
    """``coords``: ``iters + 1`` trajectories (B, S, N, 2) pixels: after each iteration before frame 0 is
    re-locked to the query, then the final result (frame 0 = query), as the official
    ``coord_predictions1``; ``feats``: (feats1, feats2, feats4) to carry into the next window."""

    coords: list
    feats: tuple


class Pips2(nn.Module):
    """The PIPS++ model (feature ``stride`` 8)."""

    def __init__(self, stride: int = 8):
        super().__init__()
        self.stride = stride
        self.latent_dim = 128
        self.corr_levels = 4
        self.corr_radius = 3
        self.fnet = BasicEncoder(output_dim=self.latent_dim, stride=stride)
        self.delta_block = DeltaBlock(self.latent_dim, self.corr_levels, self.corr_radius)
        self.norm = nn.GroupNorm(1, self.latent_dim)  # in the checkpoint, unused by the official forward

    def encode(self, rgbs: torch.Tensor) -> torch.Tensor:
        """Feature maps of (B, S, 3, H, W) 0..255 frames -> (B, S, C, H // stride, W // stride)."""
        B, S, C, H, W = rgbs.shape
        f = self.fnet(normalize_rgb(rgbs).reshape(B * S, C, H, W))
        return f.reshape(B, S, self.latent_dim, H // self.stride, W // self.stride)

    def forward(self, trajs_init: torch.Tensor, rgbs: Optional[torch.Tensor] = None, iters: int = 16,
                feat_init: Optional[Sequence[torch.Tensor]] = None, beautify: bool = False,
                fmaps: Optional[torch.Tensor] = None) -> Pips2Output:
        """Refine trajectories ``trajs_init`` (B, S, N, 2) pixels (frame 0 = the queries) through frames
        ``rgbs`` (B, S, 3, H, W) float 0..255 (or precomputed ``fmaps``). ``beautify`` halves the
        updates of the last quarter of the iterations (the official demo's setting)."""
        if fmaps is None:
            fmaps = self.encode(rgbs)
        B, S, C, H8, W8 = fmaps.shape
        N = trajs_init.shape[2]
        coords = trajs_init / float(self.stride)
        corr1 = CorrPyramid(fmaps, self.corr_levels, self.corr_radius)
        corr2 = CorrPyramid(fmaps, self.corr_levels, self.corr_radius)
        corr4 = CorrPyramid(fmaps, self.corr_levels, self.corr_radius)
        if feat_init is not None:
            feats1, feats2, feats4 = feat_init
        else:
            feat1 = sample_points(fmaps[:, 0], coords[:, 0, :, 0], coords[:, 0, :, 1])  # B, N, C
            feats1 = feats2 = feats4 = feat1.unsqueeze(1).repeat(1, S, 1, 1)
        coords0 = coords[:, 0].clone()
        corr1.correlate(feats1)
        inds2 = (torch.arange(S) - 2).clip(min=0)
        inds4 = (torch.arange(S) - 4).clip(min=0)
        flat_fmaps = fmaps.reshape(B * S, C, H8, W8)
        preds = []
        for itr in range(iters):
            coords = coords.detach()
            if itr >= 1:
                # features at each frame's current position, looked up 2 and 4 frames back
                c = coords.reshape(B * S, N, 2)
                here = sample_points(flat_fmaps, c[:, :, 0], c[:, :, 1]).reshape(B, S, N, C)
                feats2 = here[:, inds2]
                feats4 = here[:, inds4]
            corr2.correlate(feats2)
            corr4.correlate(feats4)
            LRR_parts = [cb.sample(coords) for cb in (corr1, corr2, corr4)]
            fcorrs = torch.cat([p.permute(0, 2, 1, 3).reshape(B * N, S, -1) for p in LRR_parts], dim=2)
            flows = (coords[:, 1:] - coords[:, :-1]).permute(0, 2, 1, 3).reshape(B * N, S - 1, 2)
            flows = torch.cat([flows, flows[:, -1:]], dim=1)
            delta = self.delta_block(fcorrs, flows)
            if beautify and itr > 3 * iters // 4:
                delta = delta * 0.5
            coords = coords + delta.reshape(B, N, S, 2).permute(0, 2, 1, 3)
            preds.append(coords * self.stride)
            coords[:, 0] = coords0
        preds.append(coords * self.stride)
        return Pips2Output(preds, (feats1, feats2, feats4))
