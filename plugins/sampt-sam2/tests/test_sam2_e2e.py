"""End to end through the sampt CLI: SAM 2.1 Hiera-T (keyed checkpoint) as the segmenter, LK as the tracker."""
from __future__ import annotations

import json


def test_cli_run_sam2_tiny(tmp_path):
    from sampt.cli import main
    from sampt.testing import write_clip_inputs
    from sampt_sam2.testing import keyed_checkpoint

    frames, mask, _ = write_clip_inputs(tmp_path, seed=2, num_frames=3, height=40, width=56)
    ckpt, _ = keyed_checkpoint("sam2.1_hiera_tiny", tmp_path / "sam2.1_hiera_tiny.pt")
    out = tmp_path / "out"
    code = main(["run", str(frames), "--mask", str(mask), "--output", str(out), "--no-progress",
                 "segmenter=sam2.1_hiera_tiny", f"segmenter.checkpoint={ckpt}", "segmenter.device=cpu",
                 "tracker=lk"])
    assert code == 0
    assert len(sorted((out / "masks").glob("*/*.png"))) == 3
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["segmenter"]["name"] == "sam2.1_hiera_tiny"
    assert summary["encoder_calls"] == 3  # every frame encoded exactly once
