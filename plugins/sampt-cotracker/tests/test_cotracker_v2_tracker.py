"""CoTracker 2 behind the Tracker interface: contract, coordinate convention, backward pass, checkpoints."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sampt.plugins import Registry
from sampt.testing import golden, keyed_state_dict
from sampt.types import Video
from sampt.weights import WeightsError

from sampt_cotracker.tracker_v2 import CoTracker2Tracker


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "cotracker2.pth"
    torch.save({"model": keyed_state_dict("cotracker2")}, path)
    return path


@pytest.fixture(scope="module")
def tiny_video():
    return Video(golden("cotracker2")["video_u8"][:10, :48, :64].copy())


QUERIES = np.array([[0, 10, 20], [4, 40.5, 30], [9, 60, 40], [4, 63, 0]], np.float32)


def small(ckpt, **kw):
    """A keyed CoTracker 2 at a small model resolution (fast) with one refinement iteration."""
    return CoTracker2Tracker(checkpoint=str(ckpt), device="cpu", **{"iters": 1, "interp_height": 64,
                                                                   "interp_width": 96, "support_grid_size": 2, **kw})


class MovingFake(torch.nn.Module):
    """Stands in for the network: each point moves +1 model pixel in x per frame after its query frame
    (so -1 per frame before it, seen from the reversed video); records what it was given."""

    stride = 4

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, source, queries, iters, feature_store=None):
        T = len(source)
        self.calls.append((source.get(list(range(T))), queries.clone()))
        t = torch.arange(T, dtype=torch.float32)[:, None]
        tracks = queries[0, None, :, 1:].repeat(T, 1, 1)
        tracks[..., 0] += t - queries[0, None, :, 0]
        return tracks[None], torch.full((1, T, queries.shape[1]), 0.95)


def test_contract(ckpt, tiny_video):
    tracker = small(ckpt)
    assert tracker.capabilities.bidirectional and tracker.capabilities.any_query_frame
    assert not tracker.capabilities.online and not tracker.capabilities.has_confidence
    tracks = tracker.track(tiny_video, QUERIES)
    T, N = len(tiny_video), len(QUERIES)
    assert tracks.points.shape == (T, N, 2) and tracks.visibility.shape == (T, N)
    assert tracks.points.dtype == np.float32 and np.isfinite(tracks.points).all()
    t0 = QUERIES[:, 0].astype(int)
    np.testing.assert_allclose(tracks.points[t0, np.arange(N)], QUERIES[:, 1:], atol=1e-4)
    assert tracks.visibility[t0, np.arange(N)].all()
    again = tracker.track(tiny_video, QUERIES)
    np.testing.assert_array_equal(again.points, tracks.points)
    np.testing.assert_array_equal(again.visibility, tracks.visibility)
    empty = tracker.track(tiny_video, np.zeros((0, 3), np.float32))
    assert empty.points.shape == (T, 0, 2) and empty.visibility.shape == (T, 0)


def test_without_backward_pass(ckpt, tiny_video):
    """Frames from the query on come from the forward pass either way; before it, without a backward pass
    the point sits at its query position, invisible (the contract); with one it is tracked."""
    both = small(ckpt).track(tiny_video, QUERIES)
    fwd_tracker = small(ckpt, backward_tracking=False)
    assert not fwd_tracker.capabilities.bidirectional
    fwd = fwd_tracker.track(tiny_video, QUERIES)
    t0 = QUERIES[:, 0].astype(int)
    after = np.arange(len(tiny_video))[:, None] >= t0[None]
    np.testing.assert_allclose(fwd.points[after], both.points[after], atol=1e-4)
    np.testing.assert_array_equal(fwd.visibility[after], both.visibility[after])
    before = ~after
    np.testing.assert_array_equal(fwd.points[before], np.broadcast_to(QUERIES[:, 1:], fwd.points.shape)[before])
    assert not fwd.visibility[before].any()
    assert np.abs(both.points[before] - np.broadcast_to(QUERIES[:, 1:], both.points.shape)[before]).max() > 1e-3


def test_very_short_videos(ckpt, tiny_video):
    tracker = small(ckpt)
    for T in (1, 2, 3, 5):
        video = Video(tiny_video.frames[:T].copy())
        q = np.array([[0, 10, 20], [T - 1, 30, 30]], np.float32)
        tracks = tracker.track(video, q)
        assert tracks.points.shape == (T, 2, 2) and np.isfinite(tracks.points).all()
        np.testing.assert_allclose(tracks.points[T - 1, 1], [30, 30], atol=1e-4)


def test_invalid_queries(ckpt, tiny_video):
    tracker = small(ckpt)
    with pytest.raises(ValueError, match="outside"):
        tracker.track(tiny_video, np.array([[0, 64, 10]], np.float32))
    with pytest.raises(ValueError, match="frame 10"):
        tracker.track(tiny_video, np.array([[10, 5, 5]], np.float32))


def test_coordinates_grid_and_backward_merge(ckpt, tiny_video):
    """Queries enter the network as x*(w-1)/(W-1) on frames resized with align_corners=True (the official
    predictor; pixel centres stay on integers), the 6x6 support grid is appended at frame 0, and frames
    before a query come from the reversed-video pass."""
    tracker = CoTracker2Tracker(checkpoint=str(ckpt), device="cpu")
    fake = tracker.model = MovingFake()
    T, H, W = len(tiny_video), tiny_video.height, tiny_video.width
    tracks = tracker.track(tiny_video, QUERIES)
    (frames, q), (rframes, rq) = fake.calls
    ref = F.interpolate(torch.from_numpy(tiny_video.frames).permute(0, 3, 1, 2).float(), (384, 512),
                        mode="bilinear", align_corners=True)
    assert torch.equal(frames, ref) and torch.equal(rframes, ref.flip(0))
    sx, sy = 511 / (W - 1), 383 / (H - 1)
    np.testing.assert_allclose(q[0, :4, 1:].numpy(), QUERIES[:, 1:] * [sx, sy], rtol=1e-6)
    assert q.shape[1] == 4 + 36 and (q[0, 4:, 0] == 0).all()
    np.testing.assert_allclose(q[0, 4:6, 1:].numpy(), [[8, 8], [107.2, 8]], atol=1e-4)  # margin 512/64
    np.testing.assert_array_equal(rq[0, :, 0].numpy(), T - 1 - q[0, :, 0].numpy())
    # the fake moves +1 model px per frame forward of the query frame, and the same backward of it
    t = np.arange(T)[:, None]
    want_x = QUERIES[None, :, 1] + np.abs(t - QUERIES[None, :, 0]) / sx
    np.testing.assert_allclose(tracks.points[..., 0], want_x, atol=1e-3)
    np.testing.assert_allclose(tracks.points[..., 1], np.broadcast_to(QUERIES[:, 2], (T, 4)), atol=1e-3)
    assert tracks.visibility.all()  # 0.95 > 0.9
    tracker.visibility_threshold = 0.96
    assert tracker.track(tiny_video, QUERIES).visibility.sum() == len(QUERIES)  # only the query frames


def test_registry_variants_and_strict_loading(ckpt, tmp_path, monkeypatch):
    tracker = Registry().create("tracker", "cotracker2", checkpoint=str(ckpt), device="cpu")
    assert tracker.window_len == 8 and tracker.iters == 6 and tracker.visibility_threshold == 0.9
    # the 16-frame CoTracker 2.1 rejects an 8-frame checkpoint: its time embedding has another shape
    with pytest.raises(WeightsError, match="time_emb"):
        CoTracker2Tracker(checkpoint=str(ckpt), device="cpu", variant="cotracker2v1")
    v1 = tmp_path / "v1.pth"
    torch.save(keyed_state_dict("cotracker1"), v1)
    with pytest.raises(WeightsError, match="missing keys"):
        CoTracker2Tracker(checkpoint=str(v1), device="cpu")
    with pytest.raises(ValueError, match="variant"):
        CoTracker2Tracker(checkpoint=str(ckpt), variant="cotracker9")
    # the default checkpoint is the variant's official file, looked up in the cache
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with pytest.raises(WeightsError, match="cotracker2v1.pth"):
        CoTracker2Tracker(device="cpu", variant="cotracker2v1")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "cotracker2.pth").write_bytes(ckpt.read_bytes())
    assert CoTracker2Tracker(device="cpu").window_len == 8
