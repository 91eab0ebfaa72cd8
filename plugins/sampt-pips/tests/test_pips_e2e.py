"""End to end through the sampt CLI with keyed PIPS / PIPS++ checkpoints on a tiny synthetic clip."""
import json

import pytest
import torch

from sampt.testing import keyed_state_dict


@pytest.mark.parametrize("name, options", [
    ("pips", ["tracker.iters=2", "tracker.resolution=[64,80]"]),
    ("pips2", ["tracker.iters=2", "tracker.resolution=[128,128]", "tracker.window=8"]),
])
def test_cli_run(tmp_path, name, options):
    from sampt.cli import main
    from sampt.testing import write_clip_inputs

    frames, mask, _ = write_clip_inputs(tmp_path, seed=1, num_frames=6, height=64, width=80)
    ckpt = tmp_path / f"{name}.pth"
    torch.save({"model_state_dict": keyed_state_dict(name)}, ckpt)
    out = tmp_path / "out"
    code = main(["run", str(frames), f"tracker={name}", f"tracker.checkpoint={ckpt}", "tracker.device=cpu", *options,
                 "segmenter=grabcut", "--mask", str(mask), "--output", str(out), "--no-progress",
                 "--no-overlay"])
    assert code == 0
    masks = sorted((out / "masks").glob("*/*.png"))
    assert len(masks) == 6
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["tracker"]["name"] == name
