"""Golden parity of CoTracker 3 (offline and online) with the official code under keyed weights.

Every output of ``cotracker3_offline.npz`` and ``cotracker3_online.npz`` is reproduced, at the model level
and at the predictor level, within the tolerances of ``golden/README-cotracker3_*.md``: tracks 1e-2 px,
visibility / confidence compared as logits (float64) 1e-2, boolean visibility exactly.

To keep the suite fast the CNN encoder's output is memoised per input tensor (its computation is per frame
and deterministic, so a repeated encode of identical frames is skipped, not approximated): the model-level
test encodes the golden video once and the predictor-level runs reuse it; the two online loops share
their per-frame encodings.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sampt.testing import golden, keyed_state_dict
from sampt.types import Video
from sampt_cotracker import predictor as pu
from sampt_cotracker.tracker_v3 import CoTracker3OfflineTracker, CoTracker3OnlineTracker, OnlineSession
from sampt_cotracker.model_v3 import CoTracker3

TRACK_ATOL = 1e-2
LOGIT_ATOL = 1e-2
MODEL_HW = (384, 512)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return np.log(p) - np.log1p(-p)


def memoise_encode(model: CoTracker3) -> dict:
    """Make ``model.encode`` remember its results by input content; returns the memo (for assertions)."""
    memo: dict = {}
    encode = model.encode

    def cached(video: torch.Tensor, chunk: int = 8):
        key = (tuple(video.shape), hashlib.blake2b(video.detach().cpu().numpy().tobytes(), digest_size=16).hexdigest())
        if key not in memo:
            memo[key] = encode(video, chunk)
        return memo[key]

    model.encode = cached
    return memo


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "cotracker3_offline_keyed.pth"
    torch.save(keyed_state_dict("cotracker3_offline"), path)
    tracker = CoTracker3OfflineTracker(checkpoint=str(path), device="cpu")
    memoise_encode(tracker.model)
    return tracker, golden("cotracker3_offline")


@pytest.fixture(scope="module")
def online(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "cotracker3_online_keyed.pth"
    torch.save(keyed_state_dict("cotracker3_online"), path)
    tracker = CoTracker3OnlineTracker(checkpoint=str(path), device="cpu")
    memoise_encode(tracker.model)
    return tracker, golden("cotracker3_online")


def test_offline_model_level(offline):
    tracker, g = offline
    video = torch.from_numpy(g["video_u8"]).permute(0, 3, 1, 2).float()
    video = F.interpolate(video, MODEL_HW, mode="bilinear", align_corners=True)[None]
    queries = torch.from_numpy(g["model_queries"])
    expected = pu.to_model_coords(torch.from_numpy(g["queries"]), (96, 128), MODEL_HW)
    np.testing.assert_allclose(queries.numpy(), expected.numpy(), atol=1e-4)  # the predictor's scaling
    with torch.no_grad():
        tracks, vis, conf = tracker.model(video, queries, iters=6)
    np.testing.assert_allclose(tracks.numpy(), g["model_tracks"], atol=TRACK_ATOL, rtol=0)
    np.testing.assert_allclose(logit(vis.numpy()), logit(g["model_vis"]), atol=LOGIT_ATOL, rtol=0)
    np.testing.assert_allclose(logit(conf.numpy()), logit(g["model_conf"]), atol=LOGIT_ATOL, rtol=0)


def _video(g) -> torch.Tensor:
    return torch.from_numpy(g["video_u8"]).permute(0, 3, 1, 2)[None].float()


def test_offline_predictor_forward_only(offline):
    """``backward_tracking=False`` (``pred_fwd_*``); ``pred_bwd_*`` is checked through the Tracker interface below."""
    tracker, g = offline
    result = tracker.predict(_video(g), torch.from_numpy(g["queries"]), backward_tracking=False)
    np.testing.assert_allclose(result.tracks.numpy(), g["pred_fwd_tracks"], atol=TRACK_ATOL, rtol=0)
    np.testing.assert_array_equal(result.visible.numpy(), g["pred_fwd_vis"])


def test_offline_predictor_grid_in_mask(offline):
    tracker, g = offline
    video = Video(g["video_u8"])
    tracks = tracker.track_grid(video, 16, mask=g["segm_mask"])
    assert tracks.points.shape == g["pred_grid_tracks"].shape[1:]
    np.testing.assert_allclose(tracks.points, g["pred_grid_tracks"][0], atol=TRACK_ATOL, rtol=0)
    np.testing.assert_array_equal(tracks.visibility, g["pred_grid_vis"][0])
    # the mask-restricted grid really lies in the mask (the square at frame 0)
    assert np.all(g["segm_mask"][np.round(tracks.points[0, :, 1]).astype(int), np.round(tracks.points[0, :, 0]).astype(int)])


def test_offline_tracker_interface_backward_tracking(offline):
    """The official predictor with ``backward_tracking=True`` (``pred_bwd_*``), through sampt's Tracker
    interface (numpy in and out, sampt coordinates, default options)."""
    tracker, g = offline
    tracks = tracker.track(Video(g["video_u8"]), g["queries"][0])
    np.testing.assert_allclose(tracks.points, g["pred_bwd_tracks"][0], atol=TRACK_ATOL, rtol=0)
    np.testing.assert_array_equal(tracks.visibility, g["pred_bwd_vis"][0])
    q = g["queries"][0]
    np.testing.assert_array_equal(tracks.points[q[:, 0].astype(int), np.arange(len(q))], q[:, 1:])
    assert tracks.confidence is not None and tracks.confidence.shape == tracks.visibility.shape


def _online_loop(tracker, g, support: int):
    """Our online session over the golden video, frame by frame; returns raw (coords, vis, conf logits)."""
    q = pu.to_model_coords(torch.from_numpy(g["queries"]), (96, 128), MODEL_HW)
    q = pu.add_support_grid(q, support, MODEL_HW)
    session = OnlineSession(tracker.model, q, iters=6, window_len=16)
    outs = []
    for frame in g["video_u8"]:
        x = torch.from_numpy(frame).permute(2, 0, 1)[None, None].float()
        outs.append(session.push(pu.resize_video(x, MODEL_HW)[:, 0]))
        assert len(session.buffer) < 16  # bounded: never more than one window of frame features
    outs.append(session.finish())
    return [torch.cat([o[i] for o in outs], dim=1)[:, :, :6] for i in range(3)]


@pytest.mark.parametrize("support, prefix", [(0, "pred"), (6, "pred_support")])
def test_online_model_and_predictor(online, support, prefix):
    tracker, g = online
    assert int(g["step"]) == 8
    coords, vis, conf = _online_loop(tracker, g, support)
    if support == 0:  # the raw model outputs of the official loop's last call
        np.testing.assert_allclose(coords.numpy(), g["model_tracks_last"], atol=TRACK_ATOL, rtol=0)
        np.testing.assert_allclose(vis.double().numpy(), logit(g["model_vis_last"]), atol=LOGIT_ATOL, rtol=0)
        np.testing.assert_allclose(conf.double().numpy(), logit(g["model_conf_last"]), atol=LOGIT_ATOL, rtol=0)
    tracks = pu.from_model_coords(coords, MODEL_HW, (96, 128)).numpy()
    visible = (torch.sigmoid(vis) * torch.sigmoid(conf) > 0.6).numpy()
    np.testing.assert_allclose(tracks, g[f"{prefix}_tracks"], atol=TRACK_ATOL, rtol=0)
    np.testing.assert_array_equal(visible, g[f"{prefix}_vis"])


def test_online_tracker_stream_matches_predictor(online):
    """Through open_stream (sampt's TrackStream): after each query's frame the official predictor's output;
    up to it, sampt's contract (invisible at the query position before, visible on it)."""
    tracker, g = online
    q = g["queries"][0]
    stream = tracker.open_stream(q, 96, 128)
    parts = [stream.push(f) for f in g["video_u8"]]
    parts.append(stream.finish())
    assert [p.num_frames for p in parts[:8]] == [0] * 8  # nothing is final before the first window ran
    tracks = type(parts[0]).concatenate(parts, axis=0)
    assert tracks.points.shape == (20, 6, 2)
    t = np.arange(20)[:, None]
    after = t > q[:, 0][None]
    np.testing.assert_allclose(tracks.points[after], g["pred_tracks"][0][after], atol=TRACK_ATOL, rtol=0)
    np.testing.assert_array_equal(tracks.visibility[after], g["pred_vis"][0][after])
    before = t < q[:, 0][None]
    assert not tracks.visibility[before].any()
    np.testing.assert_array_equal(tracks.points[q[:, 0].astype(int), np.arange(6)], q[:, 1:])
    assert tracks.visibility[q[:, 0].astype(int), np.arange(6)].all()
