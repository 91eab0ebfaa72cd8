"""The RAFT optical-flow network (Teed & Deng, ECCV 2020), full and small, for sampt.

Parameter names and shapes equal those of princeton-vl/RAFT ``core/raft.py``, so its published checkpoints
(``raft-things.pth``, ``raft-small.pth``, ...) load with ``strict=True`` into :class:`RaftCheckpoint`: they
were saved from ``nn.DataParallel``, which prefixes every key with ``module.``.

Flow convention: ``flow[:, :, y, x]`` is the displacement (dx, dy) in pixels of pixel centre (x, y) of
the first image; pixel centres lie on integer coordinates. Images are (B, 3, H, W) float in 0..255, H and W
multiples of 8 and at least 128 (:func:`pad_to_multiple` pads like the official ``InputPadder``).
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class RaftConfig:
    """The two published architectures: ``full`` (raft-things/sintel/kitti/chairs) and ``small``."""

    small: bool = False
    corr_levels: int = 4

    @property
    def hidden_dim(self) -> int:
        return 96 if self.small else 128

    @property
    def context_dim(self) -> int:
        return 64 if self.small else 128

    @property
    def corr_radius(self) -> int:
        return 3 if self.small else 4

    @property
    def corr_planes(self) -> int:
        return self.corr_levels * (2 * self.corr_radius + 1) ** 2


def _norm(kind: str, channels: int) -> nn.Module:
    """The normalisation layers RAFT uses: BatchNorm (context net), InstanceNorm without affine weights
    (feature net) or none (small context net)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "none":
        return nn.Sequential()
    raise ValueError(f"unknown normalisation {kind!r}")


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions; a strided 1x1 projection (``downsample``) when the block downsamples.

    ``norm3`` is also ``downsample[1]``: the official module registers it under both names, so a checkpoint
    holds it twice and the second copy (``downsample.1``, registered later) is the one that ends up loaded.
    """

    def __init__(self, in_planes: int, planes: int, norm: str, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.norm1 = _norm(norm, planes)
        self.norm2 = _norm(norm, planes)
        self.downsample = None
        if stride != 1:
            self.norm3 = _norm(norm, planes)
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), self.norm3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class BottleneckBlock(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 convolutions at a quarter of the width (the small model's block)."""

    def __init__(self, in_planes: int, planes: int, norm: str, stride: int = 1):
        super().__init__()
        inner = planes // 4
        self.conv1 = nn.Conv2d(in_planes, inner, kernel_size=1, padding=0)
        self.conv2 = nn.Conv2d(inner, inner, kernel_size=3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(inner, planes, kernel_size=1, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.norm1 = _norm(norm, inner)
        self.norm2 = _norm(norm, inner)
        self.norm3 = _norm(norm, planes)
        self.downsample = None
        if stride != 1:
            self.norm4 = _norm(norm, planes)
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), self.norm4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.relu(self.norm3(self.conv3(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class Encoder(nn.Module):
    """A 1/8-resolution CNN: 7x7/2 stem, three stages of two blocks (the second and third stride 2), and
    a 1x1 output convolution. Full model: residual blocks 64/96/128; small: bottlenecks 32/64/96."""

    def __init__(self, output_dim: int, norm: str, small: bool):
        super().__init__()
        widths = (32, 64, 96) if small else (64, 96, 128)
        block = BottleneckBlock if small else ResidualBlock
        self.norm1 = _norm(norm, widths[0])
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3)
        self.relu1 = nn.ReLU(inplace=True)
        stages, in_planes = [], widths[0]
        for width, stride in zip(widths, (1, 2, 2)):
            stages.append(nn.Sequential(block(in_planes, width, norm, stride), block(width, width, norm, 1)))
            in_planes = width
        self.layer1, self.layer2, self.layer3 = stages
        self.conv2 = nn.Conv2d(widths[-1], output_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.norm1(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


class FlowHead(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x)))


def _gru_step(h: torch.Tensor, x: torch.Tensor, convz: nn.Module, convr: nn.Module, convq: nn.Module
              ) -> torch.Tensor:
    hx = torch.cat([h, x], dim=1)
    z = torch.sigmoid(convz(hx))
    r = torch.sigmoid(convr(hx))
    q = torch.tanh(convq(torch.cat([r * h, x], dim=1)))
    return (1 - z) * h + z * q


class ConvGRU(nn.Module):
    """A GRU with 3x3 convolutions (the small model's update)."""

    def __init__(self, hidden_dim: int, input_dim: int):
        super().__init__()
        self.convz = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)
        self.convr = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)
        self.convq = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _gru_step(h, x, self.convz, self.convr, self.convq)


class SepConvGRU(nn.Module):
    """Two GRU steps, a 1x5 (horizontal) then a 5x1 (vertical) one (the full model's update)."""

    def __init__(self, hidden_dim: int, input_dim: int):
        super().__init__()
        for axis, (kernel, pad) in (("1", ((1, 5), (0, 2))), ("2", ((5, 1), (2, 0)))):
            for gate in "zrq":
                setattr(self, f"conv{gate}{axis}", nn.Conv2d(hidden_dim + input_dim, hidden_dim, kernel, padding=pad))

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = _gru_step(h, x, self.convz1, self.convr1, self.convq1)
        return _gru_step(h, x, self.convz2, self.convr2, self.convq2)


class MotionEncoder(nn.Module):
    """Correlation features and the current flow -> motion features (the flow itself appended last)."""

    def __init__(self, config: RaftConfig):
        super().__init__()
        self.small = config.small
        if config.small:
            self.convc1 = nn.Conv2d(config.corr_planes, 96, 1, padding=0)
            self.convf1 = nn.Conv2d(2, 64, 7, padding=3)
            self.convf2 = nn.Conv2d(64, 32, 3, padding=1)
            self.conv = nn.Conv2d(128, 80, 3, padding=1)
        else:
            self.convc1 = nn.Conv2d(config.corr_planes, 256, 1, padding=0)
            self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
            self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
            self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
            self.conv = nn.Conv2d(64 + 192, 128 - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc1(corr))
        if not self.small:
            cor = F.relu(self.convc2(cor))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class UpdateBlock(nn.Module):
    """One refinement step: motion features + context -> GRU -> flow update (and, for the full model, the
    convex-upsampling weights ``mask``)."""

    def __init__(self, config: RaftConfig):
        super().__init__()
        hdim = config.hidden_dim
        self.encoder = MotionEncoder(config)
        if config.small:
            self.gru = ConvGRU(hidden_dim=hdim, input_dim=82 + 64)
            self.flow_head = FlowHead(hdim, hidden_dim=128)
            self.mask = None
        else:
            self.gru = SepConvGRU(hidden_dim=hdim, input_dim=128 + hdim)
            self.flow_head = FlowHead(hdim, hidden_dim=256)
            self.mask = nn.Sequential(nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(256, 64 * 9, 1, padding=0))

    def forward(self, net: torch.Tensor, inp: torch.Tensor, corr: torch.Tensor, flow: torch.Tensor):
        net = self.gru(net, torch.cat([inp, self.encoder(flow, corr)], dim=1))
        delta = self.flow_head(net)
        mask = None if self.mask is None else 0.25 * self.mask(net)
        return net, mask, delta


def sample_grid(image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``image`` (B, C, H, W) at pixel coordinates ``coords`` (B, h, w, 2) (x, y),
    zero outside the image (``grid_sample``, corners aligned)."""
    H, W = image.shape[-2:]
    x = 2 * coords[..., 0] / (W - 1) - 1
    y = 2 * coords[..., 1] / (H - 1) - 1
    return F.grid_sample(image, torch.stack([x, y], dim=-1), align_corners=True)


class CorrelationPyramid:
    """All-pairs correlation of two feature maps, average-pooled into ``levels`` levels, looked up in a
    (2r+1)^2 window around each pixel's current match.

    The window's channel order is the official one: channel ``i * (2r + 1) + j`` holds the correlation at
    ``(x + o[i], y + o[j])``, ``o = -r..r`` (the x offset varies slowest).
    """

    def __init__(self, fmap1: torch.Tensor, fmap2: torch.Tensor, levels: int, radius: int):
        B, C, h, w = fmap1.shape
        corr = torch.matmul(fmap1.reshape(B, C, h * w).transpose(1, 2), fmap2.reshape(B, C, h * w))
        corr = (corr / torch.sqrt(torch.tensor(C).float())).reshape(B * h * w, 1, h, w)
        self.levels = [corr]
        for _ in range(levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.levels.append(corr)
        self.radius = radius

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        """``coords`` (B, 2, h, w) -> correlation features (B, levels * (2r+1)^2, h, w)."""
        r = self.radius
        B, _, h, w = coords.shape
        centre = coords.permute(0, 2, 3, 1).reshape(B * h * w, 1, 1, 2)
        o = torch.linspace(-r, r, 2 * r + 1, device=coords.device, dtype=coords.dtype)
        window = torch.stack([o[:, None].expand(-1, 2 * r + 1), o[None, :].expand(2 * r + 1, -1)], dim=-1)
        out = []
        for level, corr in enumerate(self.levels):
            sampled = sample_grid(corr, centre / 2 ** level + window[None])
            out.append(sampled.reshape(B, h, w, -1))
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous().float()


def pixel_grid(batch: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """(B, 2, h, w) pixel coordinates, channel 0 = x, channel 1 = y."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch, 1, 1, 1)


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) flow -> (B, 2, 8h, 8w): each fine pixel a softmax-weighted mix of its coarse cell's 3x3
    neighbourhood (weights ``mask`` (B, 9*64, h, w))."""
    B, _, h, w = flow.shape
    weights = torch.softmax(mask.view(B, 1, 9, 8, 8, h, w), dim=2)
    neighbours = F.unfold(8 * flow, [3, 3], padding=1).view(B, 2, 9, 1, 1, h, w)
    up = torch.sum(weights * neighbours, dim=2)  # B, 2, 8, 8, h, w
    return up.permute(0, 1, 4, 2, 5, 3).reshape(B, 2, 8 * h, 8 * w)


@dataclass
class FrameEncoding:
    """What RAFT computes from one frame alone: matching features, and the context net's initial hidden
    state and input (used when the frame is the first image of a pair)."""

    features: torch.Tensor
    hidden: torch.Tensor
    context: torch.Tensor


class Raft(nn.Module):
    """RAFT. ``encode`` runs the per-frame networks once; ``flow`` estimates the flow between two encoded
    frames; ``forward(image1, image2, iters)`` does both for one pair like the official test mode."""

    def __init__(self, small: bool = False, mixed_precision: bool = False):
        super().__init__()
        self.config = RaftConfig(small=small)
        self.mixed_precision = mixed_precision
        hdim, cdim = self.config.hidden_dim, self.config.context_dim
        if small:
            self.fnet = Encoder(output_dim=128, norm="instance", small=True)
            self.cnet = Encoder(output_dim=hdim + cdim, norm="none", small=True)
        else:
            self.fnet = Encoder(output_dim=256, norm="instance", small=False)
            self.cnet = Encoder(output_dim=hdim + cdim, norm="batch", small=False)
        self.update_block = UpdateBlock(self.config)

    def _autocast(self, x: torch.Tensor):
        """Half-precision regions as the official code (CUDA only; a no-op elsewhere)."""
        if self.mixed_precision and x.is_cuda:
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    def encode(self, images: torch.Tensor) -> FrameEncoding:
        """``images`` (B, 3, H, W) float 0..255, H and W multiples of 8, at least 128."""
        x = (2 * (images / 255.0) - 1.0).contiguous()
        with self._autocast(x):
            features = self.fnet(x)
            net, inp = torch.split(self.cnet(x), [self.config.hidden_dim, self.config.context_dim], dim=1)
        return FrameEncoding(features.float(), torch.tanh(net), torch.relu(inp))

    def flow(self, first: FrameEncoding, second: FrameEncoding, iters: int = 12) -> torch.Tensor:
        """The full-resolution flow (B, 2, H, W) from the first frame to the second after ``iters`` updates."""
        corr_fn = CorrelationPyramid(first.features, second.features, self.config.corr_levels, self.config.corr_radius)
        B, _, h, w = first.features.shape
        coords0 = pixel_grid(B, h, w, first.features.device)
        coords1 = coords0.clone()
        net, inp = first.hidden, first.context
        mask = None
        for _ in range(iters):
            corr = corr_fn(coords1)
            with self._autocast(corr):
                net, mask, delta = self.update_block(net, inp, corr, coords1 - coords0)
            coords1 = coords1 + delta
        flow = coords1 - coords0
        if mask is None:  # small model: bilinear upsampling (corners aligned)
            return 8 * F.interpolate(flow, size=(8 * h, 8 * w), mode="bilinear", align_corners=True)
        return convex_upsample(flow, mask)

    def forward(self, image1: torch.Tensor, image2: torch.Tensor, iters: int = 12) -> torch.Tensor:
        return self.flow(self.encode(image1), self.encode(image2), iters)


class RaftCheckpoint(nn.Module):
    """:class:`Raft` under the name ``module``, as the published checkpoints store it (``nn.DataParallel``)."""

    def __init__(self, small: bool = False, mixed_precision: bool = False):
        super().__init__()
        self.module = Raft(small=small, mixed_precision=mixed_precision)


MIN_PADDED_SIDE = 128
"""The smallest padded side with two cells on the coarsest correlation level (1/64 scale): below it the
official code's lookup divides by zero (NaN flow), so smaller frames are padded further."""


def pad_to_multiple(images: torch.Tensor, multiple: int = 8, minimum: int = MIN_PADDED_SIDE
                    ) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad (..., H, W) by edge replication to multiples of ``multiple`` and at least ``minimum`` per side,
    split evenly (the odd pixel at the end): the official ``InputPadder`` in its default mode wherever the
    frame is at least ``minimum - multiple + 1`` px per side. Returns the padded images and the
    (left, right, top, bottom) padding."""
    H, W = images.shape[-2:]
    ph, pw = max((-H) % multiple, minimum - H), max((-W) % multiple, minimum - W)
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if not any(pad):
        return images, pad
    return F.pad(images, pad, mode="replicate"), pad


def unpad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on (..., H', W')."""
    left, right, top, bottom = pad
    H, W = x.shape[-2:]
    return x[..., top:H - bottom, left:W - right]
