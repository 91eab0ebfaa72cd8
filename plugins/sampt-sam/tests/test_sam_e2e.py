"""End to end through the sampt CLI: MobileSAM (keyed checkpoint) as the segmenter, LK as the tracker."""
from __future__ import annotations

import json

import numpy as np


def test_cli_run_mobile_sam(tmp_path):
    from sampt.cli import main
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames, write_label_png
    from sampt_sam.testing import keyed_checkpoint

    clip = make_clip(seed=2, num_frames=3, height=40, width=56)
    frames = tmp_path / "frames"
    write_frames(frames, clip.video)
    labels = np.zeros(clip.masks.shape[2:], np.uint8)
    for o in range(clip.masks.shape[1]):
        labels[clip.masks[0, o]] = o + 1
    write_label_png(tmp_path / "mask.png", labels)
    ckpt, _ = keyed_checkpoint("mobile_sam", tmp_path / "mobile_sam.pth")
    out = tmp_path / "out"
    code = main(["run", str(frames), "--mask", str(tmp_path / "mask.png"), "--output", str(out), "--no-progress",
                 "segmenter=mobile_sam", f"segmenter.checkpoint={ckpt}", "segmenter.device=cpu", "tracker=lk"])
    assert code == 0
    assert len(sorted((out / "masks").glob("*.png"))) == 3
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["segmenter"]["name"] == "mobile_sam"
    assert summary["encoder_calls"] == 3  # every frame encoded exactly once
