"""Checkpoint compatibility: exact key/shape layout, official file layouts, clear rejection of others."""
import io
import tarfile

import pytest
import torch

from sampt.plugins import Registry
from sampt.testing import keyed_state_dict, manifest
from sampt.weights import WeightsError

from sampt_pips.model_pips import Pips
from sampt_pips.model_pips2 import Pips2
from sampt_pips.tracker import Pips2Tracker, PipsTracker


@pytest.mark.parametrize("name, make", [("pips", lambda: Pips(S=8, stride=4)), ("pips2", lambda: Pips2(stride=8))])
def test_state_dict_layout_is_the_official_one(name, make):
    model = make()
    man = manifest(name)
    state = model.state_dict()
    assert list(state) == list(man)  # same keys, same order
    for key, t in state.items():
        assert list(t.shape) == man[key]["shape"], key
        assert str(t.dtype).replace("torch.", "") == man[key]["dtype"]
    model.load_state_dict(keyed_state_dict(name), strict=True)


def _official_file(path, state):
    """The layout of aharley/pips(2) saverloader.save: model and optimizer state side by side."""
    optimizer = {"state": {0: {"step": torch.tensor(200000.0), "exp_avg": torch.zeros(3)}},
                 "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-4,
                                   "amsgrad": False, "params": [0]}]}
    torch.save({"optimizer_state_dict": optimizer, "model_state_dict": state}, path)
    return path


def test_official_layout_loads_strictly(tmp_path):
    path = _official_file(tmp_path / "model-000200000.pth", keyed_state_dict("pips"))
    tracker = PipsTracker(str(path), device="cpu")
    expected = keyed_state_dict("pips")
    for key, t in tracker.model.state_dict().items():
        assert torch.equal(t, expected[key]), key


def test_official_tarball_loads(tmp_path):
    """PIPS++ is distributed as reference_model.tar.gz holding reference_model/model-000200000.pth."""
    buf = io.BytesIO()
    torch.save({"model_state_dict": keyed_state_dict("pips2")}, buf)
    archive = tmp_path / "reference_model.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("reference_model/model-000200000.pth")
        info.size = buf.tell()
        buf.seek(0)
        tar.addfile(info, buf)
    tracker = Pips2Tracker(str(archive), device="cpu")
    expected = keyed_state_dict("pips2")
    assert all(torch.equal(t, expected[k]) for k, t in tracker.model.state_dict().items())


def test_wrong_checkpoint_is_rejected_clearly(tmp_path):
    pips2_file = _official_file(tmp_path / "pips2.pth", keyed_state_dict("pips2"))
    with pytest.raises(WeightsError, match=r"does not match PIPS.*missing keys.*unexpected keys"):
        PipsTracker(str(pips2_file), device="cpu")
    pips_file = _official_file(tmp_path / "pips.pth", keyed_state_dict("pips"))
    with pytest.raises(WeightsError, match=r"does not match PIPS\+\+"):
        Pips2Tracker(str(pips_file), device="cpu")
    state = keyed_state_dict("pips")
    state["vis_predictor.0.weight"] = torch.zeros(2, 128)
    with pytest.raises(WeightsError, match=r"shape mismatch.*vis_predictor.0.weight"):
        PipsTracker(str(_official_file(tmp_path / "bad.pth", state)), device="cpu")
    del state["vis_predictor.0.weight"]
    with pytest.raises(WeightsError, match=r"1 missing keys.*vis_predictor.0.weight"):
        PipsTracker(str(_official_file(tmp_path / "bad2.pth", state)), device="cpu")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="could not be read"):
        PipsTracker(str(tmp_path / "junk.pth"), device="cpu")


def test_missing_checkpoint_offline_names_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with pytest.raises(WeightsError, match="huggingface.co/aharley/pips"):
        PipsTracker(device="cpu")
    with pytest.raises(WeightsError, match="dropbox.com"):
        Pips2Tracker(device="cpu")


def test_registration():
    registry = Registry()
    assert {"pips", "pips2"} <= set(registry.names("tracker"))
    entry = registry.entry("tracker", "pips2")
    assert isinstance(entry.factory, str) or callable(entry.factory)
    assert "visib" in entry.description and registry.entry("tracker", "pips++").name == "pips2"
    assert entry.resolve().capabilities.has_visibility is False
    assert registry.entry("tracker", "pips").resolve().capabilities.has_visibility is True
    params = registry.entry("tracker", "pips").parameters()
    assert {"checkpoint", "device", "iters", "resolution"} <= set(params)
    assert params["resolution"].default == (360, 640) and params["iters"].default == 6
    params2 = registry.entry("tracker", "pips2").parameters()
    assert params2["resolution"].default == (512, 896) and params2["iters"].default == 16
    assert params2["window"].default == 128
    for name in ("pips_reference_model", "pips2_reference_model"):
        spec = registry.weights[name]
        assert spec.url.startswith("https://") and spec.sha256 is None  # no published SHA-256


def test_plugin_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; import sampt_pips.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
