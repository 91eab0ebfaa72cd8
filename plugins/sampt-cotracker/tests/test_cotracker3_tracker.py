"""CoTracker 3 behind sampt's Tracker interface, on tiny inputs (keyed weights, small model resolution,
one refinement iteration)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sampt.interfaces import TrackStream
from sampt.plugins import Registry
from sampt.testing import keyed_state_dict
from sampt.types import Tracks, Video
from sampt_cotracker.grids import grid_queries
from sampt_cotracker.tracker_v3 import CoTracker3OfflineTracker, CoTracker3OnlineTracker, offline_memory_bytes

SMALL = [32, 48]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("cotracker3")
    paths = {}
    for name in ("cotracker3_offline", "cotracker3_online"):
        paths[name] = str(root / f"{name}.pth")
        torch.save(keyed_state_dict(name), paths[name])
    return paths


@pytest.fixture(scope="module")
def video():
    rng = np.random.RandomState(3)
    base = rng.randint(0, 256, (40, 56, 3)).astype(np.uint8)
    frames = np.stack([np.roll(base, (t // 2, t), axis=(0, 1))[:24, :40] for t in range(11)])
    return Video(frames)


QUERIES = np.array([[0, 5.0, 6.0], [4, 20.5, 10.25], [10, 39.0, 23.0]], np.float32)


def offline(checkpoints, **kw):
    kw.setdefault("iters", 1)  # one refinement iteration keeps these tests fast; parity tests use 6
    return Registry().create("tracker", "cotracker3_offline", checkpoint=checkpoints["cotracker3_offline"],
                             device="cpu", model_resolution=SMALL, **kw)


def online(checkpoints, **kw):
    kw.setdefault("iters", 1)
    return Registry().create("tracker", "cotracker3_online", checkpoint=checkpoints["cotracker3_online"],
                             device="cpu", model_resolution=SMALL, **kw)


def test_offline_track_contract(checkpoints, video):
    tracker = offline(checkpoints)
    assert isinstance(tracker, CoTracker3OfflineTracker)
    assert tracker.capabilities.bidirectional and not tracker.capabilities.online
    tracks = tracker.track(video, QUERIES)
    assert tracks.points.shape == (11, 3, 2) and tracks.points.dtype == np.float32
    assert tracks.visibility.shape == (11, 3) and tracks.visibility.dtype == bool
    assert tracks.confidence.shape == (11, 3) and np.all((tracks.confidence >= 0) & (tracks.confidence <= 1))
    assert np.all(np.isfinite(tracks.points))
    t = QUERIES[:, 0].astype(int)
    np.testing.assert_array_equal(tracks.points[t, np.arange(3)], QUERIES[:, 1:])
    assert tracks.visibility[t, np.arange(3)].all()


def test_backward_tracking_is_the_model_on_the_reversed_video(checkpoints, video):
    """Before its query frame a point's track comes from the model run on the time-reversed video."""
    both = offline(checkpoints, support_grid_size=0).track(video, QUERIES)
    fwd_only = offline(checkpoints, support_grid_size=0, backward_tracking=False)
    forward = fwd_only.track(video, QUERIES)
    T = len(video)
    rq = QUERIES.copy()
    rq[:, 0] = T - 1 - rq[:, 0]
    reverse = fwd_only.track(Video(video.frames[::-1].copy()), rq)
    for i, tq in enumerate(QUERIES[:, 0].astype(int)):
        np.testing.assert_allclose(both.points[tq:, i], forward.points[tq:, i], atol=1e-4)
        np.testing.assert_array_equal(both.visibility[tq:, i], forward.visibility[tq:, i])
        np.testing.assert_allclose(both.points[:tq, i], reverse.points[::-1][:tq, i], atol=1e-3)
        np.testing.assert_array_equal(both.visibility[:tq, i], reverse.visibility[::-1][:tq, i])
    assert not np.allclose(both.points[:10, 2], forward.points[:10, 2], atol=1e-3)


def test_offline_feature_cache_gives_the_same_result(checkpoints, video):
    cached = offline(checkpoints)
    calls = []
    encode = cached.model.encode
    cached.model.encode = lambda v, *a: calls.append(v.shape[1]) or encode(v, *a)
    first = cached.track(video, QUERIES)  # forward and backward passes share one encoding
    again = cached.track(video, QUERIES)  # same video: features from the cache
    assert calls == [11]
    np.testing.assert_array_equal(again.points, first.points)
    plain = offline(checkpoints, cache_features=False).track(video, QUERIES)
    np.testing.assert_allclose(plain.points, first.points, atol=1e-4)
    other = cached.track(Video(video.frames[:, ::-1].copy()), QUERIES)  # a different video is re-encoded
    assert calls == [11, 11]
    assert not np.allclose(other.points, first.points, atol=1e-2)


def test_offline_refuses_a_video_that_would_not_fit(checkpoints, video):
    tracker = offline(checkpoints, max_memory_gb=1e-3)
    with pytest.raises(MemoryError, match="cotracker3_online"):
        tracker.track(video, QUERIES)
    assert offline_memory_bytes(200, 10) > offline_memory_bytes(100, 10) > offline_memory_bytes(100, 10, (192, 256))
    assert offline_memory_bytes(2000, 300) > 8 * 2 ** 30  # a long video at full resolution exceeds the default


def test_query_validation_and_empty_queries(checkpoints, video):
    tracker = offline(checkpoints)
    with pytest.raises(ValueError, match="outside"):
        tracker.track(video, [[0, 45.0, 3.0]])
    with pytest.raises(ValueError, match="frame 11"):
        tracker.track(video, [[11, 4.0, 3.0]])
    empty = tracker.track(video, np.zeros((0, 3), np.float32))
    assert empty.points.shape == (11, 0, 2)


def test_online_stream_equals_track_and_is_bounded(checkpoints, video):
    tracker = online(checkpoints, window_len=4)
    assert isinstance(tracker, CoTracker3OnlineTracker) and tracker.capabilities.online
    whole = tracker.track(video, QUERIES)
    stream = tracker.open_stream(QUERIES, video.height, video.width)
    assert isinstance(stream, TrackStream)
    counts = []
    parts = []
    for frame in video:
        part = stream.push(frame)
        counts.append(part.num_frames)
        parts.append(part)
        assert len(stream.session.buffer) < 4  # at most one window of frame features is kept
    parts.append(stream.finish())
    assert counts == [0, 0, 0, 2, 0, 2, 0, 2, 0, 2, 0]  # half a window becomes final per window
    streamed = Tracks.concatenate(parts, axis=0)
    assert streamed.num_frames == len(video) and whole.num_frames == len(video)
    np.testing.assert_allclose(streamed.points, whole.points, atol=1e-5)
    np.testing.assert_array_equal(streamed.visibility, whole.visibility)
    t = np.arange(len(video))[:, None]
    assert not whole.visibility[t < QUERIES[:, 0]].any()
    tq = QUERIES[:, 0].astype(int)
    np.testing.assert_array_equal(whole.points[tq, np.arange(3)], QUERIES[:, 1:])
    assert whole.visibility[tq, np.arange(3)].all()


def test_online_window_interpolates_time_embedding_and_short_videos_work(checkpoints, video):
    tracker = online(checkpoints)  # window 16 > 11 frames: one short, padded window at finish
    tracks = tracker.track(video, QUERIES[:2])
    assert tracks.points.shape == (11, 2, 2) and np.all(np.isfinite(tracks.points))
    eight = online(checkpoints, window_len=8).track(video, QUERIES[:2])  # time embedding 16 -> 8
    assert eight.points.shape == (11, 2, 2)
    stream = tracker.open_stream(QUERIES, video.height, video.width)
    assert stream.finish().num_frames == 0
    with pytest.raises(ValueError, match="window_len"):
        online(checkpoints, window_len=5)


def test_online_support_grid_changes_tracks_but_not_shapes(checkpoints, video):
    plain = online(checkpoints, window_len=4).track(video, QUERIES)
    grid = online(checkpoints, window_len=4, support_grid_size=3).track(video, QUERIES)
    assert grid.points.shape == plain.points.shape
    assert not np.allclose(grid.points, plain.points, atol=1e-3)


def test_grid_queries_and_track_grid(checkpoints, video):
    q = grid_queries(24, 40, 4)
    assert q.shape == (16, 3) and np.all(q[:, 0] == 0)
    assert np.all((q[:, 1] >= 0) & (q[:, 1] <= 39) & (q[:, 2] >= 0) & (q[:, 2] <= 23))
    mask = np.zeros((24, 40), bool)
    mask[:12, :20] = True
    qm = grid_queries(24, 40, 4, frame=2, mask=mask, model_resolution=SMALL)
    assert 0 < len(qm) < 16 and np.all(qm[:, 0] == 2)
    assert np.all(mask[np.round(qm[:, 2]).astype(int), np.round(qm[:, 1]).astype(int)])
    tracks = offline(checkpoints).track_grid(video, 4, frame=2, mask=mask)
    assert tracks.points.shape == (11, len(qm), 2)
    with pytest.raises(ValueError, match="mask"):
        grid_queries(24, 40, 4, mask=np.ones((5, 5), bool))
