"""With the official CoTracker 3 checkpoints (``SAMPT_REAL_CHECKPOINTS=1``; fetched into the cache by the
weights manager when missing): points on a synthetic moving object are tracked to their true positions.
The keyed-weights tests (test_cotracker3_parity.py, test_cotracker3_tracker.py) cover the same code path."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = [
    pytest.mark.checkpoint,
    pytest.mark.skipif(os.environ.get("SAMPT_REAL_CHECKPOINTS") != "1",
                       reason="needs the official CoTracker 3 checkpoints (set SAMPT_REAL_CHECKPOINTS=1)"),
]


@pytest.mark.parametrize("name", ["cotracker3_offline", "cotracker3_online"])
def test_tracks_synthetic_object_points(name):
    from sampt.data.synthetic import make_clip
    from sampt.plugins import Registry

    clip = make_clip(seed=2, num_frames=16, height=240, width=320, num_objects=1, object_size=0.4)
    mask = clip.masks[0, 0]
    ys, xs = np.nonzero(mask)
    pick = np.linspace(0, len(xs) - 1, 12).astype(int)
    start = np.stack([xs[pick], ys[pick]], axis=1).astype(np.float32)
    queries = np.concatenate([np.zeros((12, 1), np.float32), start], axis=1)
    tracker = Registry().create("tracker", name)
    tracks = tracker.track(clip.video, queries)
    truth = clip.true_positions(0, start)
    error = np.linalg.norm(tracks.points - truth, axis=-1)
    visible = clip.masks[:, 0][np.arange(16)[:, None], np.round(truth[..., 1]).astype(int).clip(0, 239),
                                np.round(truth[..., 0]).astype(int).clip(0, 319)]
    assert np.median(error[visible]) < 2.0, np.median(error[visible])
    assert tracks.visibility[visible].mean() > 0.8
