"""Tracker-interface behaviour of the TAPIR trackers on tiny inputs (keyed weights, 64x64 model input):
registration, strict checkpoint loading, coordinates, chunking invariance, streaming."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from sampt.plugins import OptionError, Registry
from sampt.testing import keyed_state_dict
from sampt.types import Tracks, Video
from sampt.weights import WeightsError

from sampt_tapir.tracker import (OnlineBootsTapirTracker, TapirTracker, causal_loop,
                                  from_model_points, resize_frames, to_model_queries, to_unit_range)

RES = (64, 64)


def tiny(tracker):
    """Run the network at 64x64 throughout (it otherwise upsamples any input to its 256x256 working
    resolution): same code paths, 16x less work."""
    tracker.model.initial_resolution = RES
    return tracker


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("tapir_ckpt")
    paths = {}
    for name in ("tapir", "bootstapir"):  # bootstapir_online has the same manifest as bootstapir
        paths[name] = root / f"{name}_keyed.pt"
        torch.save(keyed_state_dict(name), paths[name])
    paths["bootstapir_online"] = paths["bootstapir"]
    return paths


@pytest.fixture(scope="module")
def video():
    rng = np.random.RandomState(3)
    big = np.kron(rng.randint(0, 256, (14, 16, 3)), np.ones((4, 4, 1)))
    frames = np.stack([big[t:t + 40, 2 * t:2 * t + 48] for t in range(6)]).astype(np.uint8)
    return Video(frames)


@pytest.fixture(scope="module")
def tapir(ckpt):
    return tiny(TapirTracker(checkpoint=str(ckpt["tapir"]), device="cpu", resolution=RES))


@pytest.fixture(scope="module")
def online(ckpt):
    return tiny(OnlineBootsTapirTracker(checkpoint=str(ckpt["bootstapir_online"]), device="cpu", resolution=RES))


QUERIES = np.array([[0, 10.0, 12.0], [0, 30.5, 20.0], [3, 5.0, 35.0], [5, 47.0, 0.0]], np.float32)


def test_registered_lazily_with_official_weights():
    reg = Registry()
    for name in ("tapir", "bootstapir", "bootstapir_online"):
        assert name in reg.names("tracker")
    assert reg.entry("tracker", "causal_bootstapir").name == "bootstapir_online"
    urls = {n: reg.weights[n].url for n in ("tapir_checkpoint_panning", "bootstapir_checkpoint_v2",
                                            "causal_bootstapir_checkpoint")}
    assert urls["tapir_checkpoint_panning"] == "https://storage.googleapis.com/dm-tapnet/tapir_checkpoint_panning.pt"
    assert urls["bootstapir_checkpoint_v2"].endswith("/dm-tapnet/bootstap/bootstapir_checkpoint_v2.pt")
    assert urls["causal_bootstapir_checkpoint"].endswith("/dm-tapnet/bootstap/causal_bootstapir_checkpoint.pt")
    code = "import sys, sampt_tapir.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_created_from_registry_with_config_keys(ckpt):
    tr = Registry().create("tracker", "bootstapir", checkpoint=str(ckpt["bootstapir"]), device="cpu",
                           resolution=[64, 64], query_chunk_size=8)
    assert isinstance(tr, TapirTracker) and tr.variant == "bootstapir"
    assert tr.resolution == RES and tr.query_chunk_size == 8
    assert tr.capabilities.bidirectional and not tr.capabilities.online


def test_strict_loading_rejects_wrong_files(tmp_path, ckpt, monkeypatch):
    state = keyed_state_dict("bootstapir")
    del state["torch_pips_mixer.linear.bias"]
    torch.save(state, tmp_path / "missing.pt")
    with pytest.raises(WeightsError, match="missing"):
        TapirTracker(variant="bootstapir", checkpoint=str(tmp_path / "missing.pt"), device="cpu")
    state = keyed_state_dict("bootstapir")
    state["extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "extra.pt")
    with pytest.raises(WeightsError, match="unexpected"):
        TapirTracker(variant="bootstapir", checkpoint=str(tmp_path / "extra.pt"), device="cpu")
    with pytest.raises(WeightsError, match="does not match"):  # TAPIR weights into BootsTAPIR
        TapirTracker(variant="bootstapir", checkpoint=str(ckpt["tapir"]), device="cpu")
    with pytest.raises(WeightsError, match="does not match"):  # and the other way round
        TapirTracker(checkpoint=str(ckpt["bootstapir"]), device="cpu")
    # offline and causal BootsTAPIR share every key: the other variant's official file is refused
    torch.save(keyed_state_dict("bootstapir"), tmp_path / "bootstapir_checkpoint_v2.pt")
    with pytest.raises(WeightsError, match="not a bootstapir_online checkpoint"):
        OnlineBootsTapirTracker(checkpoint=str(tmp_path / "bootstapir_checkpoint_v2.pt"), device="cpu")
    cache = tmp_path / "cache"
    cache.mkdir()
    torch.save(keyed_state_dict("bootstapir"), cache / "causal_bootstapir_checkpoint.pt")
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(cache))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with pytest.raises(WeightsError, match="not a bootstapir checkpoint"):
        TapirTracker(variant="bootstapir", checkpoint="causal_bootstapir_checkpoint", device="cpu")
    tr = OnlineBootsTapirTracker(device="cpu", resolution=RES)  # default name, found in the cache
    assert tr.capabilities.online
    with pytest.raises(WeightsError, match="not in the cache"):
        TapirTracker(device="cpu")
    with pytest.raises(ValueError, match="online BootsTAPIR is the tracker bootstapir_online"):
        TapirTracker(variant="bootstapir_online", device="cpu")
    with pytest.raises(OptionError, match="variant is preset"):  # a preset is not settable from config
        Registry().create("tracker", "bootstapir", variant="tapir")


def test_coordinate_conversion_is_exact_at_the_boundary():
    q = np.array([[2, 0.0, 0.0], [0, 127.0, 95.0], [1, -0.5, 10.25]], np.float32)
    m = to_model_queries(q, (96, 128), (256, 256))
    np.testing.assert_allclose(m[0], [2, 0.5 * 256 / 96, 0.5 * 2])  # pixel centre (0, 0) -> raster +0.5, scaled
    np.testing.assert_allclose(m[1], [0, 256 - 256 / 96 / 2, 255.0], rtol=1e-6)
    back = from_model_points(m[:, [2, 1]], (96, 128), (256, 256))
    np.testing.assert_allclose(back, q[:, 1:], atol=1e-5)
    frames = np.random.RandomState(0).randint(0, 256, (2, 96, 128, 3)).astype(np.uint8)
    assert resize_frames(frames, (96, 128)) is frames
    assert resize_frames(frames, (64, 64)).shape == (2, 64, 64, 3)


def test_offline_tracker_interface(tapir, video):
    tracks = tapir.track(video, QUERIES)
    T, N = len(video), len(QUERIES)
    assert tracks.points.shape == (T, N, 2) and tracks.visibility.shape == (T, N)
    assert np.isfinite(tracks.points).all()
    assert tracks.confidence is not None and ((tracks.confidence >= 0) & (tracks.confidence <= 1)).all()
    t0 = QUERIES[:, 0].astype(int)
    np.testing.assert_allclose(tracks.points[t0, np.arange(N)], QUERIES[:, 1:], atol=1e-4)
    assert tracks.visibility[t0, np.arange(N)].all()
    other = np.ones((T, N), bool)
    other[t0, np.arange(N)] = False
    np.testing.assert_array_equal(tracks.visibility[other], tracks.confidence[other] > 0.5)
    # one pass covers both directions: frames before a query's frame are tracked, not filled in
    assert np.abs(tracks.points[:5, 3] - QUERIES[3, 1:]).max() > 1e-3
    empty = tapir.track(video, np.zeros((0, 3), np.float32))
    assert empty.points.shape == (T, 0, 2)
    with pytest.raises(ValueError, match="frame"):
        tapir.track(video, [[6, 1.0, 1.0]])
    with pytest.raises(ValueError, match="outside"):
        tapir.track(video, [[0, 48.0, 1.0]])
    with pytest.raises(NotImplementedError):
        tapir.open_stream(QUERIES, 40, 48)


def test_chunking_does_not_change_results(tapir, video):
    ref = tapir.track(video, QUERIES)
    model = tapir.model
    saved = (tapir.query_chunk_size, model.feature_chunk, model.cells_per_chunk)
    try:
        tapir.query_chunk_size, model.feature_chunk, model.cells_per_chunk = 3, 4, 5
        assert model._frame_step(3, 6) == 1  # frame chunks are really used
        got = tapir.track(video, QUERIES)
    finally:
        tapir.query_chunk_size, model.feature_chunk, model.cells_per_chunk = saved
    np.testing.assert_allclose(got.points, ref.points, atol=1e-3)
    np.testing.assert_allclose(got.confidence, ref.confidence, atol=1e-4)


def _loop(tracker, frames, queries):
    """The causal demo loop (features from all given frames) in sampt coordinates."""
    with torch.no_grad():
        tr, occ, expd = causal_loop(tracker.model, to_unit_range(resize_frames(frames, RES), tracker.device),
                                    torch.from_numpy(to_model_queries(queries, frames.shape[1:3], RES)))
    xy = from_model_points(tr.numpy(), frames.shape[1:3], RES).transpose(1, 0, 2)
    return xy, ((1 - torch.sigmoid(occ)) * (1 - torch.sigmoid(expd))).numpy().T


def test_stream_equals_offline_causal_loop(online, video):
    """Each query's stream, from its own frame on, is the causal demo loop run from that frame."""
    frames = video.frames
    stream = online.open_stream(QUERIES, video.height, video.width)
    parts = [stream.push(f) for f in frames]
    assert [p.num_frames for p in parts] == [1] * len(frames)
    assert stream.finish().num_frames == 0
    got = Tracks.concatenate(parts, axis=0)
    for start in np.unique(QUERIES[:, 0]).astype(int):
        sel = np.flatnonzero(QUERIES[:, 0] == start)
        q = QUERIES[sel].copy()
        q[:, 0] = 0
        xy, score = _loop(online, frames[start:], q)
        later = slice(start + 1, None)  # the query frame itself is pinned
        np.testing.assert_allclose(got.points[later][:, sel], xy[1:], atol=1e-3)
        np.testing.assert_allclose(got.confidence[later][:, sel], score[1:], atol=1e-4)
        np.testing.assert_allclose(got.points[start, sel], QUERIES[sel, 1:], atol=1e-5)
        assert got.visibility[start, sel].all()
        # before its frame a query waits at its position, invisible
        assert not got.visibility[:start, sel].any()
        np.testing.assert_allclose(got.points[:start, sel], np.broadcast_to(QUERIES[sel, 1:], (start, len(sel), 2)))
    offline = online.track(video, QUERIES)
    np.testing.assert_allclose(offline.points, got.points, atol=1e-5)
    np.testing.assert_array_equal(offline.visibility, got.visibility)


def test_stream_memory_does_not_grow(online, video):
    stream = online.open_stream(QUERIES[:2], video.height, video.width)

    def held():
        tensors = list(stream.query_lowres) + list(stream.query_hires)
        tensors += [v for s in stream.state for v in s.values()]
        return sum(t.numel() for t in tensors), len(tensors)

    stream.push(video.frames[0])
    size = held()
    for f in video.frames[1:4]:
        stream.push(f)
    assert held() == size
    with pytest.raises(ValueError, match="uint8 frame"):
        stream.push(video.frames[0][:10])
    assert online.capabilities.online and not online.capabilities.bidirectional


def test_larger_input_adds_refinement_levels(tapir, video):
    """Inputs above the working resolution get the official extra PIPs levels (4 iterations each)."""
    frames = torch.from_numpy(resize_frames(video.frames[:3], (128, 128))).float() / 255 * 2 - 1
    with torch.no_grad():
        out = tapir.model(frames[None], torch.tensor([[[0, 40.0, 50.0], [2, 100.0, 7.0]]]))
    assert len(out["unrefined_tracks"]) == 8  # cost volume + 4 at 64x64 + 3 at 128x128 (+ the last)
    assert out["tracks"].shape == (1, 2, 3, 2) and torch.isfinite(out["tracks"]).all()
    np.testing.assert_allclose(out["unrefined_tracks"][0][0, [0, 1], [0, 2]].numpy(), [[50.0, 40.0], [7.0, 100.0]])
