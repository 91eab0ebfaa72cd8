"""Registration, manifests and checkpoint loading of the SAM 2 plugin (no model forward passes)."""
from __future__ import annotations

import json

import pytest

from sampt.plugins import Registry
from sampt.weights import WeightsError
from sampt_sam2.plugin import CHECKPOINTS, VARIANTS


def test_every_model_is_a_segmenter_with_an_official_checkpoint():
    reg = Registry()
    for name in VARIANTS:
        assert reg.entry("segmenter", name).plugin.endswith("sam2")
        spec = reg.weights[name]
        assert spec.url.startswith("https://dl.fbaipublicfiles.com/segment_anything_2/")
        assert spec.url.endswith("/" + spec.filename) and spec.filename == f"{name}.pt"
        assert spec.sha256 is None and spec.size is None  # not published: checked by strict loading
    assert reg.entry("segmenter", "sam2").name == "sam2.1_hiera_large"


def test_options_exclude_the_preset_variant():
    params = Registry().entry("segmenter", "sam2.1_hiera_tiny").parameters()
    assert "variant" not in params
    assert {"checkpoint", "device", "precision", "max_batch", "dynamic_multimask"} <= set(params)
    with pytest.raises(Exception, match="preset to 'sam2.1_hiera_tiny'"):
        Registry().create("segmenter", "sam2.1_hiera_tiny", variant="sam2.1_hiera_large")


def test_committed_manifest_is_the_package_model():
    """The committed manifest still describes what the installed sam2 package builds (key names, order, shapes)."""
    from sampt.testing import keyed_init
    from sampt_sam2.builders import build_image_model
    from sampt_sam2.testing import manifest

    assert keyed_init().manifest_of(build_image_model("sam2.1_hiera_tiny")) == manifest("sam2.1_hiera_tiny")


def test_wrong_variant_checkpoint_is_rejected_with_keys(tmp_path):
    """A SAM 2.0 file given to a SAM 2.1 segmenter fails strictly, naming the keys."""
    from sampt_sam2.testing import keyed_checkpoint

    path, _ = keyed_checkpoint("sam2_hiera_tiny", tmp_path / "sam2_hiera_tiny.pt")
    with pytest.raises(WeightsError, match=r"does not match sam2\.1_hiera_tiny.*missing keys"):
        Registry().create("segmenter", "sam2.1_hiera_tiny", checkpoint=str(path), device="cpu")


def test_offline_missing_checkpoint_names_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with pytest.raises(WeightsError) as err:
        Registry().create("segmenter", "sam2.1_hiera_tiny", device="cpu")
    assert CHECKPOINTS["sam2.1_hiera_tiny"].url in str(err.value) and "SAMPT_OFFLINE" in str(err.value)


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="could not be read"):
        Registry().create("segmenter", "sam2.1_hiera_tiny", checkpoint=str(bad), device="cpu")


def test_cli_weights_lists_them(tmp_path, monkeypatch, capsys):
    from sampt.cli import main

    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path))
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    for name in CHECKPOINTS:
        assert name in out


def test_manifests_cover_every_model():
    from sampt_sam2.testing import manifest_path

    for name in VARIANTS:
        spec = json.loads(manifest_path(name).read_text())
        assert "image_encoder.trunk.patch_embed.proj.weight" in spec and "sam_mask_decoder.conv_s0.weight" in spec
