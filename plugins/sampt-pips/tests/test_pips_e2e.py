"""End to end through the sampt CLI with keyed PIPS / PIPS++ checkpoints on a tiny synthetic clip."""
import json

import numpy as np
import pytest
import torch

from sampt.testing import keyed_state_dict


@pytest.mark.parametrize("name, options", [
    ("pips", ["tracker.iters=2", "tracker.resolution=[64,80]"]),
    ("pips2", ["tracker.iters=2", "tracker.resolution=[128,128]", "tracker.window=8"]),
])
def test_cli_run(tmp_path, name, options):
    from sampt.cli import main
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames, write_label_png

    clip = make_clip(seed=1, num_frames=6, height=64, width=80)
    frames = tmp_path / "frames"
    write_frames(frames, clip.video)
    labels = np.zeros(clip.masks.shape[2:], np.uint8)
    for o in range(clip.masks.shape[1]):
        labels[clip.masks[0, o]] = o + 1
    write_label_png(tmp_path / "mask.png", labels)
    ckpt = tmp_path / f"{name}.pth"
    torch.save({"model_state_dict": keyed_state_dict(name)}, ckpt)
    out = tmp_path / "out"
    # overrides right after VIDEO: argparse (as sampt.commands sets it up now) does not take positional
    # overrides after the options
    code = main(["run", str(frames), f"tracker={name}", f"tracker.checkpoint={ckpt}", "tracker.device=cpu", *options,
                 "segmenter=grabcut", "--mask", str(tmp_path / "mask.png"), "--output", str(out), "--no-progress",
                 "--no-overlay"])
    assert code == 0
    masks = sorted((out / "masks").glob("*.png"))
    assert len(masks) == 6
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["tracker"]["name"] == name
