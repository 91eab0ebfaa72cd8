"""The CoTracker 3 network (offline and online variants share one architecture and state-dict layout).

Parameter names and shapes follow the official checkpoints ``scaled_offline.pth`` / ``scaled_online.pth`` so
they load with ``strict=True``; the two differ only in the length of the ``time_emb`` buffer (60 / 16).

Inside the network, points are ``(x, y)`` in pixels of the model-resolution frames (pixel centres on
integers, as in sampt) and videos are ``(B, T, 3, H, W)`` floats 0..255 at that resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------- encoder
def _inorm(x: Tensor) -> Tensor:
    return F.instance_norm(x, eps=1e-5)


class _InstanceNorm(nn.Module):
    """Instance normalisation without parameters (keeps ``downsample.1`` a parameter-free slot)."""

    def forward(self, x: Tensor) -> Tensor:
        return _inorm(x)


class _ResBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and a (strided 1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.downsample = None if stride == 1 else nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride),
                                                                 _InstanceNorm())

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(_inorm(self.conv1(x)))
        y = F.relu(_inorm(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(x + y)


class FeatureEncoder(nn.Module):
    """The per-frame CNN: four residual stages, fused at 1/``stride`` resolution into 128-d features."""

    def __init__(self, out_dim: int = 128, stride: int = 4):
        super().__init__()
        self.stride = stride
        half = out_dim // 2
        self.conv1 = nn.Conv2d(3, half, 7, stride=2, padding=3)
        dims = [half, out_dim // 4 * 3, out_dim, out_dim]
        strides = [1, 2, 2, 2]
        cin = half
        for i, (d, s) in enumerate(zip(dims, strides)):
            setattr(self, f"layer{i + 1}", nn.Sequential(_ResBlock(cin, d, s), _ResBlock(d, d, 1)))
            cin = d
        self.conv2 = nn.Conv2d(sum(dims), out_dim * 2, 3, padding=1)
        self.conv3 = nn.Conv2d(out_dim * 2, out_dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        size = (H // self.stride, W // self.stride)
        x = F.relu(_inorm(self.conv1(x)))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(F.interpolate(x, size, mode="bilinear", align_corners=True))
        x = F.relu(_inorm(self.conv2(torch.cat(feats, dim=1))))
        return self.conv3(x)


# ------------------------------------------------------------------------------------------- transformer
class _Mlp(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: Optional[int] = None, tanh_gelu: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(cin, hidden)
        self.fc2 = nn.Linear(hidden, cout or cin)
        self.approximate = "tanh" if tanh_gelu else "none"

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


class _Attention(nn.Module):
    """Multi-head attention with a fused key/value projection (``to_kv``: keys first, then values)."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 48):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner)
        self.to_kv = nn.Linear(dim, 2 * inner)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x: Tensor, context: Optional[Tensor] = None) -> Tensor:
        context = x if context is None else context
        B, N1, _ = x.shape
        N2 = context.shape[1]
        h = self.heads
        q = self.to_q(x)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        d = q.shape[-1] // h
        q = q.reshape(B, N1, h, d).transpose(1, 2)
        k = k.reshape(B, N2, h, d).transpose(1, 2)
        v = v.reshape(B, N2, h, d).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).reshape(B, N1, h * d))


class _SelfBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.attn = _Attention(dim, heads)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(F.layer_norm(x, x.shape[-1:], eps=1e-6))
        return x + self.mlp(F.layer_norm(x, x.shape[-1:], eps=1e-6))


class _CrossBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm_context = nn.LayerNorm(dim)
        self.cross_attn = _Attention(dim, heads)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        x = x + self.cross_attn(F.layer_norm(x, x.shape[-1:], eps=1e-6), self.norm_context(context))
        return x + self.mlp(F.layer_norm(x, x.shape[-1:], eps=1e-6))


class UpdateTransformer(nn.Module):
    """Alternates attention along time (per track) with attention across tracks through virtual tracks."""

    def __init__(self, input_dim: int = 1110, hidden: int = 384, heads: int = 8, depth: int = 3,
                 num_virtual: int = 64, mlp_ratio: float = 4.0):
        super().__init__()
        self.num_virtual = num_virtual
        self.virual_tracks = nn.Parameter(torch.randn(1, num_virtual, 1, hidden))  # (sic) official name
        self.input_transform = nn.Linear(input_dim, hidden)
        self.flow_head = nn.Linear(hidden, 2)
        self.vis_conf_head = nn.Linear(hidden, 2)
        self.time_blocks = nn.ModuleList([_SelfBlock(hidden, heads, mlp_ratio) for _ in range(depth)])
        self.space_virtual_blocks = nn.ModuleList([_SelfBlock(hidden, heads, mlp_ratio) for _ in range(depth)])
        self.space_point2virtual_blocks = nn.ModuleList([_CrossBlock(hidden, heads, mlp_ratio) for _ in range(depth)])
        self.space_virtual2point_blocks = nn.ModuleList([_CrossBlock(hidden, heads, mlp_ratio) for _ in range(depth)])

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(B, N, T, input_dim)`` -> ``(B, N, T, 4)``: coordinate deltas, visibility and confidence logit deltas."""
        tokens = self.input_transform(x)
        B, N, T, C = tokens.shape
        tokens = torch.cat([tokens, self.virual_tracks.expand(B, -1, T, -1)], dim=1)
        M = tokens.shape[1]
        for i in range(len(self.time_blocks)):
            tokens = self.time_blocks[i](tokens.reshape(B * M, T, C)).reshape(B, M, T, C)
            space = tokens.permute(0, 2, 1, 3).reshape(B * T, M, C)
            points, virtual = space[:, :N], space[:, N:]
            virtual = self.space_virtual2point_blocks[i](virtual, points)
            virtual = self.space_virtual_blocks[i](virtual)
            points = self.space_point2virtual_blocks[i](points, virtual)
            tokens = torch.cat([points, virtual], dim=1).reshape(B, T, M, C).permute(0, 2, 1, 3)
        tokens = tokens[:, :N]
        return torch.cat([self.flow_head(tokens), self.vis_conf_head(tokens)], dim=-1)


# ----------------------------------------------------------------------------------------------- helpers
def sincos_embedding(dim: int, positions: Tensor) -> Tensor:
    """1-D sine/cosine embedding ``(1, M, dim)`` of ``positions`` ``(M,)`` (sines then cosines)."""
    freq = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    angle = positions.double().reshape(-1, 1) * freq[None]
    return torch.cat([angle.sin(), angle.cos()], dim=1)[None].float()


def fourier_encode(x: Tensor, num_scales: int = 10) -> Tensor:
    """``x`` followed by sin/cos of ``x * 2**k`` for k < ``num_scales`` (scale-major, sines first)."""
    scales = 2.0 ** torch.arange(num_scales, dtype=x.dtype, device=x.device)
    xb = (x[..., None, :] * scales[:, None]).flatten(-2)
    return torch.cat([x, torch.sin(torch.cat([xb, xb + 0.5 * math.pi], dim=-1))], dim=-1)


def _patch_offsets(r: int, device: torch.device) -> Tensor:
    """``(2r+1, 2r+1, 2)`` ``(dx, dy)`` offsets; dx varies along the FIRST axis (the official layout)."""
    d = torch.linspace(-r, r, 2 * r + 1, device=device)
    a, b = torch.meshgrid(d, d, indexing="ij")
    return torch.stack([a, b], dim=-1)


def _sample(fmap: Tensor, xy: Tensor) -> Tensor:
    """Bilinear samples of ``fmap`` ``(B, C, H, W)`` at ``xy`` ``(B, P, Q, 2)`` pixel coordinates
    (centres on integers, border padding) -> ``(B, C, P, Q)``."""
    H, W = fmap.shape[-2:]
    scale = xy.new_tensor([2.0 / max(W - 1, 1), 2.0 / max(H - 1, 1)])
    return F.grid_sample(fmap, xy * scale - 1, mode="bilinear", padding_mode="border", align_corners=True)


# --------------------------------------------------------------------------------------------------- model
@dataclass
class OnlineState:
    """What the online model carries from one window to the next (bounded: nothing grows with the video).

    ``ind``: first frame of the next window; ``support``: per pyramid level, accumulated query features
    ``(B, N, r, r, C)``; ``prev``: the previous window's raw predictions (coords in stride units, vis and
    conf logits) for the frames the next window overlaps, or None.
    """

    ind: int = 0
    support: list = field(default_factory=list)
    prev: Optional[tuple[Tensor, Tensor, Tensor]] = None


class CoTracker3(nn.Module):
    """CoTracker 3. ``window_len`` is 60 for the offline checkpoint, 16 for the online one.

    :meth:`forward` tracks a whole video in one window (offline); :meth:`online_step` processes one sliding
    window of a stream (online). ``iters`` is the number of refinement iterations (official: 6).
    """

    def __init__(self, window_len: int = 60, stride: int = 4, corr_radius: int = 3, corr_levels: int = 4,
                 num_virtual_tracks: int = 64, model_resolution: Sequence[int] = (384, 512)):
        super().__init__()
        self.window_len = window_len
        self.stride = stride
        self.corr_radius = corr_radius
        self.corr_levels = corr_levels
        self.latent_dim = 128
        self.model_resolution = tuple(model_resolution)
        self.input_dim = 1110
        self.fnet = FeatureEncoder(self.latent_dim, stride)
        self.updateformer = UpdateTransformer(self.input_dim, 384, 8, 3, num_virtual_tracks)
        p = (2 * corr_radius + 1) ** 2
        self.corr_mlp = _Mlp(p * p, 384, 256, tanh_gelu=False)
        self.register_buffer("time_emb", sincos_embedding(self.input_dim, torch.arange(window_len)))

    # -------------------------------------------------------------- features
    def encode(self, video: Tensor, chunk: int = 8) -> list[Tensor]:
        """Normalised feature pyramid (``corr_levels`` levels of ``(B, T, C, h, w)``) of ``video`` 0..255."""
        B, T, _, H, W = video.shape
        if H % self.stride or W % self.stride:
            raise ValueError(f"frame size {H}x{W} must be divisible by the stride {self.stride}")
        frames = (2 * (video / 255.0) - 1.0).reshape(B * T, 3, H, W)
        parts = [self.fnet(frames[i:i + chunk]) for i in range(0, B * T, chunk)]
        f = torch.cat(parts, dim=0)
        norm = torch.sqrt(torch.clamp(f.square().sum(dim=1, keepdim=True), min=1e-12))
        f = f / norm
        levels = [f]
        for _ in range(self.corr_levels - 1):
            f = F.avg_pool2d(f, 2, stride=2)
            levels.append(f)
        return [lv.reshape(B, T, *lv.shape[1:]) for lv in levels]

    def query_features(self, pyramid: list[Tensor], frames: Tensor, coords: Tensor) -> list[Tensor]:
        """Per level, features ``(B, N, r, r, C)`` of the patch around each query (``frames`` ``(B, N)``
        indices into the pyramid's time axis, clamped; ``coords`` ``(B, N, 2)`` in stride units)."""
        r = self.corr_radius
        off = _patch_offsets(r, coords.device)
        out = []
        for i, fm in enumerate(pyramid):
            B, T, C, h, w = fm.shape
            N = coords.shape[1]
            t = frames.long().clamp(0, T - 1)
            fsel = fm[torch.arange(B, device=fm.device)[:, None], t]  # (B, N, C, h, w)
            xy = (coords / 2 ** i)[:, :, None, None, :] + off  # (B, N, r', r', 2)
            s = _sample(fsel.reshape(B * N, C, h, w), xy.reshape(B * N, 1, -1, 2))  # (BN, C, 1, r'^2)
            out.append(s.reshape(B, N, C, 2 * r + 1, 2 * r + 1).permute(0, 1, 3, 4, 2))
        return out

    def _corr_embedding(self, pyramid: list[Tensor], coords: Tensor, support: list[Tensor]) -> Tensor:
        """Correlation features ``(B, T, N, 256 * levels)`` of the patches around ``coords`` ``(B, T, N, 2)``."""
        B, T, N, _ = coords.shape
        r = self.corr_radius
        p = (2 * r + 1) ** 2
        off = _patch_offsets(r, coords.device).reshape(1, 1, p, 2)
        embs = []
        for i, fm in enumerate(pyramid):
            C, h, w = fm.shape[2:]
            xy = (coords / 2 ** i).reshape(B * T, N, 1, 2) + off  # (BT, N, p, 2)
            feat = _sample(fm.reshape(B * T, C, h, w), xy)  # (BT, C, N, p)
            feat = feat.reshape(B, T, C, N, p).permute(0, 1, 3, 4, 2)  # (B, T, N, p, C)
            sup = support[i].reshape(B, 1, N, p, C).transpose(-1, -2)  # (B, 1, N, C, p)
            vol = torch.matmul(feat, sup)  # (B, T, N, p, p)
            embs.append(self.corr_mlp(vol.reshape(B, T, N, p * p)))
        return torch.cat(embs, dim=-1)

    def _time_embedding(self, T: int) -> Tensor:
        if T == self.time_emb.shape[1]:
            return self.time_emb
        return F.interpolate(self.time_emb.permute(0, 2, 1), size=T, mode="linear").permute(0, 2, 1)

    def refine(self, pyramid: list[Tensor], coords: Tensor, vis: Tensor, conf: Tensor, support: list[Tensor],
               iters: int) -> tuple[Tensor, Tensor, Tensor]:
        """Run ``iters`` refinement iterations from ``coords`` ``(B, T, N, 2)`` (stride units) and logits
        ``vis`` / ``conf`` ``(B, T, N)``; returns the refined (coords in stride units, vis, conf logits)."""
        B, T, N, _ = coords.shape
        scale = coords.new_tensor([self.model_resolution[1], self.model_resolution[0]]) / self.stride
        temb = self._time_embedding(T)
        for _ in range(iters):
            corr = self._corr_embedding(pyramid, coords, support)
            fwd = F.pad(coords[:, :-1] - coords[:, 1:], (0, 0, 0, 0, 0, 1)) / scale
            bwd = F.pad(coords[:, 1:] - coords[:, :-1], (0, 0, 0, 0, 1, 0)) / scale
            rel = fourier_encode(torch.cat([fwd, bwd], dim=-1))
            x = torch.cat([vis[..., None], conf[..., None], corr, rel], dim=-1)  # (B, T, N, D)
            x = x.permute(0, 2, 1, 3) + temb[:, None]
            delta = self.updateformer(x).permute(0, 2, 1, 3)  # (B, T, N, 4)
            coords = coords + delta[..., :2]
            vis = vis + delta[..., 2]
            conf = conf + delta[..., 3]
        return coords, vis, conf

    # ---------------------------------------------------------------- offline
    def forward(self, video: Optional[Tensor], queries: Tensor, iters: int = 6,
                pyramid: Optional[list[Tensor]] = None) -> tuple[Tensor, Tensor, Tensor]:
        """Offline tracking of ``queries`` ``(B, N, 3)`` ``(t, x, y)`` through ``video`` ``(B, T, 3, H, W)``
        (0..255, model resolution), or through its precomputed :meth:`encode` ``pyramid``. Returns tracks
        ``(B, T, N, 2)`` in pixels, visibility and confidence probabilities ``(B, T, N)``."""
        if pyramid is None:
            pyramid = self.encode(video)
        B, T = pyramid[0].shape[:2]
        N = queries.shape[1]
        qcoords = queries[..., 1:3] / self.stride
        support = self.query_features(pyramid, queries[..., 0], qcoords)
        coords = qcoords[:, None].expand(B, T, N, 2).float()
        zeros = torch.zeros(B, T, N, device=queries.device)
        coords, vis, conf = self.refine(pyramid, coords, zeros, zeros, support, iters)
        return coords * self.stride, torch.sigmoid(vis), torch.sigmoid(conf)

    # ----------------------------------------------------------------- online
    def online_step(self, pyramid: list[Tensor], num_frames: int, queries: Tensor, state: OnlineState,
                    iters: int = 6, window: Optional[int] = None) -> tuple[Tensor, Tensor, Tensor]:
        """Process the sliding window that starts at frame ``state.ind`` (online mode).

        ``pyramid``: :meth:`encode` of the window's ``window`` frames (default ``window_len``); when fewer
        than ``window`` real frames remain (``num_frames``), the official online model pads the window with
        copies of its last frame, and so must the caller. ``queries`` ``(B, N, 3)`` at the model resolution
        with absolute frame indices. Returns raw predictions for the ``num_frames`` real frames: coords in
        pixels, vis and conf *logits* ``(B, num_frames, N)``; advances ``state`` by half a window.
        """
        S = window or self.window_len
        step = S // 2
        T = num_frames
        B = pyramid[0].shape[0]
        if pyramid[0].shape[1] != S or not 1 <= T <= S:
            raise ValueError(f"an online window needs {S} encoded frames and 1..{S} real ones, "
                             f"got {pyramid[0].shape[1]} and {T}")
        N = queries.shape[1]
        device = pyramid[0].device
        ind = state.ind
        qframes = queries[..., 0].long()
        qcoords = queries[..., 1:3] / self.stride
        feats = self.query_features(pyramid, qframes - ind, qcoords)
        left = 0 if ind == 0 else ind + step
        new = ((qframes >= left) & (qframes < ind + T)).float()[:, :, None, None, None]
        if not state.support:
            state.support = [torch.zeros_like(f) for f in feats]
        state.support = [acc + f * new for acc, f in zip(state.support, feats)]
        active = (qframes < ind + S).float()[:, :, None, None, None]
        support = [s * active for s in state.support]

        coords = qcoords[:, None].expand(B, S, N, 2).float()
        vis = torch.zeros(B, S, N, device=device)
        conf = torch.zeros(B, S, N, device=device)
        if state.prev is not None:
            pc, pv, pf = state.prev  # frames ind .. ind + k - 1 of the previous window
            k = pc.shape[1]
            copy = (qframes < ind + (S - step))[:, None, :]  # (B, 1, N)
            pc = torch.cat([pc, pc[:, -1:].expand(B, S - k, N, 2)], dim=1)
            pv = torch.cat([pv, pv[:, -1:].expand(B, S - k, N)], dim=1)
            pf = torch.cat([pf, pf[:, -1:].expand(B, S - k, N)], dim=1)
            coords = torch.where(copy[..., None], pc, coords)
            vis = torch.where(copy, pv, vis)
            conf = torch.where(copy, pf, conf)
        coords, vis, conf = self.refine(pyramid, coords, vis, conf, support, iters)
        coords, vis, conf = coords[:, :T], vis[:, :T], conf[:, :T]
        # the next window starts `step` frames later and begins from this one's frames step .. T-1
        state.prev = (coords[:, step:], vis[:, step:], conf[:, step:]) if T > step else None
        state.ind = ind + step
        return coords * self.stride, vis, conf
