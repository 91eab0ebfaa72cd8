"""Parity with the official PIPS / PIPS++ code under keyed weights (golden files, README-pips.md).

Keyed weights make the refinement chaotic (a perturbation grows ~100x per iteration), so only the
outputs the README names as comparable are compared, with its tolerances; the full-iteration outputs
are checked for shape, finiteness and frame 0 = query.
"""
import numpy as np
import pytest
import torch

from sampt.testing import golden, keyed_state_dict

from sampt_pips.model_pips import Pips
from sampt_pips.model_pips2 import Pips2
from sampt_pips.inference import FrameFeatures, pips2_windows, pips_chain


@pytest.fixture(scope="module")
def pips_case():
    g = golden("pips")
    model = Pips(S=8, stride=4)
    model.load_state_dict(keyed_state_dict("pips"), strict=True)
    return g, model.eval()


@pytest.fixture(scope="module")
def pips2_case():
    g = golden("pips2")
    model = Pips2(stride=8)
    model.load_state_dict(keyed_state_dict("pips2"), strict=True)
    return g, model.eval()


def _video(g):
    return torch.from_numpy(g["video_u8"]).permute(0, 3, 1, 2)[None].float()


def _check_reference_only(tracks, ref, query):
    assert tracks.shape == ref.shape
    assert np.isfinite(tracks).all() and np.isfinite(ref).all()
    np.testing.assert_allclose(tracks[0, 0], query, atol=1e-5)
    np.testing.assert_allclose(ref[0, 0], query, atol=1e-5)


def test_pips_single_clip_matches_official(pips_case):
    g, model = pips_case
    with torch.no_grad():
        out = model(torch.from_numpy(g["query_xy"]), _video(g)[:, :8], iters=6)
    assert len(out.coords) == 6 and len(out.vis_iters) == 6
    np.testing.assert_allclose(out.coords[0].numpy(), g["tracks_iters"][0], rtol=0, atol=1e-2)
    np.testing.assert_allclose(out.coords[1].numpy(), g["tracks_iters"][1], rtol=0, atol=5e-2)
    np.testing.assert_allclose(out.vis_iters[0].numpy(), g["vis_logits_iters"][0], rtol=0, atol=1e-2)
    np.testing.assert_allclose(out.vis_iters[1].numpy(), g["vis_logits_iters"][1], rtol=0, atol=2e-2)
    # full-iteration outputs: reference only
    tracks = out.coords[-1].numpy()
    _check_reference_only(tracks, g["tracks"], g["query_xy"][0])
    for k in range(6):  # frame 0 is locked to the query after every iteration
        np.testing.assert_allclose(out.coords[k][0, 0].numpy(), g["query_xy"][0], atol=1e-5)
    assert out.vis.shape == g["vis_logits"].shape and torch.isfinite(out.vis).all()
    assert torch.equal(out.vis, out.vis_iters[-1])


def test_pips_iters_argument_matches_per_iteration_outputs(pips_case):
    g, model = pips_case
    with torch.no_grad():
        one = model(torch.from_numpy(g["query_xy"]), _video(g)[:, :8], iters=1)
    assert len(one.coords) == 1
    np.testing.assert_allclose(one.vis.numpy(), g["vis_logits_iters"][0], rtol=0, atol=1e-2)
    np.testing.assert_allclose(one.coords[0].numpy(), g["tracks_iters"][0], rtol=0, atol=1e-2)


def test_pips_chain_matches_official(pips_case):
    g, model = pips_case
    q = torch.from_numpy(g["query_xy"])[0]
    feats = FrameFeatures(model.encode, g["video_u8"], None, torch.device("cpu"), capacity=20)
    with torch.no_grad():
        tracks1, _, anchors1 = pips_chain(model, feats.get, 20, np.zeros(len(q), int), q, iters=1)
        tracks6, vis6, _ = pips_chain(model, feats.get, 20, np.zeros(len(q), int), q, iters=6)
    np.testing.assert_allclose(tracks1.numpy(), g["chain_iters1_tracks"][0], rtol=0, atol=1e-2)
    for n, a in enumerate(anchors1):
        ref = [int(v) for v in g["chain_iters1_anchors"][n] if v >= 0]
        assert a == ref == [0, 7, 14]
    assert feats.encoded == 20  # every frame encoded once across both chains
    _check_reference_only(tracks6.numpy()[None], g["chain_tracks"], g["query_xy"][0])
    assert torch.isfinite(vis6).all()


def test_pips2_demo_call_matches_official(pips2_case):
    g, model = pips2_case
    q = torch.from_numpy(g["query_xy"])
    init = q[:, None].repeat(1, 20, 1, 1)
    with torch.no_grad():
        demo = model(init, _video(g), iters=16, beautify=True)
        evaluation = model(init, _video(g), iters=16, beautify=False)
    assert len(demo.coords) == 17
    np.testing.assert_allclose(demo.coords[0].numpy(), g["tracks_iters"][0], rtol=0, atol=2e-2)
    np.testing.assert_allclose(demo.coords[1].numpy(), g["tracks_iters"][1], rtol=0, atol=0.3)
    # entries 0..15 are stored before frame 0 is re-locked: frame 0 moved there, as in the official code
    assert np.abs(demo.coords[0][0, 0].numpy() - g["query_xy"][0]).max() > 1e-4
    _check_reference_only(demo.coords[-1].numpy(), g["tracks"], g["query_xy"][0])
    _check_reference_only(evaluation.coords[-1].numpy(), g["eval_tracks"], g["query_xy"][0])


def test_pips2_window_loop_matches_official(pips2_case):
    g, model = pips2_case
    q = torch.from_numpy(g["query_xy"])[0]
    feats = FrameFeatures(model.encode, g["video_u8"], None, torch.device("cpu"), capacity=20)
    with torch.no_grad():
        tracks1, windows = pips2_windows(model, feats.get, 20, q, iters=1, window=8)
        tracks16, _ = pips2_windows(model, feats.get, 20, q, iters=16, window=8)
    assert [list(w) for w in windows] == g["fullseq8_windows"].tolist() == [[0, 8], [7, 15], [12, 20]]
    np.testing.assert_allclose(tracks1.numpy(), g["fullseq8_iters1_tracks"][0], rtol=0, atol=2.5)
    _check_reference_only(tracks16.numpy()[None], g["fullseq8_tracks"], g["query_xy"][0])


def test_trackers_reproduce_official_chains_at_native_size(tmp_path):
    """The Tracker interface end to end (native resolution, queries on frame 0) equals the official loops."""
    from sampt.types import Video
    from sampt_pips.tracker import Pips2Tracker, PipsTracker

    torch.save({"model_state_dict": keyed_state_dict("pips")}, tmp_path / "pips.pth")
    torch.save({"model_state_dict": keyed_state_dict("pips2")}, tmp_path / "pips2.pth")
    g = golden("pips")
    queries = np.concatenate([np.zeros((6, 1), np.float32), g["query_xy"][0]], axis=1)
    tracks = PipsTracker(str(tmp_path / "pips.pth"), device="cpu", iters=1, resolution=None).track(
        Video(g["video_u8"]), queries)
    np.testing.assert_allclose(tracks.points, g["chain_iters1_tracks"][0], rtol=0, atol=1e-2)
    g2 = golden("pips2")
    tracks2 = Pips2Tracker(str(tmp_path / "pips2.pth"), device="cpu", iters=1, resolution=None, window=8).track(
        Video(g2["video_u8"]), queries)
    np.testing.assert_allclose(tracks2.points, g2["fullseq8_iters1_tracks"][0], rtol=0, atol=2.5)
    assert tracks2.visibility.all()
