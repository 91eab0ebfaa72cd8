"""Parity with the official TAPIR / BootsTAPIR PyTorch code under keyed weights (README-tapir.md).

Tolerances are the README's: tracks 1e-2 px, occlusion / expected-distance logits 1e-2, visibility
exactly equal. Model level: ``TAPIR.forward`` on the 256x256 clip (all iterations). User level: the
trackers on the 96x128 clip (Lanczos resize, coordinate conversion, visibility rule; the causal demo's
frame-by-frame loop for the online model).
"""
import hashlib

import numpy as np
import pytest
import torch

from sampt.testing import golden, keyed_state_dict, manifest
from sampt.types import Video

from sampt_tapir.tracker import (OnlineBootsTapirTracker, TapirTracker, resize_frames,
                                  to_model_queries, visibility_score)

ATOL = 1e-2


@pytest.fixture(scope="module")
def trackers(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    made = {}

    def get(name):
        if name not in made:
            path = root / f"{name}_keyed.pt"
            torch.save(keyed_state_dict(name), path)
            cls = OnlineBootsTapirTracker if name == "bootstapir_online" else TapirTracker
            made[name] = cls(variant=name, checkpoint=str(path), device="cpu")
        return made[name]

    return get


def sampt_queries(g):
    """The golden's (t, y, x) raster queries as sampt (t, x, y) with integer pixel centres."""
    q = g["queries"][:, [0, 2, 1]].astype(np.float32)
    q[:, 1:] -= 0.5
    return q


@pytest.mark.parametrize("name", ["tapir", "bootstapir", "bootstapir_online"])
def test_state_dict_matches_manifest(name, trackers):
    state = trackers(name).model.state_dict()
    man = manifest(name)
    assert list(state) == list(man)  # same keys, same order
    for k, v in man.items():
        assert list(state[k].shape) == v["shape"], k


@pytest.mark.parametrize("name", ["tapir", "bootstapir", "bootstapir_online"])
def test_model_level_matches_official(name, trackers):
    g = golden(name)
    model = trackers(name).model
    frames = torch.from_numpy(g["video256_u8"]).float() / 255 * 2 - 1
    with torch.no_grad():
        out = model(frames[None], torch.from_numpy(g["model_queries"]))
    np.testing.assert_allclose(out["tracks"].numpy(), g["model_tracks"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(out["occlusion"].numpy(), g["model_occlusion"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(out["expected_dist"].numpy(), g["model_expected_dist"], rtol=0, atol=ATOL)
    assert len(out["unrefined_tracks"]) == 4
    for key in ("tracks", "occlusion", "expected_dist"):
        got = np.stack([x.numpy() for x in out[f"unrefined_{key}"]])
        assert got.shape == g[f"model_unrefined_{key}"].shape
        np.testing.assert_allclose(got, g[f"model_unrefined_{key}"], rtol=0, atol=ATOL, err_msg=key)
    # iteration 0 writes each query exactly at its own frame
    q = g["model_queries"][0]
    first = out["unrefined_tracks"][0][0].numpy()
    np.testing.assert_allclose(first[np.arange(6), q[:, 0].astype(int)], q[:, [2, 1]], atol=1e-5)


def test_demo_resize_and_query_conversion():
    g = golden("bootstapir")
    frames = resize_frames(g["video_u8"], (256, 256))
    assert hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest() == str(g["user_frames_256_sha256"])
    np.testing.assert_allclose(to_model_queries(sampt_queries(g), (96, 128), (256, 256)), g["user_queries_256"],
                               rtol=0, atol=1e-5)


def _check_user_tracks(tracks, g, queries):
    """sampt Tracks vs the demo's outputs: equal except at each query frame, where the point is pinned."""
    T, N = g["user_visibles"].T.shape
    ref = g["user_tracks"].transpose(1, 0, 2) - 0.5  # raster -> integer pixel centres
    ref_vis = g["user_visibles"].T.copy()
    t0 = queries[:, 0].astype(int)
    at_query = np.zeros((T, N), bool)
    at_query[t0, np.arange(N)] = True
    assert tracks.points.shape == (T, N, 2)
    np.testing.assert_allclose(tracks.points[~at_query], ref[~at_query], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(tracks.visibility[~at_query], ref_vis[~at_query])
    np.testing.assert_allclose(tracks.points[t0, np.arange(N)], queries[:, 1:], atol=1e-4)
    assert tracks.visibility[t0, np.arange(N)].all()


@pytest.mark.parametrize("name", ["tapir", "bootstapir"])
def test_user_level_matches_official_demo(name, trackers):
    g = golden(name)
    q = sampt_queries(g)
    tracks, raw = trackers(name).predict(Video(g["video_u8"]), q)
    np.testing.assert_allclose(raw["occlusion"], g["user_occlusion"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(raw["expected_dist"], g["user_expected_dist"], rtol=0, atol=ATOL)
    demo_tracks = raw["tracks"] * np.array([128 / 256, 96 / 256])
    np.testing.assert_allclose(demo_tracks, g["user_tracks"], rtol=0, atol=ATOL)
    score = visibility_score(torch.from_numpy(raw["occlusion"]), torch.from_numpy(raw["expected_dist"]))
    np.testing.assert_array_equal(score.numpy() > 0.5, g["user_visibles"])
    np.testing.assert_allclose(tracks.confidence, score.numpy().T, atol=1e-6)
    _check_user_tracks(tracks, g, q)


def test_online_user_level_matches_causal_demo(trackers):
    g = golden("bootstapir_online")
    tracker = trackers("bootstapir_online")
    frames = resize_frames(g["video_u8"], (256, 256))
    tracks, occ, expd = tracker.demo_outputs(frames, g["user_queries_256"])
    np.testing.assert_allclose(tracks.numpy() * np.array([128 / 256, 96 / 256]), g["user_tracks"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(occ.numpy(), g["user_occlusion"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(expd.numpy(), g["user_expected_dist"], rtol=0, atol=ATOL)
    np.testing.assert_array_equal((visibility_score(occ, expd) > 0.5).numpy(), g["user_visibles"])


def test_online_stream_matches_causal_demo_for_first_frame_queries(trackers):
    """Queries of frame 0 see the same features and state in the stream as in the demo's loop."""
    g = golden("bootstapir_online")
    q = sampt_queries(g)
    first = np.flatnonzero(q[:, 0] == 0)
    sub = {k: g[k][first] for k in ("user_tracks", "user_visibles")}
    stream = trackers("bootstapir_online").open_stream(q[first], 96, 128)
    parts = [stream.push(f) for f in g["video_u8"]]
    assert all(p.num_frames == 1 for p in parts)
    assert stream.finish().num_frames == 0
    from sampt.types import Tracks
    _check_user_tracks(Tracks.concatenate(parts, axis=0), sub, q[first])
