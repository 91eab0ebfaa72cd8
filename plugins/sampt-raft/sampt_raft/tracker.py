"""RAFT optical flow chained into a sampt :class:`~sampt.interfaces.Tracker` (SAM-PT's ``RaftPointTracker``).

Each point starts at its query position on its query frame. Forwards, its position on frame t+1 is its
position on frame t plus the flow from frame t to t+1, sampled bilinearly there; backwards (frames before
the query frame), its position on frame t is its position on frame t+1 plus the flow from frame t+1 to t.
Flows are computed at native resolution (padded to multiples of 8 by edge replication, as the official
``InputPadder``, and to at least 128 px per side, where the official code's flow is NaN) with ``iters``
refinement steps (SAM-PT: 32). A point is visible where it lies inside the
frame, ``0 <= x < W`` and ``0 <= y < H``: SAM-PT's rule (it does no forward-backward check).

Coordinates: the flow field's pixel centres are on integer coordinates, sampt's convention, so no
conversion happens. Flow is sampled with clamped indices (a point outside the frame takes the edge's flow),
as the official ``bilinear_sample2d``.
"""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import torch

from sampt.constraints import Choices, Range
from sampt.devices import pick_device
from sampt.interfaces import Tracker, TrackerCapabilities
from sampt.outputs import atomic_file
from sampt.types import Tracks, Video
from sampt.keyed import active_keyed_fallback
from sampt.weights import WeightsError, is_present, load_checkpoint, resolve

from sampt_raft.model_raft import FrameEncoding, RaftCheckpoint, pad_to_multiple, unpad
from sampt_raft.plugin import CHECKPOINTS, VARIANTS, ZIP_MEMBERS

log = logging.getLogger(__name__)


def sample_flow(flow: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``flow`` (2, H, W) at points ``xy`` (N, 2): corner indices clamped to the
    frame, weights from the unclamped position (so outside the frame the edge value is held)."""
    _, H, W = flow.shape
    x, y = xy[:, 0], xy[:, 1]
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long(), y0.long()
    xa, xb = x0.clamp(0, W - 1), (x0 + 1).clamp(0, W - 1)
    ya, yb = y0.clamp(0, H - 1), (y0 + 1).clamp(0, H - 1)
    top = flow[:, ya, xa] * (1 - fx) + flow[:, ya, xb] * fx
    bottom = flow[:, yb, xa] * (1 - fx) + flow[:, yb, xb] * fx
    return (top * (1 - fy) + bottom * fy).T


def extract_checkpoint(archive: Path, member: str) -> Path:
    """The checkpoint ``member`` of the official ``models.zip``, extracted once beside it (atomically)."""
    target = archive.with_name(f"{archive.name}.{Path(member).name}")
    with zipfile.ZipFile(archive) as zf:
        try:
            info = zf.getinfo(member)
        except KeyError:
            names = ", ".join(n for n in zf.namelist() if n.endswith(".pth")) or "none"
            raise WeightsError(f"archive {archive} has no {member} (its checkpoints: {names}); "
                               f"pass the checkpoint file itself") from None
        if target.is_file() and target.stat().st_size == info.file_size:
            return target
        log.info("extracting %s from %s", member, archive)
        with atomic_file(target) as tmp, zf.open(info) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    return target


def _is_checkpoint_archive(path: Path) -> bool:
    """A zip of ``.pth`` files (the official models.zip), as opposed to a torch file (itself a zip)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith(".pth") for n in zf.namelist())


def checkpoint_file(checkpoint: Optional[str], default: str) -> str:
    """What to hand :func:`sampt.weights.load_checkpoint`: a known name resolves to the official zip (cache or
    download) and its member is extracted; a path to models.zip gives ``default``'s member; other paths,
    and a known name left to keyed weights (benchmarks), pass through."""
    name = str(checkpoint) if checkpoint not in (None, "") else default
    spec = CHECKPOINTS.get(name)
    if spec is not None:
        if not is_present(spec) and active_keyed_fallback() is not None:
            return name
        archive, _ = resolve(name, None, CHECKPOINTS)
        return str(extract_checkpoint(archive, ZIP_MEMBERS[name]))
    path = Path(name).expanduser()
    if path.is_file() and _is_checkpoint_archive(path):
        return str(extract_checkpoint(path, ZIP_MEMBERS[default]))
    return name


class RaftTracker(Tracker):
    """RAFT flow chained from each query frame forwards and backwards, as SAM-PT's RAFT tracker.

    Options: ``variant`` (``raft``: the full model, default checkpoint ``raft_things``; ``raft_small``),
    ``checkpoint`` (a file: a published ``raft-*.pth``, or the official ``models.zip``; or a known name:
    ``raft_things``, ``raft_sintel``, ``raft_kitti``, ``raft_chairs``, ``raft_small``), ``device``,
    ``iters`` (refinement steps per flow, SAM-PT 32), ``mixed_precision`` (half-precision regions on CUDA
    as the official code; no effect on CPU).
    """

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True,
                                       has_visibility=True, has_confidence=False)

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto",
                 variant: Annotated[str, Choices(*VARIANTS)] = "raft", iters: Annotated[int, Range(1, None)] = 32,
                 mixed_precision: bool = True):
        if variant not in VARIANTS:
            raise ValueError(f"unknown RAFT variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        self.variant = variant
        self.iters = int(iters)
        self.device = pick_device(device)
        small = VARIANTS[variant]["small"]
        wrapper = RaftCheckpoint(small=small, mixed_precision=bool(mixed_precision))
        default = VARIANTS[variant]["checkpoint"]
        source = checkpoint_file(checkpoint, default)
        what, family = f"RAFT ({variant})", "raft_small" if small else "raft"
        try:  # the published files: nn.DataParallel's 'module.*' keys
            load_checkpoint(wrapper, source, default, CHECKPOINTS, what=what, family=family)
        except WeightsError as prefixed_error:  # a plain RAFT state dict loads too, as the official loader allows
            try:
                load_checkpoint(wrapper.module, source, default, CHECKPOINTS, what=what, family=family)
            except WeightsError:
                raise prefixed_error from None
        self.model = wrapper.module.eval().to(self.device)
        log.info("RAFT (%s) on %s, %d iterations per flow", variant, self.device, self.iters)

    def _encode(self, frame: np.ndarray) -> tuple[FrameEncoding, tuple[int, int, int, int]]:
        image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().to(self.device)
        padded, pad = pad_to_multiple(image)
        return self.model.encode(padded), pad

    def _chain(self, frames: np.ndarray, start: np.ndarray, xy: torch.Tensor, step: int) -> torch.Tensor:
        """Positions (T, N, 2) chained from each point's ``start`` frame in direction ``step`` (+1/-1);
        entries on the other side of a point's start are left at zero."""
        T, N = len(frames), len(start)
        out = torch.zeros((T, N, 2), dtype=torch.float32, device=self.device)
        order = range(T) if step > 0 else range(T - 1, -1, -1)
        start_t = torch.as_tensor(start, device=self.device)
        first = int(start.min() if step > 0 else start.max())
        previous: Optional[tuple[FrameEncoding, tuple]] = None
        pos = torch.zeros((N, 2), dtype=torch.float32, device=self.device)
        for t in order:
            if (step > 0 and t < first) or (step < 0 and t > first):
                continue
            current = self._encode(frames[t])
            if previous is not None:  # flow from the previous frame in the chain to this one
                flow = unpad(self.model.flow(previous[0], current[0], self.iters), previous[1])[0]
                pos = pos + sample_flow(flow, pos)
            begins = start_t == t
            pos = torch.where(begins[:, None], xy, pos)
            out[t] = pos
            previous = current
        return out

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        T, H, W = len(video), video.height, video.width
        t0 = queries[:, 0].astype(np.int64)
        xy = torch.from_numpy(np.ascontiguousarray(queries[:, 1:])).float().to(self.device)
        frame = np.arange(T)[:, None]
        with torch.no_grad():
            points = self._chain(video.frames, t0, xy, +1).cpu().numpy()
            if (t0 > 0).any():
                backward = self._chain(video.frames, t0, xy, -1).cpu().numpy()
                before = frame < t0[None, :]
                points[before] = backward[before]
        x, y = points[..., 0], points[..., 1]
        visible = (x >= 0) & (y >= 0) & (x < W) & (y < H)
        return Tracks(points, visible)
