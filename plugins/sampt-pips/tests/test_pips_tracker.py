"""Tracker-interface behaviour of PIPS and PIPS++ on tiny inputs (keyed weights)."""
import numpy as np
import pytest
import torch

from sampt.testing import golden, keyed_state_dict
from sampt.types import Video

from sampt_pips.model_blocks import check_input_size
from sampt_pips.model_pips import Pips
from sampt_pips.model_pips2 import Pips2
from sampt_pips.inference import FrameFeatures, next_anchor, pips2_windows, pips_chain
from sampt_pips.tracker import Pips2Tracker, PipsTracker, from_model_xy, to_model_xy


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    torch.save({"model_state_dict": keyed_state_dict("pips")}, d / "pips.pth")
    torch.save({"model_state_dict": keyed_state_dict("pips2")}, d / "pips2.pth")
    return d


@pytest.fixture(scope="module")
def tiny_video():
    return Video(golden("pips")["video_u8"][:10, :64, :80].copy())


def _pips(ckpts, **kw):
    return PipsTracker(str(ckpts / "pips.pth"), device="cpu", **{"iters": 2, "resolution": None, **kw})


def _pips2(ckpts, **kw):
    return Pips2Tracker(str(ckpts / "pips2.pth"), device="cpu", **{"iters": 2, "resolution": (128, 128), "window": 6, **kw})


QUERIES = np.array([[0, 10, 20], [4, 40.5, 30], [9, 70, 60], [4, 79, 0]], np.float32)


@pytest.mark.parametrize("make", [_pips, _pips2])
def test_tracks_contract(ckpts, tiny_video, make):
    tracker = make(ckpts)
    tracks = tracker.track(tiny_video, QUERIES)
    T, N = len(tiny_video), len(QUERIES)
    assert tracks.points.shape == (T, N, 2) and tracks.visibility.shape == (T, N)
    assert tracks.points.dtype == np.float32 and np.isfinite(tracks.points).all()
    t0 = QUERIES[:, 0].astype(int)
    np.testing.assert_array_equal(tracks.points[t0, np.arange(N)], QUERIES[:, 1:])
    assert tracks.visibility[t0, np.arange(N)].all()
    if not tracker.capabilities.has_visibility:
        assert tracks.visibility.all()
    # deterministic
    again = tracker.track(tiny_video, QUERIES)
    np.testing.assert_array_equal(again.points, tracks.points)
    # empty queries
    empty = tracker.track(tiny_video, np.zeros((0, 3), np.float32))
    assert empty.points.shape == (T, 0, 2)


@pytest.mark.parametrize("make", [_pips, _pips2])
def test_backward_is_forward_on_reversed_video(ckpts, tiny_video, make):
    """Frames before a query come from tracking the reversed video forward from the query frame."""
    tracker = make(ckpts)
    T = len(tiny_video)
    q = np.array([[6, 30, 25]], np.float32)
    tracks = tracker.track(tiny_video, q)
    reversed_video = Video(tiny_video.frames[::-1].copy())
    rq = np.array([[T - 1 - 6, 30, 25]], np.float32)
    rtracks = tracker.track(reversed_video, rq)
    np.testing.assert_allclose(tracks.points[:6], rtracks.points[::-1][:6], atol=1e-4)
    np.testing.assert_array_equal(tracks.visibility[:6], rtracks.visibility[::-1][:6])
    # and frames from the query on do not depend on the frames before it
    cut = tracker.track(Video(tiny_video.frames[6:].copy()), np.array([[0, 30, 25]], np.float32))
    np.testing.assert_allclose(tracks.points[6:], cut.points, atol=1e-4)


@pytest.mark.parametrize("make", [_pips, _pips2])
def test_very_short_videos(ckpts, tiny_video, make):
    tracker = make(ckpts)
    for T in (1, 2, 3):
        video = Video(tiny_video.frames[:T].copy())
        q = np.array([[0, 10, 20], [T - 1, 30, 30]], np.float32)
        tracks = tracker.track(video, q)
        assert tracks.points.shape == (T, 2, 2) and np.isfinite(tracks.points).all()
        np.testing.assert_array_equal(tracks.points[T - 1, 1], [30, 30])


def test_invalid_queries(ckpts, tiny_video):
    tracker = _pips(ckpts)
    with pytest.raises(ValueError, match="outside"):
        tracker.track(tiny_video, np.array([[0, 80, 10]], np.float32))
    with pytest.raises(ValueError, match="frame 10"):
        tracker.track(tiny_video, np.array([[10, 5, 5]], np.float32))


def test_resolution_check(ckpts, tiny_video):
    with pytest.raises(ValueError, match=r"PIPS\+\+ needs a model input of at least 128x128 .*got 96x128"):
        _pips2(ckpts, resolution=(96, 128))
    with pytest.raises(ValueError, match=r"at least 128x128.*got 64x80"):
        _pips2(ckpts, resolution=None).track(tiny_video, QUERIES)
    with pytest.raises(ValueError, match=r"PIPS needs a model input of at least 64x64"):
        _pips(ckpts, resolution=(48, 64))
    check_input_size(128, 128, 8, "x")
    check_input_size(64, 64, 4, "x")
    with pytest.raises(ValueError):
        check_input_size(127, 512, 8, "x")  # 15 cells -> 7 -> 3 -> 1: NaN in the official sampler
    with pytest.raises(ValueError, match="height, width"):
        _pips(ckpts, resolution=(64,))


def test_resolution_is_used_and_coordinates_convert(ckpts, tiny_video):
    """Pixel centres map through the align_corners=False resize: x' = (x + 0.5) * W'/W - 0.5."""
    src, dst = (64, 80), (128, 240)
    xy = np.array([[0.0, 0.0], [79.0, 63.0], [-0.5, -0.5], [10.25, 3.5]])
    m = to_model_xy(xy, src, dst)
    np.testing.assert_allclose(m[0], [1.0, 0.5])
    np.testing.assert_allclose(m[1], [238.0, 126.5])  # last pixel centre: 2*64-1.5
    np.testing.assert_allclose(m[2], [-0.5, -0.5])  # the frame edge stays the frame edge
    np.testing.assert_allclose(from_model_xy(m, src, dst), xy)
    # the frames the model sees are the official F.interpolate resize
    frames = tiny_video.frames[:2]
    seen = []
    ff = FrameFeatures(lambda r: seen.append(r) or torch.zeros(1, r.shape[1], 1, 1, 1), frames, (128, 160),
                       torch.device("cpu"))
    ff.get([0, 1])
    ref = torch.nn.functional.interpolate(torch.from_numpy(frames).permute(0, 3, 1, 2).float(), (128, 160),
                                          mode="bilinear", align_corners=False)
    assert torch.equal(seen[0][0], ref)
    # the tracker feeds the model frames at its configured resolution
    tracker = _pips2(ckpts, resolution=(128, 160))
    shapes = []
    encode = tracker.model.encode
    tracker.model.encode = lambda r: shapes.append(tuple(r.shape[-2:])) or encode(r)
    tracks = tracker.track(tiny_video, QUERIES[:1])
    assert shapes and set(shapes) == {(128, 160)}
    np.testing.assert_array_equal(tracks.points[0, 0], QUERIES[0, 1:])


def test_anchor_search_follows_official_rule():
    p = torch.tensor([0.99, 0.95, 0.95, 0.2, 0.95, 0.1, 0.3, 0.2])
    assert next_anchor(p) == 4  # last frame (from 7 down) above 0.9
    p = torch.tensor([0.99, 0.95, 0.89, 0.2, 0.2, 0.1, 0.3, 0.2])
    assert next_anchor(p) == 2  # frame 1 is never taken: threshold 0.9 fails, 0.88 takes frame 2
    assert next_anchor(torch.full((8,), 0.5)) == 7  # threshold lowered until 0.5 passes
    assert next_anchor(torch.full((8,), float("nan"))) == 7  # terminates


def test_batched_equals_one_point_at_a_time():
    """The official chain runs one point per call; PIPS and PIPS++ treat points independently, so batched
    calls give the same result. Checked in float64 (float32 GEMMs of different shapes round differently,
    and keyed weights amplify that ~100x per iteration)."""
    g = golden("pips")
    q = torch.from_numpy(g["query_xy"])[0, :3].double()
    model = Pips()
    model.load_state_dict(keyed_state_dict("pips"))
    model.eval().double()
    ff = FrameFeatures(model.encode, g["video_u8"][:12], None, torch.device("cpu"), capacity=12, dtype=torch.float64)
    starts = np.array([0, 3, 0])
    with torch.no_grad():
        batched, vb, anchors = pips_chain(model, ff.get, 12, starts, q, iters=2)
        chunked, vc, _ = pips_chain(model, ff.get, 12, starts, q, iters=2, max_points=1)
        for n in range(3):
            single, vs, a = pips_chain(model, ff.get, 12, starts[n:n + 1], q[n:n + 1], iters=2)
            assert a[0] == anchors[n]
            np.testing.assert_allclose(batched[:, n].numpy(), single[:, 0].numpy(), atol=1e-6)
            np.testing.assert_allclose(vb[:, n].numpy(), vs[:, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(batched.numpy(), chunked.numpy(), atol=1e-6)

    g2 = golden("pips2")
    q2 = torch.from_numpy(g2["query_xy"])[0, :3].double()
    model2 = Pips2()
    model2.load_state_dict(keyed_state_dict("pips2"))
    model2.eval().double()
    ff2 = FrameFeatures(model2.encode, g2["video_u8"][:10], None, torch.device("cpu"), capacity=10, dtype=torch.float64)
    with torch.no_grad():
        batched2, _ = pips2_windows(model2, ff2.get, 10, q2, iters=2, window=6)
        chunked2, _ = pips2_windows(model2, ff2.get, 10, q2, iters=2, window=6, max_points=2)
        for n in range(3):
            single2, _ = pips2_windows(model2, ff2.get, 10, q2[n:n + 1], iters=2, window=6)
            np.testing.assert_allclose(batched2[:, n].numpy(), single2[:, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(batched2.numpy(), chunked2.numpy(), atol=1e-6)


def test_batched_equals_unbatched_in_float32_first_iteration():
    """At the official precision the difference is rounding only (before chaotic amplification)."""
    g = golden("pips")
    model = Pips()
    model.load_state_dict(keyed_state_dict("pips"))
    model.eval()
    video = torch.from_numpy(g["video_u8"][:8]).permute(0, 3, 1, 2)[None].float()
    q = torch.from_numpy(g["query_xy"])
    with torch.no_grad():
        fmaps = model.encode(video)
        together = model(q, fmaps=fmaps, iters=1)
        for n in range(q.shape[1]):
            alone = model(q[:, n:n + 1], fmaps=fmaps, iters=1)
            np.testing.assert_allclose(together.coords[0][:, :, n].numpy(), alone.coords[0][:, :, 0].numpy(), atol=1e-3)
            np.testing.assert_allclose(together.vis[:, :, n].numpy(), alone.vis[:, :, 0].numpy(), atol=1e-3)
