#!/usr/bin/env python3
"""Regenerate manifests/raft*.json and golden/raft*.npz from SAM-PT's official RAFT tracker code.

Usage: make_golden_raft.py SAM_PT_CHECKOUT OUT_DIR [--threads N] [--eps E] [--float64] [--only raft|raft_small]
(needs torch, numpy, scipy). SAM_PT_CHECKOUT is a clone of SysCV/sam-pt; its
``sam_pt/point_tracker/raft/`` (RAFT from princeton-vl/RAFT at aac9dd5 plus SAM-PT's ``RaftPointTracker``)
is imported without the package's ``__init__`` (which imports every tracker and their dependencies).
Every model gets keyed weights (``sampt.testing.keyed_state``, seed 0) for its whole state dict.
``--threads`` (default 2), ``--eps`` (added to every input pixel, default 0) and ``--float64`` (model and
inputs in float64; the official code's own ``.float()`` casts become ``.double()``) only serve to measure
numerical sensitivity: the stored golden files use the defaults. Writes nothing but OUT_DIR.
"""
import argparse
import importlib.util
import json
import os
import sys
import types

import numpy as np
import torch

from sampt.testing import keyed_state, manifest_of

ap = argparse.ArgumentParser()
ap.add_argument("sam_pt_repo")
ap.add_argument("out")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--eps", type=float, default=0.0)
ap.add_argument("--float64", action="store_true")
ap.add_argument("--only", choices=("raft", "raft_small"), default=None)
args = ap.parse_args()
torch.set_num_threads(args.threads)
os.makedirs(f"{args.out}/manifests", exist_ok=True)
os.makedirs(f"{args.out}/golden", exist_ok=True)


def import_official(repo):
    """sam_pt.point_tracker.raft.{tracker, raftnet} without running sam_pt/point_tracker/__init__.py."""
    for name, sub in (("sam_pt", "sam_pt"), ("sam_pt.point_tracker", "sam_pt/point_tracker")):
        module = types.ModuleType(name)
        module.__path__ = [os.path.join(repo, sub)]
        sys.modules[name] = module
    sys.modules["sam_pt"].point_tracker = sys.modules["sam_pt.point_tracker"]
    import importlib

    if importlib.util.find_spec("sklearn") is None:  # imported by utils/improc.py for visualisation only
        sys.modules["sklearn"] = types.ModuleType("sklearn")
        sys.modules["sklearn.decomposition"] = types.ModuleType("sklearn.decomposition")
        sys.modules["sklearn.decomposition"].PCA = None
    base = importlib.import_module("sam_pt.point_tracker.tracker")
    sys.modules["sam_pt.point_tracker"].PointTracker = base.PointTracker
    return importlib.import_module("sam_pt.point_tracker.raft.tracker"), importlib.import_module(
        "sam_pt.point_tracker.raft.raftnet")


def make_video(T=4, H=124, W=132, seed=3):
    """A blocky textured background panning, with a textured square moving right/down; uint8 (T, H, W, 3).
    H and W are not multiples of 8, so the official InputPadder pads (to 128 x 136: below 128 px per padded
    side the official correlation pyramid's coarsest level has one cell and its sampler divides by zero)."""
    rng = np.random.RandomState(seed)
    bg = np.kron(rng.randint(0, 256, size=(H // 4 + 6, W // 4 + 6, 3)).astype(np.float32), np.ones((4, 4, 1)))
    obj = np.kron(rng.randint(0, 256, size=(6, 6, 3)).astype(np.float32), np.ones((4, 4, 1)))
    frames = []
    for t in range(T):
        f = bg[t: t + H, 2 * t: 2 * t + W].copy()
        y, x = 40 + 3 * t, 50 + 4 * t
        f[y: y + 24, x: x + 24] = obj
        frames.append(f)
    return np.stack(frames).astype(np.uint8)


# (t, x, y): queries on frames 0, 1 and 3 (forwards only, both ways, backwards only), one at a corner
QUERIES = np.array([[0, 20.0, 22.0], [0, 60.5, 50.25], [1, 80.0, 30.0], [1, 131.0, 0.0], [3, 70.0, 100.0],
                    [3, 5.0, 118.0]], np.float32)

tracker_mod, raftnet_mod = import_official(args.sam_pt_repo)
if args.float64:  # the official code casts to float32 in many places: make those casts float64
    torch.Tensor.float = lambda self, *a, **k: self.double()
video = make_video()
rgbs = torch.from_numpy(video).permute(0, 3, 1, 2)[None].float() + args.eps
queries = torch.from_numpy(QUERIES)[None]
dtype = torch.float64 if args.float64 else torch.float32

for name, small in (("raft", False), ("raft_small", True)):
    if args.only not in (None, name):
        continue
    tracker = tracker_mod.RaftPointTracker.__new__(tracker_mod.RaftPointTracker)
    torch.nn.Module.__init__(tracker)
    tracker.checkpoint_path = None
    tracker.model = raftnet_mod.Raftnet(ckpt_name=None, small=small)  # mixed_precision: CUDA autocast, no-op on CPU
    manifest = manifest_of(tracker.model.model)
    if not (args.threads != 2 or args.eps or args.float64):
        json.dump(manifest, open(f"{args.out}/manifests/{name}.json", "w"))
    tracker.model.model.load_state_dict(keyed_state(manifest), strict=True)
    tracker = tracker.eval().to(dtype)
    prep = (rgbs / 255 - 0.5).to(dtype)
    with torch.no_grad():
        flows = {}
        for iters in (1, 2, 3):  # flow of the first pair (frame 0 -> 1) after 1, 2 and 3 updates
            flows[iters] = tracker.model(prep[:, 0], prep[:, 1], iters=iters)[0]
        flow10 = tracker.model(prep[:, 1], prep[:, 0], iters=1)[0]
        official_forward = tracker.model.forward  # the tracker hard-codes iters=32: a chain with 1 as well
        tracker.model.forward = lambda a, b, iters=20, test_mode=True: official_forward(a, b, 1, test_mode)
        chain1, chain1_vis = tracker(rgbs.to(dtype), queries.to(dtype))
        tracker.model.forward = official_forward
        trajectories, visibilities = tracker(rgbs.to(dtype), queries.to(dtype))
    np.savez_compressed(
        f"{args.out}/golden/{name}.npz",
        video_u8=video, queries=QUERIES,
        flow01_iters1=flows[1].float().numpy(), flow01_iters2=flows[2].float().numpy(),
        flow01_iters3=flows[3].float().numpy(), flow10_iters1=flow10.float().numpy(),
        chain_iters1_tracks=chain1.float().numpy(), chain_iters1_visibility=chain1_vis.numpy(),
        tracks=trajectories.float().numpy(), visibility=visibilities.numpy())
    print(name, len(manifest), "tensors, checksum", sum(float(v.double().sum()) for v in keyed_state(manifest).values()),
          "tracks[-1]", trajectories[0, -1].float().numpy().round(3).tolist(), flush=True)
