"""End to end through the sampt CLI with keyed CoTracker 2 and CoTracker 1 checkpoints on a tiny clip."""
import json

import pytest
import torch

from sampt.testing import keyed_state_dict


@pytest.mark.parametrize("name, manifest_name, options", [
    ("cotracker2", "cotracker2", ["tracker.iters=1", "tracker.interp_height=64", "tracker.interp_width=96",
                                  "tracker.support_grid_size=2"]),
    ("cotracker1", "cotracker1", ["tracker.iters=1", "tracker.interp_height=64", "tracker.interp_width=96"]),
])
def test_cli_run(tmp_path, name, manifest_name, options):
    from sampt.cli import main
    from sampt.testing import write_clip_inputs

    frames, mask, _ = write_clip_inputs(tmp_path, seed=1, num_frames=6, height=48, width=64)
    ckpt = tmp_path / f"{name}.pth"
    torch.save({"model": keyed_state_dict(manifest_name)}, ckpt)
    out = tmp_path / "out"
    code = main(["run", str(frames), "--mask", str(mask), "--output", str(out), "--no-progress",
                 "--no-overlay", f"tracker={name}", f"tracker.checkpoint={ckpt}", "tracker.device=cpu", *options,
                 "segmenter=grabcut"])
    assert code == 0
    assert len(sorted((out / "masks").glob("*/*.png"))) == 6
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["tracker"]["name"] == name
