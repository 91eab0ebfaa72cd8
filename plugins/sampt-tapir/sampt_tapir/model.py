"""The TAPIR / BootsTAPIR network (PyTorch), checkpoint-compatible with google-deepmind/tapnet's
``tapnet/torch`` release (``tapir_checkpoint_panning.pt``, ``bootstapir_checkpoint_v2.pt``,
``causal_bootstapir_checkpoint.pt``).

Conventions (the model's own, converted by the trackers at their boundary):
    * video ``(B, T, H, W, 3)`` float in ``[-1, 1]``, channels last;
    * query points ``(B, N, 3)`` ``(t, y, x)`` in raster pixels of the video (pixel ``k`` spans
      ``[k, k + 1]``, its centre is ``k + 0.5``);
    * tracks ``(B, N, T, 2)`` ``(x, y)`` in the same raster pixels; occlusion / expected-distance logits
      ``(B, N, T)`` (higher: more likely occluded / far from the truth).

Two memory bounds that do not change the result: the encoder runs on ``feature_chunk`` frames at a time,
and the cost-volume head and the PIPs correlations run on ``frame_chunk`` frames at a time once a query
chunk times its frames exceeds ``cells_per_chunk``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sampt_tapir.model_blocks import CausalState, ExtraConvs, PipsMixer, ResNet

HIRES_DIM = 128
LOWRES_DIM = 256
NUM_MIXER_BLOCKS = 12


@dataclass
class FeatureGrids:
    """Unit-normalised per-frame features: ``lowres[i]`` ``(B, T, h/8, w/8, 256)``, ``hires[i]``
    ``(B, T, h/4, w/4, 128)`` for each resolution ``resolutions[i]`` (the first is the cost-volume
    initialisation, then one per PIPs refinement level)."""

    lowres: tuple[torch.Tensor, ...]
    hires: tuple[torch.Tensor, ...]
    resolutions: tuple[tuple[int, int], ...]


@dataclass
class QueryFeatures:
    """Features sampled at the query points: ``lowres[i]`` ``(B, N, 256)``, ``hires[i]`` ``(B, N, 128)``."""

    lowres: tuple[torch.Tensor, ...]
    hires: tuple[torch.Tensor, ...]
    resolutions: tuple[tuple[int, int], ...]


def scale_coords(x: torch.Tensor, src: Sequence[int], dst: Sequence[int]) -> torch.Tensor:
    """Pure rescaling between grids: ``x * dst / src`` (per last-axis component)."""
    dst_t = torch.tensor(tuple(int(v) for v in dst), device=x.device)
    src_t = torch.tensor(tuple(int(v) for v in src), device=x.device)
    return x * dst_t / src_t


def default_resolutions(full: Sequence[int], train: Sequence[int]) -> list[tuple[int, int]]:
    """Refinement resolutions from ``train`` up to ``full``, log-spaced, each a multiple of 8 (as tapnet)."""
    full, train = tuple(int(v) for v in full[:2]), tuple(int(v) for v in train[:2])
    if full == train:
        return [train]
    levels = int(np.ceil(np.max(np.log2(np.array(full) / np.array(train)))) + 1)
    if levels <= 1:
        return [train]
    (h, w), (h0, w0) = full, train
    return [(int(round((h0 * (h / h0) ** (i / (levels - 1))) // 8)) * 8,
             int(round((w0 * (w / w0) ** (i / (levels - 1))) // 8)) * 8) for i in range(levels)]


def resize_video(video: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear (corners not aligned) resize of a ``(B, T, H, W, C)`` video to ``size`` ``(h, w)``."""
    b, t, h, w, c = video.shape
    x = video.permute(0, 1, 4, 2, 3).reshape(b, t * c, h, w)
    x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
    return x.reshape(b, t, c, *x.shape[-2:]).permute(0, 1, 3, 4, 2)


def unit_normalise(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(torch.maximum(torch.sum(torch.square(x), dim=-1, keepdim=True),
                                        torch.tensor(1e-12, device=x.device)))


def sample_query_features(grid: torch.Tensor, tyx: torch.Tensor) -> torch.Tensor:
    """Trilinear sample of ``grid`` ``(B, T, h, w, C)`` at ``tyx`` ``(B, N, 3)`` (frame index, raster
    y, x in grid cells); frames are sampled at their centre ``t + 0.5``; borders are clamped."""
    x = grid.permute(0, 4, 1, 2, 3)
    pos = tyx[:, :, None, None, :].float().clone()
    pos[..., 0] += 0.5
    pos = 2 * (pos / torch.tensor(x.shape[2:], device=pos.device)) - 1
    pos = torch.flip(pos, dims=(-1,))
    out = F.grid_sample(x, pos, mode="bilinear", align_corners=False, padding_mode="border")
    return out.squeeze(dim=(3, 4)).permute(0, 2, 1)


def sample_neighbourhoods(grid: torch.Tensor, yx: torch.Tensor) -> torch.Tensor:
    """Bilinear sample of ``grid`` ``(B, T, h, w, C)`` at ``yx`` ``(B, N, T, S, 2)`` (raster y, x in grid
    cells), zeros outside; returns ``(B, N, T, S, C)``. As tapnet, both coordinates are normalised by
    the grid height."""
    b, t, h, w, c = grid.shape
    x = grid.permute(0, 1, 4, 2, 3).reshape(b * t, c, h, w)
    _, n, _, s, _ = yx.shape
    pos = yx.permute(0, 2, 1, 3, 4).reshape(b * t, n, s, 2)
    pos = torch.flip(2 * (pos / h) - 1, dims=(-1,)).float()
    out = F.grid_sample(x, pos, mode="bilinear", align_corners=False, padding_mode="zeros")
    return out.permute(0, 2, 3, 1).reshape(b, t, n, s, c).permute(0, 2, 1, 3, 4)


def soft_argmax(heatmaps: torch.Tensor, radius: float = 5.0) -> torch.Tensor:
    """``(B, N, T, h, w)`` probabilities -> ``(B, N, T, 2)`` (x, y) in cells (centres at +0.5): the mean
    position over the cells within ``radius`` of the argmax, weighted by probability."""
    b, n, t, h, w = heatmaps.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=heatmaps.device), torch.arange(w, device=heatmaps.device),
                            indexing="ij")
    cells = torch.stack([xs + 0.5, ys + 0.5], dim=-1)
    best = cells.reshape(-1, 2)[torch.argmax(heatmaps.reshape(b, n, t, -1), dim=-1)]
    near = torch.sum(torch.square(cells[None, None, None] - best[:, :, :, None, None]), dim=-1,
                     keepdim=True) < radius ** 2
    weights = near * heatmaps[..., None]
    total = torch.sum(cells[None, None, None] * weights, dim=(3, 4))
    mass = torch.maximum(torch.sum(weights, dim=(3, 4)), torch.tensor(1e-12, device=heatmaps.device))
    return total / mass


class TAPIR(nn.Module):
    """TAPIR (``pyramid_level=0, extra_convs=False``), BootsTAPIR (``pyramid_level=1, extra_convs=True``)
    and online BootsTAPIR (additionally ``causal=True``: the mixer's temporal convs see only the past).

    ``softmax_temperature`` 20 and 4 PIPs iterations per refinement level are the torch release's
    settings. ``feature_chunk`` is the encoder's frame chunk (tapnet's ``feature_extractor_chunk_size``).
    """

    def __init__(self, pyramid_level: int = 1, extra_convs: bool = True, causal: bool = False,
                 softmax_temperature: float = 20.0, num_pips_iter: int = 4,
                 initial_resolution: tuple[int, int] = (256, 256), feature_chunk: int = 10,
                 cells_per_chunk: int = 2048):
        super().__init__()
        self.pyramid_level = int(pyramid_level)
        self.causal = bool(causal)
        self.softmax_temperature = float(softmax_temperature)
        self.num_pips_iter = int(num_pips_iter)
        self.initial_resolution = tuple(int(v) for v in initial_resolution)
        self.feature_chunk = int(feature_chunk)
        self.cells_per_chunk = int(cells_per_chunk)

        self.resnet_torch = ResNet()
        self.torch_cost_volume_track_mods = nn.ModuleDict({
            "hid1": nn.Conv2d(1, 16, 3, 1, 1),
            "hid2": nn.Conv2d(16, 1, 3, 1, 1),
            "hid3": nn.Conv2d(16, 32, 3, 2, 0),
            "hid4": nn.Linear(32, 16),
            "occ_out": nn.Linear(16, 2),
        })
        dim = 4 + HIRES_DIM + LOWRES_DIM
        self.torch_pips_mixer = PipsMixer(dim + (self.pyramid_level + 2) * 49, dim, causal=self.causal)
        self.extra_convs = ExtraConvs() if extra_convs else None

    # ------------------------------------------------------------------ features
    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(F, h, w, 3)`` frames in [-1, 1] -> unit-normalised (hires ``(F, h/4, w/4, 128)``, lowres
        ``(F, h/8, w/8, 256)``), ``feature_chunk`` frames at a time."""
        x = frames.permute(0, 3, 1, 2)
        n = x.shape[0]
        step = self.feature_chunk if self.feature_chunk > 0 else max(1, n)
        hires = lowres = None
        for s in range(0, n, step):  # every step is per frame: chunking only bounds memory
            u1, u3 = self.resnet_torch(x[s:s + step])
            hi, lo = u1.permute(0, 2, 3, 1), u3.permute(0, 2, 3, 1)
            if self.extra_convs is not None:
                lo = self.extra_convs(lo)
            hi, lo = unit_normalise(hi), unit_normalise(lo)
            if hires is None:
                hires = hi.new_empty((n, *hi.shape[1:]))
                lowres = lo.new_empty((n, *lo.shape[1:]))
            hires[s:s + step] = hi
            lowres[s:s + step] = lo
        return hires, lowres

    def get_feature_grids(self, video: torch.Tensor,
                          refinement_resolutions: Optional[Sequence[tuple[int, int]]] = None) -> FeatureGrids:
        """Features of ``video`` ``(B, T, H, W, 3)`` at the initial resolution and at each refinement
        resolution (default: inferred from the video size, as tapnet)."""
        if refinement_resolutions is None:
            refinement_resolutions = default_resolutions(video.shape[2:4], self.initial_resolution)
        wanted = [self.initial_resolution] + [tuple(r) for r in refinement_resolutions]
        lows, his, sizes = [], [], []
        current, lo, hi, size = None, None, None, None
        for res in wanted:
            if res[0] % 8 or res[1] % 8:
                raise ValueError(f"TAPIR resolutions must be multiples of 8, got {res}")
            if current != tuple(res):
                resized = video if tuple(video.shape[2:4]) == tuple(res) else resize_video(video, res)
                b, t, h, w, c = resized.shape
                hi, lo = self.encode(resized.reshape(b * t, h, w, c))
                hi, lo = hi.reshape(b, t, *hi.shape[1:]), lo.reshape(b, t, *lo.shape[1:])
                current, size = tuple(res), (h, w)
            lows.append(lo)
            his.append(hi)
            sizes.append(size)
        return FeatureGrids(tuple(lows), tuple(his), tuple(sizes))

    def get_query_features(self, video_shape: Sequence[int], query_points: torch.Tensor,
                           grids: FeatureGrids) -> QueryFeatures:
        """Sample ``grids`` at ``query_points`` ``(B, N, 3)`` (t, y, x raster pixels of a video of shape
        ``video_shape`` = (B, T, H, W, ...))."""
        tyx_video = tuple(int(v) for v in video_shape[1:4])
        lows, his = [], []
        previous = None
        for lo, hi, res in zip(grids.lowres, grids.hires, grids.resolutions):
            if previous == res:
                lows.append(lows[-1])
                his.append(his[-1])
                continue
            previous = res
            lows.append(sample_query_features(lo, scale_coords(query_points, tyx_video, lo.shape[1:4])))
            his.append(sample_query_features(hi, scale_coords(query_points, tyx_video, hi.shape[1:4])))
        return QueryFeatures(tuple(lows), tuple(his), tuple(grids.resolutions))

    # ------------------------------------------------------------------ initialisation
    def _frame_step(self, n: int, t: int) -> int:
        """Frames per chunk so that a chunk holds at most ``cells_per_chunk`` (query, frame) maps."""
        if n * t <= self.cells_per_chunk:
            return t
        return max(1, self.cells_per_chunk // max(1, n))

    def tracks_from_cost_volume(self, query_feats: torch.Tensor, grid: torch.Tensor,
                                query_tyx: Optional[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Initial tracks from the cost volume of ``query_feats`` ``(B, N, C)`` against ``grid``
        ``(B, T, h, w, C)``: (points ``(B, N, T, 2)`` x, y at the initial resolution, occlusion and
        expected-distance logits ``(B, N, T)``). With ``query_tyx`` (initial-resolution t, y, x) the
        query frame's point is set to the query exactly."""
        b, n = query_feats.shape[:2]
        t_total = grid.shape[1]
        step = self._frame_step(n, t_total)
        pts, occs, expds = [], [], []
        for s in range(0, t_total, step):
            p, o, e = self._cost_volume_head(query_feats, grid[:, s:s + step])
            pts.append(p)
            occs.append(o)
            expds.append(e)
        points = torch.cat(pts, dim=2)
        occlusion, expected_dist = torch.cat(occs, dim=2), torch.cat(expds, dim=2)
        if query_tyx is not None:
            frame = torch.round(query_tyx[..., 0:1])
            is_query = (frame == torch.arange(t_total, device=frame.device)[None, None, :])[..., None]
            points = points * ~is_query + torch.flip(query_tyx[:, :, None], dims=(-1,))[..., 0:2] * is_query
        return points, occlusion, expected_dist

    def _cost_volume_head(self, query_feats: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mods = self.torch_cost_volume_track_mods
        b, n = query_feats.shape[:2]
        t, h, w = grid.shape[1:4]
        cost = torch.einsum("bnc,bthwc->tbnhw", query_feats, grid)
        cost = cost.reshape(t * b * n, 1, h, w)
        hidden = torch.relu(mods["hid1"](cost))
        logits = mods["hid2"](hidden).reshape(t, b, n, h, w).permute(1, 2, 0, 3, 4)
        heat = F.softmax(logits.reshape(b, n, t, h * w) * self.softmax_temperature, dim=-1).view(b, n, t, h, w)
        cells = soft_argmax(heat)
        points = scale_coords(cells, (w, h), self.initial_resolution[::-1])
        hidden = torch.relu(mods["hid3"](F.pad(hidden, (0, 2, 0, 2))))
        hidden = torch.relu(mods["hid4"](torch.mean(hidden, dim=(-1, -2))))
        out = mods["occ_out"](hidden).reshape(t, b, n, 2).permute(1, 2, 0, 3)
        return points, out[..., 0], out[..., 1]

    # ------------------------------------------------------------------ refinement
    def pyramid(self, grids: FeatureGrids, level: int) -> list[torch.Tensor]:
        """[hires, lowres, lowres pooled 2x, ...] feature maps of refinement ``level``."""
        pyr = [grids.hires[level], grids.lowres[level]]
        for _ in range(self.pyramid_level):
            pyr.append(F.avg_pool3d(pyr[-1], kernel_size=(2, 2, 1), stride=(2, 2, 1), padding=0))
        return pyr

    def correlations(self, queries: Sequence[torch.Tensor], pyramid: Sequence[torch.Tensor],
                     points: torch.Tensor, last: Optional[torch.Tensor]) -> torch.Tensor:
        """7x7 local correlations around ``points`` (initial-resolution x, y) at every pyramid level,
        against the query features (first iteration) or the mixer's per-frame features (later)."""
        h0, w0 = self.initial_resolution
        offsets = torch.stack(torch.meshgrid(torch.arange(-3, 4), torch.arange(-3, 4), indexing="ij"), dim=-1)
        offsets = offsets.reshape(-1, 2).to(points.device)
        b, n, t = points.shape[:3]
        step = self._frame_step(n, t)
        out = []
        for level, (query, grid) in enumerate(zip(queries, pyramid)):
            yx = torch.flip(scale_coords(points, (w0, h0), grid.shape[-2:-4:-1]), dims=(-1,))
            around = yx.unsqueeze(3) + offsets[None, None, None]
            if last is not None:
                q = last[..., :HIRES_DIM] if level == 0 else last[..., HIRES_DIM:]
            parts = []
            for s in range(0, t, step):
                nb = sample_neighbourhoods(grid[:, s:s + step], around[:, :, s:s + step])
                if last is None:
                    parts.append(torch.einsum("bnfsc,bnc->bnfs", nb, query))
                else:
                    parts.append(torch.einsum("bnfsc,bnfc->bnfs", nb, q[:, :, s:s + step]))
            out.append(torch.cat(parts, dim=2) if len(parts) > 1 else parts[0])
        return torch.cat(out, dim=-1)

    def refine(self, queries: Sequence[torch.Tensor], pyramid: Sequence[torch.Tensor], points: torch.Tensor,
               occlusion: torch.Tensor, expected_dist: torch.Tensor, last: Optional[torch.Tensor],
               resized_hw: Sequence[int], state: Optional[CausalState] = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, CausalState]:
        """One PIPs iteration: returns updated (points, occlusion, expected_dist, mixer features,
        new causal state)."""
        h0, w0 = self.initial_resolution
        corrs = self.correlations(queries, pyramid, points, last)
        b, n, t = points.shape[:3]
        if last is None:
            feats = torch.cat([queries[0], queries[1]], dim=-1).unsqueeze(2).tile((1, 1, t, 1))
        else:
            feats = last
        x = torch.cat([torch.zeros_like(points), occlusion[..., None], expected_dist[..., None], feats, corrs],
                      dim=-1)
        x = x.reshape(b * n, t, x.shape[-1])
        if state is not None:
            state = {k: v.reshape(b * n, *v.shape[2:]) for k, v in state.items()}
        res, new_state = self.torch_pips_mixer(x.float(), state)
        res = res.reshape(b, n, t, res.shape[-1])
        new_state = {k: v.reshape(b, n, *v.shape[1:]) for k, v in new_state.items()}
        delta = scale_coords(res[..., :2], (resized_hw[1], resized_hw[0]), (w0, h0))
        return (delta + points, res[..., 2] + occlusion, res[..., 3] + expected_dist, res[..., 4:] + feats,
                new_state)

    # ------------------------------------------------------------------ trajectories
    def estimate_trajectories(self, video_hw: Sequence[int], grids: FeatureGrids, qfeats: QueryFeatures,
                              query_points: Optional[torch.Tensor], query_chunk_size: int = 64,
                              state: Optional[list[CausalState]] = None) -> dict:
        """Tracks of every query through the frames of ``grids``, query chunk by query chunk.

        Returns lists over iterations (0: cost volume, then every PIPs iteration) of ``tracks``
        ``(B, N, T, 2)`` (x, y raster pixels of a ``video_hw`` video), ``occlusion``, ``expected_dist``;
        with ``state`` (one causal state per PIPs iteration, see :meth:`initial_state`) also
        ``state``: the state after these frames.
        """
        video_hw = tuple(int(v) for v in video_hw)
        levels = len(grids.lowres) - 1
        num_iters = self.num_pips_iter * levels
        pyramids = [None] + [self.pyramid(grids, lv) for lv in range(1, levels + 1)]
        num_frames = grids.lowres[0].shape[1]
        n_total = qfeats.lowres[0].shape[1]
        chunk = max(1, int(query_chunk_size or n_total))
        tracks = [[] for _ in range(num_iters + 1)]
        occs = [[] for _ in range(num_iters + 1)]
        expds = [[] for _ in range(num_iters + 1)]
        new_states: list[list[CausalState]] = [[] for _ in range(num_iters)]

        def to_video(p: torch.Tensor) -> torch.Tensor:
            return scale_coords(p, self.initial_resolution[::-1], video_hw[::-1])

        for c0 in range(0, n_total, chunk):
            sl = slice(c0, c0 + chunk)
            q_init = None
            if query_points is not None:
                q_init = scale_coords(query_points[:, sl], (num_frames,) + video_hw,
                                      (num_frames,) + self.initial_resolution)
            points, occ, expd = self.tracks_from_cost_volume(qfeats.lowres[0][:, sl], grids.lowres[0], q_init)
            occ0, expd0 = occ, expd
            tracks[0].append(to_video(points))
            occs[0].append(occ)
            expds[0].append(expd)
            last = None
            for i in range(num_iters):
                level = i // self.num_pips_iter + 1
                queries = [qfeats.hires[level][:, sl], qfeats.lowres[level][:, sl]]
                queries += [queries[-1]] * self.pyramid_level
                st = None if state is None else {k: v[:, sl] for k, v in state[i].items()}
                points, occ, expd, last, new = self.refine(queries, pyramids[level], points, occ, expd, last,
                                                           grids.resolutions[level], st)
                tracks[i + 1].append(to_video(points))
                occs[i + 1].append(occ)
                expds[i + 1].append(expd)
                new_states[i].append(new)
                if (i + 1) % self.num_pips_iter == 0:
                    last, occ, expd = None, occ0, expd0
        out = {
            "tracks": [torch.cat(x, dim=1) for x in tracks],
            "occlusion": [torch.cat(x, dim=1) for x in occs],
            "expected_dist": [torch.cat(x, dim=1) for x in expds],
        }
        if state is not None:
            out["state"] = [{k: torch.cat([d[k] for d in parts], dim=1) for k in parts[0]} for parts in new_states]
        return out

    def forward(self, video: torch.Tensor, query_points: torch.Tensor, query_chunk_size: int = 64,
                refinement_resolutions: Optional[Sequence[tuple[int, int]]] = None) -> dict:
        """Track ``query_points`` ``(B, N, 3)`` (t, y, x raster) through ``video`` ``(B, T, H, W, 3)``.

        Returns ``tracks`` ``(B, N, T, 2)``, ``occlusion``, ``expected_dist`` (means over refinement
        levels of each level's last iteration) and the ``unrefined_*`` lists of every earlier iteration.
        """
        grids = self.get_feature_grids(video, refinement_resolutions)
        qfeats = self.get_query_features(video.shape, query_points, grids)
        traj = self.estimate_trajectories(video.shape[2:4], grids, qfeats, query_points, query_chunk_size)
        p = self.num_pips_iter
        out = {k: torch.mean(torch.stack(traj[k][p::p]), dim=0) for k in ("tracks", "occlusion", "expected_dist")}
        for k in ("tracks", "occlusion", "expected_dist"):
            out[f"unrefined_{k}"] = traj[k][:-1]
        return out

    # ------------------------------------------------------------------ causal (online) use
    def initial_state(self, num_points: int, num_levels: int = 1, device=None) -> list[CausalState]:
        """Zero causal context for ``num_points`` queries: one dict per PIPs iteration (B = 1)."""
        hidden = self.torch_pips_mixer.hidden
        return [{
            **{f"block_{i}_causal_1": torch.zeros(1, num_points, 2, hidden, device=device)
               for i in range(NUM_MIXER_BLOCKS)},
            **{f"block_{i}_causal_2": torch.zeros(1, num_points, 2, 4 * hidden, device=device)
               for i in range(NUM_MIXER_BLOCKS)},
        } for _ in range(num_levels * self.num_pips_iter)]


def num_parameters(model: nn.Module) -> int:
    return int(sum(math.prod(p.shape) for p in model.parameters()))
