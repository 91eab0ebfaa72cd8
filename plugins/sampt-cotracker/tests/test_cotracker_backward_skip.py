"""The CoTracker 1/2 predictor skips the backward pass (and keeps no features for it) when it cannot change
the output, and bounds the features it keeps when it runs: outputs identical either way."""
import dataclasses

import numpy as np
import pytest
import torch

from sampt.testing import golden, keyed_state_dict
from sampt.types import Video

from sampt_cotracker.tracker_v1 import CoTracker1Tracker
from sampt_cotracker.tracker_v2 import CoTracker2Tracker
from sampt_cotracker.windowed import RecentFeatures, run_predictor

FRAMES = 12


@pytest.fixture(scope="module")
def video():
    return Video(golden("cotracker1")["video_u8"][:FRAMES].copy())


def _tracker(kind, tmp_path):
    name, cls = {"v1": ("cotracker1", CoTracker1Tracker), "v2": ("cotracker2", CoTracker2Tracker)}[kind]
    ckpt = tmp_path / f"{name}.pth"
    torch.save({"model": keyed_state_dict(name)}, ckpt)
    # a small model resolution keeps the test fast; the logic under test does not depend on it
    return cls(checkpoint=str(ckpt), device="cpu", iters=1, interp_height=96, interp_width=128)


def _settings(tracker, **changes):
    s = tracker.settings(FRAMES) if isinstance(tracker, CoTracker1Tracker) else tracker.settings()
    return dataclasses.replace(s, **changes)


def _counting(model):
    """Wrap ``model.forward`` to count passes and the frames ``fnet`` encodes."""
    counts = {"passes": 0, "encoded": 0}
    forward, fnet = model.forward, model.fnet.forward

    def counted_forward(*args, **kwargs):
        counts["passes"] += 1
        return forward(*args, **kwargs)

    def counted_fnet(x):
        counts["encoded"] += int(x.shape[0])
        return fnet(x)

    model.forward, model.fnet.forward = counted_forward, counted_fnet
    return counts


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_backward_skipped_when_all_queries_on_frame_0_same_output(kind, video, tmp_path):
    tracker = _tracker(kind, tmp_path)
    queries = np.array([[0, 30.0, 40.0], [0, 100.0, 20.0], [0, 64.5, 70.25]], np.float32)
    counts = _counting(tracker.model)
    skipped = run_predictor(tracker.model, video, queries, _settings(tracker), tracker.device)
    assert counts["passes"] == 1, "the backward pass ran although every query is on frame 0"
    full = run_predictor(tracker.model, video, queries, _settings(tracker, skip_needless_backward=False),
                         tracker.device)
    assert counts["passes"] == 3
    np.testing.assert_array_equal(skipped.points, full.points)
    np.testing.assert_array_equal(skipped.visibility, full.visibility)


def test_backward_still_runs_for_later_queries(video, tmp_path):
    """A query after frame 0 needs the backward pass: it runs, and its frames before the query differ from
    a forward-only run (CoTracker 1 leaves them at 0)."""
    tracker = _tracker("v1", tmp_path)
    queries = np.array([[0, 30.0, 40.0], [5, 45.5, 47.25]], np.float32)
    counts = _counting(tracker.model)
    both = run_predictor(tracker.model, video, queries, _settings(tracker), tracker.device)
    assert counts["passes"] == 2
    forward = run_predictor(tracker.model, video, queries, _settings(tracker, backward=False), tracker.device)
    assert not np.array_equal(both.points[:5, 1], forward.points[:5, 1])


def test_bounded_feature_store_same_output(video, tmp_path):
    """Keeping only a few frames' features for the backward pass re-encodes the others: same tracks."""
    tracker = _tracker("v1", tmp_path)
    queries = np.array([[0, 30.0, 40.0], [5, 45.5, 47.25], [3, 127.0, 0.0]], np.float32)
    counts = _counting(tracker.model)
    unbounded = run_predictor(tracker.model, video, queries, _settings(tracker), tracker.device, feature_store={})
    assert counts["encoded"] == FRAMES
    small = _settings(tracker, feature_memory_mb=1.0)  # below one frame: the minimum, one window
    bounded = run_predictor(tracker.model, video, queries, small, tracker.device)
    again = counts["encoded"] - 2 * FRAMES  # frames the bounded run's backward pass encoded again
    assert 0 < again < FRAMES
    np.testing.assert_allclose(bounded.points, unbounded.points, atol=1e-3)
    np.testing.assert_array_equal(bounded.visibility, unbounded.visibility)


def test_recent_features_forgets_oldest():
    store = RecentFeatures(3)
    store.update({t: t for t in range(5)})
    assert list(store) == [2, 3, 4]
    assert store[2] == 2  # used: now the most recent
    store[5] = 5
    assert list(store) == [4, 2, 5]
