"""CUDA gives the same numbers as the CPU within the golden tolerance (needs a GPU; skipped without one)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sampt.testing import golden, keyed_state_dict
from sampt.types import Video


@pytest.mark.gpu
@pytest.mark.parametrize("name, module, cls", [
    ("cotracker3_offline", "sampt_cotracker.tracker_v3", "CoTracker3OfflineTracker"),
    ("cotracker3_online", "sampt_cotracker.tracker_v3", "CoTracker3OnlineTracker"),
])
def test_cuda_matches_the_golden_like_the_cpu(tmp_path, name, module, cls):
    import importlib

    factory = getattr(importlib.import_module(module), cls)
    path = tmp_path / f"{name}.pth"
    torch.save(keyed_state_dict(name), path)
    g = golden("cotracker3_offline")
    video, queries = Video(g["video_u8"]), g["queries"][0]
    cpu = factory(checkpoint=str(path), device="cpu").track(video, queries)
    cuda = factory(checkpoint=str(path), device="cuda").track(video, queries)
    np.testing.assert_allclose(cuda.points, cpu.points, atol=1e-2, rtol=0)
    assert (cuda.visibility == cpu.visibility).mean() > 0.99
    if name == "cotracker3_offline":
        np.testing.assert_allclose(cuda.points, g["pred_bwd_tracks"][0], atol=1e-2, rtol=0)
