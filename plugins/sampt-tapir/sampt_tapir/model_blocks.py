"""Building blocks of TAPIR / BootsTAPIR: the per-frame ResNet encoder, BootsTAPIR's extra
convolutions on the low-resolution features, and the depthwise-convolutional PIPs mixer.

Parameter names follow the official PyTorch checkpoints (``resnet_torch.*``, ``extra_convs.*``,
``torch_pips_mixer.*``) so released files load with ``strict=True``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

CausalState = dict[str, torch.Tensor]
"""Per-block temporal context of the causal mixer: ``block_{i}_causal_1`` ``(B, 2, 512)`` and
``block_{i}_causal_2`` ``(B, 2, 2048)`` (the last two inputs of each depthwise temporal conv)."""


class ResBlock(nn.Module):
    """Pre-activation residual block with instance norm; ``'SAME'`` padding as JAX computes it."""

    def __init__(self, cin: int, cout: int, stride: int, project: bool):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        # JAX 'SAME' for a 3x3 kernel: symmetric at stride 1, (0 before, 2 after) at stride 2 on even sizes.
        self.pad = (1, 1, 1, 1) if stride == 1 else (0, 2, 0, 2)
        self.project = project
        if project:
            self.proj_conv = nn.Conv2d(cin, cout, 1, stride=stride, padding=0, bias=False)
        self.bn_0 = nn.InstanceNorm2d(cin, eps=1e-5, affine=True, track_running_stats=False)
        self.conv_0 = nn.Conv2d(cin, cout, 3, stride=stride, padding=0, bias=False)
        self.conv_1 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn_1 = nn.InstanceNorm2d(cout, eps=1e-5, affine=True, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn_0(x))
        skip = self.proj_conv(h) if self.project else x
        h = self.conv_0(F.pad(h, self.pad))
        h = self.conv_1(torch.relu(self.bn_1(h)))
        return h + skip


class BlockGroup(nn.Module):
    def __init__(self, cin: int, cout: int, num_blocks: int, stride: int, project: bool):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1, project and i == 0)
            for i in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class ResNet(nn.Module):
    """The TAPIR encoder: a 7x7/2 stem and four groups (64, 128, 256, 256 channels; strides 1, 2, 2, 1).

    :meth:`forward` returns the outputs of group 1 (stride 4, the "hires" 128-channel map) and group 3
    (stride 8, the "lowres" 256-channel map), NCHW.
    """

    def __init__(self, channels=(64, 128, 256, 256), strides=(1, 2, 2, 1), blocks_per_group=(2, 2, 2, 2)):
        super().__init__()
        self.initial_conv = nn.Conv2d(3, channels[0], 7, stride=2, padding=0, bias=False)
        cins = (channels[0],) + tuple(channels[:-1])
        self.block_groups = nn.ModuleList(
            BlockGroup(cin, cout, n, s, True) for cin, cout, n, s in zip(cins, channels, blocks_per_group, strides)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.initial_conv(F.pad(x, (2, 4, 2, 4)))  # JAX 'SAME' for a 7x7 kernel at stride 2
        outs = []
        for group in self.block_groups:
            x = group(x)
            outs.append(x)
        return outs[1], outs[3]


class ExtraConvBlock(nn.Module):
    """LayerNorm + 3x3 conv (x4 channels) + GELU + 3x3 conv, residual; channels-last in and out."""

    def __init__(self, dim: int = 256, mult: int = 4):
        super().__init__()
        self.layer_norm = nn.LayerNorm(dim, elementwise_affine=True, bias=True)
        self.conv = nn.Conv2d(dim, dim * mult, 3, padding=1)
        self.conv_1 = nn.Conv2d(dim * mult, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer_norm(x).permute(0, 3, 1, 2)
        h = h + self.conv_1(F.gelu(self.conv(h), approximate="tanh"))
        return h.permute(0, 2, 3, 1)


class ExtraConvs(nn.Module):
    """BootsTAPIR's five extra residual conv blocks on the low-resolution features (NHWC)."""

    def __init__(self, num_layers: int = 5, dim: int = 256, mult: int = 4):
        super().__init__()
        self.blocks = nn.ModuleList(ExtraConvBlock(dim, mult) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class ChannelsMixer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.mlp2_up = nn.Linear(dim, dim * 4)
        self.mlp2_down = nn.Linear(dim * 4, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp2_down(F.gelu(self.mlp2_up(x), approximate="tanh"))


class MixerBlock(nn.Module):
    """Two depthwise temporal convs (kernel 3; ``dim -> 4 dim -> 4 dim``, summed back to ``dim`` in groups
    of four) then a channel MLP, both residual. ``causal``: the convs see only past frames (left padding 2).
    """

    def __init__(self, dim: int, kernel: int = 3, causal: bool = False, index: int = 0):
        super().__init__()
        self.causal = causal
        self.kernel = kernel
        self.name = f"block_{index}"
        pad = 0 if causal else 1
        self.layer_norm = nn.LayerNorm(dim, elementwise_affine=True, bias=False)
        self.mlp1_up = nn.Conv1d(dim, dim * 4, kernel, padding=pad, groups=dim)
        self.mlp1_up_1 = nn.Conv1d(dim * 4, dim * 4, kernel, padding=pad, groups=dim * 4)
        self.layer_norm_1 = nn.LayerNorm(dim, elementwise_affine=True, bias=False)
        self.conv_channels_mixer = ChannelsMixer(dim)

    def _tconv(self, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        """(B, L, C) -> (B, C', L') temporal conv (channels first out), left-padded when causal."""
        x = x.permute(0, 2, 1)
        if self.causal:
            x = F.pad(x, (self.kernel - 1, 0))
        return conv(x)

    def forward(self, x: torch.Tensor, state: Optional[CausalState] = None
                ) -> tuple[torch.Tensor, CausalState]:
        """``x`` ``(B, L, dim)``. With ``state`` (causal streaming) the stored last two inputs of each
        temporal conv are prepended, and the new last two are returned."""
        skip = x
        h = self.layer_norm(x)
        new: CausalState = {}
        extra = 0
        k1, k2 = f"{self.name}_causal_1", f"{self.name}_causal_2"
        if state is not None:
            h = torch.cat([state[k1], h], dim=-2)
            extra = state[k1].shape[-2]
            new[k1] = h[:, -(self.kernel - 1):]
        h = F.gelu(self._tconv(self.mlp1_up, h), approximate="tanh").permute(0, 2, 1)
        if state is not None:
            extra = state[k2].shape[-2]
            h = torch.cat([state[k2], h[:, extra:]], dim=-2)
            new[k2] = h[:, -(self.kernel - 1):]
        h = self._tconv(self.mlp1_up_1, h).permute(0, 2, 1)
        if state is not None:
            h = h[:, extra:]
        h = h[..., 0::4] + h[..., 1::4] + h[..., 2::4] + h[..., 3::4]
        x = h + skip
        return self.conv_channels_mixer(self.layer_norm_1(x)) + x, new


class PipsMixer(nn.Module):
    """Linear in, 12 :class:`MixerBlock` s, LayerNorm, linear out; sequences are ``(B, frames, C)``."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 512, num_blocks: int = 12,
                 kernel: int = 3, causal: bool = False):
        super().__init__()
        self.hidden = hidden
        self.linear = nn.Linear(in_dim, hidden)
        self.layer_norm = nn.LayerNorm(hidden, elementwise_affine=True, bias=False)
        self.linear_1 = nn.Linear(hidden, out_dim)
        self.blocks = nn.ModuleList(MixerBlock(hidden, kernel, causal, i) for i in range(num_blocks))

    def forward(self, x: torch.Tensor, state: Optional[CausalState] = None
                ) -> tuple[torch.Tensor, CausalState]:
        x = self.linear(x)
        new: CausalState = {}
        for block in self.blocks:
            x, s = block(x, state)
            new.update(s)
        return self.linear_1(self.layer_norm(x)), new
