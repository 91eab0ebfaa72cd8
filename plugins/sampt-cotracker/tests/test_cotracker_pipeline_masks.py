"""The paper pipeline (MobileSAM + CoTracker 1, keyed weights) gives the same masks with the backward pass
skipped as with it always run (main's behaviour before the skip): the masks-unchanged check of issue #14
on the keyed-weight clip, at a tiny size."""
import dataclasses

import numpy as np
import pytest
import torch

from sampt.data.synthetic import make_clip
from sampt.pipeline import ObjectPrompt
from sampt.testing import keyed_state_dict
from sampt.types import Tracks

keyed_sam = pytest.importorskip("sampt_sam.testing", reason="needs the sampt-sam plugin (MobileSAM)")


def test_masks_identical_with_and_without_backward_skip(tmp_path):
    from sampt.config import build_pipeline, compose

    sam, _ = keyed_sam.keyed_checkpoint("mobile_sam", tmp_path / "mobile_sam.pth")
    cot = tmp_path / "cotracker1.pth"
    torch.save({"model": keyed_state_dict("cotracker1")}, cot)
    pipeline = build_pipeline(compose(["segmenter=mobile_sam", f"segmenter.checkpoint={sam}", "segmenter.device=cpu",
                                       "tracker=cotracker1", f"tracker.checkpoint={cot}", "tracker.device=cpu",
                                       "tracker.iters=1", "tracker.interp_height=96", "tracker.interp_width=128"]))
    clip = make_clip(seed=0, num_frames=8, height=48, width=64, num_objects=2)
    prompts = [ObjectPrompt(o + 1, 0, mask=clip.masks[0, o]) for o in range(2)]
    tracker = pipeline.tracker
    track, settings = tracker.track, tracker.settings
    passes = []
    forward = tracker.model.forward

    def counted(*args, **kwargs):
        passes.append(1)
        return forward(*args, **kwargs)

    tracker.model.forward = counted
    # keyed CoTracker weights see no point visible: mark them all visible so every frame gets prompts
    tracker.track = lambda video, queries: (lambda t: Tracks(t.points, np.ones_like(t.visibility)))(
        track(video, queries))

    skipped = pipeline.run(clip.video, prompts)
    assert len(passes) == 1 and skipped.encoder_calls > 1
    tracker.settings = lambda n: dataclasses.replace(settings(n), skip_needless_backward=False)
    always = pipeline.run(clip.video, prompts)
    assert len(passes) == 3
    np.testing.assert_array_equal(skipped.masks, always.masks)
    np.testing.assert_array_equal(skipped.iou, always.iou)
    # keyed MobileSAM's masks may be empty; the prompts (from the tracks) must match too, and exist
    prompted = 0
    for t in range(1, len(clip.video)):
        for a, b in zip(skipped.prompts[t], always.prompts[t]):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a[0], b[0])
                np.testing.assert_array_equal(a[1], b[1])
                prompted += 1
    assert prompted > 0, "no prompt after the query frame: the check would be vacuous"
