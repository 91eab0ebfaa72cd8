"""End to end: ``sampt run`` with a CoTracker 3 tracker on a tiny synthetic clip (keyed weights)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sampt.testing import keyed_state_dict


@pytest.mark.parametrize("name, extra", [
    ("cotracker3_offline", []),
    ("cotracker3_online", ["tracker.window_len=4"]),
])
def test_sampt_run_with_cotracker3(tmp_path, name, extra):
    from sampt.cli import main
    from sampt.data.synthetic import make_clip
    from sampt.io import read_label_png, write_frames, write_label_png

    clip = make_clip(seed=5, num_frames=6, height=64, width=96, num_objects=1)
    frames = tmp_path / "frames"
    write_frames(frames, clip.video, suffix=".png")
    mask = tmp_path / "mask.png"
    write_label_png(mask, clip.label_map(0))
    ckpt = tmp_path / f"{name}_keyed.pth"
    torch.save(keyed_state_dict(name), ckpt)
    out = tmp_path / "out"
    rc = main(["run", str(frames), "--mask", str(mask), "--output", str(out), "--no-progress", "--no-overlay",
               f"tracker={name}", f"tracker.checkpoint={ckpt}", "tracker.device=cpu",
               "tracker.model_resolution=[64,96]", "tracker.iters=2", "segmenter=grabcut", *extra])
    assert rc == 0
    summary = json.loads((out / "result.json").read_text())
    assert summary["num_frames"] == 6 and summary["object_ids"] == [1]
    assert summary["config"]["tracker"]["name"] == name
    masks = sorted((out / "masks").glob("*/*.png"))
    assert len(masks) == 6
    first = read_label_png(masks[0])
    assert first.shape == (64, 96) and set(np.unique(first)) <= {0, 1}
    # frame 0 is segmented from its own mask's points, so it overlaps the object there
    inter = np.logical_and(first == 1, clip.masks[0, 0]).sum()
    assert inter > 0.3 * clip.masks[0, 0].sum()


def test_sampt_run_reports_a_wrong_checkpoint(tmp_path, capsys):
    from sampt.cli import main
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames, write_label_png

    clip = make_clip(seed=5, num_frames=3, height=64, width=96, num_objects=1)
    write_frames(tmp_path / "frames", clip.video, suffix=".png")
    write_label_png(tmp_path / "mask.png", clip.label_map(0))
    ckpt = tmp_path / "online.pth"
    torch.save(keyed_state_dict("cotracker3_online"), ckpt)
    rc = main(["run", str(tmp_path / "frames"), "--mask", str(tmp_path / "mask.png"), "--output", str(tmp_path / "o"),
               "--no-progress", "tracker=cotracker3_offline", f"tracker.checkpoint={ckpt}", "segmenter=grabcut"])
    assert rc == 2
    assert "time_emb" in capsys.readouterr().err
