"""SAM 2's video predictor as a whole method: its own behaviour, and as a row of ``sampt bench`` next to SAM-PT
(keyed Hiera-T weights on a tiny synthetic set; accuracy is meaningless under random weights, the plumbing
and the measurements are not)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

BENCH_YAML = """
dataset:
  name: synthetic
  split: val
  synthetic: {num_clips: 1, seed: 0, num_frames: 3, height: 40, width: 56}
grid:
  method: [sampt, sam2_video]
  tracker: [lk]
  segmenter: [grabcut]
overrides: [pipeline=fast]
repeats: 1
warmup: 0
seed: 0
"""


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    from sampt_sam2.testing import keyed_checkpoint

    return keyed_checkpoint("sam2.1_hiera_tiny", tmp_path_factory.mktemp("ckpt") / "tiny.pt")[0]


def test_method_is_registered_with_its_options():
    from sampt.plugins import Registry

    entry = Registry().entry("method", "sam2_video")
    assert {"model", "checkpoint", "device", "seed"} <= set(entry.parameters())


def test_video_method_matches_the_package_predictor(keyed):
    """Masks given on frame 0 (two objects) propagate; every frame's logits equal SAM2VideoPredictor's own run
    on the same frames, and every frame is encoded once."""
    import torch

    from sampt.data.synthetic import make_clip
    from sampt.pipeline import ObjectPrompt
    from sampt_sam2.builders import build_video_predictor
    from sampt_sam2.video import Sam2VideoMethod, _in_memory_frames, frames_tensor

    clip = make_clip(seed=3, num_frames=3, height=40, width=56, num_objects=2)
    prompts = [ObjectPrompt(object_id=o + 1, frame=0, mask=clip.masks[0, o]) for o in range(2)]
    method = Sam2VideoMethod(model="sam2.1_hiera_tiny", checkpoint=str(keyed), device="cpu")
    result = method.run(clip.video, prompts)
    assert result.object_ids == [1, 2] and result.num_frames == 3
    assert result.encoder_calls == 3
    assert result.timings["encoding"] > 0 and result.timings["tracking"] > 0
    np.testing.assert_array_equal(result.mask(0, 0), clip.masks[0, 0])  # SAM 2 returns the given mask there
    # the package's own session on the same weights and frames
    ref = build_video_predictor("sam2.1_hiera_tiny")
    ref.load_state_dict(torch.load(keyed, weights_only=True)["model"], strict=True)
    with torch.inference_mode():
        with _in_memory_frames(frames_tensor(clip.video, ref.image_size), 40, 56):
            state = ref.init_state("x", offload_video_to_cpu=True)
        for p in prompts:
            ref.add_new_mask(state, frame_idx=0, obj_id=p.object_id, mask=p.mask)
        for t, ids, logits in ref.propagate_in_video(state):
            for k in range(len(ids)):
                np.testing.assert_array_equal(result.mask(t, k), logits[k, 0].numpy() > 0)


def test_video_method_rejects_bad_prompts(keyed):
    from sampt.data.synthetic import make_clip
    from sampt.pipeline import ObjectPrompt
    from sampt_sam2.video import Sam2VideoMethod

    clip = make_clip(seed=3, num_frames=2, height=40, width=56, num_objects=1)
    method = Sam2VideoMethod(model="sam2.1_hiera_tiny", checkpoint=str(keyed), device="cpu")
    with pytest.raises(ValueError, match="takes object masks"):
        method.run(clip.video, [ObjectPrompt(object_id=1, frame=0, points=np.array([[3.0, 3.0]]))])
    with pytest.raises(ValueError, match="is 10x10, the video is 56x40"):
        method.run(clip.video, [ObjectPrompt(object_id=1, frame=0, mask=np.ones((10, 10), bool))])


def test_bench_has_the_sam2_video_row_beside_sampt(keyed, tmp_path, capsys):
    from sampt.cli import main

    config = tmp_path / "bench.yaml"
    config.write_text(BENCH_YAML)
    out = tmp_path / "bench"
    assert main(["bench", "--config", str(config), f"method.checkpoint={keyed}", "method.device=cpu",
                 "--output", str(out), "--no-progress"]) == 0
    assert "sam2_video" in capsys.readouterr().out
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    # options common to every row (here given on the command line) do not name a row; its config records them
    assert [(r["name"], r["method"]) for r in rows] == [("lk+grabcut", "sampt"), ("sam2_video", "sam2_video")]
    for r in rows:  # same evaluator, timers and memory probes for both
        assert 0 <= float(r["J&F"]) <= 1 and float(r["fps_median"]) > 0 and float(r["peak_rss_mib"]) > 10
        assert r["frames"] == "3" and r["sequences"] == "1"
    video = rows[1]
    assert video["tracker"] == "" and float(video["spf_encoding"]) > 0 and float(video["spf_tracking"]) > 0
    meta = json.loads((out / "runs.json").read_text())["meta"]
    assert meta["configs"]["sam2_video"]["method"] == {"name": "sam2_video", "checkpoint": str(keyed), "device": "cpu"}
    assert meta["configs"]["sam2_video"]["seed"] == 0
    assert "sam2_video" in (out / "results.md").read_text()
    assert (out / "speed_accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_rejects_unknown_method_option(keyed, tmp_path, capsys):
    from sampt.cli import main

    config = tmp_path / "bench.yaml"
    config.write_text(BENCH_YAML)
    assert main(["bench", "--config", str(config), "method.bogus=1", "--output", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert "method.bogus does not exist for method 'sam2_video'" in capsys.readouterr().err
