"""Building blocks shared by PIPS and PIPS++: the CNN feature encoder, point sampling of feature maps,
and the multi-scale correlation pyramid.

Parameter names follow the official checkpoints (``fnet.*``) so their state dicts load with
``strict=True``. Coordinates inside the models are pixels of the model input with pixel centres on
integer coordinates; at feature resolution they are divided by the stride.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm, plus a strided 1x1 projection when downsampling."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1)
        self.norm1 = nn.InstanceNorm2d(planes)
        self.norm2 = nn.InstanceNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        if stride == 1:
            self.downsample = None
        else:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride),
                                            nn.InstanceNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class BasicEncoder(nn.Module):
    """Per-frame feature encoder: a 7x7/2 stem, four residual stages (64, 96, 128, 128 channels), all
    stages resized (bilinear, corners aligned) to ``1/stride`` resolution, concatenated and fused."""

    def __init__(self, output_dim: int = 128, stride: int = 8):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.norm1 = nn.InstanceNorm2d(64)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(ResidualBlock(64, 64, 1), ResidualBlock(64, 64, 1))
        self.layer2 = nn.Sequential(ResidualBlock(64, 96, 2), ResidualBlock(96, 96, 1))
        self.layer3 = nn.Sequential(ResidualBlock(96, 128, 2), ResidualBlock(128, 128, 1))
        self.layer4 = nn.Sequential(ResidualBlock(128, 128, 2), ResidualBlock(128, 128, 1))
        self.conv2 = nn.Conv2d(64 + 96 + 128 + 128, output_dim * 2, kernel_size=3, padding=1)
        self.norm2 = nn.InstanceNorm2d(output_dim * 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(output_dim * 2, output_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 3, H, W) in [-1, 1] -> features (B, C, H // stride, W // stride)."""
        _, _, H, W = x.shape
        size = (H // self.stride, W // self.stride)
        x = self.relu1(self.norm1(self.conv1(x)))
        a = self.layer1(x)
        b = self.layer2(a)
        c = self.layer3(b)
        d = self.layer4(c)
        feats = [F.interpolate(t, size, mode="bilinear", align_corners=True) for t in (a, b, c, d)]
        x = self.relu2(self.norm2(self.conv2(torch.cat(feats, dim=1))))
        return self.conv3(x)


def sample_points(fmap: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample ``fmap`` (B, C, H, W) at points ``x``, ``y`` (B, N) given in feature cells
    (cell centres on integers). Neighbour indices are clamped to the map (border replication).
    Returns (B, N, C)."""
    B, C, H, W = fmap.shape
    x = x.to(fmap.dtype)
    y = y.to(fmap.dtype)
    x0 = torch.floor(x)
    y0 = torch.floor(y)
    x1 = x0 + 1
    y1 = y0 + 1
    ix0 = x0.long().clamp(0, W - 1)
    ix1 = x1.long().clamp(0, W - 1)
    iy0 = y0.long().clamp(0, H - 1)
    iy1 = y1.long().clamp(0, H - 1)
    flat = fmap.permute(0, 2, 3, 1).reshape(B, H * W, C)

    def gather(iy: torch.Tensor, ix: torch.Tensor) -> torch.Tensor:
        idx = (iy * W + ix).unsqueeze(-1).expand(-1, -1, C)
        return torch.gather(flat, 1, idx)

    w00 = ((x1 - x) * (y1 - y)).unsqueeze(-1)
    w01 = ((x - x0) * (y1 - y)).unsqueeze(-1)
    w10 = ((x1 - x) * (y - y0)).unsqueeze(-1)
    w11 = ((x - x0) * (y - y0)).unsqueeze(-1)
    return w00 * gather(iy0, ix0) + w01 * gather(iy0, ix1) + w10 * gather(iy1, ix0) + w11 * gather(iy1, ix1)


def _grid_sample_pixels(img: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """``grid_sample`` with pixel coordinates (x, y) and corner-aligned normalisation, zero outside."""
    H, W = img.shape[-2:]
    xg, yg = coords.split([1, 1], dim=-1)
    xg = 2 * xg / (W - 1) - 1
    yg = 2 * yg / (H - 1) - 1
    return F.grid_sample(img, torch.cat([xg, yg], dim=-1), align_corners=True)


class CorrPyramid:
    """Correlations between per-point target features and a pyramid of feature maps (2x2 average
    pooling per level), sampled in a (2r+1)^2 neighbourhood of each point at every level."""

    def __init__(self, fmaps: torch.Tensor, num_levels: int = 4, radius: int = 3):
        B, S, C, H, W = fmaps.shape
        self.C = C
        self.radius = radius
        self.pyramid = [fmaps]
        for _ in range(num_levels - 1):
            pooled = F.avg_pool2d(fmaps.reshape(B * S, C, H, W), 2, stride=2)
            H, W = pooled.shape[-2:]
            fmaps = pooled.reshape(B, S, C, H, W)
            self.pyramid.append(fmaps)
        self.corrs: list[torch.Tensor] = []
        r = radius
        lin = torch.linspace(-r, r, 2 * r + 1)
        # offsets as the official code builds them: (first axis value, second axis value) added to (x, y)
        self.delta = torch.stack(torch.meshgrid(lin, lin, indexing="ij"), dim=-1).to(fmaps.device)

    def correlate(self, targets: torch.Tensor) -> None:
        """Set the targets (B, S, N, C): one feature per point and frame."""
        B, S, N, C = targets.shape
        scale = torch.sqrt(torch.tensor(C).float())
        self.corrs = []
        for fmaps in self.pyramid:
            _, _, _, H, W = fmaps.shape
            corrs = torch.matmul(targets, fmaps.view(B, S, C, H * W)).view(B, S, N, H, W)
            self.corrs.append(corrs / scale)

    def sample(self, coords: torch.Tensor) -> torch.Tensor:
        """Correlations around ``coords`` (B, S, N, 2) in feature cells -> (B, S, N, levels*(2r+1)^2)."""
        B, S, N, _ = coords.shape
        r = self.radius
        out = []
        for i, corrs in enumerate(self.corrs):
            H, W = corrs.shape[-2:]
            centroid = coords.reshape(B * S * N, 1, 1, 2) / 2 ** i
            grid = centroid + self.delta.view(1, 2 * r + 1, 2 * r + 1, 2)
            sampled = _grid_sample_pixels(corrs.reshape(B * S * N, 1, H, W), grid)
            out.append(sampled.view(B, S, N, -1))
        return torch.cat(out, dim=-1).contiguous().to(coords.dtype)


def min_input_side(stride: int, num_levels: int = 4) -> int:
    """The smallest image side for which the coarsest correlation level has at least 2 cells (the
    corner-aligned sampler divides by ``size - 1``, so a 1-cell level gives NaN everywhere)."""
    return stride * 2 ** (num_levels - 1) * 2


def check_input_size(height: int, width: int, stride: int, what: str, num_levels: int = 4) -> None:
    """Raise ValueError when a ``height`` x ``width`` model input is too small for the model."""
    need = min_input_side(stride, num_levels)
    if height < need or width < need:
        raise ValueError(
            f"{what} needs a model input of at least {need}x{need} pixels (stride {stride}, {num_levels} "
            f"correlation levels; below that the coarsest level has one cell and the official sampler "
            f"returns NaN), got {height}x{width}. Set the tracker's `resolution` option to a larger size "
            f"(e.g. the official demo resolution) or use a larger video."
        )


def normalize_rgb(rgbs: torch.Tensor) -> torch.Tensor:
    """0..255 float RGB -> [-1, 1], as the official models do at the start of forward()."""
    return 2 * (rgbs / 255.0) - 1.0


def as_size(value: Sequence[int] | None) -> tuple[int, int] | None:
    """A ``(height, width)`` pair from a config value (None stays None)."""
    if value is None:
        return None
    vals = [int(v) for v in value]
    if len(vals) != 2 or min(vals) <= 0:
        raise ValueError(f"resolution must be (height, width) with positive sides, got {value!r}")
    return vals[0], vals[1]
