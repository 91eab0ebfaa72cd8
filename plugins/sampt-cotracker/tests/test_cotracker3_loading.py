"""CoTracker 3 checkpoints: strict keys and shapes, nested checkpoints, wrong checkpoints, registered specs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sampt.plugins import Registry
from sampt.testing import keyed_state_dict, manifest
from sampt.weights import WeightsError
from sampt_cotracker.tracker_v3 import CoTracker3OfflineTracker, CoTracker3OnlineTracker
from sampt_cotracker.model_v3 import CoTracker3

SMALL = (32, 48)  # model resolution for tests that do not look at outputs


@pytest.mark.parametrize("name, window", [("cotracker3_offline", 60), ("cotracker3_online", 16)])
def test_state_dict_matches_manifest_exactly(name, window):
    model = CoTracker3(window_len=window)
    man = manifest(name)
    state = model.state_dict()
    assert list(state) == list(man)  # same keys, same order
    for key, spec in man.items():
        assert list(state[key].shape) == spec["shape"], key
        assert str(state[key].dtype).replace("torch.", "") == spec["dtype"], key
    keyed = keyed_state_dict(name)
    result = model.load_state_dict(keyed, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(model.updateformer.virual_tracks, keyed["updateformer.virual_tracks"])


def test_fresh_time_embedding_is_sincos():
    """Without a checkpoint the time embedding buffer is the sine/cosine table (the checkpoint overrides it)."""
    emb = CoTracker3(window_len=16).time_emb
    assert emb.shape == (1, 16, 1110)
    torch.testing.assert_close(emb[0, :, 0], torch.sin(torch.arange(16.0)))
    torch.testing.assert_close(emb[0, :, 555], torch.cos(torch.arange(16.0)))


def test_checkpoint_nested_under_model_loads(tmp_path):
    state = keyed_state_dict("cotracker3_offline")
    path = tmp_path / "nested.pth"
    torch.save({"model": state, "optimizer": {}, "step": 3}, path)
    tracker = CoTracker3OfflineTracker(checkpoint=str(path), device="cpu", model_resolution=SMALL)
    loaded = tracker.model.state_dict()
    for key in ("time_emb", "fnet.conv1.weight", "corr_mlp.fc2.bias"):
        torch.testing.assert_close(loaded[key], state[key])


def test_online_checkpoint_is_rejected_by_offline_tracker(tmp_path):
    path = tmp_path / "scaled_online.pth"
    torch.save(keyed_state_dict("cotracker3_online"), path)
    with pytest.raises(WeightsError, match=r"time_emb") as info:
        CoTracker3OfflineTracker(checkpoint=str(path), device="cpu", model_resolution=SMALL)
    assert "shape" in str(info.value) and str(path) in str(info.value)


def test_other_model_checkpoint_is_rejected_with_key_names(tmp_path):
    path = tmp_path / "not_cotracker3.pth"
    state = keyed_state_dict("cotracker3_online")
    state = {k.replace("updateformer.", "transformer."): v for k, v in state.items()}  # another architecture's names
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"missing keys .*updateformer\.") as info:
        CoTracker3OnlineTracker(checkpoint=str(path), device="cpu", model_resolution=SMALL)
    assert "unexpected keys" in str(info.value)


def test_not_a_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"this is not a torch file")
    with pytest.raises(WeightsError, match="could not be read"):
        CoTracker3OfflineTracker(checkpoint=str(path), device="cpu", model_resolution=SMALL)


def test_missing_file_names_the_known_checkpoints(tmp_path):
    with pytest.raises(WeightsError, match="cotracker3_online"):
        CoTracker3OnlineTracker(checkpoint=str(tmp_path / "nope.pth"), device="cpu")


def test_default_checkpoint_resolves_through_the_weights_cache(tmp_path, monkeypatch):
    """No ``checkpoint``: the registered default is looked up by :func:`sampt.weights.resolve` (cache first)."""
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"scaled_offline\.pth.*huggingface\.co/facebook/cotracker3"):
        CoTracker3OfflineTracker(device="cpu", model_resolution=SMALL)
    torch.save(keyed_state_dict("cotracker3_offline"), tmp_path / "scaled_offline.pth")
    tracker = CoTracker3OfflineTracker(device="cpu", model_resolution=SMALL)
    assert tracker.model.time_emb.shape[1] == 60


def test_registered_trackers_and_checkpoints():
    reg = Registry()
    for name in ("cotracker3_offline", "cotracker3_online", "cotracker2", "cotracker1"):
        assert name in reg.names("tracker")
    assert isinstance(reg.entry("tracker", "cotracker3_offline").factory, (str, type))
    params = reg.entry("tracker", "cotracker3_online").parameters()
    for key in ("checkpoint", "device", "iters", "model_resolution", "support_grid_size", "visibility_threshold",
                "window_len"):
        assert key in params
    files = {
        "cotracker3_offline": "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_offline.pth",
        "cotracker3_online": "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_online.pth",
        "cotracker2": "https://huggingface.co/facebook/cotracker/resolve/main/cotracker2.pth",
        "cotracker2v1": "https://huggingface.co/facebook/cotracker/resolve/main/cotracker2v1.pth",
    }
    for name, url in files.items():
        assert reg.weights[name].url == url
    for name in ("cotracker_stride_4_wind_8", "cotracker_stride_4_wind_12", "cotracker_stride_8_wind_16"):
        assert reg.weights[name].filename == name + ".pth"


def test_iters_is_a_parameter(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save(keyed_state_dict("cotracker3_offline"), path)
    video = torch.from_numpy(np.random.RandomState(0).randint(0, 255, (1, 4, 3, 32, 48))).float()
    q = torch.tensor([[[0.0, 10.0, 12.0], [1.0, 30.0, 20.0]]])
    model = CoTracker3OfflineTracker(checkpoint=str(path), device="cpu", model_resolution=SMALL).model
    with torch.no_grad():
        one = model(video, q, iters=1)[0]
        two = model(video, q, iters=2)[0]
    assert not torch.allclose(one, two)
    with pytest.raises(ValueError, match="iters"):
        CoTracker3OfflineTracker(checkpoint=str(path), device="cpu", iters=0)


def test_cotracker2v1_is_a_name_with_a_preset_variant():
    from sampt.plugins import Registry

    entry = Registry().entry("tracker", "cotracker2v1")
    assert entry.defaults == {"variant": "cotracker2v1"} and entry.resolve() is Registry().entry("tracker", "cotracker2").resolve()
    assert "variant" not in entry.parameters() and "iters" in entry.parameters()
