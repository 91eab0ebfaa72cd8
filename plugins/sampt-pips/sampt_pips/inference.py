"""Long-video inference loops of PIPS and PIPS++, on per-frame feature maps.

* :func:`pips_chain`: the official ``chain_demo.py`` re-anchoring chain. Each point is tracked through
  8-frame windows (the last one padded by repeating the final frame); the next window starts at the
  last frame of the current one whose visibility probability exceeds 0.9 (lowered by 0.02 whenever no
  frame 2..7 qualifies), from the point's position there, with the point's first feature reused.
  The official code runs one point at a time; here all points whose windows start on the same frame
  run in one call, which gives the same result because PIPS treats points independently.
* :func:`pips2_windows`: the official ``test_on_*.py`` window loop of PIPS++: windows of ``window``
  frames overlapping by one frame (the last one shifted back to end at the last frame), initialised
  with the current trajectories (zero velocity past the known part) and the previous window's
  features.

Both take ``fetch(indices) -> (1, len, C, h, w)`` feature maps, so the same code runs forward, on the
reversed video, and on a sub-range starting at a query frame; frames are encoded once and cached.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

Fetch = Callable[[Sequence[int]], torch.Tensor]


class FrameFeatures:
    """Feature maps of a video's frames, computed on demand in small batches and cached.

    ``frames`` (T, H, W, 3) uint8 RGB are resized to ``size`` (H', W') with bilinear interpolation
    (corners not aligned, no antialiasing: the official demos' ``F.interpolate``) before encoding.
    At most ``capacity`` frames are kept; the oldest are dropped first.
    """

    def __init__(self, encode: Callable[[torch.Tensor], torch.Tensor], frames: np.ndarray,
                 size: Optional[tuple[int, int]], device: torch.device, batch: int = 8, capacity: int = 16,
                 dtype: torch.dtype = torch.float32):
        self.encode = encode
        self.dtype = dtype
        self.frames = frames
        self.size = size
        self.device = device
        self.batch = max(1, batch)
        self.capacity = max(capacity, 1)
        self.cache: "OrderedDict[int, torch.Tensor]" = OrderedDict()
        self.encoded = 0

    def _load(self, idx: Sequence[int]) -> torch.Tensor:
        rgb = torch.from_numpy(np.ascontiguousarray(self.frames[list(idx)])).to(self.device)
        rgb = rgb.permute(0, 3, 1, 2).to(self.dtype)
        if self.size is not None and tuple(rgb.shape[-2:]) != tuple(self.size):
            rgb = F.interpolate(rgb, self.size, mode="bilinear", align_corners=False)
        return rgb

    def get(self, indices: Sequence[int]) -> torch.Tensor:
        """Feature maps of frames ``indices`` (repeats allowed): (1, len, C, h, w)."""
        indices = [int(i) for i in indices]
        missing = [i for i in dict.fromkeys(indices) if i not in self.cache]
        for k in range(0, len(missing), self.batch):
            chunk = missing[k:k + self.batch]
            fm = self.encode(self._load(chunk)[None])[0]
            self.encoded += len(chunk)
            for i, f in zip(chunk, fm):
                self.cache[i] = f
        out = torch.stack([self.cache[i] for i in indices])[None]
        keep = set(indices)
        while len(self.cache) > self.capacity:
            old = next((k for k in self.cache if k not in keep), None)
            if old is None:
                break
            del self.cache[old]
        return out


def next_anchor(prob: torch.Tensor, thr: float = 0.9, step: float = 0.02) -> int:
    """The official anchor search: from frame 7 down to 2, the first frame whose visibility probability
    is above ``thr``; if none, lower ``thr`` by ``step`` and search again. ``prob``: (8,) float32."""
    last = prob.shape[0] - 1
    si = last
    while True:
        if bool(prob[si] > thr):
            return si
        si -= 1
        if si == 1:
            thr -= step
            si = last
            if thr < -1.0:  # only with NaN probabilities
                return last


def pips_chain(model, fetch: Fetch, T: int, start: np.ndarray, xy: torch.Tensor, iters: int = 6,
               anchor_threshold: float = 0.9, max_points: int = 256
               ) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
    """Track points ``xy`` (N, 2) (model input pixels) from frames ``start`` (N,) to the end of a
    ``T``-frame sequence with the re-anchoring chain.

    Returns positions (T, N, 2) and visibility logits (T, N) (zeros before each start) and each point's
    window starts.
    """
    S = model.S
    N = xy.shape[0]
    device = xy.device
    traj = torch.zeros((T, N, 2), dtype=xy.dtype, device=device)
    vis = torch.zeros((T, N), dtype=xy.dtype, device=device)
    cur = np.asarray(start, np.int64).copy()
    traj[cur, torch.arange(N)] = xy
    feats: list[Optional[torch.Tensor]] = [None] * N
    anchors: list[list[int]] = [[] for _ in range(N)]
    active = cur < T
    while active.any():
        c = int(cur[active].min())
        group = np.flatnonzero(active & (cur == c))
        S_local = min(S, T - c)
        window = [min(c + k, T - 1) for k in range(S)]  # padded by repeating the last frame
        fmaps = fetch(window)
        for k in range(0, len(group), max_points):
            idx = group[k:k + max_points]
            tidx = torch.as_tensor(idx, device=device)
            xys = traj[c, tidx][None]  # 1, n, 2
            known = [feats[i] for i in idx]
            if all(f is None for f in known):
                feat_init = None
            else:
                fresh = model.point_features(fmaps[:, 0], xys)[0]
                feat_init = torch.stack([f if f is not None else fresh[j] for j, f in enumerate(known)])[None]
            out = model(xys, fmaps=fmaps, iters=iters, feat_init=feat_init)
            traj[c:c + S_local, tidx] = out.coords[-1][0, :S_local] if out.coords else xys[0]
            vis[c:c + S_local, tidx] = out.vis[0, :S_local]
            prob = torch.sigmoid(out.vis[0]).cpu()
            for j, i in enumerate(idx):
                feats[i] = out.feat_init[0, j]
                anchors[i].append(c)
                cur[i] = c + next_anchor(prob[:, j], anchor_threshold)
        active = cur < T
    return traj, vis, anchors


def pips2_windows(model, fetch: Fetch, T: int, xy: torch.Tensor, iters: int = 16, window: int = 128,
                  beautify: bool = False, max_points: int = 256) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Track points ``xy`` (N, 2) (model input pixels, on frame 0) through a ``T``-frame sequence with
    the PIPS++ window loop. Returns positions (T, N, 2) and the windows used."""
    N = xy.shape[0]
    trajs = xy[None].repeat(T, 1, 1)
    if T < 2 or N == 0:
        return trajs, [(0, T)]
    window = max(2, int(window))
    windows = []
    cur, feats = 0, None
    while True:
        end = cur + window
        if end > T:
            cur = max(cur - (end - T), 0)
            end = T
        windows.append((cur, end))
        fmaps = fetch(range(cur, end))
        S_local = end - cur
        new_feats = []
        for k in range(0, N, max_points):
            sl = slice(k, k + max_points)
            feat_init = None if feats is None else [f[:, :S_local, sl] for f in feats]
            out = model(trajs[cur:end, sl][None], fmaps=fmaps, iters=iters, feat_init=feat_init, beautify=beautify)
            trajs[cur:end, sl] = out.coords[-1][0, :S_local]
            new_feats.append(out.feats)
        feats = [torch.cat([nf[i] for nf in new_feats], dim=2) for i in range(3)]
        trajs[end:] = trajs[end - 1:end]
        if end >= T:
            break
        cur = cur + window - 1
    return trajs, windows
