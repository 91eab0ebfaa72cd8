"""CoTracker 2 network (Karaev et al., "CoTracker: It is Better to Track Together"), checkpoint-compatible
with the official ``cotracker2.pth`` / ``cotracker2v1.pth`` files, plus the building blocks that CoTracker 1
shares with it (:mod:`sampt_cotracker.model_v1` imports them from here).

All coordinates inside the network are pixels of the model-resolution video (384x512 by default) with pixel
centres on integers (``align_corners=True`` sampling); the tracker modules convert at their boundary.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

LATENT_DIM = 128
INPUT_DIM = 456
HIDDEN_SIZE = 384
CORR_LEVELS = 4
CORR_RADIUS = 3


# --------------------------------------------------------------------------------------------------
# Embeddings and sampling
# --------------------------------------------------------------------------------------------------
def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """Sine/cosine embedding ``(M, dim)`` (float64) of ``positions`` (any shape, flattened to ``M``):
    the first half sines, the second half cosines, frequencies ``10000 ** (-k / (dim / 2))``."""
    half = dim // 2
    omega = 1.0 / 10000 ** (torch.arange(half, dtype=torch.float64) / (dim / 2.0))
    angles = positions.reshape(-1).to(torch.float64)[:, None] * omega[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_2d_grid(dim: int, height: int, width: int) -> torch.Tensor:
    """The ``(1, dim, height, width)`` float32 positional embedding of a feature grid: the first ``dim/2``
    channels embed the column (x), the other half the row (y)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    emb = torch.cat([sincos_1d(dim // 2, xs), sincos_1d(dim // 2, ys)], dim=1)  # (H*W, dim)
    return emb.float().reshape(1, height, width, dim).permute(0, 3, 1, 2).contiguous()


def flow_embedding(xy: torch.Tensor, channels: int = 64) -> torch.Tensor:
    """Embed displacements ``xy`` ``(B, N, 2)`` as ``[x, y, enc(x), enc(y)]``, each ``enc`` interleaving
    sines (even channels) and cosines (odd channels) at frequencies ``k * 1000 / channels``."""
    freq = torch.arange(0, channels, 2, device=xy.device, dtype=torch.float32) * (1000.0 / channels)
    parts = [xy]
    for c in range(2):
        ang = xy[..., c : c + 1] * freq
        parts.append(torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).flatten(-2))
    return torch.cat(parts, dim=-1)


def grid_sample_px(inp: torch.Tensor, coords: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """``grid_sample`` with pixel coordinates (pixel centres on integers, ``align_corners=True``).

    ``inp`` ``(B, C, H, W)`` with ``coords`` ``(B, ..., 2)`` as ``(x, y)``, or ``(B, C, T, H, W)`` with
    ``coords`` ``(B, ..., 3)`` as ``(t, x, y)``.
    """
    sizes = inp.shape[2:]
    if len(sizes) == 3:
        coords = coords[..., [1, 2, 0]]
    scale = torch.tensor([2 / max(s - 1, 1) for s in reversed(sizes)], device=coords.device, dtype=coords.dtype)
    grid = coords * scale - 1
    return F.grid_sample(inp, grid, align_corners=True, padding_mode=padding_mode)


def sample_at(fmap: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample ``fmap`` ``(B, C, H, W)`` at ``xy`` ``(B, N, 2)`` (clamped to the border): ``(B, N, C)``."""
    out = grid_sample_px(fmap, xy[:, :, None], padding_mode="border")  # B C N 1
    return out[..., 0].permute(0, 2, 1)


# --------------------------------------------------------------------------------------------------
# Feature encoder (identical in CoTracker 1 and 2)
# --------------------------------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and a (strided 1x1) shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.norm1 = nn.InstanceNorm2d(planes)
        self.norm2 = nn.InstanceNorm2d(planes)
        self.downsample = None
        if stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride),
                                            nn.InstanceNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class BasicEncoder(nn.Module):
    """The CNN that turns a frame into a ``latent``-channel map at 1/``stride`` resolution."""

    def __init__(self, latent: int = LATENT_DIM, stride: int = 4):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.norm1 = nn.InstanceNorm2d(64)
        self.relu1 = nn.ReLU(inplace=True)
        dims, strides, in_planes = (64, 96, 128, 128), (1, 2, 2, 2), 64
        for i, (d, s) in enumerate(zip(dims, strides)):
            setattr(self, f"layer{i + 1}", nn.Sequential(ResidualBlock(in_planes, d, s), ResidualBlock(d, d, 1)))
            in_planes = d
        self.conv2 = nn.Conv2d(sum(dims), latent * 2, kernel_size=3, padding=1)
        self.norm2 = nn.InstanceNorm2d(latent * 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(latent * 2, latent, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        x = self.relu1(self.norm1(self.conv1(x)))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        size = (H // self.stride, W // self.stride)
        x = torch.cat([F.interpolate(f, size, mode="bilinear", align_corners=True) for f in feats], dim=1)
        return self.conv3(self.relu2(self.norm2(self.conv2(x))))


def encode_frames(fnet: nn.Module, frames: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """Run ``fnet`` over ``(T, 3, H, W)`` frames (already in [-1, 1]) in chunks; returns ``(T, C, h, w)``."""
    return torch.cat([fnet(frames[i : i + chunk]) for i in range(0, len(frames), chunk)], dim=0)


class Mlp(nn.Module):
    """Two linear layers with a tanh-approximated GELU between."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


# --------------------------------------------------------------------------------------------------
# Correlation pyramid
# --------------------------------------------------------------------------------------------------
class CorrPyramid:
    """Correlation volumes between track features and a window's feature maps, at 4 scales, sampled in a
    ``(2r+1)^2`` neighbourhood around each point."""

    def __init__(self, fmaps: torch.Tensor, levels: int = CORR_LEVELS, radius: int = CORR_RADIUS,
                 padding_mode: str = "border"):
        B, S, C, H, W = fmaps.shape
        self.levels, self.radius, self.padding_mode = levels, radius, padding_mode
        self.pyramid = [fmaps]
        for _ in range(levels - 1):
            f = F.avg_pool2d(fmaps.reshape(B * S, C, H, W), 2, stride=2)
            H, W = f.shape[-2:]
            fmaps = f.reshape(B, S, C, H, W)
            self.pyramid.append(fmaps)
        self.corrs: list[torch.Tensor] = []

    def correlate(self, targets: torch.Tensor) -> None:
        """``targets`` ``(B, S, N, C)`` against every level: ``(B, S, N, h, w)`` volumes."""
        B, S, N, C = targets.shape
        self.corrs = []
        for fmaps in self.pyramid:
            h, w = fmaps.shape[-2:]
            corr = torch.matmul(targets, fmaps.view(B, S, C, h * w))
            self.corrs.append(corr.view(B, S, N, h, w) / torch.sqrt(torch.tensor(C).float()))

    def sample(self, coords: torch.Tensor) -> torch.Tensor:
        """Neighbourhoods around ``coords`` ``(B, S, N, 2)``: ``(B, S, N, levels*(2r+1)^2)``.

        The neighbourhood index is ``i * (2r+1) + j`` with x offset ``i - r`` and y offset ``j - r``.
        """
        r = self.radius
        B, S, N, _ = coords.shape
        d = torch.linspace(-r, r, 2 * r + 1, device=coords.device)
        delta = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1)  # (2r+1, 2r+1, 2): (dx=i, dy=j)
        out = []
        for i, corr in enumerate(self.corrs):
            h, w = corr.shape[-2:]
            pts = coords.reshape(B * S * N, 1, 1, 2) / 2**i + delta.view(1, 2 * r + 1, 2 * r + 1, 2)
            sampled = grid_sample_px(corr.reshape(B * S * N, 1, h, w), pts, padding_mode=self.padding_mode)
            out.append(sampled.view(B, S, N, -1))
        return torch.cat(out, dim=-1)


# --------------------------------------------------------------------------------------------------
# CoTracker 2 transformer
# --------------------------------------------------------------------------------------------------
class Attention(nn.Module):
    """Multi-head (cross-)attention with separate query and key/value projections and an additive bias."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 48):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_q = nn.Linear(dim, inner)
        self.to_kv = nn.Linear(dim, inner * 2)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None,
                attn_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, N1, C = x.shape
        h = self.heads
        context = x if context is None else context
        N2 = context.shape[1]
        q = self.to_q(x).reshape(B, N1, h, C // h).permute(0, 2, 1, 3)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        k = k.reshape(B, N2, h, C // h).permute(0, 2, 1, 3)
        v = v.reshape(B, N2, h, C // h).permute(0, 2, 1, 3)
        sim = (q @ k.transpose(-2, -1)) * self.scale
        if attn_bias is not None:
            sim = sim + attn_bias
        out = (sim.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, N1, C)
        return self.to_out(out)


class SelfAttnBlock(nn.Module):
    """Pre-norm self-attention + MLP block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CrossAttnBlock(nn.Module):
    """Pre-norm cross-attention (queries ``x``, keys/values ``context``) + MLP block.

    ``mask`` ``(B, L)`` marks the active point tokens; it masks the queries when ``L`` equals the number
    of queries, else the context (the official code decides by that length alone, kept here).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.norm_context = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        bias = None
        if mask is not None:
            heads = self.cross_attn.heads
            if mask.shape[1] == x.shape[1]:
                m = mask[:, None, :, None].expand(-1, heads, -1, context.shape[1])
            else:
                m = mask[:, None, None].expand(-1, heads, x.shape[1], -1)
            bias = (~m) * -torch.finfo(x.dtype).max
        x = x + self.cross_attn(self.norm1(x), context=self.norm_context(context), attn_bias=bias)
        return x + self.mlp(self.norm2(x))


class EfficientUpdateFormer(nn.Module):
    """Alternating time attention (along each track) and space attention through virtual tracks."""

    def __init__(self, depth: int = 6, input_dim: int = INPUT_DIM, hidden: int = HIDDEN_SIZE, heads: int = 8,
                 output_dim: int = LATENT_DIM + 2, num_virtual_tracks: int = 64):
        super().__init__()
        self.num_virtual_tracks = num_virtual_tracks
        # (sic) the official parameter name
        self.virual_tracks = nn.Parameter(torch.randn(1, num_virtual_tracks, 1, hidden))
        self.input_transform = nn.Linear(input_dim, hidden)
        self.flow_head = nn.Linear(hidden, output_dim)
        self.time_blocks = nn.ModuleList([SelfAttnBlock(hidden, heads) for _ in range(depth)])
        self.space_virtual_blocks = nn.ModuleList([SelfAttnBlock(hidden, heads) for _ in range(depth)])
        self.space_point2virtual_blocks = nn.ModuleList([CrossAttnBlock(hidden, heads) for _ in range(depth)])
        self.space_virtual2point_blocks = nn.ModuleList([CrossAttnBlock(hidden, heads) for _ in range(depth)])

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x`` ``(B, N, T, D)`` tokens, ``mask`` ``(B*T, N)`` active points; returns ``(B, N, T, out)``."""
        tokens = self.input_transform(x)
        B, N, T, C = tokens.shape
        V = self.num_virtual_tracks
        tokens = torch.cat([tokens, self.virual_tracks.repeat(B, 1, T, 1)], dim=1)
        every = len(self.time_blocks) // len(self.space_virtual_blocks)
        j = 0
        for i, block in enumerate(self.time_blocks):
            tokens = block(tokens.reshape(B * (N + V), T, C)).view(B, N + V, T, C)
            if i % every == 0:
                space = tokens.permute(0, 2, 1, 3).reshape(B * T, N + V, C)
                points, virtual = space[:, :N], space[:, N:]
                virtual = self.space_virtual2point_blocks[j](virtual, points, mask=mask)
                virtual = self.space_virtual_blocks[j](virtual)
                points = self.space_point2virtual_blocks[j](points, virtual, mask=mask)
                tokens = torch.cat([points, virtual], dim=1).view(B, T, N + V, C).permute(0, 2, 1, 3)
                j += 1
        return self.flow_head(tokens[:, :N])


# --------------------------------------------------------------------------------------------------
# Frame sources: the video the model reads, window by window
# --------------------------------------------------------------------------------------------------
class FrameSource:
    """Frames ``(n, 3, h, w)`` float 0..255 at model resolution, read window by window.

    ``get(indices)`` returns the frames at those indices (of the original order). A tensor source keeps a
    ``(B=1, T, 3, h, w)`` video; subclasses resize on demand.
    """

    def __init__(self, video: torch.Tensor):
        if video.dim() == 5:
            if video.shape[0] != 1:
                raise ValueError("only batch size 1 is supported")
            video = video[0]
        self.video = video

    def __len__(self) -> int:
        return int(self.video.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.video.shape[-2]), int(self.video.shape[-1])

    def get(self, indices: Sequence[int]) -> torch.Tensor:
        return self.video[list(indices)]

    def key(self, index: int) -> int:
        """An identifier of the frame at ``index``, shared by sources serving the same frames."""
        return int(index)


VideoLike = Union[torch.Tensor, FrameSource]


class FeatureCache:
    """Encoded frames (``fnet`` of ``2*(x/255)-1``), computed on first use.

    Without a ``store`` the frames before the current window are forgotten (memory bounded by a window);
    with one (a dict shared between calls, keyed by :meth:`FrameSource.key`) every frame is kept, so a
    second pass over the same frames (the backward pass) does not encode them again.
    """

    def __init__(self, fnet: nn.Module, source: FrameSource, device: torch.device,
                 store: Optional[dict] = None):
        self.fnet, self.source, self.device = fnet, source, device
        self.keep = store is not None
        self.cache: dict = store if store is not None else {}

    def window(self, indices: Sequence[int]) -> torch.Tensor:
        """Feature maps ``(len(indices), C, h, w)`` of the frames at ``indices``."""
        keys = [self.source.key(i) for i in indices]
        need = sorted({(k, i) for k, i in zip(keys, indices) if k not in self.cache})
        if need:
            frames = self.source.get([i for _, i in need]).to(self.device, torch.float32)
            feats = encode_frames(self.fnet, 2 * (frames / 255.0) - 1.0)
            self.cache.update({k: f for (k, _), f in zip(need, feats)})
        if not self.keep:  # windows only move forward: frames outside this one are not needed again
            current = set(keys)
            for k in [k for k in self.cache if k not in current]:
                del self.cache[k]
        return torch.stack([self.cache[k] for k in keys])


# --------------------------------------------------------------------------------------------------
# CoTracker 2
# --------------------------------------------------------------------------------------------------
class CoTracker2(nn.Module):
    """CoTracker 2: sliding windows of ``window_len`` frames (step ``window_len // 2``), stride-4 features."""

    def __init__(self, window_len: int = 8, stride: int = 4, num_virtual_tracks: int = 64,
                 model_resolution: tuple[int, int] = (384, 512)):
        super().__init__()
        self.window_len = window_len
        self.stride = stride
        self.model_resolution = tuple(model_resolution)
        self.register_buffer("time_emb", sincos_1d(INPUT_DIM, torch.arange(window_len)).float()[None])
        self.register_buffer("pos_emb", sincos_2d_grid(INPUT_DIM, model_resolution[0] // stride,
                                                       model_resolution[1] // stride))
        self.fnet = BasicEncoder(LATENT_DIM, stride)
        self.updateformer = EfficientUpdateFormer(num_virtual_tracks=num_virtual_tracks)
        self.norm = nn.GroupNorm(1, LATENT_DIM)
        self.track_feat_updater = nn.Sequential(nn.Linear(LATENT_DIM, LATENT_DIM), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(LATENT_DIM, 1))

    def forward_window(self, fmaps: torch.Tensor, coords: torch.Tensor, track_feat: torch.Tensor,
                       vis: torch.Tensor, track_mask: torch.Tensor, attention_mask: torch.Tensor,
                       iters: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine one window. ``fmaps`` ``(B, S, C, h, w)``, ``coords`` ``(B, S, N, 2)`` (feature pixels),
        ``track_feat`` ``(B, S, N, C)``, ``vis`` / ``track_mask`` ``(B, S, N, 1)``, ``attention_mask``
        ``(B, S, N)``. Returns final coords (model pixels) and visibility logits ``(B, S, N)``."""
        B, S, N, _ = coords.shape
        mask_vis = torch.cat([track_mask, vis], dim=-1).permute(0, 2, 1, 3).reshape(B * N, S, 2)
        corr = CorrPyramid(fmaps, padding_mode="border")
        pos = sample_at(self.pos_emb.repeat(B, 1, 1, 1), coords[:, 0]).reshape(B * N, 1, INPUT_DIM)
        for _ in range(iters):
            coords = coords.detach()
            corr.correlate(track_feat)
            fcorrs = corr.sample(coords).permute(0, 2, 1, 3).reshape(B * N, S, -1)
            flows = (coords - coords[:, 0:1]).permute(0, 2, 1, 3).reshape(B * N, S, 2)
            feat_ = track_feat.permute(0, 2, 1, 3).reshape(B * N, S, LATENT_DIM)
            x = torch.cat([flow_embedding(flows, 64), fcorrs, feat_, mask_vis], dim=2) + pos + self.time_emb
            delta = self.updateformer(x.view(B, N, S, -1), attention_mask.reshape(B * S, N))
            coords = coords + delta[..., :2].permute(0, 2, 1, 3)
            dfeat = delta[..., 2:].reshape(B * N * S, LATENT_DIM)
            feat_ = track_feat.permute(0, 2, 1, 3).reshape(B * N * S, LATENT_DIM)
            feat_ = self.track_feat_updater(self.norm(dfeat)) + feat_
            track_feat = feat_.reshape(B, N, S, LATENT_DIM).permute(0, 2, 1, 3)
        vis_logits = self.vis_predictor(track_feat).reshape(B, S, N)
        return coords * self.stride, vis_logits

    def forward(self, video: VideoLike, queries: torch.Tensor, iters: int = 4,
                feature_store: Optional[dict] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Track ``queries`` ``(1, N, 3)`` ``(t, x, y)`` (model pixels) through ``video`` (``(1, T, 3, h, w)``
        float 0..255 at model resolution, or a :class:`FrameSource`). ``feature_store``: see
        :class:`FeatureCache`.

        Returns ``tracks`` ``(1, T, N, 2)`` in model pixels and ``visibility`` ``(1, T, N)`` probabilities.
        Windows that would run past the last frame read it repeatedly (the official padding).
        """
        source = video if isinstance(video, FrameSource) else FrameSource(video)
        T = len(source)
        device = queries.device
        B, N, _ = queries.shape
        S = self.window_len
        step = S // 2
        if S < 2 or B != 1:
            raise ValueError("CoTracker 2 needs a window of at least 2 frames and batch size 1")
        q_frames = queries[:, :, 0].long()
        q_coords = queries[..., 1:] / self.stride
        tracks = torch.zeros((B, T, N, 2), device=device)
        vis_logits = torch.zeros((B, T, N), device=device)
        feats = FeatureCache(self.fnet, source, device, feature_store)
        track_feat = torch.zeros((B, N, LATENT_DIM), device=device)
        sampled = torch.zeros(N, dtype=torch.bool, device=device)
        num_windows = (T - S + step - 1) // step + 1
        coords_init = q_coords.reshape(B, 1, N, 2).expand(B, S, N, 2).float()
        vis_init = torch.ones((B, S, N, 1), device=device) * 10
        overlap = S - step
        for ind in range(0, step * num_windows, step):
            frame_idx = [min(i, T - 1) for i in range(ind, ind + S)]
            fmaps = feats.window(frame_idx)[None]  # B S C h w
            # features of queries whose frame lies in this window, sampled once
            new = (~sampled) & (q_frames[0] >= ind) & (q_frames[0] < ind + S)
            if new.any():
                idx = torch.nonzero(new)[:, 0]
                f = fmaps[0, q_frames[0, idx] - ind]  # n C h w
                xy = q_coords[0, idx]
                track_feat[0, idx] = sample_at(f, xy[:, None])[:, 0]
                sampled |= new
            if ind > 0:
                copy = (q_frames < ind + overlap)[:, None, :, None]
                prev = tracks[:, ind : ind + overlap] / self.stride
                prev = torch.cat([prev, prev[:, -1:].expand(B, step, N, 2)], dim=1)
                prev_vis = vis_logits[:, ind : ind + overlap, :, None]
                prev_vis = torch.cat([prev_vis, prev_vis[:, -1:].expand(B, step, N, 1)], dim=1)
                coords_init = torch.where(copy.expand_as(coords_init), prev, coords_init)
                vis_init = torch.where(copy.expand_as(vis_init), prev_vis, vis_init)
            attention_mask = (q_frames < ind + S).reshape(B, 1, N).repeat(1, S, 1)
            track_mask = (q_frames[:, None, :, None]
                          <= torch.arange(ind, ind + S, device=device)[None, :, None, None]).contiguous()
            if ind > 0:
                track_mask[:, :overlap] = False
            coords, vis = self.forward_window(
                fmaps, coords_init, attention_mask.unsqueeze(-1) * track_feat[:, None].expand(B, S, N, LATENT_DIM),
                vis_init, track_mask, attention_mask, iters)
            n = min(T - ind, S)
            tracks[:, ind : ind + n] = coords[:, :n]
            vis_logits[:, ind : ind + n] = vis[:, :n]
        return tracks, torch.sigmoid(vis_logits)
