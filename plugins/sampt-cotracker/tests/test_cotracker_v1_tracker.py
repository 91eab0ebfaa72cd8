"""CoTracker 1 behind the Tracker interface: presets (SAM-PT's wrapper, the v1.0 predictor), variants,
coordinate convention, support grids, the zero-filling backward pass, checkpoints."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sampt.testing import golden, keyed_state_dict
from sampt.types import Video
from sampt.weights import WeightsError

from sampt_cotracker.tracker_v1 import CoTracker1Tracker, v1_grid_points


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "cotracker_stride_4_wind_8.pth"
    torch.save(keyed_state_dict("cotracker1"), path)
    return path


@pytest.fixture(scope="module")
def tiny_video():
    return Video(golden("cotracker1")["video_u8"][:10, :48, :64].copy())


QUERIES = np.array([[0, 10, 20], [4, 40.5, 30], [9, 60, 40], [4, 63, 0]], np.float32)


def small(ckpt, **kw):
    return CoTracker1Tracker(checkpoint=str(ckpt), device="cpu", **{"iters": 1, "interp_height": 64,
                                                                   "interp_width": 96, **kw})


class LateFake(torch.nn.Module):
    """Stands in for CoTracker 1: a point moves +1 model px in x per frame from its query frame on, and is
    exactly 0 (not yet tracked) more than 2 frames before it; records what it was given."""

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
        tracks[(t < queries[0, None, :, 0] - 2)] = 0
        return tracks[None], torch.full((1, T, queries.shape[1]), 0.8)


def test_defaults_are_the_papers():
    import inspect

    p = inspect.signature(CoTracker1Tracker).parameters
    assert p["variant"].default == "stride_4_wind_8" and p["preset"].default == "sampt_reference"
    assert p["iters"].default == 6 and p["backward_tracking"].default is True


@pytest.mark.parametrize("variant, stride, window", [("stride_4_wind_8", 4, 8), ("stride_4_wind_12", 4, 12),
                                                     ("stride_8_wind_16", 8, 16)])
def test_variants_track(ckpt, tiny_video, variant, stride, window):
    tracker = small(ckpt, variant=variant, preset="official")
    assert (tracker.model.stride, tracker.model.window_len) == (stride, window)
    tracks = tracker.track(tiny_video, QUERIES)
    T, N = len(tiny_video), len(QUERIES)
    assert tracks.points.shape == (T, N, 2) and np.isfinite(tracks.points).all()
    t0 = QUERIES[:, 0].astype(int)
    # the official preset writes each query point at its query frame, visible
    np.testing.assert_allclose(tracks.points[t0, np.arange(N)], QUERIES[:, 1:], atol=1e-4)
    assert tracks.visibility[t0, np.arange(N)].all()


def test_reference_preset_contract(ckpt, tiny_video):
    tracker = small(ckpt)
    assert (tracker.support_grid_size, tracker.support_grid_every, tracker.visibility_threshold) == (2, 12, 0.7)
    assert not tracker.write_query_points
    tracks = tracker.track(tiny_video, QUERIES)
    assert tracks.points.shape == (10, 4, 2) and np.isfinite(tracks.points).all()
    again = tracker.track(tiny_video, QUERIES)
    np.testing.assert_array_equal(again.points, tracks.points)
    assert tracker.track(tiny_video, np.zeros((0, 3), np.float32)).points.shape == (10, 0, 2)
    for T in (1, 2, 3):
        short = tracker.track(Video(tiny_video.frames[:T].copy()), np.array([[T - 1, 30, 30]], np.float32))
        assert short.points.shape == (T, 1, 2) and np.isfinite(short.points).all()
    with pytest.raises(ValueError, match="outside"):
        tracker.track(tiny_video, np.array([[0, 10, 48]], np.float32))


def test_reference_coordinates_grids_and_zero_fill(ckpt):
    """SAM-PT's wrapper: align_corners=False resize, x*512/W scaling, a 2x2 grid (margin 512//64) at frames
    0, 12, 24, and a backward pass that fills only coordinates left at exactly 0."""
    T, H, W = 30, 24, 32
    clip = golden("cotracker1")["video_u8"][:, :H, :W]
    video = Video(np.concatenate([clip, clip[::-1]])[:T].copy())
    tracker = CoTracker1Tracker(checkpoint=str(ckpt), device="cpu")
    fake = tracker.model = LateFake()
    q = np.array([[0, 3, 4], [20, 10.5, 7]], np.float32)
    tracks = tracker.track(video, q)
    (frames, mq), (rframes, rq) = fake.calls
    ref = F.interpolate(torch.from_numpy(video.frames).permute(0, 3, 1, 2).float(), (384, 512), mode="bilinear")
    assert torch.equal(frames, ref) and torch.equal(rframes, ref.flip(0))
    sx, sy = 512 / W, 384 / H
    np.testing.assert_allclose(mq[0, :2, 1:].numpy(), q[:, 1:] * [sx, sy], rtol=1e-6)
    assert mq.shape[1] == 2 + 3 * 4
    np.testing.assert_array_equal(mq[0, 2:, 0].numpy(), np.repeat([0, 12, 24], 4))
    np.testing.assert_allclose(mq[0, 2:6, 1:].numpy(), [[8, 8], [504, 8], [8, 376], [504, 376]])
    np.testing.assert_array_equal(rq[0, :, 0].numpy(), T - 1 - mq[0, :, 0].numpy())
    # forward from frame 18 on (query 20, the fake's zeros end 2 frames early); backward fills the zeros
    t = np.arange(T)
    fwd_x = q[1, 1] + (t - 20) / sx
    bwd_x = q[1, 1] + (20 - t) / sx
    np.testing.assert_allclose(tracks.points[:, 1, 0], np.where(t >= 18, fwd_x, bwd_x), atol=1e-3)
    np.testing.assert_allclose(tracks.points[:, 0, 0], q[0, 1] + t / sx, atol=1e-3)
    assert tracks.visibility.all()  # 0.8 > 0.7, the paper's threshold
    assert v1_grid_points(6, (384, 512)).shape == (1, 36, 2)


def test_checkpoints(ckpt, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="preset"):
        CoTracker1Tracker(checkpoint=str(ckpt), preset="nope")
    v2 = tmp_path / "v2.pth"
    torch.save({"model": keyed_state_dict("cotracker2")}, v2)
    with pytest.raises(WeightsError, match="unexpected keys"):
        CoTracker1Tracker(checkpoint=str(v2), device="cpu")
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with pytest.raises(WeightsError, match="cotracker_stride_4_wind_8.pth"):
        CoTracker1Tracker(device="cpu")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "cotracker_stride_8_wind_16.pth").write_bytes(ckpt.read_bytes())
    assert CoTracker1Tracker(device="cpu", variant="stride_8_wind_16").model.stride == 8
