"""End to end through the sampt CLI with keyed BootsTAPIR checkpoints on a tiny synthetic clip."""
import json

import pytest
import torch

from sampt.testing import keyed_state_dict


@pytest.mark.parametrize("name", ["bootstapir", "bootstapir_online"])
def test_cli_run(tmp_path, name):
    from sampt.cli import main
    from sampt.testing import write_clip_inputs

    frames, mask, _ = write_clip_inputs(tmp_path, seed=2, num_frames=5, height=48, width=64)
    ckpt = tmp_path / f"{name}_keyed.pt"
    torch.save(keyed_state_dict(name), ckpt)
    out = tmp_path / "out"
    code = main(["run", str(frames), f"tracker={name}", f"tracker.checkpoint={ckpt}", "tracker.device=cpu",
                 "tracker.query_chunk_size=16", "segmenter=grabcut", "--mask", str(mask),
                 "--output", str(out), "--no-progress", "--no-overlay"])
    assert code == 0
    assert len(sorted((out / "masks").glob("*/*.png"))) == 5
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["tracker"]["name"] == name
    assert summary["config"]["tracker"]["query_chunk_size"] == 16
