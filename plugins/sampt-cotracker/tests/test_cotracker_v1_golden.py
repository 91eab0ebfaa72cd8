"""CoTracker 1 (v1.0, the SAM-PT paper's) against the official code's and SAM-PT's wrapper's golden outputs
under keyed weights (golden/README-cotracker1.md)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sampt.plugins import Registry
from sampt.testing import golden, keyed_state_dict, manifest
from sampt.types import Video

from sampt_cotracker.model_v1 import CoTracker1
from sampt_cotracker.plugin import VARIANTS

MODEL_TOL = {"w1_it1": (1e-2, 1e-2), "w1_it2": (0.5, 2e-2), "w2_it1": (0.5, 2e-2)}  # (tracks px, vis logits)
WRAPPER_TOL = 0.1


def logit(p):
    p = np.asarray(p, np.float64)
    return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def g():
    return golden("cotracker1")


@pytest.fixture(scope="module")
def model():
    m = CoTracker1(window_len=8, stride=4)
    m.load_state_dict(keyed_state_dict("cotracker1"), strict=True)
    return m.eval()


@pytest.fixture(scope="module")
def store():
    return {}


@pytest.mark.parametrize("variant", [n for n, v in VARIANTS.items() if v.version == 1])
def test_state_dict_matches_manifest(variant):
    """Every variant has the paper model's keys and shapes (they differ in stride and window only)."""
    man = manifest("cotracker1")
    stride, window = VARIANTS[variant].stride, VARIANTS[variant].window
    sd = CoTracker1(window_len=window, stride=stride).state_dict()
    assert list(sd) == list(man)
    for k, v in man.items():
        assert list(sd[k].shape) == v["shape"], k


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


def test_sampt_reference_wrapper(g, tmp_path):
    """`tracker=cotracker1` with its defaults (the SAM-PT paper's settings) reproduces SAM-PT's own CoTracker
    wrapper: align_corners=False resize, 2x2 support grid every 12 frames, zero-filling backward pass,
    visibility > 0.7 (iterations forced to 1 as in the golden run)."""
    ckpt = tmp_path / "cotracker_stride_4_wind_8.pth"
    torch.save({"model": keyed_state_dict("cotracker1")}, ckpt)
    tracker = Registry().create("tracker", "cotracker1", checkpoint=str(ckpt), device="cpu", iters=1)
    assert tracker.preset == "sampt_reference" and tracker.variant == "stride_4_wind_8"
    out = tracker.track(Video(g["video_u8"][:12].copy()), g["sampt_wrapper_it1_queries"][0])
    err = np.abs(out.points - g["sampt_wrapper_it1_tracks"][0]).max()
    assert err <= WRAPPER_TOL, f"tracks differ by {err:.3g} px (tolerance {WRAPPER_TOL})"
    np.testing.assert_array_equal(out.visibility, g["sampt_wrapper_it1_vis"][0])
