"""CoTracker 2 against the official code's golden outputs under keyed weights (golden/README-cotracker2.md)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sampt.testing import golden, keyed_state_dict, manifest
from sampt.types import Video

from sampt_cotracker.tracker_v2 import CoTracker2Tracker
from sampt_cotracker.model_v2 import CoTracker2
from sampt_cotracker.windowed import run_predictor

# golden/README-cotracker2.md tolerances (never loosen: a mismatch is a difference in the computation)
MODEL_TOL = {"w1_it1": (1e-2, 1e-2), "w1_it2": (0.5, 2e-2), "w2_it1": (0.5, 2e-2)}  # (tracks px, vis logits)
PRED_TOL = 0.1


def logit(p):
    p = np.asarray(p, np.float64)
    return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def g():
    return golden("cotracker2")


@pytest.fixture(scope="module")
def model():
    m = CoTracker2(window_len=8)
    m.load_state_dict(keyed_state_dict("cotracker2"), strict=True)
    return m.eval()


@pytest.fixture(scope="module")
def store():
    """Frame features shared by the model-level calls (the same frames: each is encoded once)."""
    return {}


def test_state_dict_matches_manifest():
    man = manifest("cotracker2")
    sd = CoTracker2(window_len=8).state_dict()
    assert list(sd) == list(man)
    for k, v in man.items():
        assert list(sd[k].shape) == v["shape"], k
        assert str(sd[k].dtype) == "torch." + v["dtype"], k
    # the 16-frame variant differs only by its time embedding
    sd16 = CoTracker2(window_len=16).state_dict()
    assert list(sd16) == list(man) and tuple(sd16["time_emb"].shape) == (1, 16, 456)


@pytest.mark.parametrize("name, frames, iters", [("w1_it1", 8, 1), ("w1_it2", 8, 2), ("w2_it1", 12, 1)])
def test_model_level(g, model, store, name, frames, iters):
    video = torch.from_numpy(g["video_u8"][:frames]).permute(0, 3, 1, 2).float()
    video = F.interpolate(video, (384, 512), mode="bilinear", align_corners=True)[None]
    queries = torch.from_numpy(g[f"model_{name}_queries"])
    with torch.no_grad():
        tracks, vis = model(video, queries, iters=iters, feature_store=store)
    tol_tracks, tol_logits = MODEL_TOL[name]
    assert tracks.shape == g[f"model_{name}_tracks"].shape
    err = np.abs(tracks.numpy() - g[f"model_{name}_tracks"]).max()
    assert err <= tol_tracks, f"{name}: tracks differ by {err:.3g} px (tolerance {tol_tracks})"
    lerr = np.abs(logit(vis.numpy()) - logit(g[f"model_{name}_vis"])).max()
    assert lerr <= tol_logits, f"{name}: visibility logits differ by {lerr:.3g} (tolerance {tol_logits})"


def test_predictor_level_backward(g, store, tmp_path):
    """The official predictor (6x6 support grid, backward pass, threshold 0.9, query points written) with
    iters forced to 1: the sampt tracker with a checkpoint nested under "model". Its frames are resized as
    at model level, so the features the model-level tests encoded are reused (``track`` is this call with
    a fresh store)."""
    ckpt = tmp_path / "cotracker2.pth"
    torch.save({"model": keyed_state_dict("cotracker2")}, ckpt)
    tracker = CoTracker2Tracker(checkpoint=str(ckpt), device="cpu", iters=1)
    queries = g["pred_bwd_it1_queries"][0]
    out = run_predictor(tracker.model, Video(g["video_u8"][:12].copy()), queries, tracker.settings(),
                        tracker.device, feature_store=store)
    want = g["pred_bwd_it1_tracks"][0]
    err = np.abs(out.points - want).max()
    assert err <= PRED_TOL, f"tracks differ by {err:.3g} px (tolerance {PRED_TOL})"
    np.testing.assert_array_equal(out.visibility, g["pred_bwd_it1_vis"][0])
    assert out.confidence is None
